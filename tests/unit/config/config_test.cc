// Tests of the config loader: what an operator sees for a good file, and for each kind of mistake,
// the message and the line it points at.
#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <string_view>

#include "tests/testlib/test_util.h"

namespace chorus::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const std::string kSamplePath = std::string(CHORUS_SOURCE_DIR) + "/config/chorus.yml";

// Test YAML is written as R"(\n...)"; the first newline is dropped so line 1 is the first line
// shown in the test.
std::string Yaml(std::string_view text) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  return std::string(text);
}

LoadResult Load(std::string_view text, bool check_env = false) {
  return LoadConfigText(Yaml(text), "test.yml", check_env);
}

std::string Dump(const LoadResult& r) {
  std::string out;
  for (const auto& p : r.problems) out += "  " + p.ToString() + "\n";
  return out;
}

// The only problem of `r`; fails the test unless there is exactly one.
Problem Only(const LoadResult& r) {
  EXPECT_EQ(r.problems.size(), 1u) << Dump(r);
  EXPECT_FALSE(r.config.has_value());
  return r.problems.empty() ? Problem{} : r.problems.front();
}

// Scoped environment variable, restored (unset) at the end of the test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

constexpr std::string_view kMinimal = R"(
sources:
  - name: m
    platform: mastodon
    base_url: https://mastodon.example/
campaigns:
  - name: c
    hashtags: [Tag]
)";

// ---- The sample file -------------------------------------------------------------------------

TEST(SampleConfig, LoadsWithoutProblemsInACleanEnvironment) {
  const LoadResult r = LoadConfigFile(kSamplePath, /*check_env=*/true);
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  ASSERT_TRUE(r.config.has_value());
  const Config& c = *r.config;
  EXPECT_EQ(c.file, kSamplePath);
  ASSERT_EQ(c.sources.size(), 1u);
  EXPECT_EQ(c.sources[0].platform, Platform::kMastodon);
  EXPECT_EQ(c.sources[0].base_url, "https://mastodon.social");
  EXPECT_EQ(c.sources[0].token_env, "");
  // The line of the source's first key, wherever comments above it put it.
  {
    const std::string text = chorus::testing::ReadFile(kSamplePath);
    const size_t at = text.find("  - name: mastodon-social");
    ASSERT_NE(at, std::string::npos);
    EXPECT_EQ(c.sources[0].line, 1 + std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
  }
  ASSERT_EQ(c.campaigns.size(), 1u);
  EXPECT_THAT(c.campaigns[0].hashtags, ElementsAre("fundourschools", "edequity"));
  EXPECT_THAT(c.campaigns[0].keywords, ElementsAre("school funding formula"));
  ASSERT_EQ(c.policymakers.size(), 1u);
  EXPECT_EQ(c.policymakers[0].accounts.at(Platform::kX), "senjanedoe");
  EXPECT_EQ(c.policymakers[0].accounts.at(Platform::kMastodon), "janedoe@gov.example");
  EXPECT_EQ(c.coalition.size(), 1u);
  EXPECT_TRUE(c.receivers.empty());
  EXPECT_TRUE(c.rules.empty());  // alert rules are shown commented out until alerts are delivered
  EXPECT_EQ(c.storage.retention.day_ms, 0);
}

// "  # - name: x" -> "  - name: x": drops the "# " of a commented-out setting (a line whose
// comment text is "key:" or "- key:", key in lower case); leaves prose comments alone.
bool Uncomment(std::string* line) {
  const size_t hash = line->find_first_not_of(' ');
  if (hash == std::string::npos || line->compare(hash, 2, "# ") != 0) return false;
  std::string_view rest = std::string_view(*line).substr(hash + 2);
  std::string_view key = rest.substr(std::min(rest.find_first_not_of(' '), rest.size()));
  if (key.starts_with("- ")) key.remove_prefix(2);
  size_t n = 0;
  while (n < key.size() && ((key[n] >= 'a' && key[n] <= 'z') || key[n] == '_')) ++n;
  if (n == 0 || n == key.size() || key[n] != ':') return false;
  if (n + 1 < key.size() && key[n + 1] != ' ') return false;
  *line = line->substr(0, hash) + std::string(rest);
  return true;
}

// Uncomments every optional setting in the sample, so the examples for the other platforms and
// the receivers cannot rot.
TEST(SampleConfig, CommentedOutSettingsAreValidToo) {
  std::ifstream in(kSamplePath);
  ASSERT_TRUE(in) << kSamplePath;
  std::string text, line;
  int uncommented = 0;
  while (std::getline(in, line)) {
    if (Uncomment(&line)) ++uncommented;
    text += line + "\n";
  }
  EXPECT_GT(uncommented, 20);
  ScopedEnv e1("MASTODON_TOKEN", "t"), e2("BLUESKY_IDENTIFIER", "i"),
      e3("BLUESKY_APP_PASSWORD", "p"), e4("X_BEARER_TOKEN", "x"), e5("REDDIT_CLIENT_ID", "c"),
      e6("REDDIT_CLIENT_SECRET", "s"), e7("COMMS_WEBHOOK_URL", "https://hooks.example/1");
  const LoadResult r = LoadConfigText(text, "uncommented.yml", /*check_env=*/true);
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r) << text;
  const Config& c = *r.config;
  ASSERT_EQ(c.sources.size(), 4u);
  EXPECT_EQ(c.sources[0].token_env, "MASTODON_TOKEN");
  EXPECT_EQ(c.sources[1].platform, Platform::kBluesky);
  EXPECT_EQ(c.sources[2].platform, Platform::kX);
  EXPECT_EQ(c.sources[2].page_limit, 100);
  EXPECT_EQ(c.sources[3].platform, Platform::kReddit);
  EXPECT_EQ(c.sources[3].auth_url, "https://www.reddit.com");
  ASSERT_EQ(c.receivers.size(), 1u);
  EXPECT_EQ(c.receivers[0].url_env, "COMMS_WEBHOOK_URL");
  for (const Rule& rule : c.rules) EXPECT_THAT(rule.receivers, ElementsAre("comms"));
  EXPECT_EQ(c.shard, (Shard{0, 3}));
}

