// The Reddit collector against the simulated Reddit, in process, feeding the real ingester and a
// RocksDB store in a temp dir: what the counters say when Reddit pages, repeats itself, expires
// tokens, rate-limits and misbehaves.
#include "collectors/reddit_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "analytics/matcher.h"
#include "config/config.h"
#include "core/counter_key.h"
#include "core/time.h"
#include "ingest/ingester.h"
#include "sim/reddit_sim.h"
#include "store/store.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kUa[] = "linux:org.example.chorus-test:v1.0 (by /u/chorus_ops)";
constexpr char kIdEnv[] = "CHORUS_TEST_REDDIT_CLIENT_ID";
constexpr char kSecretEnv[] = "CHORUS_TEST_REDDIT_CLIENT_SECRET";
constexpr char kSecret[] = "s3cret-reddit-client-secret";
constexpr int64_t kHour = 3'600'000;
// 2026-04-13T06:42:11Z: the fake clock's start.
constexpr int64_t kT0 = 1'776'062'531'000;

struct HarnessOptions {
  int page_limit = 100;
  bool separate_auth_host = false;  // auth_url names the sim differently, so it gets its own client
  std::string user_agent = kUa;
  sim::RedditSimOptions sim;
  bool fake_clock = true;
};

// What one poll of every query did, as the daemon's SourceRunner would see it.
struct PollReport {
  int pages = 0;
  std::vector<Error> errors;
  std::vector<int> statuses;
  std::optional<collectors::RateLimit> rate_limited;  // the 429's rate state, when one stopped it
  int new_posts = 0;
};

class RedditHarness {
 public:
  explicit RedditHarness(HarnessOptions o = {}) : options_(std::move(o)), clock_(kT0) {
    setenv(kIdEnv, options_.sim.client_id.c_str(), 1);
    setenv(kSecretEnv, options_.sim.client_secret.c_str(), 1);
    if (options_.fake_clock) options_.sim.clock = &clock_;
    sim_ = std::make_unique<sim::RedditSim>(options_.sim);
    EXPECT_TRUE(sim_->Start().has_value());
    sim_->AddUser("SenJaneDoe");  // the policymaker's account exists, posts or not

    config::Campaign fund{
        "fund-our-schools", {"fundourschools", "edequity"}, {"school funding formula"}};
    config::Campaign teachers{"teachers-count", {"teacherscount"}, {}};
    config_.campaigns = {fund, teachers};
    config::Person doe{"sen-doe", "Sen. Jane Doe", {{Platform::kReddit, "senjanedoe"}}};
    config_.policymakers = {doe};

    source_.name = "reddit-sim";
    source_.platform = Platform::kReddit;
    source_.base_url = sim_->base_url();
    source_.auth_url = options_.separate_auth_host
                           ? "http://localhost:" + std::to_string(sim_->port())
                           : sim_->base_url();
    source_.client_id_env = kIdEnv;
    source_.client_secret_env = kSecretEnv;
    source_.user_agent = options_.user_agent;
    source_.page_limit = options_.page_limit;
    source_.backfill_ms = 24 * kHour;
    source_.overlap_ms = 15 * 60'000;
    source_.timeout_ms = 3'000;
    config_.sources = {source_};

    auto store = store::Store::Open(dir_.path() + "/db");
    EXPECT_TRUE(store.has_value()) << store.error().ToString();
    store_ = std::move(*store);
    ingester_ = std::make_unique<ingest::Ingester>(
        *store_, std::make_shared<const analytics::Matcher>(config_));
  }

  ~RedditHarness() {
    unsetenv(kIdEnv);
    unsetenv(kSecretEnv);
  }

