// Delivers the alert outbox (daemon/alert_queue.h) to the configured receivers, and evaluates the
// spike rules, on one background thread of its own (docs/alerts.md "Delivery").
//
// About every second (at once when nudged) the thread scans the outbox, oldest first, and POSTs
// each due entry to its receiver:
//   - the URL is read from the environment variable named by the receiver's `url_env` at the
//     moment of delivery. It is a secret: it never appears in logs, errors, metrics or the alert
//     log — those name the receiver;
//   - 2xx: delivered. The outbox entry is deleted and the alert log updated in one commit;
//   - 408, 429, 5xx, network errors and timeouts: retried with exponential backoff and jitter
//     (1 s doubling up to 5 min), until the alert is `give_up_ms` (24 h) old, then dropped;
//   - any other status (a 4xx: the receiver rejects the request itself) is retried at most
//     `max_rejected_attempts` times in all, then dropped;
//   - after a failure, the receiver's other entries wait for the next pass (it is likely down).
// Every outcome is counted in chorus_alerts_total{rule,receiver,outcome}: `delivered` and
// `dropped` once per (alert, receiver), `failed` per failed attempt, `retried` per attempt after
// the first.
//
// Guarantees: an entry is deleted only after its receiver accepted it, so delivery survives
// restarts and crashes (at least once). Within one run a receiver never gets the same alert twice:
// keys delivered are remembered, so an entry whose delete did not commit is not sent again.
//
// Thread safety: all public methods may be called from any thread. Stop() waits for the pass in
// flight (an HTTP request is bounded by its timeouts) and must be called before the store closes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collectors/http_client.h"
#include "config/config.h"
#include "core/error.h"
#include "core/time.h"
#include "daemon/alert_queue.h"
#include "daemon/metrics.h"
#include "daemon/schedule.h"
#include "store/store.h"

namespace chorus::daemon {

struct AlertDispatcherOptions {
  int64_t scan_interval_ms = 1'000;
  int64_t spike_interval_ms = 30'000;  // 0 = the dispatcher does not evaluate spike rules
  BackoffPolicy backoff{1'000, 300'000};
  int64_t give_up_ms = 24LL * 3'600'000;
  int max_rejected_attempts = 3;
  size_t scan_limit = 5'000;  // outbox entries looked at per pass
  collectors::HttpClientOptions http{5'000, 10'000, 1u << 20, ""};
  // Makes the HTTP client for an origin ("https://hooks.example"); tests may substitute one.
  std::function<Result<std::unique_ptr<collectors::HttpTransport>>(
      const std::string& origin, const collectors::HttpClientOptions& options)>
      transport_factory;
};

class AlertDispatcher {
 public:
  // `queue` may be null (no spike evaluation); `metrics` may be null (tests).
  AlertDispatcher(store::Store& store, AlertQueue* queue, Metrics* metrics, const Clock& clock,
                  AlertDispatcherOptions options = {});
  ~AlertDispatcher();  // stops
  AlertDispatcher(const AlertDispatcher&) = delete;
  AlertDispatcher& operator=(const AlertDispatcher&) = delete;

  // The receivers entries are delivered to (at start-up and on reload). Entries for a receiver no
  // longer configured are dropped.
  void SetReceivers(const std::vector<config::Receiver>& receivers);
  void Start();
  // Finishes the pass in flight and joins the thread. Idempotent.
  void Stop();
  // Asks for a pass now (e.g. after alerts were committed).
  void Nudge();

  // One synchronous pass over the outbox at the clock's now (the thread calls this; so can tests
  // without Start()). Returns how many entries it attempted.
  int DeliverDue();

 private:
  struct Attempt {
    bool ok = false;
    bool rejected = false;  // the receiver refused the request itself (4xx but 408/429)
    std::string error;
  };
  void Run();
  Attempt Deliver(const config::Receiver& receiver, const analytics::Alert& alert);
  void Count(const std::string& rule, const std::string& receiver, const char* outcome);
  double Random();

  store::Store& store_;
  AlertQueue* queue_;
  Metrics* metrics_;
  const Clock& clock_;
  AlertDispatcherOptions options_;

  std::mutex mu_;  // receivers_, nudged_, stopping_
  std::condition_variable cv_;
  std::map<std::string, config::Receiver> receivers_;
  bool nudged_ = false;
  bool stopping_ = false;
  std::thread thread_;

  std::mutex pass_mu_;  // one pass at a time; guards what follows
  std::set<std::string> delivered_;      // outbox keys delivered in this run
  std::deque<std::string> delivered_order_;
  std::mt19937_64 rng_;
  int64_t last_spike_ms_ = 0;
  int64_t last_trim_ms_ = 0;
};

}  // namespace chorus::daemon
