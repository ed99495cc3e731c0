// End-to-end figures of issue 4's benchmarks, measured on the real binaries:
//   (a) `chorusctl import` of a synthetic archive of Mastodon tag-timeline pages (40 statuses a
//       line, spread over 30 days): posts/s, wall and CPU; then the same archive again (every
//       post a duplicate);
//   (b) `chorusctl export --dataset posts --format csv` of everything imported: rows/s and peak
//       RSS of the child, and the same for a tenth of the range (memory must not grow with size),
//       for one campaign, and NDJSON;
//   (c) a 30-day series at 1-minute step (43,200 buckets) read through the query API
//       (query::Series, what GET /api/v1/series runs) and through Store::ReadSeries directly.
//
// Not a Google Benchmark binary: one run is seconds of work on a fresh store. Usage:
//   archive_bench [--posts=N] [--max-seconds=S] [--keep]
// (default 1,000,000 posts; scripts/run-bench.sh passes --statuses=N, a smaller N, and a time
// bound). chorusctl is looked up next to this binary. Figures: docs/performance.md.
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "bench/import_status.h"
#include "config/config.h"
#include "core/time.h"
#include "query/api.h"
#include "store/store.h"

extern char** environ;

namespace chorus::bench {
namespace {

constexpr int kPageSize = 40;
constexpr int64_t kDayMs = 86'400'000;

struct ChildRun {
  int exit_code = -1;
  double wall_s = 0;
  double cpu_s = 0;       // user + system
  long max_rss_kb = 0;
};

// Runs argv with stdout/stderr to `log`, and measures it (wait4 gives the child's own rusage).
ChildRun RunChild(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  ChildRun run;
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return run;
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  run.max_rss_kb = ru.ru_maxrss;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

std::string ConfigYaml(const std::string& store) {
  return "storage:\n  path: " + store + "\n  retention: {posts: 0, minute: 0, hour: 0, day: 0}\n"
         "campaigns:\n"
         "  - name: fund-our-schools\n    hashtags: [FundOurSchools, EdEquity]\n"
         "    keywords: [\"school funding formula\"]\n"
         "  - name: teachers-count\n    hashtags: [TeachersCount]\n"
         "people:\n"
         "  policymakers:\n"
         "    - id: sen-doe\n      name: Sen. Jane Doe\n      accounts: {mastodon: janedoe@gov.example}\n"
         "  coalition:\n"
         "    - id: parents-united\n      name: Parents United\n      accounts: {mastodon: parents@edu.example}\n";
}

struct Archive {
  int64_t posts = 0;
  int64_t bytes = 0;
  int64_t from_ms = 0, to_ms = 0;
};

Archive WriteArchive(const std::string& path, int64_t posts, int64_t end_ms) {
  Archive a;
  a.posts = posts;
  a.to_ms = end_ms;
  a.from_ms = end_ms - 30 * kDayMs;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return a;
  std::string line;
  for (int64_t i = 0; i < posts;) {
    line.clear();
    line += '[';
    // Newest first within a page, as a tag timeline serves them.
    const int64_t n = std::min<int64_t>(kPageSize, posts - i);
    for (int64_t k = n - 1; k >= 0; --k) {
      const int64_t idx = i + k;
      if (k != n - 1) line += ',';
      AppendImportStatus(line, idx, a.from_ms + (30 * kDayMs) * idx / posts);
    }
    line += "]\n";
    std::fwrite(line.data(), 1, line.size(), f);
    a.bytes += static_cast<int64_t>(line.size());
    i += n;
  }
  std::fclose(f);
  return a;
}

std::string Grouped(int64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

int64_t CountDataLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  int64_t n = 0;
  bool header_seen = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#') continue;
    if (!header_seen) {
      header_seen = true;
      continue;
    }
    ++n;
  }
  return n;
}

int Main(int argc, char** argv) {
  int64_t posts = 1'000'000;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--posts=", 0) == 0) posts = std::stoll(a.substr(8));
    else if (a.rfind("--statuses=", 0) == 0) posts = std::stoll(a.substr(11));
    else if (a.rfind("--max-seconds=", 0) == 0) {}  // every step here is bounded by its size
    else if (a == "--keep") keep = true;
    else {
      std::cerr << "usage: archive_bench [--posts=N] [--keep]\n";
      return 2;
    }
  }
  const std::string bin_dir = std::filesystem::path(std::filesystem::canonical("/proc/self/exe")).parent_path();
  const std::string chorusctl = bin_dir + "/chorusctl";
  if (!std::filesystem::exists(chorusctl)) {
    std::cerr << "archive_bench: " << chorusctl << " not built\n";
    return 1;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/chorus-archive-bench-XXXXXX";
  if (!mkdtemp(dir.data())) return 1;
  const std::string config = dir + "/chorus.yml", store = dir + "/store", archive = dir + "/archive.jsonl";
  std::ofstream(config) << ConfigYaml(store);

  const int64_t end_ms = (std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() /
                          kDayMs) * kDayMs;
  auto t0 = std::chrono::steady_clock::now();
  const Archive a = WriteArchive(archive, posts, end_ms);
  std::printf("archive: %s posts in %s lines, %.1f MB, written in %.1f s (%s)\n", Grouped(a.posts).c_str(),
              Grouped((posts + kPageSize - 1) / kPageSize).c_str(), a.bytes / 1e6,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), dir.c_str());

