// The life cycle every simulator shares: one cpp-httplib server bound to 127.0.0.1 and served on
// a background thread until Stop(). Simulators only listen on loopback. Thread-safe.
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "core/error.h"

namespace chorus::sim {

class LoopbackServer {
 public:
  LoopbackServer() = default;
  ~LoopbackServer() { Stop(); }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  // Binds 127.0.0.1:`port` (0 = any free port) and serves `server` on a background thread;
  // returns once it accepts connections. `name` ("x sim") starts error messages.
  Result<void> Start(std::unique_ptr<httplib::Server> server, int port, std::string_view name);
  void Stop();
  bool running() const;
  int port() const { return port_.load(); }

 private:
  mutable std::mutex mu_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  std::atomic<int> port_{0};
};

}  // namespace chorus::sim
