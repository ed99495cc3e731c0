#include "store/store.h"

#include <gtest/gtest.h>

#include "core/counter_key.h"
#include "core/record_codec.h"
#include "tests/testlib/test_util.h"

namespace chorus::store {
namespace {

StoredPost SamplePost(const std::string& key) {
  StoredPost sp;
  sp.post.platform = Platform::kMastodon;
  sp.post.key = key;
  sp.post.local_id = "116205256704004242";
  sp.post.url = "https://social.example.org/@alice/1";
  sp.post.created_at_ms = 1773151500000;
  sp.post.author = "alice@social.example.org";
  sp.post.author_followers = 1234;
  sp.post.text = "please back #CleanAirAct & vote 🙂\nyes";
  sp.post.hashtags = {"cleanairact"};
  sp.post.mentions = {"senjanedoe@gov.example"};
  sp.post.engagement = {9, 4, 1, 0};
  sp.first_seen_ms = 1773151600000;
  sp.last_seen_ms = 1773151700000;
  sp.campaigns = {"clean-air"};
  sp.terms = {"clean-air\x1f" "cleanairact"};
  sp.policymakers = {"sen-doe"};
  return sp;
}

TEST(PostCodec, RoundTripsEveryField) {
  const StoredPost sp = SamplePost("https://social.example.org/users/alice/statuses/1");
  auto decoded = DecodeStoredPost(EncodeStoredPost(sp));
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(EncodeStoredPost(*decoded), EncodeStoredPost(sp));
  EXPECT_EQ(decoded->post.text, sp.post.text);
  EXPECT_EQ(decoded->post.engagement, sp.post.engagement);
  EXPECT_EQ(decoded->terms, sp.terms);
}

// The record's bytes are the store's format: written field by field with the record codec, in this
// order, as every earlier Chorus wrote them (and every one reads them). Long strings, negative
// numbers and empty lists included, so each varint width is seen.
TEST(PostCodec, WritesTheRecordFormatByteForByte) {
  StoredPost sp = SamplePost("https://social.example.org/users/alice/statuses/1");
  sp.post.text = std::string(300, 'x');
  sp.post.created_at_ms = -62135596800000;  // a bogus date far before 1970
  sp.post.engagement = {1 << 20, 0, 127, 128};
  sp.post.in_reply_to_key = "https://social.example.org/users/bob/statuses/0";
  sp.policymakers.clear();
  const Post& p = sp.post;
  std::string want;
  want.push_back('\x01');  // format
  want.push_back(static_cast<char>(p.platform));
  for (const std::string* f : {&p.key, &p.local_id, &p.url}) codec::PutString(&want, *f);
  codec::PutInt(&want, p.created_at_ms);
  codec::PutString(&want, p.author);
  codec::PutInt(&want, p.author_followers);
  codec::PutString(&want, p.text);
  for (const auto* list : {&p.hashtags, &p.mentions}) codec::PutList(&want, *list);
  for (const std::string* f : {&p.in_reply_to_local_id, &p.in_reply_to_author, &p.in_reply_to_key, &p.quote_of}) {
    codec::PutString(&want, *f);
  }
  for (int64_t v : {p.engagement.likes, p.engagement.reposts, p.engagement.replies, p.engagement.quotes,
                    sp.first_seen_ms, sp.last_seen_ms}) {
    codec::PutInt(&want, v);
  }
  for (const auto* list : {&sp.campaigns, &sp.terms, &sp.policymakers}) codec::PutList(&want, *list);
  EXPECT_EQ(EncodeStoredPost(sp), want);
  std::string reused = "left over from a longer record, longer than this one by far, " + std::string(500, 'y');
  EncodeStoredPostTo(sp, &reused);
  EXPECT_EQ(reused, want);
  auto decoded = DecodeStoredPost(want);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(decoded->post.created_at_ms, p.created_at_ms);
}

TEST(PostCodec, RejectsTruncatedAndForeignBytes) {
  const std::string bytes = EncodeStoredPost(SamplePost("k"));
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeStoredPost(std::string_view(bytes).substr(0, cut))) << cut;
  }
  EXPECT_FALSE(DecodeStoredPost(bytes + "x"));
  EXPECT_FALSE(DecodeStoredPost("\x07garbage"));
}

