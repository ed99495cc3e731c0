// The HTTP seam of the collectors: one small interface, a real HTTPS implementation on
// cpp-httplib, and room for fakes in tests.
//
// The real client always has connect and read timeouts (cpp-httplib's default connect timeout is
// 300 s, pitfalls.md) and a cap on the body size. Not thread-safe: one client per source, used by
// one poll at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace chorus::collectors {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased

  // The value of a header (case-insensitive name), or "" when absent.
  std::string Header(std::string_view name) const;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // GETs `path_and_query` (starting with '/') relative to the transport's base URL. Fails with
  // kUnavailable on connection errors, timeouts, bodies over the cap and truncated transfers;
  // any HTTP status, 4xx and 5xx included, is a successful HttpResponse.
  virtual Result<HttpResponse> Get(const std::string& path_and_query, const HeaderList& headers) = 0;
  // POSTs `body` with `content_type` (session and token endpoints); same failure rules as Get.
  virtual Result<HttpResponse> Post(const std::string& path_and_query, const HeaderList& headers,
                                    const std::string& body, const std::string& content_type) = 0;
};

struct HttpClientOptions {
  int64_t connect_timeout_ms = 5'000;
  int64_t read_timeout_ms = 15'000;
  size_t max_body_bytes = 16u << 20;
  std::string user_agent;  // empty: "chorus/<version>"
};

// Creates a client for `base_url` ("https://host[:port]" or "http://host[:port]", optionally with
// a path prefix). Fails with kInvalidArgument on a URL it cannot use.
Result<std::unique_ptr<HttpTransport>> MakeHttpClient(const std::string& base_url,
                                                      const HttpClientOptions& options);

// Percent-encodes a query or path component (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view s);

// The host part of a base URL ("https://mastodon.social:443/x" -> "mastodon.social").
std::string HostOf(std::string_view base_url);

}  // namespace chorus::collectors
