// Mastodon collector: hashtag timelines (platform-apis.md §1).
//
// Polling: `GET /api/v1/timelines/tag/:tag` with `min_id`, which returns the *oldest* page above
// min_id, so a poll walks forward in time and every committed page advances the cursor without a
// gap (crash-safe by construction). Each poll starts at the time of the newest stored id minus
// `overlap`, because remote posts get ids derived from their creation time and can arrive late;
// the first poll starts at now minus `backfill`. A short page ends a poll, so a quiet tag costs one
// request per poll interval, and all queries of a source share its rate-limit budget.
//
// One query per hashtag, deliberately not several through `any[]`: Mastodon answers `[]` for the
// whole request when the path's tag has never been used on that server, so a grouped query would
// silently hide the other tags' posts. Links are not followed verbatim; the next min_id is taken
// from the page itself.
#pragma once

#include <memory>

#include "collectors/collector.h"

namespace chorus::collectors {

Result<std::unique_ptr<Collector>> MakeMastodonCollector(const config::Source& source,
                                                         const config::Config& config,
                                                         std::unique_ptr<HttpTransport> transport);

}  // namespace chorus::collectors
