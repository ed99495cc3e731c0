#include "store/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "core/record_codec.h"
#include "core/string_order.h"
#include "store/store_internal.h"

namespace chorus::store {
namespace {

constexpr const char* kSchemaKey = "schema_version";

// Counters and series buckets are sums: each write merges a delta instead of read-modify-write,
// so concurrent pages never lose an increment and a page's deltas commit with its cursor.
class Int64AddOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    int64_t sum = existing ? DecodeInt64(existing->ToStringView()) : 0;
    sum += DecodeInt64(value.ToStringView());
    *new_value = EncodeInt64(sum);
    return true;
  }
  const char* Name() const override { return "chorus.Int64Add"; }
};

// A bucket's author set (schema 3, store_internal.h) takes each write's authors by union, so pages
// and batches that add the same author to a bucket leave it there once, in any order.
class AuthorSetUnion : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    Union(in.existing_value, in.operand_list, &out->new_value);
    return true;
  }
  bool PartialMergeMulti(const rocksdb::Slice&, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger*) const override {
    Union(nullptr, operands, new_value);
    return true;
  }
  const char* Name() const override { return "chorus.AuthorSetUnion"; }

 private:
  template <typename Operands>
  static void Union(const rocksdb::Slice* existing, const Operands& operands, std::string* out) {
    std::vector<uint64_t> all;
    if (existing) AppendAuthorSet(existing->ToStringView(), &all);
    for (const auto& op : operands) AppendAuthorSet(op.ToStringView(), &all);
    SortUniqueHashes(&all);
    EncodeAuthorSet(all.data(), all.size(), out);
  }
};

// The part of a key up to and including its first separator ("<campaign>\x1f" of an index key,
// "<metric>\x1f" of a series key). Keys sharing it arrive nearly in order (a page's posts and
// buckets are close in time), so RocksDB inserts each next to the previous one of its prefix
// instead of searching the memtable from the top (memtable_insert_with_hint_prefix_extractor).
class UpToSeparator : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "chorus.UpToSeparator"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const void* sep = std::memchr(key.data(), kSep, key.size());
    return rocksdb::Slice(key.data(), static_cast<const char*>(sep) - key.data() + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), kSep, key.size()) != nullptr;
  }
};

constexpr std::string_view kPlatformNames[] = {"mastodon", "bluesky", "x", "reddit"};

// Drops time-keyed entries past their retention when RocksDB compacts them. One instance per
// column family; stateless apart from the options, so safe on RocksDB's compaction threads.
class RetentionFilter : public rocksdb::CompactionFilter {
 public:
  enum class Kind { kSeries1m, kSeries1h, kSeries1d, kAuthors, kPosts, kPostIndex };
  RetentionFilter(Kind kind, Retention retention, std::function<int64_t()> now_s)
      : kind_(kind), retention_(retention), now_s_(std::move(now_s)) {}

  Decision FilterV2(int, const rocksdb::Slice& key, ValueType type, const rocksdb::Slice& value,
                    std::string*, std::string*) const override {
    if (type != ValueType::kValue && type != ValueType::kMergeOperand) return Decision::kKeep;
    return Expired(key.ToStringView(), value.ToStringView()) ? Decision::kRemove : Decision::kKeep;
  }
  const char* Name() const override { return "chorus.Retention"; }

 private:
  int64_t Now() const {
    if (now_s_) return now_s_();
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
  }
  // True when a bucket of `step` starting at `start_s` ended more than `keep_s` ago.
  bool BucketExpired(int64_t start_s, Step step, int64_t keep_s) const {
    return keep_s > 0 && start_s + StepSeconds(step) <= Now() - keep_s;
  }
  bool PostExpired(int64_t created_ms) const {
    return retention_.posts_s > 0 && FloorDiv(created_ms, 1000) < Now() - retention_.posts_s;
  }
  int64_t KeepFor(Step step) const {
    return step == Step::kMinute ? retention_.minute_s
                                 : step == Step::kHour ? retention_.hour_s : retention_.day_s;
  }

