#include "daemon/source_runner.h"

#include <boost/asio/post.hpp>

#include <chrono>

#include "core/counter_key.h"
#include "core/log.h"
#include "core/stable_hash.h"
#include "store/store.h"

namespace chorus::daemon {
namespace {
constexpr int64_t kRateLimitFallbackMs = 60'000;
constexpr int kRefreshBatchesPerPoll = 3;
}  // namespace

uint64_t QueryShardHash(std::string_view source_name, std::string_view query_key) {
  // The separator keeps ("a", "bc") and ("ab", "c") apart; source names and query keys have no
  // reason to contain a unit separator. The source name is part of the input so that two sources
  // watching the same tags spread their queries over different daemons.
  std::string input;
  input.reserve(source_name.size() + 1 + query_key.size());
  input.append(source_name).append(1, '\x1f').append(query_key);
  return StableHash64(input);
}

bool ShardPolls(const config::Shard& shard, std::string_view source_name,
                std::string_view query_key) {
  if (!shard.sharded()) return true;
  return QueryShardHash(source_name, query_key) % static_cast<uint64_t>(shard.total) ==
         static_cast<uint64_t>(shard.index);
}

SourceRunner::SourceRunner(boost::asio::io_context& io, boost::asio::thread_pool& pool,
                           config::Source source, std::unique_ptr<collectors::Collector> collector,
                           ingest::Ingester& ingester, store::Store& store, Metrics& metrics,
                           const Clock& clock, config::Shard shard)
    : io_(io),
      pool_(pool),
      source_(std::move(source)),
      platform_(PlatformName(source_.platform)),
      collector_(std::move(collector)),
      shard_(shard),
      ingester_(ingester),
      store_(store),
      metrics_(metrics),
      clock_(clock),
      timer_(io),
      rng_(std::random_device{}()) {
  status_.name = source_.name;
  status_.platform = platform_;
  // A collector's queries are fixed once it is built (it is rebuilt on reload), so the shard's
  // part is chosen once.
  const auto& queries = collector_->queries();
  for (size_t i = 0; i < queries.size(); ++i) {
    if (ShardPolls(shard_, source_.name, queries[i].key)) polled_.push_back(i);
  }
}

double SourceRunner::Random() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

void SourceRunner::Start() {
  // Logged and exported here rather than when built: a reload builds runners it may discard.
  metrics_.SetSourceQueries(source_.name, static_cast<double>(polled_.size()));
  if (shard_.sharded()) {
    LogInfo("source " + source_.name + ": shard " + std::to_string(shard_.index) + "/" +
            std::to_string(shard_.total) + " polls " + std::to_string(polled_.size()) + " of " +
            std::to_string(collector_->queries().size()) + " queries");
  }
  // A small random delay spreads the first polls of many sources.
  Schedule(static_cast<int64_t>(Random() * 500));
}

void SourceRunner::Stop(std::function<void()> on_stopped) {
  stopping_ = true;
  timer_.cancel();
  if (in_flight_) {
    on_stopped_ = std::move(on_stopped);
  } else {
    boost::asio::post(io_, std::move(on_stopped));
  }
}

SourceStatus SourceRunner::status() const {
  std::lock_guard lock(status_mu_);
  SourceStatus s = status_;
  s.rate_remaining = budget_.remaining();
  return s;
}

void SourceRunner::Schedule(int64_t delay_ms) {
  if (stopping_) return;
  timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(delay_ms, 0)));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec && !self->stopping_) self->RunPoll();
  });
}

void SourceRunner::RunPoll() {
  in_flight_ = true;
  boost::asio::post(pool_, [self = shared_from_this()] {
    PollOutcome outcome;
    try {
      outcome = self->PollAll();
    } catch (const std::exception& e) {
      outcome.failed = true;
      outcome.error = std::string("unexpected exception: ") + e.what();
    }
    boost::asio::post(self->io_, [self, outcome] { self->OnPollDone(outcome); });
  });
}

SourceRunner::PollOutcome SourceRunner::PollAll() {
  PollOutcome outcome;
  bool completed = true;
  for (size_t i : polled_) {
    if (stopping_ || !PollQuery(collector_->queries()[i], &outcome)) {
      completed = false;
      break;
    }
  }
  if (completed && !outcome.failed) RefreshDue(&outcome);
  if (completed && !outcome.failed && outcome.retry_at_ms == 0) RecordSuccess(&outcome);
  return outcome;
}

