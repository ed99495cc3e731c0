// X (Twitter) API v2 collector (platform-apis.md §3).
//
// Queries, built from the config:
//  - search queries, `GET /2/tweets/search/recent`: every campaign hashtag (`#tag`), keyword
//    (`"a phrase"`) and policymaker X account (`@handle`, so a mention without a hashtag is
//    found), sorted and packed with OR into parenthesized queries of at most 512 characters
//    (self-serve limit), as many as needed. Key "search:<16 hex digits>", a hash of the query
//    text: the same config gives the same keys after a restart, and a changed query is a new
//    query with a cursor of its own, whose first poll backfills the new term;
//  - one timeline query per policymaker X account, key "user:<handle>": the user id is resolved
//    once per process with `GET /2/users/by/username/:username`, then `GET /2/users/:id/tweets`.
//
// Polling: results come newest first, paged with `next_token` (`pagination_token` on
// timelines). The first poll asks for `start_time` = now - backfill (at most 7 days, the search
// window); later polls for `since_id` = the watermark of the last complete poll minus
// `overlap` (ids are time-ordered snowflakes, so a time window is an id). The watermark moves
// only when a poll's last page is committed; while a poll is in progress the cursor keeps the
// old watermark, the newest id seen so far, the window asked for and the next token, so a poll
// cut short (429, error, restart) resumes with the token (which replays identically) instead of
// re-reading, and a crash never claims posts not yet stored. A resumed request the server
// rejects (400) makes the next poll start afresh from the watermark. After an outage of more
// than 7 days the poll falls back to start_time = now - 7 days.
//
// Posts: see ParseXPostsPage (edits keyed by their first version, retweets folded into their
// originals). Engagement refresh: `GET /2/tweets?ids=` with up to 100 ids. Partial `errors[]`
// in a 200 are logged, not fatal. Rate limits are per endpoint on X; the RateLimit reported is
// that of the most exhausted endpoint this collector uses, so the scheduler's one budget never
// overruns any of them. Bearer token from `token_env` (required). Not thread-safe (one poll at a
// time, like every collector).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"

namespace chorus::collectors {

inline constexpr size_t kXMaxQueryChars = 512;
inline constexpr size_t kXRefreshBatch = 100;

// Request parameters sent with every posts request (search, timeline, lookup).
inline constexpr char kXTweetFields[] =
    "created_at,public_metrics,entities,referenced_tweets,author_id,conversation_id,"
    "edit_history_tweet_ids,in_reply_to_user_id,note_tweet";
// referenced_tweets.id.author_id brings the authors of retweeted, quoted and replied-to posts
// into includes.users: a retweet is stored as its original, which needs its author.
inline constexpr char kXExpansions[] =
    "author_id,referenced_tweets.id,entities.mentions.username,referenced_tweets.id.author_id";
inline constexpr char kXUserFields[] = "public_metrics,username";

// The persisted state of one query. Complete: "<watermark>". In progress:
// "<watermark>/<poll newest id>/s<since_id>|t<start unix seconds>/<next token>".
struct XCursor {
  uint64_t watermark = 0;    // newest id of the last complete poll (0: none yet)
  uint64_t poll_newest = 0;  // newest id seen by the poll in progress
  uint64_t since_id = 0;     // the window of the poll in progress: since_id ...
  int64_t start_s = 0;       // ... or start_time (unix seconds)
  std::string next_token;    // non-empty while a poll is in progress
  bool in_progress() const { return !next_token.empty(); }
};
XCursor ParseXCursor(std::string_view text);
std::string FormatXCursor(const XCursor& cursor);

// One query and what it asks X for.
struct XQuerySpec {
  Query query;
  std::string search;    // search query text (search queries)
  std::string username;  // account whose timeline is read (user queries)
};

// The queries for a config (see above), in a stable order: searches, then timelines.
// `max_query_chars` bounds each search query; a term that cannot fit alone is left out.
std::vector<XQuerySpec> BuildXQueries(const config::Config& config,
                                      size_t max_query_chars = kXMaxQueryChars);

Result<std::unique_ptr<Collector>> MakeXCollector(const config::Source& source,
                                                  const config::Config& config,
                                                  std::unique_ptr<HttpTransport> transport);

}  // namespace chorus::collectors