  bool Expired(std::string_view key, std::string_view value) const {
    switch (kind_) {
      case Kind::kSeries1m:
      case Kind::kSeries1h:
      case Kind::kSeries1d: {
        if (key.size() < 8) return false;
        const Step step = kind_ == Kind::kSeries1m ? Step::kMinute
                          : kind_ == Kind::kSeries1h ? Step::kHour : Step::kDay;
        return BucketExpired(ReadOrderedInt64(key.substr(key.size() - 8)), step, KeepFor(step));
      }
      case Kind::kAuthors: {
        if (key.empty()) return false;
        // Author sets (upper case) and schema 2's entries (lower case) put the bucket alike.
        const char letter = static_cast<char>(key[0] | 0x20);
        const Step step = letter == 'm' ? Step::kMinute : letter == 'h' ? Step::kHour : Step::kDay;
        const size_t first = key.find(kSep);
        const size_t second = first == std::string_view::npos ? first : key.find(kSep, first + 1);
        if (second == std::string_view::npos || key.size() < second + 9) return false;
        return BucketExpired(ReadOrderedInt64(key.substr(second + 1, 8)), step, KeepFor(step));
      }
      case Kind::kPostIndex: {
        const size_t sep = key.find(kSep);
        if (sep == std::string_view::npos || key.size() < sep + 9) return false;
        return PostExpired(ReadOrderedInt64(key.substr(sep + 1, 8)));
      }
      case Kind::kPosts: {
        if (retention_.posts_s <= 0) return false;
        if (auto created_ms = ParsePostLocator(value)) return PostExpired(*created_ms);
        auto post = DecodeStoredPost(value);
        return post && PostExpired(post->post.created_at_ms);
      }
    }
    return false;
  }

  Kind kind_;
  Retention retention_;
  std::function<int64_t()> now_s_;
};

}  // namespace

int64_t StepSeconds(Step step) {
  switch (step) {
    case Step::kMinute: return 60;
    case Step::kHour: return 3600;
    case Step::kDay: return 86400;
  }
  return 60;
}

int64_t BucketStart(int64_t unix_s, Step step) {
  const int64_t size = StepSeconds(step);
  return FloorDiv(unix_s, size) * size;
}

void SeriesKeyTo(std::string* out, std::string_view metric, std::string_view campaign,
                 std::string_view platform, std::string_view term, int64_t bucket_start_s) {
  std::string& key = *out;
  key.clear();
  key.reserve(metric.size() + campaign.size() + platform.size() + term.size() + 12);
  key.append(metric).push_back(kSep);
  key.append(campaign).push_back(kSep);
  key.append(platform).push_back(kSep);
  key.append(term).push_back(kSep);
  PutOrderedInt64(&key, bucket_start_s);
}

std::string SeriesKey(std::string_view metric, std::string_view campaign, std::string_view platform,
                      std::string_view term, int64_t bucket_start_s) {
  std::string key;
  SeriesKeyTo(&key, metric, campaign, platform, term, bucket_start_s);
  return key;
}

std::string CursorKey(std::string_view source, std::string_view query) {
  std::string key(source);
  key.push_back(kSep);
  key.append(query);
  return key;
}

Store::Store(std::string path, std::unique_ptr<Impl> impl)
    : path_(std::move(path)), impl_(std::move(impl)) {}
Store::~Store() = default;

