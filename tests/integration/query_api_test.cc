// The query API and exports end to end: a known set of posts goes through the real ingester into
// a real store, and every endpoint (/api/v1/series, /posts, /top, /export, /alerts) is checked
// value by value over real HTTP on 127.0.0.1, with its errors, cursor paging, and an export of
// 50,000 posts that streams in bounded chunks and stops when the client goes away.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <future>
#include <mutex>

#include "analytics/matcher.h"
#include "core/build_info.h"
#include "core/time.h"
#include "daemon/http_server.h"
#include "ingest/ingester.h"
#include "query/api.h"
#include "query/format.h"
#include "tests/testlib/test_util.h"

namespace chorus {
namespace {

using testing::TimeMs;
std::string S(const char* rfc3339) { return std::to_string(TimeMs(rfc3339) / 1000); }

Post MakePost(Platform platform, std::string key, const char* created, std::string author,
              int64_t followers, std::vector<std::string> tags, Engagement e, std::string text = "",
              std::vector<std::string> mentions = {}) {
  Post p;
  p.platform = platform;
  p.key = key;
  p.local_id = key;
  p.url = "https://web.example/" + key.substr(key.size() - 2);
  p.created_at_ms = TimeMs(created);
  p.author = std::move(author);
  p.author_followers = followers;
  p.hashtags = std::move(tags);
  p.engagement = e;
  p.text = std::move(text);
  p.mentions = std::move(mentions);
  return p;
}

// Splits RFC 4180 CSV into records of fields; lines starting with '#' before the header row are
// skipped (provenance). A test helper, not a general parser: enough to read back what Chorus writes.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text, std::vector<std::string>* comments) {
  std::vector<std::vector<std::string>> records;
  size_t i = 0;
  while (i < text.size() && records.empty() && text[i] == '#') {
    const size_t eol = text.find("\r\n", i);
    if (comments) comments->push_back(text.substr(i, eol - i));
    i = eol + 2;
  }
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      record.push_back(std::move(field));
      field.clear();
      records.push_back(std::move(record));
      record.clear();
      ++i;
    } else {
      field.push_back(c);
    }
  }
  EXPECT_TRUE(field.empty() && record.empty()) << "CSV does not end with CRLF";
  return records;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  EXPECT_EQ(start, text.size()) << "NDJSON does not end with a newline";
  return out;
}

class QueryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(dir_.path());
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    auto c = std::make_shared<config::Config>();
    c->campaigns.push_back({"fos", {"fundourschools", "edequity"}, {"school funding formula"}});
    c->campaigns.push_back({"climate", {"climatenow"}, {}});
    config::Person sen;
    sen.id = "sen-doe";
    sen.name = "Sen. Jane Doe";
    sen.accounts[Platform::kMastodon] = "sen@gov.example";
    c->policymakers.push_back(sen);
    config_ = c;
    ingester_ = std::make_unique<ingest::Ingester>(*store_, std::make_shared<analytics::Matcher>(*config_));

    daemon::HttpHandlers h;
    h.metrics = [] { return std::string(); };
    h.ready = [] { return true; };
    h.status_page = [] { return std::string("<html></html>"); };
    h.campaigns_json = [] { return std::string("{\"campaigns\":[]}"); };
    h.reload = []() -> Result<void> { return {}; };
    h.api = [this](const std::string& endpoint, const daemon::QueryParams& params) {
      return query::HandleApi(endpoint, params, *config_, *store_, now_ms_);
    };
    h.export_stream = [this](const daemon::QueryParams& params) {
      query::ExportStream x = query::PrepareExport(params, config_, *store_, now_ms_);
      if (!x.run) return x;
      // Watch what the export hands the server: its chunk sizes, and how it ended.
      auto inner = std::move(x.run);
      x.run = [this, inner](const query::Sink& sink) {
        auto r = inner([&](std::string_view chunk) {
          sink_chunks_.fetch_add(1);
          sink_bytes_.fetch_add(chunk.size());
          size_t prev = max_sink_chunk_.load();
          while (chunk.size() > prev && !max_sink_chunk_.compare_exchange_weak(prev, chunk.size())) {
          }
          return sink(chunk);
        });
        std::lock_guard lock(mu_);
        if (export_done_) export_done_->set_value(r ? ErrorCode::kInternal : r.error().code);
        export_done_.reset();
        return r;
      };
      return x;
    };
    h.alerts = [](const daemon::QueryParams& params) {
      return query::ApiResponse{200, "application/json",
                                "{\"alerts\":[],\"params\":" + std::to_string(params.size()) + "}"};
    };
    server_ = std::make_unique<daemon::HttpServer>(std::move(h));
    ASSERT_TRUE(server_->Start("127.0.0.1:0"));
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_connection_timeout(5);
    client_->set_read_timeout(30);
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
  }

  void Ingest(const std::vector<Post>& posts) {
    auto r = ingester_->ApplyPage(posts, {}, now_ms_);
    ASSERT_TRUE(r) << r.error().ToString();
  }

  // The known set: two campaigns, four platforms, a repeated author, minute/hour/day edges around
  // the leap day 2024-02-29.
  void IngestKnownPosts() {
    Ingest({
        MakePost(Platform::kX, "1763024011111111112", "2024-02-28T23:59:59Z", "carol", 1000,
                 {"fundourschools"}, {0, 1, 0, 0}, "eve of the day"),
        MakePost(Platform::kMastodon, "https://a.example/users/alice/statuses/m1",
                 "2024-02-29T00:00:00Z", "alice@a.example", 100, {"fundourschools"}, {1, 2, 0, 0},
                 "Leap day! @sen", {"sen@gov.example"}),
        MakePost(Platform::kMastodon, "https://a.example/users/alice/statuses/m2",
                 "2024-02-29T00:00:59.999Z", "alice@a.example", 100, {"edequity", "fundourschools"},
                 {0, 0, 1, 0}, "second"),
        MakePost(Platform::kBluesky, "at://did:plc:bob/app.bsky.feed.post/b1", "2024-02-29T00:01:00Z",
                 "bob.bsky.social", 50, {"fundourschools"}, {3, 0, 0, 0},
                 "Schools, \"now\"\nand Schulförderung ✊"),
        MakePost(Platform::kX, "1763024011111111111", "2024-02-29T00:59:59Z", "carol", 1000, {},
                 {10, 5, 2, 1}, "The School Funding Formula is broken"),
        MakePost(Platform::kReddit, "t3_abcdr1", "2024-02-29T23:59:59.999Z", "dave", 0,
                 {"climatenow", "fundourschools"}, {0, 0, 0, 0}, "both"),
        MakePost(Platform::kMastodon, "https://c.example/users/erin/statuses/c1",
                 "2024-03-01T00:00:00Z", "erin@c.example", 10, {"climatenow"}, {2, 0, 0, 0}, "march"),
    });
  }

  httplib::Result Get(const std::string& path) { return client_->Get(path.c_str()); }
  std::string Body(const std::string& path, int want_status = 200) {
    auto r = Get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return "";
    EXPECT_EQ(r->status, want_status) << path << " -> " << r->body;
    return r->body;
  }
  std::string Series(const std::string& query) { return Body("/api/v1/series?" + query); }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<ingest::Ingester> ingester_;
  std::unique_ptr<daemon::HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
  int64_t now_ms_ = TimeMs("2024-03-02T00:00:00Z");
  std::atomic<size_t> sink_chunks_{0}, sink_bytes_{0}, max_sink_chunk_{0};
  std::mutex mu_;
  std::optional<std::promise<ErrorCode>> export_done_;
};

