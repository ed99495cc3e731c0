// The daemon's HTTP endpoints (design §6) on cpp-httplib's server.
//
// cpp-httplib 0.11 serves each connection on a worker from a fixed pool and keeps idle keep-alive
// connections on their worker (pitfalls.md), so a handful of idle clients could stall a scrape.
// The server therefore runs a larger pool, closes idle keep-alive connections after one second and
// allows few requests per connection. It listens on loopback unless configured otherwise.
//
// With a web config (web_config.h) the same server runs on cpp-httplib's SSLServer for TLS, and/or
// asks every request, health checks included (as exporter-toolkit does), for basic auth before
// routing it: 401 with `WWW-Authenticate: Basic realm="chorus"` otherwise.
//
// Exports (/api/v1/export) stream with chunked transfer encoding: the export writes ~64 KiB chunks
// straight to the socket, so memory stays flat whatever the range; a client that goes away (or a
// Stop()) ends the export at its next chunk.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "core/error.h"
#include "daemon/web_config.h"
#include "query/api.h"

namespace chorus::daemon {

using ApiResponse = query::ApiResponse;
// A request's query parameters as parsed from the URL; a name may repeat.
using QueryParams = std::multimap<std::string, std::string>;

// What the server asks of the daemon. Each callback is invoked on a server worker thread, several
// at once. An unset API callback answers 503.
struct HttpHandlers {
  std::function<std::string()> metrics;        // Prometheus text
  std::function<bool()> ready;                 // store open and config loaded
  std::function<std::string()> status_page;    // HTML for GET /
  std::function<std::string()> campaigns_json; // GET /api/v1/campaigns
  std::function<Result<void>()> reload;        // POST /-/reload
  // GET /api/v1/series|posts|top: `endpoint` is "series", "posts" or "top".
  std::function<ApiResponse(const std::string& endpoint, const QueryParams& params)> api;
  // GET /api/v1/export: either an error response or a writer the server streams.
  std::function<query::ExportStream(const QueryParams& params)> export_stream;
  // GET /api/v1/alerts
  std::function<ApiResponse(const QueryParams& params)> alerts;
};

class HttpServer {
 public:
  explicit HttpServer(HttpHandlers handlers);
  ~HttpServer();

  // Binds `listen` ("127.0.0.1:9750", "[::1]:9750", "0.0.0.0:9750"; port 0 picks one) and serves
  // on a background thread, with TLS and basic auth as `web` says (nullptr: plain HTTP, no auth).
  // Fails with kUnavailable when the address cannot be bound, kInvalidArgument when the TLS
  // context cannot be set up from `web`. Call once.
  Result<void> Start(const std::string& listen, std::shared_ptr<const WebConfig> web = nullptr);
  void Stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace chorus::daemon
