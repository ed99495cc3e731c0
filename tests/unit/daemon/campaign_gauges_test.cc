#include "daemon/campaign_gauges.h"

#include <gtest/gtest.h>

#include "tests/testlib/test_util.h"

namespace chorus::daemon {
namespace {

store::StoredPost MakePost(const std::string& key, Platform platform, int64_t created_ms,
                           const std::string& author, std::vector<std::string> campaigns) {
  store::StoredPost sp;
  sp.post.platform = platform;
  sp.post.key = key;
  sp.post.created_at_ms = created_ms;
  sp.post.author = author;
  sp.campaigns = std::move(campaigns);
  return sp;
}

TEST(CampaignGauges, UniqueAuthorsAndShareOfVoicePerWindowEndingNow) {
  testing::TempDir dir;
  auto store = store::Store::Open(dir.path());
  ASSERT_TRUE(store);
  config::Config config;
  config.sources.push_back({.name = "m", .platform = Platform::kMastodon});
  config.campaigns.push_back({"a", {"a"}, {}});
  config.campaigns.push_back({"b", {"b"}, {}});
  const int64_t now = 1'773'151'530'000;  // 2026-03-10T14:05:30Z
  store::Batch batch;
  auto add = [&](const std::string& key, int64_t age_ms, const std::string& author, const std::string& c) {
    batch.posts.push_back(MakePost(key, Platform::kMastodon, now - age_ms, author, {c}));
    const int64_t minute = store::BucketStart((now - age_ms) / 1000, store::Step::kMinute);
    batch.series_deltas[store::SeriesKey("posts", c, "mastodon", "", minute)] += 1;
  };
  add("1", 10'000, "alice", "a");          // 10 s ago
  add("2", 20 * 60'000, "alice", "a");     // 20 min ago, same author
  add("3", 30 * 60'000, "bob", "a");       // 30 min ago
  add("4", 2 * 3'600'000, "carol", "a");   // 2 h ago: outside 1h
  add("5", 5 * 60'000, "dave", "b");       // campaign b
  add("6", 3 * 86'400'000, "erin", "b");   // 3 days ago: only in 7d
  ASSERT_TRUE((*store)->Commit(batch));

  auto values = ComputeCampaignGauges(**store, config, now);
  ASSERT_TRUE(values) << values.error().ToString();
  auto find = [&](const std::string& c, const std::string& w) {
    for (const auto& v : *values) {
      if (v.campaign == c && v.window == w && v.platform == "mastodon") return v;
    }
    ADD_FAILURE() << c << " " << w;
    return CampaignGaugeValue{};
  };
  EXPECT_EQ(find("a", "1h").unique_authors, 2);
  EXPECT_EQ(find("a", "1h").posts, 3);
  EXPECT_DOUBLE_EQ(find("a", "1h").share_of_voice, 0.75);
  EXPECT_DOUBLE_EQ(find("b", "1h").share_of_voice, 0.25);
  EXPECT_EQ(find("a", "24h").unique_authors, 3);
  EXPECT_EQ(find("b", "24h").unique_authors, 1);
  EXPECT_EQ(find("b", "7d").unique_authors, 2);
  EXPECT_DOUBLE_EQ(find("b", "7d").share_of_voice, 2.0 / 6.0);
  EXPECT_EQ(values->size(), 2u * 3u);

  // With minute series kept only 1 day, the 7-day window reads hours and still counts everyone.
  config.storage.retention.minute_ms = 86'400'000;
  values = ComputeCampaignGauges(**store, config, now);
  ASSERT_TRUE(values);
  EXPECT_EQ(find("a", "7d").unique_authors, 3);
  EXPECT_EQ(find("b", "7d").posts, 2);

  Metrics metrics;
  ASSERT_TRUE(UpdateCampaignGauges(**store, config, now, metrics));
  const std::string text = metrics.Serialize();
  EXPECT_NE(text.find("chorus_unique_authors{campaign=\"a\",platform=\"mastodon\",window=\"24h\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("chorus_share_of_voice{campaign=\"a\",platform=\"mastodon\",window=\"1h\"} 0.75"),
            std::string::npos);
  EXPECT_NE(text.find("chorus_store_size_bytes "), std::string::npos);
}

}  // namespace
}  // namespace chorus::daemon
