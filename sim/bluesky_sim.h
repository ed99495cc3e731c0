// A simulated Bluesky PDS/AppView on loopback, faithful to the XRPC wire format
// (platform-apis.md §2 and the "Bluesky fake" checklist of §6).
//
// Serves the demo and the integration tests. It holds actors and posts and answers the methods
// the collector uses: com.atproto.server.createSession / refreshSession,
// com.atproto.identity.resolveHandle, app.bsky.feed.searchPosts / getPosts / getAuthorFeed,
// app.bsky.actor.getProfile / getProfiles. Like the real services it pages searchPosts with a
// decimal offset cursor that stops at a depth cap (palomar: 10 000), drops hidden posts after
// paging (so a page may be short while a cursor is present), computes facets with UTF-8 *byte*
// offsets, sends RateLimit-* headers (Reset in epoch seconds), answers 429 with Retry-After, and
// in PDS mode expires access tokens with `400 ExpiredToken`. Faults are injected with the
// FaultPlan shared with MastodonSim.
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

struct BlueskySimActor {
  std::string handle;  // "alice.bsky.social"
  std::string did;     // assigned from the handle when empty ("did:plc:" + 24 chars)
  int64_t followers = 0;
  bool invalid_handle = false;  // served as "handle.invalid" (failed handle verification)
};

struct BlueskySimPost {
  std::string uri;   // assigned when empty: at://<did>/app.bsky.feed.post/<rkey>
  std::string rkey;  // assigned when empty: a TID derived from created_at_ms
  BlueskySimActor author;
  // Plain text. Facets are derived from it as a Bluesky client would write them: "#word" after
  // a space becomes a tag facet, "@handle" of an actor in `mentions` a mention facet (with that
  // actor's DID), "https://..." a link facet; all with UTF-8 byte offsets. A mention whose
  // "@handle" is not in the text gets no facet (and so is no mention, as on Bluesky).
  std::string text;
  int64_t created_at_ms = 0;             // record.createdAt (the client's claim)
  int64_t indexed_at_ms = 0;             // 0: created_at_ms + 250 ms
  std::vector<std::string> record_tags;  // record.tags: hashtags that are not in the text
  std::vector<BlueskySimActor> mentions;
  std::string reply_parent_uri;   // record.reply (root = the parent's root when known)
  std::string quote_uri;          // embed app.bsky.embed.record
  bool quote_with_media = false;  // ... as app.bsky.embed.recordWithMedia instead
  int64_t likes = 0, reposts = 0, replies = 0, quotes = 0;
  // Found by the search backend but dropped by the AppView when it hydrates a page (a blocked
  // or taken-down author): pages come back short while a cursor is still returned.
  bool hidden = false;
};

struct BlueskySimOptions {
  int rate_limit = 3000;             // points per window (RateLimit-Limit)
  int64_t rate_window_ms = 300'000;  // epoch-aligned windows (RateLimit-Policy "3000;w=300")
  // PDS mode when `identifier` is set: createSession takes {identifier, password} (identifier is
  // the account handle or its email) and every other method needs `Bearer <accessJwt>`.
  // Otherwise no method needs a token.
  std::string identifier;
  std::string password;
  std::string account_email;  // also accepted as identifier when set
  // public.api.bsky.app mode: no tokens, but an unauthenticated searchPosts is an HTML 403 (as
  // the CDN has answered since 2025-01).
  bool public_host = false;
  int64_t access_ttl_ms = 2 * 3'600'000;
  int64_t refresh_ttl_ms = 90LL * 86'400'000;
  int search_depth_cap = 10'000;  // offsets above it: 400 "can't paginate so deep"
  bool report_hits_total = true;
  const Clock* clock = nullptr;  // rate-limit windows and token expiry; nullptr = SystemClock
};

class BlueskySim {
 public:
  explicit BlueskySim(BlueskySimOptions options = {});
  ~BlueskySim();
  BlueskySim(const BlueskySim&) = delete;
  BlueskySim& operator=(const BlueskySim&) = delete;

  // Binds 127.0.0.1 on `port` (0 = any free port) and serves on a background thread.
  Result<void> Start(int port = 0);
  void Stop();
  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>"

  // Makes an actor known (resolveHandle, getProfile) without a post; returns it with its DID.
  BlueskySimActor AddActor(BlueskySimActor actor);
  // Adds a post (see BlueskySimPost for defaults) and returns the stored copy with uri, rkey and
  // DIDs set. A post whose uri is already known replaces it (a rewritten record: new cid).
  BlueskySimPost AddPost(BlueskySimPost post);
  // `by` reposts `subject_uri` at `at_ms`: the original appears in by's author feed with a
  // reasonRepost, and its repostCount grows by one. False when the subject is unknown.
  bool AddRepost(const BlueskySimActor& by, const std::string& subject_uri, int64_t at_ms);
  // Changes the counters of a known post; false when unknown.
  bool SetEngagement(const std::string& uri, int64_t likes, int64_t reposts, int64_t replies,
                     int64_t quotes);
  // Removes a post (deleted or taken down): it vanishes from every method.
  bool DeletePost(const std::string& uri);
  void SetFaults(const FaultPlan& plan);
  // Every access token issued so far is expired from now on (refresh tokens stay valid).
  void ExpireAccessTokens();
  // Every refresh token issued so far is revoked: the next refreshSession fails.
  void RevokeRefreshTokens();

  // What the server has done, for assertions.
  int64_t requests() const;
  std::map<int, int64_t> responses_by_status() const;
  std::set<std::string> served_uris() const;  // posts in at least one complete 200 response
  std::vector<BlueskySimPost> posts() const;
  int64_t sessions_created() const;
  int64_t sessions_refreshed() const;
  // "GET /xrpc/<method>?<query>" or "POST /xrpc/<method>" per request, oldest first; headers and
  // bodies (which carry secrets) are not kept.
  std::vector<std::string> request_log() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The DID the simulator gives a handle ("did:plc:" + 24 base32 characters of its hash).
std::string SimDidForHandle(std::string_view handle);

}  // namespace chorus::sim
