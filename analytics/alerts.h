// Alert rules (design §4 `alerts:`): which new posts raise an alert, and when a campaign's volume
// is a spike. Pure computation, no I/O and no clock of its own: callers pass `now_ms`, so rules
// are tested with a fake clock. Storage and delivery of the alerts are the daemon's business
// (daemon/alert_queue.h, daemon/alert_dispatcher.h); docs/alerts.md is the operator's guide.
//
// Post rules, one alert per rule per post:
//   policymaker_mention   the post mentions at least one policymaker (design §5 "Mentions"); with
//                         `campaign:`, only posts matching that campaign. All mentioned
//                         policymakers are named in the one alert.
//   policymaker_response  the post is a policymaker's response to a campaign (design §5
//                         "Responses"); with `campaign:`, only responses to that campaign.
// A post created more than the rule's `max_age` before it was first stored is not alerted (a
// first backfill must not flood the receivers).
//
// Spike rules (`campaign`, `window` W, `threshold` k), evaluated periodically on the campaign's
// per-minute post counts summed over all platforms, by creation time:
//   - W is rounded up to whole minutes (m). The current window is the m minute buckets ending
//     with the bucket holding `now` (the running minute counts as far as it got).
//   - The baseline is the N = floor(7d / W) back-to-back windows of the same length before it.
//     Windows ending at or before the campaign's first post in that 7-day range are not history
//     (the campaign was not collected yet) and are left out; zero windows after it count as 0.
//     With fewer than kSpikeMinBaselineWindows windows left, the rule does not fire.
//   - mean μ and population standard deviation σ of the baseline windows' counts;
//     σ' = max(σ, √μ, 1): post counts are at least Poisson-noisy, so a flat or empty baseline
//     does not turn one extra post into "3 standard deviations".
//   - spike when count > μ + k·σ' and count ≥ kSpikeMinPosts.
//   - cooldown, so one surge is one alert: after an alert the rule stays quiet until an
//     evaluation has seen the count back at or below μ + k·σ' AND at least 4·W has passed.
//
// Thread safety: AlertEngine is immutable after construction (share one, rebuild on reload).
// SpikeDetector holds the cooldown state and is not thread-safe; callers serialize it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analytics/matcher.h"
#include "config/config.h"
#include "core/model.h"

namespace chorus::analytics {

inline constexpr const char* kRuleMention = "policymaker_mention";
inline constexpr const char* kRuleResponse = "policymaker_response";
inline constexpr const char* kRuleSpike = "spike";

inline constexpr int64_t kSpikeBaselineMs = 7LL * 86'400'000;
inline constexpr int kSpikeMinBaselineWindows = 4;
inline constexpr int64_t kSpikeMinPosts = 5;
inline constexpr int kSpikeCooldownWindows = 4;

// The post an alert is about (empty for spike alerts).
struct AlertPost {
  std::string id;  // canonical key (design §5)
  std::string url;
  std::string author;
  int64_t created_at_ms = 0;
  std::string text;
};

// What a spike alert measured.
struct SpikeStats {
  int64_t window_start_ms = 0;  // the current window: [window_start_ms, window_start_ms + window_ms)
  int64_t window_ms = 0;
  int64_t count = 0;            // posts created in the current window
  double mean = 0;              // baseline μ
  double stddev = 0;            // baseline σ (before the floor)
  double line = 0;              // μ + k·σ': the count must exceed this
  int baseline_windows = 0;     // windows that counted as history
};

// One raised alert: everything a receiver is sent, and what the log shows.
struct Alert {
  // Stable across restarts and re-evaluation: "<rule>/<platform>/<post key>" for post rules,
  // "<rule>/spike/<window start, RFC 3339>" for spikes. Receivers deduplicate by it.
  std::string key;
  std::string rule;
  std::string kind;
  int64_t created_ms = 0;  // when it was raised
  std::string platform;    // "" for spikes (all platforms)
  std::vector<std::string> campaigns;
  std::vector<std::string> policymakers;       // ids, config order
  std::vector<std::string> policymaker_names;  // display names, parallel to `policymakers`
  AlertPost post;
  std::optional<SpikeStats> spike;
  std::vector<std::string> receivers;  // receiver names, from the rule
};

class AlertEngine {
 public:
  explicit AlertEngine(const config::Config& config);

  // The alerts a post stored for the first time raises, one per matching post rule, in rule
  // order. `responded` are the campaigns the post responds to (design §5; empty unless a
  // policymaker wrote it).
  std::vector<Alert> OnNewPost(const Post& post, const Match& match,
                               const std::vector<std::string>& responded, int64_t now_ms) const;

  const std::vector<config::Rule>& spike_rules() const { return spike_rules_; }

 private:
  std::vector<config::Rule> post_rules_;
  std::vector<config::Rule> spike_rules_;
  std::map<std::string, std::string> policymaker_names_;  // id -> display name
};

// The minute buckets [from_s, to_s) a spike rule with `window_ms` needs at `now_ms`: the current
// window and the 7-day baseline before it.
std::pair<int64_t, int64_t> SpikeRange(int64_t window_ms, int64_t now_ms);

// Measures the current window against the baseline. `minute_counts` are (bucket start in unix
// seconds, posts) pairs in any order, absent buckets being 0; buckets outside SpikeRange are
// ignored. nullopt when there is not enough history (fewer than kSpikeMinBaselineWindows).
std::optional<SpikeStats> MeasureSpike(const std::vector<std::pair<int64_t, int64_t>>& minute_counts,
                                       int64_t window_ms, double threshold, int64_t now_ms);

// Spike rules with their cooldown state, kept across config reloads (by rule name).
class SpikeDetector {
 public:
  // Evaluates one spike rule; returns the alert to raise, if any, and updates the cooldown.
  std::optional<Alert> Evaluate(const config::Rule& rule,
                                const std::vector<std::pair<int64_t, int64_t>>& minute_counts,
                                int64_t now_ms);
  // After a restart: the rule raised an alert at `alert_ms`; it stays in cooldown until the
  // volume has come down (and 4·window has passed), as if the process had not restarted.
  void RestoreLastAlert(const std::string& rule, int64_t alert_ms);
  bool InCooldown(const std::string& rule) const;

 private:
  struct State {
    bool cooling = false;
    bool rearmed = false;
    int64_t last_alert_ms = 0;
  };
  std::map<std::string, State> state_;
};

}  // namespace chorus::analytics
