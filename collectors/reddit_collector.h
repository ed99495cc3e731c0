// Reddit collector: OAuth client-credentials search polling (platform-apis.md §4).
//
// Auth. An app-only token from `POST {auth_url}/api/v1/access_token` (HTTP Basic with the client id
// and secret read from the env vars named by `client_id_env`/`client_secret_env`, form body
// `grant_type=client_credentials`), sent as `Authorization: bearer <token>` to `base_url`
// (https://oauth.reddit.com). The token is renewed a minute before `expires_in` runs out (half its
// lifetime when that is under two minutes) and at once when the API answers 401, after which the
// request is retried once. Neither the secret nor the token ever appears in an error message.
// Every request carries the source's `user_agent` (the transport's User-Agent): Reddit throttles
// or blocks generic ones, so the factory refuses a source without one.
//
// Queries (one cursor each):
//  - each campaign hashtag: `GET /search?q=%23tag&sort=new&type=link&restrict_sr=false` — Reddit
//    has no hashtag entity, so the literal `#tag` is searched (the engine ignores the '#') and the
//    parser finds `#tag` in title/selftext itself: a post that only says "tag" is fetched but does
//    not match the campaign;
//  - each campaign keyword: the same search with the keyword as a quoted phrase;
//  - each policymaker with a reddit account: a search for `u/name` (there is no mentions API), and
//    their own posts, `GET /user/{name}/submitted?sort=new`.
// All with `limit` = page_limit (≤100) and `raw_json=1` (otherwise &, <, > come entity-escaped).
//
// Polling. Listings run newest first and are paged with `after` only (`before` silently returns
// nothing once its anchor post is deleted). A poll walks `after` until a page holds a post created
// before `watermark − overlap` (the first poll: before `now − backfill`, and older posts are
// dropped) or `after` is null. The watermark — the newest created_utc seen — moves only when a poll
// completes; while one is under way the cursor also carries the newest time seen so far and the
// `after` to resume from, so a poll cut short by a rate limit, an error or a restart carries on
// where it stopped without leaving a gap. If a page asked for with `after` comes back empty (its
// anchor vanished), the poll starts once more from the top.
//
// Engagement refresh: `GET /api/info?id=t3_a,t3_b` (≤100 fullnames); deleted and removed posts
// still come back, with their "[deleted]"/"[removed]" markers and current counts.
//
// Rate limits: x-ratelimit-used/-remaining (a float)/-reset (seconds until the 600 s window ends)
// become a RateLimit with an absolute reset time. Errors: JSON bodies `{"message","error"}` are
// reported by status (429 kRateLimited, 401/403 kUnauthenticated, 404 kNotFound, other 4xx
// kInvalidArgument, else kUnavailable); an HTML page instead of JSON — Reddit's edge blocks and
// error pages, whatever the status — is kUnavailable, to be retried.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "collectors/collector.h"

namespace chorus::collectors {

// The persisted state of one Reddit query: the watermark (newest created_utc of the last complete
// poll, unix ms) and, while a poll is unfinished, the newest time it has seen and the `after`
// fullname to resume from. Stored as "<watermark>" or "<watermark>/<poll_newest>/<after>".
struct RedditCursor {
  int64_t watermark_ms = 0;
  int64_t poll_newest_ms = 0;
  std::string resume_after;
};
RedditCursor ParseRedditCursor(std::string_view text);
std::string FormatRedditCursor(const RedditCursor& cursor);

// The CollectorFactory for platform `reddit`. `transport` reaches `base_url`; the token endpoint
// uses the same transport when `auth_url` equals `base_url` (tests), else a client of its own with
// the same User-Agent and timeouts. Fails with kUnauthenticated when a credential env var is unset
// and kInvalidArgument without a user_agent.
Result<std::unique_ptr<Collector>> MakeRedditCollector(const config::Source& source,
                                                       const config::Config& config,
                                                       std::unique_ptr<HttpTransport> transport);

// The same, with the token endpoint's transport given (nullptr: use `api`).
Result<std::unique_ptr<Collector>> MakeRedditCollectorWithAuth(const config::Source& source,
                                                               const config::Config& config,
                                                               std::unique_ptr<HttpTransport> api,
                                                               std::unique_ptr<HttpTransport> auth);

}  // namespace chorus::collectors