bool IsStoreInUse(const Error& e) {
  return e.code == ErrorCode::kStorage && e.message.find(kStoreInUse) != std::string::npos;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const OpenOptions& options) {
  std::error_code ec;
  if (!options.read_only && options.secondary_path.empty()) std::filesystem::create_directories(path, ec);
  if (ec) return Fail(Error::Storage("cannot create " + path + ": " + ec.message()));

  rocksdb::Options db_options;
  const bool writable = !options.read_only && options.secondary_path.empty();
  db_options.create_if_missing = writable;
  db_options.create_missing_column_families = writable;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 5;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::ColumnFamilyOptions plain;
  plain.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // `posts` is read by identity for every fetched post (dedupe), mostly for posts it does not
  // hold: Bloom filters, in its files and its memtable, answer those misses without a search.
  rocksdb::BlockBasedTableOptions filtered_table = table;
  filtered_table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions by_identity = plain;
  by_identity.table_factory.reset(rocksdb::NewBlockBasedTableFactory(filtered_table));
  by_identity.memtable_prefix_bloom_size_ratio = 0.02;
  by_identity.memtable_whole_key_filtering = true;
  rocksdb::ColumnFamilyOptions summed = plain;
  summed.merge_operator = std::make_shared<Int64AddOperator>();
  // Bounds the operands a counter read must fold (pitfalls.md: read cost grows with operands).
  summed.max_successive_merges = 64;
  // ... except for minute buckets: a minute is only written by the few pages that cover it, so
  // its operands stay few anyway, and the bound costs every merge a walk of the key's earlier
  // entries in the memtable (a seventh of `chorusctl import`'s CPU when it was on).
  rocksdb::ColumnFamilyOptions minute = summed;
  minute.max_successive_merges = 0;
  const std::shared_ptr<const rocksdb::SliceTransform> hint = std::make_shared<UpToSeparator>();
  rocksdb::ColumnFamilyOptions ordered = plain;  // post_index
  rocksdb::ColumnFamilyOptions author_sets = plain;
  author_sets.merge_operator = std::make_shared<AuthorSetUnion>();
  author_sets.max_successive_merges = 64;  // chorusd adds a page's few authors at a time
  // Hashes are random bits: compressing them would cost every flush, compaction and read for nothing.
  author_sets.compression = rocksdb::kNoCompression;
  for (auto* o : {&ordered, &summed, &minute, &author_sets}) {
    o->memtable_insert_with_hint_prefix_extractor = hint;
  }

  auto impl = std::make_unique<Impl>();
  using Kind = RetentionFilter::Kind;
  auto filtered = [&](rocksdb::ColumnFamilyOptions base, Kind kind) {
    impl->filters.push_back(std::make_unique<RetentionFilter>(kind, options.retention, options.now_s));
    base.compaction_filter = impl->filters.back().get();
    return base;
  };

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, plain},
      {"posts", filtered(by_identity, Kind::kPosts)},
      {"counters", summed},
      {"series_1m", filtered(minute, Kind::kSeries1m)},
      {"cursors", plain},
      {"refresh", plain},
      {"series_1h", filtered(summed, Kind::kSeries1h)},
      {"series_1d", filtered(summed, Kind::kSeries1d)},
      {"post_index", filtered(ordered, Kind::kPostIndex)},
      {"authors", filtered(author_sets, Kind::kAuthors)},
      {"outbox", plain},
      {"alert_log", plain},
      {"marks", plain},
      {"gaps", plain},
  };
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (!options.secondary_path.empty()) {
    // A secondary keeps every file open (RocksDB requires it) and tails the primary's MANIFEST.
    db_options.max_open_files = -1;
    std::filesystem::create_directories(options.secondary_path, ec);
    if (ec) return Fail(Error::Storage("cannot create " + options.secondary_path + ": " + ec.message()));
    s = rocksdb::DB::OpenAsSecondary(db_options, path, options.secondary_path, cfs, &impl->handles, &raw);
    impl->secondary = true;
  } else if (options.read_only) {
    s = rocksdb::DB::OpenForReadOnly(db_options, path, cfs, &impl->handles, &raw);
  } else {
    s = rocksdb::DB::Open(db_options, path, cfs, &impl->handles, &raw);
  }
  if (!s.ok()) {
    // RocksDB has no status code of its own for "another process holds LOCK"; callers need to
    // tell it apart (a running chorusd) from a broken store, so it is classified here, once.
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Fail(Error::Storage("cannot open store at " + path + ": " + std::string(kStoreInUse) +
                                 " (" + s.ToString() + ")"));
    }
    return Fail(StorageError("cannot open store at " + path, s));
  }
  impl->db.reset(raw);
  impl->bulk_load = options.bulk_load && writable;
  if (impl->bulk_load) {
    impl->db_options = db_options;
    // Bulk files get 32 KB blocks rather than 4 KB: written once, then read in ranges (exports,
    // series) or compacted. An eighth as many blocks to compress, index and checksum (each LZ4
    // block also clears a 16 KB stream state and its output buffer first): 16 KB made an import
    // 4% cheaper, 32 KB 1.4% fewer instructions again, and a 5% smaller store.
    for (const auto& cf : cfs) {
      rocksdb::BlockBasedTableOptions bulk_table =
          *cf.options.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
      bulk_table.block_size = 32 * 1024;
      rocksdb::ColumnFamilyOptions o = cf.options;
      o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(bulk_table));
      impl->cf_options.push_back(std::move(o));
    }
    // Files a bulk commit wrote but a crash kept from being ingested: never part of the store.
    std::filesystem::remove_all(BulkFilesDir(path), ec);
  }
  impl->meta = impl->handles[0];
  impl->posts = impl->handles[1];
  impl->counters = impl->handles[2];
  impl->series = impl->handles[3];
  impl->cursors = impl->handles[4];
  impl->refresh = impl->handles[5];
  impl->series_1h = impl->handles[6];
  impl->series_1d = impl->handles[7];
  impl->post_index = impl->handles[8];
  impl->authors = impl->handles[9];
  impl->outbox = impl->handles[10];
  impl->alert_log = impl->handles[11];
  impl->marks = impl->handles[12];
  impl->gaps = impl->handles[13];
  if (impl->bulk_load) {
    // Up to 8 M posts (64 MB of fingerprints): past that, lookups go to the files again.
    constexpr size_t kMaxWrittenPosts = size_t{8} << 20;
    std::unique_ptr<rocksdb::Iterator> it(impl->db->NewIterator(rocksdb::ReadOptions(), impl->posts));
    it->SeekToFirst();
    if (!it->Valid() && it->status().ok()) impl->written_posts = std::make_unique<WrittenKeys>(kMaxWrittenPosts);
  }

  std::string version;
  s = impl->db->Get(rocksdb::ReadOptions(), impl->meta, kSchemaKey, &version);
  if (s.IsNotFound()) {
    if (writable) {
      s = impl->db->Put(rocksdb::WriteOptions(), impl->meta, kSchemaKey,
                        std::to_string(kSchemaVersion));
      if (!s.ok()) return Fail(StorageError("cannot write schema version", s));
    }
  } else if (!s.ok()) {
    return Fail(StorageError("cannot read schema version", s));
  } else if (version != "1" && version != "2" && version != std::to_string(kSchemaVersion)) {
    return Fail(Error::Storage("store at " + path + " has schema version " + version +
                               ", this chorus understands 1 to " + std::to_string(kSchemaVersion)));
  } else if (version != std::to_string(kSchemaVersion) && writable) {
    // Schema 1 and 2 stores are read as they are (see PostLocator, ForEachAuthor); the mark stops
    // an older chorus from misreading what this one writes.
    s = impl->db->Put(rocksdb::WriteOptions(), impl->meta, kSchemaKey, std::to_string(kSchemaVersion));
    if (!s.ok()) return Fail(StorageError("cannot write schema version", s));
  }
  return std::unique_ptr<Store>(new Store(path, std::move(impl)));
}

