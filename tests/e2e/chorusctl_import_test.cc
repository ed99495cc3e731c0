// `chorusctl import` as an operator runs it (design §3, §7 "Archived pages"): archives of recorded
// platform pages, one response body a line, with duplicates, a malformed and a truncated line,
// twarc2 JSONL for X; what ends up in the store is read back through `chorusctl export` and
// through a chorusd started on the same store.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/testlib/process.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {
namespace {

using std::chrono::seconds;

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& l : lines) out << l << "\n";
}

// The fixtures' campaigns: the Mastodon pages carry #hoot and one long generated tag, the Bluesky
// searches #rstats (100 posts) and #txlege (1 of 25), the X pages #CommTwitter. Retention keeps
// everything: the recordings are years old.
std::string ConfigYaml(const std::string& store, int port) {
  return "storage:\n  path: " + store + "\n  retention: {posts: 0, minute: 0, hour: 0, day: 0}\n"
         "http:\n  listen: \"127.0.0.1:" + std::to_string(port) + "\"\n"
         "campaigns:\n"
         "  - name: hoot\n"
         "    hashtags: [hoot, fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp]\n"
         "  - name: rstats\n"
         "    hashtags: [rstats, txlege]\n"
         "  - name: comm\n"
         "    hashtags: [CommTwitter]\n";
}

class ChorusctlImport : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = FreePort();
    config_ = dir_.path() + "/chorus.yml";
    std::ofstream(config_) << ConfigYaml(dir_.path() + "/store", port_);
  }

  RunResult Import(const std::string& platform, const std::vector<std::string>& files,
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {BinPath("chorusctl"), "import", "--config", config_, "--platform", platform};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), files.begin(), files.end());
    return RunCommand(argv, seconds(60));
  }

  // The posts in the store, as NDJSON rows (provenance left out: it names the time of the export).
  std::vector<std::string> ExportPosts() {
    const std::string out = dir_.path() + "/posts.ndjson";
    const RunResult r = RunCommand({BinPath("chorusctl"), "export", "--config", config_, "--dataset", "posts",
                                    "--format", "ndjson", "--to", "4102444800", "--out", out},
                                   seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::string> rows;
    std::istringstream in(ReadFile(out));
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("{\"provenance\"", 0) != 0) rows.push_back(line);
    }
    return rows;
  }

  // Starts chorusd on the store, reads the campaign counters of /metrics, stops it.
  std::map<std::string, double> DaemonMetrics() {
    const std::string log = dir_.path() + "/chorusd.log";
    Process d({BinPath("chorusd"), "--config", config_}, log);
    std::map<std::string, double> m;
    EXPECT_TRUE(WaitFor([&] { return HttpGet(port_, "/readyz").status == 200; }, seconds(30))) << ReadFile(log);
    for (const auto& [series, value] : ParseMetrics(HttpGet(port_, "/metrics").body)) {
      for (const char* name : {"chorus_posts_total{", "chorus_term_posts_total{", "chorus_engagement_total{",
                               "chorus_potential_reach_total{", "chorus_policymaker_mentions_total{",
                               "chorus_policymaker_responses_total{", "chorus_coalition_posts_total{"}) {
        if (series.rfind(name, 0) == 0) m[series] = value;
      }
    }
    EXPECT_TRUE(d.Signal(SIGTERM));
    EXPECT_EQ(d.Wait(seconds(30)), 0) << ReadFile(log);
    return m;
  }

  TempDir dir_;
  int port_ = 0;
  std::string config_;
};

size_t CountContaining(const std::vector<std::string>& rows, const std::string& needle) {
  return static_cast<size_t>(std::count_if(rows.begin(), rows.end(), [&](const std::string& r) {
    return r.find(needle) != std::string::npos;
  }));
}

