// End-to-end replay: a day of campaign traffic served by the simulated Mastodon on loopback, read
// by the real collector (HTTP, parsing) and stored by the real Ingester (RocksDB), page by page
// the way daemon/source_runner.cc polls, until every query is caught up. Then one more poll, which
// finds nothing new and only re-reads the overlap window: the steady-state cost of a quiet source.
//
// The simulated server runs in a child process, so the peak RSS reported (VmHWM) is the collector
// and ingest side alone, the part that lives in chorusd. The server's rate limit is lifted: this
// measures what the CPU can do, which docs/performance.md compares with what platforms allow.
//
// Usage: replay_bench [--statuses=N] [--max-seconds=S]. Exits 1 when the replay did not catch up
// within the time bound or stored a different number of posts than were served.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "analytics/matcher.h"
#include "collectors/collector.h"
#include "collectors/http_client.h"
#include "collectors/mastodon_collector.h"
#include "config/config.h"
#include "core/log.h"
#include "core/time.h"
#include "ingest/ingester.h"
#include "sim/mastodon_sim.h"
#include "store/store.h"

namespace chorus::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int64_t kHourMs = 3'600'000;
const char* const kTags[] = {"FundOurSchools", "EdEquity", "TeachersCount"};

struct Options {
  int statuses = 20'000;
  double max_seconds = 150;
};

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

// A value from /proc/self/status ("VmHWM", "VmRSS"), in kB; -1 when unavailable.
int64_t ProcStatusKb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::atoll(line.c_str() + field.size() + 1);
  }
  return -1;
}

int64_t DirectoryBytes(const std::string& path) {
  int64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += static_cast<int64_t>(it->file_size(ec));
  }
  return total;
}

// The day of traffic: `n` statuses spread evenly over the last 24 hours (inside the collector's
// 24 h backfill), rotating over the three tags, one in four carrying a second tag (so it is
// served by two queries and must be counted once), one in five mentioning the policymaker, one
// in nine by the coalition member, a fifth of the authors local to the server.
sim::SimStatus MakeStatus(int i, int n, int64_t now_ms, const std::string& sim_domain) {
  sim::SimStatus s;
  const int64_t span = 24 * kHourMs - 20 * 60'000;
  s.created_at_ms = now_ms - 24 * kHourMs + 10 * 60'000 + span * i / n;
  const int user = (i * 7919) % 2'000;
  if (i % 9 == 0) {
    s.account = {"parents", "edu.example", 4'200};
  } else {
    s.account = {"user" + std::to_string(user),
                 user % 5 == 0 ? sim_domain : "remote" + std::to_string(user % 40) + ".example",
                 10 + (user * 37) % 3'000};
  }
  s.tags = {kTags[i % 3]};
  if (i % 4 == 0) s.tags.push_back(kTags[(i + 1) % 3]);
  s.text =
      "Our district is short on the school funding formula again, and the kids pay for it.\n\n"
      "Write to your representative today: it takes two minutes.";
  if (i % 5 == 0) {
    s.mentions = {{"janedoe", "gov.example", 0}};
    s.text = "@janedoe@gov.example will you vote for the amendment? " + s.text;
  }
  for (const auto& t : s.tags) s.text += " #" + t;
  s.favourites = i % 13;
  s.reblogs = i % 5;
  s.replies = i % 3;
  return s;
}

// Child process: serve the statuses until the parent closes `stop_fd` (or dies), then report the
// number of requests served on `report_fd`.
[[noreturn]] void RunServer(const Options& o, int64_t now_ms, int report_fd, int stop_fd) {
  sim::SimOptions so;
  so.domain = "sim.example";
  so.rate_limit = 1'000'000'000;  // lifted: the replay measures CPU, not the platform's budget
  sim::MastodonSim server(so);
  for (int i = 0; i < o.statuses; ++i)
    server.AddStatus(MakeStatus(i, o.statuses, now_ms, so.domain));
  std::string msg;
  if (auto r = server.Start(0); !r) {
    msg = "error " + r.error().ToString() + "\n";
  } else {
    msg = "port " + std::to_string(server.port()) + "\n";
  }
  if (write(report_fd, msg.data(), msg.size()) < 0) _exit(2);
  char c;
  while (read(stop_fd, &c, 1) > 0) {
  }
  server.Stop();
  msg = "requests " + std::to_string(server.requests()) + "\n";
  if (write(report_fd, msg.data(), msg.size()) < 0) _exit(2);
  _exit(0);
}

// Reads one line from the server's report pipe.
std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

struct PollStats {
  int64_t requests = 0;
  int64_t posts_fetched = 0;
  int64_t new_posts = 0;
  int64_t updated_posts = 0;
  double fetch_s = 0;  // HTTP round trip (including the server rendering the page) + parsing
  double apply_s = 0;  // dedupe, matching, one WriteBatch per page
  std::string error;
  bool timed_out = false;
};

// One poll of every query, as SourceRunner::PollQuery does it: the stored cursor, then pages
// until the collector returns no next_page_token, each applied with its cursor.
void PollAll(collectors::Collector& collector, ingest::Ingester& ingester, store::Store& store,
             const std::string& source, SteadyClock::time_point deadline, PollStats* st) {
  for (const auto& q : collector.queries()) {
    const std::string cursor_key = store::CursorKey(source, q.key);
    auto stored = store.GetCursor(cursor_key);
    if (!stored) {
      st->error = stored.error().ToString();
      return;
    }
    collectors::PageRequest req;
    req.cursor = stored->value_or("");
    while (true) {
      if (SteadyClock::now() > deadline) {
        st->timed_out = true;
        return;
      }
      req.now_ms = SystemClock::Instance().NowMs();
      const auto t0 = SteadyClock::now();
      collectors::FetchResult page = collector.FetchPage(q, req);
      const auto t1 = SteadyClock::now();
      ++st->requests;
      if (page.error) {
        st->error = q.description + ": " + page.error->ToString();
        return;
      }
      std::map<std::string, std::string> cursors;
      if (!page.cursor.empty() && page.cursor != req.cursor) cursors[cursor_key] = page.cursor;
      auto applied = ingester.ApplyPage(page.posts, cursors, SystemClock::Instance().NowMs());
      const auto t2 = SteadyClock::now();
      if (!applied) {
        st->error = "cannot store page: " + applied.error().ToString();
        return;
      }
      st->fetch_s += Seconds(t1 - t0);
      st->apply_s += Seconds(t2 - t1);
      st->posts_fetched += static_cast<int64_t>(page.posts.size());
      st->new_posts += applied->new_posts;
      st->updated_posts += applied->updated_posts;
      if (!page.cursor.empty()) req.cursor = page.cursor;
      if (page.next_page_token.empty()) break;
      req.page_token = page.next_page_token;
    }
  }
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--statuses=", 0) == 0) {
      o->statuses = std::atoi(a.c_str() + 11);
    } else if (a.rfind("--max-seconds=", 0) == 0) {
      o->max_seconds = std::atof(a.c_str() + 14);
    } else {
      std::fprintf(stderr, "usage: %s [--statuses=N] [--max-seconds=S]\n", argv[0]);
      return false;
    }
  }
  if (o->statuses <= 0 || o->max_seconds <= 0) {
    std::fprintf(stderr, "--statuses and --max-seconds must be positive\n");
    return false;
  }
  return true;
}