Result<std::vector<std::optional<StoredPost>>> Store::GetPosts(
    const std::vector<std::string>& keys) const {
  std::vector<std::optional<StoredPost>> out(keys.size());
  auto found = FindPosts(std::vector<std::string_view>(keys.begin(), keys.end()));
  if (!found) return Fail(found.error());
  for (auto& [i, post] : *found) out[i] = std::move(post);
  return out;
}

Result<std::vector<std::pair<size_t, StoredPost>>> Store::FindPosts(
    const std::vector<std::string_view>& keys) const {
  std::vector<std::pair<size_t, StoredPost>> out;
  if (keys.empty()) return out;
  if (const WrittenKeys* written = impl_->written_posts.get()) {
    // Only keys this bulk load wrote can be in the store.
    std::vector<bool> may;
    written->MayContainEach(keys, &may);
    std::vector<std::string_view> maybe;
    std::vector<size_t> maybe_at;  // their indices in `keys`
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!may[i]) continue;
      maybe.push_back(keys[i]);
      maybe_at.push_back(i);
    }
    if (maybe.size() < keys.size()) {
      auto found = FindStoredPosts(maybe);
      if (!found) return Fail(found.error());
      for (auto& [i, post] : *found) out.emplace_back(maybe_at[i], std::move(post));
      return out;
    }
  }
  return FindStoredPosts(keys);
}

Result<std::vector<std::pair<size_t, StoredPost>>> Store::FindStoredPosts(
    const std::vector<std::string_view>& keys) const {
  std::vector<std::pair<size_t, StoredPost>> out;
  if (keys.empty()) return out;
  // Keys go to MultiGet sorted, by SortedOrder rather than by MultiGet's own comparisons of
  // whole keys (post URIs share long prefixes). `visit` sees each key's index and result.
  auto multi_get = [&](rocksdb::ColumnFamilyHandle* cf, const std::vector<std::string_view>& ks,
                       const auto& visit) -> Result<void> {
    const std::vector<uint32_t> order = SortedOrder(ks);
    std::vector<rocksdb::Slice> sorted;
    sorted.reserve(ks.size());
    for (uint32_t i : order) sorted.emplace_back(ks[i].data(), ks[i].size());
    std::vector<rocksdb::PinnableSlice> values(ks.size());
    std::vector<rocksdb::Status> statuses(ks.size());
    impl_->db->MultiGet(rocksdb::ReadOptions(), cf, ks.size(), sorted.data(), values.data(),
                        statuses.data(), /*sorted_input=*/true);
    for (size_t j = 0; j < order.size(); ++j) {
      if (statuses[j].IsNotFound()) continue;
      if (!statuses[j].ok()) return Fail(StorageError("cannot read post", statuses[j]));
      if (auto r = visit(order[j], values[j].ToStringView()); !r) return r;
    }
    return {};
  };
  auto found = [&](size_t i, std::string_view encoded) -> Result<void> {
    auto decoded = DecodeStoredPost(encoded);
    if (!decoded) return Fail(decoded.error());
    out.emplace_back(i, std::move(*decoded));
    return {};
  };
  // Schema 2 locators lead to the post's "" index entry; schema 1 values are the post itself.
  std::vector<size_t> located;
  std::vector<std::string> entry_keys;
  auto r = multi_get(impl_->posts, keys, [&](size_t i, std::string_view v) -> Result<void> {
    auto created_ms = ParsePostLocator(v);
    if (!created_ms) return found(i, v);
    located.push_back(i);
    entry_keys.push_back(IndexKey("", *created_ms, keys[i]));
    return {};
  });
  if (!r) return Fail(r.error());
  if (!located.empty()) {
    // An index entry missing behind its locator was dropped by retention: the post is gone.
    r = multi_get(impl_->post_index, std::vector<std::string_view>(entry_keys.begin(), entry_keys.end()),
                  [&](size_t j, std::string_view v) { return found(located[j], v); });
    if (!r) return Fail(r.error());
  }
  return out;
}

