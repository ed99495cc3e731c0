// `chorusctl export` as an operator runs it (design §3): posts and series, CSV and NDJSON, from a
// stopped store and from one a running chorusd holds (RocksDB secondary instance), checked value by
// value against the recorded pages imported into it; bad flags fail with one line.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/testlib/process.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {
namespace {

using std::chrono::seconds;

// RFC 4180: fields separated by commas, quoted when they hold commas, quotes or newlines.
// Leading provenance lines (starting with '#') are dropped; the first row is the header.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size() && text[pos] == '#') {
    const size_t nl = text.find('\n', pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  for (size_t i = pos; i < text.size(); ++i) {
    const char c = text[i];
    any = true;
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
    } else {
      field += c;
    }
  }
  if (any) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

// Rows as column name -> value maps.
std::vector<std::map<std::string, std::string>> CsvRecords(const std::string& text) {
  const auto rows = ParseCsv(text);
  std::vector<std::map<std::string, std::string>> out;
  if (rows.empty()) return out;
  for (size_t r = 1; r < rows.size(); ++r) {
    EXPECT_EQ(rows[r].size(), rows[0].size()) << "row " << r;
    std::map<std::string, std::string> rec;
    for (size_t c = 0; c < rows[0].size() && c < rows[r].size(); ++c) rec[rows[0][c]] = rows[r][c];
    out.push_back(std::move(rec));
  }
  return out;
}

std::vector<std::string> NdjsonRows(const std::string& text) {
  std::vector<std::string> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("{\"provenance\"", 0) != 0) rows.push_back(line);
  }
  return rows;
}

constexpr const char* kHootUri =
    "http://localhost:3000/ap/users/117020566092212359/statuses/117020593741189701";
constexpr const char* kTxlegeUri = "at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/3lpica7sxmk2u";

class ChorusctlExport : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.path() + "/chorus.yml";
    std::ofstream(config_) << "storage:\n  path: " << dir_.path() << "/store\n"
                           << "  retention: {posts: 0, minute: 0, hour: 0, day: 0}\n"
                           << "campaigns:\n"
                           << "  - name: hoot\n    hashtags: [hoot]\n"
                           << "  - name: rstats\n    hashtags: [rstats, txlege]\n";
  }

  // One #hoot status on Mastodon; on Bluesky 25 redistricting posts of which one carries #txlege.
  void ImportFixtures() {
    const std::string m = dir_.path() + "/m.jsonl", b = dir_.path() + "/b.jsonl";
    std::ofstream(m) << FixtureOnOneLine("mastodon/timeline_tag_hoot.json") << "\n";
    std::ofstream(b) << FixtureOnOneLine("bluesky/searchPosts_redistricting.json") << "\n";
    for (const auto& [platform, file] : {std::pair{"mastodon", m}, std::pair{"bluesky", b}}) {
      const RunResult r = RunCommand({BinPath("chorusctl"), "import", "--config", config_, "--platform",
                                      platform, "--strict", file},
                                     seconds(60));
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }
  }

  // Runs an export to a file; returns the file's content ("" and a failure when it fails).
  std::string Export(std::vector<std::string> flags, const std::string& config = "") {
    const std::string out = dir_.path() + "/export.out";
    std::filesystem::remove(out);
    std::vector<std::string> argv = {BinPath("chorusctl"), "export", "--config", config.empty() ? config_ : config,
                                     "--out", out};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const RunResult r = RunCommand(argv, seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
    return ReadFile(out);
  }

  TempDir dir_;
  std::string config_;
};

