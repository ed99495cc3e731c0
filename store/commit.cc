// Store::Commit: what one Batch writes to each column family, and the two ways it gets there.
//
// The daemon's commits are one WriteBatch through the write-ahead log and the memtables, so a
// page's posts, counts and cursor survive kill -9 together (design §5). A bulk load
// (OpenOptions::bulk_load, `chorusctl import`) writes each family's entries of the batch, already
// sorted, straight into an SST file and ingests the files of all families in one atomic step
// (IngestExternalFiles): no memtable inserts, no flushes, no write-ahead log. Each ingestion is
// recorded atomically in the MANIFEST, so after a crash the store holds whole batches up to some
// point and none after it, which re-running the idempotent import completes. A small bulk batch
// (the import's last, or one of a tiny --batch-posts) takes the daemon's way, as atomic.
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "core/string_order.h"
#include "store/store_internal.h"

namespace chorus::store {
namespace {

// Where Emit sends a batch's entries. Within one family, keys arrive in strictly ascending order:
// each key once (Emit keeps the last of equal entries, as a WriteBatch would).
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void Put(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& key,
                   const rocksdb::Slice& value) = 0;
  virtual void Merge(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& key,
                     const rocksdb::Slice& value) = 0;
  virtual void Delete(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& key) = 0;
};

class WriteBatchSink : public Sink {
 public:
  explicit WriteBatchSink(size_t reserve) : wb_(reserve) {}
  void Put(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
    wb_.Put(cf, k, v);
  }
  void Merge(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
    wb_.Merge(cf, k, v);
  }
  void Delete(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& k) override { wb_.Delete(cf, k); }
  rocksdb::WriteBatch* batch() { return &wb_; }

 private:
  rocksdb::WriteBatch wb_;
};

// SST files per family, written as the entries arrive (SstFileWriter refuses a key that is not
// above the previous one: a bug in Emit is an error, not a corrupt file).
//
// Time-keyed families get one file per key prefix (a campaign's index entries, the minute author
// sets of a campaign and platform, one minute series): an archive is imported in time order
// (or in reverse), so each batch's file of a prefix covers a time range no earlier file of that
// prefix overlaps, and RocksDB ingests it straight into the bottom level. One file spanning all
// prefixes would overlap every earlier batch's, land in level 0, and be compacted again and again,
// which was a quarter of a large import's CPU. `posts`, keyed by URI, overlaps regardless; so do
// the hour and day series and author sets, whose few keys a batch are cheaper to compact than to
// file apart.
class FileSink : public Sink {
 public:
  FileSink(Store::Impl* impl, std::string dir) : impl_(impl), dir_(std::move(dir)) {}

  void Put(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
    if (rocksdb::SstFileWriter* w = WriterFor(cf, k)) status_ = w->Put(k, v);
  }
  void Merge(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
    if (rocksdb::SstFileWriter* w = WriterFor(cf, k)) status_ = w->Merge(k, v);
  }
  void Delete(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& k) override {
    if (rocksdb::SstFileWriter* w = WriterFor(cf, k)) status_ = w->Delete(k);
  }

  // Finishes every file and ingests them all in one atomic step.
  Result<void> Ingest() {
    std::vector<rocksdb::IngestExternalFileArg> args;
    for (auto& [cf, f] : families_) {
      if (status_.ok() && f.writer) FinishFile(f);
      if (!status_.ok()) break;
      rocksdb::IngestExternalFileArg arg;
      arg.column_family = cf;
      arg.external_files = f.paths;
      // The files are new, in the store's own directory: link them in rather than copy, and
      // leave them as written (readers take the sequence number from the MANIFEST).
      arg.options.move_files = true;
      arg.options.write_global_seqno = false;
      arg.options.snapshot_consistency = false;
      args.push_back(std::move(arg));
    }
    rocksdb::Status s = status_;
    if (s.ok() && !args.empty()) s = impl_->db->IngestExternalFiles(args);
    for (const auto& [cf, f] : families_) {
      for (const auto& path : f.paths) {
        std::error_code ec;
        std::filesystem::remove(path, ec);  // already gone when it was linked in
      }
    }
    if (!status_.ok()) return Fail(StorageError("cannot write bulk commit file", status_));
    if (!s.ok()) return Fail(StorageError("cannot commit page", s));
    return {};
  }