TEST_F(ChorusctlImport, TwoPlatformsWithDuplicatesAndBadLinesAreCountedOnceAndImportIsIdempotent) {
  const std::string page1 = FixtureOnOneLine("mastodon/timeline_tag_limit10_page1.json");  // 10 statuses
  const std::string page2 = FixtureOnOneLine("mastodon/timeline_tag_limit10_page2.json");  // 10 others
  const std::string hoot = FixtureOnOneLine("mastodon/timeline_tag_hoot.json");            // 1 status
  const std::string rstats = FixtureOnOneLine("bluesky/searchPosts_hashtag_rstats_limit100.json");
  const std::string redistricting = FixtureOnOneLine("bluesky/searchPosts_redistricting.json");
  const std::string m1 = dir_.path() + "/mastodon-1.jsonl";
  const std::string m2 = dir_.path() + "/mastodon-2.jsonl";
  const std::string b1 = dir_.path() + "/bluesky.jsonl";
  WriteLines(m1, {page1, "{\"error\": not json", hoot});
  WriteLines(m2, {page2, page1, "", hoot.substr(0, hoot.size() / 2)});
  WriteLines(b1, {rstats, redistricting, rstats, "{\"cursor\":\"25\"}x"});

  const RunResult m = Import("mastodon", {m1, m2});
  ASSERT_EQ(m.exit_code, 0) << m.output;
  // Each skipped line is named FILE:LINE with the parser's reason, and the rest is imported.
  EXPECT_NE(m.output.find(m1 + ":2: "), std::string::npos) << m.output;
  EXPECT_NE(m.output.find(m2 + ":4: "), std::string::npos) << m.output;
  EXPECT_EQ(m.output.find(m1 + ":1:"), std::string::npos) << m.output;
  EXPECT_EQ(m.output.find(m2 + ":3:"), std::string::npos) << m.output;  // blank: ignored
  EXPECT_NE(m.output.find("imported 2 files, 7 lines: 4 pages ok, 2 lines skipped, 1 blank"), std::string::npos)
      << m.output;
  EXPECT_NE(m.output.find("posts: 31 seen, 21 new (stored and counted), 10 duplicates"), std::string::npos)
      << m.output;
  EXPECT_NE(m.output.find("2 lines were skipped"), std::string::npos) << m.output;

  const RunResult b = Import("bluesky", {b1});
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find(b1 + ":4: "), std::string::npos) << b.output;
  EXPECT_NE(b.output.find("imported 1 file, 4 lines: 3 pages ok, 1 lines skipped"), std::string::npos) << b.output;
  // 225 posts: 101 match (#rstats x100, #txlege x1), the other 24 redistricting posts match nothing.
  EXPECT_NE(b.output.find("posts: 225 seen, 101 new (stored and counted), 100 duplicates"), std::string::npos)
      << b.output;
  EXPECT_NE(b.output.find("24 matching no campaign or person"), std::string::npos) << b.output;

  // The store holds each post once.
  const std::vector<std::string> rows = ExportPosts();
  EXPECT_EQ(rows.size(), 122u);
  EXPECT_EQ(CountContaining(rows, "\"platform\":\"mastodon\""), 21u);
  EXPECT_EQ(CountContaining(rows, "\"platform\":\"bluesky\""), 101u);
  EXPECT_EQ(CountContaining(rows, "\"post_id\":\"http://localhost:3000/ap/users/117020566092212359/statuses/"
                                  "117020593741189701\""), 1u);
  // Mastodon local accounts are qualified with the domain of the server the page came from.
  EXPECT_EQ(CountContaining(rows, "\"author\":\"mastodonpy_test_2@localhost\""), 21u);

  // chorusd restores exactly what the pages imply.
  auto metrics = DaemonMetrics();
  EXPECT_EQ(MetricSum(metrics, "chorus_posts_total", {"campaign=\"hoot\"", "platform=\"mastodon\""}), 21);
  EXPECT_EQ(MetricSum(metrics, "chorus_term_posts_total", {"campaign=\"hoot\"", "term=\"hoot\""}), 1);
  EXPECT_EQ(MetricSum(metrics, "chorus_posts_total", {"campaign=\"rstats\"", "platform=\"bluesky\""}), 101);
  EXPECT_EQ(MetricSum(metrics, "chorus_term_posts_total", {"campaign=\"rstats\"", "term=\"rstats\""}), 100);
  EXPECT_EQ(MetricSum(metrics, "chorus_term_posts_total", {"campaign=\"rstats\"", "term=\"txlege\""}), 1);
  // likeCount etc. summed over the 100 #rstats posts, plus the #txlege one (58/13/0/1).
  EXPECT_EQ(MetricSum(metrics, "chorus_engagement_total", {"campaign=\"rstats\"", "kind=\"like\""}), 712 + 58);
  EXPECT_EQ(MetricSum(metrics, "chorus_engagement_total", {"campaign=\"rstats\"", "kind=\"repost\""}), 197 + 13);
  EXPECT_EQ(MetricSum(metrics, "chorus_engagement_total", {"campaign=\"rstats\"", "kind=\"reply\""}), 51);
  EXPECT_EQ(MetricSum(metrics, "chorus_engagement_total", {"campaign=\"rstats\"", "kind=\"quote\""}), 12 + 1);

  // Importing everything again changes nothing: no new post, same rows, same counters.
  const RunResult m_again = Import("mastodon", {m1, m2});
  EXPECT_EQ(m_again.exit_code, 0) << m_again.output;
  EXPECT_NE(m_again.output.find("posts: 31 seen, 0 new (stored and counted), 31 duplicates (0 with grown"),
            std::string::npos)
      << m_again.output;
  const RunResult b_again = Import("bluesky", {b1});
  EXPECT_EQ(b_again.exit_code, 0) << b_again.output;
  EXPECT_NE(b_again.output.find("posts: 225 seen, 0 new"), std::string::npos) << b_again.output;
  EXPECT_EQ(ExportPosts(), rows);
  EXPECT_EQ(DaemonMetrics(), metrics);
}