  // Builds the collector (once) the way the daemon does: transport with the source's User-Agent.
  Result<collectors::Collector*> Collector() {
    if (collector_) return collector_.get();
    collectors::HttpClientOptions http;
    http.read_timeout_ms = source_.timeout_ms;
    if (!source_.user_agent.empty()) http.user_agent = source_.user_agent;
    auto transport = collectors::MakeHttpClient(source_.base_url, http);
    if (!transport) return Fail(transport.error());
    auto c = collectors::MakeRedditCollector(source_, config_, std::move(*transport));
    if (!c) return Fail(c.error());
    collector_ = std::move(*c);
    return collector_.get();
  }

  // One poll of every query, like SourceRunner::PollQuery: page after page, each committed with
  // its cursor; a 429 ends the poll, any other error ends the query.
  PollReport Poll() {
    PollReport report;
    auto c = Collector();
    EXPECT_TRUE(c.has_value()) << c.error().ToString();
    if (!c) return report;
    for (const auto& q : (*c)->queries()) {
      const std::string cursor_key = store::CursorKey(source_.name, q.key);
      collectors::PageRequest req;
      req.cursor = store_->GetCursor(cursor_key).value().value_or("");
      for (int page = 0; page < 200; ++page) {
        req.now_ms = Now();
        collectors::FetchResult r = (*c)->FetchPage(q, req);
        report.statuses.push_back(r.http_status);
        if (r.error) {
          report.errors.push_back(*r.error);
          if (r.error->code == ErrorCode::kRateLimited) {
            report.rate_limited = r.rate;
            return report;
          }
          break;
        }
        ++report.pages;
        std::map<std::string, std::string> cursors;
        if (!r.cursor.empty() && r.cursor != req.cursor) cursors[cursor_key] = r.cursor;
        auto applied = ingester_->ApplyPage(r.posts, cursors, Now());
        EXPECT_TRUE(applied.has_value()) << applied.error().ToString();
        if (applied) report.new_posts += applied->new_posts;
        if (!r.cursor.empty()) req.cursor = r.cursor;
        if (r.next_page_token.empty()) break;
        req.page_token = r.next_page_token;
      }
    }
    return report;
  }

  // Polls until a poll ends without error (waiting out 429s on the fake clock), at most `max`.
  void PollUntilClean(int max = 20) {
    for (int i = 0; i < max; ++i) {
      const PollReport r = Poll();
      if (r.errors.empty()) return;
      if (r.rate_limited && r.rate_limited->reset_at_ms) clock_.Set(*r.rate_limited->reset_at_ms);
    }
    ADD_FAILURE() << "no clean poll in " << max;
  }

  // The sum of a counter over the label sets that contain every `label=value` of `filter`.
  int64_t Counter(const std::string& name,
                  const std::vector<std::pair<std::string, std::string>>& filter = {}) {
    auto all = store_->LoadCounters();
    EXPECT_TRUE(all.has_value());
    int64_t sum = 0;
    for (const auto& [encoded, value] : all.value_or(std::map<std::string, int64_t>{})) {
      auto key = CounterKey::Decode(encoded);
      if (!key || key->name != name) continue;
      bool ok = true;
      for (const auto& want : filter) {
        ok = ok && std::find(key->labels.begin(), key->labels.end(), want) != key->labels.end();
      }
      if (ok) sum += value;
    }
    return sum;
  }
  int64_t Posts(const std::string& campaign) {
    return Counter(ingest::kPostsTotal, {{"campaign", campaign}});
  }

  sim::RedditSimPost Add(std::string title, std::string selftext, int64_t age_ms,
                         std::string author = "parent_voice", int64_t score = 1) {
    sim::RedditSimPost p;
    p.title = std::move(title);
    p.selftext = std::move(selftext);
    p.author = std::move(author);
    p.created_at_ms = Now() - age_ms;
    p.score = score;
    return sim_->AddPost(p);
  }

  std::string Cursor(const std::string& query_key) {
    return store_->GetCursor(store::CursorKey(source_.name, query_key)).value().value_or("");
  }

  int64_t Now() const {
    return options_.fake_clock ? clock_.NowMs() : SystemClock::Instance().NowMs();
  }
  FakeClock& clock() { return clock_; }
  sim::RedditSim& sim() { return *sim_; }
  store::Store& store() { return *store_; }
  ingest::Ingester& ingester() { return *ingester_; }
  config::Source& source() { return source_; }

