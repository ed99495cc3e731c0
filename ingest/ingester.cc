#include "ingest/ingester.h"

#include <algorithm>
#include <deque>
#include <iterator>
#include <optional>
#include <unordered_map>

#include "core/counter_key.h"
#include "core/string_order.h"
#include "core/time.h"

namespace chorus::ingest {
namespace {

// Sums a page's counter and series deltas.
//
// What posts, reach and engagement add is summed per cell (campaign, platform, term, minute)
// under small integer keys, and only written out as series and counter keys once per cell, by
// AddToBatch(): a bulk import's batch of 100,000 posts falls into a few thousand cells, where
// encoding and hashing a dozen string keys for every post was a tenth of the import's CPU. Those
// counters are their series' sums over all minutes, so both come from the same cells. The rarer
// counters (mentions, responses, coalition posts) are summed under their encoded keys.
class Deltas {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  void Counter(const char* name, Labels labels, int64_t d) {
    if (d <= 0) return;
    CounterKey::EncodeTo(&key_, name, labels);
    Add(counters_, key_, d);
  }
  // A new post counted for `campaign`, with the engagement it came with.
  void NewPost(std::string_view campaign, Platform platform, int64_t created_ms, int64_t followers,
               const Engagement& engagement) {
    Cell& cell = At(campaign, "", platform, created_ms);
    cell.posts += 1;
    if (followers > 0) cell.reach += followers;
    AddKinds(cell, engagement);
  }
  // A new post counted for one of `campaign`'s terms.
  void NewTermPost(std::string_view campaign, std::string_view term, Platform platform,
                   int64_t created_ms) {
    At(campaign, term, platform, created_ms).posts += 1;
  }
  // Engagement an already stored post of `campaigns` gained since it was last seen.
  void AddEngagement(const std::vector<std::string>& campaigns, Platform platform, int64_t created_ms,
                     const Engagement& delta) {
    for (const auto& c : campaigns) AddKinds(At(c, "", platform, created_ms), delta);
  }

