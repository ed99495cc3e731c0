// The daemon against a simulated Mastodon: what an operator would see in /metrics when the
// platform pages, repeats itself, federates late, rate-limits and misbehaves.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/daemon_harness.h"

namespace chorus::testing {
namespace {

using std::chrono::seconds;

TEST(MastodonPolling, BacklogLargerThanOnePageIsFetchedWithoutGaps) {
  DaemonHarness h;
  // 230 posts over the last 20 hours across three tags: several pages of 40 per query.
  for (int i = 0; i < 230; ++i) {
    const char* tag = i % 3 == 0 ? "FundOurSchools" : (i % 3 == 1 ? "EdEquity" : "TeachersCount");
    h.Add({tag}, static_cast<int64_t>(i) * 5 * 60'000, 100);
  }
  h.Add({"Cats"});  // unrelated: never counted
  h.Add({"FundOurSchools"}, 30LL * 3'600'000);  // older than the 24h backfill
  h.Start();
  const int64_t fund = h.Expected(kFundTags), teachers = h.Expected(kTeacherTags);
  ASSERT_EQ(fund, 154);
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == fund && h.Posts("teachers-count") == teachers; },
                      seconds(30)))
      << "fund=" << h.Posts("fund-our-schools") << " teachers=" << h.Posts("teachers-count") << "\n" << h.log();
  // The first poll completes (policymaker timelines come after the hashtags) and the source is up.
  ASSERT_TRUE(WaitFor([&] { return MetricSum(h.Metrics(), "chorus_source_up", {"source=\"sim\""}) == 1; },
                      seconds(20)));
  const auto m = h.Metrics();
  EXPECT_EQ(MetricSum(m, "chorus_potential_reach_total", {"campaign=\"fund-our-schools\""}), fund * 100);
  EXPECT_EQ(MetricSum(m, "chorus_term_posts_total", {"term=\"edequity\""}), 77);
  EXPECT_GT(MetricSum(m, "chorus_source_requests_total", {"code=\"200\""}), 4);
}

TEST(MastodonPolling, RepeatedPostsAreCountedOnceAcrossPagesAndPolls) {
  DaemonHarness h;
  // Posts with two tags of one campaign are returned by the shared any[] query once, and again
  // by every later poll inside the overlap window.
  for (int i = 0; i < 60; ++i) h.Add({"FundOurSchools", "EdEquity"}, i * 1000);
  for (int i = 0; i < 20; ++i) h.Add({"EdEquity", "TeachersCount"}, i * 1000);
  h.Start();
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == 80; }, seconds(20))) << h.log();
  // Let a few more polls run over the same overlap window.
  const double polls_before = MetricSum(h.Metrics(), "chorus_source_requests_total");
  ASSERT_TRUE(WaitFor([&] { return MetricSum(h.Metrics(), "chorus_source_requests_total") > polls_before + 5; },
                      seconds(20)));
  const auto m = h.Metrics();
  EXPECT_EQ(MetricSum(m, "chorus_posts_total", {"campaign=\"fund-our-schools\""}), 80);
  EXPECT_EQ(MetricSum(m, "chorus_posts_total", {"campaign=\"teachers-count\""}), 20);
  EXPECT_EQ(MetricSum(m, "chorus_term_posts_total", {"term=\"fundourschools\""}), 60);
  EXPECT_EQ(MetricSum(m, "chorus_term_posts_total", {"term=\"edequity\""}), 80);
}

TEST(MastodonPolling, LateFederatedPostBelowTheWatermarkIsCaught) {
  DaemonHarness h;
  for (int i = 0; i < 10; ++i) h.Add({"FundOurSchools"}, i * 1000);
  h.Start();
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == 10; }, seconds(20))) << h.log();
  // Arrives now, created five minutes ago: its snowflake id is below every id already seen.
  h.Add({"FundOurSchools"}, 5 * 60'000);
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == 11; }, seconds(20))) << h.log();
}

