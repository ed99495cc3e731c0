#include "sim/mastodon_sim.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"
#include "sim/campaign_player.h"

namespace chorus::sim {
namespace {

// A strict recursive-descent JSON checker, enough to tell a whole body from a cut one.
class JsonChecker {
 public:
  static bool Valid(const std::string& s) {
    JsonChecker c(s);
    c.Ws();
    if (!c.Value()) return false;
    c.Ws();
    return c.pos_ == s.size();
  }

 private:
  explicit JsonChecker(const std::string& s) : s_(s) {}
  void Ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Lit(const char* w) {
    const std::string lit(w);
    if (s_.compare(pos_, lit.size(), lit) != 0) return false;
    pos_ += lit.size();
    return true;
  }
  bool String() {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (pos_ >= s_.size()) return false;
        const char e = s_[pos_++];
        if (e == 'u') {
          for (int i = 0; i < 4; ++i) {
            if (pos_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[pos_++]))) {
              return false;
            }
          }
        } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool Number() {
    const size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    while (pos_ < s_.size() &&
           (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
            s_[pos_] == 'e' || s_[pos_] == 'E' || s_[pos_] == '+' || s_[pos_] == '-')) {
      ++pos_;
    }
    return pos_ > start;
  }
  bool Value() {
    if (pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (c == '{') return Container('}', true);
    if (c == '[') return Container(']', false);
    if (c == '"') return String();
    if (c == 't') return Lit("true");
    if (c == 'f') return Lit("false");
    if (c == 'n') return Lit("null");
    return Number();
  }
  bool Container(char close, bool object) {
    ++pos_;
    Ws();
    if (pos_ < s_.size() && s_[pos_] == close) {
      ++pos_;
      return true;
    }
    while (true) {
      Ws();
      if (object) {
        if (!String()) return false;
        Ws();
        if (pos_ >= s_.size() || s_[pos_++] != ':') return false;
        Ws();
      }
      if (!Value()) return false;
      Ws();
      if (pos_ >= s_.size()) return false;
      const char d = s_[pos_++];
      if (d == close) return true;
      if (d != ',') return false;
    }
  }
  const std::string& s_;
  size_t pos_ = 0;
};

// Status ids in a body, in order (an account object has "username" after its id, not created_at).
std::vector<std::string> StatusIds(const std::string& body) {
  static const std::string kOpen = "{\"id\":\"";
  static const std::string kNext = "\",\"created_at\"";
  std::vector<std::string> out;
  for (size_t pos = body.find(kOpen); pos != std::string::npos; pos = body.find(kOpen, pos + 1)) {
    const size_t start = pos + kOpen.size();
    const size_t end = body.find('"', start);
    if (end == std::string::npos) break;
    if (body.compare(end, kNext.size(), kNext) == 0) out.push_back(body.substr(start, end - start));
  }
  return out;
}

int64_t T0() { return *ParseRfc3339Ms("2026-03-10T14:05:00Z"); }

SimStatus Post(const std::string& user, const std::string& domain, int64_t created_ms,
               std::vector<std::string> tags, std::string text = "") {
  SimStatus s;
  s.account.username = user;
  s.account.domain = domain;
  s.account.followers = 120;
  s.created_at_ms = created_ms;
  if (text.empty()) {
    text = "post by " + user;
    for (const auto& t : tags) text += " #" + t;
  }
  s.text = std::move(text);
  s.tags = std::move(tags);
  return s;
}

class MastodonSimTest : public ::testing::Test {
 protected:
  void StartSim(SimOptions options = {}) {
    sim_ = std::make_unique<MastodonSim>(std::move(options));
    auto started = sim_->Start();
    ASSERT_TRUE(started.has_value()) << started.error().ToString();
    ASSERT_GT(sim_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", sim_->port());
    client_->set_connection_timeout(2, 0);
    client_->set_read_timeout(2, 0);
  }

  httplib::Result Get(const std::string& path, const httplib::Headers& headers = {}) {
    return client_->Get(path, headers);
  }

  // Adds `n` statuses tagged `tag`, one second apart, oldest first; returns their ids.
  std::vector<std::string> AddSeries(int n, const std::string& tag = "FundOurSchools") {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      ids.push_back(std::to_string(
          sim_->AddStatus(Post("user" + std::to_string(i), "", T0() + i * 1000, {tag})).id));
    }
    return ids;
  }