TEST_F(QueryApiTest, SeriesValueByValue) {
  IngestKnownPosts();
  const std::string leap = "from=2024-02-29T00:00:00Z&to=2024-02-29T00:03:00Z";
  EXPECT_EQ(Series("campaign=fos&step=1m&" + leap),
            "{\"campaign\":\"fos\",\"metric\":\"posts\",\"step\":\"1m\",\"points\":[[" +
                S("2024-02-29T00:00:00Z") + ",2],[" + S("2024-02-29T00:01:00Z") + ",1],[" +
                S("2024-02-29T00:02:00Z") + ",0]]}");

  // Hours across the day edges: 26 buckets, every one present.
  const std::string hours = Series("campaign=fos&step=1h&from=2024-02-28T23:00:00Z&to=2024-03-01T01:00:00Z");
  EXPECT_EQ(std::count(hours.begin(), hours.end(), '['), 1 + 26) << hours;
  EXPECT_NE(hours.find("[[" + S("2024-02-28T23:00:00Z") + ",1],[" + S("2024-02-29T00:00:00Z") + ",4],[" +
                       S("2024-02-29T01:00:00Z") + ",0]"),
            std::string::npos)
      << hours;
  EXPECT_NE(hours.find("[" + S("2024-02-29T23:00:00Z") + ",1],[" + S("2024-03-01T00:00:00Z") + ",0]]"),
            std::string::npos)
      << hours;

  const std::string days = "&step=1d&from=2024-02-28T00:00:00Z&to=2024-03-02T00:00:00Z";
  auto day_points = [&](const std::string& q) {
    const std::string b = Series(q + days);
    const size_t at = b.find("\"points\":");
    return at == std::string::npos ? b : b.substr(at + 9, b.size() - at - 10);
  };
  auto pts = [&](const char* a, const char* b, const char* c) {
    return "[[" + S("2024-02-28T00:00:00Z") + "," + a + "],[" + S("2024-02-29T00:00:00Z") + "," + b +
           "],[" + S("2024-03-01T00:00:00Z") + "," + c + "]]";
  };
  EXPECT_EQ(day_points("campaign=fos"), pts("1", "5", "0"));
  EXPECT_EQ(day_points("campaign=climate"), pts("0", "1", "1"));
  EXPECT_EQ(day_points("campaign=fos&term=%23FundOurSchools"), pts("1", "4", "0"));
  EXPECT_EQ(day_points("campaign=fos&term=edequity"), pts("0", "1", "0"));
  EXPECT_EQ(day_points("campaign=fos&term=school%20funding%20formula"), pts("0", "1", "0"));
  EXPECT_EQ(day_points("campaign=fos&metric=reach"), pts("1000", "1250", "0"));
  EXPECT_EQ(day_points("campaign=fos&metric=engagement"), pts("1", "25", "0"));
  EXPECT_EQ(day_points("campaign=fos&metric=likes"), pts("0", "14", "0"));
  EXPECT_EQ(day_points("campaign=fos&metric=reposts"), pts("1", "7", "0"));
  EXPECT_EQ(day_points("campaign=fos&metric=replies"), pts("0", "3", "0"));
  EXPECT_EQ(day_points("campaign=fos&metric=quotes"), pts("0", "1", "0"));
  EXPECT_EQ(day_points("campaign=fos&metric=unique_authors"), pts("1", "4", "0"));
  EXPECT_EQ(day_points("campaign=fos&metric=posts&platform=mastodon"), pts("0", "2", "0"));
  EXPECT_EQ(day_points("campaign=fos&metric=share_of_voice"), pts("1", "0.8333333333333334", "0"));
  EXPECT_EQ(day_points("campaign=climate&metric=share_of_voice"), pts("0", "0.16666666666666666", "1"));
  // Alice posted twice in the first hour; carol's first-hour post is on another identity than none.
  EXPECT_NE(Series("campaign=fos&metric=unique_authors&step=1h&from=2024-02-29T00:00:00Z&to=2024-02-29T01:00:00Z")
                .find("[[" + S("2024-02-29T00:00:00Z") + ",3]]"),
            std::string::npos);
}