TEST_F(ChorusctlExport, PostsFromAStoppedStoreMatchTheImportedPagesValueByValue) {
  ImportFixtures();
  const std::string csv = Export({"--dataset", "posts", "--format", "csv"});
  EXPECT_EQ(csv.rfind("# ", 0), 0u) << "provenance leads the CSV";
  const auto rows = ParseCsv(csv);
  ASSERT_FALSE(rows.empty());
  const std::vector<std::string> contract = {"platform", "post_id", "url", "created_at", "author",
                                             "author_followers", "campaigns", "terms", "mentions",
                                             "likes", "reposts", "replies", "quotes"};
  for (const auto& column : contract) {
    EXPECT_NE(std::find(rows[0].begin(), rows[0].end(), column), rows[0].end()) << column;
  }
  const auto records = CsvRecords(csv);
  ASSERT_EQ(records.size(), 2u) << csv;
  // Creation order: the Bluesky post (2025) before the Mastodon status (2026).
  const auto& bsky = records[0];
  EXPECT_EQ(bsky.at("platform"), "bluesky");
  EXPECT_EQ(bsky.at("post_id"), kTxlegeUri);
  EXPECT_EQ(bsky.at("url"), "https://bsky.app/profile/did:plc:7nagdvjqrzaquzk7mueohne5/post/3lpica7sxmk2u");
  EXPECT_EQ(bsky.at("created_at"), "2025-05-19T00:16:50.191Z");  // record.createdAt, before indexedAt
  EXPECT_EQ(bsky.at("author"), "mcpli.bsky.social");
  EXPECT_EQ(bsky.at("author_followers"), "0");
  EXPECT_EQ(bsky.at("campaigns"), "rstats");
  EXPECT_EQ(bsky.at("terms"), "txlege");
  EXPECT_EQ(bsky.at("likes"), "58");
  EXPECT_EQ(bsky.at("reposts"), "13");
  EXPECT_EQ(bsky.at("replies"), "0");
  EXPECT_EQ(bsky.at("quotes"), "1");
  const auto& toot = records[1];
  EXPECT_EQ(toot.at("platform"), "mastodon");
  EXPECT_EQ(toot.at("post_id"), kHootUri);
  EXPECT_EQ(toot.at("url"), "http://localhost:3000/@mastodonpy_test_2/117020593741189701");
  EXPECT_EQ(toot.at("created_at"), "2026-08-01T13:55:55.867Z");
  EXPECT_EQ(toot.at("author"), "mastodonpy_test_2@localhost");
  EXPECT_EQ(toot.at("campaigns"), "hoot");
  EXPECT_EQ(toot.at("terms"), "hoot");
  EXPECT_EQ(toot.at("mentions"), "");
  for (const char* k : {"author_followers", "likes", "reposts", "replies", "quotes"}) EXPECT_EQ(toot.at(k), "0") << k;

  // NDJSON: the same rows, the same order, as objects.
  const auto nd = NdjsonRows(Export({"--dataset", "posts", "--format", "ndjson"}));
  ASSERT_EQ(nd.size(), 2u);
  EXPECT_NE(nd[0].find(std::string("\"post_id\":\"") + kTxlegeUri + "\""), std::string::npos) << nd[0];
  for (const char* field : {"\"platform\":\"bluesky\"", "\"author\":\"mcpli.bsky.social\"", "\"likes\":58",
                            "\"reposts\":13", "\"replies\":0", "\"quotes\":1",
                            "\"created_at\":\"2025-05-19T00:16:50.191Z\""}) {
    EXPECT_NE(nd[0].find(field), std::string::npos) << field << " in " << nd[0];
  }
  EXPECT_NE(nd[1].find(std::string("\"post_id\":\"") + kHootUri + "\""), std::string::npos) << nd[1];

  // Filters: campaign, platform, time range (RFC 3339 and unix seconds).
  auto count = [&](std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--dataset", "posts", "--format", "csv"});
    return CsvRecords(Export(flags)).size();
  };
  EXPECT_EQ(count({"--campaign", "rstats"}), 1u);
  EXPECT_EQ(count({"--platform", "mastodon"}), 1u);
  EXPECT_EQ(count({"--from", "2026-01-01T00:00:00Z"}), 1u);
  EXPECT_EQ(count({"--from", "1747613810", "--to", "1747613811"}), 1u);  // 00:16:50 .. :51
  EXPECT_EQ(count({"--to", "1747613810"}), 0u);
}

TEST_F(ChorusctlExport, SeriesAtEachStepHoldTheImportedPostsInTheirCreationBucket) {
  ImportFixtures();
  const std::string range_from = "2025-05-19T00:00:00Z", range_to = "2025-05-20T00:00:00Z";
  for (const auto& [step, bucket] : {std::pair{"1m", "2025-05-19T00:16:00.000Z"},
                                     std::pair{"1h", "2025-05-19T00:00:00.000Z"},
                                     std::pair{"1d", "2025-05-19T00:00:00.000Z"}}) {
    const auto records = CsvRecords(Export({"--dataset", "series", "--format", "csv", "--campaign", "rstats",
                                            "--step", step, "--from", range_from, "--to", range_to}));
    ASSERT_EQ(records.size(), 1u) << step;
    const auto& r = records[0];
    EXPECT_EQ(r.at("time"), bucket) << step;
    EXPECT_EQ(r.at("campaign"), "rstats");
    EXPECT_EQ(r.at("platform"), "bluesky");
    EXPECT_EQ(r.at("posts"), "1");
    EXPECT_EQ(r.at("likes"), "58");
    EXPECT_EQ(r.at("reposts"), "13");
    EXPECT_EQ(r.at("replies"), "0");
    EXPECT_EQ(r.at("quotes"), "1");
    EXPECT_EQ(r.at("engagement"), "72");
    EXPECT_EQ(r.at("reach"), "0");
    EXPECT_EQ(r.at("unique_authors"), "1");
  }
  const auto nd = NdjsonRows(Export({"--dataset", "series", "--format", "ndjson", "--campaign", "hoot",
                                     "--step", "1h", "--from", "2026-08-01T00:00:00Z", "--to",
                                     "2026-08-02T00:00:00Z"}));
  ASSERT_EQ(nd.size(), 1u);
  for (const char* field : {"\"time\":\"2026-08-01T13:00:00.000Z\"", "\"platform\":\"mastodon\"", "\"posts\":1"}) {
    EXPECT_NE(nd[0].find(field), std::string::npos) << field << " in " << nd[0];
  }
}