std::string SourceRunner::LastSuccessMarkKey() const {
  return CounterKey{"chorus_internal_last_success_ms", {{"source", source_.name}}}.Encode();
}

// A source that went longer than a few poll intervals without a complete poll (it was failing,
// rate limited, or chorusd was not running) leaves a collection gap; exports record them.
void SourceRunner::RecordSuccess(PollOutcome* outcome) {
  const int64_t now = clock_.NowMs();
  if (previous_success_ms_ < 0) {
    auto marks = store_.LoadMarks();
    if (!marks) return;
    auto it = marks->find(LastSuccessMarkKey());
    previous_success_ms_ = it == marks->end() ? 0 : it->second;
  }
  store::Batch batch;
  batch.marks[LastSuccessMarkKey()] = now;
  const int64_t allowed = GapThresholdMs(source_.poll_interval_ms);
  if (previous_success_ms_ > 0 && now - previous_success_ms_ > allowed) {
    batch.gaps.push_back({source_.name, previous_success_ms_, now});
    LogWarn("source=" + source_.name + " collection gap of " +
            std::to_string((now - previous_success_ms_) / 1000) + "s since the last complete poll (" +
            FormatRfc3339Ms(previous_success_ms_) + "); recorded for export provenance");
  }
  if (auto r = store_.Commit(batch); !r) {
    outcome->failed = true;
    outcome->error = r.error().ToString();
    return;
  }
  previous_success_ms_ = now;
}

bool SourceRunner::Account(const collectors::FetchResult& page,
                           std::chrono::steady_clock::time_point started, const std::string& what,
                           PollOutcome* outcome) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.ObservePollDuration(source_.name, secs);
  metrics_.IncRequests(source_.name, page.http_status ? std::to_string(page.http_status) : "error");
  budget_.Update(page.rate, clock_.NowMs());
  if (page.rate.remaining) {
    metrics_.SetRateLimitRemaining(source_.name, static_cast<double>(*page.rate.remaining));
  }
  if (!page.error) return true;
  const Error& e = *page.error;
  if (e.code == ErrorCode::kRateLimited) {
    budget_.OnRateLimited(page.rate, clock_.NowMs(), kRateLimitFallbackMs);
    const int64_t wait = budget_.WaitMs(clock_.NowMs());
    outcome->retry_at_ms = clock_.NowMs() + wait;
    LogWarn("source=" + source_.name + " " + what + ": rate limited (429); waiting " +
            std::to_string(wait / 1000) + "s for the window to reset");
    return false;
  }
  if (e.code == ErrorCode::kParse) metrics_.IncParseErrors(source_.name);
  outcome->failed = true;
  outcome->error = e.ToString();
  LogWarn("source=" + source_.name + " " + what + ": page skipped: " + e.ToString() +
          (e.code == ErrorCode::kParse ? " (counted in chorus_source_parse_errors_total)" : ""));
  return false;
}

void SourceRunner::RefreshDue(PollOutcome* outcome) {
  const size_t limit = collector_->refresh_batch_limit();
  if (limit == 0) return;
  // A few batches per poll: refreshes share the rate-limit budget with polling and must not
  // starve it when a backlog of due posts builds up.
  for (int round = 0; round < kRefreshBatchesPerPoll && !stopping_; ++round) {
    const int64_t now = clock_.NowMs();
    if (budget_.WaitMs(now) > 0) return;
    auto due = store_.DueRefreshes(source_.name, now, limit);
    if (!due) {
      outcome->failed = true;
      outcome->error = due.error().ToString();
      return;
    }
    if (due->empty()) return;
    std::vector<std::string> ids;
    for (const auto& e : *due) ids.push_back(e.local_id);
    const auto t0 = std::chrono::steady_clock::now();
    collectors::FetchResult page = collector_->Refresh(ids, now);
    if (!Account(page, t0, "engagement refresh", outcome)) return;
    auto applied = ingester_.ApplyRefresh(source_.name, *due, page.posts, clock_.NowMs());
    if (!applied) {
      outcome->failed = true;
      outcome->error = applied.error().ToString();
      return;
    }
    metrics_.AddCounters(applied->counter_deltas);
    outcome->updated_posts += applied->updated_posts;
    if (due->size() < limit) return;
  }
}