TEST_F(QueryApiTest, PostsPageThroughEveryPostExactlyOnce) {
  IngestKnownPosts();
  const std::vector<std::string> all_in_order = {
      "1763024011111111112", "https://a.example/users/alice/statuses/m1",
      "https://a.example/users/alice/statuses/m2", "at://did:plc:bob/app.bsky.feed.post/b1",
      "1763024011111111111", "t3_abcdr1", "https://c.example/users/erin/statuses/c1"};
  for (int limit : {1, 2, 3, 7, 100}) {
    std::vector<std::string> seen;
    std::string cursor;
    for (int page = 0; page < 20; ++page) {
      std::string path = "/api/v1/posts?limit=" + std::to_string(limit);
      if (!cursor.empty()) path += "&cursor=" + cursor;
      const std::string body = Body(path);
      for (size_t at = body.find("\"post_id\":\""); at != std::string::npos;
           at = body.find("\"post_id\":\"", at + 1)) {
        seen.push_back(body.substr(at + 11, body.find('"', at + 11) - at - 11));
      }
      const size_t nc = body.find("\"next_cursor\":");
      ASSERT_NE(nc, std::string::npos) << body;
      if (body.compare(nc + 14, 4, "null") == 0) break;
      cursor = body.substr(nc + 15, body.find('"', nc + 15) - nc - 15);
    }
    EXPECT_EQ(seen, all_in_order) << "limit " << limit;
  }
  // One post, every field.
  const std::string b1 = Body("/api/v1/posts?platform=bluesky");
  EXPECT_EQ(b1,
            "{\"posts\":[{\"platform\":\"bluesky\",\"post_id\":\"at://did:plc:bob/app.bsky.feed.post/b1\","
            "\"url\":\"https://web.example/b1\",\"created_at\":\"2024-02-29T00:01:00.000Z\","
            "\"author\":\"bob.bsky.social\",\"author_followers\":50,\"campaigns\":[\"fos\"],"
            "\"terms\":[\"fundourschools\"],\"mentions\":[],\"likes\":3,\"reposts\":0,\"replies\":0,"
            "\"quotes\":0,\"policymakers\":[],"
            "\"text\":\"Schools, \\\"now\\\"\\nand Schulförderung ✊\"}],\"next_cursor\":null}");
  // Campaign and range filters.
  const std::string climate = Body("/api/v1/posts?campaign=climate&from=2024-03-01T00:00:00Z");
  EXPECT_NE(climate.find("statuses/c1"), std::string::npos);
  EXPECT_EQ(climate.find("t3_abcdr1"), std::string::npos);
  const std::string m1 = Body("/api/v1/posts?campaign=fos&platform=mastodon&limit=1");
  EXPECT_NE(m1.find("\"mentions\":[\"sen@gov.example\"]"), std::string::npos) << m1;
  EXPECT_NE(m1.find("\"policymakers\":[\"sen-doe\"]"), std::string::npos) << m1;
}

TEST_F(QueryApiTest, TopByEngagementAndReach) {
  IngestKnownPosts();
  auto ids = [](const std::string& body) {
    std::vector<std::string> out;
    for (size_t at = body.find("\"post_id\":\""); at != std::string::npos;
         at = body.find("\"post_id\":\"", at + 1)) {
      out.push_back(body.substr(at + 11, body.find('"', at + 11) - at - 11));
    }
    return out;
  };
  // x1 18; b1 3 and m1 3 tie, broken by post_id ("at://" < "https://").
  EXPECT_EQ(ids(Body("/api/v1/top?campaign=fos&limit=3")),
            (std::vector<std::string>{"1763024011111111111", "at://did:plc:bob/app.bsky.feed.post/b1",
                                      "https://a.example/users/alice/statuses/m1"}));
  EXPECT_EQ(ids(Body("/api/v1/top?campaign=fos&by=reach&limit=2")),
            (std::vector<std::string>{"1763024011111111111", "1763024011111111112"}));
  EXPECT_EQ(ids(Body("/api/v1/top?campaign=fos&by=reach&from=2024-02-29T00:00:00Z&to=2024-02-29T00:59:59Z")),
            (std::vector<std::string>{"https://a.example/users/alice/statuses/m1",
                                      "https://a.example/users/alice/statuses/m2",
                                      "at://did:plc:bob/app.bsky.feed.post/b1"}));
  EXPECT_EQ(Body("/api/v1/top?campaign=climate&limit=1").rfind("{\"campaign\":\"climate\",\"by\":\"engagement\",\"posts\":[{", 0), 0u);
}

