// Pure parsing of Reddit API responses (platform-apis.md §4). No I/O: bytes in, values out.
//
// Thread-safe: every function is reentrant (each call uses a thread_local simdjson parser).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace chorus::collectors {

// One Listing page (`/search`, `/user/{name}/submitted`, `/r/{sub}/new`, `/api/info`).
struct RedditListing {
  std::vector<Post> posts;  // the t3 children, in the order served
  std::string after;        // fullname to pass as `after` for the next page; "" when null
  std::string before;       // "" when null (never used for polling: see reddit_collector.h)
  // created_at_ms of the oldest t3 child, and of the newest; 0 when the page has none.
  int64_t oldest_created_ms = 0;
  int64_t newest_created_ms = 0;
  int skipped_children = 0;  // children of other kinds (t1 comments, ...), not returned as posts
};

// Parses a Listing `{"kind": "Listing", "data": {"after", "before", "dist", "modhash",
// "geo_filter", "children": [{"kind": "t3", "data": {...}}]}}` into Posts.
//
// Per t3 child:
//  - key = local_id = `name` (the fullname "t3_<base36>"; built from `id` when `name` is absent);
//  - url = "https://www.reddit.com" + `permalink` (permalinks are relative);
//  - created_at_ms from `created_utc`, a JSON float of epoch seconds ("1776083057.0"; an integer
//    literal is accepted too). `edited` must be false/true or a float; it is validated, not kept;
//  - author = `author` lower-cased ("[deleted]" for deleted accounts);
//  - author_followers = 0: Reddit exposes no follower count for a post's author, so Reddit posts
//    add nothing to potential reach;
//  - text = `title`, then a blank line and `selftext` when it has any. The markers "[deleted]" and
//    "[removed]" that replace the selftext of a deleted or removed post are not text and are left
//    out, so they can never match a keyword. raw_json=1 bodies carry literal text; nothing is
//    entity-decoded (an `&amp;` in a body fetched without raw_json stays as it is);
//  - hashtags = the `#word` tokens of title and selftext, lower-cased, without '#', each once
//    (Reddit has no tag entity: see ExtractRedditHashtags);
//  - mentions = the `u/name` (or `/u/name`) references of title and selftext, lower-cased,
//    without `u/`, each once (see ExtractRedditMentions);
//  - engagement (design §5): likes = `score` (0 when negative: the vote balance of a downvoted
//    post is not negative engagement), replies = `num_comments`, reposts = `num_crossposts`
//    (0 when absent, as in 2016 bodies), quotes = 0;
//  - quote_of = `crosspost_parent` (the parent's fullname, which is also its canonical key).
// Unknown fields are ignored. Children of another kind are skipped (counted in skipped_children).
// A body that is not a Listing object, a truncated body, invalid UTF-8, content after the object,
// a t3 without `name`/`id` or `created_utc`, or a wrong JSON type for a used field makes the whole
// page an Error with code kParse: a page is stored whole or not at all.
Result<RedditListing> ParseRedditListing(std::string_view body);

// The `#word` hashtags of `text`, lower-cased (ASCII), without '#', in order of first appearance,
// each once. A word is ASCII letters, digits, '_' and any non-ASCII byte, and needs one character
// that is not a digit ("#1" is no hashtag). A '#' right after a word character or one of "&#/" does
// not start a hashtag, which keeps out URL fragments ("page#top"), HTML character references
// ("&#x200B;") and "##".
std::vector<std::string> ExtractRedditHashtags(std::string_view text);

// The users referenced as `u/name` or `/u/name` in `text`, lower-cased, without the prefix, in
// order of first appearance, each once. Reddit user names are 3-20 characters of [A-Za-z0-9_-]; the
// `u` must not follow a word character ("menu/item" is no mention).
std::vector<std::string> ExtractRedditMentions(std::string_view text);

// Rate-limit state from x-ratelimit-used (integer), x-ratelimit-remaining (a float string,
// "994.0") and x-ratelimit-reset (integer seconds *until* the window ends), as received at
// `now_ms`. Absent or malformed headers give nullopt fields.
struct RedditRateLimit {
  std::optional<int64_t> used;
  std::optional<int64_t> limit;        // used + remaining, when both are present
  std::optional<int64_t> remaining;    // rounded down
  std::optional<int64_t> reset_at_ms;  // now_ms + reset seconds
};
RedditRateLimit ParseRedditRateLimit(std::string_view used, std::string_view remaining,
                                     std::string_view reset, int64_t now_ms);

// An API error body `{"message": "Forbidden", "error": 403}` (sometimes with "reason" or
// "explanation"). nullopt when the body is not a JSON object with a `message` or `error`:
// an HTML page from the edge ("whoa there, pardner!", "blocked by network security").
struct RedditApiError {
  std::string message;  // "Forbidden"; may be empty
  int64_t code = 0;     // `error` when it is a number; 0 when absent or a string
  std::string error;    // `error` when it is a string ("invalid_grant"), else ""
  std::string reason;   // `reason` ("TOO_LONG"), else `explanation`, when present
};
std::optional<RedditApiError> ParseRedditError(std::string_view body);

// True when `body` starts (after whitespace) with '<': an HTML or XML page, never an API answer.
bool LooksLikeHtml(std::string_view body);

// The access-token endpoint's answer `{"access_token", "token_type": "bearer", "expires_in",
// "scope"}`. A 200 that carries `{"error": "invalid_grant"}` instead is kUnauthenticated; anything
// else malformed is kParse. Messages never contain the token.
struct RedditToken {
  std::string access_token;
  std::string token_type;
  int64_t expires_in_s = 0;
  std::string scope;
};
Result<RedditToken> ParseRedditToken(std::string_view body);

}  // namespace chorus::collectors
