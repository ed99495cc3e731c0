// The gauges computed from the store rather than counted as pages arrive (design §7):
// unique authors and share of voice per campaign, platform and window, and the store's size.
//
// Windows end now (design §5). Unique authors are exact: the store keeps who posted in each
// bucket. Windows are read at minute resolution while the minute series are retained that long,
// else at hour resolution (the window's first hour then counts whole).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "daemon/metrics.h"
#include "store/store.h"

namespace chorus::daemon {

struct GaugeWindow {
  const char* label;  // the `window` label: 1h, 24h, 7d
  int64_t seconds;
};
inline constexpr GaugeWindow kGaugeWindows[] = {{"1h", 3600}, {"24h", 86400}, {"7d", 7 * 86400}};

// One campaign × platform × window reading.
struct CampaignGaugeValue {
  std::string campaign;
  std::string platform;
  std::string window;
  int64_t unique_authors = 0;
  int64_t posts = 0;
  double share_of_voice = 0;  // posts / all campaigns' posts on the platform in the window; 0 if none
};

// Reads every configured campaign × platform (the platforms of the configured sources) × window.
Result<std::vector<CampaignGaugeValue>> ComputeCampaignGauges(const store::Store& store,
                                                              const config::Config& config,
                                                              int64_t now_ms);

// Computes and publishes them, with the store size.
Result<void> UpdateCampaignGauges(const store::Store& store, const config::Config& config,
                                  int64_t now_ms, Metrics& metrics);

}  // namespace chorus::daemon
