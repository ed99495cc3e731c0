#include "daemon/ctl_progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace chorus::daemon {
namespace {

constexpr auto kMinRedraw = std::chrono::milliseconds(100);
constexpr int kBarWidth = 30;

}  // namespace

ProgressLine::ProgressLine(std::string label) : ProgressLine(std::move(label), isatty(STDERR_FILENO) == 1) {}

ProgressLine::ProgressLine(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled) {}

ProgressLine::~ProgressLine() { Finish(); }

void ProgressLine::Update(double fraction, std::string_view detail) {
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < kMinRedraw) return;
  last_draw_ = now;
  Draw(fraction, detail);
}

void ProgressLine::Draw(double fraction, std::string_view detail) {
  if (!(fraction >= 0)) fraction = 0;  // also NaN
  fraction = std::min(fraction, 1.0);
  const int filled = static_cast<int>(std::lround(fraction * kBarWidth));
  std::string line = "\r" + label_ + " [";
  line.append(static_cast<size_t>(filled), '#');
  line.append(static_cast<size_t>(kBarWidth - filled), '.');
  char pct[16];
  std::snprintf(pct, sizeof pct, "] %3d%%  ", static_cast<int>(fraction * 100));
  line += pct;
  line += detail;
  line += "\x1b[K";  // erase what a longer previous line left behind
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::Clear() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
  drawn_ = false;  // the next Update draws regardless of the rate limit
}

void ProgressLine::Finish() {
  Clear();
  finished_ = true;
}

std::string GroupThousands(int64_t n) {
  const uint64_t magnitude = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  const std::string digits = std::to_string(magnitude);
  std::string out;
  const size_t lead = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  out.append(digits, 0, lead);
  for (size_t i = lead; i < digits.size(); i += 3) {
    out += ',';
    out.append(digits, i, 3);
  }
  return n < 0 ? "-" + out : out;
}

}  // namespace chorus::daemon
