// Runs the real chorusd / chorusctl binaries from tests: spawn, wait, signal, capture output.
// Every wait is bounded; a child still running when the Process is destroyed is killed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace chorus::testing {

// Path of a built binary: CHORUS_BIN_DIR/name.
std::string BinPath(const std::string& name);

class Process {
 public:
  // Starts `argv` with stdout and stderr appended to `log_path` ("" = inherit).
  Process(std::vector<std::string> argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Signal(int sig);
  // Waits for exit; the exit status (128+signal when killed), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Runs a command to completion (bounded by `timeout`), capturing stdout+stderr.
struct RunResult {
  int exit_code = -1;  // -1 on timeout
  std::string output;
};
RunResult RunCommand(const std::vector<std::string>& argv, std::chrono::seconds timeout,
                     const std::string& stdin_text = "");

// A TCP port that was free a moment ago on 127.0.0.1.
int FreePort();

// Minimal HTTP GET/POST against 127.0.0.1:port; status 0 when no answer.
struct HttpResult {
  int status = 0;
  std::string body;
};
HttpResult HttpGet(int port, const std::string& path, int timeout_s = 5);
HttpResult HttpPost(int port, const std::string& path, int timeout_s = 5);

// Parses Prometheus text format into "name{labels}" -> value, labels as the exporter wrote them.
std::map<std::string, double> ParseMetrics(const std::string& text);
// Sum of every series of `name` whose label text contains each of `label_filters` (e.g.
// "campaign=\"x\"").
double MetricSum(const std::map<std::string, double>& metrics, const std::string& name,
                 const std::vector<std::string>& label_filters = {});

// Polls `predicate` every 100 ms until it holds or `timeout` passes.
template <typename F>
bool WaitFor(F predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    struct timespec ts{0, 100'000'000};
    nanosleep(&ts, nullptr);
  }
  return predicate();
}

}  // namespace chorus::testing
