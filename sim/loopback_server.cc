#include "sim/loopback_server.h"

#include <chrono>
#include <string>

namespace chorus::sim {

Result<void> LoopbackServer::Start(std::unique_ptr<httplib::Server> server, int port,
                                   std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (server_) return Fail(Error::InvalidArgument(std::string(name) + ": already started"));
  int bound = -1;
  if (port == 0) {
    bound = server->bind_to_any_port("127.0.0.1");
  } else if (server->bind_to_port("127.0.0.1", port)) {
    bound = port;
  }
  if (bound <= 0) {
    return Fail(Error::Unavailable(std::string(name) + ": cannot bind 127.0.0.1:" + std::to_string(port)));
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  listener_ = std::thread([s = server.get(), done] {
    s->listen_after_bind();
    done->store(true);
  });
  // httplib's stop() is a no-op until the listen loop runs, so wait for it before returning.
  while (!server->is_running() && !done->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server->is_running()) {
    listener_.join();
    return Fail(Error::Unavailable(std::string(name) + ": listen failed on port " + std::to_string(bound)));
  }
  server_ = std::move(server);
  port_.store(bound);
  return {};
}

void LoopbackServer::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!server_) return;
  server_->stop();
  if (listener_.joinable()) listener_.join();
  server_.reset();
  port_.store(0);
}

bool LoopbackServer::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return server_ != nullptr;
}

}  // namespace chorus::sim