TEST_F(ChorusctlImport, Twarc2JsonlLinesWithTheirExtraKeysAreXPages) {
  // twarc2 writes each search/recent response as one line with a "__twarc" object added; here at
  // the end (as twarc does) and, to be sure the key's place does not matter, at the start.
  const std::string twarc =
      "\"__twarc\":{\"url\":\"https://api.twitter.com/2/tweets/search/recent?query=%23CommTwitter\","
      "\"version\":\"2.14.0\",\"retrieved_at\":\"2021-07-04T13:40:49+00:00\"}";
  std::string small = FixtureOnOneLine("twitter/search_all_commtwitter_expansions_5.json");
  std::string large = FixtureOnOneLine("twitter/search_all_commtwitter_expansions_27.json");
  small.insert(small.rfind('}'), "," + twarc);
  large.insert(large.find('{') + 1, twarc + ",");
  const std::string file = dir_.path() + "/twarc.jsonl";
  WriteLines(file, {small, large, small});

  const RunResult r = Import("x", {file}, {"--strict"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 pages ok, 0 lines skipped"), std::string::npos) << r.output;
  const std::vector<std::string> rows = ExportPosts();
  // Retweets are amplification: they fold into their originals, which carry the hashtag.
  EXPECT_GT(rows.size(), 15u);
  EXPECT_EQ(CountContaining(rows, "\"platform\":\"x\""), rows.size());
  EXPECT_EQ(CountContaining(rows, "\"post_id\":\"1403889634988511232\""), 1u);  // in both pages
  EXPECT_EQ(CountContaining(rows, "\"post_id\":\"1391807748346683397\""), 1u);  // a retweeted original
  EXPECT_EQ(CountContaining(rows, "\"post_id\":\"1400199391961620488\""), 0u);  // a retweet
  auto metrics = DaemonMetrics();
  EXPECT_EQ(MetricSum(metrics, "chorus_posts_total", {"campaign=\"comm\"", "platform=\"x\""}),
            static_cast<double>(rows.size()));
  // public_metrics.like_count of 1403889634988511232, counted once although it is in two pages.
  EXPECT_NE(rows[0].find("\"likes\":"), std::string::npos);
  for (const auto& row : rows) {
    if (row.find("\"post_id\":\"1403889634988511232\"") != std::string::npos) {
      EXPECT_NE(row.find("\"likes\":21,\"reposts\":2,\"replies\":4,\"quotes\":0"), std::string::npos) << row;
    }
  }
}

TEST_F(ChorusctlImport, StrictModeFailsOnSkippedLinesAndRetentionIsReported) {
  const std::string file = dir_.path() + "/m.jsonl";
  WriteLines(file, {FixtureOnOneLine("mastodon/timeline_tag_hoot.json"), "[{\"id\": 1}]"});
  const RunResult r = Import("mastodon", {file}, {"--strict", "--home-domain", "mastodon.example"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find(file + ":2: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 new"), std::string::npos) << r.output;  // the good line still counts
  const auto rows = ExportPosts();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].find("\"author\":\"mastodonpy_test_2@mastodon.example\""), std::string::npos) << rows[0];

  // With the default posts retention (400d), posts older than that are not stored: the store
  // would drop them, and a later sighting would count them again.
  TempDir other;
  const std::string config = other.path() + "/c.yml";
  std::ofstream(config) << "storage:\n  path: " << other.path() << "/store\n"
                        << "campaigns:\n  - name: rstats\n    hashtags: [rstats]\n";
  const std::string bfile = other.path() + "/b.jsonl";
  WriteLines(bfile, {FixtureOnOneLine("bluesky/searchPosts_hashtag_rstats_limit100.json")});
  const RunResult old = RunCommand({BinPath("chorusctl"), "import", "--config", config, "--platform", "bluesky",
                                    bfile},
                                   seconds(60));
  EXPECT_EQ(old.exit_code, 0) << old.output;
  // Recorded 2025-07-04; whether they are past 400 days depends on today's date.
  const std::regex summary(R"(posts: 100 seen, (\d+) new .* (\d+) older than storage\.retention\.posts)");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(old.output, match, summary)) << old.output;
  EXPECT_EQ(std::stoi(match[1]) + std::stoi(match[2]), 100) << old.output;
}