int Run(const Options& o) {
  SetLogLevel(LogLevel::kWarn);
  const int64_t now_ms = SystemClock::Instance().NowMs();

  // Fork before any thread exists in this process.
  int report[2], stop[2];
  if (pipe(report) != 0 || pipe(stop) != 0) {
    std::perror("pipe");
    return 1;
  }
  const auto setup_start = SteadyClock::now();
  const pid_t child = fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  if (child == 0) {
    close(report[0]);
    close(stop[1]);
    RunServer(o, now_ms, report[1], stop[0]);
  }
  close(report[1]);
  close(stop[0]);
  // Whatever happens below, closing the pipe stops the server.
  struct ServerGuard {
    int stop_fd, report_fd;
    pid_t pid;
    ~ServerGuard() {
      if (stop_fd >= 0) close(stop_fd);
      if (pid > 0) waitpid(pid, nullptr, 0);
      close(report_fd);
    }
  } guard{stop[1], report[0], child};

  const std::string hello = ReadLine(report[0]);
  if (hello.rfind("port ", 0) != 0) {
    std::fprintf(stderr, "replay: simulated server failed: %s\n", hello.c_str());
    return 1;
  }
  const std::string base_url = "http://127.0.0.1:" + hello.substr(5);
  const double setup_s = Seconds(SteadyClock::now() - setup_start);

  char tmpl_buf[256];
  const char* tmp = std::getenv("TMPDIR");
  std::snprintf(tmpl_buf, sizeof tmpl_buf, "%s/chorus-replay-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(tmpl_buf) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl_buf;
  struct DirGuard {
    std::string path;
    ~DirGuard() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } dir_guard{dir};

  config::Config config;
  config.storage.path = dir + "/store";
  config::Source source;
  source.name = "replay";
  source.platform = Platform::kMastodon;
  source.base_url = base_url;
  source.page_limit = 40;
  config.sources.push_back(source);
  config.campaigns.push_back(
      {"fund-our-schools", {"fundourschools", "edequity"}, {"school funding formula"}});
  config.campaigns.push_back({"teachers-count", {"teacherscount"}, {}});
  config.policymakers.push_back(
      {"sen-doe", "Sen. Jane Doe", {{Platform::kMastodon, "janedoe@gov.example"}}});
  config.coalition.push_back(
      {"parents-united", "Parents United", {{Platform::kMastodon, "parents@edu.example"}}});

  const int64_t rss_before_kb = ProcStatusKb("VmRSS");
  auto store = store::Store::Open(config.storage.path);
  if (!store) {
    std::fprintf(stderr, "replay: %s\n", store.error().ToString().c_str());
    return 1;
  }
  ingest::Ingester ingester(**store, std::make_shared<analytics::Matcher>(config));
  collectors::HttpClientOptions http;
  http.read_timeout_ms = source.timeout_ms;
  http.connect_timeout_ms = std::min<int64_t>(source.timeout_ms, 5'000);
  auto transport = collectors::MakeHttpClient(base_url, http);
  if (!transport) {
    std::fprintf(stderr, "replay: %s\n", transport.error().ToString().c_str());
    return 1;
  }
  auto collector = collectors::MakeMastodonCollector(source, config, std::move(*transport));
  if (!collector) {
    std::fprintf(stderr, "replay: %s\n", collector.error().ToString().c_str());
    return 1;
  }

  const auto start = SteadyClock::now();
  const auto deadline = start + std::chrono::duration_cast<SteadyClock::duration>(
                                    std::chrono::duration<double>(o.max_seconds));
  PollStats backlog;
  PollAll(**collector, ingester, **store, source.name, deadline, &backlog);
  const double backlog_s = Seconds(SteadyClock::now() - start);

  PollStats idle;
  double idle_s = 0;
  if (backlog.error.empty() && !backlog.timed_out) {
    const auto t = SteadyClock::now();
    PollAll(**collector, ingester, **store, source.name, deadline, &idle);
    idle_s = Seconds(SteadyClock::now() - t);
  }
  const int64_t peak_kb = ProcStatusKb("VmHWM");
  const int64_t rss_end_kb = ProcStatusKb("VmRSS");
  const auto stored = (*store)->CountPosts();
  const int64_t stored_posts = stored ? *stored : -1;
  const int64_t store_bytes = DirectoryBytes(config.storage.path);

  close(guard.stop_fd);
  guard.stop_fd = -1;
  const std::string bye = ReadLine(report[0]);
  const std::string server_requests = bye.rfind("requests ", 0) == 0 ? bye.substr(9) : "?";

  const double total_s = backlog.fetch_s + backlog.apply_s;
  std::printf(
      "replay: %d statuses over 24 h, 3 hashtags (1 in 4 with two), page limit 40, "
      "time bound %.0f s\n",
      o.statuses, o.max_seconds);
  std::printf("  server setup (child process)   %8.2f s\n", setup_s);
  std::printf("  backlog: wall time             %8.2f s\n", backlog_s);
  std::printf(
      "           requests              %8lld  (%.1f req/s; server counted %s incl. the idle "
      "poll)\n",
      static_cast<long long>(backlog.requests), backlog.requests / backlog_s,
      server_requests.c_str());
  std::printf("           posts fetched         %8lld  (%.0f posts/s)\n",
              static_cast<long long>(backlog.posts_fetched), backlog.posts_fetched / backlog_s);
  std::printf("           posts stored (new)    %8lld  (%.0f posts/s)\n",
              static_cast<long long>(backlog.new_posts), backlog.new_posts / backlog_s);
  std::printf(
      "           fetch+parse / ingest  %8.1f%% / %.1f%% of the time  (%.2f ms / %.2f ms per "
      "page)\n",
      total_s > 0 ? 100 * backlog.fetch_s / total_s : 0,
      total_s > 0 ? 100 * backlog.apply_s / total_s : 0,
      backlog.requests ? 1e3 * backlog.fetch_s / backlog.requests : 0,
      backlog.requests ? 1e3 * backlog.apply_s / backlog.requests : 0);
  std::printf(
      "  idle re-poll (overlap only):   %8.3f s, %lld requests, %lld posts re-read, %lld new\n",
      idle_s, static_cast<long long>(idle.requests), static_cast<long long>(idle.posts_fetched),
      static_cast<long long>(idle.new_posts));
  std::printf(
      "  store: %lld posts, %.1f MiB on disk (%.0f bytes/post, WAL included)\n",
      static_cast<long long>(stored_posts), store_bytes / 1048576.0,
      stored_posts > 0 ? static_cast<double>(store_bytes) / static_cast<double>(stored_posts) : 0);
  std::printf(
      "  memory: peak RSS (VmHWM) %.1f MiB; RSS %.1f MiB before opening the store, %.1f MiB at the "
      "end\n",
      peak_kb / 1024.0, rss_before_kb / 1024.0, rss_end_kb / 1024.0);

  if (!backlog.error.empty() || !idle.error.empty()) {
    std::fprintf(stderr, "replay: FAILED: %s\n", (backlog.error + idle.error).c_str());
    return 1;
  }
  if (backlog.timed_out || idle.timed_out) {
    std::fprintf(stderr, "replay: FAILED: not caught up within %.0f s\n", o.max_seconds);
    return 1;
  }
  if (stored_posts != o.statuses || backlog.new_posts != o.statuses) {
    std::fprintf(stderr, "replay: FAILED: %d statuses served, %lld stored\n", o.statuses,
                 static_cast<long long>(stored_posts));
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace chorus::bench

int main(int argc, char** argv) {
  chorus::bench::Options o;
  if (!chorus::bench::ParseArgs(argc, argv, &o)) return 2;
  try {
    return chorus::bench::Run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "replay: unexpected exception: %s\n", e.what());
    return 1;
  }
}
