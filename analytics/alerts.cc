#include "analytics/alerts.h"

#include <algorithm>
#include <cmath>

#include "core/time.h"

namespace chorus::analytics {
namespace {

constexpr int64_t kMinuteS = 60;

// Window length in whole minutes (rounded up, at least one).
int64_t WindowMinutes(int64_t window_ms) { return std::max<int64_t>(1, (window_ms + 59'999) / 60'000); }

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

AlertEngine::AlertEngine(const config::Config& config) {
  for (const auto& r : config.rules) {
    if (r.kind == kRuleSpike) {
      spike_rules_.push_back(r);
    } else if (r.kind == kRuleMention || r.kind == kRuleResponse) {
      post_rules_.push_back(r);
    }
  }
  for (const auto& p : config.policymakers) policymaker_names_[p.id] = p.name.empty() ? p.id : p.name;
}

std::vector<Alert> AlertEngine::OnNewPost(const Post& post, const Match& match,
                                          const std::vector<std::string>& responded,
                                          int64_t now_ms) const {
  std::vector<Alert> out;
  for (const auto& rule : post_rules_) {
    if (post.created_at_ms < now_ms - rule.max_age_ms) continue;
    std::vector<std::string> campaigns;
    std::vector<std::string> policymakers;
    if (rule.kind == kRuleMention) {
      if (match.mentioned_policymakers.empty()) continue;
      if (!rule.campaign.empty() && !Contains(match.campaigns, rule.campaign)) continue;
      campaigns = match.campaigns;
      policymakers = match.mentioned_policymakers;
    } else {
      if (responded.empty() || match.author_policymaker.empty()) continue;
      if (!rule.campaign.empty() && !Contains(responded, rule.campaign)) continue;
      campaigns = responded;
      policymakers = {match.author_policymaker};
    }
    Alert a;
    a.platform = std::string(PlatformName(post.platform));
    a.key = rule.name + "/" + a.platform + "/" + post.key;
    a.rule = rule.name;
    a.kind = rule.kind;
    a.created_ms = now_ms;
    a.campaigns = std::move(campaigns);
    for (const auto& id : policymakers) {
      auto it = policymaker_names_.find(id);
      a.policymaker_names.push_back(it == policymaker_names_.end() ? id : it->second);
    }
    a.policymakers = std::move(policymakers);
    a.post = {post.key, post.url, post.author, post.created_at_ms, post.text};
    a.receivers = rule.receivers;
    out.push_back(std::move(a));
  }
  return out;
}

std::pair<int64_t, int64_t> SpikeRange(int64_t window_ms, int64_t now_ms) {
  const int64_t w_s = WindowMinutes(window_ms) * kMinuteS;
  const int64_t end_s = FloorDiv(FloorDiv(now_ms, 1000), kMinuteS) * kMinuteS + kMinuteS;
  const int64_t windows = kSpikeBaselineMs / 1000 / w_s;
  return {end_s - w_s * (windows + 1), end_s};
}

std::optional<SpikeStats> MeasureSpike(const std::vector<std::pair<int64_t, int64_t>>& minute_counts,
                                       int64_t window_ms, double threshold, int64_t now_ms) {
  const int64_t w_s = WindowMinutes(window_ms) * kMinuteS;
  const auto [from_s, end_s] = SpikeRange(window_ms, now_ms);
  const int64_t current_start_s = end_s - w_s;
  const int64_t windows = (current_start_s - from_s) / w_s;  // baseline windows, oldest index 0

  SpikeStats s;
  s.window_start_ms = current_start_s * 1000;
  s.window_ms = w_s * 1000;
  std::vector<int64_t> counts(static_cast<size_t>(windows), 0);
  int64_t first_s = INT64_MAX;
  for (const auto& [t, n] : minute_counts) {
    if (t < from_s || t >= end_s || n <= 0) continue;
    first_s = std::min(first_s, t);
    if (t >= current_start_s) {
      s.count += n;
    } else {
      counts[static_cast<size_t>((t - from_s) / w_s)] += n;
    }
  }
  // History starts with the window holding the first post; earlier windows predate collection.
  const int64_t first_window = first_s == INT64_MAX || first_s >= current_start_s
                                   ? windows
                                   : (first_s - from_s) / w_s;
  s.baseline_windows = static_cast<int>(windows - first_window);
  if (s.baseline_windows < kSpikeMinBaselineWindows) return std::nullopt;
  double sum = 0;
  for (int64_t i = first_window; i < windows; ++i) sum += static_cast<double>(counts[static_cast<size_t>(i)]);
  s.mean = sum / s.baseline_windows;
  double sq = 0;
  for (int64_t i = first_window; i < windows; ++i) {
    const double d = static_cast<double>(counts[static_cast<size_t>(i)]) - s.mean;
    sq += d * d;
  }
  s.stddev = std::sqrt(sq / s.baseline_windows);
  const double floor_sd = std::max({s.stddev, std::sqrt(s.mean), 1.0});
  s.line = s.mean + threshold * floor_sd;
  return s;
}

std::optional<Alert> SpikeDetector::Evaluate(const config::Rule& rule,
                                             const std::vector<std::pair<int64_t, int64_t>>& minute_counts,
                                             int64_t now_ms) {
  const auto stats = MeasureSpike(minute_counts, rule.window_ms, rule.threshold, now_ms);
  if (!stats) return std::nullopt;
  State& st = state_[rule.name];
  const bool above = static_cast<double>(stats->count) > stats->line;
  if (st.cooling) {
    if (!above) st.rearmed = true;
    if (st.rearmed && now_ms >= st.last_alert_ms + kSpikeCooldownWindows * stats->window_ms) {
      st.cooling = false;
    }
    if (st.cooling) return std::nullopt;
  }
  if (!above || stats->count < kSpikeMinPosts) return std::nullopt;
  st = State{true, false, now_ms};

  Alert a;
  a.key = rule.name + "/spike/" + FormatRfc3339Ms(stats->window_start_ms);
  a.rule = rule.name;
  a.kind = rule.kind;
  a.created_ms = now_ms;
  a.campaigns = {rule.campaign};
  a.spike = *stats;
  a.receivers = rule.receivers;
  return a;
}

void SpikeDetector::RestoreLastAlert(const std::string& rule, int64_t alert_ms) {
  State& st = state_[rule];
  if (st.cooling && st.last_alert_ms >= alert_ms) return;
  st = State{true, false, alert_ms};
}

bool SpikeDetector::InCooldown(const std::string& rule) const {
  auto it = state_.find(rule);
  return it != state_.end() && it->second.cooling;
}

}  // namespace chorus::analytics
