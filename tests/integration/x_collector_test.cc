// The X collector against the simulated X API v2, in process, feeding the real ingester and a
// RocksDB store in a temp dir: what the counters say when X pages, repeats itself, edits,
// retweets, rate-limits, reports partial errors and answers nothing.
#include "collectors/x_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "analytics/matcher.h"
#include "collectors/x_parser.h"
#include "config/config.h"
#include "core/counter_key.h"
#include "core/time.h"
#include "ingest/ingester.h"
#include "sim/x_sim.h"
#include "store/store.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokenEnv[] = "CHORUS_TEST_X_BEARER";
constexpr char kToken[] = "AAAAAAAAAAAAAAAAAAAAAx-test-bearer-s3cret";
constexpr char kSource[] = "x-sim";
constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 86'400'000;

config::Config DefaultConfig() {
  config::Config c;
  c.campaigns.push_back(
      {"fund-our-schools", {"fundourschools", "edequity"}, {"school funding formula"}});
  c.campaigns.push_back({"teachers-count", {"teacherscount"}, {}});
  c.policymakers.push_back({"sen-doe", "Sen. Jane Doe", {{Platform::kX, "senjanedoe"}}});
  c.coalition.push_back({"parents-united", "Parents United", {{Platform::kX, "parentsunited"}}});
  return c;
}

// One poll of every query, as the daemon's SourceRunner would do it: page by page, each page
// committed with its cursor, a failed page ending the query.
struct PollReport {
  int pages = 0;
  int new_posts = 0;
  std::vector<collectors::FetchResult> failures;  // posts dropped: only status, rate and error
};

class XHarness {
 public:
  explicit XHarness(sim::XSimOptions o = {}, config::Config cfg = DefaultConfig(),
                    int page_limit = 10)
      : clock_(*ParseRfc3339Ms("2026-03-10T14:05:00Z")), config_(std::move(cfg)) {
    setenv(kTokenEnv, kToken, 1);
    o.clock = &clock_;
    if (o.required_token.empty()) o.required_token = kToken;
    sim_ = std::make_unique<sim::XSim>(o);
    auto started = sim_->Start();
    EXPECT_TRUE(started.has_value()) << started.error().ToString();
    source_.name = kSource;
    source_.platform = Platform::kX;
    source_.base_url = sim_->base_url();
    source_.token_env = kTokenEnv;
    source_.page_limit = page_limit;
    source_.backfill_ms = 24 * kHour;
    source_.overlap_ms = 15 * kMinute;
    auto s = store::Store::Open(dir_.path());
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    store_ = std::move(*s);
    ingester_ =
        std::make_unique<ingest::Ingester>(*store_, std::make_shared<analytics::Matcher>(config_));
    Restart();
  }

  // A new collector on the same store: what a daemon restart does.
  void Restart() {
    collectors::HttpClientOptions http;
    http.connect_timeout_ms = 2'000;
    http.read_timeout_ms = 3'000;
    auto transport = collectors::MakeHttpClient(sim_->base_url(), http);
    EXPECT_TRUE(transport.has_value());
    auto c = collectors::MakeXCollector(source_, config_, std::move(*transport));
    EXPECT_TRUE(c.has_value()) << c.error().ToString();
    collector_ = std::move(*c);
  }

  // Polls one query; `max_pages` < 0 means until the poll is complete (or fails).
  PollReport PollQuery(const collectors::Query& q, int max_pages = -1) {
    PollReport report;
    const std::string key = store::CursorKey(kSource, q.key);
    collectors::PageRequest req;
    req.cursor = Cursor(q.key);
    for (int i = 0; i < 500 && (max_pages < 0 || report.pages < max_pages); ++i) {
      req.now_ms = clock_.NowMs();
      collectors::FetchResult page = collector_->FetchPage(q, req);
      if (page.error) {
        page.posts.clear();
        report.failures.push_back(std::move(page));
        return report;
      }
      ++report.pages;
      std::map<std::string, std::string> cursors;
      if (!page.cursor.empty() && page.cursor != req.cursor) cursors[key] = page.cursor;
      auto applied = ingester_->ApplyPage(page.posts, cursors, clock_.NowMs(), kSource);
      EXPECT_TRUE(applied.has_value()) << applied.error().ToString();
      if (!applied) return report;
      report.new_posts += applied->new_posts;
      if (!page.cursor.empty()) req.cursor = page.cursor;
      if (page.next_page_token.empty()) return report;
      req.page_token = page.next_page_token;
    }
    return report;
  }

