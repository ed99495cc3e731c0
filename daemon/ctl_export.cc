#include "daemon/ctl_export.h"

#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "config/config.h"
#include "core/time.h"
#include "daemon/ctl_args.h"
#include "daemon/ctl_progress.h"
#include "query/export.h"
#include "store/store.h"

namespace chorus::daemon {

const char* const kExportUsage =
    "usage: chorusctl export --config FILE --dataset posts|series --format csv|ndjson\n"
    "                        [--campaign C] [--platform P] [--from T] [--to T] [--step 1m|1h|1d]\n"
    "                        [--out FILE]\n"
    "\n"
    "Writes the posts or the series of the store at storage.path, with the same filters and the\n"
    "same output as GET /api/v1/export, to --out FILE (written whole or not at all) or stdout.\n"
    "Works while chorusd runs (the store is read as a RocksDB secondary instance) and on a\n"
    "stopped store. Times T are RFC 3339 or unix seconds; the range is [from, to), `to` defaults\n"
    "to now and `from` to the start of the store.\n"
    "\n"
    "exit status: 0 done, 1 failure (config, store, output), 2 usage error or bad filter\n";

namespace {

// Ctrl-C or SIGTERM stops the export between chunks, so the scratch directory and a partial
// --out file are removed rather than left behind.
volatile sig_atomic_t g_stop_signal = 0;
void OnStopSignal(int sig) { g_stop_signal = sig; }

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A scratch directory for the secondary instance's own files, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/chorusctl-export-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Where the rows go: stdout, or FILE via FILE.partial renamed on success, so an export that
// fails half-way never leaves a truncated file under the name asked for.
class Output {
 public:
  ~Output() {
    if (file_ && file_ != stdout) std::fclose(file_);
    if (!partial_.empty()) std::remove(partial_.c_str());
  }

  Result<void> Open(const std::string& out_path) {
    if (out_path.empty() || out_path == "-") {
      file_ = stdout;
    } else {
      path_ = out_path;
      partial_ = out_path + ".partial";
      file_ = std::fopen(partial_.c_str(), "wb");
      if (!file_) {
        const std::string why = std::strerror(errno);
        partial_.clear();
        return Fail(Error::InvalidArgument("cannot write " + out_path + ": " + why));
      }
    }
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
    return {};
  }

  bool Write(std::string_view chunk) {
    if (failed_ || g_stop_signal != 0) return false;
    if (std::fwrite(chunk.data(), 1, chunk.size(), file_) != chunk.size()) {
      failed_ = true;
      errno_ = errno;
    }
    return !failed_;
  }

  // Flushes, closes and moves the file into place.
  Result<void> Commit() {
    if (!failed_ && std::fflush(file_) != 0) {
      failed_ = true;
      errno_ = errno;
    }
    if (file_ != stdout) {
      if (std::fclose(file_) != 0 && !failed_) {
        failed_ = true;
        errno_ = errno;
      }
      file_ = nullptr;
    }
    if (failed_) return Fail(Error::Storage(WriteError()));
    if (!partial_.empty()) {
      std::error_code ec;
      std::filesystem::rename(partial_, path_, ec);
      if (ec) return Fail(Error::Storage("cannot rename " + partial_ + " to " + path_ + ": " + ec.message()));
      partial_.clear();
    }
    return {};
  }

  bool failed() const { return failed_; }
  // The reader of stdout went away (`chorusctl export ... | head`): not worth a message.
  bool reader_gone() const { return failed_ && errno_ == EPIPE; }
  std::string WriteError() const { return "cannot write " + name() + ": " + std::strerror(errno_); }
  std::string name() const { return path_.empty() ? "stdout" : path_; }
  bool to_stdout() const { return path_.empty(); }

