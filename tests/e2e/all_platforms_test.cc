// One chorusd polling all four platforms at once (simulated, in this process): the counts per
// platform and campaign, and the people-side counts, must equal what the simulators hold.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "core/time.h"
#include "sim/bluesky_sim.h"
#include "sim/mastodon_sim.h"
#include "sim/reddit_sim.h"
#include "sim/x_sim.h"
#include "tests/testlib/process.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {
namespace {

using std::chrono::seconds;

struct Expected {
  int fund = 0, teachers = 0, fund_mentions = 0, fund_coalition = 0, fund_responses = 0;
};

class AllPlatforms : public ::testing::Test {
 protected:
  void SetUp() override {
    bluesky_opts_.identifier = "chorus-test.bsky.social";
    bluesky_opts_.password = "app-password-1";
    x_opts_.required_token = "x-bearer-1";
    reddit_opts_.client_id = "reddit-id-1";
    reddit_opts_.client_secret = "reddit-secret-1";
    bluesky_ = std::make_unique<sim::BlueskySim>(bluesky_opts_);
    x_ = std::make_unique<sim::XSim>(x_opts_);
    reddit_ = std::make_unique<sim::RedditSim>(reddit_opts_);
    ASSERT_TRUE(mastodon_.Start());
    ASSERT_TRUE(bluesky_->Start());
    ASSERT_TRUE(x_->Start());
    ASSERT_TRUE(reddit_->Start());
    setenv("CHORUS_E2E_BSKY_ID", "chorus-test.bsky.social", 1);
    setenv("CHORUS_E2E_BSKY_PASSWORD", "app-password-1", 1);
    setenv("CHORUS_E2E_X_TOKEN", "x-bearer-1", 1);
    setenv("CHORUS_E2E_REDDIT_ID", "reddit-id-1", 1);
    setenv("CHORUS_E2E_REDDIT_SECRET", "reddit-secret-1", 1);
  }

  std::string Config() const {
    auto src = [](const std::string& head) {
      return head + "    poll_interval: 300ms\n    backfill: 24h\n    overlap: 15m\n    timeout: 3s\n";
    };
    return "storage:\n  path: " + dir_.path() + "/store\n"
           "http:\n  listen: \"127.0.0.1:" + std::to_string(port_) + "\"\n"
           "sources:\n" +
           src("  - name: m\n    platform: mastodon\n    base_url: " + mastodon_.base_url() + "\n") +
           src("  - name: b\n    platform: bluesky\n    base_url: " + bluesky_->base_url() +
               "\n    identifier_env: CHORUS_E2E_BSKY_ID\n    password_env: CHORUS_E2E_BSKY_PASSWORD\n") +
           src("  - name: x\n    platform: x\n    base_url: " + x_->base_url() +
               "\n    token_env: CHORUS_E2E_X_TOKEN\n") +
           src("  - name: r\n    platform: reddit\n    base_url: " + reddit_->base_url() +
               "\n    auth_url: " + reddit_->base_url() +
               "\n    client_id_env: CHORUS_E2E_REDDIT_ID\n    client_secret_env: CHORUS_E2E_REDDIT_SECRET\n"
               "    user_agent: \"linux:org.chorus.e2e:v1 (by /u/chorus_ci)\"\n") +
           "campaigns:\n"
           "  - name: fund-our-schools\n    hashtags: [FundOurSchools]\n"
           "  - name: teachers-count\n    hashtags: [TeachersCount]\n"
           "people:\n"
           "  policymakers:\n"
           "    - id: sen-doe\n"
           "      accounts: {mastodon: janedoe@gov.example, bluesky: janedoe.bsky.social, x: SenJaneDoe, reddit: SenJaneDoe}\n"
           "  coalition:\n"
           "    - id: parents-united\n"
           "      accounts: {mastodon: parents@edu.example, bluesky: parentsunited.org, x: ParentsUnited, reddit: ParentsUnited}\n";
  }