  // (a) import
  const ChildRun imp = RunChild({chorusctl, "import", "--config", config, "--platform", "mastodon", archive},
                                dir + "/import.log");
  std::printf("import:  exit %d, %.2f s wall, %.2f s CPU, peak RSS %.0f MB -> %s posts/s (wall), %s posts/s per CPU second\n",
              imp.exit_code, imp.wall_s, imp.cpu_s, imp.max_rss_kb / 1024.0,
              Grouped(static_cast<int64_t>(posts / imp.wall_s)).c_str(),
              Grouped(static_cast<int64_t>(posts / std::max(imp.cpu_s, 1e-9))).c_str());
  std::ifstream log(dir + "/import.log");
  for (std::string l; std::getline(log, l);) std::printf("         | %s\n", l.c_str());
  if (imp.exit_code != 0) return 1;
  // The same archive again: every post is a duplicate (idempotency), so this is the dedupe path.
  const ChildRun again = RunChild({chorusctl, "import", "--config", config, "--platform", "mastodon", archive},
                                  dir + "/import-again.log");
  std::printf("import:  the same archive again (all duplicates): exit %d, %.2f s wall, %.2f s CPU -> %s posts per CPU second\n",
              again.exit_code, again.wall_s, again.cpu_s,
              Grouped(static_cast<int64_t>(posts / std::max(again.cpu_s, 1e-9))).c_str());

