// Chorus' persistent state in one RocksDB database (design §1, §5).
//
// Column families:
//   default    metadata (schema version)
//   posts      canonical post key -> locator of the post's "" post_index entry (its created_at):
//              dedupe and updates look posts up by identity
//   post_index "<campaign>\x1f" + big-endian created_at ms + post key: posts by campaign in
//              creation order. The "" campaign's entries (every stored post) hold the StoredPost
//              itself (the post as last seen, and how it was counted), so an export reads posts in
//              the order they are stored; a campaign's entries are empty and lead to those.
//              Schema 1 stores kept the StoredPost in `posts` and nothing in the index: their
//              entries are still read (ScanPosts, GetPosts), and a post moves on its next update
//   counters   encoded CounterKey -> int64 (little-endian), updated with an add merge operator
//   series_1m  series key + big-endian bucket start -> int64, add merge operator; series_1h and
//   series_1d  hold the same sums per hour and per UTC day, written in the same batch, so a long
//              range is read at a coarse step without folding millions of minutes
//   cursors    "<source>\x1f<query>" -> collector-specific cursor text
//   refresh    "<source>\x1f" + big-endian due time + post key -> RefreshEntry (engagement refresh
//              schedule: which known posts a source re-fetches, and when)
//   authors    step letter (M|H|D) + "<campaign>\x1f<platform>\x1f" + big-endian bucket start ->
//              the set of who posted in the bucket (sorted distinct 64-bit hashes of the author
//              identities, merged by union), so unique authors are exact but for hash collisions
//              (store_internal.h). Schema 2 stores wrote an entry per author instead, step letter
//              m|h|d + the same + author -> "": still read, and counted with the sets
//   outbox     alert delivery queue (keys and values are the alerting module's)
//   alert_log  recently raised alerts, for /api/v1/alerts
//   marks      "first" timestamps (first mention of / response by a policymaker per campaign)
//   gaps       "<source>\x1f" + big-endian start ms -> big-endian end ms: periods in which a source
//              collected nothing (it was down, or chorusd was not running), for export provenance
//
// Retention (design §4 storage.retention) is a compaction filter on the time-keyed families:
// series buckets, author buckets, posts and their index entries older than their resolution's
// retention are dropped when RocksDB compacts them; CompactForRetention() forces that.
//
// Every change the daemon makes for one fetched page goes through Commit() as one atomic
// WriteBatch: after a crash either all of a page (posts, counter deltas, series deltas, cursor)
// is there or none of it. Thread-safe: RocksDB serializes writes; readers see committed batches.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace chorus::store {

// 2: posts live in their "" post_index entry. 3: a bucket's authors are one set entry, not an entry
// each. Open() reads schema 1 and 2 stores as they are and marks them 3 when it may write, so an
// older chorus refuses them instead of misreading new entries.
inline constexpr int kSchemaVersion = 3;

// A post as stored: the latest copy seen plus how it was counted when first seen.
struct StoredPost {
  Post post;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  std::vector<std::string> campaigns;    // campaigns it matched when first seen
  std::vector<std::string> terms;        // "campaign\x1fterm" pairs it matched
  std::vector<std::string> policymakers; // policymaker ids it mentions
};

std::string EncodeStoredPost(const StoredPost& p);
// The same encoding written into `out` (replacing its contents), reusing its memory.
void EncodeStoredPostTo(const StoredPost& p, std::string* out);
Result<StoredPost> DecodeStoredPost(std::string_view bytes);
// Decodes into `out`, reusing its strings' and lists' memory (scans decode millions of posts).
// On error `out` holds a partly decoded post.
Result<void> DecodeStoredPostInto(std::string_view bytes, StoredPost* out);
// The platform of an encoded post without decoding the rest; nullopt when `bytes` is not one.
std::optional<Platform> StoredPostPlatform(std::string_view bytes);

// Resolutions of the stored series.
enum class Step { kMinute, kHour, kDay };
int64_t StepSeconds(Step step);
// The start of the bucket holding `unix_s` (UTC; floors negative times too).
int64_t BucketStart(int64_t unix_s, Step step);

// Series key for one bucket: metric, campaign, platform, term ("" for the campaign total) and the
// bucket start in unix seconds, big-endian so keys sort by time.
std::string SeriesKey(std::string_view metric, std::string_view campaign, std::string_view platform,
                      std::string_view term, int64_t bucket_start_s);
// The same key written into `out` (replacing its contents), for hot paths that reuse a buffer.
void SeriesKeyTo(std::string* out, std::string_view metric, std::string_view campaign,
                 std::string_view platform, std::string_view term, int64_t bucket_start_s);
std::string CursorKey(std::string_view source, std::string_view query);

// One scheduled engagement refresh of a known post.
struct RefreshEntry {
  std::string source;
  int64_t due_ms = 0;
  std::string post_key;
  std::string local_id;  // the id the source's collector refreshes by
  int stage = 0;         // index into the refresh schedule
  std::string StoreKey() const;
  std::string StoreValue() const;
};

