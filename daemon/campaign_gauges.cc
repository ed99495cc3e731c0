#include "daemon/campaign_gauges.h"

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
  std::vector<CampaignGaugeValue> out;
  for (const auto& w : kGaugeWindows) {
    const store::Step step = minute_keep_s == 0 || minute_keep_s >= w.seconds ? store::Step::kMinute
                                                                             : store::Step::kHour;
    // Buckets starting after now - window; the bucket holding now is included.
    const int64_t from = store::BucketStart(now_s - w.seconds, step) + store::StepSeconds(step);
    const int64_t to = store::BucketStart(now_s, step) + store::StepSeconds(step);
    std::map<std::string, int64_t> platform_total;
    const size_t first = out.size();
    for (const auto& c : config.campaigns) {
      for (const auto& p : platforms) {
        CampaignGaugeValue v{c.name, p, w.label};
        auto authors = store.CountDistinctAuthors(c.name, p, from, to, step);
        if (!authors) return Fail(authors.error());
        v.unique_authors = *authors;
        auto posts = store.ReadSeries("posts", c.name, p, "", from, to, step);
        if (!posts) return Fail(posts.error());
        for (const auto& [t, n] : *posts) v.posts += n;
        platform_total[p] += v.posts;
        out.push_back(std::move(v));
      }
    }
    for (size_t i = first; i < out.size(); ++i) {
      const int64_t total = platform_total[out[i].platform];
      out[i].share_of_voice = total > 0 ? static_cast<double>(out[i].posts) / static_cast<double>(total) : 0;
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
