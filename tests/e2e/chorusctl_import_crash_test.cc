// `chorusctl import` killed with SIGKILL mid-import, then run again to completion, must leave the
// store exactly as one uninterrupted import does (design §5 "exactly once, across crashes", §7
// "importing the same file twice changes nothing").
//
// The import opens the store in bulk mode (store::OpenOptions::bulk_load): each batch of posts is
// written as sorted table files that RocksDB ingests in one atomic step, so a kill loses the batch
// being written and keeps every batch before it, whole. The test imports in batches of 10,000 posts,
// five commits per import, and times the kills from the clean import's duration, so at least one
// kill lands between commits: the store then holds part of the import, and the run that completes
// it must store and count exactly the rest. Checked through what an operator sees: the posts and
// series exports and chorusd's /metrics counters, against a clean import of the same file.
#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "tests/testlib/process.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {
namespace {

using std::chrono::seconds;

// Sized so that a clean import takes over a second, long enough to kill it between commits: each
// status carries ~4 KB of text, longer than most servers allow, which also gives the table files
// values of a realistic worst-case size.
constexpr int64_t kStatuses = 50'000;
constexpr int kPageSize = 40;
constexpr int kBatchPosts = 10'000;  // five commits per import, each as table files
constexpr int kRepeatsPerPage = 4;  // statuses of an earlier page seen again, on every 5th page
constexpr int kAuthors = 3'000;
constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kStartMs = 1'773'014'400'000;  // 2026-03-09T00:00:00Z
constexpr int64_t kSpanMs = 3 * 86'400'000LL;    // three days: 4,320 one-minute buckets
const char* const kFrom = "2026-03-08T00:00:00Z";
const char* const kTo = "2026-03-13T00:00:00Z";

// Retention keeps everything (the archive is months old); no sources: the store is only imported
// into and read.
std::string ConfigYaml(const std::string& store, int port) {
  return "storage:\n  path: " + store + "\n  retention: {posts: 0, minute: 0, hour: 0, day: 0}\n"
         "http:\n  listen: \"127.0.0.1:" + std::to_string(port) + "\"\n"
         "campaigns:\n"
         "  - name: fund-our-schools\n    hashtags: [FundOurSchools, EdEquity]\n"
         "    keywords: [\"school funding formula\"]\n"
         "  - name: teachers-count\n    hashtags: [TeachersCount]\n"
         "  - name: clean-air\n    hashtags: [CleanAirNow]\n"
         "people:\n"
         "  policymakers:\n"
         "    - id: sen-doe\n      name: Sen. Jane Doe\n      accounts: {mastodon: janedoe@gov.example}\n"
         "    - id: rep-roe\n      name: Rep. Rick Roe\n      accounts: {mastodon: rickroe@house.example}\n"
         "  coalition:\n"
         "    - id: parents-united\n      name: Parents United\n      accounts: {mastodon: parents@edu.example}\n";
}

// Filler that makes each status as long as a real thread-starter; varied a little per status.
const std::string& Filler() {
  static const std::string filler = [] {
    std::string s;
    while (s.size() < 4300) {
      s += " Districts across the state have waited years for the legislature to revisit how money "
           "reaches classrooms; teachers buy supplies themselves and buildings need repair.";
    }
    return s;
  }();
  return filler;
}

// Status `i` as a Mastodon tag timeline serves it, as seen the `sighting`-th time (0 = first):
// later sightings have grown favourites and, now and then, fewer reblogs than an earlier one (a
// count the import must keep at its high-water mark, not subtract).
void AppendStatus(std::string& out, int64_t i, int sighting) {
  static const char* const kTags[] = {"FundOurSchools", "FundOurSchools", "EdEquity", "TeachersCount",
                                      "TeachersCount", "CleanAirNow", "CleanAirNow", "FundOurSchools",
                                      "TeachersCount", "KnittingClub"};
  const char* tag = kTags[i % 10];
  const int64_t created_ms = kStartMs + kSpanMs * i / kStatuses + (i * 7919) % kMinuteMs;
  const std::string ids = std::to_string(110'000'000'000'000'000LL + i);
  std::string author;
  if (i % 997 == 0) author = "janedoe@gov.example";           // a policymaker's own campaign post
  else if (i % 17 == 0) author = "parents@edu.example";       // a coalition member
  else author = "user" + std::to_string((i * 31) % kAuthors) + "@social" + std::to_string(i % 3) + ".example";
  const std::string user = author.substr(0, author.find('@'));
  const std::string domain = author.substr(author.find('@') + 1);
  const int64_t favourites = i % 11 + 3 * sighting;
  const int64_t reblogs = std::max<int64_t>(0, i % 5 + (sighting == 1 ? 2 : 0) - (sighting == 2 ? 1 : 0));
  out += "{\"id\":\"" + ids + "\",\"created_at\":\"" + FormatRfc3339Ms(created_ms) +
         "\",\"in_reply_to_id\":null,\"in_reply_to_account_id\":null,\"spoiler_text\":\"\","
         "\"visibility\":\"public\",\"language\":\"en\",\"uri\":\"https://" + domain + "/users/" + user +
         "/statuses/" + ids + "\",\"url\":\"https://" + domain + "/@" + user + "/" + ids +
         "\",\"replies_count\":" + std::to_string(i % 4) + ",\"reblogs_count\":" + std::to_string(reblogs) +
         ",\"favourites_count\":" + std::to_string(favourites) + ",\"quotes_count\":" + std::to_string(i % 3 == 0) +
         ",\"content\":\"<p>Day " + std::to_string(i % 30) + " of the campaign, post " + std::to_string(i) + ": " +
         (i % 6 == 0 ? "we need a fair School Funding Formula now. " : "show up on Tuesday. ") +
         "<a href=\\\"https://" + domain + "/tags/" + tag + "\\\" class=\\\"mention hashtag\\\" rel=\\\"tag\\\">#<span>" +
         tag + "</span></a>";
  const bool mentions_doe = i % 23 == 0;
  const bool mentions_roe = i % 41 == 0;
  if (mentions_doe) out += " @<span>janedoe</span>";
  if (mentions_roe) out += " @<span>rickroe</span>";
  out += "</p><p>";
  out.append(Filler(), 0, 4000 + static_cast<size_t>(i % 200));
  out += "</p>\",\"reblog\":null,\"account\":{\"id\":\"" + std::to_string(100'000 + (i * 31) % kAuthors) +
         "\",\"username\":\"" + user + "\",\"acct\":\"" + author + "\",\"display_name\":\"" + user +
         "\",\"followers_count\":" + std::to_string(10 + (i * 13) % 5000) + "},\"media_attachments\":[],"
         "\"mentions\":[";
  if (mentions_doe) {
    out += "{\"id\":\"42\",\"username\":\"janedoe\",\"url\":\"https://gov.example/@janedoe\","
           "\"acct\":\"janedoe@gov.example\"}";
  }
  if (mentions_roe) {
    if (mentions_doe) out += ',';
    out += "{\"id\":\"43\",\"username\":\"rickroe\",\"url\":\"https://house.example/@rickroe\","
           "\"acct\":\"rickroe@house.example\"}";
  }
  out += "],\"tags\":[{\"name\":\"" + std::string(tag) + "\",\"url\":\"https://" + domain + "/tags/" + tag + "\"}";
  if (i % 13 == 0) out += ",{\"name\":\"edequity\",\"url\":\"https://" + domain + "/tags/edequity\"}";
  out += "],\"emojis\":[],\"card\":null,\"poll\":null}";
}

// Writes the archive: pages of 40 statuses, newest first, in creation order page by page; every
// fifth page also repeats statuses of pages 60 and 300 pages earlier (other batches than their
// first sighting). Returns the number of lines.
int64_t WriteArchive(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::string line;
  int64_t lines = 0;
  for (int64_t first = 0, page = 0; first < kStatuses; first += kPageSize, ++page) {
    line.assign("[");
    const int64_t last = std::min(first + kPageSize, kStatuses) - 1;
    for (int64_t i = last; i >= first; --i) {
      if (i != last) line += ',';
      AppendStatus(line, i, 0);
    }
    if (page % 5 == 4) {
      for (int back : {60, 300}) {
        if (page < back) continue;
        for (int k = 0; k < kRepeatsPerPage / 2; ++k) {
          line += ',';
          AppendStatus(line, (page - back) * kPageSize + 7 * k + page % 5, back == 60 ? 1 : 2);
        }
      }
    }
    line += "]\n";
    std::fwrite(line.data(), 1, line.size(), f);
    ++lines;
  }
  std::fclose(f);
  return lines;
}

// A store with its config and port, and what an operator reads from it.
class StoreUnderTest {
 public:
  StoreUnderTest(const std::string& dir, const std::string& name) : dir_(dir + "/" + name) {
    std::filesystem::create_directories(dir_);
    port_ = FreePort();
    config_ = dir_ + "/chorus.yml";
    std::ofstream(config_) << ConfigYaml(dir_ + "/store", port_);
  }

  std::vector<std::string> ImportArgv(const std::string& archive) const {
    return {BinPath("chorusctl"), "import", "--config", config_, "--platform", "mastodon",
            "--batch-posts", std::to_string(kBatchPosts), archive};
  }

  // The export without its provenance lines (they name the time of the export); "" on failure.
  std::string Export(std::vector<std::string> args) const {
    const std::string out = dir_ + "/export.out";
    std::vector<std::string> argv = {BinPath("chorusctl"), "export", "--config", config_, "--out", out,
                                     "--from", kFrom, "--to", kTo};
    argv.insert(argv.end(), args.begin(), args.end());
    const RunResult r = RunCommand(argv, seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    if (r.exit_code != 0) return "";
    std::ifstream in(out, std::ios::binary);
    std::string kept, line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] != '#') kept += line + "\n";
    }
    std::filesystem::remove(out);
    return kept;
  }

  // Posts stored, summed over campaigns, from the daily series (cheap to read however big the
  // store is).
  int64_t PostsInDailySeries() const {
    const std::string csv = Export({"--dataset", "series", "--format", "csv", "--step", "1d"});
    std::istringstream in(csv);
    std::string line;
    int64_t sum = 0;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // time,campaign,platform,posts,...
      size_t pos = 0;
      for (int field = 0; field < 3 && pos != std::string::npos; ++field) pos = line.find(',', pos) + 1;
      if (pos == 0 || pos >= line.size()) continue;
      sum += std::stoll(line.substr(pos, line.find(',', pos) - pos));
    }
    return sum;
  }