Result<std::optional<std::string>> Store::GetCursor(const std::string& cursor_key) const {
  std::string value;
  const auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cursors, cursor_key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return Fail(StorageError("cannot read cursor", s));
  return std::optional<std::string>(std::move(value));
}

Result<std::map<std::string, int64_t>> Store::LoadCounters() const {
  std::map<std::string, int64_t> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->counters));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out[it->key().ToString()] = DecodeInt64(it->value().ToStringView());
  }
  if (!it->status().ok()) return Fail(StorageError("cannot read counters", it->status()));
  return out;
}

Result<std::vector<std::pair<int64_t, int64_t>>> Store::ReadSeries(
    std::string_view metric, std::string_view campaign, std::string_view platform,
    std::string_view term, int64_t from_s, int64_t to_s, Step step) const {
  const std::string start = SeriesKey(metric, campaign, platform, term, from_s);
  const std::string end = SeriesKey(metric, campaign, platform, term, to_s);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::vector<std::pair<int64_t, int64_t>> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->SeriesFamily(step)));
  for (it->Seek(start); it->Valid(); it->Next()) {
    const auto key = it->key().ToStringView();
    out.emplace_back(ReadOrderedInt64(key.substr(key.size() - 8)), DecodeInt64(it->value().ToStringView()));
  }
  if (!it->status().ok()) return Fail(StorageError("cannot read series", it->status()));
  return out;
}

Result<int64_t> Store::CountPosts() const {
  int64_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->posts));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  if (!it->status().ok()) return Fail(StorageError("cannot count posts", it->status()));
  return n;
}

std::string RefreshEntry::StoreKey() const {
  std::string key = source;
  key.push_back(kSep);
  PutOrderedInt64(&key, due_ms);
  key.append(post_key);
  return key;
}

std::string RefreshEntry::StoreValue() const {
  return std::to_string(stage) + kSep + local_id;
}

Result<std::vector<RefreshEntry>> Store::DueRefreshes(const std::string& source, int64_t now_ms,
                                                      size_t limit) const {
  std::string start = source;
  start.push_back(kSep);
  const size_t prefix = start.size();
  std::string end = start;
  PutOrderedInt64(&end, now_ms + 1);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::vector<RefreshEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->refresh));
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    const auto key = it->key().ToStringView();
    const auto value = it->value().ToStringView();
    if (key.size() < prefix + 8) continue;
    RefreshEntry e;
    e.source = source;
    e.due_ms = ReadOrderedInt64(key.substr(prefix, 8));
    e.post_key = std::string(key.substr(prefix + 8));
    const size_t sep = value.find(kSep);
    if (sep == std::string_view::npos) continue;
    e.stage = std::atoi(std::string(value.substr(0, sep)).c_str());
    e.local_id = std::string(value.substr(sep + 1));
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return Fail(StorageError("cannot read refresh schedule", it->status()));
  return out;
}

namespace {

// What a scan that reads its whole range (PostScan::read_through) asks of the file system at a
// time: on a 1M-post export, 256 KiB cut wall time by a fifth (fewer, larger reads); more did not
// help.
constexpr size_t kScanReadAhead = 256u << 10;

// Index entries of a scan whose post only `posts` holds (schema 1), read a batch at a time with
// RocksDB's batched MultiGet (keys of one batch that share a data block read it once; values are
// pinned, not copied), so memory stays that of one batch however many posts a scan visits.
class LegacyPosts {
 public:
  LegacyPosts(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* posts, size_t capacity)
      : db_(db), posts_(posts), cursors_(capacity), keys_(capacity), values_(capacity),
        statuses_(capacity) {}

  bool full() const { return n_ == cursors_.size(); }
  bool empty() const { return n_ == 0; }

  // An index entry; the post key follows its "<campaign>\x1f" (`prefix_size` bytes) and time.
  void Add(std::string_view index_key, size_t prefix_size) {
    cursors_[n_].assign(index_key);
    const size_t offset = prefix_size + 8;
    keys_[n_] = rocksdb::Slice(cursors_[n_].data() + offset, cursors_[n_].size() - offset);
    ++n_;
  }

