#include "collectors/http_client.h"

#include <httplib.h>

#include "core/build_info.h"
#include "core/strings.h"


namespace chorus::collectors {
namespace {

class HttplibTransport final : public HttpTransport {
 public:
  HttplibTransport(std::string origin, std::string prefix, const HttpClientOptions& options)
      : client_(origin), prefix_(std::move(prefix)), options_(options) {
    client_.set_connection_timeout(std::chrono::milliseconds(options.connect_timeout_ms));
    client_.set_read_timeout(std::chrono::milliseconds(options.read_timeout_ms));
    client_.set_write_timeout(std::chrono::milliseconds(options.connect_timeout_ms));
    client_.set_keep_alive(true);
    client_.set_follow_location(false);
  }

  Result<HttpResponse> Get(const std::string& path_and_query, const HeaderList& headers) override {
    HttpResponse out;
    bool too_big = false;
    auto res = client_.Get(
        prefix_ + path_and_query, Headers(headers),
        [&](const httplib::Response& r) {
          out.status = r.status;
          for (const auto& [k, v] : r.headers) out.headers[AsciiLower(k)] = v;
          return true;
        },
        [&](const char* data, size_t len) {
          if (out.body.size() + len > options_.max_body_bytes) {
            too_big = true;
            return false;
          }
          out.body.append(data, len);
          return true;
        });
    return Finish(res, too_big, std::move(out));
  }

  Result<HttpResponse> Post(const std::string& path_and_query, const HeaderList& headers,
                            const std::string& body, const std::string& content_type) override {
    auto res = client_.Post(prefix_ + path_and_query, Headers(headers), body, content_type);
    HttpResponse out;
    bool too_big = false;
    if (res) {
      out.status = res->status;
      for (const auto& [k, v] : res->headers) out.headers[AsciiLower(k)] = v;
      too_big = res->body.size() > options_.max_body_bytes;
      out.body = std::move(res->body);
    }
    return Finish(res, too_big, std::move(out));
  }

 private:
  httplib::Headers Headers(const HeaderList& extra) const {
    httplib::Headers h;
    h.emplace("User-Agent", options_.user_agent.empty() ? std::string("chorus/") + ChorusVersion()
                                                        : options_.user_agent);
    h.emplace("Accept", "application/json");
    for (const auto& [k, v] : extra) h.emplace(k, v);
    return h;
  }

  Result<HttpResponse> Finish(const httplib::Result& res, bool too_big, HttpResponse out) const {
    if (too_big) {
      return Fail(Error::Unavailable("response body exceeds " +
                                     std::to_string(options_.max_body_bytes) + " bytes"));
    }
    if (!res) {
      return Fail(Error::Unavailable("request failed: " + httplib::to_string(res.error())));
    }
    return out;
  }

  httplib::Client client_;
  std::string prefix_;
  HttpClientOptions options_;
};

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  auto it = headers.find(AsciiLower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string HostOf(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find('/'));
  if (!url.empty() && url.front() == '[') return std::string(url.substr(0, url.find(']') + 1));
  return std::string(url.substr(0, url.find(':')));
}

Result<std::unique_ptr<HttpTransport>> MakeHttpClient(const std::string& base_url,
                                                      const HttpClientOptions& options) {
  const bool https = base_url.rfind("https://", 0) == 0;
  const bool http = base_url.rfind("http://", 0) == 0;
  if (!https && !http) {
    return Fail(Error::InvalidArgument("base_url must start with https:// or http://: " + base_url));
  }
  const size_t host_start = base_url.find("://") + 3;
  const size_t path_start = base_url.find('/', host_start);
  std::string origin = base_url.substr(0, path_start);
  std::string prefix = path_start == std::string::npos ? "" : base_url.substr(path_start);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (origin.size() == host_start) return Fail(Error::InvalidArgument("base_url has no host: " + base_url));
  return std::unique_ptr<HttpTransport>(new HttplibTransport(origin, prefix, options));
}

}  // namespace chorus::collectors