TEST(Store, CommitIsVisibleAndSurvivesReopen) {
  testing::TempDir dir;
  const std::string ck = CursorKey("mastodon-social", "tags:a");
  const std::string counter = CounterKey{"chorus_posts_total", {{"campaign", "c"}, {"platform", "mastodon"}}}.Encode();
  {
    auto store = Store::Open(dir.path());
    ASSERT_TRUE(store) << store.error().ToString();
    Batch b;
    b.posts.push_back(SamplePost("p1"));
    b.counter_deltas[counter] = 1;
    b.series_deltas[SeriesKey("posts", "c", "mastodon", "", 1773151440)] = 1;
    b.cursors[ck] = "116205256704004242";
    ASSERT_TRUE((*store)->Commit(b));
    Batch b2;
    b2.counter_deltas[counter] = 2;
    b2.series_deltas[SeriesKey("posts", "c", "mastodon", "", 1773151440)] = 2;
    b2.series_deltas[SeriesKey("posts", "c", "mastodon", "", 1773151500)] = 5;
    ASSERT_TRUE((*store)->Commit(b2));
  }
  auto store = Store::Open(dir.path());
  ASSERT_TRUE(store) << store.error().ToString();
  auto posts = (*store)->GetPosts({"p1", "missing"});
  ASSERT_TRUE(posts);
  ASSERT_TRUE((*posts)[0]);
  EXPECT_EQ((*posts)[0]->post.author_followers, 1234);
  EXPECT_FALSE((*posts)[1]);
  EXPECT_EQ(*(*store)->GetCursor(ck), "116205256704004242");
  EXPECT_FALSE(*(*store)->GetCursor(CursorKey("other", "q")));
  auto counters = (*store)->LoadCounters();
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->at(counter), 3);  // merge operator sums deltas
  auto series = (*store)->ReadSeries("posts", "c", "mastodon", "", 1773151000, 1773152000);
  ASSERT_TRUE(series);
  ASSERT_EQ(series->size(), 2u);
  EXPECT_EQ((*series)[0], std::make_pair(int64_t{1773151440}, int64_t{3}));
  EXPECT_EQ((*series)[1], std::make_pair(int64_t{1773151500}, int64_t{5}));
  // Half-open range: the bucket at `to` is excluded; other terms are not mixed in.
  EXPECT_EQ((*store)->ReadSeries("posts", "c", "mastodon", "", 1773151000, 1773151500)->size(), 1u);
  EXPECT_TRUE((*store)->ReadSeries("posts", "c", "mastodon", "x", 0, 1773152000)->empty());
  EXPECT_EQ(*(*store)->CountPosts(), 1);
}

TEST(Store, ManyMergesOfOneCounterStayExact) {
  testing::TempDir dir;
  auto store = Store::Open(dir.path());
  ASSERT_TRUE(store);
  for (int i = 0; i < 500; ++i) {
    Batch b;
    b.counter_deltas["k"] = 2;
    ASSERT_TRUE((*store)->Commit(b));
  }
  EXPECT_EQ((*store)->LoadCounters()->at("k"), 1000);
}

TEST(Store, SecondOpenOfALockedStoreFailsClearly) {
  testing::TempDir dir;
  auto first = Store::Open(dir.path());
  ASSERT_TRUE(first);
  auto second = Store::Open(dir.path());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kStorage);
  EXPECT_NE(second.error().message.find(dir.path()), std::string::npos);
}

TEST(Store, UnusablePathIsAnError) {
  auto store = Store::Open("/proc/chorus-cannot-be-here");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kStorage);
}

TEST(Store, ReadOnlyOpenSeesCommittedData) {
  testing::TempDir dir;
  {
    auto store = Store::Open(dir.path());
    ASSERT_TRUE(store);
    Batch b;
    b.posts.push_back(SamplePost("p1"));
    ASSERT_TRUE((*store)->Commit(b));
  }
  OpenOptions ro;
  ro.read_only = true;
  auto store = Store::Open(dir.path(), ro);
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ(*(*store)->CountPosts(), 1);
}

}  // namespace
}  // namespace chorus::store