  // Reads the batch's posts and visits them in order; a locator in `posts` here means the post's
  // entry was dropped by retention. False when `visit` asked to stop.
  Result<bool> Visit(const std::function<bool(std::string_view bytes, const std::string& cursor)>& visit) {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    db_->MultiGet(ro, posts_, n_, keys_.data(), values_.data(), statuses_.data());
    bool more = true;
    for (size_t i = 0; i < n_ && more; ++i) {
      if (statuses_[i].IsNotFound()) continue;  // dropped by retention before its index entry
      if (!statuses_[i].ok()) return Fail(StorageError("cannot read post", statuses_[i]));
      const std::string_view v = values_[i].ToStringView();
      if (!ParsePostLocator(v)) more = visit(v, cursors_[i]);
    }
    for (size_t i = 0; i < n_; ++i) values_[i].Reset();
    n_ = 0;
    return more;
  }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* posts_;
  size_t n_ = 0;
  std::vector<std::string> cursors_;  // the index keys
  std::vector<rocksdb::Slice> keys_;  // their post keys
  std::vector<rocksdb::PinnableSlice> values_;
  std::vector<rocksdb::Status> statuses_;
};

// Follows a campaign's index entries through the "" entries they lead to, which are in the same
// order: a second iterator steps forward to each, seeking only when the next is far ahead (a
// campaign with few of the posts), so a dense campaign is read as sequentially as all posts.
class EntryFollower {
 public:
  EntryFollower(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* index, int64_t to_ms,
                bool read_ahead) {
    upper_ = IndexPrefix("");
    PutOrderedInt64(&upper_, to_ms);
    upper_slice_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice_;
    ro.fill_cache = false;
    if (read_ahead) ro.readahead_size = kScanReadAhead;
    it_.reset(db->NewIterator(ro, index));
  }

  // The value of the "" entry for the campaign entry whose key follows its `prefix_size`-byte
  // prefix; "" when there is none (or it is a schema 1 entry, which holds nothing).
  Result<std::string_view> Find(std::string_view campaign_key, size_t prefix_size) {
    target_.assign(1, kSep);
    target_.append(campaign_key.substr(prefix_size));
    constexpr int kMaxSteps = 16;
    if (!positioned_) {
      it_->Seek(target_);
      positioned_ = true;
    } else {
      for (int step = 0; step < kMaxSteps && it_->Valid() && it_->key().compare(target_) < 0;
           ++step) {
        it_->Next();
      }
      if (it_->Valid() && it_->key().compare(target_) < 0) it_->Seek(target_);
    }
    if (!it_->status().ok()) return Fail(StorageError("cannot scan posts", it_->status()));
    if (it_->Valid() && it_->key() == rocksdb::Slice(target_)) return it_->value().ToStringView();
    return std::string_view();
  }

 private:
  std::string upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
  std::string target_;
  bool positioned_ = false;
};

}  // namespace

Result<void> Store::ScanPosts(const PostScan& scan, const PostVisitor& visit) const {
  const std::string prefix = IndexPrefix(scan.campaign);
  std::string start = prefix;
  PutOrderedInt64(&start, scan.from_ms);
  std::string end = prefix;
  PutOrderedInt64(&end, scan.to_ms);
  if (!scan.after.empty() && scan.after.compare(0, prefix.size(), prefix) != 0) {
    return Fail(Error::InvalidArgument("cursor does not belong to this query"));
  }
  const bool resume = !scan.after.empty() && scan.after > start;
  if (resume) start = scan.after;
  std::optional<Platform> platform;
  if (!scan.platform.empty()) {
    platform = ParsePlatform(scan.platform);
    if (!platform) return {};  // no stored post is on a platform that does not exist
  }
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  // A long scan (an export) reads the whole range once: caching its blocks would only evict what
  // the daemon reads repeatedly.
  ro.fill_cache = false;
  if (scan.read_through) ro.readahead_size = kScanReadAhead;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->post_index));
  it->Seek(start);
  if (resume && it->Valid() && it->key().ToStringView() == scan.after) it->Next();

  // "" entries hold their post (schema 2), so posts are read in the order they are stored; a
  // campaign's entries lead to those. Posts of schema 1 stores are looked up in batches.
  std::optional<EntryFollower> follower;
  if (!scan.campaign.empty()) {
    follower.emplace(impl_->db.get(), impl_->post_index, scan.to_ms, scan.read_through);
  }
  constexpr size_t kChunk = 512;
  LegacyPosts legacy(impl_->db.get(), impl_->posts, kChunk);
  StoredPost post;
  Error decode_error;
  bool failed = false;
  auto visit_bytes = [&](std::string_view bytes, const std::string& cursor) {
    if (platform && StoredPostPlatform(bytes) != platform) return true;
    if (auto decoded = DecodeStoredPostInto(bytes, &post); !decoded) {
      decode_error = decoded.error();
      failed = true;
      return false;
    }
    return visit(post, cursor);
  };
  auto drain = [&]() -> Result<bool> {
    auto more = legacy.Visit(visit_bytes);
    if (!more) return Fail(more.error());
    if (failed) return Fail(decode_error);
    return *more;
  };
  std::string cursor;
  for (; it->Valid(); it->Next()) {
    const auto key = it->key().ToStringView();
    if (key.size() < prefix.size() + 8) continue;
    std::string_view bytes = it->value().ToStringView();
    if (follower) {
      auto found = follower->Find(key, prefix.size());
      if (!found) return Fail(found.error());
      bytes = *found;
    }
    if (bytes.empty()) {
      legacy.Add(key, prefix.size());
      if (legacy.full()) {
        auto more = drain();
        if (!more) return Fail(more.error());
        if (!*more) return {};
      }
      continue;
    }
    // Posts come out in index order: those waiting for a lookup go first.
    if (!legacy.empty()) {
      auto more = drain();
      if (!more) return Fail(more.error());
      if (!*more) return {};
    }
    cursor.assign(key);
    if (!visit_bytes(bytes, cursor)) return failed ? Fail(decode_error) : Result<void>{};
  }
  if (!it->status().ok()) return Fail(StorageError("cannot scan posts", it->status()));
  if (!legacy.empty()) {
    auto more = drain();
    if (!more) return Fail(more.error());
  }
  return {};
}