TEST_F(QueryApiTest, PostsExportCsvAndNdjsonValueByValue) {
  IngestKnownPosts();
  auto r = Get("/api/v1/export?dataset=posts&format=csv&campaign=fos&from=2024-02-29T00:00:00Z&to=2024-03-01T00:00:00Z");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/csv; charset=utf-8");
  EXPECT_EQ(r->get_header_value("Transfer-Encoding"), "chunked");
  EXPECT_EQ(r->get_header_value("Content-Disposition"), "attachment; filename=\"chorus-posts-fos.csv\"");
  std::vector<std::string> comments;
  const auto rows = ParseCsv(r->body, &comments);
  EXPECT_EQ(comments, (std::vector<std::string>{
                          std::string("# chorus export (chorus ") + ChorusVersion() + ")",
                          "# query: dataset=posts format=csv campaign=fos platform=(all)",
                          "# range: created_at in [2024-02-29T00:00:00.000Z, 2024-03-01T00:00:00.000Z)",
                          "# definitions: version 1 (docs/metrics.md)", "# gaps: none"}));
  const std::vector<std::vector<std::string>> want = {
      {"platform", "post_id", "url", "created_at", "author", "author_followers", "campaigns", "terms",
       "mentions", "likes", "reposts", "replies", "quotes", "policymakers", "text"},
      {"mastodon", "https://a.example/users/alice/statuses/m1", "https://web.example/m1",
       "2024-02-29T00:00:00.000Z", "alice@a.example", "100", "fos", "fundourschools",
       "sen@gov.example", "1", "2", "0", "0", "sen-doe", "Leap day! @sen"},
      {"mastodon", "https://a.example/users/alice/statuses/m2", "https://web.example/m2",
       "2024-02-29T00:00:59.999Z", "alice@a.example", "100", "fos", "fundourschools;edequity", "",
       "0", "0", "1", "0", "", "second"},
      {"bluesky", "at://did:plc:bob/app.bsky.feed.post/b1", "https://web.example/b1",
       "2024-02-29T00:01:00.000Z", "bob.bsky.social", "50", "fos", "fundourschools", "", "3", "0",
       "0", "0", "", "Schools, \"now\"\nand Schulförderung ✊"},
      {"x", "1763024011111111111", "https://web.example/11", "2024-02-29T00:59:59.000Z", "carol",
       "1000", "fos", "school funding formula", "", "10", "5", "2", "1", "",
       "The School Funding Formula is broken"},
      {"reddit", "t3_abcdr1", "https://web.example/r1", "2024-02-29T23:59:59.999Z", "dave", "0",
       "fos;climate", "fundourschools;climatenow", "", "0", "0", "0", "0", "", "both"},
  };
  EXPECT_EQ(rows, want);

  auto nd = Get("/api/v1/export?format=ndjson&platform=mastodon");
  ASSERT_TRUE(nd);
  ASSERT_EQ(nd->status, 200);
  EXPECT_EQ(nd->get_header_value("Content-Type"), "application/x-ndjson");
  const auto lines = Lines(nd->body);
  ASSERT_EQ(lines.size(), 4u) << nd->body;
  EXPECT_EQ(lines[0],
            std::string("{\"provenance\":{\"chorus_version\":\"") + ChorusVersion() +
                "\",\"query\":{\"dataset\":\"posts\",\"format\":\"ndjson\",\"campaign\":\"\","
                "\"platform\":\"mastodon\"},\"from\":null,\"to\":\"2024-03-02T00:00:00.000Z\","
                "\"range_applies_to\":\"created_at\",\"definitions_version\":1,\"gaps\":[]}}");
  // The same objects as /api/v1/posts.
  const std::string api = Body("/api/v1/posts?platform=mastodon");
  EXPECT_EQ(api, "{\"posts\":[" + lines[1] + "," + lines[2] + "," + lines[3] + "],\"next_cursor\":null}");
  EXPECT_NE(lines[3].find("\"post_id\":\"https://c.example/users/erin/statuses/c1\""), std::string::npos);
}

