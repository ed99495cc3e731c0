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
// Gauges kept as store marks (encoded CounterKey -> unix seconds), the earliest creation time of a
// policymaker's mention in / response to a campaign: "time to first response" is their difference.
inline constexpr const char* kFirstMentionTimestamp = "chorus_policymaker_first_mention_timestamp_seconds";
inline constexpr const char* kFirstResponseTimestamp = "chorus_policymaker_first_response_timestamp_seconds";

// What the ingester tells the alerting module about each post it stores for the first time.
struct NewPostEvent {
  const store::StoredPost& post;
  const analytics::Match& match;
  // Campaigns a policymaker's post responds to (design §5); empty unless the author is one.
  const std::vector<std::string>& responded_campaigns;
};
// Called under the ingester's lock for every new post, before the page commits; whatever it adds
// to `batch` (alert outbox entries) commits atomically with the post. It must not add posts:
// `event.post` is the batch's own entry, built in place.
using NewPostHook = std::function<void(const NewPostEvent& event, int64_t now_ms, store::Batch& batch)>;

struct PageOutcome {
  int posts_in_page = 0;
  int new_posts = 0;        // stored for the first time (relevant ones)
  int updated_posts = 0;    // already known; engagement changed
  int irrelevant_posts = 0; // matched nothing configured; not stored
  int expired_posts = 0;    // new, but created before the posts retention; not stored
  int alerts_queued = 0;    // outbox entries committed with the page
  std::map<std::string, int64_t> counter_deltas;  // encoded CounterKey -> delta, as committed
  std::map<std::string, int64_t> marks;           // first-mention/response marks that moved
};

class Ingester {
 public:
  Ingester(store::Store& store, std::shared_ptr<const analytics::Matcher> matcher);

  // Swaps the matcher after a config reload. Posts already stored keep how they were counted.
  void SetMatcher(std::shared_ptr<const analytics::Matcher> matcher);
  void SetNewPostHook(NewPostHook hook);
  // New posts created more than `ms` before now are skipped (0 = none are): the store would drop
  // them at its next compaction, and one seen again later would be counted a second time.
  void SetPostRetention(int64_t ms);
  // Loads the first-mention/response marks already in the store (call once before ingesting) and
  // returns them, for whoever publishes them.
  Result<std::map<std::string, int64_t>> LoadMarks();

  // Applies one page and the cursors that cover it, atomically. On error nothing was written.
  // With a `source`, new posts are scheduled for engagement refresh through that source. A post
  // the page holds more than once is stored and counted once: its latest copy, with the highest
  // engagement of any copy and the follower count of the first.
  Result<PageOutcome> ApplyPage(const std::vector<Post>& posts,
                                const std::map<std::string, std::string>& cursors, int64_t now_ms,
                                const std::string& source = "");
  // The same, taking the posts over: what is stored is moved out of `posts` rather than copied
  // (a bulk import's batches). `posts` is left in a valid but unspecified state.
  Result<PageOutcome> ApplyPage(std::vector<Post>&& posts,
                                const std::map<std::string, std::string>& cursors, int64_t now_ms,
                                const std::string& source = "");

  // Applies the answer to an engagement refresh: `fetched` are the posts the platform returned
  // for the `due` entries. Engagement growth is counted, each entry is removed and the post is
  // scheduled for its next refresh stage (posts the platform no longer returns are dropped from
  // the schedule), all in one batch.
  Result<PageOutcome> ApplyRefresh(const std::string& source,
                                   const std::vector<store::RefreshEntry>& due,
                                   const std::vector<Post>& fetched, int64_t now_ms);

  // When a post is re-fetched after creation (design §5: 1 h, 6 h, 24 h, 72 h).
  static constexpr int64_t kRefreshStagesMs[] = {3'600'000, 6 * 3'600'000, 24 * 3'600'000,
                                                 72 * 3'600'000};
  // The first stage at or after `from_stage` whose time is still ahead of `now_ms`; -1 if none.
  static int NextRefreshStage(int64_t created_ms, int from_stage, int64_t now_ms);

 private:
  Result<PageOutcome> Apply(const std::vector<Post>& posts,
                            const std::map<std::string, std::string>& cursors, int64_t now_ms,
                            const std::string& source, const std::vector<store::RefreshEntry>& due,
                            bool may_move);

  store::Store& store_;
  std::mutex mu_;
  std::shared_ptr<const analytics::Matcher> matcher_;
  NewPostHook hook_;
  int64_t post_retention_ms_ = 0;
  std::map<std::string, int64_t> marks_;  // as in the store
};

}  // namespace chorus::ingest
