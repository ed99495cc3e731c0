// Turns fetched pages into store writes: dedupe by canonical key, match against the campaigns,
// compute counter and series deltas, and commit all of it with the page's cursor in one batch.
//
// This is where "exactly once" lives (design §5): a post already in the store is never counted
// again, only its engagement high-water marks move, and the cursor is written in the same atomic
// batch as the posts it covers. Thread-safe: pages from different sources may arrive concurrently
// (the same post can be served by two sources), so the read-decide-write of a page is serialized.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "analytics/matcher.h"
#include "core/error.h"
#include "core/model.h"
#include "store/store.h"

namespace chorus::ingest {

// Metric names of the counters the ingester maintains (design §7).
inline constexpr const char* kPostsTotal = "chorus_posts_total";
inline constexpr const char* kTermPostsTotal = "chorus_term_posts_total";
inline constexpr const char* kEngagementTotal = "chorus_engagement_total";
inline constexpr const char* kPotentialReachTotal = "chorus_potential_reach_total";
inline constexpr const char* kPolicymakerMentionsTotal = "chorus_policymaker_mentions_total";
inline constexpr const char* kPolicymakerResponsesTotal = "chorus_policymaker_responses_total";
inline constexpr const char* kCoalitionPostsTotal = "chorus_coalition_posts_total";

struct PageOutcome {
  int posts_in_page = 0;
  int new_posts = 0;        // stored for the first time (relevant ones)
  int updated_posts = 0;    // already known; engagement changed
  int irrelevant_posts = 0; // matched nothing configured; not stored
  std::map<std::string, int64_t> counter_deltas;  // encoded CounterKey -> delta, as committed
};

class Ingester {
 public:
  Ingester(store::Store& store, std::shared_ptr<const analytics::Matcher> matcher);

  // Swaps the matcher after a config reload. Posts already stored keep how they were counted.
  void SetMatcher(std::shared_ptr<const analytics::Matcher> matcher);

  // Applies one page and the cursors that cover it, atomically. On error nothing was written.
  Result<PageOutcome> ApplyPage(const std::vector<Post>& posts,
                                const std::map<std::string, std::string>& cursors, int64_t now_ms);

 private:
  store::Store& store_;
  std::mutex mu_;
  std::shared_ptr<const analytics::Matcher> matcher_;
};

}  // namespace chorus::ingest
