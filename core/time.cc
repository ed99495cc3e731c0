#include "core/time.h"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace chorus {
namespace {

bool ReadDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

Result<int64_t> ParseRfc3339Ms(std::string_view s) {
  auto bad = [&] { return Fail(Error::Parse("not an RFC 3339 time: '" + std::string(s.substr(0, 64)) + "'")); };
  int year, month, day, hour, minute, second;
  if (!ReadDigits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !ReadDigits(s, 5, 2, &month) ||
      s[7] != '-' || !ReadDigits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !ReadDigits(s, 11, 2, &hour) || s[13] != ':' || !ReadDigits(s, 14, 2, &minute) ||
      s[16] != ':' || !ReadDigits(s, 17, 2, &second)) {
    return bad();
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return bad();
  if (day > kDays[month - 1] + (month == 2 && IsLeap(year) ? 1 : 0)) return bad();
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
    for (int i = digits; i < 3; ++i) millis *= 10;
  }
  int64_t offset_s = 0;
  if (pos == s.size()) return bad();
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!ReadDigits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ReadDigits(s, pos + 4, 2, &om)) {
      return bad();
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + (second == 60 ? 59 : second) - offset_s;
  return secs * 1000 + millis;
}

namespace {
void Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}
}  // namespace

// Hot in exports (a row has one or two times), so written without snprintf for years 0-9999.
void AppendRfc3339Ms(std::string* out, int64_t unix_ms) {
  const int64_t secs = FloorDiv(unix_ms, 1000);
  const int64_t ms = unix_ms - secs * 1000;
  int64_t days = FloorDiv(secs, 86400);
  const int64_t rem = secs - days * 86400;
  // civil_from_days
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  if (y < 0 || y > 9999) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                  static_cast<long long>(rem % 3600 / 60), static_cast<long long>(rem % 60),
                  static_cast<long long>(ms));
    out->append(buf);
    return;
  }
  char buf[24];  // YYYY-MM-DDTHH:MM:SS.mmmZ
  Put2(buf, static_cast<unsigned>(y / 100));
  Put2(buf + 2, static_cast<unsigned>(y % 100));
  buf[4] = '-';
  Put2(buf + 5, m);
  buf[7] = '-';
  Put2(buf + 8, d);
  buf[10] = 'T';
  Put2(buf + 11, static_cast<unsigned>(rem / 3600));
  buf[13] = ':';
  Put2(buf + 14, static_cast<unsigned>(rem % 3600 / 60));
  buf[16] = ':';
  Put2(buf + 17, static_cast<unsigned>(rem % 60));
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + ms / 100);
  Put2(buf + 21, static_cast<unsigned>(ms % 100));
  buf[23] = 'Z';
  out->append(buf, sizeof buf);
}

std::string FormatRfc3339Ms(int64_t unix_ms) {
  std::string out;
  AppendRfc3339Ms(&out, unix_ms);
  return out;
}

Result<int64_t> ParseTimeArgMs(std::string_view text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
    int64_t secs = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), secs);
    if (ec != std::errc() || p != text.data() + text.size() || secs > 253402300799) {
      return Fail(Error::InvalidArgument("time out of range: '" + std::string(text) + "'"));
    }
    return secs * 1000;
  }
  auto r = ParseRfc3339Ms(text);
  if (!r) {
    return Fail(Error::InvalidArgument("not a time (RFC 3339 or unix seconds): '" +
                                       std::string(text.substr(0, 64)) + "'"));
  }
  return r;
}

Result<int64_t> ParseDurationMs(std::string_view text) {
  auto bad = [&] {
    return Fail(Error::InvalidArgument("not a duration (e.g. 30s, 15m, 24h, 7d): '" +
                                       std::string(text.substr(0, 64)) + "'"));
  };
  if (text == "0") return 0;
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0 || i > 12) return bad();
  int64_t n = 0;
  std::from_chars(text.data(), text.data() + i, n);
  const std::string_view unit = text.substr(i);
  int64_t mult;
  if (unit == "ms") mult = 1;
  else if (unit == "s") mult = 1000;
  else if (unit == "m") mult = 60'000;
  else if (unit == "h") mult = 3'600'000;
  else if (unit == "d") mult = 86'400'000;
  else if (unit == "w") mult = 7 * 86'400'000LL;
  else return bad();
  return n * mult;
}

std::string FormatDurationMs(int64_t ms) {
  struct Unit { int64_t size; const char* name; };
  static constexpr Unit kUnits[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
  if (ms == 0) return "0";
  for (const auto& u : kUnits) {
    if (ms % u.size == 0) return std::to_string(ms / u.size) + u.name;
  }
  return std::to_string(ms) + "ms";
}

int64_t SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const SystemClock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace chorus
