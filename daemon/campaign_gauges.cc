#include "daemon/campaign_gauges.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

namespace chorus::daemon {

Result<std::vector<CampaignGaugeValue>> ComputeCampaignGauges(const store::Store& store,
                                                              const config::Config& config,
                                                              int64_t now_ms) {
  std::set<std::string> platforms;
  for (const auto& s : config.sources) platforms.insert(std::string(PlatformName(s.platform)));
  const int64_t now_s = now_ms / 1000;
  const int64_t minute_keep_s = config.storage.retention.minute_ms / 1000;
  constexpr size_t kWindows = std::size(kGaugeWindows);
  // Windows read at the same resolution share one walk of the store (the widest of them).
  std::map<store::Step, std::vector<size_t>> by_step;
  for (size_t w = 0; w < kWindows; ++w) {
    const bool minutes = minute_keep_s == 0 || minute_keep_s >= kGaugeWindows[w].seconds;
    by_step[minutes ? store::Step::kMinute : store::Step::kHour].push_back(w);
  }

  // values[campaign][platform][window]
  std::vector<CampaignGaugeValue> out(config.campaigns.size() * platforms.size() * kWindows);
  auto at = [&](size_t c, size_t p, size_t w) -> CampaignGaugeValue& {
    return out[(w * config.campaigns.size() + c) * platforms.size() + p];
  };
  for (const auto& [step, windows] : by_step) {
    // Buckets starting after now - window; the bucket holding now is included.
    const int64_t to = store::BucketStart(now_s, step) + store::StepSeconds(step);
    std::vector<int64_t> froms;
    for (size_t w : windows) {
      froms.push_back(store::BucketStart(now_s - kGaugeWindows[w].seconds, step) + store::StepSeconds(step));
    }
    const int64_t widest = *std::min_element(froms.begin(), froms.end());
    for (size_t c = 0; c < config.campaigns.size(); ++c) {
      size_t p = 0;
      for (const auto& platform : platforms) {
        const std::string& campaign = config.campaigns[c].name;
        auto authors = store.CountDistinctAuthorsSince(campaign, platform, froms, to, step);
        if (!authors) return Fail(authors.error());
        auto posts = store.ReadSeries("posts", campaign, platform, "", widest, to, step);
        if (!posts) return Fail(posts.error());
        for (size_t i = 0; i < windows.size(); ++i) {
          CampaignGaugeValue& v = at(c, p, windows[i]);
          v = {campaign, platform, kGaugeWindows[windows[i]].label};
          v.unique_authors = (*authors)[i];
          for (const auto& [t, n] : *posts) v.posts += t >= froms[i] ? n : 0;
        }
        ++p;
      }
    }
  }
  // Share of voice: against all campaigns' posts on the same platform in the same window.
  for (size_t w = 0; w < kWindows; ++w) {
    for (size_t p = 0; p < platforms.size(); ++p) {
      int64_t total = 0;
      for (size_t c = 0; c < config.campaigns.size(); ++c) total += at(c, p, w).posts;
      for (size_t c = 0; c < config.campaigns.size(); ++c) {
        auto& v = at(c, p, w);
        v.share_of_voice = total > 0 ? static_cast<double>(v.posts) / static_cast<double>(total) : 0;
      }
    }
  }
  return out;
}

Result<void> UpdateCampaignGauges(const store::Store& store, const config::Config& config,
                                  int64_t now_ms, Metrics& metrics) {
  auto values = ComputeCampaignGauges(store, config, now_ms);
  if (!values) return Fail(values.error());
  for (const auto& v : *values) {
    metrics.SetUniqueAuthors(v.campaign, v.platform, v.window, static_cast<double>(v.unique_authors));
    metrics.SetShareOfVoice(v.campaign, v.platform, v.window, v.share_of_voice);
  }
  metrics.SetStoreSize(static_cast<double>(store.ApproximateSizeBytes()));
  return {};
}

}  // namespace chorus::daemon