TEST_F(QueryApiTest, SeriesExportAndGapsInProvenance) {
  IngestKnownPosts();
  store::Batch gap;
  gap.gaps.push_back({"mastodon-main", TimeMs("2024-02-29T06:00:00Z"), TimeMs("2024-02-29T07:00:00Z")});
  ASSERT_TRUE(store_->Commit(gap));
  auto r = Get("/api/v1/export?dataset=series&format=csv&campaign=fos&step=1d");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  std::vector<std::string> comments;
  const auto rows = ParseCsv(r->body, &comments);
  EXPECT_NE(std::find(comments.begin(), comments.end(),
                      "# gap: source=mastodon-main from=2024-02-29T06:00:00.000Z to=2024-02-29T07:00:00.000Z"),
            comments.end());
  EXPECT_NE(std::find(comments.begin(), comments.end(),
                      "# range: buckets starting in [2024-02-28T23:59:59.000Z, 2024-03-02T00:00:00.000Z)"),
            comments.end());
  const std::vector<std::vector<std::string>> want = {
      {"time", "campaign", "platform", "posts", "reach", "engagement", "likes", "reposts", "replies",
       "quotes", "unique_authors"},
      {"2024-02-28T00:00:00.000Z", "fos", "x", "1", "1000", "1", "0", "1", "0", "0", "1"},
      {"2024-02-29T00:00:00.000Z", "fos", "mastodon", "2", "200", "4", "1", "2", "1", "0", "1"},
      {"2024-02-29T00:00:00.000Z", "fos", "bluesky", "1", "50", "3", "3", "0", "0", "0", "1"},
      {"2024-02-29T00:00:00.000Z", "fos", "x", "1", "1000", "18", "10", "5", "2", "1", "1"},
      {"2024-02-29T00:00:00.000Z", "fos", "reddit", "1", "0", "0", "0", "0", "0", "0", "1"},
  };
  EXPECT_EQ(rows, want);

  auto nd = Get("/api/v1/export?dataset=series&format=ndjson&step=1d&from=2024-03-01T00:00:00Z");
  ASSERT_TRUE(nd);
  const auto lines = Lines(nd->body);
  ASSERT_EQ(lines.size(), 2u) << nd->body;
  EXPECT_NE(lines[0].find("\"gaps\":[]"), std::string::npos);
  EXPECT_EQ(lines[1],
            "{\"time\":\"2024-03-01T00:00:00.000Z\",\"campaign\":\"climate\",\"platform\":\"mastodon\","
            "\"posts\":1,\"reach\":10,\"engagement\":2,\"likes\":2,\"reposts\":0,\"replies\":0,"
            "\"quotes\":0,\"unique_authors\":1}");
}

TEST_F(QueryApiTest, BadRequestsGetJsonErrorsNamingTheParameter) {
  IngestKnownPosts();
  struct Case {
    std::string path;
    int status;
    std::string mention;
  };
  const Case cases[] = {
      {"/api/v1/series?campaign=nope", 404, "nope"},
      {"/api/v1/series", 400, "campaign"},
      {"/api/v1/series?campaign=fos&step=2h", 400, "step"},
      {"/api/v1/series?campaign=fos&from=tomorrow", 400, "from"},
      {"/api/v1/series?campaign=fos&from=2024-03-01T00:00:00Z&to=2024-02-29T00:00:00Z", 400, "from"},
      {"/api/v1/series?campaign=fos&term=climatenow", 400, "term"},
      {"/api/v1/series?campaign=fos&colour=red", 400, "colour"},
      {"/api/v1/series?campaign=fos&campaign=climate", 400, "campaign"},
      {"/api/v1/series?campaign=fos&from=2014-03-01T00:00:00Z&to=2024-03-01T00:00:00Z&step=1m", 400,
       "step=1d"},
      {"/api/v1/posts?cursor=%%%", 400, "cursor"},
      {"/api/v1/posts?cursor=AAAA", 400, "cursor"},
      {"/api/v1/posts?limit=0", 400, "limit"},
      {"/api/v1/posts?campaign=nope", 404, "nope"},
      {"/api/v1/top?campaign=fos&by=followers", 400, "by"},
      {"/api/v1/export?format=xlsx", 400, "format"},
      {"/api/v1/export?dataset=users", 400, "dataset"},
      {"/api/v1/export?campaign=nope", 404, "nope"},
      // (cpp-httplib drops an exact duplicate "k=v" pair itself; differing values reach us.)
      {"/api/v1/export?format=csv&format=ndjson", 400, "format"},
      {"/api/v1/export?limit=5", 400, "limit"},
      {"/api/v1/nothing", 404, "/api/v1/nothing"},
      {"/api/v1/series/extra", 404, "/api/v1/series/extra"},
  };
  for (const auto& c : cases) {
    auto r = Get(c.path);
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, c.status) << c.path << " -> " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << c.path;
    EXPECT_EQ(r->body.rfind("{\"error\":\"", 0), 0u) << c.path << " -> " << r->body;
    EXPECT_NE(r->body.find(c.mention), std::string::npos) << c.path << " -> " << r->body;
  }
  // A cursor from another campaign's paging is refused rather than silently restarting.
  const std::string page = Body("/api/v1/posts?campaign=fos&limit=1");
  const size_t nc = page.find("\"next_cursor\":\"");
  ASSERT_NE(nc, std::string::npos);
  const std::string cursor = page.substr(nc + 15, page.find('"', nc + 15) - nc - 15);
  auto other = Get("/api/v1/posts?campaign=climate&cursor=" + cursor);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 400) << other->body;
  // The routes that are someone else's still answer.
  EXPECT_EQ(Body("/api/v1/alerts?limit=5"), "{\"alerts\":[],\"params\":1}");
  EXPECT_EQ(Body("/api/v1/campaigns"), "{\"campaigns\":[]}");
  EXPECT_EQ(Body("/healthz"), "ok\n");
}