TEST_F(ChorusctlImport, RefusesAStoreThatARunningChorusdHolds) {
  const std::string log = dir_.path() + "/chorusd.log";
  Process d({BinPath("chorusd"), "--config", config_}, log);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(port_, "/readyz").status == 200; }, seconds(30))) << ReadFile(log);
  const std::string file = dir_.path() + "/m.jsonl";
  WriteLines(file, {FixtureOnOneLine("mastodon/timeline_tag_hoot.json")});
  const RunResult r = Import("mastodon", {file});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is in use"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stop chorusd first"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_TRUE(d.Signal(SIGTERM));
  EXPECT_EQ(d.Wait(seconds(30)), 0) << ReadFile(log);
}

TEST_F(ChorusctlImport, BadArgumentsFailWithOneLine) {
  const std::string file = dir_.path() + "/m.jsonl";
  WriteLines(file, {FixtureOnOneLine("mastodon/timeline_tag_hoot.json")});
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--config", config_, file}, 2, "--platform is required"},
      {{"--config", config_, "--platform", "myspace", file}, 2, "unknown platform 'myspace'"},
      {{"--platform", "mastodon", file}, 2, "--config FILE is required"},
      {{"--config", config_, "--platform", "mastodon"}, 2, "no FILE to import"},
      {{"--config", config_, "--platform", "mastodon", "--frobnicate", file}, 2, "unknown flag '--frobnicate'"},
      {{"--config", config_, "--platform", "mastodon", "--batch-posts", "0", file}, 2, "--batch-posts"},
      {{"--config", config_, "--platform", "x", "--home-domain", "a.example", file}, 2, "--home-domain"},
      {{"--config", config_, "--platform", "mastodon", file, dir_.path() + "/missing.jsonl"}, 1,
       "missing.jsonl: no such file"},
      {{"--config", dir_.path() + "/nope.yml", "--platform", "mastodon", file}, 1, "nope.yml"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {BinPath("chorusctl"), "import"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const RunResult r = RunCommand(argv, seconds(30));
    EXPECT_EQ(r.exit_code, c.exit_code) << c.message << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
  }
  // A missing input file fails before anything is written: not even the store was created.
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/store"));
  const RunResult help = RunCommand({BinPath("chorusctl"), "import", "--help"}, seconds(10));
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("exit status"), std::string::npos) << help.output;
}

// Reddit fullnames ("t3_3gpbiu") are short enough to live inside their std::string, so a batch's
// index of keys must view the batched posts' own keys, not the copies it was handed.
TEST_F(ChorusctlImport, ShortKeysRepeatedWithinABatchAreStoredOnce) {
  std::ofstream(config_, std::ios::app) << "  - name: praw\n    keywords: [PRAW]\n";
  const std::string listing = FixtureOnOneLine("reddit/search_r_all_praw_2016.json");  // 6 posts
  const std::string file = dir_.path() + "/reddit.jsonl";
  WriteLines(file, {listing, listing, listing});

  const RunResult r = Import("reddit", {file});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("posts: 18 seen, 6 new (stored and counted), 12 duplicates"), std::string::npos)
      << r.output;
  const std::vector<std::string> rows = ExportPosts();
  ASSERT_EQ(rows.size(), 6u);
  for (const char* id : {"t3_3gpbiu", "t3_3x4kt2", "t3_3b4erh"}) {
    EXPECT_EQ(CountContaining(rows, std::string("\"post_id\":\"") + id + "\""), 1u) << id;
  }
  const RunResult again = Import("reddit", {file});
  EXPECT_NE(again.output.find("posts: 18 seen, 0 new"), std::string::npos) << again.output;
  EXPECT_EQ(ExportPosts(), rows);
}

// An archive piped in (a named pipe, as `<(zcat archive.jsonl.gz)` gives): read once, as it is
// written, and stored exactly as the same lines from a file.
TEST_F(ChorusctlImport, APipedArchiveIsImportedLikeAFile) {
  std::ofstream(config_, std::ios::app) << "  - name: praw\n    keywords: [PRAW]\n";
  const std::string listing = FixtureOnOneLine("reddit/search_r_all_praw_2016.json");  // 6 posts
  const std::string fifo = dir_.path() + "/archive.pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Should the import not read the pipe to its end, the writer must still finish: a write to a pipe
  // nobody reads then fails rather than killing the test, and a writer still waiting for a reader
  // to open the pipe is given one.
  signal(SIGPIPE, SIG_IGN);
  std::thread writer([&] { WriteLines(fifo, {listing, "not json", listing}); });
  const RunResult r = Import("reddit", {fifo});
  if (const int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK); fd >= 0) ::close(fd);
  writer.join();
  signal(SIGPIPE, SIG_DFL);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("imported 1 file, 3 lines: 2 pages ok, 1 lines skipped"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("posts: 12 seen, 6 new"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(fifo + ":2: "), std::string::npos) << r.output;
  EXPECT_EQ(ExportPosts().size(), 6u);
}

}  // namespace
}  // namespace chorus::testing