 private:
  struct Family {
    size_t index = 0;  // in impl_->handles
    int partition_separators = 0;  // the file prefix ends at this separator; 0: one file
    bool series = false;           // the prefix is all but the 8-byte bucket start
    bool minute_sets_only = false; // authors: hour and day sets share one file (prefix "")
    std::vector<std::string> paths;  // finished files
    std::unique_ptr<rocksdb::SstFileWriter> writer;
    std::string prefix;  // of the open file's keys
  };

  std::string_view PrefixOf(const Family& f, std::string_view key) const {
    if (f.series) return key.substr(0, key.size() >= 8 ? key.size() - 8 : 0);
    if (f.minute_sets_only && (key.empty() || key[0] != AuthorSetLetter(Step::kMinute))) {
      return key.substr(0, 0);
    }
    size_t end = 0;
    for (int n = 0; n < f.partition_separators; ++n) {
      end = key.find(kSep, end);
      if (end == std::string_view::npos) return key;
      ++end;
    }
    return key.substr(0, end);
  }

  void FinishFile(Family& f) {
    status_ = f.writer->Finish();
    f.writer.reset();
  }

  // The writer for `key` of `cf`, opening a file on first use and for each new prefix; nullptr
  // once anything failed.
  rocksdb::SstFileWriter* WriterFor(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& k) {
    if (!status_.ok()) return nullptr;
    Family* f = cf == last_cf_ ? last_family_ : nullptr;
    if (f == nullptr) {
      auto [it, inserted] = families_.try_emplace(cf);
      f = &it->second;
      if (inserted) {
        while (f->index < impl_->handles.size() && impl_->handles[f->index] != cf) ++f->index;
        f->partition_separators = cf == impl_->post_index ? 1 : cf == impl_->authors ? 2 : 0;
        f->minute_sets_only = cf == impl_->authors;
        // Only minute series are partitioned: an hour or day series gets a few keys a batch, so
        // its files would be tiny, and creating a file costs more than compacting a few
        // thousand sums out of level 0.
        f->series = cf == impl_->series;
      }
      last_cf_ = cf;
      last_family_ = f;
    }
    const bool partitioned = f->partition_separators > 0 || f->series;
    if (f->writer && partitioned && PrefixOf(*f, k.ToStringView()) != f->prefix) {
      FinishFile(*f);
      if (!status_.ok()) return nullptr;
    }
    if (!f->writer) {
      rocksdb::Options options(impl_->db_options, impl_->cf_options.at(f->index));
      // LZ4 (cheaper to write than the families' Snappy), but not what the family leaves
      // uncompressed (author sets: random hashes).
      if (options.compression != rocksdb::kNoCompression) options.compression = rocksdb::kLZ4Compression;
      f->writer = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), options, cf);
      f->paths.push_back(dir_ + "/" + std::to_string(++impl_->bulk_files) + ".sst");
      f->prefix.assign(partitioned ? PrefixOf(*f, k.ToStringView()) : std::string_view());
      status_ = f->writer->Open(f->paths.back());
      if (!status_.ok()) return nullptr;
    }
    return f->writer.get();
  }

  Store::Impl* impl_;
  std::string dir_;
  std::map<rocksdb::ColumnFamilyHandle*, Family> families_;
  rocksdb::ColumnFamilyHandle* last_cf_ = nullptr;
  Family* last_family_ = nullptr;
  rocksdb::Status status_;
};

