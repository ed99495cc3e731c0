// A simulated X API v2 on loopback, faithful to the wire format (platform-apis.md §3 and the
// "X fake" checklist of §6).
//
// Serves the demo (chorusd --demo) and the integration tests. Endpoints:
//   GET /2/tweets/search/recent        query language subset (below), since_id/until_id,
//                                      start_time/end_time, max_results 10-100, next_token
//   GET /2/tweets?ids=                 up to 100 ids; unknown or deleted ids are partial errors
//   GET /2/tweets/:id
//   GET /2/users/by/username/:username
//   GET /2/users/:id/tweets            max_results 5-100, pagination_token
// with `tweet.fields` / `user.fields` / `expansions` honoured (the classic names, and the
// renamed `post.fields`, `referenced_posts`, `edit_history_post_ids`), `data` omitted when
// empty, `meta.next_token` only while more pages exist, `includes.users` deduplicated, entity
// arrays omitted when empty, code-point entity indices, astral characters escaped as UTF-16
// surrogate pairs and `&<>` HTML-escaped in `text` as X does. Invalid parameters (range, pattern,
// mutual exclusions: start_time/since_id, end_time/until_id, next_token/pagination_token, a
// window older than 7 days) get a 400 invalid-request problem. `end_time` defaults to now - 30 s
// (index lag). Rate limits are per endpoint in epoch-aligned windows, with
// `x-rate-limit-limit/remaining/reset` (reset in epoch seconds) and a 429 problem
// {"title":"Too Many Requests","type":"about:blank","status":429,"detail":"Too Many Requests"}.
// Every request needs `Authorization: Bearer ...` (401 problem otherwise).
//
// Query language: terms `#tag`, `@user`, `"exact phrase"`, bare words, `from:`, `to:`,
// `is:retweet|reply|quote`, `lang:`, negation `-`, grouping `( )`, `OR` (binding looser than the
// implicit AND, as on X); at most 512 characters.
//
// Thread-safe: posts may be added and faults changed while it serves.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "sim/mastodon_sim.h"  // FaultPlan

namespace chorus::sim {

struct XSimUser {
  std::string username;  // ^[A-Za-z0-9_]{1,15}$
  int64_t followers = 0;
  std::string id;  // assigned (stable, derived from the username) when empty
};

struct XSimPost {
  // Assigned by AddPost when 0: a snowflake of created_at_ms, so a post indexed late gets an id
  // below newer ones.
  uint64_t id = 0;
  int64_t created_at_ms = 0;
  XSimUser author;
  // Plain text. Hashtag and mention entities are derived from it (`#tag`, `@user`); mentioned
  // users become known users. Ignored for retweets, whose text is "RT @author: <original text>".
  std::string text;
  std::string lang = "en";
  int64_t likes = 0, retweets = 0, replies = 0, quotes = 0;
  uint64_t retweet_of = 0;  // a retweet of that post (amplification)
  uint64_t quote_of = 0;    // a quote of that post
  uint64_t reply_to = 0;    // a reply to that post
  // An edit of that earlier version: this post gets a new id; every version's
  // edit_history_tweet_ids lists the chain, first version first; search serves the newest only.
  uint64_t edit_of = 0;
};

struct XSimOptions {
  int rate_limit = 450;              // requests per window, per endpoint (x-rate-limit-limit)
  int64_t rate_window_ms = 900'000;  // 15-minute windows, epoch-aligned
  std::string required_token;        // when set, any other bearer token gets 401
  int64_t index_lag_ms = 30'000;     // default end_time = now - this
  int partial_error_every = 0;       // every Nth posts response carries an extra partial error
  bool new_field_names =
      false;  // emit referenced_posts / edit_history_post_ids / repost_count / includes.posts
  bool usage_capped = false;  // every request gets the usage-capped 429
  // Retweets are served by search (the 2026 index no longer returns them for keyword queries;
  // serving them exercises the client's folding of retweets into originals).
  bool serve_retweets = true;
  const Clock* clock = nullptr;  // nullptr = SystemClock (not owned)
};

// One request as the sim received it (decoded parameters), for assertions.
struct XSimRequest {
  std::string path;
  std::multimap<std::string, std::string> params;
  int status = 0;
};

class XSim {
 public:
  explicit XSim(XSimOptions options = {});
  ~XSim();
  XSim(const XSim&) = delete;
  XSim& operator=(const XSim&) = delete;

  // Binds 127.0.0.1 on `port` (0 = any free port) and serves on a background thread.
  Result<void> Start(int port = 0);
  void Stop();
  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>"

  // Adds a post (see XSimPost for defaults); returns the stored copy with its id set. A post
  // with an id already stored replaces it (engagement and text changes without an edit).
  XSimPost AddPost(XSimPost post);
  // Registers (or updates the follower count of) a user without a post.
  XSimUser AddUser(XSimUser user);
  // Deletes a post: search stops serving it; lookups and references to it become partial errors.
  bool DeletePost(uint64_t id);
  bool SetEngagement(uint64_t id, int64_t likes, int64_t retweets, int64_t replies, int64_t quotes);
  void SetFaults(const FaultPlan& plan);
  void SetUsageCapped(bool capped);

  // What the server has done, for assertions.
  int64_t requests() const;
  std::map<int, int64_t> responses_by_status() const;
  // Ids of posts served in `data` of at least one complete 200 response.
  std::set<std::string> served_ids() const;
  std::vector<XSimRequest> request_log() const;
  std::vector<XSimPost> posts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Snowflake helpers, as X's ids: ((ms - 1288834974657) << 22) | sequence.
uint64_t XSimIdFromTimeMs(int64_t unix_ms);
int64_t XSimTimeMsFromId(uint64_t id);

}  // namespace chorus::sim
