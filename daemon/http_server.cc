#include "daemon/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <optional>

#include "config/config.h"
#include "core/json_escape.h"
#include "core/log.h"

namespace chorus::daemon {
namespace {

constexpr int kWorkerThreads = 32;

std::string JsonError(std::string_view message) { return "{\"error\":" + JsonString(message) + "}"; }

void Unavailable(httplib::Response& res, const std::string& path) {
  res.status = 503;
  res.set_content(JsonError(path + " is not available in this build"), "application/json");
}

void Send(httplib::Response& res, ApiResponse r) {
  res.status = r.status;
  res.set_content(std::move(r.body), r.content_type.c_str());
}

}  // namespace

struct HttpServer::Impl {
  HttpHandlers handlers;
  std::shared_ptr<const WebConfig> web;
  std::unique_ptr<BasicAuth> auth;          // set when web has basic_auth_users
  std::unique_ptr<httplib::Server> server;  // an httplib::SSLServer with TLS; made by Start()
  std::thread thread;
  // Set by Stop(): streaming exports end at their next chunk instead of holding up shutdown.
  std::atomic<bool> stopping{false};

  void Configure();
};

HttpServer::HttpServer(HttpHandlers handlers) : impl_(std::make_unique<Impl>()) {
  impl_->handlers = std::move(handlers);
}

// The same settings for both server kinds: SSLServer only changes how a connection is read.
void HttpServer::Impl::Configure() {
  auto& svr = *server;
  svr.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  // cpp-httplib sets SO_REUSEPORT by default, which lets a second chorusd bind the same port and
  // silently take half the scrapes. SO_REUSEADDR alone allows quick restarts without that.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  svr.set_keep_alive_max_count(10);
  svr.set_keep_alive_timeout(1);
  svr.set_read_timeout(5, 0);
  svr.set_write_timeout(5, 0);
  svr.set_payload_max_length(1 << 20);

  if (auth) {
    // Before routing, so no handler (and no request body read) runs for an unauthenticated client.
    svr.set_pre_routing_handler(
        [a = auth.get()](const httplib::Request& req, httplib::Response& res) {
          if (a->Authorize(req.get_header_value("Authorization"))) {
            return httplib::Server::HandlerResponse::Unhandled;
          }
          res.status = 401;
          res.set_header("WWW-Authenticate", "Basic realm=\"chorus\"");
          res.set_content(JsonError("unauthorized: basic auth required"), "application/json");
          return httplib::Server::HandlerResponse::Handled;
        });
  }
  if (web && !web->headers.empty()) {
    svr.set_post_routing_handler([w = web.get()](const httplib::Request&, httplib::Response& res) {
      for (const auto& [name, value] : w->headers) res.set_header(name, value);
    });
  }

  const HttpHandlers& h = handlers;
  svr.Get("/metrics", [&h](const httplib::Request&, httplib::Response& res) {
    res.set_content(h.metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  svr.Get("/readyz", [&h](const httplib::Request&, httplib::Response& res) {
    const bool ok = h.ready();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ready\n" : "not ready\n", "text/plain");
  });
  svr.Get("/", [&h](const httplib::Request&, httplib::Response& res) {
    res.set_content(h.status_page(), "text/html; charset=utf-8");
  });
  svr.Get("/api/v1/campaigns", [&h](const httplib::Request& req, httplib::Response& res) {
    if (!req.params.empty()) {
      res.status = 400;
      res.set_content(JsonError("unknown query parameter '" + req.params.begin()->first + "'"),
                      "application/json");
      return;
    }
    res.set_content(h.campaigns_json(), "application/json");
  });
  svr.Get(R"(/api/v1/(series|posts|top))", [&h](const httplib::Request& req, httplib::Response& res) {
    if (!h.api) return Unavailable(res, req.path);
    Send(res, h.api(req.matches[1].str(), req.params));
  });
  svr.Get("/api/v1/alerts", [&h](const httplib::Request& req, httplib::Response& res) {
    if (!h.alerts) return Unavailable(res, req.path);
    Send(res, h.alerts(req.params));
  });
  Impl* impl = this;
  svr.Get("/api/v1/export", [impl](const httplib::Request& req, httplib::Response& res) {
    const HttpHandlers& h = impl->handlers;
    if (!h.export_stream) return Unavailable(res, req.path);
    query::ExportStream x = h.export_stream(req.params);
    if (!x.run) return Send(res, std::move(x.error));
    if (!x.filename.empty()) {
      res.set_header("Content-Disposition", "attachment; filename=\"" + x.filename + "\"");
    }
    auto run = std::make_shared<decltype(x.run)>(std::move(x.run));
    // The provider is called once and writes the whole export; sink.write blocks while the
    // socket is full, so a slow reader slows the export down instead of growing a buffer.
    res.set_chunked_content_provider(
        x.content_type, [impl, run, path = req.path](size_t, httplib::DataSink& sink) {
          auto rows = (*run)([&](std::string_view chunk) {
            if (impl->stopping.load()) return false;
            return sink.write(chunk.data(), chunk.size());
          });
          if (!rows) {
            // Headers and part of the body are gone already: all that is left is to end the
            // connection without the final chunk, which tells the client the export is incomplete.
            if (rows.error().code != ErrorCode::kCancelled) {
              LogError("http: export " + path + " failed: " + rows.error().ToString());
            }
            return false;
          }
          sink.done();
          return true;
        });
  });
  // Anything else under /api/v1/ (registered last: handlers match in registration order).
  svr.Get(R"(/api/v1/.*)", [](const httplib::Request& req, httplib::Response& res) {
    res.status = 404;
    res.set_content(JsonError("no such endpoint: " + req.path), "application/json");
  });
  svr.Post("/-/reload", [&h](const httplib::Request&, httplib::Response& res) {
    auto r = h.reload();
    if (r) {
      res.set_content("{\"status\":\"reloaded\"}", "application/json");
    } else {
      res.status = r.error().code == ErrorCode::kInvalidArgument ? 400 : 500;
      res.set_content(JsonError(r.error().message), "application/json");
    }
  });
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty()) {
      res.set_content(JsonError("no such endpoint: " + req.path), "application/json");
    }
  });
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    LogError("http: handler for " + req.path + " failed: " + what);
    res.status = 500;
    res.set_content(JsonError("internal error"), "application/json");
  });
}

