// Exactly once across crashes (design §5): chorusd is killed with SIGKILL at random moments while
// it ingests, restarted each time, and in the end every counter must equal what the simulated
// server actually served — nothing lost, nothing counted twice.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "tests/integration/daemon_harness.h"

namespace chorus::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Expected {
  int64_t posts = 0, reach = 0, likes = 0, mentions = 0;
};

Expected ExpectedFor(const std::vector<sim::SimStatus>& statuses, const std::vector<std::string>& tags) {
  Expected e;
  for (const auto& s : statuses) {
    bool match = false;
    for (const auto& t : s.tags) {
      for (const auto& want : tags) match = match || analytics::AsciiLower(t) == want;
    }
    if (!match) continue;
    ++e.posts;
    e.reach += s.account.followers;
    e.likes += s.favourites;
    for (const auto& m : s.mentions) e.mentions += m.username == "janedoe" && m.domain == "gov.example";
  }
  return e;
}

TEST(CrashSafety, CountersAreExactAfterRepeatedKillNine) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  DaemonHarness h({}, {.poll_interval = "100ms", .timeout = "2s", .overlap = "15m", .page_limit = 10});

  int n = 0;
  auto add = [&](std::mt19937& r, int64_t age_ms) {
    sim::SimStatus s;
    s.created_at_ms = SystemClock::Instance().NowMs() - age_ms;
    s.account = {"voice" + std::to_string(r() % 40), r() % 3 ? "remote.example" : "", static_cast<int64_t>(r() % 1000)};
    static const char* kTags[] = {"FundOurSchools", "EdEquity", "TeachersCount", "Cats"};
    s.tags = {kTags[r() % 4]};
    if (r() % 5 == 0) s.tags.push_back(kTags[r() % 4]);
    if (s.tags.size() == 2 && s.tags[0] == s.tags[1]) s.tags.pop_back();
    if (r() % 6 == 0) s.mentions.push_back({"janedoe", "gov.example", 0});
    s.text = "post " + std::to_string(n++);
    for (const auto& t : s.tags) s.text += " #" + t;
    s.favourites = r() % 20;
    h.sim().AddStatus(s);
  };
  // A backlog of several pages, then live posts (some federating minutes late) during the kills.
  for (int i = 0; i < 120; ++i) add(rng, static_cast<int64_t>(rng() % (10 * 3'600'000)));
  std::atomic<bool> feeding{true};
  std::thread feeder([&] {
    std::mt19937 r(seed + 1);
    for (int i = 0; i < 240 && feeding; ++i) {
      add(r, r() % 10 == 0 ? 60'000 + r() % 240'000 : 0);
      std::this_thread::sleep_for(milliseconds(25));
    }
  });

  for (int kill = 0; kill < 12; ++kill) {
    h.Start();
    std::this_thread::sleep_for(milliseconds(50 + rng() % 900));
    h.Kill();
  }
  feeding = false;
  feeder.join();

  h.Start();
  const auto statuses = h.sim().statuses();
  const Expected fund = ExpectedFor(statuses, kFundTags);
  const Expected teachers = ExpectedFor(statuses, kTeacherTags);
  ASSERT_GT(fund.posts, 100);
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") >= fund.posts && h.Posts("teachers-count") >= teachers.posts; },
                      seconds(60)))
      << "fund " << h.Posts("fund-our-schools") << "/" << fund.posts << " teachers "
      << h.Posts("teachers-count") << "/" << teachers.posts << "\n" << h.log();
  // Give the daemon a few more polls to show it would not count anything twice.
  std::this_thread::sleep_for(milliseconds(1000));
  const auto m = h.Metrics();
  for (const auto& [name, e] : {std::pair{std::string("fund-our-schools"), fund}, std::pair{std::string("teachers-count"), teachers}}) {
    SCOPED_TRACE(name);
    const std::string c = "campaign=\"" + name + "\"";
    EXPECT_EQ(MetricSum(m, "chorus_posts_total", {c}), e.posts);
    EXPECT_EQ(MetricSum(m, "chorus_potential_reach_total", {c}), e.reach);
    EXPECT_EQ(MetricSum(m, "chorus_engagement_total", {c, "kind=\"like\""}), e.likes);
    EXPECT_EQ(MetricSum(m, "chorus_policymaker_mentions_total", {c, "policymaker=\"sen-doe\""}), e.mentions);
  }
  // After a clean restart the same numbers come back from the store.
  ASSERT_EQ(h.Terminate(), 0);
  h.Start();
  EXPECT_EQ(h.Posts("fund-our-schools"), fund.posts);
  EXPECT_EQ(h.Posts("teachers-count"), teachers.posts);
}

}  // namespace
}  // namespace chorus::testing
