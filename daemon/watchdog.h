// Pings systemd's service watchdog (WatchdogSec= in chorus.service) from the daemon's event loop.
//
// The pings come from a steady_timer on the same io_context that runs signals, schedules and
// reloads, so a wedged event loop stops them and systemd restarts the service (Restart=on-failure).
// Pinging from a separate thread would keep a hung daemon looking alive.
//
// Start() and Stop() are called on the io_context thread (or before it runs). Without systemd, or
// when the unit sets no WatchdogSec=, Start() does nothing.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

namespace chorus::daemon {

class Watchdog {
 public:
  explicit Watchdog(boost::asio::io_context& io);
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Sends WATCHDOG=1 now and then every half of the interval systemd asked for (WATCHDOG_USEC,
  // for this pid when WATCHDOG_PID is set). Returns that interval, or zero when no watchdog was
  // requested (including a malformed WATCHDOG_USEC, which is logged).
  std::chrono::microseconds Start();

  // Stops pinging; used when the daemon starts draining. Idempotent.
  void Stop();

 private:
  void Ping();

  boost::asio::steady_timer timer_;
  std::chrono::microseconds interval_{0};  // what systemd asked for
  std::chrono::microseconds period_{0};    // between two pings
  bool running_ = false;
};

}  // namespace chorus::daemon