  // (b) export, all of it and a tenth of the range
  const std::string csv = dir + "/posts.csv";
  const ChildRun exp = RunChild({chorusctl, "export", "--config", config, "--dataset", "posts", "--format", "csv",
                                 "--out", csv},
                                dir + "/export.log");
  const int64_t rows = CountDataLines(csv);
  std::printf("export:  exit %d, %s rows, %.1f MB CSV, %.2f s wall, %.2f s CPU, peak RSS %.0f MB -> %s rows/s, %s rows per CPU second\n",
              exp.exit_code, Grouped(rows).c_str(), std::filesystem::file_size(csv) / 1e6, exp.wall_s, exp.cpu_s,
              exp.max_rss_kb / 1024.0, Grouped(static_cast<int64_t>(rows / exp.wall_s)).c_str(),
              Grouped(static_cast<int64_t>(rows / std::max(exp.cpu_s, 1e-9))).c_str());
  std::filesystem::remove(csv);
  const std::string tenth_to = std::to_string((a.from_ms + 3 * kDayMs) / 1000);
  const ChildRun small = RunChild({chorusctl, "export", "--config", config, "--dataset", "posts", "--format", "csv",
                                   "--from", std::to_string(a.from_ms / 1000), "--to", tenth_to, "--out", csv},
                                  dir + "/export.log");
  const int64_t small_rows = CountDataLines(csv);
  std::printf("export:  a tenth (3 of 30 days): exit %d, %s rows, %.2f s, peak RSS %.0f MB (flat memory: about the same as above)\n",
              small.exit_code, Grouped(small_rows).c_str(), small.wall_s, small.max_rss_kb / 1024.0);
  std::filesystem::remove(csv);
  const ChildRun camp = RunChild({chorusctl, "export", "--config", config, "--dataset", "posts", "--format", "csv",
                                  "--campaign", "fund-our-schools", "--out", csv},
                                 dir + "/export.log");
  const int64_t camp_rows = CountDataLines(csv);
  std::printf("export:  one campaign (fund-our-schools: every post matches its keyword): exit %d, %s rows, %.2f s wall, %.2f s CPU, peak RSS %.0f MB -> %s rows/s\n",
              camp.exit_code, Grouped(camp_rows).c_str(), camp.wall_s, camp.cpu_s, camp.max_rss_kb / 1024.0,
              Grouped(static_cast<int64_t>(camp_rows / camp.wall_s)).c_str());
  std::filesystem::remove(csv);
  const ChildRun nd = RunChild({chorusctl, "export", "--config", config, "--dataset", "posts", "--format", "ndjson",
                                "--out", csv},
                               dir + "/export.log");
  std::printf("export:  NDJSON, all: exit %d, %.2f s wall, peak RSS %.0f MB -> %s rows/s\n", nd.exit_code,
              nd.wall_s, nd.max_rss_kb / 1024.0, Grouped(static_cast<int64_t>(rows / nd.wall_s)).c_str());
  std::filesystem::remove(csv);

  // (c) 30 days at 1-minute step
  {
    auto loaded = config::LoadConfigFile(config, false);
    store::OpenOptions open;
    open.read_only = true;
    auto st = store::Store::Open(store, open);
    if (!loaded.config || !st) {
      std::cerr << "archive_bench: cannot open the store for the series query\n";
      return 1;
    }
    const query::Params params = {{"campaign", "fund-our-schools"}, {"metric", "posts"}, {"step", "1m"},
                                  {"from", std::to_string(a.from_ms / 1000)}, {"to", std::to_string(a.to_ms / 1000)}};
    std::vector<double> api_ms, raw_ms;
    size_t body_bytes = 0, raw_points = 0;
    int status = 0;
    for (int run = 0; run < 21; ++run) {
      auto s0 = std::chrono::steady_clock::now();
      const auto r = query::Series(params, *loaded.config, **st, end_ms);
      api_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s0).count());
      body_bytes = r.body.size();
      status = r.status;
      s0 = std::chrono::steady_clock::now();
      const auto raw = (*st)->ReadSeries("posts", "fund-our-schools", "mastodon", "", a.from_ms / 1000,
                                         a.to_ms / 1000, store::Step::kMinute);
      raw_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s0).count());
      raw_points = raw ? raw->size() : 0;
    }
    std::sort(api_ms.begin(), api_ms.end());
    std::sort(raw_ms.begin(), raw_ms.end());
    std::printf("series:  /api/v1/series 30 d at 1m (status %d, %zu-byte body): median %.1f ms, min %.1f ms, max %.1f ms\n",
                status, body_bytes, api_ms[api_ms.size() / 2], api_ms.front(), api_ms.back());
    std::printf("series:  Store::ReadSeries of one platform's minute buckets (%zu points): median %.1f ms, min %.1f ms\n",
                raw_points, raw_ms[raw_ms.size() / 2], raw_ms.front());
  }
  std::printf("store:   %.1f MB on disk\n", [&] {
    uint64_t total = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(store)) {
      if (e.is_regular_file()) total += e.file_size();
    }
    return total / 1e6;
  }());
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace chorus::bench

int main(int argc, char** argv) { return chorus::bench::Main(argc, argv); }
