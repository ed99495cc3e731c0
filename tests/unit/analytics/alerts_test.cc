#include "analytics/alerts.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "core/time.h"

namespace chorus::analytics {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kT0 = 1773151500000;  // 2026-03-10T14:05:00Z

config::Config TestConfig() {
  config::Config c;
  c.campaigns.push_back({"fund-our-schools", {"fundourschools"}, {}});
  c.campaigns.push_back({"teachers-count", {"teacherscount"}, {}});
  c.policymakers.push_back({"sen-doe", "Sen. Jane Doe", {{Platform::kMastodon, "janedoe@gov.example"}}});
  c.policymakers.push_back({"rep-roe", "", {{Platform::kMastodon, "roe@gov.example"}}});
  c.receivers.push_back({"comms", "json", "COMMS_URL"});
  config::Rule mention;
  mention.name = "mentioned";
  mention.kind = kRuleMention;
  mention.receivers = {"comms"};
  config::Rule mention_tc = mention;
  mention_tc.name = "mentioned-tc";
  mention_tc.campaign = "teachers-count";
  config::Rule response;
  response.name = "responded";
  response.kind = kRuleResponse;
  response.receivers = {"comms"};
  config::Rule spike;
  spike.name = "spike";
  spike.kind = kRuleSpike;
  spike.campaign = "fund-our-schools";
  spike.window_ms = 15 * kMin;
  spike.threshold = 3;
  c.rules = {mention, mention_tc, response, spike};
  return c;
}

Post MakePost(int64_t created_ms) {
  Post p;
  p.platform = Platform::kMastodon;
  p.key = "https://a.example/users/alice/statuses/1";
  p.url = "https://a.example/@alice/1";
  p.author = "alice@a.example";
  p.created_at_ms = created_ms;
  p.text = "Fund our schools @janedoe @roe";
  return p;
}

TEST(AlertEngine, APostNamingTwoPolicymakersIsOneAlertPerRule) {
  FakeClock clock(kT0);
  AlertEngine engine(TestConfig());
  Match m;
  m.campaigns = {"fund-our-schools"};
  m.mentioned_policymakers = {"sen-doe", "rep-roe"};
  auto alerts = engine.OnNewPost(MakePost(kT0 - kMin), m, {}, clock.NowMs());
  // "mentioned-tc" is limited to teachers-count, which the post does not match.
  ASSERT_EQ(alerts.size(), 1u);
  const Alert& a = alerts[0];
  EXPECT_EQ(a.rule, "mentioned");
  EXPECT_EQ(a.kind, "policymaker_mention");
  EXPECT_EQ(a.key, "mentioned/mastodon/https://a.example/users/alice/statuses/1");
  EXPECT_EQ(a.platform, "mastodon");
  EXPECT_EQ(a.campaigns, std::vector<std::string>{"fund-our-schools"});
  EXPECT_EQ(a.policymakers, (std::vector<std::string>{"sen-doe", "rep-roe"}));
  // A policymaker without a display name is named by id.
  EXPECT_EQ(a.policymaker_names, (std::vector<std::string>{"Sen. Jane Doe", "rep-roe"}));
  EXPECT_EQ(a.post.id, "https://a.example/users/alice/statuses/1");
  EXPECT_EQ(a.post.url, "https://a.example/@alice/1");
  EXPECT_EQ(a.post.created_at_ms, kT0 - kMin);
  EXPECT_EQ(a.created_ms, kT0);
  EXPECT_EQ(a.receivers, std::vector<std::string>{"comms"});
  EXPECT_FALSE(a.spike);

  // The key is stable: the same post evaluated later gives the same key.
  clock.Advance(kHour);
  auto again = engine.OnNewPost(MakePost(kT0 - kMin), m, {}, clock.NowMs());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].key, a.key);
}

TEST(AlertEngine, CampaignScopedRuleNeedsThatCampaign) {
  AlertEngine engine(TestConfig());
  Match m;
  m.campaigns = {"fund-our-schools", "teachers-count"};
  m.mentioned_policymakers = {"sen-doe"};
  auto alerts = engine.OnNewPost(MakePost(kT0), m, {}, kT0);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].rule, "mentioned");
  EXPECT_EQ(alerts[1].rule, "mentioned-tc");
  EXPECT_NE(alerts[0].key, alerts[1].key);
  // A mention outside any campaign still alerts the unscoped rule.
  m.campaigns.clear();
  alerts = engine.OnNewPost(MakePost(kT0), m, {}, kT0);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].campaigns.empty());
}

TEST(AlertEngine, NoMentionNoAlert) {
  AlertEngine engine(TestConfig());
  Match m;
  m.campaigns = {"fund-our-schools"};
  EXPECT_TRUE(engine.OnNewPost(MakePost(kT0), m, {}, kT0).empty());
}

