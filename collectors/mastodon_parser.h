// Pure parsing of Mastodon API responses (platform-apis.md §1). No I/O: bytes in, values out.
//
// Thread-safe: every function is reentrant (each call uses its own simdjson parser, or a
// thread_local one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace chorus::collectors {

// Parses a JSON array of Status entities (tag timeline, account statuses, statuses?id[]=) into
// Posts. `home_domain` is the host of the server that served the page ("mastodon.social"):
// Mastodon writes local accounts as bare `user`, so they are qualified as `user@home_domain`.
//
// Per status:
//  - key = `uri`, local_id = `id`, url = `url` (or `uri` when null), created_at from `created_at`;
//  - a boost (`reblog` not null) is parsed as the *original* status (the boost is amplification);
//  - text = HTML `content` reduced to plain text (tags stripped, entities decoded, <br> and </p>
//    become newlines), with `spoiler_text` prepended when not empty;
//  - hashtags = `tags[].name` lower-cased; mentions = `mentions[].acct` lower-cased and qualified;
//  - author = `account.acct` qualified and lower-cased; author_followers = `account.followers_count`;
//  - engagement: likes = favourites_count, reposts = reblogs_count, replies = replies_count,
//    quotes = quotes_count (0 when absent);
//  - in_reply_to_local_id = `in_reply_to_id` (or ""), quote_of = `quote.quoted_status.uri` when present.
// Unknown fields are ignored. A body that is not a JSON array, a truncated body, or a status
// lacking `id`, `uri` or `created_at` (or with a wrong JSON type for a used field) makes the
// whole page an Error with code kParse: a page is stored whole or not at all.
//
// `readable` is how many bytes at body.data() may be read; a caller that keeps kParsePadding
// bytes readable after the body (a reused line buffer) has it parsed in place rather than copied.
inline constexpr size_t kParsePadding = 64;  // simdjson::SIMDJSON_PADDING, checked in the .cc
Result<std::vector<Post>> ParseMastodonStatuses(std::string_view body, std::string_view home_domain,
                                                size_t readable = 0);
// The same, appending the page's posts to `out` (a bulk import's pending batch, so no post is
// moved again); returns how many. On error `out` is left as it was.
Result<size_t> AppendMastodonStatuses(std::string_view body, std::string_view home_domain,
                                      size_t readable, std::vector<Post>* out);

// Parses a single Status object (GET /api/v1/statuses/:id).
Result<Post> ParseMastodonStatus(std::string_view body, std::string_view home_domain);

// Reduces Mastodon's sanitized HTML to plain text.
std::string HtmlToText(std::string_view html);

// The ids carried by a `Link` header: <...max_id=N...>; rel="next", <...min_id=M...>; rel="prev".
struct LinkIds {
  std::string next_max_id;  // empty when there is no rel="next"
  std::string prev_min_id;  // empty when there is no rel="prev"
};
LinkIds ParseLinkHeader(std::string_view header);

// Rate-limit state from X-RateLimit-Limit / -Remaining / -Reset (Reset is an ISO 8601 time).
struct MastodonRateLimit {
  std::optional<int64_t> limit;
  std::optional<int64_t> remaining;
  std::optional<int64_t> reset_at_ms;
};
MastodonRateLimit ParseMastodonRateLimit(std::string_view limit, std::string_view remaining,
                                         std::string_view reset);

// The error message of a Mastodon error body {"error": "..."}; empty when the body is not one.
std::string ParseMastodonError(std::string_view body);

// The `id` of an Account entity (GET /api/v1/accounts/lookup).
Result<std::string> ParseMastodonAccountId(std::string_view body);

// Mastodon status ids are snowflakes: (unix_ms << 16) | sequence. These convert between a time
// and the smallest id at that time, so a time window can be asked for with min_id/max_id.
uint64_t MastodonIdFromTimeMs(int64_t unix_ms);
int64_t MastodonTimeMsFromId(uint64_t id);

}  // namespace chorus::collectors