// (key, value, is_delete) of the families whose entries come from unordered lists, sorted stably
// so an entry deleted and put again in one batch ends as the put.
using KeyedOps = std::vector<std::tuple<std::string, std::string, bool>>;
void EmitSorted(Sink& sink, rocksdb::ColumnFamilyHandle* cf, KeyedOps ops) {
  std::stable_sort(ops.begin(), ops.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i + 1 < ops.size() && std::get<0>(ops[i + 1]) == std::get<0>(ops[i])) continue;
    const auto& [k, v, del] = ops[i];
    if (del) sink.Delete(cf, k);
    else sink.Put(cf, k, v);
  }
}

// Copies the `n` strings get(0) ... get(n - 1) into `bytes`, back to back, and returns views of
// the copies.
template <typename Get>
std::vector<std::string_view> Packed(size_t n, Get get, std::string& bytes) {
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += get(i).size();
  bytes.clear();
  bytes.reserve(total);
  for (size_t i = 0; i < n; ++i) bytes.append(get(i));
  std::vector<std::string_view> views(n);
  for (size_t i = 0, at = 0; i < n; at += views[i].size(), ++i) {
    views[i] = std::string_view(bytes.data() + at, get(i).size());
  }
  return views;
}

// Orders `items` by `less`, stably, where `group(item)` (below `groups`) is the order's first key:
// one counting pass puts the groups in order, then each group's run is sorted only if it is not
// in order already once its strictly descending stretches are reversed (which keeps the sort
// stable: no two items of such a stretch are equal). Archived pages are in time order, or in
// reverse time order (a timeline read backwards), or both (pages in time order, each newest
// first), so a bulk commit usually finds its entries in order rather than sorting them.
template <typename T, typename Group, typename Less>
void SortByGroupThen(std::vector<T>& items, size_t groups, const Group& group, const Less& less) {
  std::vector<size_t> start(groups + 1, 0);
  for (const T& item : items) ++start[group(item) + 1];
  for (size_t g = 0; g < groups; ++g) start[g + 1] += start[g];
  std::vector<T> ordered(items.size());
  std::vector<size_t> next(start.begin(), start.end() - 1);
  for (const T& item : items) ordered[next[group(item)]++] = item;
  for (size_t g = 0; g < groups; ++g) {
    const auto first = ordered.begin() + static_cast<ptrdiff_t>(start[g]);
    const auto last = ordered.begin() + static_cast<ptrdiff_t>(start[g + 1]);
    for (auto run = first; run != last;) {
      auto end = run + 1;
      while (end != last && less(*end, *(end - 1))) ++end;
      std::reverse(run, end);
      run = end;
    }
    if (!std::is_sorted(first, last, less)) std::stable_sort(first, last, less);
  }
  items.swap(ordered);
}

// The batch's hashed minute deltas, and its sorted ones with them, in key order: by series
// (ranked by their prefixes, "<metric>\x1f<campaign>\x1f<platform>\x1f<term>\x1f", none of which
// is a prefix of another), then time; a bucket in both sums its deltas.
SortedSeriesDeltas SortSeriesDeltas(const Batch& batch) {
  std::vector<std::string> prefixes;
  std::unordered_map<std::string_view, uint32_t> prefix_of;  // views of the keys it was added from
  std::vector<SortedSeriesDeltas::Bucket> buckets;
  buckets.reserve(batch.series_deltas.size() + batch.sorted_series_deltas.buckets.size());
  auto add = [&](std::string_view prefix, int64_t minute, int64_t delta) {
    auto [it, inserted] = prefix_of.try_emplace(prefix, static_cast<uint32_t>(prefixes.size()));
    if (inserted) prefixes.emplace_back(prefix);
    buckets.push_back({it->second, minute, delta});
  };
  for (const auto& [k, v] : batch.series_deltas) {
    if (k.size() < 8) continue;  // not a SeriesKey
    const std::string_view kv = k;
    add(kv.substr(0, kv.size() - 8), ReadOrderedInt64(kv.substr(kv.size() - 8)), v);
  }
  const SortedSeriesDeltas& also = batch.sorted_series_deltas;
  for (const auto& b : also.buckets) add(also.prefixes[b.prefix], b.minute, b.delta);
  return SortSeriesBuckets(std::move(prefixes), std::move(buckets));
}

