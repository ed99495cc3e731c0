// systemd watchdog pings from the event loop; the contract is in watchdog.h.
#include "daemon/watchdog.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/log.h"

namespace chorus::daemon {

Watchdog::Watchdog(boost::asio::io_context& io) : timer_(io) {}

std::chrono::microseconds Watchdog::Start() {
  if (running_) return interval_;
  uint64_t usec = 0;
  // unset_environment=0: chorusd spawns no children that could inherit and misuse the variables.
  const int enabled = sd_watchdog_enabled(0, &usec);
  if (enabled < 0) {
    LogWarn(std::string("systemd watchdog: ignoring WATCHDOG_USEC/WATCHDOG_PID: ") +
            std::strerror(-enabled));
    return std::chrono::microseconds(0);
  }
  if (enabled == 0 || usec == 0) return std::chrono::microseconds(0);
  interval_ = std::chrono::microseconds(usec);
  // Half the interval, as sd_watchdog_enabled(3) recommends, so one late tick is not a restart.
  // The 1 ms floor keeps a nonsensical WatchdogSec= from turning into a busy loop.
  period_ = std::max<std::chrono::microseconds>(interval_ / 2, std::chrono::milliseconds(1));
  running_ = true;
  LogInfo("systemd watchdog enabled: interval " + std::to_string(usec / 1000) + " ms, ping every " +
          std::to_string(period_.count() / 1000) + " ms");
  Ping();
  return interval_;
}

void Watchdog::Stop() {
  if (!running_) return;
  running_ = false;
  timer_.cancel();
}

void Watchdog::Ping() {
  if (!running_) return;
  sd_notify(0, "WATCHDOG=1");
  timer_.expires_after(period_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Ping();
  });
}

}  // namespace chorus::daemon
