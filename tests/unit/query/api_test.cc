// The query endpoints over a real store in a temp dir: bucket filling and step choice of
// /series, paging of /posts, the bounded top-N of /top, and every error they answer.
#include <gtest/gtest.h>

#include "core/time.h"
#include "query/api.h"
#include "tests/testlib/test_util.h"

namespace chorus::query {
namespace {

using testing::TimeMs;
int64_t S(const char* rfc3339) { return TimeMs(rfc3339) / 1000; }

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(dir_.path());
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    config_.campaigns.push_back({"fos", {"fundourschools", "edequity"}, {"school funding formula"}});
    config_.campaigns.push_back({"other", {"othertag"}, {}});
  }
  void AddSeries(const char* metric, const char* campaign, const char* platform, const char* term,
                 const char* at, int64_t v) {
    store::Batch b;
    b.series_deltas[store::SeriesKey(metric, campaign, platform, term,
                                     store::BucketStart(S(at), store::Step::kMinute))] = v;
    ASSERT_TRUE(store_->Commit(b));
  }
  void AddPost(const std::string& key, Platform platform, const char* at, const std::string& author,
               std::vector<std::string> campaigns, Engagement e = {}, int64_t followers = 0) {
    store::Batch b;
    store::StoredPost sp;
    sp.post.platform = platform;
    sp.post.key = key;
    sp.post.created_at_ms = TimeMs(at);
    sp.post.author = author;
    sp.post.engagement = e;
    sp.post.author_followers = followers;
    sp.campaigns = std::move(campaigns);
    b.posts.push_back(sp);
    ASSERT_TRUE(store_->Commit(b));
  }
  ApiResponse Get(std::string_view endpoint, Params p) {
    return HandleApi(endpoint, p, config_, *store_, TimeMs("2024-03-01T12:00:00Z"));
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  config::Config config_;
};

TEST_F(ApiTest, SeriesFillsEveryBucketAndSumsPlatforms) {
  AddSeries("posts", "fos", "mastodon", "", "2024-02-29T10:00:30Z", 2);
  AddSeries("posts", "fos", "x", "", "2024-02-29T10:00:59Z", 3);
  AddSeries("posts", "fos", "x", "", "2024-02-29T10:02:00Z", 1);
  AddSeries("posts", "fos", "x", "", "2024-02-29T10:03:00Z", 7);  // at `to`: outside
  auto r = Get("series", {{"campaign", "fos"}, {"from", "2024-02-29T10:00:00Z"},
                          {"to", "2024-02-29T10:03:00Z"}, {"step", "1m"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const int64_t t0 = S("2024-02-29T10:00:00Z");
  EXPECT_EQ(r.body, "{\"campaign\":\"fos\",\"metric\":\"posts\",\"step\":\"1m\",\"points\":[[" +
                        std::to_string(t0) + ",5],[" + std::to_string(t0 + 60) + ",0],[" +
                        std::to_string(t0 + 120) + ",1]]}");
  auto x = Get("series", {{"campaign", "fos"}, {"platform", "x"}, {"from", "2024-02-29T10:00:00Z"},
                          {"to", "2024-02-29T10:03:00Z"}, {"step", "1m"}});
  EXPECT_NE(x.body.find("\"points\":[[" + std::to_string(t0) + ",3],"), std::string::npos) << x.body;
}

TEST_F(ApiTest, SeriesFromMidBucketStartsAtThatBucketAndDayBucketsAreUtcDays) {
  AddSeries("posts", "fos", "bluesky", "", "2024-02-28T23:59:59Z", 1);
  AddSeries("posts", "fos", "bluesky", "", "2024-02-29T00:00:00Z", 2);
  AddSeries("posts", "fos", "bluesky", "", "2024-02-29T23:59:59Z", 4);
  AddSeries("posts", "fos", "bluesky", "", "2024-03-01T00:00:00Z", 8);
  auto r = Get("series", {{"campaign", "fos"}, {"from", "2024-02-28T12:00:00Z"},
                          {"to", "2024-03-01T00:00:01Z"}, {"step", "1d"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("[[" + std::to_string(S("2024-02-28T00:00:00Z")) + ",1],[" +
                        std::to_string(S("2024-02-29T00:00:00Z")) + ",6],[" +
                        std::to_string(S("2024-03-01T00:00:00Z")) + ",8]]"),
            std::string::npos)
      << r.body;
}

TEST_F(ApiTest, SeriesDefaultsToTheLastDayAtOneMinute) {
  auto r = Get("series", {{"campaign", "fos"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"step\":\"1m\""), std::string::npos);
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '['), 1 + 1440);
  auto month = Get("series", {{"campaign", "fos"}, {"from", "2024-01-01T00:00:00Z"}});
  EXPECT_NE(month.body.find("\"step\":\"1h\""), std::string::npos);
  auto years = Get("series", {{"campaign", "fos"}, {"from", "2014-01-01T00:00:00Z"}});
  EXPECT_NE(years.body.find("\"step\":\"1d\""), std::string::npos);
}

TEST_F(ApiTest, SeriesRefusesTooManyPointsNamingAStepThatFits) {
  auto r = Get("series", {{"campaign", "fos"}, {"from", "2014-03-01T00:00:00Z"}, {"step", "1m"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("step=1d"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("from"), std::string::npos);
  auto huge = Get("series", {{"campaign", "fos"}, {"from", "0001-01-01T00:00:00Z"}, {"step", "1d"}});
  EXPECT_EQ(huge.status, 400);
  EXPECT_NE(huge.body.find("narrow the range"), std::string::npos) << huge.body;
  auto huge_default = Get("series", {{"campaign", "fos"}, {"from", "0001-01-01T00:00:00Z"}});
  EXPECT_EQ(huge_default.status, 400) << huge_default.body;
}

TEST_F(ApiTest, SeriesTermsMetricsAndShareOfVoice) {
  AddSeries("posts", "fos", "mastodon", "fundourschools", "2024-02-29T10:00:00Z", 2);
  AddSeries("posts", "fos", "mastodon", "school funding formula", "2024-02-29T10:00:00Z", 1);
  AddSeries("posts", "fos", "mastodon", "", "2024-02-29T10:00:00Z", 3);
  AddSeries("posts", "other", "x", "", "2024-02-29T10:00:00Z", 1);
  AddSeries("engagement_like", "fos", "x", "", "2024-02-29T10:00:00Z", 9);
  const Params range = {{"campaign", "fos"}, {"from", "2024-02-29T10:00:00Z"},
                        {"to", "2024-02-29T10:01:00Z"}};
  auto with = [&](Params extra) {
    Params p = range;
    p.insert(extra.begin(), extra.end());
    return Get("series", p);
  };
  const std::string t0 = std::to_string(S("2024-02-29T10:00:00Z"));
  EXPECT_NE(with({{"term", "#FundOurSchools"}}).body.find("[[" + t0 + ",2]]"), std::string::npos);
  EXPECT_NE(with({{"term", "School Funding Formula"}}).body.find("[[" + t0 + ",1]]"), std::string::npos);
  EXPECT_EQ(with({{"term", "nope"}}).status, 400);
  EXPECT_EQ(with({{"term", "othertag"}}).status, 400);  // another campaign's term
  EXPECT_EQ(with({{"term", "edequity"}, {"metric", "reach"}}).status, 400);
  EXPECT_NE(with({{"metric", "likes"}}).body.find("[[" + t0 + ",9]]"), std::string::npos);
  auto sov = with({{"metric", "share_of_voice"}});
  EXPECT_NE(sov.body.find("[[" + t0 + ",0.75]]"), std::string::npos) << sov.body;
  EXPECT_EQ(with({{"metric", "followers"}}).status, 400);
}

TEST_F(ApiTest, SeriesUniqueAuthorsCountsDistinctAuthorsPerBucket) {
  AddPost("a", Platform::kMastodon, "2024-02-29T10:00:01Z", "al@a", {"fos"});
  AddPost("b", Platform::kMastodon, "2024-02-29T10:00:02Z", "al@a", {"fos"});
  AddPost("c", Platform::kX, "2024-02-29T10:00:03Z", "al@a", {"fos"});  // another identity
  AddPost("d", Platform::kMastodon, "2024-02-29T10:01:03Z", "bo@a", {"fos"});
  auto r = Get("series", {{"campaign", "fos"}, {"metric", "unique_authors"}, {"step", "1m"},
                          {"from", "2024-02-29T10:00:00Z"}, {"to", "2024-02-29T10:02:00Z"}});
  const int64_t t0 = S("2024-02-29T10:00:00Z");
  EXPECT_NE(r.body.find("[[" + std::to_string(t0) + ",2],[" + std::to_string(t0 + 60) + ",1]]"),
            std::string::npos)
      << r.body;
}

TEST_F(ApiTest, ErrorsNameTheParameter) {
  struct Case {
    std::string endpoint;
    Params params;
    int status;
    std::string mention;
  };
  const Case cases[] = {
      {"series", {}, 400, "campaign"},
      {"series", {{"campaign", "nope"}}, 404, "nope"},
      {"series", {{"campaign", "fos"}, {"step", "5m"}}, 400, "step"},
      {"series", {{"campaign", "fos"}, {"from", "2024-03-02T00:00:00Z"}}, 400, "from"},
      {"series", {{"campaign", "fos"}, {"to", "soon"}}, 400, "to"},
      {"series", {{"campaign", "fos"}, {"platform", "myspace"}}, 400, "platform"},
      {"series", {{"campaign", "fos"}, {"bucket", "1"}}, 400, "bucket"},
      {"series", {{"campaign", "fos"}, {"campaign", "other"}}, 400, "campaign"},
      {"posts", {{"campaign", "nope"}}, 404, "nope"},
      {"posts", {{"limit", "1001"}}, 400, "limit"},
      {"posts", {{"cursor", "not a cursor"}}, 400, "cursor"},
      {"top", {}, 400, "campaign"},
      {"top", {{"campaign", "fos"}, {"by", "likes"}}, 400, "by"},
      {"top", {{"campaign", "fos"}, {"limit", "101"}}, 400, "limit"},
      {"top", {{"campaign", "nope"}}, 404, "nope"},
      {"nothing", {}, 404, "nothing"},
  };
  for (const auto& c : cases) {
    auto r = Get(c.endpoint, c.params);
    EXPECT_EQ(r.status, c.status) << c.endpoint << " " << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.body.rfind("{\"error\":\"", 0), 0u) << r.body;
    EXPECT_NE(r.body.find(c.mention), std::string::npos) << r.body;
  }
}

TEST_F(ApiTest, PostsPageWithCursorsAndTopKeepsTheBest) {
  AddPost("p1", Platform::kMastodon, "2024-02-29T10:00:00Z", "a", {"fos"}, {1, 0, 0, 0}, 50);
  AddPost("p2", Platform::kX, "2024-02-29T10:00:00Z", "b", {"fos"}, {0, 5, 0, 0}, 10);
  AddPost("p3", Platform::kX, "2024-02-29T11:00:00Z", "c", {"fos", "other"}, {2, 2, 1, 0}, 20);
  AddPost("p4", Platform::kReddit, "2024-02-29T12:00:00Z", "d", {"other"}, {9, 9, 9, 9}, 99);
  AddPost("p0", Platform::kX, "2024-02-29T12:00:00Z", "e", {"fos"}, {0, 0, 0, 5}, 20);

  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    Params p = {{"campaign", "fos"}, {"limit", "2"}};
    if (!cursor.empty()) p.emplace("cursor", cursor);
    auto r = Get("posts", p);
    ASSERT_EQ(r.status, 200) << r.body;
    for (size_t at = r.body.find("\"post_id\":\""); at != std::string::npos;
         at = r.body.find("\"post_id\":\"", at + 1)) {
      seen.push_back(r.body.substr(at + 11, 2));
    }
    const size_t nc = r.body.find("\"next_cursor\":");
    ASSERT_NE(nc, std::string::npos);
    if (r.body.compare(nc + 14, 4, "null") == 0) break;
    cursor = r.body.substr(nc + 15, r.body.find('"', nc + 15) - nc - 15);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"p1", "p2", "p3", "p0"}));

  auto top = Get("top", {{"campaign", "fos"}, {"limit", "3"}});
  ASSERT_EQ(top.status, 200) << top.body;
  // engagement: p2 5, p3 5, p0 5, p1 1 -> ties by post_id: p0, p2, p3.
  const size_t a = top.body.find("\"p0\""), b = top.body.find("\"p2\""), c = top.body.find("\"p3\"");
  EXPECT_TRUE(a != std::string::npos && b != std::string::npos && c != std::string::npos) << top.body;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(top.body.find("\"p1\""), std::string::npos);
  auto reach = Get("top", {{"campaign", "fos"}, {"by", "reach"}, {"limit", "2"}});
  EXPECT_LT(reach.body.find("\"p1\""), reach.body.find("\"p0\"")) << reach.body;
  EXPECT_EQ(reach.body.find("\"p3\""), std::string::npos) << reach.body;
}

}  // namespace
}  // namespace chorus::query