  // Starts chorusd on the store and reads its campaign counters and first-mention/response
  // timestamps from /metrics, then stops it.
  std::map<std::string, double> DaemonMetrics() const {
    const std::string log = dir_ + "/chorusd.log";
    Process d({BinPath("chorusd"), "--config", config_}, log);
    std::map<std::string, double> m;
    EXPECT_TRUE(WaitFor([&] { return HttpGet(port_, "/readyz").status == 200; }, seconds(60))) << ReadFile(log);
    for (const auto& [series, value] : ParseMetrics(HttpGet(port_, "/metrics", 30).body)) {
      for (const char* name : {"chorus_posts_total{", "chorus_term_posts_total{", "chorus_engagement_total{",
                               "chorus_potential_reach_total{", "chorus_policymaker_mentions_total{",
                               "chorus_policymaker_responses_total{", "chorus_coalition_posts_total{",
                               "chorus_policymaker_first_mention_timestamp_seconds{",
                               "chorus_policymaker_first_response_timestamp_seconds{"}) {
        if (series.rfind(name, 0) == 0) m[series] = value;
      }
    }
    EXPECT_TRUE(d.Signal(SIGTERM));
    EXPECT_EQ(d.Wait(seconds(60)), 0) << ReadFile(log);
    return m;
  }

