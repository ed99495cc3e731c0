// chorusd speaks systemd's notify protocol (chorus.service has Type=notify and WatchdogSec=): the
// test plays systemd's part by binding the NOTIFY_SOCKET datagram socket itself, then checks that
// READY=1 comes once the HTTP server answers, WATCHDOG=1 keeps coming from the event loop while
// WATCHDOG_USEC asks for it, and STOPPING=1 comes when SIGTERM starts the drain.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/daemon_harness.h"

namespace chorus::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

// The receiving end of sd_notify(): an AF_UNIX datagram socket bound at a path.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
      ADD_FAILURE() << "socket path too long: " << path;
      return;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      ADD_FAILURE() << "cannot bind " << path << ": " << std::strerror(errno);
    }
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // The next datagram, or nullopt when none arrives before `deadline`.
  std::optional<std::string> Receive(steady_clock::time_point deadline) {
    while (fd_ >= 0) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      const int r = poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return std::nullopt;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return std::nullopt;
      std::string msg(buf, static_cast<size_t>(n));
      while (!msg.empty() && msg.back() == '\n') msg.pop_back();
      return msg;
    }
    return std::nullopt;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// chorusd started through env(1), so the variables reach only the child and the test process never
// calls setenv() while its simulator threads run. WATCHDOG_PID is removed because the child's pid
// is unknown before it starts (sd_watchdog_enabled() accepts an unset WATCHDOG_PID for any pid), or
// set to `watchdog_pid` when given.
std::unique_ptr<Process> StartWithNotify(DaemonHarness& h, const std::string& socket_path,
                                         const std::string& watchdog_usec,
                                         const std::string& watchdog_pid = "") {
  std::vector<std::string> argv = {
      "/usr/bin/env", "-u", "WATCHDOG_PID", "-u", "WATCHDOG_USEC", "NOTIFY_SOCKET=" + socket_path};
  if (!watchdog_usec.empty()) argv.push_back("WATCHDOG_USEC=" + watchdog_usec);
  if (!watchdog_pid.empty()) argv.push_back("WATCHDOG_PID=" + watchdog_pid);
  argv.insert(argv.end(), {BinPath("chorusd"), "--config", h.config_path()});
  return std::make_unique<Process>(argv, h.log_path());
}

TEST(SystemdNotify, ReadyAfterListeningThenRepeatedWatchdogPingsThenStopping) {
  DaemonHarness h;
  h.Add({"FundOurSchools"});
  NotifySocket notify(h.dir() + "/notify.sock");
  auto proc = StartWithNotify(h, h.dir() + "/notify.sock", "200000");
  const auto deadline = steady_clock::now() + seconds(30);

  auto first = notify.Receive(deadline);
  ASSERT_TRUE(first.has_value()) << "no notification from chorusd; log:\n" << h.log();
  EXPECT_EQ(*first, "READY=1");
  // READY=1 promises the store is open and the server listens.
  EXPECT_EQ(HttpGet(h.port(), "/readyz").status, 200);

  // WatchdogSec=200ms: pings at half that. Several in a row show a timer that re-arms, not one
  // ping.
  int pings = 0;
  while (pings < 5) {
    auto msg = notify.Receive(deadline);
    ASSERT_TRUE(msg.has_value()) << "only " << pings << " WATCHDOG=1 before the deadline; log:\n"
                                 << h.log();
    ASSERT_EQ(*msg, "WATCHDOG=1");
    ++pings;
  }

  ASSERT_TRUE(proc->Signal(SIGTERM));
  bool stopping = false;
  while (auto msg = notify.Receive(deadline)) {
    if (*msg == "STOPPING=1") {
      stopping = true;
      break;
    }
    ASSERT_EQ(*msg, "WATCHDOG=1");
  }
  EXPECT_TRUE(stopping) << "no STOPPING=1 after SIGTERM; log:\n" << h.log();
  EXPECT_EQ(proc->Wait(seconds(30)), 0) << h.log();
  // Drain stopped the pings: nothing follows STOPPING=1 (the process has exited by now).
  EXPECT_EQ(notify.Receive(steady_clock::now() + milliseconds(1)), std::nullopt);
}

// WATCHDOG_PID names another process (systemd sets it when the watchdog is meant for a different
// pid): chorusd must not ping, but still reports READY=1 and STOPPING=1.
TEST(SystemdNotify, NoPingsWhenTheWatchdogIsForAnotherPid) {
  DaemonHarness h;
  NotifySocket notify(h.dir() + "/notify.sock");
  auto proc = StartWithNotify(h, h.dir() + "/notify.sock", "200000", /*watchdog_pid=*/"1");
  const auto deadline = steady_clock::now() + seconds(30);

  auto first = notify.Receive(deadline);
  ASSERT_TRUE(first.has_value()) << "no notification from chorusd; log:\n" << h.log();
  EXPECT_EQ(*first, "READY=1");
  // Long enough for ten pings had the watchdog been (wrongly) enabled.
  EXPECT_EQ(notify.Receive(steady_clock::now() + seconds(1)), std::nullopt);

  ASSERT_TRUE(proc->Signal(SIGTERM));
  EXPECT_EQ(notify.Receive(deadline), std::optional<std::string>("STOPPING=1"));
  EXPECT_EQ(proc->Wait(seconds(30)), 0) << h.log();
}

}  // namespace
}  // namespace chorus::testing