// ---- Defaults and normalization -------------------------------------------------------------

TEST(LoadConfig, AppliesDefaults) {
  const LoadResult r = Load(kMinimal);
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.file, "test.yml");
  EXPECT_EQ(c.storage.path, "/var/lib/chorus");
  EXPECT_EQ(c.storage.retention.posts_ms, 400LL * 86'400'000);
  EXPECT_EQ(c.storage.retention.minute_ms, 35LL * 86'400'000);
  EXPECT_EQ(c.storage.retention.hour_ms, 800LL * 86'400'000);
  EXPECT_EQ(c.storage.retention.day_ms, 0);
  EXPECT_EQ(c.http.listen, "127.0.0.1:9750");
  EXPECT_EQ(c.http.web_config_file, "");
  EXPECT_EQ(c.shard.index, 0);  // not sharded: this daemon polls every query
  EXPECT_EQ(c.shard.total, 1);
  EXPECT_FALSE(c.shard.sharded());
  ASSERT_EQ(c.sources.size(), 1u);
  const Source& s = c.sources[0];
  EXPECT_EQ(s.base_url, "https://mastodon.example");  // trailing '/' stripped
  EXPECT_EQ(s.poll_interval_ms, 60'000);
  EXPECT_EQ(s.backfill_ms, 24LL * 3'600'000);
  EXPECT_EQ(s.overlap_ms, 15LL * 60'000);
  EXPECT_EQ(s.timeout_ms, 15'000);
  EXPECT_EQ(s.page_limit, 40);
  EXPECT_EQ(s.auth_url, "");
  EXPECT_EQ(s.line, 2);
}

TEST(LoadConfig, PlatformDefaults) {
  ScopedEnv a("CHORUS_T_ID", "i"), b("CHORUS_T_PW", "p"), d("CHORUS_T_CID", "c"),
      e("CHORUS_T_CS", "s");
  const LoadResult r = Load(R"(
sources:
  - {name: b, platform: bluesky, base_url: https://bsky.social, identifier_env: CHORUS_T_ID, password_env: CHORUS_T_PW}
  - {name: r, platform: reddit, base_url: http://127.0.0.1:8080//, client_id_env: CHORUS_T_CID, client_secret_env: CHORUS_T_CS, user_agent: "linux:test:v1 by u/t"}
)",
                            /*check_env=*/true);
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  EXPECT_EQ(r.config->sources[0].page_limit, 100);
  EXPECT_EQ(r.config->sources[0].auth_url, "");
  EXPECT_EQ(r.config->sources[1].page_limit, 100);
  EXPECT_EQ(r.config->sources[1].auth_url, "https://www.reddit.com");
  EXPECT_EQ(r.config->sources[1].base_url, "http://127.0.0.1:8080");
}

TEST(LoadConfig, RuleDefaults) {
  const LoadResult r = Load(R"(
campaigns: [{name: c, keywords: [x]}]
alerts:
  rules:
    - {name: s, kind: spike, campaign: c}
)");
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  const Rule& rule = r.config->rules[0];
  EXPECT_EQ(rule.window_ms, 15 * 60'000);
  EXPECT_EQ(rule.threshold, 3.0);
  EXPECT_EQ(rule.max_age_ms, 24LL * 3'600'000);
  EXPECT_TRUE(rule.receivers.empty());
}

TEST(LoadConfig, ReadsEveryValue) {
  const LoadResult r = Load(R"(
storage:
  path: /srv/chorus
  retention: {posts: 7d, minute: 1d, hour: 30d, day: 365d}
http: {listen: "[::1]:9751", web_config_file: /etc/chorus/web.yml}
sources:
  - name: m
    platform: mastodon
    base_url: http://127.0.0.1:1234
    poll_interval: 100ms
    backfill: 0
    overlap: 30s
    timeout: 2s
    page_limit: 5
    user_agent: test-agent
campaigns:
  - {name: c, keywords: ["School Funding"]}
alerts:
  receivers: [{name: r, format: json, url_env: SOME_URL}]
  rules:
    - {name: s, kind: spike, campaign: c, window: 1h, threshold: 2.5, max_age: 2h, receivers: [r, r]}
)");
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.storage.path, "/srv/chorus");
  EXPECT_EQ(c.storage.retention.posts_ms, 7 * 86'400'000LL);
  EXPECT_EQ(c.storage.retention.day_ms, 365 * 86'400'000LL);
  EXPECT_EQ(c.http.listen, "[::1]:9751");
  EXPECT_EQ(c.http.web_config_file, "/etc/chorus/web.yml");
  const Source& s = c.sources[0];
  EXPECT_EQ(s.poll_interval_ms, 100);
  EXPECT_EQ(s.backfill_ms, 0);
  EXPECT_EQ(s.overlap_ms, 30'000);
  EXPECT_EQ(s.timeout_ms, 2'000);
  EXPECT_EQ(s.page_limit, 5);
  EXPECT_EQ(s.user_agent, "test-agent");
  EXPECT_THAT(c.campaigns[0].keywords, ElementsAre("School Funding"));  // as written
  const Rule& rule = c.rules[0];
  EXPECT_EQ(rule.window_ms, 3'600'000);
  EXPECT_EQ(rule.threshold, 2.5);
  EXPECT_EQ(rule.max_age_ms, 7'200'000);
  EXPECT_THAT(rule.receivers, ElementsAre("r"));
}

TEST(LoadConfig, EmptyFileIsAllDefaults) {
  const LoadResult r = Load("# nothing configured yet\n");
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  EXPECT_TRUE(r.config->sources.empty());
  EXPECT_EQ(r.config->http.listen, "127.0.0.1:9750");
}

TEST(NormalizeHashtag, StripsHashAndLowercasesAscii) {
  EXPECT_EQ(NormalizeHashtag("#FundOurSchools"), "fundourschools");
  EXPECT_EQ(NormalizeHashtag("EdEquity"), "edequity");
  EXPECT_EQ(NormalizeHashtag("##Twice"), "twice");
  EXPECT_EQ(NormalizeHashtag("#ÉcoleLibre"), "Écolelibre");  // non-ASCII bytes kept as they are
  EXPECT_EQ(NormalizeHashtag(""), "");
}

TEST(LoadConfig, NormalizesAndDeduplicatesCampaignHashtags) {
  const LoadResult r = Load(R"(
campaigns:
  - name: c
    hashtags: ["#FundOurSchools", fundourschools, EdEquity, "#ÉCOLE"]
)");
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  EXPECT_THAT(r.config->campaigns[0].hashtags, ElementsAre("fundourschools", "edequity", "École"));
}

TEST(LoadConfig, NormalizesAccounts) {
  const LoadResult r = Load(R"(
people:
  policymakers:
    - id: p
      accounts: {x: "@SenJaneDoe", mastodon: "@JaneDoe@Gov.Example", bluesky: JaneDoe.bsky.social, reddit: u/SenDoe}
  coalition:
    - id: p
      accounts: {reddit: /u/Member}
)");
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  const auto& a = r.config->policymakers[0].accounts;
  EXPECT_EQ(a.at(Platform::kX), "senjanedoe");
  EXPECT_EQ(a.at(Platform::kMastodon), "janedoe@gov.example");
  EXPECT_EQ(a.at(Platform::kBluesky), "janedoe.bsky.social");
  EXPECT_EQ(a.at(Platform::kReddit), "sendoe");
  // The same id in the other list is a different person.
  EXPECT_EQ(r.config->coalition[0].accounts.at(Platform::kReddit), "member");
}

// ---- Problems: YAML, file, structure --------------------------------------------------------

TEST(LoadConfig, YamlSyntaxErrorIsOneProblemWithItsLine) {
  const LoadResult r = Load(R"(
storage:
  path: /srv
sources:
  - name: a
   platform: mastodon
)");
  const Problem p = Only(r);
  EXPECT_EQ(p.file, "test.yml");
  EXPECT_EQ(p.line, 5);
  EXPECT_GT(p.col, 0);
  EXPECT_THAT(p.message, HasSubstr("YAML syntax error"));
}

TEST(LoadConfig, UnclosedFlowSequenceIsASyntaxError) {
  const Problem p = Only(Load("campaigns:\n  - {name: c, hashtags: [a, b}\n"));
  EXPECT_THAT(p.message, HasSubstr("YAML syntax error"));
  EXPECT_EQ(p.line, 2);
}

TEST(LoadConfig, SyntaxErrorHintsAtUnquotedHashtags) {
  const Problem p = Only(Load(R"(
campaigns:
  - name: c
    hashtags: [#FundOurSchools]
  - name: d
)"));
  EXPECT_THAT(p.message, HasSubstr("YAML syntax error"));
  EXPECT_THAT(p.message, HasSubstr("quote hashtags"));
}

TEST(LoadConfig, SyntaxErrorHintsAtTabs) {
  const Problem p = Only(Load("sources:\n\t- name: a\n"));
  EXPECT_EQ(p.line, 2);
  EXPECT_THAT(p.message, HasSubstr("tabs cannot indent YAML"));
}

TEST(LoadConfigFile, MissingFileIsOneProblemWithoutLine) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/absent.yml";
  const LoadResult r = LoadConfigFile(path);
  const Problem p = Only(r);
  EXPECT_EQ(p.file, path);
  EXPECT_EQ(p.line, 0);
  EXPECT_THAT(p.message, HasSubstr("No such file"));
  EXPECT_EQ(p.ToString(), path + ": " + p.message);
}

TEST(LoadConfigFile, DirectoryIsOneProblem) {
  testing::TempDir dir;
  const Problem p = Only(LoadConfigFile(dir.path()));
  EXPECT_EQ(p.line, 0);
  EXPECT_THAT(p.message, HasSubstr("cannot read"));
}

TEST(LoadConfigFile, ReportsProblemsWithThePath) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/chorus.yml";
  std::ofstream(path) << "storage:\n  pth: /x\n";
  const Problem p = Only(LoadConfigFile(path));
  EXPECT_EQ(p.ToString(), path + ":2:3: storage: unknown key 'pth' (did you mean 'path'?)");
}

TEST(Problem, ToStringIsFileLineColMessage) {
  EXPECT_EQ((Problem{"chorus.yml", 12, 5, "sources[0].platform: x"}).ToString(),
            "chorus.yml:12:5: sources[0].platform: x");
  EXPECT_EQ((Problem{"chorus.yml", 0, 0, "cannot open"}).ToString(), "chorus.yml: cannot open");
}

TEST(LoadConfig, UnknownKeysAtEveryLevel) {
  const LoadResult r = Load(R"(
storage:
  retention: {posts: 1d, weeks: 2d}
sources:
  - name: a
    platform: mastodon
    base_url: https://m.example
    pol_interval: 30s
colour: blue
alerts:
  rules:
    - {name: r, kind: spike, campaign: c, treshold: 2}
campaigns: [{name: c, keywords: [k]}]
)");
  ASSERT_EQ(r.problems.size(), 4u) << Dump(r);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_EQ(r.problems[0].message,
            "storage.retention: unknown key 'weeks' (expected posts, minute, hour or day)");
  EXPECT_EQ(r.problems[1].line, 7);
  EXPECT_EQ(r.problems[1].col, 5);
  EXPECT_EQ(r.problems[1].message,
            "sources[0]: unknown key 'pol_interval' (did you mean 'poll_interval'?)");
  EXPECT_EQ(r.problems[2].line, 8);
  EXPECT_EQ(r.problems[2].col, 1);
  EXPECT_THAT(r.problems[2].message, HasSubstr("unknown key 'colour'"));
  EXPECT_EQ(r.problems[3].line, 11);
  EXPECT_THAT(r.problems[3].message,
              HasSubstr("alerts.rules[0]: unknown key 'treshold' (did you mean 'threshold'?)"));
}

TEST(LoadConfig, DuplicateKeyIsAProblem) {
  const Problem p = Only(Load(R"(
http:
  listen: 127.0.0.1:1
  listen: 127.0.0.1:2
)"));
  EXPECT_EQ(p.line, 3);
  EXPECT_EQ(p.message, "http: duplicate key 'listen' (first at line 2)");
}

TEST(LoadConfig, WrongTypes) {
  const LoadResult r = Load(R"(
storage: /var/lib/chorus
sources: {name: a}
campaigns:
  - name: c
    hashtags: FundOurSchools
    keywords: [[nested]]
people:
  policymakers:
    - id: p
      accounts: [x, SenDoe]
alerts: [receivers]
)");
  ASSERT_EQ(r.problems.size(), 6u) << Dump(r);
  EXPECT_EQ(r.problems[0].message, "storage: expected a mapping, got '/var/lib/chorus'");
  EXPECT_EQ(r.problems[0].line, 1);
  EXPECT_EQ(r.problems[1].message, "sources: expected a list, got a mapping");
  EXPECT_EQ(r.problems[2].message, "campaigns[0].hashtags: expected a list, got 'FundOurSchools'");
  EXPECT_EQ(r.problems[2].line, 5);
  EXPECT_EQ(r.problems[3].message, "campaigns[0].keywords[0]: expected a string, got a list");
  EXPECT_EQ(r.problems[4].line, 10);
  EXPECT_THAT(r.problems[4].message,
              HasSubstr("people.policymakers[0].accounts: expected a mapping"));
  EXPECT_EQ(r.problems[5].message, "alerts: expected a mapping, got a list");
}

TEST(LoadConfig, TopLevelMustBeAMapping) {
  const Problem p = Only(Load("- a\n- b\n"));
  EXPECT_EQ(p.message, "expected a mapping, got a list");
}

TEST(LoadConfig, MoreThanOneDocumentIsAProblem) {
  const Problem p = Only(Load("storage: {path: /a}\n---\nstorage: {path: /b}\n"));
  EXPECT_THAT(p.message, HasSubstr("expected one YAML document, found 2"));
}

TEST(LoadConfig, ReportsEveryProblemAtOnceInFileOrder) {
  const LoadResult r = Load(R"(
alerts:
  rules:
    - {name: spike, kind: spike, campaign: nope, receivers: [ghost]}
sources:
  - name: a
    platform: mastadon
    base_url: ftp://a.example
  - name: a
    platform: mastodon
    base_url: https://b.example
    poll_interval: 1 minute
campaigns:
  - name: empty
http:
  listen: localhost
)");
  ASSERT_EQ(r.problems.size(), 8u) << Dump(r);
  EXPECT_FALSE(r.config.has_value());
  std::vector<int> lines;
  for (const auto& p : r.problems) lines.push_back(p.line);
  EXPECT_THAT(lines, ElementsAre(3, 3, 6, 7, 8, 11, 13, 15));
  EXPECT_THAT(r.problems[0].message + r.problems[1].message, HasSubstr("no campaign named 'nope'"));
  EXPECT_THAT(r.problems[0].message + r.problems[1].message,
              HasSubstr("no receiver named 'ghost'"));
  EXPECT_THAT(r.problems[2].message, HasSubstr("sources[0].platform: unknown platform 'mastadon'"));
  EXPECT_THAT(r.problems[3].message, HasSubstr("sources[0].base_url: must start with https://"));
  EXPECT_EQ(r.problems[4].message,
            "sources[1].name: duplicate source name 'a' (first defined at line 5)");
  EXPECT_THAT(r.problems[5].message, HasSubstr("sources[1].poll_interval: not a duration"));
  EXPECT_EQ(r.problems[6].message,
            "campaigns[0]: a campaign needs at least one hashtag or keyword");
  EXPECT_THAT(r.problems[7].message, HasSubstr("http.listen: expected host:port"));
}

// ---- Problems: sources -----------------------------------------------------------------------

TEST(Sources, UnknownPlatformNamesKeyAndChoices) {
  const LoadResult r = Load(R"(
sources:
  - name: a
    platform: mastodon
    base_url: https://a.example
  - name: b
    platform: mastadon
    base_url: https://b.example
)");
  const Problem p = Only(r);
  EXPECT_EQ(p.line, 6);
  EXPECT_EQ(p.col, 15);
  EXPECT_EQ(p.message,
            "sources[1].platform: unknown platform 'mastadon' (expected mastodon, bluesky, x or "
            "reddit)");
  EXPECT_EQ(p.ToString(),
            "test.yml:6:15: sources[1].platform: unknown platform 'mastadon' (expected mastodon, "
            "bluesky, x or reddit)");
}

TEST(Sources, RequiredKeys) {
  const LoadResult r = Load(R"(
sources:
  - platform: mastodon
  - name: ""
    platform:
    base_url: https://a.example
)");
  ASSERT_EQ(r.problems.size(), 4u) << Dump(r);
  EXPECT_EQ(r.problems[0].message, "sources[0].name: is required");
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_EQ(r.problems[1].message, "sources[0].base_url: is required");
  EXPECT_EQ(r.problems[2].message, "sources[1].name: must not be empty");
  EXPECT_EQ(r.problems[2].line, 3);
  EXPECT_EQ(r.problems[3].message, "sources[1].platform: is required");
  EXPECT_EQ(r.problems[3].line, 4);
}

TEST(Sources, BaseUrlMustBeHttpOrHttps) {
  const LoadResult r = Load(R"(
sources:
  - {name: a, platform: mastodon, base_url: mastodon.social}
  - {name: b, platform: mastodon, base_url: "https://"}
  - {name: c, platform: mastodon, base_url: "http://127.0.0.1:8080/"}
)");
  ASSERT_EQ(r.problems.size(), 2u) << Dump(r);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_EQ(r.problems[0].message,
            "sources[0].base_url: must start with https:// or http://, got 'mastodon.social'");
  EXPECT_EQ(r.problems[1].line, 3);
  EXPECT_THAT(r.problems[1].message, HasSubstr("sources[1].base_url: not a valid URL"));
}

TEST(Sources, Durations) {
  const LoadResult r = Load(R"(
sources:
  - name: a
    platform: mastodon
    base_url: https://a.example
    poll_interval: 50ms
    backfill: 1.5h
    overlap: -1m
    timeout: 0
  - name: b
    platform: mastodon
    base_url: https://a.example
    backfill: 99999999999d
)");
  ASSERT_EQ(r.problems.size(), 5u) << Dump(r);
  EXPECT_EQ(r.problems[0].line, 5);
  EXPECT_EQ(r.problems[0].message, "sources[0].poll_interval: must be at least 100ms, got '50ms'");
  EXPECT_EQ(r.problems[1].line, 6);
  EXPECT_THAT(r.problems[1].message, HasSubstr("sources[0].backfill: not a duration"));
  EXPECT_THAT(r.problems[1].message, HasSubstr("'1.5h'"));
  EXPECT_EQ(r.problems[2].line, 7);
  EXPECT_THAT(r.problems[2].message, HasSubstr("sources[0].overlap: not a duration"));
  EXPECT_EQ(r.problems[3].line, 8);
  EXPECT_THAT(r.problems[3].message, HasSubstr("sources[0].timeout: must be at least 100ms"));
  EXPECT_EQ(r.problems[4].line, 12);
  EXPECT_THAT(r.problems[4].message,
              HasSubstr("sources[1].backfill: duration '99999999999d' is too large"));
}

TEST(Sources, PageLimitRange) {
  ScopedEnv token("CHORUS_T_X", "x");
  const LoadResult r = Load(R"(
sources:
  - {name: a, platform: mastodon, base_url: https://a.example, page_limit: 0}
  - {name: b, platform: mastodon, base_url: https://a.example, page_limit: 41}
  - {name: c, platform: x, base_url: https://api.x.com, token_env: CHORUS_T_X, page_limit: 5}
  - {name: d, platform: x, base_url: https://api.x.com, token_env: CHORUS_T_X, page_limit: 100}
  - {name: e, platform: mastodon, base_url: https://a.example, page_limit: forty}
)");
  ASSERT_EQ(r.problems.size(), 4u) << Dump(r);
  EXPECT_EQ(r.problems[0].message,
            "sources[0].page_limit: must be between 1 and 40 for mastodon sources, got 0");
  EXPECT_EQ(r.problems[1].line, 3);
  EXPECT_THAT(r.problems[1].message, HasSubstr("got 41"));
  EXPECT_EQ(r.problems[2].message,
            "sources[2].page_limit: must be between 10 and 100 for x sources, got 5");
  EXPECT_EQ(r.problems[3].message, "sources[4].page_limit: expected an integer, got 'forty'");
}

TEST(Sources, PlatformCredentialsAreRequired) {
  const LoadResult r = Load(R"(
sources:
  - name: b
    platform: bluesky
    base_url: https://bsky.social
  - name: r
    platform: reddit
    base_url: https://oauth.reddit.com
  - name: x
    platform: x
    base_url: https://api.x.com
  - name: m
    platform: mastodon
    base_url: https://mastodon.social
)");
  ASSERT_EQ(r.problems.size(), 6u) << Dump(r);
  EXPECT_EQ(r.problems[0].message, "sources[0].identifier_env: is required for bluesky sources");
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_EQ(r.problems[1].message, "sources[0].password_env: is required for bluesky sources");
  EXPECT_EQ(r.problems[2].message, "sources[1].client_id_env: is required for reddit sources");
  EXPECT_EQ(r.problems[2].line, 5);
  EXPECT_EQ(r.problems[3].message, "sources[1].client_secret_env: is required for reddit sources");
  EXPECT_EQ(r.problems[4].message, "sources[1].user_agent: is required for reddit sources");
  EXPECT_EQ(r.problems[5].message, "sources[2].token_env: is required for x sources");
  EXPECT_EQ(r.problems[5].line, 8);
}

TEST(Sources, KeysOfAnotherPlatformAreProblems) {
  const LoadResult r = Load(R"(
sources:
  - name: m
    platform: mastodon
    base_url: https://mastodon.social
    password_env: SOME_PASSWORD
    auth_url: https://www.reddit.com
)");
  ASSERT_EQ(r.problems.size(), 2u) << Dump(r);
  EXPECT_EQ(r.problems[0].line, 5);
  EXPECT_EQ(r.problems[0].message, "sources[0].password_env: is used only by bluesky sources");
  EXPECT_EQ(r.problems[1].message, "sources[0].auth_url: is used only by reddit sources");
}

// ---- Environment variables -------------------------------------------------------------------

constexpr std::string_view kXSource = R"(
sources:
  - name: x
    platform: x
    base_url: https://api.x.com
    token_env: CHORUS_TEST_X_TOKEN
)";

TEST(Env, UnsetVariableIsAProblemNamingIt) {
  unsetenv("CHORUS_TEST_X_TOKEN");
  const Problem p = Only(Load(kXSource, /*check_env=*/true));
  EXPECT_EQ(p.line, 5);
  EXPECT_EQ(p.col, 16);
  EXPECT_EQ(p.message, "sources[0].token_env: environment variable CHORUS_TEST_X_TOKEN is not set");
}

TEST(Env, EmptyVariableIsAProblem) {
  ScopedEnv token("CHORUS_TEST_X_TOKEN", "");
  const Problem p = Only(Load(kXSource, /*check_env=*/true));
  EXPECT_THAT(p.message, HasSubstr("CHORUS_TEST_X_TOKEN is empty"));
}

TEST(Env, SetVariableIsFineAndItsValueIsNeverRead) {
  ScopedEnv token("CHORUS_TEST_X_TOKEN", "s3cr3t-value");
  const LoadResult r = Load(kXSource, /*check_env=*/true);
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  EXPECT_EQ(r.config->sources[0].token_env, "CHORUS_TEST_X_TOKEN");
}

TEST(Env, NotCheckedWhenCheckEnvIsFalse) {
  unsetenv("CHORUS_TEST_X_TOKEN");
  const LoadResult r = Load(kXSource, /*check_env=*/false);
  EXPECT_THAT(r.problems, IsEmpty()) << Dump(r);
}

TEST(Env, ASecretPastedInsteadOfANameIsNotEchoed) {
  const Problem p = Only(Load(R"(
sources:
  - {name: x, platform: x, base_url: https://api.x.com, token_env: "AAAA%2Fsecret-token"}
)"));
  EXPECT_THAT(p.message, HasSubstr("sources[0].token_env: must be the NAME of an environment"));
  EXPECT_THAT(p.message, Not(HasSubstr("secret-token")));
}

TEST(Env, ShellStyleReferenceGetsAHint) {
  const Problem p = Only(Load(R"(
sources:
  - {name: x, platform: x, base_url: https://api.x.com, token_env: "${X_TOKEN}"}
)"));
  EXPECT_EQ(p.message, "sources[0].token_env: write the variable's name without '$', e.g. X_TOKEN");
}

TEST(Env, EveryEnvKeyIsChecked) {
  unsetenv("CHORUS_T_MISSING_ID");
  unsetenv("CHORUS_T_MISSING_PW");
  unsetenv("CHORUS_T_MISSING_CID");
  unsetenv("CHORUS_T_MISSING_CS");
  unsetenv("CHORUS_T_MISSING_MT");
  unsetenv("CHORUS_T_MISSING_HOOK");
  const LoadResult r = Load(R"(
sources:
  - {name: b, platform: bluesky, base_url: https://bsky.social, identifier_env: CHORUS_T_MISSING_ID, password_env: CHORUS_T_MISSING_PW}
  - {name: r, platform: reddit, base_url: https://oauth.reddit.com, client_id_env: CHORUS_T_MISSING_CID, client_secret_env: CHORUS_T_MISSING_CS, user_agent: ua}
  - {name: m, platform: mastodon, base_url: https://m.example, token_env: CHORUS_T_MISSING_MT}
alerts:
  receivers: [{name: r, format: slack, url_env: CHORUS_T_MISSING_HOOK}]
)",
                            /*check_env=*/true);
  ASSERT_EQ(r.problems.size(), 6u) << Dump(r);
  for (const char* name :
       {"identifier_env: environment variable CHORUS_T_MISSING_ID",
        "password_env: environment variable CHORUS_T_MISSING_PW",
        "client_id_env: environment variable CHORUS_T_MISSING_CID",
        "client_secret_env: environment variable CHORUS_T_MISSING_CS",
        "sources[2].token_env: environment variable CHORUS_T_MISSING_MT",
        "alerts.receivers[0].url_env: environment variable CHORUS_T_MISSING_HOOK"}) {
    EXPECT_THAT(Dump(r), HasSubstr(name));
  }
}

// ---- Campaigns and people --------------------------------------------------------------------

TEST(Campaigns, Problems) {
  const LoadResult r = Load(R"(
campaigns:
  - name: c
    hashtags: ["Fund Our Schools", "#", "", "a#b"]
    keywords: ["  "]
  - name: c
    keywords: [ok]
  - name: d
    hashtags: []
  - hashtags: [x]
)");
  ASSERT_EQ(r.problems.size(), 8u) << Dump(r);
  EXPECT_EQ(r.problems[0].line, 3);
  EXPECT_EQ(r.problems[0].message,
            "campaigns[0].hashtags[0]: hashtag 'Fund Our Schools' contains a space (use keywords "
            "for phrases)");
  EXPECT_EQ(r.problems[1].message, "campaigns[0].hashtags[1]: empty hashtag");
  EXPECT_EQ(r.problems[2].message, "campaigns[0].hashtags[2]: empty hashtag");
  EXPECT_THAT(r.problems[3].message,
              HasSubstr("campaigns[0].hashtags[3]: hashtag 'a#b' contains '#'"));
  EXPECT_EQ(r.problems[4].message, "campaigns[0].keywords[0]: empty keyword");
  EXPECT_EQ(r.problems[4].line, 4);
  EXPECT_EQ(r.problems[5].message,
            "campaigns[1].name: duplicate campaign name 'c' (first defined at line 2)");
  EXPECT_EQ(r.problems[5].line, 5);
  EXPECT_EQ(r.problems[6].message,
            "campaigns[2]: a campaign needs at least one hashtag or keyword");
  EXPECT_EQ(r.problems[6].line, 7);
  EXPECT_EQ(r.problems[7].message, "campaigns[3].name: is required");
}

TEST(People, Problems) {
  const LoadResult r = Load(R"(
people:
  policymakers:
    - id: a
      accounts: {mastadon: a@x.example, x: ""}
    - id: a
      accounts: {mastodon: bare_name}
    - name: No Id
  coalition:
    - id: a
      accounts: {bluesky: "two words"}
  staff: []
)");
  ASSERT_EQ(r.problems.size(), 7u) << Dump(r);
  EXPECT_EQ(r.problems[0].line, 4);
  EXPECT_EQ(r.problems[0].message,
            "people.policymakers[0].accounts: unknown platform 'mastadon' (expected mastodon, "
            "bluesky, x or reddit)");
  EXPECT_EQ(r.problems[1].message, "people.policymakers[0].accounts.x: must not be empty");
  EXPECT_EQ(r.problems[2].message,
            "people.policymakers[1].id: duplicate id 'a' (first defined at line 3)");
  EXPECT_EQ(r.problems[2].line, 5);
  EXPECT_THAT(r.problems[3].message,
              HasSubstr("people.policymakers[1].accounts.mastodon: mastodon account 'bare_name' "
                        "must be fully qualified"));
  EXPECT_EQ(r.problems[4].message, "people.policymakers[2].id: is required");
  EXPECT_EQ(r.problems[4].line, 7);
  EXPECT_THAT(r.problems[5].message, HasSubstr("people.coalition[0].accounts.bluesky: account"));
  EXPECT_EQ(r.problems[6].line, 11);
  EXPECT_THAT(r.problems[6].message, HasSubstr("people: unknown key 'staff'"));
}

// ---- Alerts ----------------------------------------------------------------------------------

TEST(Alerts, ReceiverProblems) {
  const LoadResult r = Load(R"(
alerts:
  receivers:
    - {name: a, format: teams, url_env: A_URL}
    - {name: a, format: json, url_env: B_URL}
    - {name: c, format: slack}
)");
  ASSERT_EQ(r.problems.size(), 3u) << Dump(r);
  EXPECT_EQ(r.problems[0].line, 3);
  EXPECT_EQ(r.problems[0].message,
            "alerts.receivers[0].format: unknown format 'teams' (expected slack, json or "
            "alertmanager)");
  EXPECT_EQ(r.problems[1].message,
            "alerts.receivers[1].name: duplicate receiver name 'a' (first defined at line 3)");
  EXPECT_EQ(r.problems[1].line, 4);
  EXPECT_EQ(r.problems[2].message, "alerts.receivers[2].url_env: is required");
  EXPECT_EQ(r.problems[2].line, 5);
}

TEST(Alerts, RuleProblems) {
  const LoadResult r = Load(R"(
campaigns: [{name: fund, hashtags: [f]}]
alerts:
  receivers: [{name: comms, format: slack, url_env: HOOK}]
  rules:
    - name: m
      kind: policymaker_mentioned
      receivers: [comms, nobody]
    - name: m
      kind: spike
      window: 0
      threshold: -1
    - name: s
      kind: spike
      campaign: fnud
      threshold: lots
    - name: p
      kind: policymaker_response
      window: 1h
      max_age: 0
)");
  ASSERT_EQ(r.problems.size(), 10u) << Dump(r);
  EXPECT_EQ(r.problems[0].line, 6);
  EXPECT_EQ(r.problems[0].message,
            "alerts.rules[0].kind: unknown kind 'policymaker_mentioned' (expected "
            "policymaker_mention, policymaker_response or spike)");
  EXPECT_EQ(r.problems[1].line, 7);
  EXPECT_EQ(r.problems[1].message,
            "alerts.rules[0].receivers[1]: no receiver named 'nobody' in alerts.receivers");
  // The missing campaign points at the rule itself, which starts before its name's value.
  EXPECT_EQ(r.problems[2].message, "alerts.rules[1].campaign: is required for spike rules");
  EXPECT_EQ(r.problems[2].line, 8);
  EXPECT_EQ(r.problems[3].message,
            "alerts.rules[1].name: duplicate rule name 'm' (first defined at line 5)");
  EXPECT_EQ(r.problems[4].message, "alerts.rules[1].window: must be at least 1ms, got '0'");
  EXPECT_EQ(r.problems[5].message, "alerts.rules[1].threshold: must be greater than 0");
  EXPECT_EQ(r.problems[6].message,
            "alerts.rules[2].campaign: no campaign named 'fnud' in campaigns");
  EXPECT_EQ(r.problems[6].line, 14);
  EXPECT_EQ(r.problems[7].message, "alerts.rules[2].threshold: expected a number, got 'lots'");
  EXPECT_EQ(r.problems[8].message, "alerts.rules[3].window: is used only by spike rules");
  EXPECT_EQ(r.problems[8].line, 18);
  EXPECT_EQ(r.problems[9].message, "alerts.rules[3].max_age: must be at least 1ms, got '0'");
}

// ---- http.listen -----------------------------------------------------------------------------

TEST(Http, ListenMustBeHostPort) {
  const LoadResult r = Load(R"(
http:
  listen: localhost
)");
  const Problem p = Only(r);
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.col, 11);
  EXPECT_EQ(p.message, "http.listen: expected host:port, e.g. 127.0.0.1:9750, got 'localhost'");
}

TEST(ParseHostPort, AcceptsAndRejects) {
  auto ok = [](std::string_view text, std::string host, int port) {
    auto hp = ParseHostPort(text);
    ASSERT_TRUE(hp.has_value()) << text << ": " << hp.error().message;
    EXPECT_EQ(hp->host, host);
    EXPECT_EQ(hp->port, port);
  };
  ok("127.0.0.1:9750", "127.0.0.1", 9750);
  ok("[::1]:9750", "::1", 9750);
  ok("0.0.0.0:65535", "0.0.0.0", 65535);
  ok("localhost:1", "localhost", 1);
  ok("127.0.0.1:0", "127.0.0.1", 0);  // any free port, for tests and --demo
  for (std::string_view bad : {"", "9750", ":9750", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                               "127.0.0.1:http", "::1:9750", "[::1]9750", "[::1:9750", "[]:9750"}) {
    EXPECT_FALSE(ParseHostPort(bad).has_value()) << bad;
  }
  EXPECT_THAT(ParseHostPort("::1:9750").error().message, HasSubstr("needs brackets"));
  EXPECT_THAT(ParseHostPort("127.0.0.1:70000").error().message, HasSubstr("1 to 65535"));
}

TEST(Http, ReportsPortOutOfRange) {
  const Problem p = Only(Load("http: {listen: \"127.0.0.1:70000\"}\n"));
  EXPECT_EQ(p.line, 1);
  EXPECT_THAT(p.message, HasSubstr("http.listen: port must be a number from 1 to 65535"));
}

TEST(Storage, Problems) {
  const LoadResult r = Load(R"(
storage:
  path: ""
  retention:
    posts: forever
    minute: 35
)");
  ASSERT_EQ(r.problems.size(), 3u) << Dump(r);
  EXPECT_EQ(r.problems[0].message, "storage.path: must not be empty");
  EXPECT_EQ(r.problems[1].line, 4);
  EXPECT_THAT(r.problems[1].message, HasSubstr("storage.retention.posts: not a duration"));
  EXPECT_EQ(r.problems[2].line, 5);
  EXPECT_THAT(r.problems[2].message, HasSubstr("storage.retention.minute: not a duration"));
}

// ---- shard -----------------------------------------------------------------------------------

TEST(Shard, ReadsIndexAndTotal) {
  const LoadResult r = Load(R"(
shard: {index: 2, total: 3}
)");
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  EXPECT_EQ(r.config->shard, (Shard{2, 3}));
  EXPECT_TRUE(r.config->shard.sharded());
}

TEST(Shard, OneOfOneIsValidAndNotSharded) {
  const LoadResult r = Load(R"(
shard:
  index: 0
  total: 1
)");
  ASSERT_THAT(r.problems, IsEmpty()) << Dump(r);
  EXPECT_EQ(r.config->shard, (Shard{0, 1}));
  EXPECT_FALSE(r.config->shard.sharded());
}

TEST(Shard, BothKeysAreRequired) {
  {
    const Problem p = Only(Load(R"(
shard:
  total: 3
)"));
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.message, "shard.index: is required");
  }
  {
    const Problem p = Only(Load("shard: {index: 1}\n"));
    EXPECT_EQ(p.line, 1);
    EXPECT_EQ(p.message, "shard.total: is required");
  }
  {
    const Problem p = Only(Load("shard: {index: 1, total: }\n"));
    EXPECT_EQ(p.message, "shard.total: is required");
  }
  // An empty shard section is not read as "no sharding": its author meant to split the list.
  const LoadResult r = Load(R"(
http: {listen: "127.0.0.1:1"}
shard:
sources: []
)");
  const Problem p = Only(r);
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.col, 1);
  EXPECT_EQ(p.message, "shard: expected a mapping {index: I, total: N}, e.g. {index: 0, total: 3}");
}

TEST(Shard, ValuesMustBeIntegers) {
  const LoadResult r = Load(R"(
shard:
  index: first
  total: 2.5
)");
  ASSERT_EQ(r.problems.size(), 2u) << Dump(r);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_EQ(r.problems[0].col, 10);
  EXPECT_EQ(r.problems[0].message, "shard.index: expected an integer, got 'first'");
  EXPECT_EQ(r.problems[1].line, 3);
  EXPECT_EQ(r.problems[1].message, "shard.total: expected an integer, got '2.5'");
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(Only(Load("shard: {index: [0], total: 2}\n")).message,
            "shard.index: expected an integer, got a list");
}

TEST(Shard, TotalMustBeAtLeastOne) {
  for (const char* total : {"0", "-2"}) {
    const Problem p = Only(Load(std::string("shard: {index: 0, total: ") + total + "}\n"));
    EXPECT_EQ(p.line, 1);
    EXPECT_EQ(p.message, std::string("shard.total: must be at least 1, got ") + total);
  }
}

TEST(Shard, IndexMustBeBelowTotal) {
  {
    const Problem p = Only(Load(R"(
shard:
  index: 3
  total: 3
)"));
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.col, 10);
    EXPECT_EQ(p.message,
              "shard.index: must be less than shard.total: shards are numbered 0 to 2, got 3");
  }
  EXPECT_EQ(Only(Load("shard: {index: -1, total: 3}\n")).message,
            "shard.index: must be at least 0, got -1");
  // A bad total says so once; the index is not also blamed against a total that was not read.
  EXPECT_EQ(Only(Load("shard: {index: 5, total: many}\n")).message,
            "shard.total: expected an integer, got 'many'");
  EXPECT_EQ(Only(Load("shard: {index: 5, total: 0}\n")).message,
            "shard.total: must be at least 1, got 0");
}

TEST(Shard, UnknownKeysAndWrongShapeAreRefused) {
  {
    const LoadResult r = Load(R"(
shard:
  index: 0
  total: 2
  totl: 3
  hash: md5
)");
    ASSERT_EQ(r.problems.size(), 2u) << Dump(r);
    EXPECT_EQ(r.problems[0].line, 4);
    EXPECT_EQ(r.problems[0].message, "shard: unknown key 'totl' (did you mean 'total'?)");
    EXPECT_EQ(r.problems[1].line, 5);
    EXPECT_EQ(r.problems[1].message, "shard: unknown key 'hash' (expected index or total)");
  }
  EXPECT_EQ(Only(Load("shard: 1/3\n")).message, "shard: expected a mapping, got '1/3'");
  EXPECT_EQ(Only(Load("shard: [0, 3]\n")).message, "shard: expected a mapping, got a list");
  // A misspelt section name is an unknown top-level key, with the suggestion.
  EXPECT_EQ(Only(Load("shards: {index: 0, total: 3}\n")).message,
            "unknown key 'shards' (did you mean 'shard'?)");
}

}  // namespace
}  // namespace chorus::config