 private:
  FILE* file_ = nullptr;
  std::string path_;
  std::string partial_;
  bool failed_ = false;
  int errno_ = 0;
};

}  // namespace

int RunExportCommand(const std::vector<std::string>& args) {
  auto parsed = ParseCtlArgs(args,
                             {"--config", "--dataset", "--format", "--campaign", "--platform",
                              "--from", "--to", "--step", "--out"},
                             {"--help", "-h"});
  auto usage_error = [](const std::string& m) {
    std::cerr << "chorusctl export: " << m << " (see chorusctl export --help)\n";
    return 2;
  };
  if (!parsed) return usage_error(parsed.error().message);
  if (parsed->Has("--help") || parsed->Has("-h")) {
    std::cout << kExportUsage;
    return 0;
  }
  if (!parsed->positional.empty()) return usage_error("unexpected argument '" + parsed->positional[0] + "'");
  const std::string* config_path = parsed->Value("--config");
  if (!config_path) return usage_error("--config FILE is required");
  if (!parsed->Value("--dataset")) return usage_error("--dataset posts|series is required");
  if (!parsed->Value("--format")) return usage_error("--format csv|ndjson is required");

  const auto loaded = config::LoadConfigFile(*config_path, /*check_env=*/false);
  if (!loaded.config) {
    for (const auto& p : loaded.problems) std::cerr << p.ToString() << "\n";
    std::cerr << "chorusctl export: " << *config_path << " is not a valid configuration\n";
    return 1;
  }
  const config::Config& config = *loaded.config;

  // The flags are the endpoint's parameters, so the request is parsed by the same code.
  std::map<std::string, std::string> params;
  for (const char* name : {"dataset", "format", "campaign", "platform", "from", "to", "step"}) {
    if (const std::string* v = parsed->Value(std::string("--") + name)) params[name] = *v;
  }
  auto request = query::ParseExportRequest(params, config, SystemNowMs());
  if (!request) return usage_error(request.error().message);

  const std::string& store_path = config.storage.path;
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(store_path) / "CURRENT", ec)) {
    std::cerr << "chorusctl export: no store at " << store_path << " (storage.path of " << *config_path
              << "); nothing has been collected or imported there yet\n";
    return 1;
  }
  ScratchDir scratch;
  if (scratch.path().empty()) {
    std::cerr << "chorusctl export: cannot create a scratch directory under $TMPDIR: "
              << std::strerror(errno) << "\n";
    return 1;
  }
  store::OpenOptions open;
  open.secondary_path = scratch.path();
  // Scans do not fill the cache (Store::ScanPosts), so a small one is enough.
  open.block_cache_bytes = 8u << 20;
  auto store = store::Store::Open(store_path, open);
  if (!store) {
    std::cerr << "chorusctl export: " << store.error().message << "\n";
    return 1;
  }
  if (auto r = (*store)->CatchUp(); !r) {
    std::cerr << "chorusctl export: " << r.error().message << "\n";
    return 1;
  }

  Output out;
  if (auto r = out.Open(parsed->Value("--out") ? *parsed->Value("--out") : ""); !r) {
    std::cerr << "chorusctl export: " << r.error().message << "\n";
    return 1;
  }
  // A closed pipe becomes a write error (EPIPE) instead of killing the process before cleanup.
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  ProgressLine bar("export");
  query::Progress progress;
  if (bar.enabled()) {
    const int64_t from = request->from_ms, to = request->to_ms;
    progress = [&bar, from, to](int64_t rows, int64_t at_ms) {
      const double span = static_cast<double>(to) - static_cast<double>(from);
      const double fraction = span > 0 ? (static_cast<double>(at_ms) - static_cast<double>(from)) / span : 0;
      bar.Update(fraction, GroupThousands(rows) + " rows, at " + FormatRfc3339Ms(at_ms).substr(0, 16));
    };
  }
  auto rows = query::RunExport(**store, config, *request,
                               [&out](std::string_view chunk) { return out.Write(chunk); }, progress);
  bar.Finish();
  if (g_stop_signal != 0) {
    std::cerr << "chorusctl export: interrupted; " << (out.to_stdout() ? "output incomplete" : "nothing written") << "\n";
    return 128 + g_stop_signal;
  }
  if (out.reader_gone()) return 128 + SIGPIPE;  // what a shell reports for a reader that quit early
  if (!rows) {
    // A write that failed stopped the export: that is the error to report, not its echo.
    std::cerr << "chorusctl export: " << (out.failed() ? out.WriteError() : rows.error().message) << "\n";
    return 1;
  }
  if (auto committed = out.Commit(); !committed) {
    if (out.reader_gone()) return 128 + SIGPIPE;
    std::cerr << "chorusctl export: " << committed.error().message << "\n";
    return 1;
  }
  if (!out.to_stdout()) std::cout << "exported " << GroupThousands(*rows) << " rows to " << out.name() << "\n";
  return 0;
}

}  // namespace chorus::daemon
