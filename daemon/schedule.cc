#include "daemon/schedule.h"

#include <algorithm>

namespace chorus::daemon {

int64_t JitteredIntervalMs(int64_t interval_ms, double unit_random) {
  return static_cast<int64_t>(static_cast<double>(interval_ms) * (0.9 + 0.2 * unit_random));
}

int64_t BackoffDelayMs(int failures, const BackoffPolicy& policy, double unit_random) {
  if (failures < 1) failures = 1;
  int64_t d = policy.base_ms;
  for (int i = 1; i < failures && d < policy.max_ms; ++i) d *= 2;
  d = std::min(d, policy.max_ms);
  return d / 2 + static_cast<int64_t>(static_cast<double>(d - d / 2) * unit_random);
}

void RateBudget::Update(const collectors::RateLimit& rate, int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!rate.remaining) return;
  remaining_ = rate.remaining;
  if (*rate.remaining <= reserve_) {
    // Spent: wait for the window to reset. Without a reset time, a minute is a safe guess.
    const int64_t until = rate.reset_at_ms.value_or(now_ms + 60'000);
    blocked_until_ms_ = std::max(blocked_until_ms_, until);
  }
}

void RateBudget::OnRateLimited(const collectors::RateLimit& rate, int64_t now_ms,
                               int64_t fallback_ms) {
  std::lock_guard lock(mu_);
  remaining_ = 0;
  int64_t until = now_ms + fallback_ms;
  if (rate.reset_at_ms && *rate.reset_at_ms > now_ms) {
    until = *rate.reset_at_ms;
  } else if (rate.reset_at_ms && now_ms - *rate.reset_at_ms <= kJustResetMs) {
    // The window turned over while the 429 was in flight or queued: it has reset already, so one
    // short pause is enough. A reset further in the past is clock skew, and gets the fallback.
    until = now_ms + kAfterJustResetMs;
  }
  blocked_until_ms_ = std::max(blocked_until_ms_, until);
}

int64_t RateBudget::WaitMs(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  return blocked_until_ms_ > now_ms ? blocked_until_ms_ - now_ms : 0;
}

std::optional<int64_t> RateBudget::remaining() const {
  std::lock_guard lock(mu_);
  return remaining_;
}

int64_t GapThresholdMs(int64_t poll_interval_ms) {
  return std::max(3 * poll_interval_ms, poll_interval_ms + 5 * 60'000);
}

}  // namespace chorus::daemon