 private:
  std::string dir_;
  std::string config_;
  int port_ = 0;
};

// Equal texts, or the first line where they differ (the exports are hundreds of megabytes: no
// full diff, and no copies).
::testing::AssertionResult SameText(std::string_view expected, std::string_view actual) {
  if (expected == actual) return ::testing::AssertionSuccess();
  auto next_line = [](std::string_view& rest) -> std::optional<std::string_view> {
    if (rest.empty()) return std::nullopt;
    const size_t eol = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(std::min(eol + 1, rest.size()));
    return line;
  };
  std::string_view a = expected, b = actual;
  for (int64_t n = 1;; ++n) {
    const auto la = next_line(a), lb = next_line(b);
    if (!la && !lb) return ::testing::AssertionFailure() << "the texts differ in their last line ending";
    if (la != lb) {
      return ::testing::AssertionFailure()
             << "line " << n << " differs (" << std::count(expected.begin(), expected.end(), '\n')
             << " lines expected, " << std::count(actual.begin(), actual.end(), '\n') << " got)\n  expected: "
             << (la ? la->substr(0, 300) : "<end>") << "\n  got:      " << (lb ? lb->substr(0, 300) : "<end>");
    }
  }
}

void SleepSeconds(double s) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(s);
  ts.tv_nsec = static_cast<long>((s - static_cast<double>(ts.tv_sec)) * 1e9);
  while (nanosleep(&ts, &ts) != 0) {
  }
}

