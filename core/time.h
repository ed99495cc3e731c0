// Time helpers: everything in Chorus is UTC, in unix milliseconds unless a name says otherwise.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace chorus {

// a / b rounded towards negative infinity, so a time before 1970 falls in the second (or bucket)
// that holds it, not in the one after.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Parses RFC 3339 / ISO 8601 date-times such as "2026-03-10T14:05:00.000Z",
// "2026-03-10T14:10:00.000000Z" or "2026-03-10T16:05:00+02:00" into unix milliseconds.
Result<int64_t> ParseRfc3339Ms(std::string_view text);

// Formats unix milliseconds as "2026-03-10T14:05:00.000Z".
std::string FormatRfc3339Ms(int64_t unix_ms);
// The same, appended to `out`.
void AppendRfc3339Ms(std::string* out, int64_t unix_ms);

// Parses a time given on a command line or query string: RFC 3339 or unix seconds.
Result<int64_t> ParseTimeArgMs(std::string_view text);

// Parses durations "250ms", "30s", "15m", "24h", "7d" (and "0") into milliseconds.
Result<int64_t> ParseDurationMs(std::string_view text);

// Formats milliseconds as the shortest exact duration string ("90s", "15m", "2h").
std::string FormatDurationMs(int64_t ms);

// The one seam to the wall clock, so tests can control time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  static const SystemClock& Instance();
};

// A clock tests move by hand. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms); }
  void Advance(int64_t ms) { now_ms_.fetch_add(ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace chorus