  std::unique_ptr<MastodonSim> sim_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(MastodonSimTest, TagTimelineServesMastodonStatusesNewestFirst) {
  StartSim();
  SimStatus local = Post("alice", "", T0(), {"FundOurSchools"},
                         "@janedoe@gov.example please back #FundOurSchools & vote \"yes\" <now>");
  local.mentions.push_back({"janedoe", "gov.example", 9000});
  local.favourites = 9;
  local.reblogs = 4;
  local.replies = 1;
  const SimStatus a = sim_->AddStatus(local);
  const SimStatus b =
      sim_->AddStatus(Post("bob", "social.example.org", T0() + 1000, {"FundOurSchools"}));

  auto res = Get("/api/v1/timelines/tag/FundOurSchools");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json; charset=utf-8");
  ASSERT_TRUE(JsonChecker::Valid(res->body)) << res->body;
  EXPECT_EQ(StatusIds(res->body),
            (std::vector<std::string>{std::to_string(b.id), std::to_string(a.id)}));

  const std::string& body = res->body;
  EXPECT_NE(body.find("\"created_at\":\"2026-03-10T14:05:00.000Z\""), std::string::npos);
  EXPECT_NE(body.find("\"acct\":\"alice\""), std::string::npos);
  EXPECT_NE(body.find("\"acct\":\"bob@social.example.org\""), std::string::npos);
  EXPECT_NE(body.find("\"acct\":\"janedoe@gov.example\""), std::string::npos);
  EXPECT_NE(body.find("\"tags\":[{\"name\":\"fundourschools\",\"url\":\"https://sim.example/tags/"
                      "fundourschools\"}]"),
            std::string::npos);
  EXPECT_NE(body.find("\"favourites_count\":9,"), std::string::npos);
  EXPECT_NE(body.find("\"in_reply_to_id\":null,\"in_reply_to_account_id\":null"),
            std::string::npos);
  EXPECT_NE(body.find("\"edited_at\":null"), std::string::npos);
  EXPECT_NE(body.find("\"last_status_at\":\"2026-03-10\""), std::string::npos);
  EXPECT_NE(body.find("\"uri\":\"https://sim.example/users/alice/statuses/" + std::to_string(a.id) +
                      "\""),
            std::string::npos);
  EXPECT_NE(body.find("\"url\":\"https://social.example.org/@bob/" + std::to_string(b.id) + "\""),
            std::string::npos);
  const std::string content =
      R"("content":"<p><span class=\"h-card\" translate=\"no\">)"
      R"(<a href=\"https://gov.example/@janedoe\" class=\"u-url mention\">)"
      R"(@<span>janedoe</span></a></span> please back )"
      R"(<a href=\"https://sim.example/tags/FundOurSchools\" class=\"mention hashtag\" rel=\"tag\">)"
      R"(#<span>FundOurSchools</span></a> &amp; vote &quot;yes&quot; &lt;now&gt;</p>")";
  EXPECT_NE(body.find(content), std::string::npos) << body;
}

TEST_F(MastodonSimTest, AddStatusAssignsSnowflakeIdsSoLatePostsSortBelow) {
  StartSim();
  const SimStatus now = sim_->AddStatus(Post("a", "", T0(), {"x"}));
  const SimStatus late = sim_->AddStatus(Post("b", "remote.example", T0() - 300'000, {"x"}));
  EXPECT_EQ(now.id >> 16, static_cast<uint64_t>(T0()));
  EXPECT_LT(late.id, now.id);
  EXPECT_EQ(late.uri, "https://remote.example/users/b/statuses/" + std::to_string(late.id));
  const SimStatus same_ms = sim_->AddStatus(Post("c", "", T0(), {"x"}));
  EXPECT_NE(same_ms.id, now.id);
  // Own domain is local; a known uri is replaced in place.
  SimStatus own = Post("d", "sim.example", T0() + 5, {"x"});
  own.uri = "https://sim.example/users/d/statuses/1";
  const SimStatus stored = sim_->AddStatus(own);
  EXPECT_EQ(stored.account.domain, "");
  own.text = "edited #x";
  EXPECT_EQ(sim_->AddStatus(own).id, stored.id);
  EXPECT_EQ(sim_->statuses().size(), 4u);
}

TEST_F(MastodonSimTest, JsonEscapesControlCharactersAndPassesUtf8) {
  StartSim();
  sim_->AddStatus(
      Post("a", "", T0(), {"x"}, "tab\there \\ caf\xC3\xA9 \xF0\x9F\x93\x9A line\nbreak #x"));
  auto res = Get("/api/v1/timelines/tag/x");
  ASSERT_TRUE(res);
  ASSERT_TRUE(JsonChecker::Valid(res->body)) << res->body;
  EXPECT_NE(res->body.find("tab\\u0009here \\\\ caf\xC3\xA9 \xF0\x9F\x93\x9A line<br />break"),
            std::string::npos)
      << res->body;
}

TEST_F(MastodonSimTest, MinIdReturnsOldestItemsAboveItNewestFirst) {
  StartSim();
  const auto ids = AddSeries(10);
  auto res = Get("/api/v1/timelines/tag/fundourschools?limit=3&min_id=" + ids[2]);
  ASSERT_TRUE(res);
  EXPECT_EQ(StatusIds(res->body), (std::vector<std::string>{ids[5], ids[4], ids[3]}));
  // min_id with max_id bounds both sides.
  res = Get("/api/v1/timelines/tag/fundourschools?limit=10&min_id=" + ids[2] + "&max_id=" + ids[5]);
  ASSERT_TRUE(res);
  EXPECT_EQ(StatusIds(res->body), (std::vector<std::string>{ids[4], ids[3]}));
}

TEST_F(MastodonSimTest, MaxIdAndSinceIdSemantics) {
  StartSim();
  const auto ids = AddSeries(10);
  auto res = Get("/api/v1/timelines/tag/fundourschools?limit=3&max_id=" + ids[7]);
  ASSERT_TRUE(res);
  EXPECT_EQ(StatusIds(res->body), (std::vector<std::string>{ids[6], ids[5], ids[4]}));
  // since_id gives the newest `limit` items, leaving a gap above since_id.
  res = Get("/api/v1/timelines/tag/fundourschools?limit=3&since_id=" + ids[2]);
  ASSERT_TRUE(res);
  EXPECT_EQ(StatusIds(res->body), (std::vector<std::string>{ids[9], ids[8], ids[7]}));
  res = Get("/api/v1/timelines/tag/fundourschools?since_id=" + ids[6] + "&max_id=" + ids[9]);
  ASSERT_TRUE(res);
  EXPECT_EQ(StatusIds(res->body), (std::vector<std::string>{ids[8], ids[7]}));
}

TEST_F(MastodonSimTest, LimitDefaultsTo20AndClampsTo40) {
  StartSim();
  AddSeries(50);
  auto count = [&](const std::string& query) {
    auto res = Get("/api/v1/timelines/tag/fundourschools" + query);
    return res ? StatusIds(res->body).size() : size_t{0};
  };
  EXPECT_EQ(count(""), 20u);
  EXPECT_EQ(count("?limit=100"), 40u);
  EXPECT_EQ(count("?limit=40"), 40u);
  EXPECT_EQ(count("?limit=7"), 7u);
  EXPECT_EQ(count("?limit=abc"), 20u);
  EXPECT_EQ(count("?limit=-3"), 20u);
}

TEST_F(MastodonSimTest, LinkHeaderOnlyWhenNonEmptyAndWithoutAnyParams) {
  StartSim();
  const auto ids = AddSeries(5);
  sim_->AddStatus(Post("z", "", T0() + 99'000, {"EdEquity"}));
  auto res = Get("/api/v1/timelines/tag/FundOurSchools?limit=2&any[]=EdEquity&max_id=" + ids[4]);
  ASSERT_TRUE(res);
  const std::string base = sim_->base_url() + "/api/v1/timelines/tag/FundOurSchools";
  EXPECT_EQ(res->get_header_value("Link"), "<" + base + "?limit=2&max_id=" + ids[2] +
                                               ">; rel=\"next\", <" + base +
                                               "?limit=2&min_id=" + ids[3] + ">; rel=\"prev\"");
  EXPECT_EQ(res->get_header_value("Link").find("any"), std::string::npos);

  res = Get("/api/v1/timelines/tag/FundOurSchools?limit=2&max_id=" + ids[0]);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "[]");
  EXPECT_FALSE(res->has_header("Link"));
}

TEST_F(MastodonSimTest, AnyTagsAreUnionedUpToFour) {
  StartSim();
  const auto a = sim_->AddStatus(Post("a", "", T0(), {"Main"}));
  const auto b = sim_->AddStatus(Post("b", "", T0() + 1000, {"t1"}));
  const auto c = sim_->AddStatus(Post("c", "", T0() + 2000, {"T4"}));
  const auto d = sim_->AddStatus(Post("d", "", T0() + 3000, {"t5"}));
  sim_->AddStatus(Post("e", "", T0() + 4000, {"other"}));
  auto res = Get("/api/v1/timelines/tag/main?any[]=T1&any[]=t2&any[]=t3&any[]=t4&any[]=t5");
  ASSERT_TRUE(res);
  // The fifth any[] (t5) is dropped, like Mastodon's LIMIT_PER_MODE.
  EXPECT_EQ(
      StatusIds(res->body),
      (std::vector<std::string>{std::to_string(c.id), std::to_string(b.id), std::to_string(a.id)}));
  (void)d;
  // An unknown main tag answers [] even when any[] would match.
  res = Get("/api/v1/timelines/tag/nosuchtag?any[]=t1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "[]");
}

TEST_F(MastodonSimTest, UnknownTagIsEmptyArrayAndTagsAreCaseInsensitive) {
  StartSim();
  AddSeries(3, "FundOurSchools");
  auto res = Get("/api/v1/timelines/tag/unheardof");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "[]");
  EXPECT_FALSE(res->has_header("Link"));
  for (const char* tag : {"FUNDOURSCHOOLS", "fundourschools", "FundOurSchools"}) {
    res = Get(std::string("/api/v1/timelines/tag/") + tag);
    ASSERT_TRUE(res);
    EXPECT_EQ(StatusIds(res->body).size(), 3u) << tag;
  }
}

TEST_F(MastodonSimTest, RateLimitHeadersAndExhaustion) {
  FakeClock clock(*ParseRfc3339Ms("2026-03-10T14:07:12.345Z"));
  SimOptions options;
  options.rate_limit = 3;
  options.clock = &clock;
  StartSim(options);
  for (int expected_remaining : {2, 1, 0}) {
    auto res = Get("/api/v1/timelines/tag/x");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("X-RateLimit-Limit"), "3");
    EXPECT_EQ(res->get_header_value("X-RateLimit-Remaining"), std::to_string(expected_remaining));
    EXPECT_EQ(res->get_header_value("X-RateLimit-Reset"), "2026-03-10T14:10:00.000000Z");
  }
  auto res = Get("/api/v1/timelines/tag/x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->body, R"({"error":"Too many requests"})");
  EXPECT_EQ(res->get_header_value("X-RateLimit-Remaining"), "0");
  EXPECT_EQ(res->get_header_value("X-RateLimit-Reset"), "2026-03-10T14:10:00.000000Z");
  EXPECT_FALSE(res->has_header("Retry-After"));

  clock.Set(*ParseRfc3339Ms("2026-03-10T14:10:00.001Z"));  // next window
  res = Get("/api/v1/timelines/tag/x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("X-RateLimit-Remaining"), "2");
  EXPECT_EQ(res->get_header_value("X-RateLimit-Reset"), "2026-03-10T14:15:00.000000Z");
  EXPECT_EQ(sim_->responses_by_status(), (std::map<int, int64_t>{{200, 4}, {429, 1}}));
}

TEST_F(MastodonSimTest, FaultPlanRateLimitAnd500AndNonJson) {
  StartSim();
  AddSeries(2);
  FaultPlan plan;
  plan.rate_limit_every = 2;
  plan.error_500_every = 3;
  plan.non_json_every = 5;
  sim_->SetFaults(plan);
  std::vector<int> statuses;
  for (int i = 1; i <= 6; ++i) {
    auto res = Get("/api/v1/timelines/tag/fundourschools");
    ASSERT_TRUE(res);
    statuses.push_back(res->status);
    EXPECT_TRUE(res->has_header("X-RateLimit-Reset"));
    if (res->status == 429) {
      EXPECT_EQ(res->get_header_value("X-RateLimit-Remaining"), "0");
      EXPECT_EQ(res->body, R"({"error":"Too many requests"})");
      EXPECT_FALSE(res->has_header("Retry-After"));
    } else if (res->status == 500) {
      EXPECT_EQ(res->body, R"({"error":"Internal server error"})");
    } else if (res->status == 502) {
      EXPECT_EQ(res->get_header_value("Content-Type"), "text/html");
      EXPECT_EQ(res->body, "<html><body><h1>502 Bad Gateway</h1></body></html>");
    }
  }
  // Request 6 matches both rate_limit_every and error_500_every: the 429 check comes first.
  EXPECT_EQ(statuses, (std::vector<int>{200, 429, 500, 429, 502, 429}));
  EXPECT_EQ(sim_->requests(), 6);
}

TEST_F(MastodonSimTest, TruncatedResponsesAreCutAndNotCountedAsServed) {
  StartSim();
  const SimStatus s = sim_->AddStatus(Post("a", "", T0(), {"x"}));
  FaultPlan plan;
  plan.truncate_every = 1;
  sim_->SetFaults(plan);
  auto res = Get("/api/v1/timelines/tag/x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_FALSE(JsonChecker::Valid(res->body));
  EXPECT_TRUE(sim_->served_uris().empty());

  sim_->SetFaults({});
  auto full = Get("/api/v1/timelines/tag/x");
  ASSERT_TRUE(full);
  EXPECT_EQ(res->body.size(), full->body.size() / 2);
  EXPECT_EQ(full->body.substr(0, res->body.size()), res->body);
  EXPECT_EQ(sim_->served_uris(), (std::set<std::string>{s.uri}));
}

TEST_F(MastodonSimTest, SlowRequestsAreDelayed) {
  StartSim();
  FaultPlan plan;
  plan.slow_every = 2;
  plan.slow_ms = 250;
  sim_->SetFaults(plan);
  auto timed = [&] {
    const auto start = std::chrono::steady_clock::now();
    auto res = Get("/api/v1/timelines/tag/x");
    EXPECT_TRUE(res && res->status == 200);
    return std::chrono::steady_clock::now() - start;
  };
  EXPECT_LT(timed(), std::chrono::milliseconds(200));
  EXPECT_GE(timed(), std::chrono::milliseconds(250));
}

TEST_F(MastodonSimTest, RequiredTokenGives401WithoutIt) {
  SimOptions options;
  options.required_token = "s3cret";
  StartSim(options);
  auto res = Get("/api/v1/timelines/tag/x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->body, R"({"error":"The access token is invalid"})");
  EXPECT_TRUE(res->has_header("X-RateLimit-Remaining"));
  res = Get("/api/v1/timelines/tag/x", {{"Authorization", "Bearer wrong"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = Get("/api/v1/timelines/tag/x", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(MastodonSimTest, StatusesMultiGetAndSingleGet) {
  StartSim();
  const auto ids = AddSeries(3);
  auto res = Get("/api/v1/statuses?id[]=" + ids[2] + "&id[]=999&id[]=" + ids[0] + "&id[]=abc");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  ASSERT_TRUE(JsonChecker::Valid(res->body));
  EXPECT_EQ(StatusIds(res->body), (std::vector<std::string>{ids[2], ids[0]}));
  EXPECT_FALSE(res->has_header("Link"));
  EXPECT_EQ(sim_->served_uris().size(), 2u);

  res = Get("/api/v1/statuses");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "[]");

  std::string many = "/api/v1/statuses?";
  for (int i = 0; i < 41; ++i) many += "id[]=" + std::to_string(i + 1) + "&";
  res = Get(many);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);

  res = Get("/api/v1/statuses/" + ids[1]);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  ASSERT_TRUE(JsonChecker::Valid(res->body));
  EXPECT_EQ(StatusIds(res->body), (std::vector<std::string>{ids[1]}));

  res = Get("/api/v1/statuses/12345");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->body, R"({"error":"Record not found"})");
  EXPECT_EQ(sim_->served_uris().size(), 3u);
}

TEST_F(MastodonSimTest, EngagementUpdatesAreServed) {
  StartSim();
  const SimStatus s = sim_->AddStatus(Post("a", "", T0(), {"x"}));
  EXPECT_TRUE(sim_->SetEngagement(s.uri, 11, 22, 33, 44));
  EXPECT_FALSE(sim_->SetEngagement("https://nowhere/1", 1, 1, 1, 1));
  auto res = Get("/api/v1/statuses/" + std::to_string(s.id));
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find(
                R"("replies_count":33,"reblogs_count":22,"favourites_count":11,"quotes_count":44)"),
            std::string::npos);
}

TEST_F(MastodonSimTest, StartTwiceFailsAndStopIsIdempotent) {
  StartSim();
  EXPECT_FALSE(sim_->Start().has_value());
  const auto start = std::chrono::steady_clock::now();
  sim_->Stop();
  sim_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(sim_->port(), 0);
  EXPECT_TRUE(sim_->Start().has_value());  // restartable on a fresh port
}

TEST_F(MastodonSimTest, CampaignPlayerAddsPostsAndStopsPromptly) {
  StartSim();
  PlayerOptions options;
  options.history_posts = 60;
  options.posts_per_second = 40;
  CampaignPlayer player(*sim_, options);
  player.Start();
  EXPECT_GE(player.posts_added(), 60);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const auto stop_start = std::chrono::steady_clock::now();
  player.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, std::chrono::milliseconds(500));
  const int64_t added = player.posts_added();
  EXPECT_GT(added, 60);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(player.posts_added(), added);

  const auto statuses = sim_->statuses();
  EXPECT_EQ(static_cast<int64_t>(statuses.size()), added);
  int mentions = 0;
  for (const auto& s : statuses) {
    EXPECT_FALSE(s.tags.empty());
    for (const auto& m : s.mentions) mentions += m.username == "janedoe";
  }
  EXPECT_GT(mentions, 0);
  auto res = Get("/api/v1/timelines/tag/FundOurSchools?limit=40");
  ASSERT_TRUE(res);
  EXPECT_TRUE(JsonChecker::Valid(res->body));
  EXPECT_FALSE(StatusIds(res->body).empty());
}

TEST_F(MastodonSimTest, CampaignPlayerIsDeterministicForASeed) {
  StartSim();
  PlayerOptions options;
  options.history_posts = 40;
  options.posts_per_second = 0;
  MastodonSim other;
  CampaignPlayer p1(*sim_, options);
  CampaignPlayer p2(other, options);
  p1.Start();
  p2.Start();
  p1.Stop();
  p2.Stop();
  const auto a = sim_->statuses();
  const auto b = other.statuses();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].text, b[i].text);
    EXPECT_EQ(a[i].account.username, b[i].account.username);
  }
}

}  // namespace
}  // namespace chorus::sim