// Everything `batch` writes, family by family, each family's keys in ascending order: RocksDB
// inserts each next to the previous one (the skiplist's sequential splice, and per-prefix insert
// hints) instead of searching the memtable from the top, an SST file needs them so, and each
// author set is merged once a batch. Stable sorts keep the batch order of equal keys
// (the last copy of a post wins).
void Emit(const Store::Impl& db, const Batch& batch, Sink& sink) {
  // The post itself goes in its "" index entry, `posts` locates it (schema 2). Index entries are
  // idempotent puts (an updated post rewrites the same keys), author sets idempotent unions.
  const size_t n = batch.posts.size();
  // The posts' keys are read several times below, in several orders, and each post's
  // strings lie kilobytes from the next one's: copied once into contiguous buffers, they are
  // read from cache rather than from memory (those misses were a tenth of a bulk commit).
  // So are their creation times: the locators below read them in key order, which is random
  // in the batch's (each a cache miss on a post, a tenth of a bulk commit's own time).
  std::string key_bytes;
  const std::vector<std::string_view> post_keys = Packed(
      n, [&](size_t i) -> std::string_view { return batch.posts[i].post.key; }, key_bytes);
  std::vector<int64_t> created(n);
  for (size_t i = 0; i < n; ++i) created[i] = batch.posts[i].post.created_at_ms;
  std::vector<uint32_t> sorted;
  if (batch.posts_by_key.size() != n) sorted = SortedOrder(post_keys);
  const std::vector<uint32_t>& by_key = batch.posts_by_key.size() == n ? batch.posts_by_key : sorted;
  std::string key, value;  // reused for every key and value built below
  for (size_t i = 0; i < n; ++i) {
    const std::string_view k = post_keys[by_key[i]];
    if (i + 1 < n && post_keys[by_key[i + 1]] == k) continue;  // a later copy wins
    PostLocatorTo(created[by_key[i]], &value);
    sink.Put(db.posts, k, value);
  }

  // Index keys are sorted as numbers and ranks, not as strings (the comparisons were most of a
  // bulk commit's time), then written into one reused buffer. Ranks: a campaign's index prefix
  // "<campaign>\x1f" never is a prefix of another, so ordering keys by (prefix rank, time, rest)
  // is their byte order.
  std::unordered_map<std::string_view, uint32_t> campaign_ranks;  // of this batch's campaigns
  for (const auto& p : batch.posts) {
    for (const auto& c : p.campaigns) campaign_ranks.try_emplace(c, 0);
  }
  std::vector<std::string_view> campaigns;  // sorted as their index prefixes
  for (const auto& [c, rank] : campaign_ranks) campaigns.push_back(c);
  std::sort(campaigns.begin(), campaigns.end(), [](std::string_view a, std::string_view b) {
    return IndexPrefix(a) < IndexPrefix(b);
  });
  for (uint32_t r = 0; r < campaigns.size(); ++r) campaign_ranks[campaigns[r]] = r;
  auto campaign_rank = [&](std::string_view c) { return campaign_ranks.at(c); };
  struct Entry {  // an index entry: "" (rank 0) or a campaign's (rank 1 + its rank)
    uint32_t rank;
    int64_t created_ms;
    uint32_t post;  // into batch.posts
  };
  std::vector<Entry> entries;
  // Author sets (schema 3): each (campaign, platform) group's (minute, author) pairs, sorted once
  // as integers; the minute, hour and day sets of the group are runs of that order.
  struct AuthorMinute {
    uint32_t group;   // into groups
    int64_t minute;   // bucket start, unix seconds
    uint64_t author;  // AuthorHash
    auto operator<=>(const AuthorMinute&) const = default;
  };
  std::vector<AuthorMinute> author_minutes;
  std::vector<std::pair<std::string_view, Platform>> groups;   // (campaign, platform)
  std::map<std::pair<uint32_t, Platform>, uint32_t> group_of;  // (campaign rank, platform) -> group
  entries.reserve(n * 2);
  author_minutes.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const StoredPost& p = batch.posts[i];
    entries.push_back({0, p.post.created_at_ms, i});
    const int64_t minute = BucketStart(FloorDiv(p.post.created_at_ms, 1000), Step::kMinute);
    const uint64_t author = p.post.author.empty() ? 0 : AuthorHash(p.post.author);
    for (const auto& c : p.campaigns) {
      const uint32_t rank = campaign_rank(c);
      entries.push_back({1 + rank, p.post.created_at_ms, i});
      if (p.post.author.empty()) continue;
      auto [it, inserted] = group_of.try_emplace({rank, p.post.platform}, groups.size());
      if (inserted) groups.emplace_back(c, p.post.platform);
      author_minutes.push_back({it->second, minute, author});
    }
  }
  auto by_position = [&post_keys](const Entry& a, const Entry& b) {
    if (a.rank != b.rank) return a.rank < b.rank;
    if (a.created_ms != b.created_ms) return a.created_ms < b.created_ms;
    return post_keys[a.post] < post_keys[b.post];
  };
  SortByGroupThen(entries, campaigns.size() + 1, [](const Entry& e) { return e.rank; }, by_position);
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (i + 1 < entries.size() && !by_position(e, entries[i + 1])) continue;  // a later copy wins
    IndexKeyTo(&key, e.rank == 0 ? std::string_view() : campaigns[e.rank - 1], e.created_ms,
               post_keys[e.post]);
    if (e.rank == 0) {
      EncodeStoredPostTo(batch.posts[e.post], &value);
      sink.Put(db.post_index, key, value);
    } else {
      sink.Put(db.post_index, key, rocksdb::Slice());
    }
  }
  SortByGroupThen(author_minutes, groups.size(), [](const AuthorMinute& a) { return a.group; },
                  [](const AuthorMinute& a, const AuthorMinute& b) { return a.minute < b.minute; });
  // Then each minute's authors (a few) by hash.
  for (size_t j = 0; j < author_minutes.size();) {
    size_t end = j + 1;
    while (end < author_minutes.size() && author_minutes[end].group == author_minutes[j].group &&
           author_minutes[end].minute == author_minutes[j].minute) {
      ++end;
    }
    if (end - j > 1) std::sort(author_minutes.begin() + static_cast<ptrdiff_t>(j), author_minutes.begin() + static_cast<ptrdiff_t>(end));
    j = end;
  }
  author_minutes.erase(std::unique(author_minutes.begin(), author_minutes.end()), author_minutes.end());
  std::vector<size_t> group_begin(groups.size() + 1, 0);  // group g: [begin[g], begin[g + 1])
  for (const AuthorMinute& a : author_minutes) ++group_begin[a.group + 1];
  for (size_t g = 0; g < groups.size(); ++g) group_begin[g + 1] += group_begin[g];
  struct AuthorSet {
    std::string prefix;
    uint32_t group;
    Step step;
  };
  std::vector<AuthorSet> sets;  // in key order: by prefix, then each set's buckets in time order
  for (uint32_t g = 0; g < groups.size(); ++g) {
    for (Step step : {Step::kMinute, Step::kHour, Step::kDay}) {
      sets.push_back({AuthorSetPrefix(step, groups[g].first, PlatformName(groups[g].second)), g, step});
    }
  }
  std::sort(sets.begin(), sets.end(), [](const AuthorSet& a, const AuthorSet& b) { return a.prefix < b.prefix; });
  std::vector<uint64_t> bucket_authors;
  for (const AuthorSet& set : sets) {
    for (size_t j = group_begin[set.group], end = group_begin[set.group + 1]; j < end;) {
      const int64_t bucket = BucketStart(author_minutes[j].minute, set.step);
      bucket_authors.clear();
      for (; j < end && BucketStart(author_minutes[j].minute, set.step) == bucket; ++j) {
        bucket_authors.push_back(author_minutes[j].author);
      }
      // A minute's authors are sorted and distinct already; an hour's or a day's are its minutes'.
      if (set.step != Step::kMinute) SortUniqueHashes(&bucket_authors);
      key.assign(set.prefix);
      PutOrderedInt64(&key, bucket);
      EncodeAuthorSet(bucket_authors.data(), bucket_authors.size(), &value);
      sink.Merge(db.authors, key, value);
    }
  }
  for (const auto& [k, v] : batch.counter_deltas) sink.Merge(db.counters, k, EncodeInt64(v));
  // Minute buckets in key order: by series, then time (as the ingester hands them over, or
  // sorted here). The hour and day holding each minute get the same deltas, summed first so each
  // coarse key is merged once per batch rather than once per minute under it; each hour's (and
  // day's) minutes are a run in this order, so the coarse keys come out sorted too.
  const SortedSeriesDeltas hashed =
      batch.series_deltas.empty() ? SortedSeriesDeltas() : SortSeriesDeltas(batch);
  const SortedSeriesDeltas& minutes = batch.series_deltas.empty() ? batch.sorted_series_deltas : hashed;
  struct Run {
    rocksdb::ColumnFamilyHandle* cf;
    Step step;
    uint32_t series = UINT32_MAX;  // prefix of the open bucket; UINT32_MAX before the first minute
    int64_t bucket = 0;
    int64_t sum = 0;
  };
  Run runs[] = {{db.series_1h, Step::kHour}, {db.series_1d, Step::kDay}};
  auto flush = [&](const Run& run) {
    key.assign(minutes.prefixes[run.series]);
    PutOrderedInt64(&key, run.bucket);
    sink.Merge(run.cf, key, EncodeInt64(run.sum));
  };
  for (const SortedSeriesDeltas::Bucket& b : minutes.buckets) {
    key.assign(minutes.prefixes[b.prefix]);
    PutOrderedInt64(&key, b.minute);
    sink.Merge(db.series, key, EncodeInt64(b.delta));
    for (Run& run : runs) {
      const int64_t bucket = BucketStart(b.minute, run.step);
      if (run.series == b.prefix && run.bucket == bucket) {
        run.sum += b.delta;
        continue;
      }
      if (run.series != UINT32_MAX) flush(run);
      run.series = b.prefix;
      run.bucket = bucket;
      run.sum = b.delta;
    }
  }
  for (const Run& run : runs) {
    if (run.series != UINT32_MAX) flush(run);
  }
  for (const auto& [k, v] : batch.cursors) sink.Put(db.cursors, k, v);
  if (!batch.refresh_deletes.empty() || !batch.refresh_puts.empty()) {
    KeyedOps ops;
    for (const auto& r : batch.refresh_deletes) ops.emplace_back(r.StoreKey(), "", true);
    for (const auto& r : batch.refresh_puts) ops.emplace_back(r.StoreKey(), r.StoreValue(), false);
    EmitSorted(sink, db.refresh, std::move(ops));
  }
  if (!batch.outbox_puts.empty() || !batch.outbox_deletes.empty()) {
    KeyedOps ops;
    for (const auto& [k, v] : batch.outbox_puts) ops.emplace_back(k, v, false);
    for (const auto& k : batch.outbox_deletes) ops.emplace_back(k, "", true);
    EmitSorted(sink, db.outbox, std::move(ops));
  }
  for (const auto& [k, v] : batch.alert_log_puts) sink.Put(db.alert_log, k, v);
  for (const auto& [k, v] : batch.marks) sink.Put(db.marks, k, EncodeInt64(v));
  if (!batch.gaps.empty()) {
    KeyedOps ops;
    for (const auto& g : batch.gaps) {
      std::string key = g.source;
      key.push_back(kSep);
      PutOrderedInt64(&key, g.from_ms);
      std::string value;
      PutOrderedInt64(&value, g.to_ms);
      ops.emplace_back(std::move(key), std::move(value), false);
    }
    EmitSorted(sink, db.gaps, std::move(ops));
  }
}

}  // namespace

