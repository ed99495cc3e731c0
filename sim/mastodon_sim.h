// A simulated Mastodon server on loopback, faithful to the real API (platform-apis.md §1 and §6).
//
// Serves the demo (chorusd --demo) and the integration tests. It holds a set of statuses and
// answers the endpoints the collector uses, with the real pagination (min_id/max_id/since_id,
// `Link` headers), rate-limit headers and error bodies, plus deterministic fault injection.
// Thread-safe: statuses may be added and faults changed while it serves.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace chorus::sim {

struct SimAccount {
  std::string username;      // "alice"
  std::string domain;        // "" for an account local to the simulated server, else its host
  int64_t followers = 0;
};

struct SimStatus {
  // Assigned by AddStatus when 0: a snowflake derived from created_at_ms, as Mastodon does for
  // remote posts, so a late-federated post gets an id *below* newer ones.
  uint64_t id = 0;
  std::string uri;           // assigned when empty: https://<account host>/users/<u>/statuses/<id>
  int64_t created_at_ms = 0;
  SimAccount account;
  std::string text;          // plain text; rendered to Mastodon HTML with hashtag/mention links
  std::vector<std::string> tags;      // as written ("FundOurSchools"); served lower-cased in tags[]
  std::vector<SimAccount> mentions;
  int64_t favourites = 0, reblogs = 0, replies = 0, quotes = 0;
  std::string in_reply_to_id;
};

// Deterministic faults, by request number (1-based, counting every request the server receives).
struct FaultPlan {
  int rate_limit_every = 0;  // every Nth request gets 429 {"error":"Too many requests"}
  int error_500_every = 0;   // every Nth request gets 500 {"error":"..."}
  int truncate_every = 0;    // every Nth request gets a 200 whose JSON body is cut in half
  int non_json_every = 0;    // every Nth request gets a 200 (or 502) HTML page
  int slow_every = 0;        // every Nth request is delayed by slow_ms before answering
  int slow_ms = 0;
};

struct SimOptions {
  std::string domain = "sim.example";   // the simulated server's own host name (for local accts, uris)
  int rate_limit = 300;                 // requests per window (X-RateLimit-Limit)
  int64_t rate_window_ms = 300'000;     // epoch-aligned windows, like Mastodon's 5-minute buckets
  std::string required_token;           // when set, requests without `Bearer <token>` get 401
  const Clock* clock = nullptr;         // for rate-limit windows; nullptr = SystemClock (not owned)
};

class MastodonSim {
 public:
  explicit MastodonSim(SimOptions options = {});
  ~MastodonSim();
  MastodonSim(const MastodonSim&) = delete;
  MastodonSim& operator=(const MastodonSim&) = delete;

  // Binds 127.0.0.1 on `port` (0 = any free port) and serves on a background thread.
  Result<void> Start(int port = 0);
  void Stop();
  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>"
  const std::string& domain() const;  // SimOptions::domain

  // Adds a status (see SimStatus for defaults); returns the stored copy with id and uri set.
  // An account (or mention) whose domain is this server's own domain is stored as local (""). A
  // status whose uri is already known replaces the stored one and keeps its id (an edit).
  SimStatus AddStatus(SimStatus status);
  // Changes engagement of a known status (by uri); false when unknown.
  bool SetEngagement(const std::string& uri, int64_t favourites, int64_t reblogs, int64_t replies,
                     int64_t quotes);
  void SetFaults(const FaultPlan& plan);

  // What the server has done, for assertions.
  int64_t requests() const;
  std::map<int, int64_t> responses_by_status() const;
  // uris of statuses included in at least one complete 200 response.
  std::set<std::string> served_uris() const;
  std::vector<SimStatus> statuses() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus::sim