 private:
  HarnessOptions options_;
  FakeClock clock_;
  TempDir dir_;
  config::Config config_;
  config::Source source_;
  std::unique_ptr<sim::RedditSim> sim_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ingest::Ingester> ingester_;
  std::unique_ptr<collectors::Collector> collector_;
};

void ExpectNoSecrets(const PollReport& r, const std::string& secret) {
  for (const Error& e : r.errors) {
    EXPECT_THAT(e.message, Not(HasSubstr(secret)));
    EXPECT_THAT(e.message, Not(HasSubstr("sim1-")));  // the sim's tokens start so
  }
}

TEST(RedditCollector, QueriesCoverHashtagsKeywordsMentionsAndOwnPosts) {
  RedditHarness h;
  auto c = h.Collector();
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  std::vector<std::string> keys;
  for (const auto& q : (*c)->queries()) keys.push_back(q.key);
  EXPECT_THAT(keys,
              ::testing::ElementsAre("search:#edequity", "search:#fundourschools",
                                     "search:#teacherscount", "search:\"school funding formula\"",
                                     "search:u/senjanedoe", "user:senjanedoe"));
  // The policymaker's own posts are an account timeline; the searches are not.
  EXPECT_EQ((*c)->queries().back().account, "senjanedoe");
  EXPECT_EQ((*c)->queries().front().account, "");
  EXPECT_EQ((*c)->refresh_batch_limit(), 100u);
}

