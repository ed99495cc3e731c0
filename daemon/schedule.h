// Poll-scheduling arithmetic, kept pure so it is tested without clocks or sockets: jittered
// intervals, exponential backoff with jitter, and the per-credential rate-limit budget.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "collectors/collector.h"

namespace chorus::daemon {

// The interval scaled by a factor in [0.9, 1.1): sources configured alike drift apart instead of
// hitting a server in lockstep. `unit_random` is in [0, 1).
int64_t JitteredIntervalMs(int64_t interval_ms, double unit_random);

struct BackoffPolicy {
  int64_t base_ms = 1'000;
  int64_t max_ms = 300'000;
};

// Delay before retry number `failures` (1 = first retry): base * 2^(failures-1), capped at max,
// then "equal jitter": a value in [d/2, d).
int64_t BackoffDelayMs(int failures, const BackoffPolicy& policy, double unit_random);

// What one credential may still spend. The platform's headers are the truth: after each response
// the budget records remaining and reset; when remaining is down to the reserve, or the platform
// answered 429, no request may be sent until the window resets. Thread-safe.
class RateBudget {
 public:
  explicit RateBudget(int64_t reserve = 1) : reserve_(reserve) {}

  void Update(const collectors::RateLimit& rate, int64_t now_ms);
  // A 429: blocked until the reported reset. A reset that passed at most kJustResetMs ago (the
  // window turned over on the way) waits kAfterJustResetMs; no reset, or one further in the past
  // (clock skew), waits `fallback_ms`.
  static constexpr int64_t kJustResetMs = 5'000;
  static constexpr int64_t kAfterJustResetMs = 1'000;
  void OnRateLimited(const collectors::RateLimit& rate, int64_t now_ms, int64_t fallback_ms);
  // Milliseconds to wait before the next request may be sent; 0 when it may go now.
  int64_t WaitMs(int64_t now_ms) const;
  std::optional<int64_t> remaining() const;

 private:
  mutable std::mutex mu_;
  int64_t reserve_;
  std::optional<int64_t> remaining_;
  int64_t blocked_until_ms_ = 0;
};

// How long a source may go without a complete poll before the stretch counts as a collection gap:
// three poll intervals, and never less than the interval plus five minutes (so a slow page or one
// retry is not a gap).
int64_t GapThresholdMs(int64_t poll_interval_ms);

}  // namespace chorus::daemon