// Bulk commits of fewer posts than this go through the write-ahead log like the daemon's.
constexpr size_t kMinBulkFilePosts = 10'000;

std::string BulkFilesDir(const std::string& store_path) { return store_path + "/bulk-commit"; }

Result<void> Store::Commit(const Batch& batch) {
  // A small batch costs more as files than through the log: every file is synced on its own, and
  // small files ingested one after another pile up in level 0 for compactions to merge.
  if (impl_->bulk_load && batch.posts.size() >= kMinBulkFilePosts) {
    const std::string dir = BulkFilesDir(path_);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail(Error::Storage("cannot create " + dir + ": " + ec.message()));
    FileSink sink(impl_.get(), dir);
    Emit(*impl_, batch, sink);
    if (auto r = sink.Ingest(); !r) return r;
    NoteWrittenPosts(batch);
    return {};
  }
  // Room for the whole batch up front, rather than growing (and copying) it by doubling: ~1 KB a
  // post with its index and author entries, 64 bytes a delta.
  WriteBatchSink sink(batch.posts.size() * 2048 +
                      (batch.counter_deltas.size() +
                       3 * (batch.series_deltas.size() + batch.sorted_series_deltas.buckets.size())) * 64);
  Emit(*impl_, batch, sink);
  // The WAL is written before Write returns, so a killed process loses nothing it committed;
  // syncing every page to disk would only matter for power loss, and costs an fsync a page.
  const auto s = impl_->db->Write(rocksdb::WriteOptions(), sink.batch());
  if (!s.ok()) return Fail(StorageError("cannot commit page", s));
  NoteWrittenPosts(batch);
  return {};
}

