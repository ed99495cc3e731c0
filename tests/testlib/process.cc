#include "tests/testlib/process.h"

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <sstream>
#include <thread>

namespace chorus::testing {

std::string BinPath(const std::string& name) { return std::string(CHORUS_BIN_DIR) + "/" + name; }

namespace {

pid_t Spawn(const std::vector<std::string>& argv, int out_fd, int in_fd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    if (in_fd >= 0) dup2(in_fd, STDIN_FILENO);
    if (out_fd >= 0) {
      dup2(out_fd, STDOUT_FILENO);
      dup2(out_fd, STDERR_FILENO);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Process::Process(std::vector<std::string> argv, const std::string& log_path) {
  int fd = -1;
  if (!log_path.empty()) fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_ = Spawn(argv, fd, -1);
  if (fd >= 0) close(fd);
}

Process::~Process() {
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Process::Signal(int sig) { return pid_ > 0 && !status_ && kill(pid_, sig) == 0; }

bool Process::running() {
  if (status_) return false;
  int st;
  const pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = DecodeStatus(st);
    return false;
  }
  return true;
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int st;
    const pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = DecodeStatus(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

RunResult RunCommand(const std::vector<std::string>& argv, std::chrono::seconds timeout,
                     const std::string& stdin_text) {
  char out_path[] = "/tmp/chorus-run-XXXXXX";
  const int out_fd = mkstemp(out_path);
  char in_path[] = "/tmp/chorus-in-XXXXXX";
  const int in_fd = mkstemp(in_path);
  if (write(in_fd, stdin_text.data(), stdin_text.size()) < 0) {}
  lseek(in_fd, 0, SEEK_SET);
  RunResult result;
  const pid_t pid = Spawn(argv, out_fd, in_fd);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int st = 0;
  while (true) {
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      result.exit_code = DecodeStatus(st);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  lseek(out_fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = read(out_fd, buf, sizeof buf)) > 0) result.output.append(buf, static_cast<size_t>(n));
  close(out_fd);
  close(in_fd);
  unlink(out_path);
  unlink(in_path);
  return result;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

namespace {
HttpResult Request(bool post, int port, const std::string& path, int timeout_s) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(timeout_s, 0);
  cli.set_read_timeout(timeout_s, 0);
  auto res = post ? cli.Post(path.c_str()) : cli.Get(path.c_str());
  if (!res) return {};
  return {res->status, res->body};
}
}  // namespace

HttpResult HttpGet(int port, const std::string& path, int timeout_s) {
  return Request(false, port, path, timeout_s);
}
HttpResult HttpPost(int port, const std::string& path, int timeout_s) {
  return Request(true, port, path, timeout_s);
}

std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t brace = line.rfind('}');
    const size_t space = line.find(' ', brace == std::string::npos ? 0 : brace);
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

double MetricSum(const std::map<std::string, double>& metrics, const std::string& name,
                 const std::vector<std::string>& label_filters) {
  double sum = 0;
  for (const auto& [series, value] : metrics) {
    if (series.compare(0, name.size(), name) != 0) continue;
    if (series.size() > name.size() && series[name.size()] != '{') continue;
    bool ok = true;
    for (const auto& f : label_filters) ok = ok && series.find(f) != std::string::npos;
    if (ok) sum += value;
  }
  return sum;
}

}  // namespace chorus::testing