  PollReport Poll() {
    PollReport total;
    for (const auto& q : collector_->queries()) {
      PollReport r = PollQuery(q);
      total.pages += r.pages;
      total.new_posts += r.new_posts;
      for (auto& f : r.failures) total.failures.push_back(std::move(f));
    }
    return total;
  }

  std::string Cursor(const std::string& query_key) {
    auto c = store_->GetCursor(store::CursorKey(kSource, query_key));
    EXPECT_TRUE(c.has_value());
    return c.has_value() ? c->value_or("") : "";
  }

  int64_t Counter(const char* name, std::vector<std::pair<std::string, std::string>> labels) {
    auto all = store_->LoadCounters();
    EXPECT_TRUE(all.has_value());
    auto it = all->find(CounterKey{name, std::move(labels)}.Encode());
    return it == all->end() ? 0 : it->second;
  }
  int64_t Posts(const std::string& campaign) {
    return Counter(ingest::kPostsTotal, {{"campaign", campaign}, {"platform", "x"}});
  }
  bool Stored(const std::string& key) {
    auto got = store_->GetPosts({key});
    return got.has_value() && (*got)[0].has_value();
  }

  sim::XSimPost Add(const std::string& user, int64_t ago_ms, const std::string& text,
                    int64_t followers = 100) {
    sim::XSimPost p;
    p.author.username = user;
    p.author.followers = followers;
    p.created_at_ms = clock_.NowMs() - ago_ms;
    p.text = text;
    return sim_->AddPost(p);
  }

  // The search requests the sim received.
  std::vector<sim::XSimRequest> Searches() const {
    std::vector<sim::XSimRequest> out;
    for (auto& r : sim_->request_log()) {
      if (r.path == "/2/tweets/search/recent") out.push_back(r);
    }
    return out;
  }

  const collectors::Query& SearchQuery() const {
    for (const auto& q : collector_->queries()) {
      if (q.key.rfind("search:", 0) == 0) return q;
    }
    ADD_FAILURE() << "no search query";
    return collector_->queries().front();
  }

  FakeClock& clock() { return clock_; }
  sim::XSim& sim() { return *sim_; }
  collectors::Collector& collector() { return *collector_; }
  ingest::Ingester& ingester() { return *ingester_; }
  store::Store& store() { return *store_; }
  config::Source& source() { return source_; }

 private:
  FakeClock clock_;
  config::Config config_;
  config::Source source_;
  TempDir dir_;
  std::unique_ptr<sim::XSim> sim_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ingest::Ingester> ingester_;
  std::unique_ptr<collectors::Collector> collector_;
};

std::string Param(const sim::XSimRequest& r, const std::string& key) {
  auto it = r.params.find(key);
  return it == r.params.end() ? "" : it->second;
}

TEST(XCollector, QueriesPackEveryTermAndOneTimelinePerPolicymaker) {
  XHarness h;
  const auto& qs = h.collector().queries();
  ASSERT_EQ(qs.size(), 2u);
  EXPECT_EQ(
      qs[0].description,
      R"(("school funding formula" OR #edequity OR #fundourschools OR #teacherscount OR @senjanedoe))");
  EXPECT_EQ(qs[1].key, "user:senjanedoe");
  EXPECT_EQ(qs[1].account, "senjanedoe");
  EXPECT_EQ(h.collector().refresh_batch_limit(), 100u);
}