// A period in which a source collected nothing.
struct Gap {
  std::string source;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
};

// Minute bucket deltas already summed and in key order, from a writer that has them so (the
// ingester sums a batch per series and minute): Commit writes them as they are, where hashed
// deltas have to be ranked and sorted first.
struct SortedSeriesDeltas {
  // Each series' key up to its bucket start (SeriesKey's first four fields), in ascending byte
  // order, each once.
  std::vector<std::string> prefixes;
  struct Bucket {
    uint32_t prefix;  // into prefixes
    int64_t minute;   // bucket start, unix seconds
    int64_t delta;
  };
  std::vector<Bucket> buckets;  // ascending by (prefix, minute), each pair once
};
// Puts `prefixes` (distinct) in byte order and `buckets`, whose `prefix` indexes them, in
// (prefix, minute) order, summing the deltas of a pair given more than once.
SortedSeriesDeltas SortSeriesBuckets(std::vector<std::string> prefixes,
                                     std::vector<SortedSeriesDeltas::Bucket> buckets);

// Everything one page changes, applied atomically.
struct Batch {
  std::vector<StoredPost> posts;                 // upserts
  // Optional: the indices of `posts` in the byte order of their keys, each once, from a caller
  // that has sorted them already (the ingester finds repeats that way); empty, Commit sorts them.
  std::vector<uint32_t> posts_by_key;
  std::map<std::string, int64_t> counter_deltas; // encoded CounterKey -> delta (> 0)
  // SeriesKey of the minute bucket -> delta. Hashed, not sorted: a bulk import's batch touches
  // hundreds of thousands of buckets, and Commit orders them once (by series and time).
  std::unordered_map<std::string, int64_t> series_deltas;
  // More minute deltas, sorted (may hold keys series_deltas holds too: their deltas add up).
  SortedSeriesDeltas sorted_series_deltas;
  std::map<std::string, std::string> cursors;    // CursorKey -> value
  std::vector<RefreshEntry> refresh_puts;
  std::vector<RefreshEntry> refresh_deletes;
  std::map<std::string, std::string> outbox_puts;     // outbox key -> value
  std::vector<std::string> outbox_deletes;
  std::map<std::string, std::string> alert_log_puts;  // alert_log key -> value
  std::map<std::string, int64_t> marks;               // mark key -> value (overwrites)
  std::vector<Gap> gaps;
  bool empty() const {
    return posts.empty() && counter_deltas.empty() && series_deltas.empty() &&
           sorted_series_deltas.buckets.empty() && cursors.empty() &&
           refresh_puts.empty() && refresh_deletes.empty() && outbox_puts.empty() &&
           outbox_deletes.empty() && alert_log_puts.empty() && marks.empty() && gaps.empty();
  }
};

// How long each kind of time-keyed data is kept, in seconds; 0 keeps it forever.
struct Retention {
  int64_t posts_s = 0;
  int64_t minute_s = 0;
  int64_t hour_s = 0;
  int64_t day_s = 0;
};

struct OpenOptions {
  bool read_only = false;
  // Opens a RocksDB secondary instance following the store at `path` (which may be in use by a
  // running chorusd, or stopped); `secondary_path` is a private scratch directory. Read-only;
  // CatchUp() sees what the primary committed since.
  std::string secondary_path;
  size_t block_cache_bytes = 64u << 20;
  // For a bulk writer whose input can be applied again without counting anything twice
  // (`chorusctl import`): a Commit of many posts writes its batch as sorted SST files (per column
  // family and key prefix) and ingests them in one atomic step, skipping the memtables and the
  // write-ahead log; a small one goes through the log as usual (commit.cc). Either way, after a
  // crash the store holds the batches committed up to some point, each whole, and none after it.
  // Batches should be large (tens of thousands of posts): each is a set of files. A store that
  // held no posts when opened so is only searched for the posts the bulk writer has committed
  // since (FindPosts; store/written_keys.h): nothing else may write it meanwhile, which its lock
  // ensures. Never for chorusd: its pages are small, and it reads what it writes at once.
  bool bulk_load = false;
  Retention retention;
  // The clock retention is measured against (unix seconds); the system clock when unset.
  std::function<int64_t()> now_s;
};

// Which posts a scan visits, in creation order.
struct PostScan {
  std::string campaign;   // "" = every stored post
  std::string platform;   // "" = every platform
  int64_t from_ms = INT64_MIN;  // created_at in [from_ms, to_ms)
  int64_t to_ms = INT64_MAX;
  std::string after;      // resume after this cursor (from a previous visit); "" = from the start
  bool read_through = false;  // the caller reads most of the range (an export): read ahead
};

// What Open's error says when another process (a running chorusd) holds the store's lock.
inline constexpr std::string_view kStoreInUse = "it is in use by another process";
bool IsStoreInUse(const Error& e);