TEST_F(ChorusctlExport, WorksWhileChorusdRunsAndLeavesNothingBehind) {
  TempDir demo_dir;
  const int port = FreePort();
  const std::string log = demo_dir.path() + "/demo.log";
  Process demo({BinPath("chorusd"), "--demo", "--listen", "127.0.0.1:" + std::to_string(port), "--data-dir",
                demo_dir.path()},
               log);
  auto fund_posts = [&] {
    return MetricSum(ParseMetrics(HttpGet(port, "/metrics").body), "chorus_posts_total",
                     {"campaign=\"fund-our-schools\""});
  };
  ASSERT_TRUE(WaitFor([&] { return fund_posts() >= 20; }, seconds(60))) << ReadFile(log);

  // The secondary instance's scratch directory lives under $TMPDIR and goes away afterwards.
  const std::string tmp = dir_.path() + "/tmp";
  std::filesystem::create_directories(tmp);
  const char* old_tmpdir = getenv("TMPDIR");
  const std::string saved = old_tmpdir ? old_tmpdir : "";
  setenv("TMPDIR", tmp.c_str(), 1);

  const std::string demo_config = demo_dir.path() + "/chorus.yml";
  const double before = fund_posts();
  const auto posts = CsvRecords(Export({"--dataset", "posts", "--format", "csv", "--campaign", "fund-our-schools"},
                                       demo_config));
  const double after = fund_posts();
  // Every post counted before the export started is in it; nothing beyond what was counted after.
  EXPECT_GE(static_cast<double>(posts.size()), before);
  EXPECT_LE(static_cast<double>(posts.size()), after);
  for (const auto& p : posts) EXPECT_NE(p.at("campaigns").find("fund-our-schools"), std::string::npos);

  const auto series = NdjsonRows(Export({"--dataset", "series", "--format", "ndjson", "--campaign",
                                         "fund-our-schools", "--step", "1d"},
                                        demo_config));
  EXPECT_FALSE(series.empty());

  EXPECT_TRUE(std::filesystem::is_empty(tmp));
  if (old_tmpdir) setenv("TMPDIR", saved.c_str(), 1);
  else unsetenv("TMPDIR");

  // Export never writes to the store it reads: the daemon carries on.
  ASSERT_TRUE(WaitFor([&] { return fund_posts() > after || HttpGet(port, "/readyz").status == 200; }, seconds(10)));
  ASSERT_TRUE(demo.Signal(SIGTERM));
  EXPECT_EQ(demo.Wait(seconds(30)), 0) << ReadFile(log);
}

TEST_F(ChorusctlExport, BadFlagsFailWithOneLine) {
  ImportFixtures();
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  const std::string cfg = config_;
  const std::vector<Case> cases = {
      {{"--config", cfg, "--format", "csv"}, 2, "--dataset"},
      {{"--config", cfg, "--dataset", "posts"}, 2, "--format"},
      {{"--dataset", "posts", "--format", "csv"}, 2, "--config"},
      {{"--config", cfg, "--dataset", "posts", "--format", "xml"}, 2, "format"},
      {{"--config", cfg, "--dataset", "people", "--format", "csv"}, 2, "dataset"},
      {{"--config", cfg, "--dataset", "posts", "--format", "csv", "--from", "yesterday"}, 2, "from"},
      {{"--config", cfg, "--dataset", "posts", "--format", "csv", "--to", "2026-13-45"}, 2, "to"},
      {{"--config", cfg, "--dataset", "series", "--format", "csv", "--step", "5m"}, 2, "step"},
      {{"--config", cfg, "--dataset", "posts", "--format", "csv", "--campaign", "nope"}, 2, "nope"},
      {{"--config", cfg, "--dataset", "posts", "--format", "csv", "--colour", "red"}, 2, "unknown flag '--colour'"},
      {{"--config", cfg, "--dataset", "posts", "--format", "csv", "stray"}, 2, "unexpected argument 'stray'"},
      {{"--config", cfg, "--dataset", "posts", "--format", "csv", "--out", dir_.path() + "/no/such/dir/x.csv"},
       1, "cannot write"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {BinPath("chorusctl"), "export"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const RunResult r = RunCommand(argv, seconds(30));
    EXPECT_EQ(r.exit_code, c.exit_code) << c.message << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  // A config whose store was never created.
  TempDir empty;
  const std::string other = empty.path() + "/c.yml";
  std::ofstream(other) << "storage:\n  path: " << empty.path() << "/store\ncampaigns:\n  - name: a\n    hashtags: [a]\n";
  const RunResult none = RunCommand({BinPath("chorusctl"), "export", "--config", other, "--dataset", "posts",
                                     "--format", "csv"},
                                    seconds(30));
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_NE(none.output.find("no store at"), std::string::npos) << none.output;
  EXPECT_FALSE(std::filesystem::exists(empty.path() + "/store")) << "export must not create a store";
}

}  // namespace
}  // namespace chorus::testing
