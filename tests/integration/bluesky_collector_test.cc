// The Bluesky collector against the simulated PDS/AppView, with the real store and ingester in a
// temporary directory: what ends up counted when search pages, repeats itself, runs out of
// depth, expires tokens, rate-limits, finds nothing, or finds a policymaker only by mention.
#include "collectors/bluesky_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "analytics/matcher.h"
#include "collectors/http_client.h"
#include "core/counter_key.h"
#include "core/time.h"
#include "ingest/ingester.h"
#include "sim/bluesky_sim.h"
#include "store/store.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'773'151'200'000;  // 2026-03-10T14:00:00Z
constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 3'600'000;
constexpr char kSource[] = "bsky";
constexpr char kIdentifierEnv[] = "CHORUS_TEST_BSKY_IDENTIFIER";
constexpr char kPasswordEnv[] = "CHORUS_TEST_BSKY_APP_PASSWORD";
constexpr char kIdentifier[] = "collector.bsky.social";
constexpr char kPassword[] = "s3cret-app-pass";
constexpr char kJane[] = "janedoe.bsky.social";

config::Config TestConfig() {
  config::Config c;
  c.campaigns.push_back(
      {"fund-our-schools", {"fundourschools", "edequity"}, {"school funding formula"}});
  c.campaigns.push_back({"teachers-count", {"teacherscount"}, {}});
  c.policymakers.push_back({"sen-doe", "Sen. Jane Doe", {{Platform::kBluesky, kJane}}});
  return c;
}

struct PollReport {
  int pages = 0;
  std::vector<Error> errors;
  std::vector<collectors::FetchResult> failed;
};

class BlueskyCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv(kIdentifierEnv, kIdentifier, 1);
    setenv(kPasswordEnv, kPassword, 1);
    auto s = store::Store::Open(dir_.path());
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    ingester_ =
        std::make_unique<ingest::Ingester>(*store_, std::make_shared<analytics::Matcher>(config_));
  }
  void TearDown() override {
    unsetenv(kIdentifierEnv);
    unsetenv(kPasswordEnv);
  }

  // Starts the simulator (PDS mode: sessions required) and builds the collector against it.
  void Start(sim::BlueskySimOptions o = {}, int page_limit = 25,
             collectors::BlueskyCollectorOptions co = {}, bool with_credentials = true) {
    if (with_credentials) {
      o.identifier = kIdentifier;
      o.password = kPassword;
    }
    o.clock = &clock_;
    sim_ = std::make_unique<sim::BlueskySim>(o);
    ASSERT_TRUE(sim_->Start(0).has_value());
    sim_->AddActor({kJane, "", 25'000});
    source_.name = kSource;
    source_.platform = Platform::kBluesky;
    source_.base_url = sim_->base_url();
    source_.identifier_env = with_credentials ? kIdentifierEnv : "";
    source_.password_env = with_credentials ? kPasswordEnv : "";
    source_.page_limit = page_limit;
    source_.backfill_ms = 24 * kHour;
    source_.overlap_ms = 15 * kMinute;
    auto transport = collectors::MakeHttpClient(sim_->base_url(), {});
    ASSERT_TRUE(transport) << transport.error().ToString();
    auto c =
        collectors::MakeBlueskyCollectorWithOptions(source_, config_, std::move(*transport), co);
    ASSERT_TRUE(c) << c.error().ToString();
    collector_ = std::move(*c);
  }

  sim::BlueskySimPost Add(std::string text, int64_t age_ms, std::string handle = "",
                          int64_t followers = 10, std::vector<sim::BlueskySimActor> mentions = {}) {
    sim::BlueskySimPost p;
    p.author = {handle.empty() ? "voice" + std::to_string(n_ % 17) + ".bsky.social" : handle, "",
                followers};
    p.text = std::move(text);
    p.created_at_ms = clock_.NowMs() - age_ms;
    p.mentions = std::move(mentions);
    ++n_;
    return sim_->AddPost(p);
  }

  const collectors::Query& QueryNamed(const std::string& key) {
    for (const auto& q : collector_->queries()) {
      if (q.key == key) return q;
    }
    ADD_FAILURE() << "no query " << key;
    return collector_->queries().front();
  }

  // One page of one query, committed as the daemon commits it: posts and cursor together.
  collectors::FetchResult Step(const collectors::Query& q, collectors::PageRequest& req) {
    const std::string key = store::CursorKey(kSource, q.key);
    req.now_ms = clock_.NowMs();
    auto page = collector_->FetchPage(q, req);
    if (page.error) return page;
    std::map<std::string, std::string> cursors;
    if (!page.cursor.empty() && page.cursor != req.cursor) cursors[key] = page.cursor;
    auto applied = ingester_->ApplyPage(page.posts, cursors, clock_.NowMs(), kSource);
    EXPECT_TRUE(applied) << applied.error().ToString();
    if (!page.cursor.empty()) req.cursor = page.cursor;
    req.page_token = page.next_page_token;
    return page;
  }

  collectors::PageRequest FreshRequest(const collectors::Query& q) {
    collectors::PageRequest req;
    auto stored = store_->GetCursor(store::CursorKey(kSource, q.key));
    EXPECT_TRUE(stored);
    req.cursor = stored ? stored->value_or("") : "";
    return req;
  }

  // One poll of every query, as SourceRunner::PollQuery walks them.
  PollReport PollAll() {
    PollReport r;
    for (const auto& q : collector_->queries()) {
      auto req = FreshRequest(q);
      for (int guard = 0; guard < 1000; ++guard) {
        auto page = Step(q, req);
        if (page.error) {
          r.errors.push_back(*page.error);
          r.failed.push_back(page);
          break;
        }
        ++r.pages;
        if (req.page_token.empty()) break;
      }
    }
    return r;
  }

  int64_t Counter(const char* name, std::vector<std::pair<std::string, std::string>> labels) {
    auto all = store_->LoadCounters();
    EXPECT_TRUE(all);
    auto it = all->find(CounterKey{name, std::move(labels)}.Encode());
    return it == all->end() ? 0 : it->second;
  }
  int64_t Posts(const std::string& campaign) {
    return Counter(ingest::kPostsTotal, {{"campaign", campaign}, {"platform", "bluesky"}});
  }
  int64_t Stored() { return store_->CountPosts().value_or(-1); }
  std::string CursorOf(const std::string& query_key) {
    auto c = store_->GetCursor(store::CursorKey(kSource, query_key));
    return c && *c ? **c : "";
  }
  int Requests(std::string_view method) {
    int n = 0;
    for (const auto& line : sim_->request_log()) n += line.find(method) != std::string::npos;
    return n;
  }

  TempDir dir_;
  FakeClock clock_{kNow};
  config::Config config_ = TestConfig();
  config::Source source_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ingest::Ingester> ingester_;
  std::unique_ptr<sim::BlueskySim> sim_;
  std::unique_ptr<collectors::Collector> collector_;
  int n_ = 0;
};

TEST_F(BlueskyCollectorTest, QueriesCoverHashtagsKeywordsMentionsAndOwnPosts) {
  Start();
  std::vector<std::string> keys;
  for (const auto& q : collector_->queries()) keys.push_back(q.key);
  EXPECT_THAT(keys,
              ::testing::ElementsAre("tag:edequity", "tag:fundourschools", "tag:teacherscount",
                                     "q:school funding formula", "mentions:janedoe.bsky.social",
                                     "author:janedoe.bsky.social"));
  EXPECT_EQ(collector_->refresh_batch_limit(), 25u);
}

TEST_F(BlueskyCollectorTest, BacklogBeyondOnePageIsFetchedWithoutGaps) {
  Start({}, /*page_limit=*/25);
  int64_t fund = 0, reach = 0;
  for (int i = 0; i < 230; ++i) {
    const char* tag = i % 3 == 0 ? "FundOurSchools" : (i % 3 == 1 ? "EdEquity" : "TeachersCount");
    // An emoji before the hashtag, as people write.
    // Authors are voice<i % 17>; each has one follower count.
    Add("\xF0\x9F\x93\x9A post " + std::to_string(i) + " #" + tag, i * 5 * kMinute, "",
        100 + i % 17);
    if (i % 3 != 2) {
      ++fund;
      reach += 100 + i % 17;
    }
  }
  // Hidden by the AppView: the search pages come back short, with a cursor.
  for (int i = 0; i < 20; ++i) {
    sim::BlueskySimPost hidden;
    hidden.author = {"blocked.example"};
    hidden.text = "#FundOurSchools spam " + std::to_string(i);
    hidden.created_at_ms = kNow - i * 7 * kMinute;
    hidden.hidden = true;
    sim_->AddPost(hidden);
  }
  Add("#Cats only", 1000, "cats.bsky.social");                    // unrelated
  Add("#FundOurSchools too old", 30 * kHour, "old.bsky.social");  // older than the 24 h backfill
  const auto report = PollAll();
  ASSERT_TRUE(report.errors.empty()) << report.errors[0].ToString();
  EXPECT_GT(report.pages, 10);
  EXPECT_EQ(Posts("fund-our-schools"), fund);
  EXPECT_EQ(Posts("teachers-count"), 230 - fund);
  EXPECT_EQ(Counter(ingest::kPotentialReachTotal,
                    {{"campaign", "fund-our-schools"}, {"platform", "bluesky"}}),
            reach);
  EXPECT_EQ(
      Counter(ingest::kTermPostsTotal,
              {{"campaign", "fund-our-schools"}, {"term", "edequity"}, {"platform", "bluesky"}}),
      77);
  EXPECT_EQ(Stored(), 230);
  // Every query ended its poll: the cursor is a watermark only, at the newest post.
  EXPECT_EQ(CursorOf("tag:fundourschools"), "w=" + std::to_string(kNow));
  // The requests were what platform-apis §2 asks for.
  bool saw_tag = false;
  for (const auto& line : sim_->request_log()) {
    if (line.find("searchPosts") == std::string::npos) continue;
    EXPECT_THAT(line, HasSubstr("sort=latest"));
    EXPECT_THAT(line, HasSubstr("since=2026-03-09T14:00:00.000Z"));  // now − backfill
    saw_tag = saw_tag || line.find("tag=fundourschools") != std::string::npos;
  }
  EXPECT_TRUE(saw_tag);
  // Followers: one getProfiles per 25 new authors, never again for known ones.
  EXPECT_LE(Requests("getProfiles"), 4);
}

TEST_F(BlueskyCollectorTest, DuplicatesAcrossPagesQueriesAndPollsAreCountedOnce) {
  Start({}, /*page_limit=*/10);
  std::vector<sim::BlueskySimPost> posts;
  // Both tags of one campaign: found by two queries. Recent ones: re-read by every poll's overlap.
  for (int i = 0; i < 40; ++i)
    posts.push_back(Add("#FundOurSchools #EdEquity n" + std::to_string(i), i * kMinute, "", 7));
  for (int i = 0; i < 5; ++i)
    Add("school funding formula matters #FundOurSchools " + std::to_string(i), i * kMinute);
  ASSERT_TRUE(PollAll().errors.empty());
  const size_t first_poll_requests = sim_->request_log().size();
  EXPECT_EQ(Posts("fund-our-schools"), 45);
  EXPECT_EQ(Counter(ingest::kTermPostsTotal, {{"campaign", "fund-our-schools"},
                                              {"term", "school funding formula"},
                                              {"platform", "bluesky"}}),
            5);
  const int64_t reach = Counter(ingest::kPotentialReachTotal,
                                {{"campaign", "fund-our-schools"}, {"platform", "bluesky"}});
  for (int poll = 0; poll < 3; ++poll) {
    clock_.Advance(kMinute);
    ASSERT_TRUE(PollAll().errors.empty());
  }
  EXPECT_EQ(Posts("fund-our-schools"), 45);
  EXPECT_EQ(Counter(ingest::kTermPostsTotal, {{"campaign", "fund-our-schools"},
                                              {"term", "fundourschools"},
                                              {"platform", "bluesky"}}),
            45);
  EXPECT_EQ(
      Counter(ingest::kTermPostsTotal,
              {{"campaign", "fund-our-schools"}, {"term", "edequity"}, {"platform", "bluesky"}}),
      40);
  EXPECT_EQ(Counter(ingest::kPotentialReachTotal,
                    {{"campaign", "fund-our-schools"}, {"platform", "bluesky"}}),
            reach);
  // Later polls only re-read the overlap window (watermark − 15 min), not the whole backlog.
  const auto log = sim_->request_log();
  int later_searches = 0;
  for (size_t i = first_poll_requests; i < log.size(); ++i) {
    if (log[i].find("tag=fundourschools") == std::string::npos) continue;
    ++later_searches;
    EXPECT_THAT(log[i], HasSubstr("since=2026-03-10T13:45:00.000Z"));
  }
  EXPECT_EQ(later_searches, 3 * 3);  // 21 posts in the 15-minute overlap: three pages a poll

  // Engagement growth of a post inside the overlap window is picked up by the next poll...
  ASSERT_TRUE(sim_->SetEngagement(posts[0].uri, 9, 4, 2, 1));
  clock_.Advance(kMinute);
  ASSERT_TRUE(PollAll().errors.empty());
  EXPECT_EQ(Counter(ingest::kEngagementTotal,
                    {{"campaign", "fund-our-schools"}, {"platform", "bluesky"}, {"kind", "like"}}),
            9);
  // ...and of any post through getPosts (engagement refresh).
  ASSERT_TRUE(sim_->SetEngagement(posts[39].uri, 5, 0, 0, 0));
  auto refreshed = collector_->Refresh(
      {posts[39].uri, posts[0].uri, "at://did:plc:gone/app.bsky.feed.post/x"}, clock_.NowMs());
  ASSERT_FALSE(refreshed.error) << refreshed.error->ToString();
  ASSERT_EQ(refreshed.posts.size(), 2u);
  EXPECT_EQ(refreshed.posts[0].engagement.likes, 5);
  EXPECT_EQ(refreshed.posts[1].engagement, (Engagement{9, 4, 2, 1}));
  auto applied = ingester_->ApplyPage(refreshed.posts, {}, clock_.NowMs());
  ASSERT_TRUE(applied);
  EXPECT_EQ(Counter(ingest::kEngagementTotal,
                    {{"campaign", "fund-our-schools"}, {"platform", "bluesky"}, {"kind", "like"}}),
            14);
  EXPECT_EQ(Posts("fund-our-schools"), 45);
  std::vector<std::string> too_many(26, posts[0].uri);
  EXPECT_TRUE(collector_->Refresh(too_many, clock_.NowMs()).error.has_value());
}

TEST_F(BlueskyCollectorTest, TokenExpiryMidRunIsRefreshedWithoutLosingAPage) {
  Start({}, /*page_limit=*/10);
  for (int i = 0; i < 35; ++i) Add("#TeachersCount " + std::to_string(i), i * kMinute);
  const auto& q = QueryNamed("tag:teacherscount");
  auto req = FreshRequest(q);
  auto first = Step(q, req);
  ASSERT_FALSE(first.error) << first.error->ToString();
  ASSERT_FALSE(req.page_token.empty());
  EXPECT_EQ(sim_->sessions_created(), 1);

  // The access token's two hours run out between two pages of the same poll.
  clock_.Advance(2 * kHour + 1000);
  int pages = 1;
  while (!req.page_token.empty()) {
    auto page = Step(q, req);
    ASSERT_FALSE(page.error) << page.error->ToString();
    ++pages;
  }
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(Posts("teachers-count"), 35);
  EXPECT_EQ(sim_->sessions_refreshed(), 1);
  EXPECT_EQ(sim_->sessions_created(), 1);
  EXPECT_EQ(sim_->responses_by_status()[400], 1);  // the one ExpiredToken

  // Refresh token revoked too: the collector logs in again.
  sim_->ExpireAccessTokens();
  sim_->RevokeRefreshTokens();
  Add("#TeachersCount late", 0);
  ASSERT_TRUE(PollAll().errors.empty());
  EXPECT_EQ(Posts("teachers-count"), 36);
  EXPECT_EQ(sim_->sessions_created(), 2);
}

TEST_F(BlueskyCollectorTest, WrongCredentialsAreReportedWithoutTheSecret) {
  setenv(kPasswordEnv, "wrong-pass-value", 1);
  Start();
  Add("#FundOurSchools x", 0);
  const auto report = PollAll();
  ASSERT_FALSE(report.errors.empty());
  for (const auto& e : report.errors) {
    EXPECT_EQ(e.code, ErrorCode::kUnauthenticated) << e.ToString();
    EXPECT_THAT(e.message, HasSubstr(kPasswordEnv));
    EXPECT_EQ(e.message.find("wrong-pass-value"), std::string::npos);
    EXPECT_EQ(e.message.find(kIdentifier), std::string::npos);
  }
  EXPECT_EQ(Posts("fund-our-schools"), 0);
  EXPECT_EQ(Requests("createSession"), 1);  // not retried by every query
  // And an unset variable is caught when the collector is built.
  unsetenv(kPasswordEnv);
  auto transport = collectors::MakeHttpClient(sim_->base_url(), {});
  auto c = collectors::MakeBlueskyCollector(source_, config_, std::move(*transport));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(c.error().message, HasSubstr(kPasswordEnv));
}

TEST_F(BlueskyCollectorTest, RateLimitIsReportedSoTheSchedulerCanWait) {
  sim::BlueskySimOptions o;
  o.rate_limit = 6;
  o.rate_window_ms = 5 * kMinute;
  clock_.Set(kNow + 10'000);  // 10 s into a window that resets at kNow + 5 min
  Start(o, 10);
  for (int i = 0; i < 30; ++i) Add("#EdEquity " + std::to_string(i), i * kMinute);
  const auto& q = QueryNamed("tag:edequity");
  auto req = FreshRequest(q);
  collectors::FetchResult page;
  int ok_pages = 0;
  for (int i = 0; i < 10; ++i) {
    page = Step(q, req);
    if (page.error) break;
    ++ok_pages;
    // Every answer carries the budget: RateLimit-* headers, Reset in epoch seconds.
    EXPECT_EQ(page.rate.limit, 6);
    ASSERT_TRUE(page.rate.remaining.has_value());
    EXPECT_EQ(page.rate.reset_at_ms, kNow + 5 * kMinute);
  }
  ASSERT_TRUE(page.error.has_value()) << "never rate limited";
  EXPECT_GT(ok_pages, 0);
  EXPECT_EQ(page.error->code, ErrorCode::kRateLimited);
  EXPECT_THAT(page.error->message, HasSubstr("RateLimitExceeded"));
  EXPECT_EQ(page.http_status, 429);
  EXPECT_EQ(page.rate.remaining, 0);
  EXPECT_EQ(page.rate.reset_at_ms, kNow + 5 * kMinute);  // Retry-After 290 s agrees with Reset
  // Once the window has reset, the same page is asked for again and succeeds.
  clock_.Set(kNow + 5 * kMinute);
  while (!req.page_token.empty() || ok_pages == 0) {
    auto next = Step(q, req);
    ASSERT_FALSE(next.error) << next.error->ToString();
    ++ok_pages;
    if (req.page_token.empty()) break;
  }
  EXPECT_EQ(
      Counter(ingest::kTermPostsTotal,
              {{"campaign", "fund-our-schools"}, {"term", "edequity"}, {"platform", "bluesky"}}),
      30);
}

TEST_F(BlueskyCollectorTest, EmptyResultsAreAQuietPoll) {
  Start();
  sim_->AddActor({kJane, "", 1000});
  const auto report = PollAll();
  ASSERT_TRUE(report.errors.empty()) << report.errors[0].ToString();
  EXPECT_EQ(report.pages, static_cast<int>(collector_->queries().size()));  // one page each
  EXPECT_EQ(Stored(), 0);
  EXPECT_EQ(CursorOf("tag:fundourschools"), "w=0");  // nothing seen: no watermark yet
  ASSERT_TRUE(PollAll().errors.empty());
  EXPECT_EQ(Stored(), 0);
}

TEST_F(BlueskyCollectorTest, PolicymakerMentionFoundThroughMentionsWithoutAnyHashtag) {
  Start();
  const sim::BlueskySimActor jane{kJane, "", 25'000};
  // No hashtag, no keyword: only the mentions= query can find it.
  const auto mention = Add("\xF0\x9F\x8C\x8D Tell @janedoe.bsky.social to vote yes on the budget",
                           10 * kMinute, "parent.bsky.social", 300, {jane});
  // Typed without a facet: not a mention (design §5).
  Add("janedoe.bsky.social should read this", 5 * kMinute, "other.bsky.social", 1, {});
  const auto report = PollAll();
  ASSERT_TRUE(report.errors.empty()) << report.errors[0].ToString();
  EXPECT_EQ(Counter(ingest::kPolicymakerMentionsTotal,
                    {{"policymaker", "sen-doe"}, {"platform", "bluesky"}, {"campaign", ""}}),
            1);
  EXPECT_EQ(Stored(), 1);
  auto stored = store_->GetPosts({mention.uri});
  ASSERT_TRUE(stored && (*stored)[0]);
  EXPECT_THAT((*stored)[0]->post.mentions, ::testing::ElementsAre(kJane));
  EXPECT_EQ((*stored)[0]->post.author_followers, 300);
  // The handle was resolved once and the DID used from then on.
  EXPECT_EQ(Requests("resolveHandle"), 1);
  bool by_did = false;
  for (const auto& line : sim_->request_log()) {
    by_did = by_did || line.find("mentions=" + sim::SimDidForHandle(kJane)) != std::string::npos;
  }
  EXPECT_TRUE(by_did);
  ASSERT_TRUE(PollAll().errors.empty());
  EXPECT_EQ(Requests("resolveHandle"), 1);

  // A post written when she had another handle: the text says "@sen-jane-old.bsky.social", the
  // facet carries her DID. The DID decides, and the configured handle is what is stored.
  const sim::BlueskySimActor old_handle{"sen-jane-old.bsky.social", sim::SimDidForHandle(kJane),
                                        25'000};
  const auto old_mention =
      Add("thanks @sen-jane-old.bsky.social!", kMinute, "fan.bsky.social", 3, {old_handle});
  clock_.Advance(kMinute);
  ASSERT_TRUE(PollAll().errors.empty());
  EXPECT_EQ(Counter(ingest::kPolicymakerMentionsTotal,
                    {{"policymaker", "sen-doe"}, {"platform", "bluesky"}, {"campaign", ""}}),
            2);
  auto again = store_->GetPosts({old_mention.uri});
  ASSERT_TRUE(again && (*again)[0]);
  EXPECT_THAT((*again)[0]->post.mentions, ::testing::ElementsAre(kJane));
}

TEST_F(BlueskyCollectorTest, PolicymakerOwnPostsCountButRepostsAreAmplification) {
  Start();
  const sim::BlueskySimActor jane{kJane, "", 25'000};
  const auto campaign = Add("Fund them! #FundOurSchools", 3 * kHour, "parent.bsky.social", 50);
  sim::BlueskySimPost reply;
  reply.author = jane;
  reply.text = "I hear you, and I will vote for it";
  reply.created_at_ms = kNow - 2 * kHour;
  reply.reply_parent_uri = campaign.uri;
  const auto response = sim_->AddPost(reply);
  // An unrelated post of someone else that Jane reposts: not a post of hers.
  const auto other = Add("lunch was great", 4 * kHour, "chef.bsky.social", 5);
  ASSERT_TRUE(sim_->AddRepost(jane, other.uri, kNow - kHour));
  ASSERT_TRUE(PollAll().errors.empty());
  auto stored = store_->GetPosts({response.uri, other.uri});
  ASSERT_TRUE(stored);
  ASSERT_TRUE((*stored)[0].has_value()) << "her reply was not stored";
  EXPECT_EQ((*stored)[0]->post.author, kJane);
  EXPECT_EQ((*stored)[0]->post.in_reply_to_key, campaign.uri);
  // Search results name a parent only by its uri: the account is its DID.
  EXPECT_EQ((*stored)[0]->post.in_reply_to_author, sim::SimDidForHandle("parent.bsky.social"));
  EXPECT_FALSE((*stored)[1].has_value()) << "a repost was taken for her post";
  EXPECT_EQ(Counter(ingest::kPolicymakerResponsesTotal, {{"policymaker", "sen-doe"},
                                                         {"campaign", "fund-our-schools"},
                                                         {"platform", "bluesky"}}),
            1);
  EXPECT_EQ(Posts("fund-our-schools"), 1);
}

TEST_F(BlueskyCollectorTest, SearchDepthCapIsPassedBySplittingTheWindow) {
  sim::BlueskySimOptions o;
  o.search_depth_cap = 30;
  collectors::BlueskyCollectorOptions co;
  co.search_depth_cap = 30;
  Start(o, /*page_limit=*/10, co);
  for (int i = 0; i < 95; ++i) Add("#EdEquity deep " + std::to_string(i), i * 3 * kMinute);
  const auto report = PollAll();
  ASSERT_TRUE(report.errors.empty()) << report.errors[0].ToString();
  EXPECT_EQ(
      Counter(ingest::kTermPostsTotal,
              {{"campaign", "fund-our-schools"}, {"term", "edequity"}, {"platform", "bluesky"}}),
      95);
  int with_until = 0;
  for (const auto& line : sim_->request_log()) {
    with_until +=
        line.find("tag=edequity") != std::string::npos && line.find("until=") != std::string::npos;
  }
  EXPECT_GE(with_until, 3);                        // 95 posts, 30 per window
  EXPECT_EQ(sim_->responses_by_status()[400], 0);  // never asked past the cap
  EXPECT_EQ(CursorOf("tag:edequity"), "w=" + std::to_string(kNow));
}

TEST_F(BlueskyCollectorTest, ARejectedCursorSplitsTheWindowInsteadOfFailing) {
  sim::BlueskySimOptions o;
  o.search_depth_cap = 20;
  collectors::BlueskyCollectorOptions co;
  co.search_depth_cap = 20;
  Start(o, /*page_limit=*/10, co);
  for (int i = 0; i < 50; ++i) Add("#EdEquity " + std::to_string(i), i * kMinute);
  const auto& q = QueryNamed("tag:edequity");
  auto req = FreshRequest(q);
  ASSERT_FALSE(Step(q, req).error);
  // A server cursor the backend no longer takes (too deep, or from an older cursor format).
  auto state = collectors::ParseBlueskyCursor(req.page_token);
  ASSERT_TRUE(state.in_progress);
  state.page_cursor = "40";
  req.page_token = collectors::FormatBlueskyCursor(state);
  int pages = 0;
  while (!req.page_token.empty() && pages < 20) {
    auto page = Step(q, req);
    ASSERT_FALSE(page.error) << page.error->ToString();
    ++pages;
  }
  EXPECT_EQ(sim_->responses_by_status()[400], 1);
  EXPECT_EQ(
      Counter(ingest::kTermPostsTotal,
              {{"campaign", "fund-our-schools"}, {"term", "edequity"}, {"platform", "bluesky"}}),
      50);
}

TEST_F(BlueskyCollectorTest,
       AnInterruptedPollResumesWithoutAGapAndAdvancesTheWatermarkOnlyAtTheEnd) {
  Start({}, /*page_limit=*/10);
  for (int i = 0; i < 45; ++i) Add("#FundOurSchools " + std::to_string(i), i * kMinute);
  const auto& q = QueryNamed("tag:fundourschools");
  auto req = FreshRequest(q);
  ASSERT_FALSE(Step(q, req).error);
  ASSERT_FALSE(Step(q, req).error);
  // The daemon stops here (a failure, a restart): the stored cursor says a poll is under way.
  const std::string mid = CursorOf(q.key);
  EXPECT_THAT(mid, HasSubstr("&s="));
  EXPECT_EQ(collectors::ParseBlueskyCursor(mid).watermark_ms, 0);  // not advanced yet
  // New posts arrive meanwhile.
  clock_.Advance(10 * kMinute);
  for (int i = 0; i < 3; ++i) Add("#FundOurSchools new " + std::to_string(i), i * kMinute);

  auto resumed = FreshRequest(q);
  ASSERT_EQ(resumed.cursor, mid);
  const size_t mark = sim_->request_log().size();
  int pages = 0;
  do {
    auto page = Step(q, resumed);
    ASSERT_FALSE(page.error) << page.error->ToString();
    ++pages;
  } while (!resumed.page_token.empty());
  // The resumed poll went on below the oldest post it had reached, with `until`, not a stale
  // cursor.
  const auto log = sim_->request_log();
  size_t first_search = mark;
  while (first_search < log.size() && log[first_search].find("searchPosts") == std::string::npos)
    ++first_search;
  ASSERT_LT(first_search, log.size());
  EXPECT_THAT(log[first_search],
              HasSubstr("until=2026-03-10T13:41:00.001Z"));  // oldest reached + 1 ms
  EXPECT_THAT(log[first_search], ::testing::Not(HasSubstr("cursor=")));
  EXPECT_EQ(pages, 3);  // 26 posts from the oldest reached down
  const auto done = collectors::ParseBlueskyCursor(CursorOf(q.key));
  EXPECT_FALSE(done.in_progress);
  EXPECT_EQ(done.watermark_ms, kNow);  // the newest post of the interrupted poll
  EXPECT_EQ(Posts("fund-our-schools"), 45);
  // The next poll starts from the watermark − overlap and picks up the late arrivals.
  ASSERT_TRUE(PollAll().errors.empty());
  EXPECT_EQ(Posts("fund-our-schools"), 48);
}

TEST_F(BlueskyCollectorTest, WithoutCredentialsThePublicHostRefusesSearchButServesFeeds) {
  sim::BlueskySimOptions o;
  o.public_host = true;
  Start(o, 25, {}, /*with_credentials=*/false);
  Add("#FundOurSchools", kMinute);
  sim::BlueskySimPost own;
  own.author = {kJane, "", 25'000};
  own.text = "my own words #FundOurSchools";
  own.created_at_ms = kNow - kHour;
  sim_->AddPost(own);
  const auto report = PollAll();
  ASSERT_EQ(report.errors.size(), 5u);  // every search: three tags, the keyword, the mentions
  for (const auto& e : report.errors) {
    EXPECT_EQ(e.code, ErrorCode::kUnauthenticated);
    EXPECT_THAT(e.message, HasSubstr("HTTP 403"));
    EXPECT_THAT(e.message, HasSubstr("identifier_env"));
  }
  EXPECT_EQ(Posts("fund-our-schools"), 1);  // her own post, through getAuthorFeed
  EXPECT_EQ(Requests("createSession"), 0);
}

TEST_F(BlueskyCollectorTest, HandleInvalidAuthorsAreKeptByDid) {
  Start();
  sim::BlueskySimPost p;
  p.author = {"broken.example", "", 12, true};
  p.text = "#FundOurSchools from an unverified handle";
  p.created_at_ms = kNow - kMinute;
  const auto added = sim_->AddPost(p);
  ASSERT_TRUE(PollAll().errors.empty());
  auto stored = store_->GetPosts({added.uri});
  ASSERT_TRUE(stored && (*stored)[0]);
  EXPECT_EQ((*stored)[0]->post.author, added.author.did);
  EXPECT_EQ((*stored)[0]->post.author_followers, 12);
}

TEST_F(BlueskyCollectorTest, ServerFaultsFailThePageAndThePollRecovers) {
  Start({}, 10);
  for (int i = 0; i < 30; ++i) Add("#TeachersCount " + std::to_string(i), i * kMinute);
  sim::FaultPlan f;
  f.error_500_every = 5;
  f.truncate_every = 7;
  f.non_json_every = 11;
  sim_->SetFaults(f);
  std::set<ErrorCode> codes;
  for (int poll = 0; poll < 40 && Posts("teachers-count") < 30; ++poll) {
    for (const auto& e : PollAll().errors) codes.insert(e.code);
  }
  EXPECT_EQ(Posts("teachers-count"), 30);
  EXPECT_TRUE(codes.count(ErrorCode::kUnavailable));  // 500 and the HTML 502
  EXPECT_TRUE(codes.count(ErrorCode::kParse));        // the truncated bodies
}

}  // namespace
}  // namespace chorus::testing
