// What store.cc and commit.cc share: the key layout helpers of the column families (store.h
// describes the layout) and the open database. Internal to store/; nothing outside includes it.
#pragma once

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/radix_sort.h"
#include "core/record_codec.h"
#include "core/stable_hash.h"
#include "core/time.h"
#include "store/store.h"
#include "store/written_keys.h"

namespace chorus::store {

inline constexpr char kSep = '\x1f';

inline std::string EncodeInt64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
  return out;
}

inline int64_t DecodeInt64(std::string_view s) {
  if (s.size() != 8) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s[i])) << (8 * i);
  return static_cast<int64_t>(v);
}

// Times in keys are written with codec::PutOrderedInt64, so keys sort by time.
using codec::PutOrderedInt64;
using codec::ReadOrderedInt64;

inline char StepLetter(Step step) { return step == Step::kMinute ? 'm' : step == Step::kHour ? 'h' : 'd'; }

inline std::string IndexPrefix(std::string_view campaign) {
  std::string key(campaign);
  key.push_back(kSep);
  return key;
}

// A post_index key written into `out` (replacing its contents), for loops that reuse a buffer.
inline void IndexKeyTo(std::string* out, std::string_view campaign, int64_t created_ms,
                       std::string_view post_key) {
  out->assign(campaign);
  out->push_back(kSep);
  PutOrderedInt64(out, created_ms);
  out->append(post_key);
}

inline std::string IndexKey(std::string_view campaign, int64_t created_ms, std::string_view post_key) {
  std::string key;
  IndexKeyTo(&key, campaign, created_ms, post_key);
  return key;
}

// Schema 2 keeps each post once, as the value of its "" post_index entry (creation order, so an
// export reads posts sequentially); `posts` maps the canonical key to that entry by its creation
// time: a locator, kLocatorFormat then the big-endian created_at. Schema 1 stores kept the post in
// `posts` and nothing in the index; their entries stay readable (a post is moved on its next update).
inline constexpr char kLocatorFormat = '\x02';

// Written into `out` (replacing its contents): a bulk commit writes one per post.
inline void PostLocatorTo(int64_t created_ms, std::string* out) {
  out->assign(1, kLocatorFormat);
  PutOrderedInt64(out, created_ms);
}

inline std::optional<int64_t> ParsePostLocator(std::string_view v) {
  if (v.size() != 9 || v[0] != kLocatorFormat) return std::nullopt;
  return ReadOrderedInt64(v.substr(1));
}

// "<letter><campaign>\x1f<platform>\x1f": what author keys of a step start with.
inline std::string AuthorKeyPrefix(char letter, std::string_view campaign, std::string_view platform) {
  std::string key(1, letter);
  key.append(campaign).push_back(kSep);
  key.append(platform).push_back(kSep);
  return key;
}

// Schema 2's per-author entries (read, no longer written).
inline std::string AuthorPrefix(Step step, std::string_view campaign, std::string_view platform) {
  return AuthorKeyPrefix(StepLetter(step), campaign, platform);
}

// Schema 3 keeps the authors of a bucket as one entry: key AuthorSetPrefix(step, campaign,
// platform) + big-endian bucket start, value the sorted distinct AuthorHash()es of its authors (8
// bytes each, little-endian), merged by set union (AuthorSetUnion in store.cc). The step letter is
// upper case, so these keys sort apart from schema 1 and 2's, one entry per author (AuthorPrefix
// + bucket + author), which stay readable until retention drops them.
inline char AuthorSetLetter(Step step) { return static_cast<char>(StepLetter(step) - 'a' + 'A'); }

inline std::string AuthorSetPrefix(Step step, std::string_view campaign, std::string_view platform) {
  return AuthorKeyPrefix(AuthorSetLetter(step), campaign, platform);
}

// An author identity's 64 bits in an author set: two distinct authors of one campaign and
// platform share them with a chance of about n^2 / 2^65 for n authors (below one in ten million for
// a million of them), the only way a count can be off (by one, low).
inline uint64_t AuthorHash(std::string_view author) { return StableHash64(author); }