  // The same campaign plays on every platform: i-th post tagged, some mentioning the policymaker,
  // some by the coalition member, and one reply of the policymaker to a campaign post.
  void Populate(int n) {
    const int64_t now = SystemClock::Instance().NowMs();
    uint64_t x_first = 0;
    std::string bluesky_first;
    sim::SimStatus mastodon_first;
    for (int i = 0; i < n; ++i) {
      const bool fund = i % 3 != 0;
      const bool mention = fund && i % 4 == 1;
      const bool coalition = fund && i % 7 == 2;
      const std::string tag = fund ? "FundOurSchools" : "TeachersCount";
      const int64_t created = now - 60'000 - static_cast<int64_t>(i) * 45'000;  // older than X's index lag
      expected_.fund += fund;
      expected_.teachers += !fund;
      expected_.fund_mentions += mention;
      expected_.fund_coalition += coalition;

      sim::SimStatus ms;
      ms.created_at_ms = created;
      ms.account = coalition ? sim::SimAccount{"parents", "edu.example", 900}
                             : sim::SimAccount{"voice" + std::to_string(i), "remote.example", 50};
      ms.text = "Budget day #" + tag + (mention ? " @janedoe@gov.example" : "");
      ms.tags = {tag};
      if (mention) ms.mentions = {{"janedoe", "gov.example", 0}};
      auto stored = mastodon_.AddStatus(ms);
      if (fund && mastodon_first.uri.empty()) mastodon_first = stored;

      sim::BlueskySimPost bp;
      bp.author = {coalition ? "parentsunited.org" : "voice" + std::to_string(i) + ".bsky.social", "", 50};
      bp.created_at_ms = created;
      bp.text = "Budget day #" + tag + (mention ? " @janedoe.bsky.social" : "");
      if (mention) bp.mentions = {{"janedoe.bsky.social", "", 0}};
      auto bstored = bluesky_->AddPost(bp);
      if (fund && bluesky_first.empty()) bluesky_first = bstored.uri;

      sim::XSimPost xp;
      xp.author = {coalition ? "ParentsUnited" : "voice" + std::to_string(i), 50, ""};
      xp.created_at_ms = created;
      xp.text = "Budget day #" + tag + (mention ? " @SenJaneDoe" : "");
      auto xstored = x_->AddPost(xp);
      if (fund && x_first == 0) x_first = xstored.id;

      sim::RedditSimPost rp;
      rp.author = coalition ? "ParentsUnited" : "voice" + std::to_string(i);
      rp.created_at_ms = created;
      rp.title = "Budget day";
      rp.selftext = "Join us #" + tag + (mention ? " u/SenJaneDoe" : "");
      reddit_->AddPost(rp);
    }
    // The policymaker responds on each platform: a reply (Mastodon, Bluesky, X) or, on Reddit,
    // a post of their own carrying the hashtag.
    const int64_t reply_at = now - 40'000;
    sim::SimStatus mr;
    mr.created_at_ms = reply_at;
    mr.account = {"janedoe", "gov.example", 20'000};
    mr.text = "Thank you all.";
    mr.in_reply_to_id = std::to_string(mastodon_first.id);
    mastodon_.AddStatus(mr);
    sim::BlueskySimPost br;
    br.author = {"janedoe.bsky.social", "", 20'000};
    br.created_at_ms = reply_at;
    br.text = "Thank you all.";
    br.reply_parent_uri = bluesky_first;
    bluesky_->AddPost(br);
    sim::XSimPost xr;
    xr.author = {"SenJaneDoe", 20'000, ""};
    xr.created_at_ms = reply_at;
    xr.text = "Thank you all.";
    xr.reply_to = x_first;
    x_->AddPost(xr);
    sim::RedditSimPost rr;
    rr.author = "SenJaneDoe";
    rr.created_at_ms = reply_at;
    rr.title = "My statement";
    rr.selftext = "I support this. #FundOurSchools";
    reddit_->AddPost(rr);
    expected_.fund_responses = 1;
  }

  TempDir dir_;
  int port_ = FreePort();
  sim::MastodonSim mastodon_;
  sim::BlueskySimOptions bluesky_opts_;
  sim::XSimOptions x_opts_;
  sim::RedditSimOptions reddit_opts_;
  std::unique_ptr<sim::BlueskySim> bluesky_;
  std::unique_ptr<sim::XSim> x_;
  std::unique_ptr<sim::RedditSim> reddit_;
  Expected expected_;
};

TEST_F(AllPlatforms, CountsPerPlatformAndCampaignMatchWhatWasServed) {
  Populate(40);
  const std::string config = dir_.path() + "/chorus.yml";
  std::ofstream(config) << Config();
  const std::string log = dir_.path() + "/chorusd.log";
  Process chorusd({BinPath("chorusd"), "--config", config}, log);

  const char* platforms[] = {"mastodon", "bluesky", "x", "reddit"};
  auto value = [&](const std::map<std::string, double>& m, const std::string& name, const char* platform,
                   std::vector<std::string> more) {
    more.push_back(std::string("platform=\"") + platform + "\"");
    return MetricSum(m, name, more);
  };
  // Reddit's own post by the policymaker carries the hashtag, so it is a campaign post too.
  auto expected_fund = [&](const std::string& p) { return expected_.fund + (p == "reddit" ? 1 : 0); };
  std::map<std::string, double> m;
  const bool done = WaitFor([&] {
    m = ParseMetrics(HttpGet(port_, "/metrics").body);
    for (const char* p : platforms) {
      if (value(m, "chorus_posts_total", p, {"campaign=\"fund-our-schools\""}) != expected_fund(p) ||
          value(m, "chorus_posts_total", p, {"campaign=\"teachers-count\""}) != expected_.teachers ||
          value(m, "chorus_policymaker_responses_total", p, {"campaign=\"fund-our-schools\""}) != expected_.fund_responses ||
          // A poll's posts are counted before the poll ends and marks its source up: a scrape in
          // between sees the counts of a source still down.
          MetricSum(m, "chorus_source_up", {std::string("platform=\"") + p + "\""}) != 1) {
        return false;
      }
    }
    return true;
  }, seconds(90));
  for (const char* p : platforms) {
    SCOPED_TRACE(p);
    EXPECT_EQ(value(m, "chorus_posts_total", p, {"campaign=\"fund-our-schools\""}), expected_fund(p));
    EXPECT_EQ(value(m, "chorus_posts_total", p, {"campaign=\"teachers-count\""}), expected_.teachers);
    EXPECT_EQ(value(m, "chorus_term_posts_total", p, {"term=\"fundourschools\""}), expected_fund(p));
    EXPECT_EQ(value(m, "chorus_policymaker_mentions_total", p, {"campaign=\"fund-our-schools\"", "policymaker=\"sen-doe\""}),
              expected_.fund_mentions);
    EXPECT_EQ(value(m, "chorus_policymaker_responses_total", p, {"campaign=\"fund-our-schools\"", "policymaker=\"sen-doe\""}),
              expected_.fund_responses);
    EXPECT_EQ(value(m, "chorus_coalition_posts_total", p, {"campaign=\"fund-our-schools\"", "member=\"parents-united\""}),
              expected_.fund_coalition);
    EXPECT_EQ(MetricSum(m, "chorus_source_up", {std::string("platform=\"") + p + "\""}), 1);
  }
  ASSERT_TRUE(done) << ReadFile(log);
  // Secrets from the environment never reach the log or the metrics.
  const std::string text = ReadFile(log) + HttpGet(port_, "/metrics").body;
  for (const char* secret : {"app-password-1", "x-bearer-1", "reddit-secret-1"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  ASSERT_TRUE(chorusd.Signal(SIGTERM));
  EXPECT_EQ(chorusd.Wait(seconds(30)), 0);
}

}  // namespace
}  // namespace chorus::testing
