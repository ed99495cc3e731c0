// The store's read paths for evaluation: posts by campaign and time, unique authors, retention,
// gaps, marks, and a secondary instance following a live primary.
#include <gtest/gtest.h>

#include <atomic>

#include "core/time.h"
#include "store/store.h"
#include "tests/testlib/test_util.h"

namespace chorus::store {
namespace {

StoredPost MakePost(const std::string& key, Platform platform, int64_t created_ms,
                    const std::string& author, std::vector<std::string> campaigns) {
  StoredPost sp;
  sp.post.platform = platform;
  sp.post.key = key;
  sp.post.created_at_ms = created_ms;
  sp.post.author = author;
  sp.campaigns = std::move(campaigns);
  return sp;
}

using testing::TimeMs;

std::vector<std::string> Scan(const Store& s, PostScan scan, size_t limit = SIZE_MAX,
                              std::string* last_cursor = nullptr) {
  std::vector<std::string> keys;
  auto r = s.ScanPosts(scan, [&](const StoredPost& p, const std::string& cursor) {
    keys.push_back(p.post.key);
    if (last_cursor) *last_cursor = cursor;
    return keys.size() < limit;
  });
  EXPECT_TRUE(r) << r.error().ToString();
  return keys;
}

TEST(StoreScan, VisitsPostsByCampaignInCreationOrderAndResumes) {
  testing::TempDir dir;
  auto store = Store::Open(dir.path());
  ASSERT_TRUE(store);
  Batch b;
  b.posts.push_back(MakePost("c", Platform::kX, TimeMs("2024-02-29T10:00:00Z"), "carol", {"a"}));
  b.posts.push_back(MakePost("a", Platform::kMastodon, TimeMs("2024-02-29T09:00:00Z"), "alice", {"a", "b"}));
  b.posts.push_back(MakePost("b", Platform::kBluesky, TimeMs("2024-02-29T09:30:00Z"), "bob", {"b"}));
  b.posts.push_back(MakePost("m", Platform::kX, TimeMs("2024-02-29T09:45:00Z"), "mo", {}));  // mention only
  ASSERT_TRUE((*store)->Commit(b));

  EXPECT_EQ(Scan(**store, {.campaign = "a"}), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(Scan(**store, {.campaign = "b"}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Scan(**store, {}), (std::vector<std::string>{"a", "b", "m", "c"}));
  EXPECT_EQ(Scan(**store, {.platform = "x"}), (std::vector<std::string>{"m", "c"}));
  EXPECT_TRUE(Scan(**store, {.campaign = "nope"}).empty());
  // [from, to): a post created exactly at `to` is outside, at `from` inside.
  EXPECT_EQ(Scan(**store, {.from_ms = TimeMs("2024-02-29T09:30:00Z"), .to_ms = TimeMs("2024-02-29T10:00:00Z")}),
            (std::vector<std::string>{"b", "m"}));

  // Paging two at a time visits everything exactly once.
  std::vector<std::string> all;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    std::string last;
    auto keys = Scan(**store, {.after = cursor}, 2, &last);
    if (keys.empty()) break;
    all.insert(all.end(), keys.begin(), keys.end());
    cursor = last;
  }
  EXPECT_EQ(all, (std::vector<std::string>{"a", "b", "m", "c"}));
  // A cursor from another campaign's scan is refused.
  std::string other;
  Scan(**store, {.campaign = "a"}, 1, &other);
  EXPECT_FALSE((*store)->ScanPosts({.campaign = "b", .after = other},
                                   [](const StoredPost&, const std::string&) { return true; }));
}

TEST(StoreScan, DenseAndSparseCampaignsVisitTheirPostsInOrderAndPageByCursor) {
  testing::TempDir dir;
  auto store = Store::Open(dir.path());
  ASSERT_TRUE(store);
  // 300 posts over two commits (so over a memtable and an SST file); "dense" has 4 in 5 of them,
  // "sparse" one in 37, so a scan of it seeks far ahead between its posts.
  std::vector<std::string> dense, sparse, all;
  for (int part = 0; part < 2; ++part) {
    Batch b;
    for (int i = part; i < 300; i += 2) {
      std::vector<std::string> campaigns;
      const std::string key = "post-" + std::to_string(1000 + i);
      if (i % 5 != 0) campaigns.push_back("dense");
      if (i % 37 == 0) campaigns.push_back("sparse");
      b.posts.push_back(MakePost(key, Platform::kMastodon, TimeMs("2026-03-01T00:00:00Z") + i * 1000, "a", campaigns));
    }
    ASSERT_TRUE((*store)->Commit(b));
    if (part == 0) {
      ASSERT_TRUE((*store)->Flush());
    }
  }
  for (int i = 0; i < 300; ++i) {
    const std::string key = "post-" + std::to_string(1000 + i);
    all.push_back(key);
    if (i % 5 != 0) dense.push_back(key);
    if (i % 37 == 0) sparse.push_back(key);
  }
  EXPECT_EQ(Scan(**store, {}), all);
  EXPECT_EQ(Scan(**store, {.campaign = "dense"}), dense);
  EXPECT_EQ(Scan(**store, {.campaign = "sparse"}), sparse);
  EXPECT_EQ(Scan(**store, {.campaign = "dense", .read_through = true}), dense);  // an export's scan
  EXPECT_EQ(Scan(**store, {.read_through = true}), all);
  for (const std::string campaign : {"dense", "sparse"}) {
    std::vector<std::string> paged;
    std::string cursor;
    for (int page = 0; page < 100; ++page) {
      std::string last;
      auto keys = Scan(**store, {.campaign = campaign, .after = cursor}, 7, &last);
      if (keys.empty()) break;
      paged.insert(paged.end(), keys.begin(), keys.end());
      cursor = last;
    }
    EXPECT_EQ(paged, campaign == "dense" ? dense : sparse) << campaign;
  }
  // A range inside: [post 100, post 200).
  std::vector<std::string> dense_range;
  for (int i = 100; i < 200; ++i) {
    if (i % 5 != 0) dense_range.push_back("post-" + std::to_string(1000 + i));
  }
  EXPECT_EQ(Scan(**store, {.campaign = "dense", .from_ms = TimeMs("2026-03-01T00:00:00Z") + 100'000,
                           .to_ms = TimeMs("2026-03-01T00:00:00Z") + 200'000}),
            dense_range);
}

TEST(StoreAuthors, CountsDistinctAuthorsPerBucketAndOverRanges) {
  testing::TempDir dir;
  auto store = Store::Open(dir.path());
  ASSERT_TRUE(store);
  const int64_t h = TimeMs("2024-02-29T23:00:00Z");
  Batch b;
  // alice twice in one minute, bob in the next minute, alice again on the next day (leap day edge).
  b.posts.push_back(MakePost("1", Platform::kMastodon, h + 10'000, "alice", {"c"}));
  b.posts.push_back(MakePost("2", Platform::kMastodon, h + 50'000, "alice", {"c"}));
  b.posts.push_back(MakePost("3", Platform::kMastodon, h + 60'000, "bob", {"c"}));
  b.posts.push_back(MakePost("4", Platform::kMastodon, TimeMs("2024-03-01T00:00:00Z"), "alice", {"c"}));
  b.posts.push_back(MakePost("5", Platform::kX, h + 10'000, "alice", {"c"}));  // another identity
  ASSERT_TRUE((*store)->Commit(b));
  ASSERT_TRUE((*store)->Commit(b));  // idempotent

  const int64_t hs = h / 1000;
  auto minutes = (*store)->UniqueAuthorsSeries("c", "mastodon", hs, hs + 3600, Step::kMinute);
  ASSERT_TRUE(minutes);
  EXPECT_EQ(*minutes, (std::vector<std::pair<int64_t, int64_t>>{{hs, 1}, {hs + 60, 1}}));
  auto all = (*store)->UniqueAuthorsSeries("c", "", hs, hs + 3600, Step::kMinute);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, (std::vector<std::pair<int64_t, int64_t>>{{hs, 2}, {hs + 60, 1}}));
  auto days = (*store)->UniqueAuthorsSeries("c", "mastodon", hs - 86400, hs + 86400, Step::kDay);
  ASSERT_TRUE(days);
  const int64_t leap_day = TimeMs("2024-02-29T00:00:00Z") / 1000;
  EXPECT_EQ(*days, (std::vector<std::pair<int64_t, int64_t>>{{leap_day, 2}, {leap_day + 86400, 1}}));

  auto distinct = (*store)->CountDistinctAuthors("c", "mastodon", hs, hs + 2 * 86400, Step::kMinute);
  ASSERT_TRUE(distinct);
  EXPECT_EQ(*distinct, 2);  // alice, bob
  distinct = (*store)->CountDistinctAuthors("c", "", hs, hs + 2 * 86400, Step::kHour);
  ASSERT_TRUE(distinct);
  EXPECT_EQ(*distinct, 3);  // + alice on X
}

TEST(StoreRetention, CompactionDropsWhatIsPastItsResolutionsRetention) {
  testing::TempDir dir;
  std::atomic<int64_t> now{TimeMs("2024-03-10T00:00:00Z") / 1000};
  OpenOptions options;
  options.retention = {.posts_s = 5 * 86400, .minute_s = 2 * 86400, .hour_s = 4 * 86400, .day_s = 0};
  options.now_s = [&] { return now.load(); };
  auto store = Store::Open(dir.path(), options);
  ASSERT_TRUE(store);
  const int64_t old_ms = TimeMs("2024-03-07T12:00:00Z");  // 2.5 days old
  const int64_t ancient_ms = TimeMs("2024-03-01T12:00:00Z");  // 8.5 days old
  Batch b;
  b.posts.push_back(MakePost("old", Platform::kMastodon, old_ms, "alice", {"c"}));
  b.posts.push_back(MakePost("ancient", Platform::kMastodon, ancient_ms, "bob", {"c"}));
  for (int64_t ms : {old_ms, ancient_ms}) {
    b.series_deltas[SeriesKey("posts", "c", "mastodon", "", BucketStart(ms / 1000, Step::kMinute))] += 1;
  }
  ASSERT_TRUE((*store)->Commit(b));
  ASSERT_TRUE((*store)->CompactForRetention());

  auto read = [&](Step step) {
    auto r = (*store)->ReadSeries("posts", "c", "mastodon", "", 0, now.load(), step);
    EXPECT_TRUE(r);
    return r ? r->size() : 0;
  };
  EXPECT_EQ(read(Step::kMinute), 0u);  // both older than 2 days
  EXPECT_EQ(read(Step::kHour), 1u);    // the 2.5-day-old hour stays
  EXPECT_EQ(read(Step::kDay), 2u);     // days are kept forever
  EXPECT_EQ(Scan(**store, {.campaign = "c"}), (std::vector<std::string>{"old"}));
  auto posts = (*store)->GetPosts({"old", "ancient"});
  ASSERT_TRUE(posts);
  EXPECT_TRUE((*posts)[0]);
  EXPECT_FALSE((*posts)[1]);
  EXPECT_EQ(*(*store)->CountPosts(), 1);  // the ancient post's locator went with its entry
  auto authors = (*store)->CountDistinctAuthors("c", "", 0, now.load(), Step::kMinute);
  ASSERT_TRUE(authors);
  EXPECT_EQ(*authors, 0);
  authors = (*store)->CountDistinctAuthors("c", "", 0, now.load(), Step::kHour);
  ASSERT_TRUE(authors);
  EXPECT_EQ(*authors, 1);

  // Time passes: now the last post goes too.
  now += 10 * 86400;
  ASSERT_TRUE((*store)->CompactForRetention());
  EXPECT_TRUE(Scan(**store, {}).empty());
  EXPECT_EQ(read(Step::kDay), 2u);
}

TEST(StoreRetention, ZeroKeepsEverything) {
  testing::TempDir dir;
  auto store = Store::Open(dir.path());
  ASSERT_TRUE(store);
  Batch b;
  b.posts.push_back(MakePost("p", Platform::kMastodon, 1000, "alice", {"c"}));
  b.series_deltas[SeriesKey("posts", "c", "mastodon", "", 0)] = 1;
  ASSERT_TRUE((*store)->Commit(b));
  ASSERT_TRUE((*store)->CompactForRetention());
  EXPECT_EQ(Scan(**store, {}).size(), 1u);
  auto r = (*store)->ReadSeries("posts", "c", "mastodon", "", 0, 60);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 1u);
}

TEST(StoreGapsAndMarks, RoundTrip) {
  testing::TempDir dir;
  {
    auto store = Store::Open(dir.path());
    ASSERT_TRUE(store);
    Batch b;
    b.gaps.push_back({"mastodon-social", 1000, 5000});
    b.gaps.push_back({"x-api", 9000, 12000});
    b.marks["k"] = 42;
    ASSERT_TRUE((*store)->Commit(b));
  }
  auto store = Store::Open(dir.path());
  ASSERT_TRUE(store);
  auto gaps = (*store)->ReadGaps(4000, 10000);
  ASSERT_TRUE(gaps);
  ASSERT_EQ(gaps->size(), 2u);
  EXPECT_EQ((*gaps)[0].source, "mastodon-social");
  EXPECT_EQ((*gaps)[1].to_ms, 12000);
  gaps = (*store)->ReadGaps(5000, 9000);  // touching neither
  ASSERT_TRUE(gaps);
  EXPECT_TRUE(gaps->empty());
  auto marks = (*store)->LoadMarks();
  ASSERT_TRUE(marks);
  EXPECT_EQ(marks->at("k"), 42);
}

TEST(StoreSecondary, FollowsARunningPrimaryAndAStoppedOne) {
  testing::TempDir dir, scratch;
  const std::string path = dir.path() + "/db";
  auto primary = Store::Open(path);
  ASSERT_TRUE(primary);
  Batch b;
  b.posts.push_back(MakePost("p1", Platform::kMastodon, 1000, "alice", {"c"}));
  ASSERT_TRUE((*primary)->Commit(b));

  // The primary still holds the lock: a second primary open fails, a secondary works.
  EXPECT_FALSE(Store::Open(path));
  auto secondary = Store::Open(path, {.secondary_path = scratch.path() + "/s1"});
  ASSERT_TRUE(secondary) << secondary.error().ToString();
  EXPECT_EQ(Scan(**secondary, {}).size(), 1u);

  Batch b2;
  b2.posts.push_back(MakePost("p2", Platform::kMastodon, 2000, "bob", {"c"}));
  ASSERT_TRUE((*primary)->Commit(b2));
  ASSERT_TRUE((*secondary)->CatchUp());
  EXPECT_EQ(Scan(**secondary, {}).size(), 2u);
  secondary->reset();
  primary->reset();

  auto stopped = Store::Open(path, {.secondary_path = scratch.path() + "/s2"});
  ASSERT_TRUE(stopped) << stopped.error().ToString();
  ASSERT_TRUE((*stopped)->CatchUp());
  EXPECT_EQ(Scan(**stopped, {}).size(), 2u);
  EXPECT_GT((*stopped)->ApproximateSizeBytes(), 0u);
}

TEST(StoreSecondary, MissingStoreIsAClearError) {
  testing::TempDir scratch;
  auto s = Store::Open(scratch.path() + "/nothing-here", {.secondary_path = scratch.path() + "/s"});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("nothing-here"), std::string::npos);
}

}  // namespace
}  // namespace chorus::store