// Appends the hashes of an author set value to `out` (a trailing partial word is ignored).
inline void AppendAuthorSet(std::string_view value, std::vector<uint64_t>* out) {
  for (size_t at = 0; at + 8 <= value.size(); at += 8) {
    uint64_t h = 0;
    for (int i = 0; i < 8; ++i) h |= static_cast<uint64_t>(static_cast<uint8_t>(value[at + i])) << (8 * i);
    out->push_back(h);
  }
}

// Writes hashes[0..n), sorted and distinct, as an author set value into `out` (replacing it).
inline void EncodeAuthorSet(const uint64_t* hashes, size_t n, std::string* out) {
  out->resize(n * 8);
  char* p = out->data();
  for (size_t j = 0; j < n; ++j) {
    for (int i = 0; i < 8; ++i) *p++ = static_cast<char>((hashes[j] >> (8 * i)) & 0xff);
  }
}

// Sorts `hashes` and drops repeats. An hour's or a day's authors are thousands of random 64-bit
// values: a radix sort takes a third of std::sort's time on them; small sets are compared.
inline void SortUniqueHashes(std::vector<uint64_t>* hashes) {
  std::vector<uint64_t>& h = *hashes;
  if (h.size() < 256) {
    std::sort(h.begin(), h.end());
  } else {
    thread_local std::vector<uint64_t> scratch;
    scratch.resize(h.size());
    RadixSort<8>(h.data(), h.size(), scratch.data(),
                 [](uint64_t v, int d) -> size_t { return (v >> (8 * d)) & 0xff; });
  }
  h.erase(std::unique(h.begin(), h.end()), h.end());
}

inline Error StorageError(const std::string& what, const rocksdb::Status& s) {
  return Error::Storage(what + ": " + s.ToString());
}

struct Store::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* posts = nullptr;
  rocksdb::ColumnFamilyHandle* counters = nullptr;
  rocksdb::ColumnFamilyHandle* series = nullptr;
  rocksdb::ColumnFamilyHandle* series_1h = nullptr;
  rocksdb::ColumnFamilyHandle* series_1d = nullptr;
  rocksdb::ColumnFamilyHandle* SeriesFamily(Step step) const {
    return step == Step::kMinute ? series : step == Step::kHour ? series_1h : series_1d;
  }
  rocksdb::ColumnFamilyHandle* cursors = nullptr;
  rocksdb::ColumnFamilyHandle* refresh = nullptr;
  rocksdb::ColumnFamilyHandle* post_index = nullptr;
  rocksdb::ColumnFamilyHandle* authors = nullptr;
  rocksdb::ColumnFamilyHandle* outbox = nullptr;
  rocksdb::ColumnFamilyHandle* alert_log = nullptr;
  rocksdb::ColumnFamilyHandle* marks = nullptr;
  rocksdb::ColumnFamilyHandle* gaps = nullptr;
  bool secondary = false;
  bool bulk_load = false;  // OpenOptions::bulk_load: commits are SST files ingested at once
  // Filters must outlive the database; the destructor closes it before members go.
  std::vector<std::unique_ptr<rocksdb::CompactionFilter>> filters;
  // What each family (in `handles` order) was opened with, kept for bulk loads only: their
  // commits write SST files with these options.
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyOptions> cf_options;
  uint64_t bulk_files = 0;  // SST files written by bulk commits so far (names them)
  // A bulk load into a store whose `posts` was empty when opened: every key committed to `posts`
  // since, so FindPosts looks up only those (written_keys.h). Null otherwise, and once full.
  std::unique_ptr<WrittenKeys> written_posts;

  ~Impl() {
    if (db) {
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
      db->Close();
    }
  }
};

// Where bulk commits write their SST files before ingesting them (inside the store, so they are
// linked in, not copied); whatever a crash left there is removed when the store is next opened
// for a bulk load.
std::string BulkFilesDir(const std::string& store_path);

}  // namespace chorus::store
