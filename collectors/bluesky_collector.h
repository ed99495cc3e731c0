// Bluesky collector (platform-apis.md §2), over XRPC on the account's PDS (or any host that
// serves the same methods).
//
// Queries, one cursor each:
//   tag:<tag>            app.bsky.feed.searchPosts q="#tag" tag=<tag>   one per campaign hashtag
//   q:<keyword>          app.bsky.feed.searchPosts q="<keyword>"       one per campaign keyword
//   mentions:<handle>    app.bsky.feed.searchPosts q=* mentions=<DID>  one per policymaker
//   author:<handle>      app.bsky.feed.getAuthorFeed actor=<DID>       each policymaker's own posts
// Policymaker handles are resolved to DIDs once (com.atproto.identity.resolveHandle) and the DID
// is used from then on; DIDs found in mention facets, authors and reply parents are mapped back
// to the configured handle, so a policymaker who changes handle is still recognized.
//
// Search polling (§2.5): sort=latest, since = watermark − overlap (the first poll: now −
// backfill), following `cursor` until it is absent; a short page is not the end, and at most a
// few empty pages are followed. The watermark (newest sortAt seen) advances only when a whole
// poll is done: until then the persisted cursor records the poll in progress, and a poll that
// was interrupted resumes with `until` = the oldest post it had reached, which needs no stale
// server cursor. A search can page only ~10 000 results deep (palomar stops returning a cursor
// there); when a window reaches that depth it is split: `until` = the oldest post seen (+1 ms,
// as until is exclusive), and paging starts over inside the older part.
//
// Author feeds have no `since`: they are read newest first until an item is older than the
// watermark − overlap. Reposts in the feed are amplification, never a post of the policymaker,
// and are skipped.
//
// Session: com.atproto.server.createSession with {identifier, password} read from the
// environment variables named by `identifier_env` / `password_env`; `Bearer accessJwt` on every
// request; `400 ExpiredToken` refreshes with refreshSession (Bearer refreshJwt) and, when that
// fails, creates a new session; the request is then retried once. Without both variables named,
// requests are sent without a token (public AppView hosts; searchPosts then usually gets 403).
// Secrets (password, tokens, identifier) never appear in error messages.
//
// Followers: search results carry none, so author_followers comes from app.bsky.actor.getProfiles
// (25 actors a call), cached per DID for the collector's lifetime (the daemon fixes reach at a
// post's first sight anyway). Engagement refresh uses app.bsky.feed.getPosts (25 uris a call).
//
// Not thread-safe: one poll at a time (collector.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "collectors/collector.h"

namespace chorus::collectors {

struct BlueskyCollectorOptions {
  // How deep one search window can be paged (palomar: 10 000). A window whose results reach it
  // (within one page, as hidden posts make pages short) is split in time.
  int search_depth_cap = 10'000;
};

// The persisted state of one query. Complete: "w=<watermark ms>". During a poll also the poll's
// since (s), the newest sortAt seen so far (p), the current window's until (u, 0 = open), the
// oldest sortAt reached in it (o), results read in it (n), consecutive empty pages (e) and the
// server's cursor (c, percent-encoded). Unparsable text reads as the empty state.
struct BlueskyCursor {
  int64_t watermark_ms = 0;
  bool in_progress = false;
  int64_t since_ms = 0;
  int64_t pending_ms = 0;
  int64_t until_ms = 0;
  std::optional<int64_t> oldest_ms;
  int64_t window_results = 0;
  int empty_pages = 0;
  std::string page_cursor;
};
BlueskyCursor ParseBlueskyCursor(std::string_view text);
std::string FormatBlueskyCursor(const BlueskyCursor& cursor);

Result<std::unique_ptr<Collector>> MakeBlueskyCollector(const config::Source& source,
                                                        const config::Config& config,
                                                        std::unique_ptr<HttpTransport> transport);

Result<std::unique_ptr<Collector>> MakeBlueskyCollectorWithOptions(
    const config::Source& source, const config::Config& config,
    std::unique_ptr<HttpTransport> transport, const BlueskyCollectorOptions& options);

}  // namespace chorus::collectors
