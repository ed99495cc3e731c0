// A one-line progress bar for long chorusctl commands (design §3: "a long import or export shows
// progress on a terminal, not when piped").
//
// The bar is drawn on stderr only when stderr is a terminal, so logs, pipes and test captures
// never see it. It redraws the same line (carriage return + erase) at most ten times a second,
// however often Update() is called, so callers may report after every unit of work.
// Not thread-safe: one owner thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace chorus::daemon {

class ProgressLine {
 public:
  // `label` leads the line ("import", "export"). The bar is shown when `enabled`; by default when
  // stderr is a terminal.
  explicit ProgressLine(std::string label);
  ProgressLine(std::string label, bool enabled);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool enabled() const { return enabled_; }

  // Reports `fraction` (clamped to [0, 1]) done and a short `detail` ("12.1/40.0 MB, 51,200
  // posts"); redraws when the last drawing is at least 100 ms old.
  void Update(double fraction, std::string_view detail);
  // Erases the bar, so a message can be written to stderr on a clean line; the next Update
  // redraws it at once.
  void Clear();
  // Erases the bar for good (also done by the destructor).
  void Finish();

 private:
  void Draw(double fraction, std::string_view detail);

  std::string label_;
  bool enabled_ = false;
  bool drawn_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// "1,234,567": counts in progress lines and summaries are read by people.
std::string GroupThousands(int64_t n);

}  // namespace chorus::daemon