  // Writes the page's sums into `batch` (the page's own: its sorted series deltas are these
  // alone): series deltas per minute, sorted, and counter deltas per labels.
  void AddToBatch(store::Batch& batch) {
    // Metrics of a campaign cell's series, by index; a term cell has only "posts".
    static constexpr const char* kMetrics[] = {"posts",           "reach",
                                               "engagement_like", "engagement_repost",
                                               "engagement_reply", "engagement_quote",
                                               "engagement"};
    static constexpr const char* kKinds[] = {"like", "repost", "reply", "quote"};
    // A batch's cells fall into a few hundred series (metric, campaign, platform, term): each is
    // encoded once and ranked by its key, and the cells' values become (series, minute) buckets
    // sorted as integers, where a hash table of a hundred thousand string keys had to be built,
    // walked and parsed back by the commit.
    std::vector<std::string> prefixes;                // by series id
    std::unordered_map<uint64_t, uint32_t> series_id;  // (metric, platform, campaign, term) -> id
    auto series_of = [&](uint32_t metric, const CellKey& at, uint32_t term) {
      const uint64_t packed = uint64_t{metric} << 56 | uint64_t{static_cast<uint8_t>(at.platform)} << 48 |
                              uint64_t{at.campaign} << 24 | (term == kNoTerm ? 0 : term + 1);
      auto [it, inserted] = series_id.try_emplace(packed, static_cast<uint32_t>(prefixes.size()));
      if (inserted) {
        store::SeriesKeyTo(&key_, kMetrics[metric], names_[at.campaign], PlatformName(at.platform),
                           term == kNoTerm ? std::string_view() : std::string_view(names_[term]), 0);
        prefixes.emplace_back(key_.data(), key_.size() - 8);  // without the bucket start
      }
      return it->second;
    };
    std::vector<store::SortedSeriesDeltas::Bucket> buckets;  // `prefix`: the series id
    buckets.reserve(7 * cells_.size());
    auto bucket = [&](uint32_t metric, const CellKey& at, uint32_t term, int64_t v) {
      if (v > 0) buckets.push_back({series_of(metric, at, term), at.minute, v});
    };
    // The counters are the series' sums over all minutes: summed per labels first, then encoded
    // once each (a few hundred a batch) rather than once per cell.
    std::unordered_map<CellKey, Cell, CellHash> totals;
    for (const auto& [at, cell] : cells_) {
      Cell& total = totals[{at.campaign, at.term, at.platform, 0}];
      total.posts += cell.posts;
      total.reach += cell.reach;
      for (int k = 0; k < 4; ++k) total.engagement[k] += cell.engagement[k];
      if (at.term != kNoTerm) {
        bucket(0, at, at.term, cell.posts);
        continue;
      }
      bucket(0, at, kNoTerm, cell.posts);
      bucket(1, at, kNoTerm, cell.reach);
      int64_t sum = 0;
      for (uint32_t k = 0; k < 4; ++k) {
        sum += cell.engagement[k];
        bucket(2 + k, at, kNoTerm, cell.engagement[k]);
      }
      bucket(6, at, kNoTerm, sum);
    }
    // A cell is one (campaign, platform, term, minute) and each of its metrics a series of its
    // own, so every (series, minute) occurs once.
    batch.sorted_series_deltas = store::SortSeriesBuckets(std::move(prefixes), std::move(buckets));
    for (const auto& [at, cell] : totals) {
      const std::string_view campaign = names_[at.campaign];
      const std::string_view platform = PlatformName(at.platform);
      if (at.term != kNoTerm) {
        Counter(kTermPostsTotal, {{"campaign", campaign}, {"term", names_[at.term]}, {"platform", platform}},
                cell.posts);
        continue;
      }
      Counter(kPostsTotal, {{"campaign", campaign}, {"platform", platform}}, cell.posts);
      Counter(kPotentialReachTotal, {{"campaign", campaign}, {"platform", platform}}, cell.reach);
      for (int k = 0; k < 4; ++k) {
        Counter(kEngagementTotal, {{"campaign", campaign}, {"platform", platform}, {"kind", kKinds[k]}},
                cell.engagement[k]);
      }
    }
    cells_.clear();
    // A batch holds a few hundred distinct counters however many posts it has: added in one go.
    for (const auto& [k, v] : counters_) batch.counter_deltas[k] += v;
    counters_.clear();
  }

 private:
  static constexpr uint32_t kNoTerm = UINT32_MAX;
  struct CellKey {
    uint32_t campaign;  // into names_
    uint32_t term;      // into names_, or kNoTerm for the campaign's totals
    Platform platform;
    int64_t minute;     // bucket start, unix seconds
    bool operator==(const CellKey&) const = default;
  };
  struct CellHash {
    size_t operator()(const CellKey& k) const {
      uint64_t h = (uint64_t{k.campaign} << 32 | k.term) * 0x9E3779B97F4A7C15ULL;
      h ^= static_cast<uint64_t>(k.minute) + static_cast<uint64_t>(k.platform) * 0xC2B2AE3D27D4EB4FULL +
           (h << 6) + (h >> 2);
      return static_cast<size_t>(h);
    }
  };
  struct Cell {
    int64_t posts = 0;
    int64_t reach = 0;
    int64_t engagement[4] = {};  // likes, reposts, replies, quotes
  };

  // Each kind's positive part into the cell's engagement (likes, reposts, replies, quotes).
  static void AddKinds(Cell& cell, const Engagement& e) {
    const int64_t kinds[] = {e.likes, e.reposts, e.replies, e.quotes};
    for (int k = 0; k < 4; ++k) {
      if (kinds[k] > 0) cell.engagement[k] += kinds[k];
    }
  }
  static void Add(std::unordered_map<std::string, int64_t>& sums, const std::string& key, int64_t d) {
    if (auto it = sums.find(key); it != sums.end()) {
      it->second += d;
    } else {
      sums.emplace(key, d);
    }
  }
  uint32_t Id(std::string_view name) {
    if (auto it = ids_.find(name); it != ids_.end()) return it->second;
    const uint32_t id = static_cast<uint32_t>(names_.size());
    names_.emplace_back(name);
    ids_.emplace(names_.back(), id);
    return id;
  }
  Cell& At(std::string_view campaign, std::string_view term, Platform platform, int64_t created_ms) {
    const int64_t minute = store::BucketStart(FloorDiv(created_ms, 1000), store::Step::kMinute);
    return cells_[{Id(campaign), term.empty() ? kNoTerm : Id(term), platform, minute}];
  }

