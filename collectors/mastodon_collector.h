// Mastodon collector: hashtag timelines (platform-apis.md §1).
//
// Polling: `GET /api/v1/timelines/tag/:tag` with `min_id`, which returns the *oldest* page above
// min_id, so a poll walks forward in time and every committed page advances the cursor without a
// gap (crash-safe by construction). Each poll starts at the time of the newest stored id minus
// `overlap`, because remote posts get ids derived from their creation time and can arrive late;
// the first poll starts at now minus `backfill`. Up to five hashtags share one query through
// `any[]` (Mastodon takes four per mode), so quiet tags do not cost a request each. Links are not
// followed verbatim (Mastodon drops `any[]` from them); the next min_id is taken from the page.
#pragma once

#include <memory>

#include "collectors/collector.h"

namespace chorus::collectors {

Result<std::unique_ptr<Collector>> MakeMastodonCollector(const config::Source& source,
                                                         const config::Config& config,
                                                         std::unique_ptr<HttpTransport> transport);

// How many hashtags one tag-timeline request can carry: the path tag plus four any[].
inline constexpr size_t kMastodonTagsPerQuery = 5;

}  // namespace chorus::collectors