HttpServer::~HttpServer() { Stop(); }

Result<void> HttpServer::Start(const std::string& listen, std::shared_ptr<const WebConfig> web) {
  if (impl_->server) return Fail(Error::Internal("HttpServer::Start called twice"));
  auto hp = config::ParseHostPort(listen);
  if (!hp) return Fail(hp.error());
  if (web && web->tls) {
    // cpp-httplib's path-taking constructor has no say over protocol versions and reports no
    // reason when it fails; its callback form lets web_config.cc set the context up and say why.
    std::optional<Error> tls_error;
    auto ssl = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
      auto r = ConfigureTlsContext(ctx, *web->tls, web->file);
      if (!r) tls_error = r.error();
      return r.has_value();
    });
    if (!ssl->is_valid()) {
      return Fail(tls_error ? *tls_error : Error::Internal("cannot create an SSL context"));
    }
    impl_->server = std::move(ssl);
  } else {
    impl_->server = std::make_unique<httplib::Server>();
  }
  if (web && !web->basic_auth_users.empty()) {
    impl_->auth = std::make_unique<BasicAuth>(web->basic_auth_users);
  }
  impl_->web = std::move(web);
  impl_->Configure();
  auto& svr = *impl_->server;
  if (hp->port == 0) {
    port_ = svr.bind_to_any_port(hp->host);
  } else {
    port_ = svr.bind_to_port(hp->host, hp->port) ? hp->port : -1;
  }
  if (port_ <= 0) {
    return Fail(Error::Unavailable("cannot listen on " + listen + " (address in use or not local?)"));
  }
  impl_->thread = std::thread([this] { impl_->server->listen_after_bind(); });
  return {};
}

void HttpServer::Stop() {
  if (impl_ && impl_->thread.joinable()) {
    impl_->stopping.store(true);
    impl_->server->stop();
    impl_->thread.join();
  }
}

}  // namespace chorus::daemon