namespace {
// Visits the authors of `campaign` on `platform` ("" = each platform in turn) in buckets of `step`
// starting in [from_s, to_s), as (platform index, bucket start, AuthorHash): those of the author
// sets, and those of a schema 2 store's one entry per author (hashed here), which may hold the
// same author in the same bucket again.
template <typename Visit>
Result<void> ForEachAuthor(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view campaign,
                           std::string_view platform, int64_t from_s, int64_t to_s, Step step,
                           const Visit& visit) {
  std::vector<uint64_t> hashes;
  for (size_t pi = 0; pi < std::size(kPlatformNames); ++pi) {
    if (!platform.empty() && kPlatformNames[pi] != platform) continue;
    for (const bool sets : {true, false}) {
      const std::string prefix = sets ? AuthorSetPrefix(step, campaign, kPlatformNames[pi])
                                      : AuthorPrefix(step, campaign, kPlatformNames[pi]);
      std::string start = prefix, end = prefix;
      PutOrderedInt64(&start, from_s);
      PutOrderedInt64(&end, to_s);
      rocksdb::ReadOptions ro;
      rocksdb::Slice upper(end);
      ro.iterate_upper_bound = &upper;
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
      for (it->Seek(start); it->Valid(); it->Next()) {
        const auto key = it->key().ToStringView();
        if (key.size() < prefix.size() + 8) continue;
        const int64_t bucket = ReadOrderedInt64(key.substr(prefix.size(), 8));
        if (!sets) {
          visit(pi, bucket, AuthorHash(key.substr(prefix.size() + 8)));
          continue;
        }
        hashes.clear();
        AppendAuthorSet(it->value().ToStringView(), &hashes);
        for (const uint64_t h : hashes) visit(pi, bucket, h);
      }
      if (!it->status().ok()) return Fail(StorageError("cannot read authors", it->status()));
    }
  }
  return {};
}
}  // namespace

Result<std::vector<std::pair<int64_t, int64_t>>> Store::UniqueAuthorsSeries(
    std::string_view campaign, std::string_view platform, int64_t from_s, int64_t to_s,
    Step step) const {
  // (bucket, platform, author), each once: an identity belongs to one platform, and an author
  // can be in a bucket's set and in a schema 2 entry of it both.
  std::vector<std::tuple<int64_t, uint8_t, uint64_t>> seen;
  auto r = ForEachAuthor(impl_->db.get(), impl_->authors, campaign, platform, from_s, to_s, step,
                         [&](size_t pi, int64_t bucket, uint64_t h) {
                           seen.emplace_back(bucket, static_cast<uint8_t>(pi), h);
                         });
  if (!r) return Fail(r.error());
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& [bucket, pi, h] : seen) {
    if (out.empty() || out.back().first != bucket) out.emplace_back(bucket, 0);
    ++out.back().second;
  }
  return out;
}

Result<int64_t> Store::CountDistinctAuthors(std::string_view campaign, std::string_view platform,
                                            int64_t from_s, int64_t to_s, Step step) const {
  auto counts = CountDistinctAuthorsSince(campaign, platform, {from_s}, to_s, step);
  if (!counts) return Fail(counts.error());
  return counts->front();
}

