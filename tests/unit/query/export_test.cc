// Exports over a real store: provenance, chunking, stopping when the sink refuses, request parsing.
#include <gtest/gtest.h>

#include "core/time.h"
#include "query/export.h"
#include "query/format.h"
#include "tests/testlib/test_util.h"

namespace chorus::query {
namespace {

using testing::TimeMs;

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(dir_.path());
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    config_.campaigns.push_back({"fos", {"fundourschools"}, {}});
    config_.campaigns.push_back({"other", {"othertag"}, {}});
  }
  void AddPosts(int n, const char* start, std::string text = "hello") {
    store::Batch b;
    for (int i = 0; i < n; ++i) {
      store::StoredPost sp;
      sp.post.platform = Platform::kBluesky;
      sp.post.key = "at://did:plc:x/app.bsky.feed.post/" + std::to_string(1000000 + i);
      sp.post.created_at_ms = TimeMs(start) + i * 1000;
      sp.post.author = "u" + std::to_string(i % 7) + ".bsky.social";
      sp.post.text = text;
      sp.campaigns = {"fos"};
      b.posts.push_back(std::move(sp));
    }
    ASSERT_TRUE(store_->Commit(b));
  }
  ExportRequest Parse(std::map<std::string, std::string> p) {
    auto r = ParseExportRequest(p, config_, TimeMs("2024-03-01T00:00:00Z"));
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : ExportRequest{};
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  config::Config config_;
};

TEST_F(ExportTest, ParsesTheSameParametersAsTheApi) {
  auto r = Parse({{"dataset", "series"}, {"format", "ndjson"}, {"campaign", "fos"},
                  {"platform", "x"}, {"from", "1709164800"}, {"step", "1d"}});
  EXPECT_EQ(r.dataset, Dataset::kSeries);
  EXPECT_EQ(r.format, Format::kNdjson);
  EXPECT_EQ(r.campaign, "fos");
  EXPECT_EQ(r.platform, "x");
  EXPECT_EQ(r.from_ms, TimeMs("2024-02-29T00:00:00Z"));
  EXPECT_EQ(r.to_ms, TimeMs("2024-03-01T00:00:00Z"));
  EXPECT_EQ(r.step, store::Step::kDay);
  auto def = Parse({});
  EXPECT_EQ(def.dataset, Dataset::kPosts);
  EXPECT_EQ(def.format, Format::kCsv);
  EXPECT_EQ(def.from_ms, INT64_MIN);
  const int64_t now = TimeMs("2024-03-01T00:00:00Z");
  auto unknown = ParseExportRequest({{"fromat", "csv"}}, config_, now);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("fromat"), std::string::npos);
  auto campaign = ParseExportRequest({{"campaign", "nope"}}, config_, now);
  ASSERT_FALSE(campaign);
  EXPECT_EQ(campaign.error().code, ErrorCode::kNotFound);
  for (const char* name : {"dataset", "format", "step", "from", "platform"}) {
    auto bad = ParseExportRequest({{name, "bogus"}}, config_, now);
    ASSERT_FALSE(bad) << name;
    EXPECT_EQ(bad.error().message.rfind(std::string(name) + ":", 0), 0u) << bad.error().message;
  }
}

