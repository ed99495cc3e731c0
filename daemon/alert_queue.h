// Raising alerts into the store: the durable outbox the dispatcher delivers from, and the alert
// log behind GET /api/v1/alerts (docs/alerts.md).
//
// Post alerts are raised by the ingester's new-post hook (ingest/ingester.h): their outbox entries
// and log entry are added to the page's batch, so they commit atomically with the post that caused
// them — a post is stored with its alerts queued, or neither. Spike alerts are raised by
// EvaluateSpikes (called periodically by the dispatcher) and committed on their own.
//
// Store layout (values are versioned binary records, see alert_queue.cc):
//   outbox     big-endian created ms + alert key + "\x1f" + receiver -> OutboxEntry: one entry per
//              (alert, receiver), oldest first; deleted once delivered or dropped
//   alert_log  big-endian created ms + alert key -> AlertLogEntry: the alert and each receiver's
//              delivery state; the newest kAlertLogKeep are kept
//
// Thread safety: AlertQueue is thread-safe. The hook runs under the ingester's lock; SetConfig may
// be called from any thread (a reload) while pages are ingested.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/alerts.h"
#include "config/config.h"
#include "core/error.h"
#include "ingest/ingester.h"
#include "query/api.h"
#include "store/store.h"

namespace chorus::daemon {

inline constexpr size_t kAlertLogKeep = 1000;
inline constexpr size_t kAlertsDefaultLimit = 50;
inline constexpr size_t kAlertsMaxLimit = 1000;

// Where one (alert, receiver) delivery stands.
enum class DeliveryState { kPending, kRetrying, kDelivered, kDropped };
std::string_view DeliveryStateName(DeliveryState state);

struct Delivery {
  std::string receiver;
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  std::string last_error;  // "HTTP 500", "request failed: Connection" — never a URL
};

struct OutboxEntry {
  analytics::Alert alert;
  std::string receiver;
  int attempts = 0;             // delivery attempts made so far
  int64_t next_attempt_ms = 0;  // not before this (0 = at once)
  std::string last_error;
};

struct AlertLogEntry {
  analytics::Alert alert;
  std::vector<Delivery> deliveries;  // one per receiver of the rule
};

std::string OutboxKey(const analytics::Alert& alert, const std::string& receiver);
std::string AlertLogKey(const analytics::Alert& alert);
std::string EncodeOutboxEntry(const OutboxEntry& entry);
Result<OutboxEntry> DecodeOutboxEntry(std::string_view bytes);
std::string EncodeAlertLogEntry(const AlertLogEntry& entry);
Result<AlertLogEntry> DecodeAlertLogEntry(std::string_view bytes);

// Adds an alert's log entry and one outbox entry per receiver to `batch`.
void QueueAlert(const analytics::Alert& alert, store::Batch* batch);

class AlertQueue {
 public:
  explicit AlertQueue(store::Store& store);

  // Builds the rules of `config` (at start-up and on every reload). Spike cooldowns are kept by
  // rule name across reloads.
  void SetConfig(const config::Config& config);

  // The hook to install with Ingester::SetNewPostHook: raises the post rules for each new post
  // into the page's batch. Valid while this AlertQueue lives.
  ingest::NewPostHook Hook();

  // Evaluates every spike rule at `now_ms` against the stored per-minute post counts and commits
  // the alerts raised; returns them. On the first call after start-up the cooldowns are restored
  // from the alert log (a spike alerted less than a day ago stays quiet until volume came down).
  Result<std::vector<analytics::Alert>> EvaluateSpikes(int64_t now_ms);

 private:
  std::shared_ptr<const analytics::AlertEngine> engine() const;

  store::Store& store_;
  mutable std::mutex mu_;
  std::shared_ptr<const analytics::AlertEngine> engine_;
  std::mutex spike_mu_;  // serializes EvaluateSpikes
  analytics::SpikeDetector spikes_;
  bool restored_ = false;
};

// Keeps the newest kAlertLogKeep alert log entries, deleting older ones.
Result<void> TrimAlertLog(store::Store& store);

// GET /api/v1/alerts?limit= : "" gives kAlertsDefaultLimit; otherwise an integer in
// [1, kAlertsMaxLimit], else kInvalidArgument with a message for the 400 body.
Result<size_t> ParseAlertsLimit(std::string_view text);

// The response body: {"alerts":[{"key","rule","kind","created_at","platform","campaigns",
// "policymakers","post":{…},["spike":{…},]"deliveries":[{"receiver","state","attempts",
// "last_error"}]}…]}, newest first. Fails with kStorage when the store cannot be read.
Result<std::string> AlertsJson(const store::Store& store, size_t limit);

// The whole GET /api/v1/alerts handler: `limit` is the only parameter (unknown or repeated ones
// are a 400 naming them, like the other query endpoints); a store failure is a 500.
query::ApiResponse AlertsApi(const query::Params& params, const store::Store& store);

}  // namespace chorus::daemon