TEST(AlertEngine, ResponsesNameTheRespondingPolicymakerAndCampaigns) {
  AlertEngine engine(TestConfig());
  Post p = MakePost(kT0);
  p.author = "janedoe@gov.example";
  Match m;
  m.author_policymaker = "sen-doe";
  auto alerts = engine.OnNewPost(p, m, {"fund-our-schools"}, kT0);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "responded");
  EXPECT_EQ(alerts[0].kind, "policymaker_response");
  EXPECT_EQ(alerts[0].policymakers, std::vector<std::string>{"sen-doe"});
  EXPECT_EQ(alerts[0].campaigns, std::vector<std::string>{"fund-our-schools"});
  // A policymaker's post that responds to nothing is not a response.
  EXPECT_TRUE(engine.OnNewPost(p, m, {}, kT0).empty());
}

TEST(AlertEngine, PostsOlderThanMaxAgeAreNotAlerted) {
  config::Config c = TestConfig();
  c.rules[0].max_age_ms = 2 * kHour;  // "mentioned"; the others keep the 24h default
  AlertEngine engine(c);
  Match m;
  m.campaigns = {"teachers-count"};
  m.mentioned_policymakers = {"sen-doe"};
  FakeClock clock(kT0);
  auto at = [&](int64_t created) { return engine.OnNewPost(MakePost(created), m, {}, clock.NowMs()); };
  EXPECT_EQ(at(kT0 - 2 * kHour).size(), 2u);  // exactly max_age old: still alerted
  auto three_hours = at(kT0 - 3 * kHour);
  ASSERT_EQ(three_hours.size(), 1u);
  EXPECT_EQ(three_hours[0].rule, "mentioned-tc");
  EXPECT_TRUE(at(kT0 - 25 * kHour).empty());  // older than the default 24h
  clock.Advance(30 * kDay);
  EXPECT_TRUE(at(kT0).empty());
}

// Per-minute counts from 8 days before kT0 up to (not including) `to_ms`, at rate(minute start ms).
std::vector<std::pair<int64_t, int64_t>> Series(int64_t to_ms, const std::function<int64_t(int64_t)>& rate) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t t = (kT0 - 8 * kDay) / 1000 / 60 * 60; t * 1000 < to_ms; t += 60) out.push_back({t, rate(t * 1000)});
  return out;
}

TEST(Spike, RangeCoversSevenDaysAndTheCurrentWindow) {
  const auto [from_s, to_s] = SpikeRange(15 * kMin, kT0 + 30'000);
  EXPECT_EQ(to_s, (kT0 + kMin) / 1000);  // the running minute counts
  EXPECT_EQ(to_s - from_s, (7 * kDay + 15 * kMin) / 1000);
}

TEST(Spike, MeasuresMeanAndStddevOfSameLengthWindows) {
  // Baseline alternating 10 and 20 posts per 15-minute window (one post per minute and a burst),
  // over the whole 7 days; the current window holds 60.
  const int64_t now = kT0;
  const auto [from_s, to_s] = SpikeRange(15 * kMin, now);
  std::vector<std::pair<int64_t, int64_t>> counts;
  int i = 0;
  for (int64_t w = from_s; w < to_s - 900; w += 900, ++i) counts.push_back({w, i % 2 ? 20 : 10});
  counts.push_back({to_s - 60, 60});
  auto s = MeasureSpike(counts, 15 * kMin, 3, now);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->baseline_windows, 672);
  EXPECT_DOUBLE_EQ(s->mean, 15);
  EXPECT_DOUBLE_EQ(s->stddev, 5);
  EXPECT_DOUBLE_EQ(s->line, 30);
  EXPECT_EQ(s->count, 60);
  EXPECT_EQ(s->window_start_ms, (to_s - 900) * 1000);
  EXPECT_EQ(s->window_ms, 15 * kMin);
}

TEST(Spike, SparseBaselineStartsAtTheFirstPostAndNeedsFourWindows) {
  const int64_t now = kT0;
  const auto [from_s, to_s] = SpikeRange(15 * kMin, now);
  std::vector<std::pair<int64_t, int64_t>> counts;
  // Nothing until 45 minutes ago: three windows of history only.
  counts.push_back({to_s - 900 * 4, 2});
  counts.push_back({to_s - 60, 50});
  EXPECT_FALSE(MeasureSpike(counts, 15 * kMin, 3, now));
  // A first post an hour ago: four windows of history (2, 2, 0, 0).
  counts.push_back({to_s - 900 * 5, 2});
  auto s = MeasureSpike(counts, 15 * kMin, 3, now);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->baseline_windows, 4);
  EXPECT_DOUBLE_EQ(s->mean, 1);
  EXPECT_DOUBLE_EQ(s->stddev, 1);
  EXPECT_DOUBLE_EQ(s->line, 4);
  (void)from_s;
}