class Store {
 public:
  // Opens (creating when missing, unless read_only) the database at `path`. Fails with kStorage
  // when the directory is not usable, another process holds the lock (IsStoreInUse), or the schema
  // version of an existing store is neither 1 nor kSchemaVersion.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const OpenOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Looks up posts by canonical key; the result has one entry per key (nullopt when absent).
  Result<std::vector<std::optional<StoredPost>>> GetPosts(const std::vector<std::string>& keys) const;
  // The same lookup, answering with the posts found only, as (index into `keys`, post) pairs in
  // no particular order: for batches of mostly new posts, where a slot per key would be most of
  // the memory the lookup touches.
  Result<std::vector<std::pair<size_t, StoredPost>>> FindPosts(
      const std::vector<std::string_view>& keys) const;
  Result<std::optional<std::string>> GetCursor(const std::string& cursor_key) const;
  // All counters, decoded from their merged values.
  Result<std::map<std::string, int64_t>> LoadCounters() const;
  // Buckets of one resolution whose start lies in [from_s, to_s), as (start, sum) pairs; empty
  // buckets are absent.
  Result<std::vector<std::pair<int64_t, int64_t>>> ReadSeries(std::string_view metric,
                                                              std::string_view campaign,
                                                              std::string_view platform,
                                                              std::string_view term, int64_t from_s,
                                                              int64_t to_s,
                                                              Step step = Step::kMinute) const;
  Result<int64_t> CountPosts() const;
  // Refreshes of `source` due at or before `now_ms`, earliest first, at most `limit`.
  Result<std::vector<RefreshEntry>> DueRefreshes(const std::string& source, int64_t now_ms,
                                                 size_t limit) const;

  // Visits stored posts in creation order (then key order) until `visit` returns false. `cursor`
  // names the position of the post visited: a later scan with `after = cursor` resumes behind it.
  // Streams: memory does not grow with the number of posts visited.
  using PostVisitor = std::function<bool(const StoredPost& post, const std::string& cursor)>;
  Result<void> ScanPosts(const PostScan& scan, const PostVisitor& visit) const;

  // Distinct authors of a campaign's posts per bucket of `step` starting in [from_s, to_s), as
  // (start, count) pairs; platform "" sums the platforms (an identity belongs to one platform).
  Result<std::vector<std::pair<int64_t, int64_t>>> UniqueAuthorsSeries(std::string_view campaign,
                                                                       std::string_view platform,
                                                                       int64_t from_s, int64_t to_s,
                                                                       Step step) const;
  // Distinct authors over all buckets of `step` starting in [from_s, to_s) together.
  Result<int64_t> CountDistinctAuthors(std::string_view campaign, std::string_view platform,
                                       int64_t from_s, int64_t to_s, Step step) const;
  // The same for several ranges ending together, [froms_s[i], to_s), in one walk of the widest.
  Result<std::vector<int64_t>> CountDistinctAuthorsSince(std::string_view campaign,
                                                         std::string_view platform,
                                                         const std::vector<int64_t>& froms_s,
                                                         int64_t to_s, Step step) const;

  // Alert outbox, oldest key first, at most `limit` (key, value) pairs.
  Result<std::vector<std::pair<std::string, std::string>>> ScanOutbox(size_t limit) const;
  // Alert log, newest key first (keys should sort by time), at most `limit`.
  Result<std::vector<std::pair<std::string, std::string>>> ScanAlertLog(size_t limit) const;
  // Deletes alert log entries whose key sorts before `key`.
  Result<void> TrimAlertLog(const std::string& key);
  Result<std::map<std::string, int64_t>> LoadMarks() const;
  // Collection gaps overlapping [from_ms, to_ms), by source then start.
  Result<std::vector<Gap>> ReadGaps(int64_t from_ms, int64_t to_ms) const;

  // Forces a compaction of the time-keyed families, so data past its retention is dropped now
  // rather than whenever RocksDB next compacts it.
  Result<void> CompactForRetention();
  // Writes every memtable to SST files, so the next open does not replay a large WAL (bulk writers).
  Result<void> Flush();
  // Waits until RocksDB has no compaction running or due (a bulk writer's files piled up in level
  // 0), at most `limit`; true when it settled. Closing the store instead would cancel the running
  // compaction and leave the work to the next open.
  bool SettleCompactions(std::chrono::milliseconds limit);
  // Secondary instances: catch up with what the primary has committed.
  Result<void> CatchUp();
  // Bytes on disk (SST files) plus memtables, as RocksDB estimates them.
  uint64_t ApproximateSizeBytes() const;

  Result<void> Commit(const Batch& batch);
  const std::string& path() const { return path_; }

  // The open database; defined in store/store_internal.h, for store/ only.
  struct Impl;

 private:
  Store(std::string path, std::unique_ptr<Impl> impl);
  // After a commit: the keys a bulk load has written (Impl::written_posts).
  void NoteWrittenPosts(const Batch& batch);
  // FindPosts' lookup in the files and memtables.
  Result<std::vector<std::pair<size_t, StoredPost>>> FindStoredPosts(
      const std::vector<std::string_view>& keys) const;
  std::string path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus::store
