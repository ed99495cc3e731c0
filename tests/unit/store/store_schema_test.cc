// Stores written by an earlier Chorus: schema 1 kept each post in `posts` and an empty "" index
// entry; schema 2 keeps the post in its "" index entry; schema 3 keeps a bucket's authors as one set
// instead of an entry per author. A schema 1 or 2 store must open, read and scan as before, take
// new posts beside the old ones, and be marked 3 once written to. The earlier layouts are written
// here with RocksDB directly, byte for byte as the earlier stores wrote them.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <memory>

#include "core/time.h"
#include "store/store.h"
#include "tests/testlib/test_util.h"

namespace chorus::store {
namespace {

const std::vector<std::string> kFamilies = {"default", "posts", "counters", "series_1m", "cursors",
                                            "refresh", "series_1h", "series_1d", "post_index",
                                            "authors", "outbox", "alert_log", "marks", "gaps"};

struct RawStore {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cf;  // in kFamilies order
  explicit RawStore(const std::string& path, bool read_only = false) {
    rocksdb::Options o;
    o.create_if_missing = o.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> d;
    for (const auto& n : kFamilies) d.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    const auto s = read_only ? rocksdb::DB::OpenForReadOnly(o, path, d, &cf, &raw)
                             : rocksdb::DB::Open(o, path, d, &cf, &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db.reset(raw);
  }
  ~RawStore() {
    for (auto* h : cf) db->DestroyColumnFamilyHandle(h);
    db->Close();
  }
  rocksdb::ColumnFamilyHandle* Family(const std::string& name) const {
    return cf[std::find(kFamilies.begin(), kFamilies.end(), name) - kFamilies.begin()];
  }
  std::string Get(const std::string& family, const std::string& key) const {
    std::string v;
    const auto s = db->Get(rocksdb::ReadOptions(), Family(family), key, &v);
    return s.ok() ? v : "<" + s.ToString() + ">";
  }
};

std::string BigEndian(int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v) ^ (1ULL << 63);
  std::string out;
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  return out;
}

using testing::TimeMs;

StoredPost MakePost(const std::string& key, int64_t created_ms, std::vector<std::string> campaigns) {
  StoredPost sp;
  sp.post.platform = Platform::kMastodon;
  sp.post.key = key;
  sp.post.created_at_ms = created_ms;
  sp.post.author = key + "@social.example";
  sp.post.text = "text of " + key;
  sp.post.engagement = {1, 0, 0, 0};
  sp.campaigns = std::move(campaigns);
  return sp;
}

// What schema 1's Commit wrote for a post.
void PutSchema1Post(RawStore& raw, const StoredPost& sp) {
  rocksdb::WriteOptions wo;
  ASSERT_TRUE(raw.db->Put(wo, raw.Family("posts"), sp.post.key, EncodeStoredPost(sp)).ok());
  const std::string when = BigEndian(sp.post.created_at_ms);
  ASSERT_TRUE(raw.db->Put(wo, raw.Family("post_index"), "\x1f" + when + sp.post.key, "").ok());
  for (const auto& c : sp.campaigns) {
    ASSERT_TRUE(raw.db->Put(wo, raw.Family("post_index"), c + "\x1f" + when + sp.post.key, "").ok());
  }
}

void WriteSchema1Store(const std::string& path) {
  RawStore raw(path);
  ASSERT_TRUE(raw.db->Put(rocksdb::WriteOptions(), raw.Family("default"), "schema_version", "1").ok());
  PutSchema1Post(raw, MakePost("old-1", TimeMs("2026-03-01T09:00:00Z"), {"c"}));
  PutSchema1Post(raw, MakePost("old-2", TimeMs("2026-03-01T11:00:00Z"), {"c", "d"}));
  PutSchema1Post(raw, MakePost("old-3", TimeMs("2026-03-01T12:00:00Z"), {}));
}

std::vector<std::string> Scan(const Store& s, PostScan scan, std::vector<int64_t>* likes = nullptr) {
  std::vector<std::string> keys;
  auto r = s.ScanPosts(scan, [&](const StoredPost& p, const std::string&) {
    keys.push_back(p.post.key);
    if (likes) likes->push_back(p.post.engagement.likes);
    return true;
  });
  EXPECT_TRUE(r) << r.error().ToString();
  return keys;
}

TEST(StoreSchema, ASchema1StoreIsReadScannedExtendedAndMarkedSchema3) {
  testing::TempDir dir;
  WriteSchema1Store(dir.path());
  {
    auto store = Store::Open(dir.path());
    ASSERT_TRUE(store) << store.error().ToString();
    auto got = (*store)->GetPosts({"old-2", "missing", "old-1"});
    ASSERT_TRUE(got);
    ASSERT_TRUE((*got)[0] && (*got)[2]);
    EXPECT_FALSE((*got)[1]);
    EXPECT_EQ((*got)[0]->post.text, "text of old-2");
    EXPECT_EQ((*got)[0]->campaigns, (std::vector<std::string>{"c", "d"}));

    // A new post between the old ones, and an update of an old one.
    Batch b;
    b.posts.push_back(MakePost("new", TimeMs("2026-03-01T10:00:00Z"), {"c"}));
    StoredPost updated = *(*got)[2];
    updated.post.engagement.likes = 7;
    b.posts.push_back(updated);
    ASSERT_TRUE((*store)->Commit(b));

    std::vector<int64_t> likes;
    EXPECT_EQ(Scan(**store, {}, &likes), (std::vector<std::string>{"old-1", "new", "old-2", "old-3"}));
    EXPECT_EQ(likes, (std::vector<int64_t>{7, 1, 1, 1}));  // the update, once
    EXPECT_EQ(Scan(**store, {.campaign = "c"}), (std::vector<std::string>{"old-1", "new", "old-2"}));
    EXPECT_EQ(Scan(**store, {.campaign = "d"}), (std::vector<std::string>{"old-2"}));
    auto again = (*store)->GetPosts({"old-1", "new"});
    ASSERT_TRUE(again && (*again)[0] && (*again)[1]);
    EXPECT_EQ((*again)[0]->post.engagement.likes, 7);
    EXPECT_EQ((*again)[1]->post.text, "text of new");
  }
  RawStore raw(dir.path(), /*read_only=*/true);
  EXPECT_EQ(raw.Get("default", "schema_version"), "3");
  // The updated post moved into its index entry; the untouched one stays where schema 1 put it.
  EXPECT_EQ(raw.Get("posts", "old-1").size(), 9u);  // a locator
  EXPECT_EQ(raw.Get("post_index", "\x1f" + BigEndian(TimeMs("2026-03-01T09:00:00Z")) + "old-1").empty(), false);
  EXPECT_TRUE(DecodeStoredPost(raw.Get("posts", "old-2")));
}

TEST(StoreSchema, ReadOnlyAndSecondaryOpensLeaveASchema1StoreAsItIs) {
  testing::TempDir dir, scratch;
  WriteSchema1Store(dir.path());
  {
    auto ro = Store::Open(dir.path(), {.read_only = true});
    ASSERT_TRUE(ro) << ro.error().ToString();
    EXPECT_EQ(Scan(**ro, {.campaign = "c"}), (std::vector<std::string>{"old-1", "old-2"}));
    auto secondary = Store::Open(dir.path(), {.secondary_path = scratch.path()});
    ASSERT_TRUE(secondary) << secondary.error().ToString();
    EXPECT_EQ(Scan(**secondary, {}), (std::vector<std::string>{"old-1", "old-2", "old-3"}));
  }
  RawStore raw(dir.path(), /*read_only=*/true);
  EXPECT_EQ(raw.Get("default", "schema_version"), "1");
}

TEST(StoreSchema, AStoreFromANewerChorusIsRefusedByName) {
  testing::TempDir dir;
  {
    RawStore raw(dir.path());
    ASSERT_TRUE(raw.db->Put(rocksdb::WriteOptions(), raw.Family("default"), "schema_version", "4").ok());
  }
  auto store = Store::Open(dir.path());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("schema version 4"), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find("understands 1 to 3"), std::string::npos) << store.error().message;
}

TEST(StoreSchema, APostIsStoredOnceInCreationOrderAndLocatedByKey) {
  testing::TempDir dir;
  {
    auto store = Store::Open(dir.path());
    ASSERT_TRUE(store);
    Batch b;
    b.posts.push_back(MakePost("p", TimeMs("2026-03-01T09:00:00Z"), {"c"}));
    ASSERT_TRUE((*store)->Commit(b));
  }
  RawStore raw(dir.path(), /*read_only=*/true);
  EXPECT_EQ(raw.Get("default", "schema_version"), "3");
  EXPECT_EQ(raw.Get("posts", "p"), "\x02" + BigEndian(TimeMs("2026-03-01T09:00:00Z")));
  auto in_index = DecodeStoredPost(raw.Get("post_index", "\x1f" + BigEndian(TimeMs("2026-03-01T09:00:00Z")) + "p"));
  ASSERT_TRUE(in_index);
  EXPECT_EQ(in_index->post.text, "text of p");
  EXPECT_EQ(raw.Get("post_index", "c\x1f" + BigEndian(TimeMs("2026-03-01T09:00:00Z")) + "p"), "");
}

// Schema 2's authors: an empty entry per (step, campaign, platform, bucket, author).
void WriteSchema2Authors(const std::string& path, const std::vector<std::string>& authors, int64_t at_ms) {
  RawStore raw(path);
  ASSERT_TRUE(raw.db->Put(rocksdb::WriteOptions(), raw.Family("default"), "schema_version", "2").ok());
  const int64_t at_s = at_ms / 1000;
  for (const auto& [letter, step] : {std::pair{'m', Step::kMinute}, {'h', Step::kHour}, {'d', Step::kDay}}) {
    for (const auto& a : authors) {
      const std::string key = std::string(1, letter) + "c\x1fmastodon\x1f" + BigEndian(BucketStart(at_s, step)) + a;
      ASSERT_TRUE(raw.db->Put(rocksdb::WriteOptions(), raw.Family("authors"), key, "").ok());
    }
  }
}

TEST(StoreSchema, ASchema2StoresAuthorsAreCountedWithTheNewSetsEachAuthorOnce) {
  testing::TempDir dir, scratch;
  const int64_t at = TimeMs("2026-03-01T09:00:20Z");
  WriteSchema2Authors(dir.path(), {"old@social.example", "both@social.example"}, at);
  const int64_t minute = BucketStart(at / 1000, Step::kMinute);
  {
    // Read as it is, without writing.
    auto ro = Store::Open(dir.path(), {.read_only = true});
    ASSERT_TRUE(ro) << ro.error().ToString();
    auto authors = (*ro)->UniqueAuthorsSeries("c", "", minute, minute + 60, Step::kMinute);
    ASSERT_TRUE(authors);
    EXPECT_EQ(*authors, (std::vector<std::pair<int64_t, int64_t>>{{minute, 2}}));
  }
  {
    auto store = Store::Open(dir.path());
    ASSERT_TRUE(store) << store.error().ToString();
    // The same minute, by an author schema 2 already holds there and by a new one.
    Batch b;
    StoredPost again = MakePost("p1", at + 5'000, {"c"});
    again.post.author = "both@social.example";
    StoredPost fresh = MakePost("p2", at + 6'000, {"c"});
    fresh.post.author = "new@social.example";
    b.posts = {again, fresh};
    ASSERT_TRUE((*store)->Commit(b));
    for (Step step : {Step::kMinute, Step::kHour, Step::kDay}) {
      const int64_t bucket = BucketStart(at / 1000, step);
      auto authors = (*store)->UniqueAuthorsSeries("c", "", bucket, bucket + StepSeconds(step), step);
      ASSERT_TRUE(authors);
      EXPECT_EQ(*authors, (std::vector<std::pair<int64_t, int64_t>>{{bucket, 3}})) << StepSeconds(step);
      auto distinct = (*store)->CountDistinctAuthors("c", "mastodon", bucket, bucket + StepSeconds(step), step);
      ASSERT_TRUE(distinct);
      EXPECT_EQ(*distinct, 3);
    }
    auto secondary = Store::Open(dir.path(), {.secondary_path = scratch.path()});
    ASSERT_TRUE(secondary) << secondary.error().ToString();
    auto seen = (*secondary)->CountDistinctAuthorsSince("c", "", {minute, minute - 3600}, minute + 60, Step::kMinute);
    ASSERT_TRUE(seen);
    EXPECT_EQ(*seen, (std::vector<int64_t>{3, 3}));
  }
  RawStore raw(dir.path(), /*read_only=*/true);
  EXPECT_EQ(raw.Get("default", "schema_version"), "3");
  // The new authors went into the bucket's set, not into entries of their own; schema 2's stay.
  EXPECT_EQ(raw.Get("authors", "mc\x1fmastodon\x1f" + BigEndian(minute) + "new@social.example"), "<NotFound: >");
  EXPECT_EQ(raw.Get("authors", "mc\x1fmastodon\x1f" + BigEndian(minute) + "old@social.example"), "");
}

}  // namespace
}  // namespace chorus::store
