// Polls one configured source on a schedule: timer on the daemon's io_context, the blocking HTTP
// and store work on a worker pool, never on the event loop.
//
// One poll at a time per source: its queries are walked in turn, page by page, each page
// committed with its cursor before the next is asked for. Between polls the runner waits the
// jittered poll interval, an exponential backoff after a failure, or until the rate-limit window
// resets when the budget is spent. Stop() lets an in-flight poll finish its current page and then
// reports back, which is how the daemon drains. Methods are called on the io_context thread.
//
// When several daemons share a watch list (config `shard`, design §9), a runner polls only the
// queries of its shard; engagement refreshes cover every post of this daemon's store, whichever
// shard found them.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "config/config.h"
#include "core/time.h"
#include "daemon/metrics.h"
#include "daemon/schedule.h"
#include "ingest/ingester.h"

namespace chorus::daemon {

// What the status page shows about a source.
struct SourceStatus {
  std::string name;
  std::string platform;
  bool up = false;
  bool polled = false;
  int consecutive_failures = 0;
  int64_t last_success_ms = 0;
  std::string last_error;
  std::optional<int64_t> rate_remaining;
};

// The stable 64-bit hash that assigns a query to a shard: StableHash64 (core/stable_hash.h, FNV-1a
// then fmix64) of "<source name>\x1f<query key>". Same on every build and machine, so daemons agree.
uint64_t QueryShardHash(std::string_view source_name, std::string_view query_key);

// True when the daemon holding `shard` polls the query `query_key` of source `source_name`: its
// hash modulo shard.total is shard.index. Always true when not sharded (total 1).
bool ShardPolls(const config::Shard& shard, std::string_view source_name,
                std::string_view query_key);

class SourceRunner : public std::enable_shared_from_this<SourceRunner> {
 public:
  // `shard` selects which of the collector's queries this runner polls (default: all of them).
  SourceRunner(boost::asio::io_context& io, boost::asio::thread_pool& pool, config::Source source,
               std::unique_ptr<collectors::Collector> collector, ingest::Ingester& ingester,
               store::Store& store, Metrics& metrics, const Clock& clock,
               config::Shard shard = {});

  void Start();
  // Cancels the timer; `on_stopped` runs on the io_context once no poll is in flight.
  void Stop(std::function<void()> on_stopped);
  SourceStatus status() const;
  const std::string& name() const { return source_.name; }
  // Called on the polling worker thread after a page committed alerts to the outbox.
  void OnAlertsQueued(std::function<void()> callback) { on_alerts_queued_ = std::move(callback); }

 private:
  struct PollOutcome {
    bool failed = false;
    int64_t retry_at_ms = 0;  // set when the rate-limit budget or a 429 says when to come back
    std::string error;
    int new_posts = 0;
    int updated_posts = 0;
  };
  void Schedule(int64_t delay_ms);
  void RunPoll();                 // on the io_context: hand the poll to the pool
  PollOutcome PollAll();          // on a worker thread
  bool PollQuery(const collectors::Query& q, PollOutcome* outcome);  // false: stop this poll
  // Re-fetches known posts whose engagement refresh is due (design §5).
  void RefreshDue(PollOutcome* outcome);
  // Records one request's metrics and rate-limit state; false when it failed (outcome updated).
  bool Account(const collectors::FetchResult& page, std::chrono::steady_clock::time_point started,
               const std::string& what, PollOutcome* outcome);
  void OnPollDone(const PollOutcome& outcome);
  // After a complete poll: persists its time and records a collection gap since the last one.
  void RecordSuccess(PollOutcome* outcome);
  std::string LastSuccessMarkKey() const;
  double Random();

  boost::asio::io_context& io_;
  boost::asio::thread_pool& pool_;
  const config::Source source_;
  const std::string platform_;
  std::unique_ptr<collectors::Collector> collector_;
  const config::Shard shard_;
  std::vector<size_t> polled_;  // indices into collector_->queries() that belong to this shard
  ingest::Ingester& ingester_;
  store::Store& store_;
  Metrics& metrics_;
  const Clock& clock_;
  boost::asio::steady_timer timer_;
  RateBudget budget_;
  std::mt19937_64 rng_;
  std::atomic<bool> stopping_{false};
  bool in_flight_ = false;
  std::function<void()> on_stopped_;
  std::function<void()> on_alerts_queued_;
  int64_t previous_success_ms_ = -1;  // -1: not loaded from the store yet; 0: never

  mutable std::mutex status_mu_;
  SourceStatus status_;
};

}  // namespace chorus::daemon