SortedSeriesDeltas SortSeriesBuckets(std::vector<std::string> prefixes,
                                     std::vector<SortedSeriesDeltas::Bucket> buckets) {
  std::vector<std::string_view> views(prefixes.begin(), prefixes.end());
  const std::vector<uint32_t> order = SortedOrder(views);
  const std::vector<uint32_t> rank = RanksOf(order);
  for (auto& b : buckets) b.prefix = rank[b.prefix];
  std::sort(buckets.begin(), buckets.end(), [](const auto& a, const auto& b) {
    return a.prefix != b.prefix ? a.prefix < b.prefix : a.minute < b.minute;
  });
  SortedSeriesDeltas out;
  out.prefixes.reserve(order.size());
  for (const uint32_t i : order) out.prefixes.push_back(std::move(prefixes[i]));
  out.buckets.reserve(buckets.size());
  for (const auto& b : buckets) {
    if (!out.buckets.empty() && out.buckets.back().prefix == b.prefix && out.buckets.back().minute == b.minute) {
      out.buckets.back().delta += b.delta;
    } else {
      out.buckets.push_back(b);
    }
  }
  return out;
}

void Store::NoteWrittenPosts(const Batch& batch) {
  WrittenKeys* written = impl_->written_posts.get();
  if (written == nullptr) return;
  if (!written->AddEach(batch.posts.size(), [&](size_t i) -> std::string_view { return batch.posts[i].post.key; })) {
    impl_->written_posts.reset();  // full: lookups go to the files from now on
  }
}

}  // namespace chorus::store
