#include "store/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace chorus::store {
namespace {

constexpr char kSep = '\x1f';
constexpr const char* kSchemaKey = "schema_version";

std::string EncodeInt64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
  return out;
}

int64_t DecodeInt64(std::string_view s) {
  if (s.size() != 8) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s[i])) << (8 * i);
  return static_cast<int64_t>(v);
}

void AppendBigEndian(std::string* out, int64_t v) {
  // Offset so negative times still sort before positive ones.
  const uint64_t u = static_cast<uint64_t>(v) ^ (1ULL << 63);
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

int64_t ReadBigEndian(std::string_view s) {
  uint64_t u = 0;
  for (char c : s) u = (u << 8) | static_cast<uint8_t>(c);
  return static_cast<int64_t>(u ^ (1ULL << 63));
}

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

Error StorageError(const std::string& what, const rocksdb::Status& s) {
  return Error::Storage(what + ": " + s.ToString());
}

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
  const int64_t q = unix_s / size;
  return (unix_s % size < 0 ? q - 1 : q) * size;
}

std::string SeriesKey(std::string_view metric, std::string_view campaign, std::string_view platform,
                      std::string_view term, int64_t bucket_start_s) {
  std::string key;
  key.reserve(metric.size() + campaign.size() + platform.size() + term.size() + 12);
  key.append(metric).push_back(kSep);
  key.append(campaign).push_back(kSep);
  key.append(platform).push_back(kSep);
  key.append(term).push_back(kSep);
  AppendBigEndian(&key, bucket_start_s);
  return key;
}

std::string CursorKey(std::string_view source, std::string_view query) {
  std::string key(source);
  key.push_back(kSep);
  key.append(query);
  return key;
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

  ~Impl() {
    if (db) {
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
      db->Close();
    }
  }
};

Store::Store(std::string path, std::unique_ptr<Impl> impl)
    : path_(std::move(path)), impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const OpenOptions& options) {
  std::error_code ec;
  if (!options.read_only) std::filesystem::create_directories(path, ec);
  if (ec) return Fail(Error::Storage("cannot create " + path + ": " + ec.message()));

  rocksdb::Options db_options;
  db_options.create_if_missing = !options.read_only;
  db_options.create_missing_column_families = !options.read_only;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 5;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::ColumnFamilyOptions plain;
  plain.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::ColumnFamilyOptions summed = plain;
  summed.merge_operator = std::make_shared<Int64AddOperator>();
  // Bounds the operands a counter read must fold (pitfalls.md: read cost grows with operands).
  summed.max_successive_merges = 64;

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, plain}, {"posts", plain},   {"counters", summed},
      {"series_1m", summed},                      {"cursors", plain},
      {"refresh", plain},
      {"series_1h", summed},
      {"series_1d", summed},
  };
  auto impl = std::make_unique<Impl>();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    s = rocksdb::DB::OpenForReadOnly(db_options, path, cfs, &impl->handles, &raw);
  } else {
    s = rocksdb::DB::Open(db_options, path, cfs, &impl->handles, &raw);
  }
  if (!s.ok()) return Fail(StorageError("cannot open store at " + path, s));
  impl->db.reset(raw);
  impl->meta = impl->handles[0];
  impl->posts = impl->handles[1];
  impl->counters = impl->handles[2];
  impl->series = impl->handles[3];
  impl->cursors = impl->handles[4];
  impl->refresh = impl->handles[5];
  impl->series_1h = impl->handles[6];
  impl->series_1d = impl->handles[7];

  std::string version;
  s = impl->db->Get(rocksdb::ReadOptions(), impl->meta, kSchemaKey, &version);
  if (s.IsNotFound()) {
    if (!options.read_only) {
      s = impl->db->Put(rocksdb::WriteOptions(), impl->meta, kSchemaKey,
                        std::to_string(kSchemaVersion));
      if (!s.ok()) return Fail(StorageError("cannot write schema version", s));
    }
  } else if (!s.ok()) {
    return Fail(StorageError("cannot read schema version", s));
  } else if (version != std::to_string(kSchemaVersion)) {
    return Fail(Error::Storage("store at " + path + " has schema version " + version +
                               ", this chorus understands " + std::to_string(kSchemaVersion)));
  }
  return std::unique_ptr<Store>(new Store(path, std::move(impl)));
}

Result<std::vector<std::optional<StoredPost>>> Store::GetPosts(
    const std::vector<std::string>& keys) const {
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(keys.size(), impl_->posts);
  std::vector<std::string> values;
  const auto statuses = impl_->db->MultiGet(rocksdb::ReadOptions(), cfs, slices, &values);
  std::vector<std::optional<StoredPost>> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return Fail(StorageError("cannot read post", statuses[i]));
    auto decoded = DecodeStoredPost(values[i]);
    if (!decoded) return Fail(decoded.error());
    out[i] = std::move(*decoded);
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
    out.emplace_back(ReadBigEndian(key.substr(key.size() - 8)), DecodeInt64(it->value().ToStringView()));
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
  AppendBigEndian(&key, due_ms);
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
  AppendBigEndian(&end, now_ms + 1);
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
    e.due_ms = ReadBigEndian(key.substr(prefix, 8));
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

Result<void> Store::Commit(const Batch& batch) {
  rocksdb::WriteBatch wb;
  for (const auto& p : batch.posts) wb.Put(impl_->posts, p.post.key, EncodeStoredPost(p));
  for (const auto& [k, v] : batch.counter_deltas) wb.Merge(impl_->counters, k, EncodeInt64(v));
  for (const auto& [k, v] : batch.series_deltas) {
    const std::string value = EncodeInt64(v);
    wb.Merge(impl_->series, k, value);
    // The same delta lands in the hour and day holding the minute: same key prefix, coarser start.
    const std::string_view prefix = std::string_view(k).substr(0, k.size() - 8);
    const int64_t minute = ReadBigEndian(std::string_view(k).substr(k.size() - 8));
    for (Step step : {Step::kHour, Step::kDay}) {
      std::string coarse(prefix);
      AppendBigEndian(&coarse, BucketStart(minute, step));
      wb.Merge(impl_->SeriesFamily(step), coarse, value);
    }
  }
  for (const auto& [k, v] : batch.cursors) wb.Put(impl_->cursors, k, v);
  for (const auto& r : batch.refresh_deletes) wb.Delete(impl_->refresh, r.StoreKey());
  for (const auto& r : batch.refresh_puts) wb.Put(impl_->refresh, r.StoreKey(), r.StoreValue());
  // The WAL is written before Write returns, so a killed process loses nothing it committed;
  // syncing every page to disk would only matter for power loss, and costs an fsync a page.
  const auto s = impl_->db->Write(rocksdb::WriteOptions(), &wb);
  if (!s.ok()) return Fail(StorageError("cannot commit page", s));
  return {};
}

}  // namespace chorus::store
