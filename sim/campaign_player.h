// Plays a synthetic advocacy campaign into a MastodonSim, for the demo (design.md §8).
//
// Start() first seeds `history_posts` statuses spread over the past `history_ms` with a daily wave
// of density, then a background thread keeps posting at about `posts_per_second`, shaped by:
//   - a sine wave (10-minute period) around the base rate;
//   - a spike of 5x volume for ~20 s roughly every 2 minutes (the first ~45 s after Start);
//   - ~5% late-federated posts whose created_at is 1-10 minutes in the past (so their snowflake
//     ids land below newer ones, which exercises the collectors' overlap window);
//   - ~10% of posts mentioning the policymaker, ~5% by the coalition member, and now and then a
//     reply from the policymaker to a post that mentioned them;
//   - some posts carrying two campaign tags, some carrying only an unrelated tag;
//   - engagement (favourites, boosts, replies, quotes) growing on recent posts via SetEngagement.
// Authors come from a pool of ~200 usernames on a few domains, some local to the sim's domain.
// Content is deterministic for a seed (std::mt19937); timing follows the wall clock.
//
// Thread-safety: Start/Stop/posts_added may be called from any thread; the player only talks to
// the sim through its thread-safe methods. The sim must outlive the player.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/mastodon_sim.h"

namespace chorus::sim {

struct PlayerOptions {
  std::vector<std::string> hashtags = {"FundOurSchools", "EdEquity", "TeachersCount"};
  std::string policymaker_username = "janedoe";
  std::string policymaker_domain = "gov.example";
  std::string coalition_username = "parents";
  std::string coalition_domain = "edu.example";
  double posts_per_second = 2.0;         // base live rate, before the wave and spikes
  int64_t history_ms = 6 * 3600 * 1000;  // how far back the seeded history reaches
  int history_posts = 300;               // statuses seeded by Start() before live play
  uint32_t seed = 42;
};

class CampaignPlayer {
 public:
  using PlayerOptions = ::chorus::sim::PlayerOptions;

  CampaignPlayer(MastodonSim& sim, PlayerOptions options = {});
  ~CampaignPlayer();  // stops
  CampaignPlayer(const CampaignPlayer&) = delete;
  CampaignPlayer& operator=(const CampaignPlayer&) = delete;

  // Seeds the history (synchronously, once per player) and starts live posting. Calling it while
  // live posting runs does nothing; after Stop() it resumes live posting without reseeding.
  void Start();
  // Stops live posting and joins the thread; returns within ~100 ms. Idempotent.
  void Stop();

  // Statuses added so far, history included.
  int64_t posts_added() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus::sim