TEST_F(ExportTest, CsvLeadsWithProvenanceAndGaps) {
  AddPosts(3, "2024-02-29T10:00:00Z");
  store::Batch gap;
  gap.gaps.push_back({"bsky-main", TimeMs("2024-02-29T11:00:00Z"), TimeMs("2024-02-29T11:30:00Z")});
  ASSERT_TRUE(store_->Commit(gap));
  std::string out;
  auto rows = RunExport(*store_, config_,
                        Parse({{"campaign", "fos"}, {"from", "2024-02-29T00:00:00Z"}}),
                        [&](std::string_view c) {
                          out.append(c);
                          return true;
                        });
  ASSERT_TRUE(rows) << rows.error().ToString();
  EXPECT_EQ(*rows, 3);
  EXPECT_NE(out.find("# query: dataset=posts format=csv campaign=fos platform=(all)\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("# range: created_at in [2024-02-29T00:00:00.000Z, 2024-03-01T00:00:00.000Z)\r\n"),
            std::string::npos);
  EXPECT_NE(out.find("# definitions: version 1 (docs/metrics.md)\r\n"), std::string::npos);
  EXPECT_NE(out.find("# gap: source=bsky-main from=2024-02-29T11:00:00.000Z to=2024-02-29T11:30:00.000Z\r\n"),
            std::string::npos);
  EXPECT_EQ(out.find("gaps: none"), std::string::npos);
  const size_t header = out.find(PostCsvHeader());
  ASSERT_NE(header, std::string::npos);
  // Every line before the header row is a comment.
  for (size_t at = 0; at < header; at = out.find("\r\n", at) + 2) EXPECT_EQ(out[at], '#') << at;
  EXPECT_EQ(std::count(out.begin() + header, out.end(), '\n'), 4);

  // Outside the gap's period: none.
  std::string later;
  ASSERT_TRUE(RunExport(*store_, config_,
                        Parse({{"format", "ndjson"}, {"from", "2024-02-29T12:00:00Z"}}),
                        [&](std::string_view c) {
                          later.append(c);
                          return true;
                        }));
  EXPECT_EQ(later.rfind("{\"provenance\":{", 0), 0u);
  EXPECT_NE(later.find("\"gaps\":[]"), std::string::npos) << later;
  EXPECT_NE(later.find("\"definitions_version\":1"), std::string::npos);
}

TEST_F(ExportTest, WritesBoundedChunksAndStopsWhenTheSinkRefuses) {
  AddPosts(3000, "2024-02-29T00:00:00Z", std::string(200, 'x'));
  size_t chunks = 0, biggest = 0, total = 0;
  int64_t last_progress = -1;
  auto rows = RunExport(
      *store_, config_, Parse({}),
      [&](std::string_view c) {
        ++chunks;
        biggest = std::max(biggest, c.size());
        total += c.size();
        return true;
      },
      [&](int64_t rows, int64_t) { last_progress = rows; });
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, 3000);
  EXPECT_EQ(last_progress, 3000);
  EXPECT_GT(chunks, 5u);
  EXPECT_LT(biggest, 64u * 1024 + 4096);
  size_t refused_after = 0;
  auto stopped = RunExport(*store_, config_, Parse({}), [&](std::string_view c) {
    refused_after += c.size();
    return false;
  });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, ErrorCode::kCancelled);
  EXPECT_LT(refused_after, total / 5);
}

TEST_F(ExportTest, SeriesRowsPerBucketCampaignAndPlatform) {
  store::Batch b;
  const int64_t m = TimeMs("2024-02-29T23:59:00Z") / 1000;
  b.series_deltas[store::SeriesKey("posts", "fos", "x", "", m)] = 2;
  b.series_deltas[store::SeriesKey("reach", "fos", "x", "", m)] = 40;
  b.series_deltas[store::SeriesKey("engagement", "fos", "x", "", m)] = 3;
  b.series_deltas[store::SeriesKey("engagement_reply", "fos", "x", "", m)] = 3;
  b.series_deltas[store::SeriesKey("posts", "other", "mastodon", "", m + 60)] = 1;
  ASSERT_TRUE(store_->Commit(b));
  std::string out;
  auto rows = RunExport(*store_, config_,
                        Parse({{"dataset", "series"}, {"from", "2024-02-29T00:00:00Z"}, {"step", "1d"}}),
                        [&](std::string_view c) {
                          out.append(c);
                          return true;
                        });
  ASSERT_TRUE(rows) << rows.error().ToString();
  EXPECT_EQ(*rows, 1);  // the "other" post is on March 1st, at `to`
  EXPECT_NE(out.find(std::string(SeriesCsvHeader()) +
                     "2024-02-29T00:00:00.000Z,fos,x,2,40,3,0,0,3,0,0\r\n"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace chorus::query
