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

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "collectors/collector.h"

namespace chorus::collectors {

// The persisted state of one hashtag query: the newest status id stored (the watermark the next
// poll's overlap is measured from) and, while a poll is unfinished, the min_id to resume from.
// Stored as "<newest>" or "<newest>/<resume>".
struct MastodonCursor {
  uint64_t newest_id = 0;
  uint64_t resume_min_id = 0;
};
// Statuses re-fetched per GET /api/v1/statuses?id[]= (Mastodon 4.3+ caps the list at 40).
inline constexpr size_t kMastodonRefreshBatch = 40;

MastodonCursor ParseMastodonCursor(std::string_view text);
std::string FormatMastodonCursor(const MastodonCursor& cursor);

Result<std::unique_ptr<Collector>> MakeMastodonCollector(const config::Source& source,
                                                         const config::Config& config,
                                                         std::unique_ptr<HttpTransport> transport);

}  // namespace chorus::collectors
