#include "ingest/ingester.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <unordered_map>

#include "core/counter_key.h"
#include "core/time.h"

namespace chorus::ingest {
namespace {

// Sums a page's counter and series deltas. Keys are encoded into one reused buffer and looked up
// in hash maps: the same few keys recur for every post, and a bulk import's batch of tens of
// thousands of posts touches tens of thousands of minute buckets, where a sorted map's string
// comparisons were most of the ingester's time. Series sums go straight into the batch (which
// keeps them hashed); AddCountersToBatch() hands it the counters.
struct Deltas {
  store::Batch* batch;
  std::string key;
  std::unordered_map<std::string, int64_t> counters;
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;
  static void Add(std::unordered_map<std::string, int64_t>& sums, const std::string& key, int64_t d) {
    if (auto it = sums.find(key); it != sums.end()) {
      it->second += d;
    } else {
      sums.emplace(key, d);
    }
  }
  void Counter(const char* name, Labels labels, int64_t d) {
    if (d <= 0) return;
    CounterKey::EncodeTo(&key, name, labels);
    Add(counters, key, d);
  }
  void Series(std::string_view metric, std::string_view campaign, std::string_view platform,
              std::string_view term, int64_t created_ms, int64_t d) {
    if (d <= 0) return;
    const int64_t created_s = FloorDiv(created_ms, 1000);
    store::SeriesKeyTo(&key, metric, campaign, platform, term,
                       store::BucketStart(created_s, store::Step::kMinute));
    Add(batch->series_deltas, key, d);
  }
  // A batch holds a few hundred distinct counters however many posts it has: added in one go.
  void AddCountersToBatch() {
    for (const auto& [k, v] : counters) batch->counter_deltas[k] += v;
    counters.clear();
  }
};

void AddEngagement(Deltas& d, const std::vector<std::string>& campaigns, std::string_view platform,
                   int64_t created_ms, const Engagement& delta) {
  struct Kind {
    const char* kind;
    const char* metric;  // its series
    int64_t v;
  };
  const Kind kinds[] = {{"like", "engagement_like", delta.likes},
                        {"repost", "engagement_repost", delta.reposts},
                        {"reply", "engagement_reply", delta.replies},
                        {"quote", "engagement_quote", delta.quotes}};
  int64_t total = 0;
  for (const auto& [kind, metric, v] : kinds) {
    if (v <= 0) continue;
    total += v;
    for (const auto& c : campaigns) {
      d.Counter(kEngagementTotal, {{"campaign", c}, {"platform", platform}, {"kind", kind}}, v);
      d.Series(metric, c, platform, "", created_ms, v);
    }
  }
  for (const auto& c : campaigns) d.Series("engagement", c, platform, "", created_ms, total);
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

  // A page may repeat a post (a boost next to its original): the last copy wins.
  std::vector<const Post*> unique;
  std::unordered_map<std::string_view, size_t> index;
  for (const auto& p : posts) {
    auto [it, inserted] = index.emplace(p.key, unique.size());
    if (inserted) unique.push_back(&p);
    else unique[it->second] = &p;
  }
  std::vector<std::string_view> keys;
  keys.reserve(unique.size());
  for (const Post* p : unique) keys.push_back(p->key);
  auto found = store_.FindPosts(keys);
  if (!found) return Fail(found.error());
  std::vector<const store::StoredPost*> existing(unique.size(), nullptr);  // the stored copy
  for (const auto& [i, stored] : *found) existing[i] = &stored;

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

  // New posts are matched up front, so a reply whose campaign post is new in this same page (a
  // thread served together, in whichever order) finds that post's campaigns as it would a stored
  // one's.
  std::vector<std::optional<analytics::Match>> matches(unique.size());
  for (size_t i = 0; i < unique.size(); ++i) {
    const Post& post = *unique[i];
    if (existing[i]) continue;
    if (post_retention_ms_ > 0 && post.created_at_ms < now_ms - post_retention_ms_) continue;
    matches[i] = matcher_->Evaluate(post);
    if (!parent_keys.empty() && matches[i]->relevant() && !matches[i]->campaigns.empty()) {
      parent_campaigns.try_emplace(post.key, matches[i]->campaigns);
    }
  }

  store::Batch batch;
  batch.posts.reserve(unique.size());
  Deltas d{&batch};
  // Earliest creation time wins: backfilled pages may bring older mentions after newer ones.
  auto mark = [&](const char* name, const std::string& pm, const std::string& campaign, int64_t ms) {
    const std::string key = CounterKey{name, {{"policymaker", pm}, {"campaign", campaign}}}.Encode();
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
    const std::string platform(PlatformName(post.platform));
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
      AddEngagement(d, known->campaigns, platform, known->post.created_at_ms, delta);
      batch.posts.push_back(std::move(updated));
      ++out.updated_posts;
      continue;
    }

    if (!matches[i]) {  // created before the posts retention
      ++out.expired_posts;
      continue;
    }
    analytics::Match& m = *matches[i];
    if (!m.relevant()) {
      ++out.irrelevant_posts;
      continue;
    }
    store::StoredPost sp;
    sp.first_seen_ms = sp.last_seen_ms = now_ms;
    sp.terms.reserve(m.terms.size());
    for (const auto& [campaign, term] : m.terms) sp.terms.push_back(campaign + '\x1f' + term);

    const int64_t created = post.created_at_ms;
    for (const auto& c : m.campaigns) {
      d.Counter(kPostsTotal, {{"campaign", c}, {"platform", platform}}, 1);
      d.Counter(kPotentialReachTotal, {{"campaign", c}, {"platform", platform}}, post.author_followers);
      d.Series("posts", c, platform, "", created, 1);
      d.Series("reach", c, platform, "", created, post.author_followers);
    }
    for (const auto& [c, term] : m.terms) {
      d.Counter(kTermPostsTotal, {{"campaign", c}, {"term", term}, {"platform", platform}}, 1);
      d.Series("posts", c, platform, term, created, 1);
    }
    AddEngagement(d, m.campaigns, platform, created, post.engagement);
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
    batch.posts.push_back(std::move(sp));
    ++out.new_posts;
  }
  d.AddCountersToBatch();
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
