// Plays the demo campaign on the simulated Bluesky, X and Reddit (design §8), beside the
// CampaignPlayer that plays it on Mastodon: history first, then a steady trickle of posts carrying
// the campaign hashtags, some mentioning the policymaker, some by a coalition member, and now and
// then the policymaker replying to a campaign post. Like the Mastodon player, it surges: from
// `first_spike_ms` after Start, every ~2 minutes, the live rate is multiplied by `spike_factor` for
// `spike_ms` (a "day of action" seen on all three platforms at once).
//
// Thread-safety: Start/Stop from one thread; the player talks to the sims only through their
// thread-safe methods. The sims must outlive the player.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/bluesky_sim.h"
#include "sim/reddit_sim.h"
#include "sim/x_sim.h"

namespace chorus::sim {

struct PlatformPlayerOptions {
  std::vector<std::string> hashtags = {"FundOurSchools", "EdEquity", "TeachersCount"};
  // The policymaker and the coalition member on each platform, as the demo config names them.
  std::string bluesky_policymaker = "janedoe.bsky.social";
  std::string bluesky_coalition = "parentsunited.org";
  std::string x_policymaker = "SenJaneDoe";
  std::string x_coalition = "ParentsUnited";
  std::string reddit_policymaker = "SenJaneDoe";
  int history_posts = 120;                // per platform, spread over the past `history_ms`
  int64_t history_ms = 6 * 3'600'000;
  double posts_per_second = 0.5;          // per platform, live
  // The surges. The first comes late enough that a Prometheus started with the demo has a minute
  // of baseline to compare it with (prometheus/chorus-rules.yml, ChorusCampaignSpike), and is
  // long and steep enough to stand out of a 1-minute window; 1.0 turns surges off.
  int64_t first_spike_ms = 75'000;
  int64_t spike_every_ms = 120'000;       // +-15 s of jitter after the first
  int64_t spike_ms = 30'000;
  double spike_factor = 10.0;
  uint32_t seed = 7;
};

class PlatformPlayer {
 public:
  PlatformPlayer(BlueskySim& bluesky, XSim& x, RedditSim& reddit, PlatformPlayerOptions options = {});
  ~PlatformPlayer();
  PlatformPlayer(const PlatformPlayer&) = delete;
  PlatformPlayer& operator=(const PlatformPlayer&) = delete;

  void Start();  // seeds the history synchronously, then posts live on a background thread
  void Stop();   // joins; idempotent
  int64_t posts_added() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus::sim
