// The daemon's HTTP endpoints (design §6) on cpp-httplib's server.
//
// cpp-httplib 0.11 serves each connection on a worker from a fixed pool and keeps idle keep-alive
// connections on their worker (pitfalls.md), so a handful of idle clients could stall a scrape.
// The server therefore runs a larger pool, closes idle keep-alive connections after one second and
// allows few requests per connection. It listens on loopback unless configured otherwise.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/error.h"

namespace chorus::daemon {

// What the server asks of the daemon. Each callback is invoked on a server worker thread.
struct HttpHandlers {
  std::function<std::string()> metrics;        // Prometheus text
  std::function<bool()> ready;                 // store open and config loaded
  std::function<std::string()> status_page;    // HTML for GET /
  std::function<std::string()> campaigns_json; // GET /api/v1/campaigns
  std::function<Result<void>()> reload;        // POST /-/reload
};

class HttpServer {
 public:
  explicit HttpServer(HttpHandlers handlers);
  ~HttpServer();

  // Binds `listen` ("127.0.0.1:9750", "[::1]:9750", "0.0.0.0:9750"; port 0 picks one) and serves
  // on a background thread. Fails with kUnavailable when the address cannot be bound.
  Result<void> Start(const std::string& listen);
  void Stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace chorus::daemon