TEST(ChorusctlImportCrash, KilledImportsRerunToCompletionStoreAndCountExactlyWhatACleanImportDoes) {
  const auto test_start = std::chrono::steady_clock::now();
  // Where the time goes, for whoever has to make this test faster.
  auto log = [&](const std::string& what) {
    std::cout << "[" << std::chrono::duration<double>(std::chrono::steady_clock::now() - test_start).count()
              << " s] " << what << std::endl;
  };
  TempDir dir;
  const std::string archive = dir.path() + "/statuses.jsonl";
  const int64_t lines = WriteArchive(archive);
  ASSERT_GT(lines, 0) << "cannot write " << archive;
  log("archive written: " + std::to_string(std::filesystem::file_size(archive) >> 20) + " MB");

  // Reference: one uninterrupted import.
  StoreUnderTest clean(dir.path(), "clean");
  const auto started = std::chrono::steady_clock::now();
  const RunResult ref = RunCommand(clean.ImportArgv(archive), seconds(150));
  const double import_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  ASSERT_NE(ref.output.find(" 0 lines skipped"), std::string::npos) << ref.output;
  log("clean import of " + std::to_string(lines) + " pages: " + std::to_string(import_s) + " s\n" + ref.output);
  const std::string ref_posts = clean.Export({"--dataset", "posts", "--format", "csv"});
  const std::string ref_1m = clean.Export({"--dataset", "series", "--format", "csv", "--step", "1m"});
  const std::string ref_1h = clean.Export({"--dataset", "series", "--format", "csv", "--step", "1h"});
  const int64_t ref_sum = clean.PostsInDailySeries();
  log("reference exports read");
  const auto ref_metrics = clean.DaemonMetrics();
  log("reference counters read");
  // The archive is what it is meant to be: every campaign, term and person counted, and growth of
  // re-seen statuses' engagement counted on top of first sightings.
  ASSERT_GT(std::count(ref_posts.begin(), ref_posts.end(), '\n'), kStatuses * 8 / 10);
  EXPECT_EQ(MetricSum(ref_metrics, "chorus_posts_total"), static_cast<double>(ref_sum));
  for (const char* campaign : {"fund-our-schools", "teachers-count", "clean-air"}) {
    EXPECT_GT(MetricSum(ref_metrics, "chorus_posts_total", {std::string("campaign=\"") + campaign + "\""}), 1000)
        << campaign;
  }
  EXPECT_GT(MetricSum(ref_metrics, "chorus_term_posts_total", {"term=\"school funding formula\""}), 0);
  EXPECT_GT(MetricSum(ref_metrics, "chorus_policymaker_mentions_total", {"policymaker=\"rep-roe\""}), 0);
  EXPECT_GT(MetricSum(ref_metrics, "chorus_policymaker_responses_total", {"policymaker=\"sen-doe\""}), 0);
  EXPECT_GT(MetricSum(ref_metrics, "chorus_coalition_posts_total"), 0);
  EXPECT_GT(MetricSum(ref_metrics, "chorus_policymaker_first_mention_timestamp_seconds"), 0);
  EXPECT_GT(MetricSum(ref_metrics, "chorus_policymaker_first_response_timestamp_seconds"), 0);
  EXPECT_EQ(ref.output.find("(0 with grown engagement"), std::string::npos) << ref.output;

  // Crash runs: start, wait a random part of the clean import's duration, kill -9; later rounds
  // wait longer, and a round that reaches further than the store had is what makes partial stores.
  StoreUnderTest crashed(dir.path(), "crashed");
  const unsigned seed = std::random_device{}();
  log("kill times drawn with seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const std::vector<std::pair<double, double>> windows = {{0.25, 0.55}, {0.4, 0.75}, {0.6, 0.9}};
  int killed_mid_import = 0;
  int partial_stores = 0;
  int64_t stored_before = 0;
  for (size_t round = 0; round < windows.size() + 2; ++round) {
    // Two extra late rounds only when no kill has yet left part of the import behind.
    if (round >= windows.size() && partial_stores > 0) break;
    const auto [lo, hi] = round < windows.size() ? windows[round] : std::pair{0.7, 0.95};
    const double delay = std::max(0.3, import_s * std::uniform_real_distribution<double>(lo, hi)(rng));
    Process p(crashed.ImportArgv(archive), dir.path() + "/crashed-import.log");
    SleepSeconds(delay);
    ASSERT_TRUE(p.Signal(SIGKILL));
    const auto status = p.Wait(seconds(60));
    ASSERT_TRUE(status.has_value());
    const int64_t stored = crashed.PostsInDailySeries();
    log("round " + std::to_string(round) + ": killed after " + std::to_string(delay) + " s, exit " +
        std::to_string(*status) + ", " + std::to_string(stored) + " of " + std::to_string(ref_sum) +
        " campaign posts stored");
    if (*status == 128 + SIGKILL) ++killed_mid_import;
    else EXPECT_EQ(*status, 0) << ReadFile(dir.path() + "/crashed-import.log");
    // Whole batches up to some point and nothing after it: never more than the clean import.
    EXPECT_LE(stored, ref_sum);
    EXPECT_GE(stored, stored_before) << "a later run lost what an earlier one had stored";
    if (stored > 0 && stored < ref_sum) ++partial_stores;
    stored_before = stored;
  }
  ASSERT_GT(killed_mid_import, 0) << "every import finished before its kill: make the archive bigger";
  // Without this the test would only compare two clean imports. A store whose committed posts
  // lost their counter and series entries (commits not atomic) also shows no campaign posts here.
  EXPECT_GT(partial_stores, 0) << "no kill left part of the import counted in the store: either no batch "
                                  "was committed before a kill (make the archive bigger or kill later), or "
                                  "committed posts lost their counts";

  const RunResult rest = RunCommand(crashed.ImportArgv(archive), seconds(150));
  ASSERT_EQ(rest.exit_code, 0) << rest.output;
  log("completing import:\n" + rest.output);

  EXPECT_TRUE(SameText(ref_posts, crashed.Export({"--dataset", "posts", "--format", "csv"})));
  EXPECT_TRUE(SameText(ref_1m, crashed.Export({"--dataset", "series", "--format", "csv", "--step", "1m"})));
  EXPECT_TRUE(SameText(ref_1h, crashed.Export({"--dataset", "series", "--format", "csv", "--step", "1h"})));
  log("exports compared");
  const auto metrics = crashed.DaemonMetrics();
  EXPECT_EQ(metrics.size(), ref_metrics.size());
  for (const auto& [series, value] : ref_metrics) {
    const auto it = metrics.find(series);
    if (it == metrics.end()) {
      ADD_FAILURE() << series << " missing after the crashed import";
    } else {
      EXPECT_EQ(it->second, value) << series;
    }
  }
}

}  // namespace
}  // namespace chorus::testing
