// A bulk-load store (OpenOptions::bulk_load, `chorusctl import`) writes its large commits as table
// files and ingests them; whatever the route, every read must see exactly what the daemon's
// write-ahead-log commits of the same batches leave.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/counter_key.h"
#include "store/store.h"
#include "tests/testlib/test_util.h"

namespace chorus::store {
namespace {

constexpr int64_t kStartMs = 1'773'014'400'000;  // 2026-03-09T00:00:00Z
const std::vector<std::string> kCampaigns = {"clean-air", "fund-our-schools", "teachers-count"};
const std::vector<std::string> kPlatforms = {"mastodon", "bluesky"};

// Post `i` of a sequence spread over three days; `version` changes what a later copy says.
StoredPost NumberedPost(int64_t i, int version) {
  StoredPost sp;
  sp.post.platform = i % 2 == 0 ? Platform::kMastodon : Platform::kBluesky;
  sp.post.key = "https://social.example.org/users/u" + std::to_string(i % 700) + "/statuses/" +
                std::to_string(i);
  sp.post.local_id = std::to_string(116205256704004242 + i);
  sp.post.created_at_ms = kStartMs + i * 7'919;  // ~11 posts a minute over three days
  sp.post.author = "u" + std::to_string(i % 700) + "@social.example.org";
  sp.post.author_followers = 10 + i % 97;
  sp.post.text = "#CleanAirAct version " + std::to_string(version) + " of post " + std::to_string(i);
  sp.post.engagement = {i % 5 + version, i % 3, 0, version};
  sp.first_seen_ms = kStartMs + 90 * 86'400'000LL;
  sp.last_seen_ms = sp.first_seen_ms + version;
  sp.campaigns = {kCampaigns[i % 3]};
  if (i % 4 == 0) sp.campaigns.push_back(kCampaigns[(i + 1) % 3]);
  for (const auto& c : sp.campaigns) sp.terms.push_back(c + "\x1f" "cleanairact");
  if (i % 11 == 0) sp.policymakers = {"sen-doe"};
  return sp;
}

// Posts [first, last) with their counts, as the ingester would batch them.
Batch PostsBatch(int64_t first, int64_t last, int version) {
  Batch b;
  for (int64_t i = first; i < last; ++i) {
    StoredPost sp = NumberedPost(i, version);
    const char* platform = kPlatforms[i % 2].c_str();
    const int64_t minute = BucketStart(sp.post.created_at_ms / 1000, Step::kMinute);
    for (const auto& c : sp.campaigns) {
      ++b.counter_deltas[CounterKey{"chorus_posts_total", {{"campaign", c}, {"platform", platform}}}.Encode()];
      ++b.series_deltas[SeriesKey("posts", c, platform, "", minute)];
      b.series_deltas[SeriesKey("reach", c, platform, "", minute)] += sp.post.author_followers;
      ++b.series_deltas[SeriesKey("posts", c, platform, "cleanairact", minute)];
    }
    b.posts.push_back(std::move(sp));
  }
  return b;
}

// Everything the store's readers return, as text: equal text, equal stores.
std::string ReadEverything(const Store& store) {
  std::string out;
  auto add = [&out](const std::string& line) { out += line + "\n"; };
  add("posts " + std::to_string(*store.CountPosts()));
  for (const std::string campaign : {"", "clean-air", "fund-our-schools", "teachers-count"}) {
    PostScan scan;
    scan.campaign = campaign;
    EXPECT_TRUE(store.ScanPosts(scan, [&](const StoredPost& sp, const std::string& cursor) {
      add(campaign + " " + cursor + " " + EncodeStoredPost(sp));
      return true;
    }));
  }
  const auto counters = store.LoadCounters();
  for (const auto& [k, v] : *counters) add("counter " + k + " " + std::to_string(v));
  const int64_t from_s = kStartMs / 1000 - 86'400, to_s = kStartMs / 1000 + 5 * 86'400;
  for (const Step step : {Step::kMinute, Step::kHour, Step::kDay}) {
    for (const auto& c : kCampaigns) {
      for (const auto& p : kPlatforms) {
        for (const auto& [metric, term] : {std::pair{"posts", ""}, {"reach", ""}, {"posts", "cleanairact"}}) {
          const auto series = store.ReadSeries(metric, c, p, term, from_s, to_s, step);
          for (const auto& [t, v] : *series) {
            add(std::string(metric) + " " + c + " " + p + " " + term + " " + std::to_string(t) + " " +
                std::to_string(v));
          }
        }
        const auto authors = store.UniqueAuthorsSeries(c, p, from_s, to_s, step);
        for (const auto& [t, v] : *authors) {
          add("authors " + c + " " + p + " " + std::to_string(t) + " " + std::to_string(v));
        }
      }
      add("distinct " + c + " " + std::to_string(*store.CountDistinctAuthors(c, "", from_s, to_s, step)));
      add("all-time distinct " + c + " " +
          std::to_string(*store.CountDistinctAuthors(c, "", INT64_MIN / 1000, INT64_MAX / 1000, step)));
    }
  }
  const auto refreshes = store.DueRefreshes("src", INT64_MAX, 1'000'000);
  for (const auto& r : *refreshes) {
    add("refresh " + r.StoreKey() + " " + r.StoreValue());
  }
  const auto outbox = store.ScanOutbox(1'000'000);
  for (const auto& [k, v] : *outbox) add("outbox " + k + " " + v);
  const auto marks = store.LoadMarks();
  for (const auto& [k, v] : *marks) add("mark " + k + " " + std::to_string(v));
  const auto gaps = store.ReadGaps(INT64_MIN, INT64_MAX);
  for (const auto& g : *gaps) {
    add("gap " + g.source + " " + std::to_string(g.from_ms) + " " + std::to_string(g.to_ms));
  }
  add("cursor " + store.GetCursor(CursorKey("src", "tags:cleanairact"))->value_or("none"));
  return out;
}

OpenOptions BulkLoad() {
  OpenOptions options;
  options.bulk_load = true;
  return options;
}

// What a store at `path`, opened with `options`, reads after committing `batches`, reopened as
// chorusd and chorusctl export would open it: nothing written only to memory counts.
std::string CommittedAndReread(const std::string& path, const OpenOptions& options,
                               const std::vector<Batch>& batches) {
  {
    auto store = Store::Open(path, options);
    EXPECT_TRUE(store) << store.error().ToString();
    if (!store) return "";
    for (const Batch& b : batches) {
      auto committed = (*store)->Commit(b);
      EXPECT_TRUE(committed) << path << ": " << committed.error().ToString();
      if (!committed) return "";
    }
  }
  auto store = Store::Open(path);
  EXPECT_TRUE(store) << store.error().ToString();
  return store ? ReadEverything(**store) : "";
}

// A bulk-load store at `path` that committed posts [0, 10,000) as table files; nullptr on failure.
std::unique_ptr<Store> BulkStoreWithOneBatch(const std::string& path) {
  auto store = Store::Open(path, BulkLoad());
  EXPECT_TRUE(store) << store.error().ToString();
  if (!store) return nullptr;
  auto committed = (*store)->Commit(PostsBatch(0, 10'000, 0));
  EXPECT_TRUE(committed) << committed.error().ToString();
  if (!committed) return nullptr;
  return std::move(*store);
}

// The same batches, one store committing them through the log, one as a bulk load.
TEST(StoreBulkLoad, LargeCommitsAsTableFilesReadExactlyAsLoggedCommits) {
  testing::TempDir dir;
  std::vector<Batch> batches;
  batches.push_back(PostsBatch(0, 12'000, 0));
  batches.push_back(PostsBatch(12'000, 24'000, 0));
  // Copies of earlier posts (both batches) and new ones, in one large batch: later copies win.
  Batch again = PostsBatch(6'000, 18'000, 1);
  Batch fresh = PostsBatch(24'000, 30'000, 0);
  for (auto& sp : fresh.posts) again.posts.push_back(std::move(sp));
  for (const auto& [k, v] : fresh.counter_deltas) again.counter_deltas[k] += v;
  for (const auto& [k, v] : fresh.series_deltas) again.series_deltas[k] += v;
  again.posts.push_back(NumberedPost(29'999, 2));  // the same key twice in one batch: the last wins
  for (int i = 0; i < 50; ++i) {
    again.refresh_puts.push_back({"src", kStartMs + (i % 7) * 1000, "k" + std::to_string(i), "id", i % 3});
    again.outbox_puts["o" + std::to_string(i % 9)] = "v" + std::to_string(i);
  }
  again.refresh_deletes.push_back({"src", kStartMs, "k0", "id", 0});
  again.outbox_deletes.push_back("o3");
  again.gaps.push_back({"src", kStartMs, kStartMs + 60'000});
  again.marks["m"] = 7;
  again.cursors[CursorKey("src", "tags:cleanairact")] = "116205256704004242";
  batches.push_back(std::move(again));
  // A small batch (the log's way even in bulk mode) after the files, then a large one after it.
  batches.push_back(PostsBatch(30'000, 30'100, 0));
  batches.back().refresh_deletes.push_back({"src", kStartMs + 1000, "k1", "id", 1});
  batches.push_back(PostsBatch(100, 10'200, 3));

  const std::string texts[2] = {CommittedAndReread(dir.path() + "/logged", {}, batches),
                                CommittedAndReread(dir.path() + "/bulk", BulkLoad(), batches)};
  EXPECT_NE(texts[0].find("posts 30100\n"), std::string::npos);
  ASSERT_GT(texts[0].size(), 1'000'000u);  // the comparison covers what was written
  EXPECT_NE(texts[0].find("version 3 of post 100"), std::string::npos);
  EXPECT_NE(texts[0].find("version 2 of post 29999"), std::string::npos);
  EXPECT_EQ(texts[0].find("version 1 of post 29999"), std::string::npos);
  EXPECT_NE(texts[0].find("gap src"), std::string::npos);
  // Compared line by line, so a failure names the first difference rather than two huge strings.
  size_t pos = 0;
  while (pos < texts[0].size() && pos < texts[1].size() && texts[0][pos] == texts[1][pos]) ++pos;
  const size_t line = texts[0].rfind('\n', pos) == std::string::npos ? 0 : texts[0].rfind('\n', pos) + 1;
  EXPECT_EQ(texts[0].size(), texts[1].size());
  EXPECT_EQ(texts[0].substr(line, 300), texts[1].substr(line, 300)) << "first difference at byte " << pos;
}

// A bulk load into a store without posts looks up only the keys it has written itself
// (WrittenKeys): it must still find every one of them, whichever way its batch was committed,
// and a bulk load into a store that held posts must find those.
TEST(StoreBulkLoad, LookupsFindExactlyThePostsCommittedBeforeThemWhetherTheStoreStartedEmptyOrNot) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/bulk";
  std::vector<std::string> keys;  // posts [0, 12,100) are committed, [12,100, 13,000) never are
  for (int64_t i = 0; i < 13'000; ++i) keys.push_back(NumberedPost(i, 0).post.key);
  auto found_texts = [&](const Store& store) {
    std::map<size_t, std::string> texts;
    const auto found = store.FindPosts(std::vector<std::string_view>(keys.begin(), keys.end()));
    EXPECT_TRUE(found) << found.error().ToString();
    if (found) {
      for (const auto& [i, sp] : *found) texts[i] = sp.post.text;
    }
    return texts;
  };
  auto expect_committed = [&](const std::map<size_t, std::string>& texts, size_t committed) {
    EXPECT_EQ(texts.size(), committed);
    for (size_t i = 0; i < committed; ++i) {
      ASSERT_EQ(texts.count(i), 1u) << "post " << i << " not found";
      EXPECT_EQ(texts.at(i), NumberedPost(static_cast<int64_t>(i), 0).post.text);
    }
  };
  {
    auto store = Store::Open(path, BulkLoad());
    ASSERT_TRUE(store) << store.error().ToString();
    EXPECT_TRUE(found_texts(**store).empty());
    ASSERT_TRUE((*store)->Commit(PostsBatch(0, 12'000, 0)));       // table files
    expect_committed(found_texts(**store), 12'000);
    ASSERT_TRUE((*store)->Commit(PostsBatch(12'000, 12'100, 0)));  // the log, even in bulk mode
    expect_committed(found_texts(**store), 12'100);
  }
  auto reopened = Store::Open(path, BulkLoad());  // holds posts now: every lookup searches
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  expect_committed(found_texts(**reopened), 12'100);
}

// Archived pages come newest first, in time order or backwards: whatever the order of a batch's
// posts, the store holds the same.
TEST(StoreBulkLoad, ABatchInPageOrderStoresWhatTheSameBatchInTimeOrderDoes) {
  testing::TempDir dir;
  const Batch ascending = PostsBatch(0, 12'000, 0);
  Batch pages = ascending;       // pages of 40 in time order, each newest first
  Batch backwards = ascending;   // a timeline read from the newest post back
  for (size_t at = 0; at < pages.posts.size(); at += 40) {
    std::reverse(pages.posts.begin() + static_cast<ptrdiff_t>(at),
                 pages.posts.begin() + static_cast<ptrdiff_t>(std::min(at + 40, pages.posts.size())));
  }
  std::reverse(backwards.posts.begin(), backwards.posts.end());
  const std::string want = CommittedAndReread(dir.path() + "/ascending", BulkLoad(), {ascending});
  ASSERT_GT(want.size(), 100'000u);
  EXPECT_EQ(CommittedAndReread(dir.path() + "/pages", BulkLoad(), {pages}), want);
  EXPECT_EQ(CommittedAndReread(dir.path() + "/backwards", BulkLoad(), {backwards}), want);
}

// Who posted in each bucket, counted from the posts themselves rather than from another store.
TEST(StoreBulkLoad, AuthorsPerBucketAreThePostsDistinctAuthors) {
  testing::TempDir dir;
  auto store = BulkStoreWithOneBatch(dir.path() + "/bulk");
  ASSERT_TRUE(store);
  for (const Step step : {Step::kMinute, Step::kHour, Step::kDay}) {
    std::map<std::string, std::map<int64_t, std::set<std::string>>> expected;  // campaign platform
    for (int64_t i = 0; i < 10'000; ++i) {
      const StoredPost sp = NumberedPost(i, 0);
      const int64_t bucket = BucketStart(sp.post.created_at_ms / 1000, step);
      for (const auto& c : sp.campaigns) expected[c + " " + kPlatforms[i % 2]][bucket].insert(sp.post.author);
    }
    for (const auto& c : kCampaigns) {
      for (const auto& p : kPlatforms) {
        const auto got = store->UniqueAuthorsSeries(c, p, INT64_MIN / 1000, INT64_MAX / 1000, step);
        ASSERT_TRUE(got);
        std::vector<std::pair<int64_t, int64_t>> want;
        for (const auto& [bucket, authors] : expected[c + " " + p]) {
          want.emplace_back(bucket, static_cast<int64_t>(authors.size()));
        }
        EXPECT_EQ(*got, want) << c << " " << p << " step " << static_cast<int>(step);
      }
    }
  }
}

// Posts dated near the ends of time (a platform's bogus dates) put author sets and index entries
// at the extremes of the key order: a bulk commit must file them as a logged commit does.
TEST(StoreBulkLoad, AuthorsOfPostsDatedAtTheEndsOfTimeAreFiledAsLoggedCommitsFileThem) {
  testing::TempDir dir;
  Batch batch = PostsBatch(0, 12'000, 0);
  for (size_t i = 0; i < batch.posts.size(); i += 5) {
    batch.posts[i].post.created_at_ms = (i % 2 == 0 ? -1 : 1) * 9'000'000'000'000'000'000LL + static_cast<int64_t>(i);
  }
  const std::vector<Batch> batches = {batch};
  const std::string logged = CommittedAndReread(dir.path() + "/logged", {}, batches);
  EXPECT_NE(logged.find("posts 12000\n"), std::string::npos);
  EXPECT_EQ(logged, CommittedAndReread(dir.path() + "/bulk", BulkLoad(), batches));
}

// A bulk commit killed while writing its files leaves them in bulk-commit/; they were never part
// of the store, and the next open clears them.
TEST(StoreBulkLoad, LeftoverFilesOfAnInterruptedCommitAreRemovedOnOpen) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/store";
  ASSERT_TRUE(BulkStoreWithOneBatch(path));
  std::filesystem::create_directories(path + "/bulk-commit");
  { std::ofstream(path + "/bulk-commit/9.sst") << "half a table file"; }
  auto store = Store::Open(path, BulkLoad());
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_FALSE(std::filesystem::exists(path + "/bulk-commit/9.sst"));
  EXPECT_EQ(*(*store)->CountPosts(), 10'000);
  ASSERT_TRUE((*store)->Commit(PostsBatch(10'000, 20'000, 0)));
  EXPECT_EQ(*(*store)->CountPosts(), 20'000);
  // Nothing is left behind by commits that completed.
  EXPECT_TRUE(!std::filesystem::exists(path + "/bulk-commit") ||
              std::filesystem::is_empty(path + "/bulk-commit"));
}

// A bulk commit that cannot write its files fails with the reason and changes nothing; the store
// stays usable for the next commit.
TEST(StoreBulkLoad, ACommitWhoseFilesCannotBeWrittenFailsClearlyAndChangesNothing) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/store";
  const std::unique_ptr<Store> store = BulkStoreWithOneBatch(path);
  ASSERT_TRUE(store);
  std::filesystem::remove_all(path + "/bulk-commit");
  { std::ofstream(path + "/bulk-commit") << "a file where the commit directory goes"; }
  auto failed = store->Commit(PostsBatch(10'000, 20'000, 0));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kStorage);
  EXPECT_NE(failed.error().message.find(path + "/bulk-commit"), std::string::npos) << failed.error().message;
  EXPECT_EQ(*store->CountPosts(), 10'000);
  std::filesystem::remove(path + "/bulk-commit");
  ASSERT_TRUE(store->Commit(PostsBatch(10'000, 20'000, 0)));
  EXPECT_EQ(*store->CountPosts(), 20'000);
}

// Bulk batches' `posts` files overlap (keys are URIs): ingestion files the first six one level
// each (6 to 1), then in level 0, whose fourth, the tenth batch's, makes a compaction due just
// before the store closes. Closing would cancel it; a settled store has none running, none due,
// and level 0 below the trigger, so the next open (chorusd's) has nothing left to compact.
TEST(StoreBulkLoad, SettlingLeavesNoCompactionForTheNextOpen) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/store";
  {
    auto store = Store::Open(path, BulkLoad());
    ASSERT_TRUE(store) << store.error().ToString();
    for (int64_t b = 0; b < 10; ++b) ASSERT_TRUE((*store)->Commit(PostsBatch(b * 10'000, (b + 1) * 10'000, 0)));
    EXPECT_TRUE((*store)->SettleCompactions(std::chrono::seconds(60)));
    EXPECT_EQ(*(*store)->CountPosts(), 100'000);
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < names.size(); ++i) {
    std::string level0;
    ASSERT_TRUE(db->GetProperty(handles[i], "rocksdb.num-files-at-level0", &level0));
    EXPECT_LT(std::stoi(level0), rocksdb::ColumnFamilyOptions().level0_file_num_compaction_trigger) << names[i];
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
}

}  // namespace
}  // namespace chorus::store