bool SourceRunner::PollQuery(const collectors::Query& q, PollOutcome* outcome) {
  const std::string cursor_key = store::CursorKey(source_.name, q.key);
  auto stored = store_.GetCursor(cursor_key);
  if (!stored) {
    outcome->failed = true;
    outcome->error = stored.error().ToString();
    return false;
  }
  collectors::PageRequest req;
  req.cursor = stored->value_or("");
  while (!stopping_) {
    const int64_t now = clock_.NowMs();
    if (const int64_t wait = budget_.WaitMs(now); wait > 0) {
      outcome->retry_at_ms = now + wait;
      return false;
    }
    req.now_ms = now;
    const auto t0 = std::chrono::steady_clock::now();
    collectors::FetchResult page = collector_->FetchPage(q, req);
    if (!Account(page, t0, q.description, outcome)) {
      // An HTTP error concerns this query; the others may still work. No response at all, or a
      // 429, means the whole source must wait.
      return page.http_status != 0 && page.error->code != ErrorCode::kRateLimited;
    }

    std::map<std::string, std::string> cursors;
    if (!page.cursor.empty() && page.cursor != req.cursor) cursors[cursor_key] = page.cursor;
    auto applied = ingester_.ApplyPage(page.posts, cursors, clock_.NowMs(), source_.name);
    if (!applied) {
      outcome->failed = true;
      outcome->error = applied.error().ToString();
      LogError("source=" + source_.name + " cannot store page: " + applied.error().ToString());
      return false;
    }
    metrics_.AddCounters(applied->counter_deltas);
    metrics_.SetMarks(applied->marks);
    if (applied->alerts_queued > 0 && on_alerts_queued_) on_alerts_queued_();
    outcome->new_posts += applied->new_posts;
    outcome->updated_posts += applied->updated_posts;
    LogDebug("source=" + source_.name + " query=\"" + q.description + "\" page: " +
             std::to_string(page.posts.size()) + " posts, " + std::to_string(applied->new_posts) +
             " new, " + std::to_string(applied->updated_posts) + " updated, cursor " + page.cursor +
             (page.next_page_token.empty() ? "" : ", next page above " + page.next_page_token));
    if (!page.cursor.empty()) req.cursor = page.cursor;
    if (page.next_page_token.empty()) return true;
    req.page_token = page.next_page_token;
  }
  return false;
}

void SourceRunner::OnPollDone(const PollOutcome& outcome) {
  in_flight_ = false;
  if (outcome.new_posts > 0 || outcome.updated_posts > 0) {
    LogInfo("source=" + source_.name + " stored " + std::to_string(outcome.new_posts) +
            " new post(s), updated engagement of " + std::to_string(outcome.updated_posts));
  }
  const int64_t now = clock_.NowMs();
  int failures;
  {
    std::lock_guard lock(status_mu_);
    status_.polled = true;
    if (outcome.failed) {
      ++status_.consecutive_failures;
      status_.up = false;
      status_.last_error = outcome.error;
    } else if (outcome.retry_at_ms == 0) {
      status_.consecutive_failures = 0;
      status_.up = true;
      status_.last_success_ms = now;
      status_.last_error.clear();
    }
    failures = status_.consecutive_failures;
  }
  if (outcome.failed) {
    metrics_.SetSourceUp(source_.name, platform_, false);
  } else if (outcome.retry_at_ms == 0) {
    metrics_.SetSourceUp(source_.name, platform_, true);
    metrics_.SetLastSuccess(source_.name, static_cast<double>(now) / 1000.0);
  }
  if (stopping_) {
    if (on_stopped_) boost::asio::post(io_, std::exchange(on_stopped_, nullptr));
    return;
  }
  int64_t delay = JitteredIntervalMs(source_.poll_interval_ms, Random());
  if (outcome.failed) delay = BackoffDelayMs(failures, BackoffPolicy{}, Random());
  if (outcome.retry_at_ms > 0) delay = std::max<int64_t>(outcome.retry_at_ms - now, 0) + 50;
  Schedule(delay);
}

}  // namespace chorus::daemon