TEST(RedditCollector, BacklogBeyondOnePageIsFetchedWithoutGaps) {
  RedditHarness h;
  // 350 campaign posts over the last 20 hours: four pages of 100 for one query.
  for (int i = 0; i < 350; ++i)
    h.Add("Post " + std::to_string(i) + " #FundOurSchools", "", i * 200'000);
  for (int i = 0; i < 20; ++i)
    h.Add("Old #FundOurSchools " + std::to_string(i), "", 30 * kHour + i);
  h.Add("Cats are great", "#Cats", 1000);
  const PollReport r = h.Poll();
  EXPECT_THAT(r.errors, ::testing::IsEmpty());
  EXPECT_EQ(h.Posts("fund-our-schools"), 350);  // the 30-hour-old ones are beyond the backfill
  EXPECT_EQ(h.Counter(ingest::kTermPostsTotal, {{"term", "fundourschools"}}), 350);
  EXPECT_EQ(h.Posts("teachers-count"), 0);
  EXPECT_GE(r.pages, 4 + 5);  // four for the backlog, one for each other query

  // Every request was a proper Reddit search: never `before`, always raw_json and sort=new.
  int searches = 0;
  for (const std::string& t : h.sim().api_targets()) {
    EXPECT_THAT(t, HasSubstr("raw_json=1"));
    EXPECT_THAT(t, HasSubstr("sort=new"));
    EXPECT_THAT(t, HasSubstr("limit=100"));
    EXPECT_THAT(t, Not(HasSubstr("before=")));
    if (t.rfind("/search?", 0) == 0) {
      ++searches;
      EXPECT_THAT(t, HasSubstr("type=link"));
      EXPECT_THAT(t, HasSubstr("restrict_sr=false"));
    }
  }
  EXPECT_GT(searches, 4);
  EXPECT_THAT(
      h.sim().api_targets(),
      ::testing::Contains(
          "/search?q=%23fundourschools&sort=new&type=link&restrict_sr=false&limit=100&raw_json=1"));
  EXPECT_THAT(h.sim().api_targets(),
              ::testing::Contains(HasSubstr("/search?q=%22school%20funding%20formula%22&")));
  EXPECT_THAT(h.sim().api_targets(), ::testing::Contains(HasSubstr("/search?q=u%2Fsenjanedoe&")));
  EXPECT_THAT(h.sim().api_targets(),
              ::testing::Contains("/user/senjanedoe/submitted?sort=new&limit=100&raw_json=1"));
  // The watermark is the newest post, the poll complete (no resume part).
  EXPECT_EQ(h.Cursor("search:#fundourschools"), std::to_string(kT0 / 1000 * 1000));
}

TEST(RedditCollector, RepeatsAcrossPagesQueriesAndPollsAreCountedOnce) {
  RedditHarness h({.page_limit = 10});
  // Posts found by two hashtag queries and the keyword query at once.
  for (int i = 0; i < 25; ++i) {
    h.Add("Both #FundOurSchools #EdEquity " + std::to_string(i), "the school funding formula",
          i * 60'000);
  }
  for (int i = 0; i < 15; ++i)
    h.Add("Only #EdEquity " + std::to_string(i), "", i * 60'000 + 30'000);
  PollReport r = h.Poll();
  EXPECT_THAT(r.errors, ::testing::IsEmpty());
  EXPECT_EQ(h.Posts("fund-our-schools"), 40);
  EXPECT_EQ(h.Counter(ingest::kTermPostsTotal, {{"term", "fundourschools"}}), 25);
  EXPECT_EQ(h.Counter(ingest::kTermPostsTotal, {{"term", "edequity"}}), 40);
  EXPECT_EQ(h.Counter(ingest::kTermPostsTotal, {{"term", "school funding formula"}}), 25);

  // Later polls re-read the overlap window (15 min: these posts are inside it) and find new ones.
  h.clock().Advance(60'000);
  h.Add("New #FundOurSchools", "", 0);
  h.Add("A post that says fundourschools without the hash", "", 0);  // found, but no hashtag
  r = h.Poll();
  EXPECT_THAT(r.errors, ::testing::IsEmpty());
  EXPECT_EQ(r.new_posts, 1);
  h.clock().Advance(60'000);
  r = h.Poll();
  EXPECT_EQ(r.new_posts, 0);
  EXPECT_EQ(h.Posts("fund-our-schools"), 41);
  EXPECT_EQ(h.Counter(ingest::kTermPostsTotal, {{"term", "fundourschools"}}), 26);
  EXPECT_EQ(
      h.Counter(ingest::kEngagementTotal, {{"campaign", "fund-our-schools"}, {"kind", "like"}}),
      41);
}

TEST(RedditCollector, APollStopsAtTheOverlapAndCatchesLateIndexedPosts) {
  RedditHarness h({.page_limit = 10});
  for (int i = 0; i < 50; ++i) h.Add("#TeachersCount " + std::to_string(i), "", (i + 1) * 60'000);
  h.Poll();
  ASSERT_EQ(h.Posts("teachers-count"), 50);
  const size_t before = h.sim().api_targets().size();
  h.clock().Advance(5 * 60'000);
  // Indexed late: created 8 minutes ago, inside the overlap, below the watermark.
  h.Add("late #TeachersCount", "", 8 * 60'000);
  h.Poll();
  EXPECT_EQ(h.Posts("teachers-count"), 51);
  // The teacherscount query read only the pages down to watermark − 15 min: 2, not 6.
  int teacher_requests = 0;
  const auto targets = h.sim().api_targets();
  for (size_t i = before; i < targets.size(); ++i) {
    teacher_requests += targets[i].find("teacherscount") != std::string::npos;
  }
  EXPECT_EQ(teacher_requests, 2);
}

TEST(RedditCollector, TokensAreRenewedBeforeExpiryAndAfterA401) {
  HarnessOptions o;
  o.sim.token_lifetime_s = 120;  // renewed a minute early: after 60 s
  o.separate_auth_host = true;   // the token endpoint through its own client, as in production
  RedditHarness h(o);
  h.Add("#FundOurSchools one", "", 1000);
  h.Poll();
  EXPECT_EQ(h.sim().token_requests(), 1);
  h.clock().Advance(59'000);
  h.Poll();
  EXPECT_EQ(h.sim().token_requests(), 1);
  h.clock().Advance(2'000);  // 61 s after issue: renewed before the server would refuse it
  h.Add("#FundOurSchools two", "", 0);
  PollReport r = h.Poll();
  EXPECT_THAT(r.errors, ::testing::IsEmpty());
  EXPECT_EQ(h.sim().token_requests(), 2);
  EXPECT_EQ(h.sim().responses_by_status()[401], 0);

  // The server forgets every token: one 401, a new token, the same request again.
  h.sim().ExpireTokens();
  h.Add("#FundOurSchools three", "", 0);
  r = h.Poll();
  EXPECT_THAT(r.errors, ::testing::IsEmpty());
  EXPECT_EQ(h.sim().responses_by_status()[401], 1);
  EXPECT_EQ(h.sim().token_requests(), 3);
  EXPECT_EQ(h.Posts("fund-our-schools"), 3);
  ExpectNoSecrets(r, kSecret);
}

TEST(RedditCollector, ShortTokenLifetimesAreRenewedAtHalfLife) {
  HarnessOptions o;
  o.sim.token_lifetime_s = 10;
  RedditHarness h(o);
  h.Add("#FundOurSchools", "", 0);
  for (int i = 0; i < 6; ++i) {
    const PollReport r = h.Poll();
    EXPECT_THAT(r.errors, ::testing::IsEmpty());
    h.clock().Advance(3'000);
  }
  // 18 s of polling with 10 s tokens renewed after 5 s: a few tokens, and never a 401.
  EXPECT_GE(h.sim().token_requests(), 3);
  EXPECT_EQ(h.sim().responses_by_status()[401], 0);
}

TEST(RedditCollector, RejectedCredentialsAreAnErrorWithoutSecrets) {
  HarnessOptions o;
  o.sim.client_secret = kSecret;
  RedditHarness h(o);
  setenv(kSecretEnv, "wrong-secret-value", 1);
  const PollReport r = h.Poll();
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(r.errors[0].message, HasSubstr(kSecretEnv));  // names the variable, not its value
  ExpectNoSecrets(r, "wrong-secret-value");
  ExpectNoSecrets(r, kSecret);
  EXPECT_EQ(r.statuses[0], 401);
  EXPECT_EQ(h.sim().token_requests(), 0);
}

TEST(RedditCollector, MissingCredentialsOrUserAgentRefuseToStart) {
  {
    RedditHarness h;
    unsetenv(kIdEnv);
    auto c = h.Collector();
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, ErrorCode::kUnauthenticated);
    EXPECT_THAT(c.error().message, HasSubstr(kIdEnv));
  }
  RedditHarness h({.user_agent = ""});
  auto c = h.Collector();
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(c.error().message, HasSubstr("user_agent"));
}

TEST(RedditCollector, TooManyRequestsIsWaitedOutAndThePollResumes) {
  HarnessOptions o;
  o.page_limit = 10;
  o.sim.rate_limit = 8;  // per 600 s window: the backlog alone needs ten pages
  RedditHarness h(o);
  for (int i = 0; i < 100; ++i) h.Add("#EdEquity " + std::to_string(i), "", i * 60'000);
  PollReport r = h.Poll();
  ASSERT_TRUE(r.rate_limited.has_value());
  EXPECT_EQ(r.errors.back().code, ErrorCode::kRateLimited);
  EXPECT_EQ(r.statuses.back(), 429);
  EXPECT_EQ(r.rate_limited->remaining, 0);
  ASSERT_TRUE(r.rate_limited->reset_at_ms.has_value());
  // 06:42:11 + 469 s = 06:50:00, the clock-aligned end of the window.
  EXPECT_EQ(*r.rate_limited->reset_at_ms, kT0 + 469'000);
  EXPECT_EQ(h.Posts("fund-our-schools"), 80);  // eight pages were committed before the 429
  // The unfinished poll left a resume point, not a new watermark; the next query never ran.
  EXPECT_THAT(h.Cursor("search:#edequity"), HasSubstr("/t3_"));
  EXPECT_THAT(h.Cursor("search:#fundourschools"), ::testing::IsEmpty());

  h.clock().Set(*r.rate_limited->reset_at_ms);
  r = h.Poll();
  EXPECT_THAT(r.errors, ::testing::IsEmpty());
  EXPECT_EQ(h.Posts("fund-our-schools"), 100);
  EXPECT_EQ(h.Cursor("search:#edequity"), std::to_string(kT0));
  EXPECT_EQ(h.sim().responses_by_status()[429], 1);
  // The resumed poll asked for the two missing pages only, then the other five queries.
  EXPECT_EQ(r.statuses.size(), 7u);
}

TEST(RedditCollector, InjectedTooManyRequestsOnARealClock) {
  HarnessOptions o;
  o.fake_clock = false;
  o.page_limit = 10;
  o.sim.rate_window_ms = 1'000;
  RedditHarness h(o);
  for (int i = 0; i < 35; ++i) h.Add("#TeachersCount " + std::to_string(i), "", i * 60'000);
  sim::FaultPlan faults;
  faults.rate_limit_every = 4;
  h.sim().SetFaults(faults);
  int limited = 0;
  for (int i = 0; i < 30 && h.Posts("teachers-count") < 35; ++i) {
    const PollReport r = h.Poll();
    if (!r.rate_limited) continue;
    ++limited;
    ASSERT_TRUE(r.rate_limited->reset_at_ms.has_value());
    const int64_t wait = *r.rate_limited->reset_at_ms - h.Now();
    EXPECT_LE(wait, 1'000);
    if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait));
  }
  EXPECT_EQ(h.Posts("teachers-count"), 35);
  EXPECT_GT(limited, 0);
}

TEST(RedditCollector, EmptyResults) {
  RedditHarness h;
  h.sim().AddUser("senjanedoe");
  const PollReport r = h.Poll();
  EXPECT_THAT(r.errors, ::testing::IsEmpty());
  EXPECT_EQ(r.pages, 6);  // one empty page per query
  EXPECT_THAT(r.statuses, ::testing::Each(200));
  EXPECT_EQ(h.Posts("fund-our-schools"), 0);
  EXPECT_EQ(*h.store().CountPosts(), 0);
  EXPECT_EQ(h.Cursor("search:#fundourschools"), "");  // nothing seen, nothing to remember
  // A second poll is the same six requests.
  h.Poll();
  EXPECT_EQ(h.sim().api_targets().size(), 12u);
}

TEST(RedditCollector, PolicymakerMentionWithoutAHashtagAndTheirOwnPost) {
  RedditHarness h;
  const auto mention = h.Add("Thank you u/SenJaneDoe for the vote", "It matters.", 5 * 60'000);
  h.Add("Thanks /u/SenJaneDoe for backing #FundOurSchools", "", 4 * 60'000);
  const auto own =
      h.Add("My statement on #FundOurSchools", "Proud to vote yes.", 3 * 60'000, "SenJaneDoe");
  h.Add("A post about someone else, u/SenJaneDoeFan", "", 2 * 60'000);
  const PollReport r = h.Poll();
  EXPECT_THAT(r.errors, ::testing::IsEmpty());
  EXPECT_EQ(
      h.Counter(ingest::kPolicymakerMentionsTotal, {{"policymaker", "sen-doe"}, {"campaign", ""}}),
      1);
  EXPECT_EQ(h.Counter(ingest::kPolicymakerMentionsTotal,
                      {{"policymaker", "sen-doe"}, {"campaign", "fund-our-schools"}}),
            1);
  EXPECT_EQ(h.Counter(ingest::kPolicymakerResponsesTotal,
                      {{"policymaker", "sen-doe"}, {"campaign", "fund-our-schools"}}),
            1);
  EXPECT_EQ(h.Posts("fund-our-schools"), 2);
  auto stored = h.store().GetPosts({mention.name, own.name});
  ASSERT_TRUE(stored.has_value());
  ASSERT_TRUE((*stored)[0].has_value());
  EXPECT_THAT((*stored)[0]->post.mentions, ::testing::ElementsAre("senjanedoe"));
  EXPECT_EQ((*stored)[0]->post.author_followers, 0);
  EXPECT_THAT((*stored)[0]->post.url, HasSubstr("https://www.reddit.com/r/campaigns/comments/"));
  ASSERT_TRUE((*stored)[1].has_value());
  EXPECT_EQ((*stored)[1]->post.author, "senjanedoe");
}

TEST(RedditCollector, EngagementIsRefreshedThroughApiInfoAndRemovedPostsStayCounted) {
  RedditHarness h;
  const auto a = h.Add("#FundOurSchools a", "", 60'000, "voice_a", 5);
  auto b_post = h.Add("#FundOurSchools b", "", 120'000, "voice_b", 2);
  sim::RedditSimPost x;
  x.title = "crosspost #FundOurSchools";
  x.author = "voice_c";
  x.created_at_ms = h.Now() - 30'000;
  x.crosspost_parent = a.name;
  x = h.sim().AddPost(x);
  h.Poll();
  ASSERT_EQ(h.Posts("fund-our-schools"), 3);
  auto likes = [&] {
    return h.Counter(ingest::kEngagementTotal,
                     {{"campaign", "fund-our-schools"}, {"kind", "like"}});
  };
  EXPECT_EQ(likes(), 5 + 2 + 1);
  auto stored = h.store().GetPosts({x.name});
  ASSERT_TRUE(stored.has_value() && (*stored)[0].has_value());
  EXPECT_EQ((*stored)[0]->post.quote_of, a.name);

  h.sim().SetEngagement(a.name, 50, 12, 3);
  h.sim().Remove(b_post.name, /*by_author=*/false);
  h.sim().SetEngagement(b_post.name, 9, 4, 0);
  auto c = h.Collector();
  ASSERT_TRUE(c.has_value());
  const collectors::FetchResult r = (*c)->Refresh({a.name, b_post.name, "t3_unknown"}, h.Now());
  ASSERT_FALSE(r.error.has_value()) << r.error->ToString();
  ASSERT_EQ(r.posts.size(), 2u);
  EXPECT_EQ(r.posts[1].text, "#FundOurSchools b");  // "[removed]" is not text
  ASSERT_TRUE(h.ingester().ApplyPage(r.posts, {}, h.Now()).has_value());
  EXPECT_EQ(h.Posts("fund-our-schools"), 3);  // the removed post still counts
  EXPECT_EQ(likes(), 50 + 9 + 1);
  EXPECT_EQ(h.Counter(ingest::kEngagementTotal, {{"kind", "reply"}}), 12 + 4);
  EXPECT_EQ(h.Counter(ingest::kEngagementTotal, {{"kind", "repost"}}), 3);
  EXPECT_THAT(h.sim().api_targets().back(), ::testing::StartsWith("/api/info?id=" + a.name));
  EXPECT_THAT(h.sim().api_targets().back(), HasSubstr(b_post.name));
  EXPECT_THAT(h.sim().api_targets().back(), HasSubstr("raw_json=1"));

  // A post first seen after its removal: its text is the title alone, so the keyword that was in
  // its selftext does not make it a campaign post.
  const auto gone = h.Add("A question", "about the school funding formula", 10'000, "voice_d");
  h.sim().Remove(gone.name, /*by_author=*/false);
  const collectors::FetchResult late = (*c)->Refresh({gone.name}, h.Now());
  ASSERT_FALSE(late.error.has_value());
  ASSERT_EQ(late.posts.size(), 1u);
  EXPECT_EQ(late.posts[0].text, "A question");
  ASSERT_TRUE(h.ingester().ApplyPage(late.posts, {}, h.Now()).has_value());
  EXPECT_EQ(h.Posts("fund-our-schools"), 3);

  std::vector<std::string> many(101, a.name);
  const collectors::FetchResult too_many = (*c)->Refresh(many, h.Now());
  ASSERT_TRUE(too_many.error.has_value());
  EXPECT_EQ(too_many.error->code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE((*c)->Refresh({}, h.Now()).posts.empty());
}

TEST(RedditCollector, ServerErrorsHtmlPagesAndCutBodiesAreSurvivedWithoutGaps) {
  RedditHarness h({.page_limit = 10});
  for (int i = 0; i < 60; ++i) h.Add("#EdEquity " + std::to_string(i), "", i * 60'000);
  sim::FaultPlan faults;
  faults.error_500_every = 4;
  faults.non_json_every = 5;
  faults.truncate_every = 7;
  h.sim().SetFaults(faults);
  std::map<ErrorCode, int> codes;
  for (int i = 0; i < 40 && h.Posts("fund-our-schools") < 60; ++i) {
    const PollReport r = h.Poll();
    for (const Error& e : r.errors) ++codes[e.code];
  }
  EXPECT_EQ(h.Posts("fund-our-schools"), 60);
  EXPECT_GT(codes[ErrorCode::kUnavailable], 0);  // 500s and the HTML 503 pages
  EXPECT_GT(codes[ErrorCode::kParse], 0);        // cut bodies
  EXPECT_EQ(codes[ErrorCode::kRateLimited], 0);
  EXPECT_GT(h.sim().responses_by_status()[503], 0);
}

TEST(RedditCollector, AGenericUserAgentIsBlockedAsATransientHtmlError) {
  RedditHarness h({.user_agent = "python-requests/2.31.0"});
  const PollReport r = h.Poll();
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].code, ErrorCode::kUnavailable);
  EXPECT_THAT(r.errors[0].message, HasSubstr("HTML"));
  EXPECT_EQ(r.statuses[0], 403);
}

TEST(RedditCollector, AVanishedAfterAnchorRestartsThePollOnce) {
  RedditHarness h({.page_limit = 10});
  std::vector<sim::RedditSimPost> posts;
  for (int i = 0; i < 30; ++i)
    posts.push_back(h.Add("#EdEquity " + std::to_string(i), "", i * 60'000));
  auto c = h.Collector();
  ASSERT_TRUE(c.has_value());
  const collectors::Query* q = nullptr;
  for (const auto& query : (*c)->queries()) {
    if (query.key == "search:#edequity") q = &query;
  }
  ASSERT_NE(q, nullptr);
  collectors::PageRequest req;
  req.now_ms = h.Now();
  collectors::FetchResult p1 = (*c)->FetchPage(*q, req);
  ASSERT_FALSE(p1.error.has_value());
  ASSERT_EQ(p1.next_page_token, posts[9].name);
  // The anchor is deleted before the next page is asked for.
  h.sim().Remove(posts[9].name, /*by_author=*/true);
  req.cursor = p1.cursor;
  req.page_token = p1.next_page_token;
  collectors::FetchResult p2 = (*c)->FetchPage(*q, req);
  ASSERT_FALSE(p2.error.has_value());
  EXPECT_TRUE(p2.posts.empty());
  EXPECT_EQ(p2.next_page_token, "~");  // once more from the top
  std::set<std::string> seen;
  for (const auto& p : p1.posts) seen.insert(p.key);
  req.page_token = p2.next_page_token;
  for (int i = 0; i < 10 && !req.page_token.empty(); ++i) {
    collectors::FetchResult p = (*c)->FetchPage(*q, req);
    ASSERT_FALSE(p.error.has_value());
    for (const auto& post : p.posts) seen.insert(post.key);
    if (!p.cursor.empty()) req.cursor = p.cursor;
    req.page_token = p.next_page_token;
  }
  EXPECT_EQ(seen.size(), 30u);  // every post, the deleted anchor from the first page included
  EXPECT_THAT(req.cursor, Not(HasSubstr("/")));
}

}  // namespace
}  // namespace chorus::testing