TEST(MastodonPolling, EngagementGrowthIsAddedAsItHappens) {
  DaemonHarness h;
  auto s = h.Add({"FundOurSchools"}, 1000, 10, /*favourites=*/3);
  h.Start();
  auto likes = [&] {
    return MetricSum(h.Metrics(), "chorus_engagement_total", {"campaign=\"fund-our-schools\"", "kind=\"like\""});
  };
  ASSERT_TRUE(WaitFor([&] { return likes() == 3; }, seconds(20))) << h.log();
  h.sim().SetEngagement(s.uri, 10, 2, 1, 0);
  ASSERT_TRUE(WaitFor([&] { return likes() == 10; }, seconds(20))) << h.log();
  const auto m = h.Metrics();
  EXPECT_EQ(MetricSum(m, "chorus_engagement_total", {"kind=\"repost\""}), 2);
  EXPECT_EQ(MetricSum(m, "chorus_posts_total", {"campaign=\"fund-our-schools\""}), 1);
}

TEST(MastodonPolling, OlderPostsAreRefreshedInBulkOnTheirSchedule) {
  DaemonHarness h;
  // Created just under an hour ago: outside the 15-minute overlap, so later polls do not see it
  // again; its first engagement refresh (creation + 1 h) falls due a few seconds from now.
  auto s = h.Add({"FundOurSchools"}, 3'600'000 - 4'000, 10, /*favourites=*/1);
  h.Add({"FundOurSchools"});  // a recent post moves the tag's watermark past the old one
  h.Start();
  auto likes = [&] {
    return MetricSum(h.Metrics(), "chorus_engagement_total", {"campaign=\"fund-our-schools\"", "kind=\"like\""});
  };
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == 2; }, seconds(20))) << h.log();
  EXPECT_EQ(likes(), 1);
  h.sim().SetEngagement(s.uri, 7, 3, 0, 0);
  ASSERT_TRUE(WaitFor([&] { return likes() == 7; }, seconds(30))) << h.log();
  EXPECT_EQ(MetricSum(h.Metrics(), "chorus_engagement_total", {"kind=\"repost\""}), 3);
  EXPECT_EQ(h.Posts("fund-our-schools"), 2);
}

TEST(MastodonPolling, InjectedRateLimitsAreWaitedOut) {
  sim::SimOptions o;
  o.rate_window_ms = 1'000;  // short windows so the test waits seconds, not minutes
  DaemonHarness h(o, {.poll_interval = "200ms", .timeout = "2s", .overlap = "15m", .page_limit = 10});
  for (int i = 0; i < 60; ++i) h.Add({"FundOurSchools"}, i * 60'000);
  sim::FaultPlan faults;
  faults.rate_limit_every = 3;
  h.sim().SetFaults(faults);
  h.Start();
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == 60; }, seconds(40))) << h.log();
  EXPECT_GT(MetricSum(h.Metrics(), "chorus_source_requests_total", {"code=\"429\""}), 0);
  EXPECT_NE(h.log().find("rate limited"), std::string::npos);
}

TEST(MastodonPolling, TheRateLimitHeadersAreNeverExceeded) {
  sim::SimOptions o;
  o.rate_limit = 4;
  o.rate_window_ms = 2'000;
  DaemonHarness h(o, {.poll_interval = "100ms", .timeout = "2s", .overlap = "15m", .page_limit = 10});
  for (int i = 0; i < 50; ++i) h.Add({"FundOurSchools"}, i * 60'000);
  h.Start();
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == 50; }, seconds(60))) << h.log();
  // The budget keeps one request in reserve and waits for the reset: the server never had to say 429.
  EXPECT_EQ(h.sim().responses_by_status()[429], 0);
  EXPECT_GE(MetricSum(h.Metrics(), "chorus_source_rate_limit_remaining", {"source=\"sim\""}), 0);
}