Result<std::vector<int64_t>> Store::CountDistinctAuthorsSince(std::string_view campaign,
                                                              std::string_view platform,
                                                              const std::vector<int64_t>& froms_s,
                                                              int64_t to_s, Step step) const {
  std::vector<int64_t> counts(froms_s.size(), 0);
  if (froms_s.empty()) return counts;
  const int64_t widest = *std::min_element(froms_s.begin(), froms_s.end());
  // An identity belongs to one platform: each author's latest bucket, per platform; an author
  // counts in every range that reaches back to that bucket.
  std::vector<std::unordered_map<uint64_t, int64_t>> latest(std::size(kPlatformNames));
  auto r = ForEachAuthor(impl_->db.get(), impl_->authors, campaign, platform, widest, to_s, step,
                         [&](size_t pi, int64_t bucket, uint64_t author) {
                           auto [it, inserted] = latest[pi].try_emplace(author, bucket);
                           if (!inserted) it->second = std::max(it->second, bucket);
                         });
  if (!r) return Fail(r.error());
  for (const auto& authors : latest) {
    for (const auto& [author, bucket] : authors) {
      for (size_t i = 0; i < froms_s.size(); ++i) counts[i] += bucket >= froms_s[i];
    }
  }
  return counts;
}

namespace {
Result<std::vector<std::pair<std::string, std::string>>> ScanFamily(rocksdb::DB* db,
                                                                    rocksdb::ColumnFamilyHandle* cf,
                                                                    size_t limit, bool newest_first) {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  if (newest_first) it->SeekToLast();
  else it->SeekToFirst();
  for (; it->Valid() && out.size() < limit; newest_first ? it->Prev() : it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return Fail(StorageError("cannot scan", it->status()));
  return out;
}
}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> Store::ScanOutbox(size_t limit) const {
  return ScanFamily(impl_->db.get(), impl_->outbox, limit, false);
}

Result<std::vector<std::pair<std::string, std::string>>> Store::ScanAlertLog(size_t limit) const {
  return ScanFamily(impl_->db.get(), impl_->alert_log, limit, true);
}

Result<void> Store::TrimAlertLog(const std::string& key) {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->alert_log));
  it->SeekToFirst();
  if (!it->Valid() || it->key().ToStringView() >= key) return {};
  const auto s = impl_->db->DeleteRange(rocksdb::WriteOptions(), impl_->alert_log, it->key(), key);
  if (!s.ok()) return Fail(StorageError("cannot trim alert log", s));
  return {};
}

Result<std::map<std::string, int64_t>> Store::LoadMarks() const {
  std::map<std::string, int64_t> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->marks));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out[it->key().ToString()] = DecodeInt64(it->value().ToStringView());
  }
  if (!it->status().ok()) return Fail(StorageError("cannot read marks", it->status()));
  return out;
}

Result<std::vector<Gap>> Store::ReadGaps(int64_t from_ms, int64_t to_ms) const {
  std::vector<Gap> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->gaps));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto key = it->key().ToStringView();
    const auto value = it->value().ToStringView();
    const size_t sep = key.find(kSep);
    if (sep == std::string_view::npos || key.size() != sep + 9 || value.size() != 8) continue;
    Gap g{std::string(key.substr(0, sep)), ReadOrderedInt64(key.substr(sep + 1)), ReadOrderedInt64(value)};
    if (g.to_ms > from_ms && g.from_ms < to_ms) out.push_back(std::move(g));
  }
  if (!it->status().ok()) return Fail(StorageError("cannot read gaps", it->status()));
  return out;
}

Result<void> Store::CompactForRetention() {
  rocksdb::CompactRangeOptions options;
  // Files already at the bottom level are rewritten too, so the filter sees every entry.
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (auto* cf : {impl_->series, impl_->series_1h, impl_->series_1d, impl_->authors, impl_->posts,
                   impl_->post_index}) {
    const auto s = impl_->db->CompactRange(options, cf, nullptr, nullptr);
    if (!s.ok()) return Fail(StorageError("cannot compact for retention", s));
  }
  return {};
}

Result<void> Store::Flush() {
  rocksdb::FlushOptions o;
  o.wait = true;
  const auto s = impl_->db->Flush(o, impl_->handles);
  if (!s.ok()) return Fail(StorageError("cannot flush the store", s));
  return {};
}

bool Store::SettleCompactions(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    uint64_t running = 0;
    bool busy = impl_->db->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions, &running) &&
                running > 0;
    for (size_t i = 0; i < impl_->handles.size() && !busy; ++i) {
      uint64_t pending = 0;
      busy = impl_->db->GetIntProperty(impl_->handles[i], rocksdb::DB::Properties::kCompactionPending,
                                       &pending) && pending > 0;
    }
    if (!busy) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<void> Store::CatchUp() {
  if (!impl_->secondary) return {};
  const auto s = impl_->db->TryCatchUpWithPrimary();
  if (!s.ok()) return Fail(StorageError("cannot catch up with the running store", s));
  return {};
}

uint64_t Store::ApproximateSizeBytes() const {
  uint64_t sst = 0, mem = 0;
  impl_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
  impl_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &mem);
  return sst + mem;
}

}  // namespace chorus::store