TEST_F(QueryApiTest, LargeExportStreamsInBoundedChunksAndStopsWhenTheClientLeaves) {
  constexpr int kPosts = 50'000;
  const int64_t start = TimeMs("2024-02-01T00:00:00Z");
  const std::string text(300, 'w');
  for (int page = 0; page < kPosts / 1000; ++page) {
    std::vector<Post> posts;
    for (int i = page * 1000; i < (page + 1) * 1000; ++i) {
      Post p;
      p.platform = Platform::kBluesky;
      p.key = "at://did:plc:many/app.bsky.feed.post/" + std::to_string(10'000'000 + i);
      p.local_id = p.key;
      p.created_at_ms = start + int64_t{i} * 1000;
      p.author = "u" + std::to_string(i % 997) + ".bsky.social";
      p.hashtags = {"fundourschools"};
      p.text = text;
      posts.push_back(std::move(p));
    }
    Ingest(posts);
  }

  // Whole export, read incrementally: every row arrives, in chunks the export kept small.
  size_t newlines = 0, received = 0, pieces = 0;
  auto r = client_->Get("/api/v1/export?campaign=fos&format=ndjson",
                        [&](const char* data, size_t n) {
                          newlines += std::count(data, data + n, '\n');
                          received += n;
                          ++pieces;
                          return true;
                        });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(newlines, size_t{kPosts} + 1);  // provenance + one line a post
  EXPECT_EQ(received, sink_bytes_.load());
  EXPECT_GT(sink_chunks_.load(), received / (64 * 1024 + 4096));
  EXPECT_LE(max_sink_chunk_.load(), 64u * 1024 + 4096);
  EXPECT_GT(pieces, 10u);
  const size_t full = received;

  // The client reads one piece and hangs up: the export stops instead of running to the end.
  std::future<ErrorCode> done;
  {
    std::lock_guard lock(mu_);
    export_done_.emplace();
    done = export_done_->get_future();
  }
  sink_bytes_ = 0;
  {
    httplib::Client quitter("127.0.0.1", server_->port());
    quitter.set_connection_timeout(5);
    quitter.set_read_timeout(30);
    auto q = quitter.Get("/api/v1/export?campaign=fos&format=csv",
                         [&](const char*, size_t) { return false; });
    EXPECT_FALSE(q);
  }
  ASSERT_EQ(done.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(done.get(), ErrorCode::kCancelled);
  EXPECT_LT(sink_bytes_.load(), full);
  // And the server still serves.
  EXPECT_EQ(Body("/healthz"), "ok\n");
}

}  // namespace
}  // namespace chorus