namespace chorus::store {
namespace {

TEST(Store, DueRefreshesComeEarliestFirstPerSource) {
  testing::TempDir dir;
  auto store = Store::Open(dir.path());
  ASSERT_TRUE(store);
  Batch b;
  b.refresh_puts.push_back({"src", 3000, "k3", "id3", 1});
  b.refresh_puts.push_back({"src", 1000, "k1", "id1", 0});
  b.refresh_puts.push_back({"src", 2000, "k2", "id2", 2});
  b.refresh_puts.push_back({"src2", 500, "k9", "id9", 0});
  b.refresh_puts.push_back({"sr", 500, "k8", "id8", 0});  // a source name that prefixes another
  ASSERT_TRUE((*store)->Commit(b));
  auto due = (*store)->DueRefreshes("src", 2000, 10);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].post_key, "k1");
  EXPECT_EQ((*due)[1].post_key, "k2");
  EXPECT_EQ((*due)[1].stage, 2);
  EXPECT_EQ((*due)[1].local_id, "id2");
  EXPECT_EQ((*store)->DueRefreshes("src", 5000, 1)->size(), 1u);
  Batch del;
  del.refresh_deletes.push_back((*due)[0]);
  ASSERT_TRUE((*store)->Commit(del));
  EXPECT_EQ((*store)->DueRefreshes("src", 5000, 10)->size(), 2u);
}

}  // namespace
}  // namespace chorus::store

namespace chorus::store {
namespace {

TEST(Series, BucketEdgesAreUtcAndFloorNegativeTimes) {
  EXPECT_EQ(BucketStart(1773151559, Step::kMinute), 1773151500);
  EXPECT_EQ(BucketStart(1773151500, Step::kMinute), 1773151500);
  EXPECT_EQ(BucketStart(1773151559, Step::kHour), 1773151200);
  EXPECT_EQ(BucketStart(1773151559, Step::kDay), 1773100800);  // 2026-03-10T00:00:00Z
  EXPECT_EQ(BucketStart(-1, Step::kMinute), -60);
  EXPECT_EQ(BucketStart(-1, Step::kDay), -86400);
  // Leap day: 2024-02-29T23:59:59Z is in the bucket of 2024-02-29, the next second starts March.
  EXPECT_EQ(BucketStart(1709251199, Step::kDay), 1709164800);
  EXPECT_EQ(BucketStart(1709251200, Step::kDay), 1709251200);
}

TEST(Series, SeriesKeyToWritesWhatSeriesKeyReturns) {
  std::string buf = "a longer key left in the buffer by an earlier call";
  SeriesKeyTo(&buf, "posts", "c", "mastodon", "edequity", 1773151440);
  EXPECT_EQ(buf, SeriesKey("posts", "c", "mastodon", "edequity", 1773151440));
}

TEST(Series, HourAndDayBucketsAreWrittenWithTheMinutes) {
  testing::TempDir dir;
  auto store = Store::Open(dir.path());
  ASSERT_TRUE(store);
  const int64_t day = 1709164800;  // 2024-02-29T00:00:00Z
  Batch b;
  b.series_deltas[SeriesKey("posts", "c", "x", "", day + 10 * 3600 + 5 * 60)] = 1;   // 10:05
  b.series_deltas[SeriesKey("posts", "c", "x", "", day + 10 * 3600 + 59 * 60)] = 2;  // 10:59
  b.series_deltas[SeriesKey("posts", "c", "x", "", day + 11 * 3600)] = 4;            // 11:00
  b.series_deltas[SeriesKey("posts", "c", "x", "", day + 86400 - 60)] = 8;           // 23:59
  b.series_deltas[SeriesKey("posts", "c", "x", "", day + 86400)] = 16;               // next day
  ASSERT_TRUE((*store)->Commit(b));
  using Points = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(*(*store)->ReadSeries("posts", "c", "x", "", day, day + 2 * 86400, Step::kHour),
            (Points{{day + 10 * 3600, 3}, {day + 11 * 3600, 4}, {day + 23 * 3600, 8}, {day + 86400, 16}}));
  EXPECT_EQ(*(*store)->ReadSeries("posts", "c", "x", "", day, day + 2 * 86400, Step::kDay),
            (Points{{day, 15}, {day + 86400, 16}}));
  EXPECT_EQ((*store)->ReadSeries("posts", "c", "x", "", day, day + 2 * 86400)->size(), 5u);
}

}  // namespace
}  // namespace chorus::store