TEST(XCollector, BacklogBeyondOnePageIsFetchedWithoutGaps) {
  XHarness h;
  std::set<std::string> expected;
  for (int i = 1; i <= 95; ++i) {
    expected.insert(std::to_string(h.Add("user" + std::to_string(i % 17), i * 10 * kMinute,
                                         "#FundOurSchools " + std::to_string(i), 50)
                                       .id));
  }
  for (int i = 1; i <= 5; ++i)
    expected.insert(std::to_string(h.Add("ed", i * 7 * kMinute, "#EdEquity rocks").id));
  h.Add("cats", 5 * kMinute, "#Cats are not a campaign");
  h.Add("late", 30 * kHour, "#FundOurSchools from before the backfill");

  const PollReport r = h.Poll();
  ASSERT_TRUE(r.failures.empty()) << r.failures.front().error->ToString();
  EXPECT_EQ(h.Posts("fund-our-schools"), 100);
  EXPECT_EQ(r.new_posts, 100);
  EXPECT_EQ(r.pages, 11);  // 100 search results in pages of 10, and the timeline query
  for (const auto& id : expected) EXPECT_TRUE(h.Stored(id)) << id;
  EXPECT_EQ(h.Counter(ingest::kPotentialReachTotal,
                      {{"campaign", "fund-our-schools"}, {"platform", "x"}}),
            95 * 50 + 5 * 100);

  // What was asked: the backfill window, the page size, the fields, the pages in turn.
  const auto searches = h.Searches();
  ASSERT_EQ(searches.size(), 10u);
  const auto& first = searches.front();
  EXPECT_EQ(Param(first, "max_results"), "10");
  EXPECT_EQ(Param(first, "start_time"),
            FormatRfc3339Ms(h.clock().NowMs() - 24 * kHour).substr(0, 19) + "Z");
  EXPECT_EQ(Param(first, "since_id"), "");
  EXPECT_EQ(
      Param(first, "expansions"),
      "author_id,referenced_tweets.id,entities.mentions.username,referenced_tweets.id.author_id");
  EXPECT_THAT(Param(first, "tweet.fields"),
              HasSubstr("created_at,public_metrics,entities,referenced_tweets,author_id,"
                        "conversation_id,edit_history_tweet_ids,in_reply_to_user_id"));
  EXPECT_EQ(Param(first, "user.fields"), "public_metrics,username");
  EXPECT_EQ(Param(first, "next_token"), "");
  for (size_t i = 1; i < searches.size(); ++i) {
    EXPECT_NE(Param(searches[i], "next_token"), "");
    EXPECT_EQ(Param(searches[i], "start_time"),
              Param(first, "start_time"));  // same window, all pages
  }
  const auto statuses = h.sim().responses_by_status();
  EXPECT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses.begin()->first, 200);

  // Complete: the watermark is the newest id served.
  const std::string search_key = h.SearchQuery().key;
  uint64_t newest = 0;
  for (const auto& id : h.sim().served_ids()) newest = std::max<uint64_t>(newest, std::stoull(id));
  EXPECT_EQ(h.Cursor(search_key), std::to_string(newest));

  // The next poll asks from the watermark minus the overlap, and finds what is new.
  h.clock().Advance(5 * kMinute);
  const auto fresh = h.Add("new", 2 * kMinute, "#FundOurSchools fresh");
  const size_t before = h.Searches().size();
  const PollReport again = h.Poll();
  ASSERT_TRUE(again.failures.empty());
  EXPECT_EQ(again.new_posts, 1);
  EXPECT_EQ(h.Posts("fund-our-schools"), 101);
  const auto second = h.Searches().at(before);
  EXPECT_EQ(Param(second, "start_time"), "");
  EXPECT_EQ(
      Param(second, "since_id"),
      std::to_string(collectors::XIdFromTimeMs(collectors::XTimeMsFromId(newest) - 15 * kMinute)));
  EXPECT_EQ(h.Cursor(search_key), std::to_string(fresh.id));
}

