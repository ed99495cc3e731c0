// Pure parsing of Bluesky / AT Protocol XRPC responses (platform-apis.md §2). No I/O: bytes in,
// values out.
//
// Strictness follows who wrote a field. What the AppView itself produces (the envelope, `uri`,
// `author.did`, `author.handle`, `indexedAt`, the counters, `cursor`) must have its documented
// type, or the whole page is an Error with code kParse: a page is stored whole or not at all.
// What a *client* wrote into the post record (`text`, `createdAt`, `facets`, `tags`, `reply`,
// `embed`) is tolerated when odd: a misaligned facet, a wrong-typed tag or an unparsable
// `createdAt` is skipped or replaced, because one post written by a buggy client must not stop a
// query from ever advancing. Malformed JSON, a truncated body or invalid UTF-8 always fails.
//
// Thread-safe: every function is reentrant (a thread_local simdjson parser per thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace chorus::collectors {

// One `app.bsky.feed.defs#postView`, normalized, plus what the collector needs beyond Post.
//
// post: key = local_id = `uri`; url = https://bsky.app/profile/<did>/post/<rkey>;
//   created_at_ms = sortAt = the earlier of `record.createdAt` and `indexedAt` (the time the
//   search API's since/until compare against; a client clock running ahead cannot date a post in
//   the future; an unparsable createdAt falls back to indexedAt);
//   author = `author.handle` lower-cased, or the DID when the handle is "handle.invalid";
//   author_followers = 0 (search results carry no follower counts: the collector fills it);
//   text = `record.text` (plain text);
//   hashtags = tag facets and `record.tags`, lower-cased (ASCII), without '#', deduplicated;
//   mentions = per mention facet (one per DID), the handle after the '@' in the text the facet
//     spans (UTF-8 *byte* offsets; a span a few bytes off still finds it), lower-cased, or the
//     mentioned DID when the span holds no handle; the DID is what identifies the account, and
//     the collector maps policymakers' DIDs to their configured handles;
//   in_reply_to_key = in_reply_to_local_id = `record.reply.parent.uri`;
//   in_reply_to_author = the DID in that uri (the collector maps known DIDs to handles);
//   quote_of = uri of the quoted post of an `app.bsky.embed.record#view` or
//     `recordWithMedia#view` embed (or, without a view, of the record's own embed); only when it
//     is a post (`app.bsky.feed.post`), not a feed generator, list or starter pack;
//   engagement = likeCount, repostCount, replyCount, quoteCount (0 when absent).
struct BlueskyPost {
  Post post;
  std::string author_did;
  std::vector<std::string> mention_dids;  // parallel to post.mentions
  int64_t indexed_at_ms = 0;
};

// `app.bsky.feed.searchPosts` output, and any other {"posts": [PostView], "cursor"?} body
// (getPosts, getQuotes).
struct BlueskyPostsPage {
  std::vector<BlueskyPost> posts;
  std::string cursor;                 // "" when absent (or null): no further page
  std::optional<int64_t> hits_total;  // approximate; never a loop bound
};
Result<BlueskyPostsPage> ParseBlueskyPosts(std::string_view body);

// `app.bsky.feed.getAuthorFeed` output: {"feed": [FeedViewPost], "cursor"?}.
struct BlueskyFeedItem {
  BlueskyPost view;
  bool repost = false;          // reason app.bsky.feed.defs#reasonRepost: amplification
  bool pinned = false;          // reason app.bsky.feed.defs#reasonPin
  std::string reposted_by_did;  // reason.by.did for reposts
  int64_t feed_at_ms = 0;       // when the item entered the feed (reason.indexedAt for reposts)
};
struct BlueskyFeedPage {
  std::vector<BlueskyFeedItem> items;
  std::string cursor;
};
Result<BlueskyFeedPage> ParseBlueskyAuthorFeed(std::string_view body);

// `com.atproto.server.createSession` / `refreshSession` output. accessJwt and refreshJwt are
// required.
struct BlueskySession {
  std::string access_jwt;
  std::string refresh_jwt;
  std::string did;
  std::string handle;
};
Result<BlueskySession> ParseBlueskySession(std::string_view body);

// `com.atproto.identity.resolveHandle` output {"did": "did:..."}: the DID.
Result<std::string> ParseBlueskyResolvedDid(std::string_view body);

// `app.bsky.actor.getProfiles` output {"profiles": [profileViewDetailed]}, and the single
// `getProfile` object. followersCount is optional (0 when absent, negatives clamp to 0).
struct BlueskyProfile {
  std::string did;
  std::string handle;
  int64_t followers = 0;
};
Result<std::vector<BlueskyProfile>> ParseBlueskyProfiles(std::string_view body);
Result<BlueskyProfile> ParseBlueskyProfile(std::string_view body);

// An XRPC error body {"error": "Name", "message"?: "..."}; nullopt when the body is not one
// (an HTML page from a CDN, say).
struct BlueskyError {
  std::string error;
  std::string message;
};
std::optional<BlueskyError> ParseBlueskyError(std::string_view body);

// RateLimit-Limit / -Remaining / -Reset (Reset is unix epoch *seconds*) and, on a 429,
// Retry-After (seconds from `now_ms`). The reset reported is the later of the two, so a caller
// that waits for it waits long enough. Unparsable values are absent.
struct BlueskyRateLimit {
  std::optional<int64_t> limit;
  std::optional<int64_t> remaining;
  std::optional<int64_t> reset_at_ms;
};
BlueskyRateLimit ParseBlueskyRateLimit(std::string_view limit, std::string_view remaining,
                                       std::string_view reset, std::string_view retry_after,
                                       int64_t now_ms);

// at://<did>/<collection>/<rkey> helpers; empty results for uris of another shape.
std::string AtUriAuthority(std::string_view at_uri);   // "did:plc:..."
std::string AtUriCollection(std::string_view at_uri);  // "app.bsky.feed.post"
// The bsky.app page of a post uri; the uri itself when it is not a post uri.
std::string BlueskyPostUrl(std::string_view at_uri);

// The bytes [byte_start, byte_end) of `text`, or nullopt when the range is outside the text, empty
// or reversed, or does not fall on UTF-8 character boundaries (a misaligned facet).
std::optional<std::string_view> Utf8ByteSlice(std::string_view text, int64_t byte_start,
                                              int64_t byte_end);

}  // namespace chorus::collectors
