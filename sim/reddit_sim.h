// A simulated Reddit on loopback, faithful to the real API (platform-apis.md §4 and §6).
//
// One server plays both hosts: the OAuth token endpoint (www.reddit.com/api/v1/access_token) and
// the API (oauth.reddit.com), so a test points a source's base_url and auth_url at the same
// base_url(). It holds a set of link posts (t3) and answers:
//   POST /api/v1/access_token       Basic auth + form body grant_type=client_credentials
//   GET  /search, /r/{sub}/search   q (terms AND-ed, "quoted phrases"), sort, type, limit, after,
//                                   before, restrict_sr, raw_json
//   GET  /user/{name}/submitted     the user's posts
//   GET  /r/{sub}/new               the subreddit's posts
//   GET  /api/info?id=t3_a,t3_b     up to 100 fullnames, deleted/removed ones included
// with Listing envelopes (after, before, dist, modhash, geo_filter, children), created_utc as a
// float ("1776083057.0"), edited false or a float, strings entity-escaped (& < >) unless
// raw_json=1, x-ratelimit-used/-remaining (float string)/-reset (seconds to the end of the
// clock-aligned window) on API responses, and `{"message": "...", "error": <code>}` error bodies.
//
// Search is Reddit-like, not Reddit: title and selftext are split into lower-cased words at every
// character that is not a letter, digit or non-ASCII byte, so `#Tag` and `u/name` are found as the
// words "tag" and "u name" (also where the text has no '#'); deleted and removed posts are not
// searchable. Requests without a User-Agent are blocked with an HTML 403 page, as Reddit's edge
// does, and so are generic library or browser User-Agents unless strict_user_agent is off.
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

struct RedditSimPost {
  std::string id;    // base36; assigned by AddPost when empty
  std::string name;  // "t3_<id>", set by AddPost
  std::string subreddit = "campaigns";
  std::string author;  // user name without u/
  std::string title;
  std::string selftext;       // markdown; "" for a link post
  std::string link_url;       // "" for a self post, else the link target
  int64_t created_at_ms = 0;  // served in whole seconds ("created_utc": 1776083057.0)
  int64_t edited_at_ms = 0;   // 0: "edited": false
  int64_t score = 1;
  int64_t num_comments = 0;
  int64_t num_crossposts = 0;
  std::string crosspost_parent;  // fullname of the crossposted post, "" when none
  // "" while the post stands; "moderator" once removed (selftext "[removed]"), "deleted" once the
  // author deleted it (author and selftext "[deleted]"). Set through Remove().
  std::string removed_by_category;
};

struct RedditSimOptions {
  std::string client_id = "sim-client-id";
  std::string client_secret = "sim-client-secret";
  int64_t token_lifetime_s = 86'400;  // expires_in of every token issued
  bool strict_user_agent = true;      // also block generic User-Agents, not only missing ones
  int rate_limit = 1000;              // requests per window (used + remaining)
  int64_t rate_window_ms = 600'000;   // windows aligned to the clock, like Reddit's 10 minutes
  int listing_cap = 1000;             // listings end after this many items, as Reddit's do
  const Clock* clock = nullptr;       // windows and token expiry; nullptr = SystemClock (not owned)
};

class RedditSim {
 public:
  explicit RedditSim(RedditSimOptions options = {});
  ~RedditSim();
  RedditSim(const RedditSim&) = delete;
  RedditSim& operator=(const RedditSim&) = delete;

  // Binds 127.0.0.1 on `port` (0 = any free port) and serves on a background thread.
  Result<void> Start(int port = 0);
  void Stop();
  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>": API and token endpoint alike

  // Adds a post (see RedditSimPost for defaults); returns the stored copy with id and name set.
  // A post whose id is already known replaces the stored one (an edit).
  RedditSimPost AddPost(RedditSimPost post);
  // Makes a user known (so /user/{name}/submitted answers 200 before their first post).
  void AddUser(const std::string& name);
  // Changes the counters of a known post (by fullname); false when unknown.
  bool SetEngagement(const std::string& fullname, int64_t score, int64_t num_comments,
                     int64_t num_crossposts);
  // Removes a post: by a moderator ("[removed]") or, with by_author, deleted ("[deleted]").
  bool Remove(const std::string& fullname, bool by_author);
  void SetFaults(const FaultPlan& plan);  // counted over API requests (not token requests)
  // Every token issued so far stops being valid: the next API request with one gets 401.
  void ExpireTokens();

  // What the server has done, for assertions.
  int64_t requests() const;        // every request, token requests included
  int64_t token_requests() const;  // POSTs to the token endpoint that issued a token
  std::map<int, int64_t> responses_by_status() const;
  std::set<std::string> served_fullnames() const;  // posts in at least one complete 200 answer
  std::vector<std::string> api_targets() const;    // path?query of every API request, in order
  std::vector<RedditSimPost> posts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus::sim