TEST(XCollector, RepeatsAcrossPagesAndPollsAreCountedOnce) {
  XHarness h;
  h.sim().AddUser({"SenJaneDoe", 40'000, ""});
  const auto original =
      h.Add("alice", 3 * kHour, "Tell @SenJaneDoe: #FundOurSchools and #TeachersCount", 900);
  h.sim().SetEngagement(original.id, 12, 25, 1, 0);
  // 25 retweets over two hours: every page of the poll carries the original again.
  std::vector<uint64_t> retweets;
  for (int i = 0; i < 25; ++i) {
    sim::XSimPost rt;
    rt.author.username = "fan" + std::to_string(i);
    rt.created_at_ms = h.clock().NowMs() - (120 - i * 4) * kMinute;
    rt.retweet_of = original.id;
    retweets.push_back(h.sim().AddPost(rt).id);
  }
  // Several terms in one post, one query: one post.
  const auto multi =
      h.Add("bob", 10 * kMinute, "#EdEquity #FundOurSchools school funding formula @SenJaneDoe");

  const PollReport first = h.Poll();
  ASSERT_TRUE(first.failures.empty());
  EXPECT_GE(first.pages, 3);
  EXPECT_EQ(first.new_posts, 2);
  EXPECT_EQ(h.Posts("fund-our-schools"), 2);
  EXPECT_EQ(h.Posts("teachers-count"), 1);
  EXPECT_EQ(*h.store().CountPosts(), 2);
  for (uint64_t id : retweets) EXPECT_FALSE(h.Stored(std::to_string(id)));
  EXPECT_TRUE(h.Stored(std::to_string(original.id)));
  EXPECT_EQ(
      h.Counter(ingest::kTermPostsTotal,
                {{"campaign", "fund-our-schools"}, {"term", "fundourschools"}, {"platform", "x"}}),
      2);
  EXPECT_EQ(h.Counter(ingest::kTermPostsTotal, {{"campaign", "fund-our-schools"},
                                                {"term", "school funding formula"},
                                                {"platform", "x"}}),
            1);
  EXPECT_EQ(
      h.Counter(ingest::kPolicymakerMentionsTotal,
                {{"policymaker", "sen-doe"}, {"platform", "x"}, {"campaign", "fund-our-schools"}}),
      2);
  // Engagement of the original, not of its retweets.
  EXPECT_EQ(h.Counter(ingest::kEngagementTotal,
                      {{"campaign", "teachers-count"}, {"platform", "x"}, {"kind", "repost"}}),
            25);
  EXPECT_EQ(h.Counter(ingest::kEngagementTotal,
                      {{"campaign", "teachers-count"}, {"platform", "x"}, {"kind", "like"}}),
            12);

  // Later polls re-read the 15-minute overlap: the same posts, never counted again.
  for (int i = 0; i < 3; ++i) {
    h.clock().Advance(kMinute);
    const PollReport again = h.Poll();
    ASSERT_TRUE(again.failures.empty());
    EXPECT_EQ(again.new_posts, 0);
  }
  EXPECT_EQ(h.Posts("fund-our-schools"), 2);

  // An edit is the same post: a new id, the first version's key.
  sim::XSimPost edit;
  edit.author.username = "bob";
  edit.created_at_ms = h.clock().NowMs() - 2 * kMinute;
  edit.text = "#EdEquity #FundOurSchools school funding formula @SenJaneDoe (fixed)";
  edit.edit_of = multi.id;
  edit.likes = 4;
  const auto v2 = h.sim().AddPost(edit);
  const PollReport edited = h.Poll();
  ASSERT_TRUE(edited.failures.empty());
  EXPECT_EQ(edited.new_posts, 0);
  EXPECT_EQ(h.Posts("fund-our-schools"), 2);
  EXPECT_EQ(*h.store().CountPosts(), 2);
  EXPECT_FALSE(h.Stored(std::to_string(v2.id)));
  EXPECT_TRUE(h.Stored(std::to_string(multi.id)));
  EXPECT_EQ(h.Counter(ingest::kEngagementTotal,
                      {{"campaign", "fund-our-schools"}, {"platform", "x"}, {"kind", "like"}}),
            12 + 4);
}

TEST(XCollector, RateLimitIsReportedWithTheResetAndTheNextCallResumes) {
  sim::XSimOptions o;
  o.rate_limit = 3;
  o.rate_window_ms = 15 * kMinute;
  XHarness h(o);
  for (int i = 1; i <= 45; ++i)
    h.Add("u" + std::to_string(i), i * 5 * kMinute, "#TeachersCount " + std::to_string(i));
  const auto& q = h.SearchQuery();
  const PollReport first = h.PollQuery(q);
  EXPECT_EQ(first.pages, 3);
  ASSERT_EQ(first.failures.size(), 1u);
  const collectors::FetchResult& limited = first.failures.front();
  ASSERT_TRUE(limited.error.has_value());
  EXPECT_EQ(limited.error->code, ErrorCode::kRateLimited);
  EXPECT_THAT(limited.error->message, HasSubstr("Too Many Requests"));
  EXPECT_EQ(limited.http_status, 429);
  // What the scheduler waits for: nothing left until the window's end (epoch seconds on the wire).
  const int64_t window_end = (h.clock().NowMs() / (15 * kMinute) + 1) * 15 * kMinute;
  EXPECT_EQ(limited.rate.remaining, 0);
  EXPECT_EQ(limited.rate.limit, 3);
  ASSERT_TRUE(limited.rate.reset_at_ms.has_value());
  EXPECT_EQ(*limited.rate.reset_at_ms, window_end);
  EXPECT_EQ(h.Posts("teachers-count"), 30);
  // The cursor says "in progress": the old watermark (none), the window, the next page.
  const collectors::XCursor mid = collectors::ParseXCursor(h.Cursor(q.key));
  EXPECT_TRUE(mid.in_progress());
  EXPECT_EQ(mid.watermark, 0u);

  // The window resets; the next poll carries on from the stored page token, same window.
  h.clock().Set(window_end + 1'000);
  const size_t before = h.Searches().size();
  const PollReport rest = h.PollQuery(q);
  ASSERT_TRUE(rest.failures.empty());
  EXPECT_EQ(rest.pages, 2);
  EXPECT_EQ(h.Posts("teachers-count"), 45);
  const auto searches = h.Searches();
  EXPECT_EQ(Param(searches.at(before), "next_token"), mid.next_token);
  EXPECT_EQ(Param(searches.at(before), "start_time"), Param(searches.front(), "start_time"));
  EXPECT_FALSE(collectors::ParseXCursor(h.Cursor(q.key)).in_progress());
  EXPECT_EQ(h.sim().responses_by_status()[429], 1);
}

TEST(XCollector, InjectedTooManyRequestsThenTheNextCallSucceeds) {
  XHarness h;
  for (int i = 1; i <= 25; ++i) h.Add("u", i * kMinute, "#EdEquity " + std::to_string(i));
  sim::FaultPlan faults;
  faults.rate_limit_every = 2;
  h.sim().SetFaults(faults);
  int polls = 0;
  while (h.Posts("fund-our-schools") < 25 && polls < 20) {
    const PollReport r = h.PollQuery(h.SearchQuery());
    for (const auto& f : r.failures) {
      EXPECT_EQ(f.error->code, ErrorCode::kRateLimited);
      EXPECT_EQ(f.rate.remaining, 0);
      EXPECT_TRUE(f.rate.reset_at_ms.has_value());
    }
    ++polls;
  }
  EXPECT_EQ(h.Posts("fund-our-schools"), 25);
  EXPECT_GT(h.sim().responses_by_status()[429], 0);
  EXPECT_LE(polls, 4);  // each poll gets at least a page in before the next 429
}

TEST(XCollector, PartialErrorsAreNotFatal) {
  sim::XSimOptions o;
  o.partial_error_every = 1;
  XHarness h(o);
  const auto parent = h.Add("alice", 3 * kHour, "#FundOurSchools first");
  sim::XSimPost reply;
  reply.author.username = "bob";
  reply.created_at_ms = h.clock().NowMs() - 2 * kHour;
  reply.text = "@alice agreed #FundOurSchools";
  reply.reply_to = parent.id;
  const auto stored_reply = h.sim().AddPost(reply);
  const auto gone = h.Add("carol", 4 * kHour, "#FundOurSchools soon deleted");
  sim::XSimPost rt;
  rt.author.username = "dave";
  rt.created_at_ms = h.clock().NowMs() - kHour;
  rt.retweet_of = gone.id;
  h.sim().AddPost(rt);
  h.sim().DeletePost(parent.id);
  h.sim().DeletePost(gone.id);

  const PollReport r = h.Poll();
  ASSERT_TRUE(r.failures.empty()) << r.failures.front().error->ToString();
  EXPECT_EQ(h.Posts("fund-our-schools"), 1);  // the reply; the orphaned retweet yields nothing
  EXPECT_TRUE(h.Stored(std::to_string(stored_reply.id)));

  // Refreshing a deleted post: absent from the answer, not an error.
  auto refreshed = h.collector().Refresh({std::to_string(stored_reply.id), std::to_string(gone.id)},
                                         h.clock().NowMs());
  ASSERT_FALSE(refreshed.error.has_value()) << refreshed.error->ToString();
  ASSERT_EQ(refreshed.posts.size(), 1u);
  EXPECT_EQ(refreshed.posts[0].key, std::to_string(stored_reply.id));
}

TEST(XCollector, EmptyResultsCompleteThePollAndLaterPostsAreFound) {
  XHarness h;
  h.sim().AddUser({"SenJaneDoe", 40'000, ""});
  const PollReport r = h.Poll();
  ASSERT_TRUE(r.failures.empty());
  EXPECT_EQ(r.pages, 2);  // one empty page per query
  EXPECT_EQ(r.new_posts, 0);
  EXPECT_EQ(h.sim().requests(), 3);  // search, user lookup, timeline
  h.clock().Advance(kMinute);
  h.Add("alice", 5 * kMinute, "#TeachersCount at last");
  const PollReport again = h.Poll();
  ASSERT_TRUE(again.failures.empty());
  EXPECT_EQ(again.new_posts, 1);
  EXPECT_EQ(h.sim().requests(), 5);  // the user id was resolved once
}

TEST(XCollector, OrPackingMakesValidQueriesUnder512Characters) {
  config::Config c;
  config::Campaign big{"big", {}, {}};
  for (int i = 0; i < 70; ++i) big.hashtags.push_back("campaigntag" + std::to_string(i));
  for (int i = 0; i < 6; ++i)
    big.keywords.push_back("a rather long phrase number " + std::to_string(i));
  c.campaigns.push_back(big);
  for (int i = 0; i < 5; ++i) {
    c.policymakers.push_back(
        {"pm" + std::to_string(i), "PM", {{Platform::kX, "policymaker_" + std::to_string(i)}}});
  }
  XHarness h({}, c, 100);
  size_t searches = 0;
  for (const auto& q : h.collector().queries()) searches += q.key.rfind("search:", 0) == 0;
  ASSERT_GE(searches, 3u);
  int expected = 0;
  for (int i = 0; i < 70; ++i, ++expected)
    h.Add("t" + std::to_string(i), (i + 1) * kMinute, "#CampaignTag" + std::to_string(i));
  for (int i = 0; i < 6; ++i, ++expected) {
    h.Add("k" + std::to_string(i), (i + 1) * kMinute,
          "I say: A Rather Long Phrase Number " + std::to_string(i) + "!");
  }
  for (int i = 0; i < 5; ++i, ++expected)
    h.Add("m" + std::to_string(i), (i + 1) * kMinute,
          "@Policymaker_" + std::to_string(i) + " hello");
  const PollReport r = h.Poll();
  ASSERT_TRUE(r.failures.empty()) << r.failures.front().error->ToString();
  EXPECT_EQ(*h.store().CountPosts(), expected);
  EXPECT_EQ(h.Posts("big"), 76);
  for (const auto& s : h.Searches()) {
    EXPECT_LE(Param(s, "query").size(), 512u);
    EXPECT_EQ(s.status, 200) << Param(s, "query");
  }
  EXPECT_EQ(h.sim().responses_by_status()[400], 0);
}

TEST(XCollector, PolicymakerMentionWithoutHashtagAndResponsesAreFound) {
  XHarness h;
  h.sim().AddUser({"SenJaneDoe", 40'000, ""});
  h.Add("alice", 3 * kHour, "@SenJaneDoe please fund the schools", 300);
  const auto campaign_post =
      h.Add("parentsunited", 2 * kHour, "Write to your senator! #FundOurSchools", 2'000);
  sim::XSimPost reply;
  reply.author.username = "SenJaneDoe";
  reply.created_at_ms = h.clock().NowMs() - kHour;
  reply.text = "Thank you, we are listening.";
  reply.reply_to = campaign_post.id;
  h.sim().AddPost(reply);
  sim::XSimPost rt;  // amplification, not a response
  rt.author.username = "SenJaneDoe";
  rt.created_at_ms = h.clock().NowMs() - 30 * kMinute;
  rt.retweet_of = campaign_post.id;
  h.sim().AddPost(rt);

  const PollReport r = h.Poll();
  ASSERT_TRUE(r.failures.empty()) << r.failures.front().error->ToString();
  EXPECT_EQ(h.Counter(ingest::kPolicymakerMentionsTotal,
                      {{"policymaker", "sen-doe"}, {"platform", "x"}, {"campaign", ""}}),
            1);
  EXPECT_EQ(
      h.Counter(ingest::kPolicymakerResponsesTotal,
                {{"policymaker", "sen-doe"}, {"campaign", "fund-our-schools"}, {"platform", "x"}}),
      1);
  EXPECT_EQ(h.Counter(ingest::kCoalitionPostsTotal, {{"member", "parents-united"},
                                                     {"campaign", "fund-our-schools"},
                                                     {"platform", "x"}}),
            1);
  EXPECT_EQ(h.Posts("fund-our-schools"), 1);
  // The user id was looked up by name, then the timeline read by id.
  bool lookup = false, timeline = false;
  for (const auto& req : h.sim().request_log()) {
    lookup |= req.path == "/2/users/by/username/senjanedoe";
    timeline |=
        req.path.rfind("/2/users/", 0) == 0 && req.path.find("/tweets") != std::string::npos;
  }
  EXPECT_TRUE(lookup);
  EXPECT_TRUE(timeline);
}

TEST(XCollector, UnknownPolicymakerAccountDoesNotFailThePoll) {
  config::Config c = DefaultConfig();
  c.policymakers.push_back({"ghost", "Ghost", {{Platform::kX, "nobody_here"}}});
  XHarness h({}, c);
  h.Add("alice", kHour, "#FundOurSchools");
  const PollReport r = h.Poll();
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(h.Posts("fund-our-schools"), 1);
}

TEST(XCollector, EngagementRefreshByIds) {
  XHarness h;
  const auto p = h.Add("alice", 2 * kHour, "#FundOurSchools", 10);
  h.sim().SetEngagement(p.id, 3, 0, 0, 0);
  ASSERT_TRUE(h.Poll().failures.empty());
  auto likes = [&] {
    return h.Counter(ingest::kEngagementTotal,
                     {{"campaign", "fund-our-schools"}, {"platform", "x"}, {"kind", "like"}});
  };
  EXPECT_EQ(likes(), 3);
  h.sim().SetEngagement(p.id, 10, 2, 1, 0);
  auto refreshed =
      h.collector().Refresh({std::to_string(p.id), "12345", "not-an-id"}, h.clock().NowMs());
  ASSERT_FALSE(refreshed.error.has_value()) << refreshed.error->ToString();
  EXPECT_EQ(refreshed.http_status, 200);
  ASSERT_EQ(refreshed.posts.size(), 1u);
  EXPECT_EQ(refreshed.posts[0].engagement, (Engagement{10, 2, 1, 0}));
  ASSERT_TRUE(h.ingester().ApplyPage(refreshed.posts, {}, h.clock().NowMs()).has_value());
  EXPECT_EQ(likes(), 10);
  const auto last = h.sim().request_log().back();
  EXPECT_EQ(last.path, "/2/tweets");
  EXPECT_EQ(Param(last, "ids"), std::to_string(p.id) + ",12345");
  EXPECT_NE(Param(last, "tweet.fields"), "");

  std::vector<std::string> many;
  for (int i = 1; i <= 101; ++i) many.push_back(std::to_string(i));
  EXPECT_EQ(h.collector().Refresh(many, h.clock().NowMs()).error->code,
            ErrorCode::kInvalidArgument);
  EXPECT_FALSE(h.collector().Refresh({}, h.clock().NowMs()).error.has_value());
}

TEST(XCollector, RestartMidPollResumesFromTheStoredCursor) {
  XHarness h;
  for (int i = 1; i <= 35; ++i) h.Add("u", i * 3 * kMinute, "#EdEquity " + std::to_string(i));
  const std::string key = h.SearchQuery().key;
  const PollReport part = h.PollQuery(h.SearchQuery(), 2);
  EXPECT_EQ(part.pages, 2);
  EXPECT_EQ(h.Posts("fund-our-schools"), 20);
  const collectors::XCursor mid = collectors::ParseXCursor(h.Cursor(key));
  ASSERT_TRUE(mid.in_progress());
  EXPECT_EQ(mid.watermark, 0u);  // nothing is claimed before the poll completes
  EXPECT_GT(mid.start_s, 0);

  h.Restart();  // the process died between two pages
  h.clock().Advance(kMinute);
  const size_t before = h.Searches().size();
  const PollReport rest = h.PollQuery(h.SearchQuery());
  ASSERT_TRUE(rest.failures.empty());
  EXPECT_EQ(rest.pages, 2);
  EXPECT_EQ(h.Posts("fund-our-schools"), 35);
  EXPECT_EQ(Param(h.Searches().at(before), "next_token"), mid.next_token);
  EXPECT_EQ(collectors::ParseXCursor(h.Cursor(key)).watermark, mid.poll_newest);
}

TEST(XCollector, RejectedSavedTokenMakesTheNextPollStartAfresh) {
  XHarness h;
  h.Add("u", kHour, "#EdEquity one");
  const auto& q = h.SearchQuery();
  const int64_t start_s = (h.clock().NowMs() - 2 * kHour) / 1000;
  collectors::XCursor bad{0, 0, 0, start_s, "garbage0token"};
  ASSERT_TRUE(
      h.ingester()
          .ApplyPage({}, {{store::CursorKey(kSource, q.key), collectors::FormatXCursor(bad)}}, 1)
          .has_value());
  const PollReport refused = h.PollQuery(q);
  ASSERT_EQ(refused.failures.size(), 1u);
  EXPECT_EQ(refused.failures[0].http_status, 400);
  EXPECT_EQ(refused.failures[0].error->code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(refused.failures[0].error->message, HasSubstr("Invalid Request"));
  const PollReport fresh = h.PollQuery(q);
  ASSERT_TRUE(fresh.failures.empty());
  EXPECT_EQ(h.Posts("fund-our-schools"), 1);
}

TEST(XCollector, OutageLongerThanTheSearchWindowFallsBackToStartTime) {
  XHarness h;
  h.Add("u", kHour, "#EdEquity before");
  ASSERT_TRUE(h.Poll().failures.empty());
  h.clock().Advance(9 * kDay);
  h.Add("u", kHour, "#EdEquity after");
  const size_t before = h.Searches().size();
  const PollReport r = h.Poll();
  ASSERT_TRUE(r.failures.empty()) << r.failures.front().error->ToString();
  EXPECT_EQ(h.Posts("fund-our-schools"), 2);
  const auto req = h.Searches().at(before);
  EXPECT_EQ(Param(req, "since_id"), "");
  const int64_t start = *ParseRfc3339Ms(Param(req, "start_time"));
  EXPECT_GT(start, h.clock().NowMs() - 7 * kDay);
  EXPECT_LT(start, h.clock().NowMs() - 6 * kDay);
}

TEST(XCollector, UsageCapIsARateLimitOfHours) {
  XHarness h;
  h.sim().SetUsageCapped(true);
  const PollReport r = h.PollQuery(h.SearchQuery());
  ASSERT_EQ(r.failures.size(), 1u);
  const auto& f = r.failures[0];
  EXPECT_EQ(f.error->code, ErrorCode::kRateLimited);
  EXPECT_THAT(f.error->message, HasSubstr("usage cap"));
  ASSERT_TRUE(f.rate.reset_at_ms.has_value());
  EXPECT_GE(*f.rate.reset_at_ms, h.clock().NowMs() + kHour);
}

TEST(XCollector, BearerTokenComesFromTheNamedVariableAndStaysSecret) {
  XHarness h;
  config::Source s = h.source();
  s.token_env = "";
  auto transport = collectors::MakeHttpClient(h.sim().base_url(), {});
  auto none = collectors::MakeXCollector(s, DefaultConfig(), std::move(*transport));
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(none.error().message, HasSubstr("token_env"));

  s.token_env = "CHORUS_TEST_X_UNSET_VARIABLE";
  unsetenv("CHORUS_TEST_X_UNSET_VARIABLE");
  transport = collectors::MakeHttpClient(h.sim().base_url(), {});
  auto unset = collectors::MakeXCollector(s, DefaultConfig(), std::move(*transport));
  ASSERT_FALSE(unset.has_value());
  EXPECT_EQ(unset.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(unset.error().message, HasSubstr("CHORUS_TEST_X_UNSET_VARIABLE"));

  setenv("CHORUS_TEST_X_WRONG", "wrong-token-value", 1);
  s.token_env = "CHORUS_TEST_X_WRONG";
  transport = collectors::MakeHttpClient(h.sim().base_url(), {});
  auto wrong = collectors::MakeXCollector(s, DefaultConfig(), std::move(*transport));
  ASSERT_TRUE(wrong.has_value());
  collectors::PageRequest req;
  req.now_ms = h.clock().NowMs();
  const auto page = (*wrong)->FetchPage((*wrong)->queries().front(), req);
  ASSERT_TRUE(page.error.has_value());
  EXPECT_EQ(page.error->code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(page.http_status, 401);
  EXPECT_THAT(page.error->message, Not(HasSubstr("wrong-token-value")));
  unsetenv("CHORUS_TEST_X_WRONG");

  ASSERT_TRUE(h.Poll().failures.empty());  // the right token, from kTokenEnv
}

}  // namespace
}  // namespace chorus::testing
