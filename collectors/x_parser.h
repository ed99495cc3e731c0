// Pure parsing of X API v2 responses (platform-apis.md §3). No I/O: bytes in, values out.
//
// Thread-safe: every function is reentrant (each call uses a thread_local simdjson parser).
//
// Both generations of field names are accepted, because the OpenAPI (v2.167) renamed them while
// the documentation still uses the classic ones: `referenced_tweets|referenced_posts`,
// `edit_history_tweet_ids|edit_history_post_ids`, `note_tweet|note_post`, `includes.tweets|posts`,
// `public_metrics.retweet_count|repost_count`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace chorus::collectors {

// One RFC 7807 problem: a top-level error body, or one entry of `errors[]` inside a 200 (a
// "partial error": a deleted referenced post, an id of /2/tweets?ids= that no longer exists).
struct XProblem {
  std::string title;          // "Not Found Error", "Invalid Request", "Too Many Requests"
  std::string detail;         // "Could not find tweet with ids: [123]."
  std::string type;           // "https://api.twitter.com/2/problems/resource-not-found"
  std::string message;        // errors[].message of invalid-request bodies and of v1.1-style errors
  std::string value;          // the offending value ("123")
  std::string parameter;      // "ids", "referenced_tweets.id", ...
  std::string resource_type;  // "tweet", "user"
  std::string resource_id;
  std::string period, scope;  // usage-capped problems: "Daily"|"Monthly", "Account"|"Product"
  int status = 0;             // the problem's own `status`, 0 when absent

  // The last path segment of `type` ("resource-not-found", "usage-capped", "about:blank"):
  // the spec writes api.twitter.com, the doc pages api.x.com, so only the suffix is compared.
  std::string Kind() const;
  // "Not Found Error: Could not find tweet with ids: [1]." — for logs and Error messages.
  std::string Summary() const;
};

// A parsed page of posts: GET /2/tweets/search/recent, /2/users/:id/tweets, /2/tweets?ids=.
struct XPage {
  // Per `data` element, in response order, deduplicated by key (an edit chain seen twice keeps
  // its newest version):
  //  - key = edit_history_tweet_ids[0] (the first version; design §5), or `id` when the field is
  //    absent (responses before 2022); local_id = `id` (the current version, used for refresh);
  //  - a retweet is amplification, not a post: the page yields the *original* instead, taken
  //    from includes.tweets (nothing when the original was not included, e.g. deleted);
  //  - a quote is a post of its own with quote_of = the quoted post's key; a reply has
  //    in_reply_to_local_id = the parent's id, in_reply_to_key = its key, in_reply_to_author =
  //    its author's username when known;
  //  - author = includes.users[author_id].username lower-cased ("" when not included),
  //    author_followers = its public_metrics.followers_count;
  //  - text = `note_tweet.text` when present (long posts), else `text`, with the HTML escapes
  //    X applies (&amp; &lt; &gt;) undone; created_at from `created_at`, else from the id's
  //    snowflake time;
  //  - hashtags = entities.hashtags[].tag lower-cased, mentions = entities.mentions[].username
  //    lower-cased (the form of config accounts), both deduplicated;
  //  - engagement: likes = like_count, reposts = retweet_count, replies = reply_count,
  //    quotes = quote_count (0 when public_metrics was not requested).
  std::vector<Post> posts;
  std::string newest_id, oldest_id;  // meta; "" when absent (an empty page has neither)
  std::string next_token;            // meta.next_token; "" on the last page
  int64_t result_count = -1;         // meta.result_count; -1 when absent
  uint64_t max_data_id = 0;      // largest `data[].id`, retweets included (the since_id watermark)
  int data_count = 0;            // elements of `data`, before retweet folding and dedupe
  int retweets = 0;              // retweets among them
  int missing_originals = 0;     // retweets whose original was not in includes
  std::vector<XProblem> errors;  // partial errors (log-worthy, not fatal)
};

// Parses a posts page. A body that is not a JSON object, is truncated or has content after the
// object, a post lacking `id` or `text`, an id that is not 1-19 digits, or a wrong JSON type in a
// field that is used, makes the whole page an Error with code kParse (naming the post and the
// field): a page is stored whole or not at all. Unknown fields are ignored; `data` may be
// absent (empty result).
Result<XPage> ParseXPostsPage(std::string_view body);

// A user, from GET /2/users/by/username/:username.
struct XUser {
  std::string id;
  std::string username;  // as X writes it (not lower-cased)
  int64_t followers = 0;
};

// Parses a user lookup. kNotFound (message from the partial error) when the body has no `data`
// but an error such as "Could not find user with username: [x]." (also for suspended users);
// kParse on malformed bodies.
Result<XUser> ParseXUserLookup(std::string_view body);

// Parses an error body (400/401/403/429/5xx): a problem document, or a v1.1-style
// {"errors":[{"code","message"}]}. nullopt when the body is no JSON object of either kind.
std::optional<XProblem> ParseXProblem(std::string_view body);

// Rate-limit state from x-rate-limit-limit / -remaining / -reset (reset: unix epoch seconds).
struct XRateLimit {
  std::optional<int64_t> limit;
  std::optional<int64_t> remaining;
  std::optional<int64_t> reset_at_ms;
};
XRateLimit ParseXRateLimit(std::string_view limit, std::string_view remaining,
                           std::string_view reset);

// X post ids are snowflakes: ((unix_ms - 1288834974657) << 22) | worker | sequence. These convert
// between a time and the smallest id at that time, so a time window becomes a since_id.
inline constexpr int64_t kXEpochMs = 1288834974657;
uint64_t XIdFromTimeMs(int64_t unix_ms);
int64_t XTimeMsFromId(uint64_t id);

// Parses a decimal post id of 1-19 digits; nullopt otherwise.
std::optional<uint64_t> ParseXId(std::string_view s);

}  // namespace chorus::collectors