TEST(MastodonPolling, ServerErrorsTimeoutsAndBadBodiesAreCountedAndSurvived) {
  DaemonHarness h({}, {.poll_interval = "200ms", .timeout = "1s", .overlap = "15m", .page_limit = 10});
  for (int i = 0; i < 80; ++i) h.Add({i % 2 ? "FundOurSchools" : "TeachersCount"}, i * 60'000);
  sim::FaultPlan faults;
  faults.error_500_every = 5;
  faults.truncate_every = 7;
  faults.non_json_every = 11;
  faults.slow_every = 13;
  faults.slow_ms = 1'500;  // longer than the 1 s timeout
  h.sim().SetFaults(faults);
  h.Start();
  // Every kind of failure is seen and counted, and the daemon keeps running through them.
  ASSERT_TRUE(WaitFor([&] {
    const auto m = h.Metrics();
    return MetricSum(m, "chorus_source_requests_total", {"code=\"500\""}) > 0 &&
           MetricSum(m, "chorus_source_requests_total", {"code=\"502\""}) > 0 &&
           MetricSum(m, "chorus_source_requests_total", {"code=\"error\""}) > 0 &&   // timeouts
           MetricSum(m, "chorus_source_parse_errors_total", {"source=\"sim\""}) > 0;  // truncated
  }, seconds(60))) << h.log();
  EXPECT_TRUE(h.process()->running());
  EXPECT_NE(h.log().find("page skipped"), std::string::npos);
  // The platform recovers: nothing was lost or counted twice on the way.
  h.sim().SetFaults({});
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == 40 && h.Posts("teachers-count") == 40; },
                      seconds(60)))
      << h.log();
  ASSERT_TRUE(WaitFor([&] { return MetricSum(h.Metrics(), "chorus_source_up", {"source=\"sim\""}) == 1; },
                      seconds(30)));
  EXPECT_EQ(h.Posts("fund-our-schools"), 40);
}

TEST(MastodonPolling, RequiredTokenIsSentFromTheNamedEnvironmentVariable) {
  sim::SimOptions o;
  o.required_token = "s3cret-token-value";
  DaemonHarness h(o);
  h.Add({"FundOurSchools"});
  std::string yaml = h.ConfigYaml(false);
  yaml.insert(yaml.find("    poll_interval"), "    token_env: CHORUS_TEST_MASTODON_TOKEN\n");
  h.WriteConfig(yaml);
  setenv("CHORUS_TEST_MASTODON_TOKEN", "s3cret-token-value", 1);
  h.Start();
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == 1; }, seconds(20))) << h.log();
  unsetenv("CHORUS_TEST_MASTODON_TOKEN");
  EXPECT_EQ(h.log().find("s3cret-token-value"), std::string::npos);
  EXPECT_EQ(HttpGet(h.port(), "/metrics").body.find("s3cret"), std::string::npos);
}

}  // namespace
}  // namespace chorus::testing

namespace chorus::testing {
namespace {

TEST(MastodonPolling, APolicymakersReplyToACampaignPostIsCountedAsAResponse) {
  DaemonHarness h;
  auto campaign_post = h.Add({"TeachersCount"}, 60'000);
  sim::SimStatus reply;
  reply.created_at_ms = SystemClock::Instance().NowMs() - 30'000;
  reply.account = {"janedoe", "gov.example", 12000};
  reply.text = "Thank you, we hear you.";  // no hashtag: only the reply ties it to the campaign
  reply.in_reply_to_id = std::to_string(campaign_post.id);
  h.sim().AddStatus(reply);
  sim::SimStatus chatter = reply;  // a policymaker post that responds to nothing
  chatter.in_reply_to_id.clear();
  chatter.text = "Lunch at the capitol.";
  chatter.created_at_ms -= 1000;
  h.sim().AddStatus(chatter);
  h.Start();
  ASSERT_TRUE(WaitFor([&] {
    return MetricSum(h.Metrics(), "chorus_policymaker_responses_total",
                     {"policymaker=\"sen-doe\"", "campaign=\"teachers-count\""}) == 1;
  }, seconds(20))) << h.log();
  // Polled again and again, it stays one response.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const auto m = h.Metrics();
  EXPECT_EQ(MetricSum(m, "chorus_policymaker_responses_total"), 1);
  EXPECT_GT(MetricSum(m, "chorus_source_requests_total", {"code=\"200\""}), 0);
}

}  // namespace
}  // namespace chorus::testing