  std::string key_;  // reused encoding buffer
  std::unordered_map<std::string, int64_t> counters_;
  std::deque<std::string> names_;                       // campaign and term names, by id
  std::unordered_map<std::string_view, uint32_t> ids_;  // views of names_
  std::unordered_map<CellKey, Cell, CellHash> cells_;
};

// A page's posts, each once. A page may repeat a post (a boost next to its original; a bulk
// import's batch of many pages repeats more): its copies become one, the latest, with the
// engagement high-water mark and the follower count of first sight, as applying the copies one
// by one would count them.
struct DistinctPosts {
  std::deque<Post> merged;              // repeated posts' merged copies (few), where `posts` points
  std::vector<const Post*> posts;       // in page order of their first copies
  std::vector<std::string_view> keys;   // their keys, in byte order (the store lookup's)
  std::vector<uint32_t> key_of;         // posts[i]'s index in `keys`
};

// Found by sorting the page's keys once: copies are adjacent in that order, and in page order
// among themselves (SortedOrder is stable).
DistinctPosts MergeRepeats(const std::vector<Post>& page) {
  DistinctPosts out;
  std::vector<std::string_view> page_keys(page.size());
  for (size_t i = 0; i < page.size(); ++i) page_keys[i] = page[i].key;
  const std::vector<uint32_t> by_key = SortedOrder(page_keys);
  std::vector<const Post*> kept_of;                 // by `keys` index: the copy to apply
  std::vector<int32_t> first_copy(page.size(), -1);  // by page index: its `keys` index, if first
  for (size_t j = 0; j < by_key.size();) {
    const Post* kept = &page[by_key[j]];
    size_t end = j + 1;
    for (; end < by_key.size() && page_keys[by_key[end]] == page_keys[by_key[j]]; ++end) {
      const Post& later = page[by_key[end]];
      Post copy = later;
      copy.engagement = HighWater(kept->engagement, later.engagement);
      copy.author_followers = kept->author_followers;
      out.merged.push_back(std::move(copy));
      kept = &out.merged.back();
    }
    first_copy[by_key[j]] = static_cast<int32_t>(out.keys.size());
    out.keys.push_back(page_keys[by_key[j]]);
    kept_of.push_back(kept);
    j = end;
  }
  out.posts.reserve(out.keys.size());
  out.key_of.reserve(out.keys.size());
  for (const int32_t k : first_copy) {
    if (k < 0) continue;
    out.posts.push_back(kept_of[k]);
    out.key_of.push_back(static_cast<uint32_t>(k));
  }
  return out;
}

// The indices of `rank` (distinct values below `slots`) in the order of their values.
std::vector<uint32_t> OrderOfRanks(const std::vector<uint32_t>& rank, size_t slots) {
  std::vector<int32_t> at(slots, -1);
  for (size_t j = 0; j < rank.size(); ++j) at[rank[j]] = static_cast<int32_t>(j);
  std::vector<uint32_t> order;
  order.reserve(rank.size());
  for (const int32_t j : at) {
    if (j >= 0) order.push_back(static_cast<uint32_t>(j));
  }
  return order;
}

Engagement PositiveDelta(const Engagement& before, const Engagement& after) {
  auto pos = [](int64_t b, int64_t a) { return a > b ? a - b : 0; };
  return {pos(before.likes, after.likes), pos(before.reposts, after.reposts),
          pos(before.replies, after.replies), pos(before.quotes, after.quotes)};
}

}  // namespace

Ingester::Ingester(store::Store& store, std::shared_ptr<const analytics::Matcher> matcher)
    : store_(store), matcher_(std::move(matcher)) {}

void Ingester::SetMatcher(std::shared_ptr<const analytics::Matcher> matcher) {
  std::lock_guard lock(mu_);
  matcher_ = std::move(matcher);
}

void Ingester::SetNewPostHook(NewPostHook hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
}

void Ingester::SetPostRetention(int64_t ms) {
  std::lock_guard lock(mu_);
  post_retention_ms_ = ms;
}

Result<std::map<std::string, int64_t>> Ingester::LoadMarks() {
  auto marks = store_.LoadMarks();
  if (!marks) return Fail(marks.error());
  std::lock_guard lock(mu_);
  marks_ = *marks;
  return std::move(*marks);
}

int Ingester::NextRefreshStage(int64_t created_ms, int from_stage, int64_t now_ms) {
  constexpr int kStages = static_cast<int>(std::size(kRefreshStagesMs));
  for (int s = std::max(from_stage, 0); s < kStages; ++s) {
    if (created_ms + kRefreshStagesMs[s] > now_ms) return s;
  }
  return -1;
}

Result<PageOutcome> Ingester::ApplyPage(const std::vector<Post>& posts,
                                        const std::map<std::string, std::string>& cursors,
                                        int64_t now_ms, const std::string& source) {
  return Apply(posts, cursors, now_ms, source, {}, /*may_move=*/false);
}

Result<PageOutcome> Ingester::ApplyPage(std::vector<Post>&& posts,
                                        const std::map<std::string, std::string>& cursors,
                                        int64_t now_ms, const std::string& source) {
  return Apply(posts, cursors, now_ms, source, {}, /*may_move=*/true);
}

Result<PageOutcome> Ingester::ApplyRefresh(const std::string& source,
                                           const std::vector<store::RefreshEntry>& due,
                                           const std::vector<Post>& fetched, int64_t now_ms) {
  return Apply(fetched, {}, now_ms, source, due, /*may_move=*/false);
}

Result<PageOutcome> Ingester::Apply(const std::vector<Post>& posts,
                                    const std::map<std::string, std::string>& cursors,
                                    int64_t now_ms, const std::string& source,
                                    const std::vector<store::RefreshEntry>& due, bool may_move) {
  std::lock_guard lock(mu_);
  PageOutcome out;
  out.posts_in_page = static_cast<int>(posts.size());

  DistinctPosts distinct = MergeRepeats(posts);  // not const: a handed-over page moves from it
  const std::vector<const Post*>& unique = distinct.posts;
  const std::vector<std::string_view>& keys = distinct.keys;
  auto found = store_.FindPosts(keys);
  if (!found) return Fail(found.error());
  std::vector<const store::StoredPost*> existing(unique.size(), nullptr);  // the stored copy
  {
    std::vector<const store::StoredPost*> by_key(keys.size(), nullptr);
    for (const auto& [k, stored] : *found) by_key[k] = &stored;
    for (size_t i = 0; i < unique.size(); ++i) existing[i] = by_key[distinct.key_of[i]];
  }

  // Parents of policymakers' posts: a reply to or quote of a campaign post is a response to that
  // campaign (design §5), so their stored campaigns are needed.
  std::vector<std::string> parent_keys;
  for (size_t i = 0; i < unique.size(); ++i) {
    if (existing[i]) continue;
    for (const std::string* k : {&unique[i]->in_reply_to_key, &unique[i]->quote_of}) {
      if (!k->empty()) parent_keys.push_back(*k);
    }
  }
  std::unordered_map<std::string, std::vector<std::string>> parent_campaigns;
  if (!parent_keys.empty()) {
    auto parents = store_.GetPosts(parent_keys);
    if (!parents) return Fail(parents.error());
    for (size_t i = 0; i < parent_keys.size(); ++i) {
      if ((*parents)[i]) parent_campaigns[parent_keys[i]] = (*parents)[i]->campaigns;
    }
  }

  // A new post's match; none for one created before the posts retention.
  auto evaluate = [&](const Post& post) -> std::optional<analytics::Match> {
    if (post_retention_ms_ > 0 && post.created_at_ms < now_ms - post_retention_ms_) return std::nullopt;
    return matcher_->Evaluate(post);
  };
  // When the page replies to or quotes anything, its new posts are matched up front, so a reply
  // whose campaign post is new in this same page (a thread served together, in whichever order)
  // finds that post's campaigns as it would a stored one's. Otherwise each is matched as it is
  // stored, in the one pass that reads it (a bulk batch's 100,000 posts are long out of the cache
  // by the second pass).
  const bool match_up_front = !parent_keys.empty();
  std::vector<std::optional<analytics::Match>> matches(match_up_front ? unique.size() : 0);
  for (size_t i = 0; match_up_front && i < unique.size(); ++i) {
    if (existing[i]) continue;
    matches[i] = evaluate(*unique[i]);
    if (matches[i] && matches[i]->relevant() && !matches[i]->campaigns.empty()) {
      parent_campaigns.try_emplace(unique[i]->key, matches[i]->campaigns);
    }
  }
  std::optional<analytics::Match> matched_here;  // a post's match, when not matched up front

  store::Batch batch;
  batch.posts.reserve(unique.size());
  std::vector<uint32_t> key_rank;  // of batch.posts[j]: its index in distinct.keys (byte order)
  key_rank.reserve(unique.size());
  Deltas d;
  // Earliest creation time wins: backfilled pages may bring older mentions after newer ones.
  std::string key;  // reused by mark()
  auto mark = [&](const char* name, const std::string& pm, const std::string& campaign, int64_t ms) {
    CounterKey::EncodeTo(&key, name, {{"policymaker", pm}, {"campaign", campaign}});
    const int64_t s = FloorDiv(ms, 1000);
    auto it = batch.marks.find(key);
    const int64_t current = it != batch.marks.end() ? it->second
                            : marks_.count(key)      ? marks_.at(key)
                                                     : INT64_MAX;
    if (s < current) batch.marks[key] = s;
  };
  // Refresh answers: every due entry is consumed; found posts move on to their next stage.
  std::unordered_map<std::string_view, const store::RefreshEntry*> due_by_key;
  for (const auto& e : due) {
    batch.refresh_deletes.push_back(e);
    due_by_key[e.post_key] = &e;
  }
  auto schedule = [&](const Post& post, int from_stage) {
    if (source.empty()) return;
    const int stage = NextRefreshStage(post.created_at_ms, from_stage, now_ms);
    if (stage < 0) return;
    store::RefreshEntry e;
    e.source = source;
    e.due_ms = post.created_at_ms + kRefreshStagesMs[stage];
    e.post_key = post.key;
    e.local_id = post.local_id;
    e.stage = stage;
    batch.refresh_puts.push_back(std::move(e));
  };

  for (size_t i = 0; i < unique.size(); ++i) {
    const Post& post = *unique[i];
    const std::string_view platform = PlatformName(post.platform);
    const store::StoredPost* known = existing[i];
    if (known) {
      // Refresh answers come from the same source, so their local id is the one to ask for next
      // time (an edited X post has a new id but the same identity).
      if (auto it = due_by_key.find(post.key); it != due_by_key.end()) {
        Post next = known->post;
        next.local_id = post.local_id;
        schedule(next, it->second->stage + 1);
      }
      const Engagement delta = PositiveDelta(known->post.engagement, post.engagement);
      if (delta == Engagement{}) continue;
      store::StoredPost updated = *known;
      const Engagement high = HighWater(known->post.engagement, post.engagement);
      updated.post = post;
      updated.post.engagement = high;
      updated.post.author_followers = known->post.author_followers;  // reach is fixed at first sight
      // So is the creation time: the store files a post under it (a platform that re-dates an
      // edited post must not leave a second copy behind in creation order).
      updated.post.created_at_ms = known->post.created_at_ms;
      updated.last_seen_ms = now_ms;
      d.AddEngagement(known->campaigns, post.platform, known->post.created_at_ms, delta);
      batch.posts.push_back(std::move(updated));
      key_rank.push_back(distinct.key_of[i]);
      ++out.updated_posts;
      continue;
    }

    std::optional<analytics::Match>& match = match_up_front ? matches[i] : (matched_here = evaluate(post));
    if (!match) {  // created before the posts retention
      ++out.expired_posts;
      continue;
    }
    analytics::Match& m = *match;
    if (!m.relevant()) {
      ++out.irrelevant_posts;
      continue;
    }
    // Built where it is stored: `batch.posts` has room for every unique post, so it never moves.
    store::StoredPost& sp = batch.posts.emplace_back();
    sp.first_seen_ms = sp.last_seen_ms = now_ms;
    sp.terms.reserve(m.terms.size());
    for (const auto& [campaign, term] : m.terms) {
      std::string& t = sp.terms.emplace_back();
      t.reserve(campaign.size() + 1 + term.size());
      t.append(campaign).append(1, '\x1f').append(term);
    }

    const int64_t created = post.created_at_ms;
    for (const auto& c : m.campaigns) d.NewPost(c, post.platform, created, post.author_followers, post.engagement);
    for (const auto& [c, term] : m.terms) d.NewTermPost(c, term, post.platform, created);
    for (const auto& pm : m.mentioned_policymakers) {
      for (const auto& c : m.campaigns) mark(kFirstMentionTimestamp, pm, c, created);
      if (m.campaigns.empty()) {
        d.Counter(kPolicymakerMentionsTotal, {{"policymaker", pm}, {"platform", platform}, {"campaign", ""}}, 1);
      }
      for (const auto& c : m.campaigns) {
        d.Counter(kPolicymakerMentionsTotal, {{"policymaker", pm}, {"platform", platform}, {"campaign", c}}, 1);
      }
    }
    // A policymaker's own post is a response to the campaigns whose hashtag it carries and to
    // those of the campaign post it replies to or quotes (design §5).
    std::vector<std::string> responded;
    if (!m.author_policymaker.empty()) {
      responded = m.campaigns;
      for (const std::string* k : {&post.in_reply_to_key, &post.quote_of}) {
        auto it = parent_campaigns.find(*k);
        if (k->empty() || it == parent_campaigns.end()) continue;
        for (const auto& c : it->second) {
          if (std::find(responded.begin(), responded.end(), c) == responded.end()) responded.push_back(c);
        }
      }
      for (const auto& c : responded) {
        d.Counter(kPolicymakerResponsesTotal,
                  {{"policymaker", m.author_policymaker}, {"campaign", c}, {"platform", platform}}, 1);
        mark(kFirstResponseTimestamp, m.author_policymaker, c, created);
      }
    }
    if (!m.coalition_member.empty()) {
      for (const auto& c : m.campaigns) {
        d.Counter(kCoalitionPostsTotal,
                  {{"member", m.coalition_member}, {"campaign", c}, {"platform", platform}}, 1);
      }
    }
    // Taken over rather than copied when the caller handed the posts over (a bulk import).
    if (may_move) {
      sp.post = std::move(const_cast<Post&>(post));
    } else {
      sp.post = post;
    }
    schedule(sp.post, 0);
    if (hook_) {
      sp.campaigns = m.campaigns;
      sp.policymakers = m.mentioned_policymakers;
      hook_(NewPostEvent{sp, m, responded}, now_ms, batch);
    } else {  // nothing reads the match after this
      sp.campaigns = std::move(m.campaigns);
      sp.policymakers = std::move(m.mentioned_policymakers);
    }
    key_rank.push_back(distinct.key_of[i]);
    ++out.new_posts;
  }
  // The store would sort the posts by key again; MergeRepeats has.
  batch.posts_by_key = OrderOfRanks(key_rank, distinct.keys.size());
  d.AddToBatch(batch);
  for (const auto& [k, v] : cursors) batch.cursors[k] = v;
  if (!batch.empty()) {
    if (auto r = store_.Commit(batch); !r) return Fail(r.error());
  }
  for (const auto& [k, v] : batch.marks) marks_[k] = v;
  out.alerts_queued = static_cast<int>(batch.outbox_puts.size());
  out.counter_deltas = std::move(batch.counter_deltas);
  out.marks = std::move(batch.marks);
  return out;
}

}  // namespace chorus::ingest