TEST(Spike, AnEmptyBaselineNeedsAtLeastMinPostsAndOneStddevOfOne) {
  config::Rule rule = TestConfig().rules[3];
  const int64_t now = kT0;
  const auto [from_s, to_s] = SpikeRange(rule.window_ms, now);
  std::vector<std::pair<int64_t, int64_t>> counts = {{from_s, 1}};  // one post 7 days ago, then silence
  counts.push_back({to_s - 60, 4});
  SpikeDetector d;
  // 4 > 0 + 3·1, but fewer than kSpikeMinPosts posts is not a surge.
  EXPECT_FALSE(d.Evaluate(rule, counts, now));
  counts.back().second = kSpikeMinPosts;
  auto a = d.Evaluate(rule, counts, now);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, "spike");
  EXPECT_EQ(a->campaigns, std::vector<std::string>{"fund-our-schools"});
  EXPECT_EQ(a->platform, "");
  EXPECT_EQ(a->key, "spike/spike/" + FormatRfc3339Ms((to_s - 900) * 1000));
}

TEST(Spike, OneSurgeIsOneAlert) {
  config::Rule rule = TestConfig().rules[3];  // 15m window, threshold 3
  FakeClock clock(kT0);
  SpikeDetector d;
  auto eval = [&](const std::function<int64_t(int64_t)>& rate) {
    return d.Evaluate(rule, Series(clock.NowMs() + kMin, rate), clock.NowMs());
  };
  // A steady campaign, 2 posts a minute (30 per window): σ = 0, and the floor √30 puts the line
  // at 30 + 3·5.48 ≈ 46.4.
  EXPECT_FALSE(eval([](int64_t) { return 2; }));

  // A surge of 10 a minute starts 5 minutes ago: 9·2 + 6·10 = 78 in the window. One alert.
  const int64_t surge_start = kT0 - 5 * kMin;
  auto first = eval([&](int64_t t) { return t >= surge_start ? 10 : 2; });
  ASSERT_TRUE(first);
  EXPECT_EQ(first->spike->count, 78);
  EXPECT_TRUE(d.InCooldown("spike"));
  // The surge goes on for an hour: no second alert, whatever the window.
  for (int i = 1; i <= 12; ++i) {
    clock.Advance(5 * kMin);
    EXPECT_FALSE(eval([&](int64_t t) { return t >= surge_start ? 10 : 2; })) << "evaluation " << i;
    EXPECT_TRUE(d.InCooldown("spike"));
  }
  // It ended 20 minutes ago: the window is calm again, the rule re-arms (more than 4·15m have
  // passed since the alert).
  const int64_t surge_end = clock.NowMs() - 20 * kMin;
  auto ended = [&](int64_t t) { return t >= surge_start && t < surge_end ? 10 : 2; };
  EXPECT_FALSE(eval(ended));
  EXPECT_FALSE(d.InCooldown("spike"));
  // A new surge is a new alert, with a new key.
  const int64_t second_start = clock.NowMs() - 5 * kMin;
  auto second = eval([&](int64_t t) { return t >= second_start ? 30 : ended(t); });
  ASSERT_TRUE(second);
  EXPECT_NE(second->key, first->key);
}

TEST(Spike, CooldownLastsAtLeastFourWindowsEvenWhenVolumeDropsAtOnce) {
  config::Rule rule = TestConfig().rules[3];
  rule.window_ms = 5 * kMin;
  const auto [from_s, to_s] = SpikeRange(rule.window_ms, kT0);
  std::vector<std::pair<int64_t, int64_t>> quiet = {{from_s + 86'400, 1}};  // history inside every range below
  auto burst = quiet;
  burst.push_back({to_s - 60, 20});
  SpikeDetector d;
  ASSERT_TRUE(d.Evaluate(rule, burst, kT0));
  EXPECT_FALSE(d.Evaluate(rule, quiet, kT0 + kMin));  // calm: re-armed, but only 1 minute later
  EXPECT_TRUE(d.InCooldown("spike"));
  auto burst2 = quiet;
  burst2.push_back({to_s - 60 + 600, 20});
  EXPECT_FALSE(d.Evaluate(rule, burst2, kT0 + 10 * kMin));  // 10m < 4·5m
  auto burst3 = quiet;
  burst3.push_back({to_s - 60 + 1200, 20});
  EXPECT_TRUE(d.Evaluate(rule, burst3, kT0 + 20 * kMin));
}

TEST(Spike, RestoredCooldownWaitsForTheSurgeToEnd) {
  config::Rule rule = TestConfig().rules[3];
  const auto [from_s, to_s] = SpikeRange(rule.window_ms, kT0);
  std::vector<std::pair<int64_t, int64_t>> burst = {{from_s + 86'400, 1}, {to_s - 60, 50}};
  SpikeDetector d;
  d.RestoreLastAlert("spike", kT0 - 2 * kHour);
  EXPECT_FALSE(d.Evaluate(rule, burst, kT0));  // still the surge alerted before the restart
  std::vector<std::pair<int64_t, int64_t>> calm = {{from_s + 86'400, 1}};
  EXPECT_FALSE(d.Evaluate(rule, calm, kT0 + kMin));
  EXPECT_FALSE(d.InCooldown("spike"));
}

}  // namespace
}  // namespace chorus::analytics
