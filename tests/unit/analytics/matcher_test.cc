#include "analytics/matcher.h"

#include <gtest/gtest.h>

namespace chorus::analytics {
namespace {

config::Config TestConfig() {
  config::Config c;
  c.campaigns.push_back({"fund-our-schools", {"fundourschools", "edequity"}, {"school funding formula"}});
  c.campaigns.push_back({"teachers-count", {"teacherscount"}, {}});
  config::Person doe{"sen-doe", "Sen. Jane Doe", {{Platform::kMastodon, "janedoe@gov.example"}, {Platform::kX, "senjanedoe"}}};
  c.policymakers.push_back(doe);
  c.coalition.push_back({"parents-united", "Parents United", {{Platform::kMastodon, "parents@edu.example"}}});
  return c;
}

Post MastodonPost(std::vector<std::string> tags, std::string text = "") {
  Post p;
  p.platform = Platform::kMastodon;
  p.key = "https://a.example/users/x/statuses/1";
  p.author = "x@a.example";
  p.hashtags = std::move(tags);
  p.text = std::move(text);
  return p;
}

TEST(Matcher, HashtagsMatchWholeTagsOnly) {
  Matcher m(TestConfig());
  auto r = m.Evaluate(MastodonPost({"fundourschools"}));
  EXPECT_EQ(r.campaigns, std::vector<std::string>{"fund-our-schools"});
  ASSERT_EQ(r.terms.size(), 1u);
  EXPECT_EQ(r.terms[0].second, "fundourschools");
  // #FundOurSchoolsNow is a different tag (design §5).
  EXPECT_FALSE(m.Evaluate(MastodonPost({"fundourschoolsnow"})).relevant());
  // A hashtag in the text but not among the tag entities does not count on Mastodon.
  EXPECT_FALSE(m.Evaluate(MastodonPost({}, "#FundOurSchools")).relevant());
}

TEST(Matcher, OnePostCountsOncePerCampaignAndOncePerTerm) {
  Matcher m(TestConfig());
  auto r = m.Evaluate(MastodonPost({"fundourschools", "edequity", "teacherscount"},
                                   "The School Funding Formula is broken"));
  EXPECT_EQ(r.campaigns, (std::vector<std::string>{"fund-our-schools", "teachers-count"}));
  EXPECT_EQ(r.terms.size(), 4u);
}

TEST(Matcher, KeywordsArePhrasesOnWordBoundaries) {
  EXPECT_TRUE(ContainsPhrase("fix the school funding formula now", "school funding formula"));
  EXPECT_TRUE(ContainsPhrase("school funding formula.", "school funding formula"));
  EXPECT_FALSE(ContainsPhrase("preschool funding formula", "school funding formula"));
  EXPECT_FALSE(ContainsPhrase("school funding formulas", "school funding formula"));
  EXPECT_FALSE(ContainsPhrase("school  funding formula", "school funding formula"));
  EXPECT_TRUE(ContainsPhrase("écoles: school funding formula", "school funding formula"));
  EXPECT_FALSE(ContainsPhrase("anything", ""));
  Matcher m(TestConfig());
  EXPECT_TRUE(m.Evaluate(MastodonPost({}, "SCHOOL FUNDING FORMULA!")).relevant());
}

TEST(Matcher, MentionsAuthorsAndCoalitionByPlatformAccount) {
  Matcher m(TestConfig());
  Post p = MastodonPost({"fundourschools"});
  p.mentions = {"janedoe@gov.example"};
  auto r = m.Evaluate(p);
  EXPECT_EQ(r.mentioned_policymakers, std::vector<std::string>{"sen-doe"});
  // The X handle does not match a Mastodon mention.
  p.mentions = {"senjanedoe"};
  EXPECT_TRUE(m.Evaluate(p).mentioned_policymakers.empty());
  // A mention alone, without campaign terms, is still relevant.
  Post q = MastodonPost({});
  q.mentions = {"janedoe@gov.example"};
  EXPECT_TRUE(m.Evaluate(q).relevant());
  EXPECT_TRUE(m.Evaluate(q).campaigns.empty());
  Post by_member = MastodonPost({"edequity"});
  by_member.author = "parents@edu.example";
  EXPECT_EQ(m.Evaluate(by_member).coalition_member, "parents-united");
  Post by_doe = MastodonPost({"edequity"});
  by_doe.author = "janedoe@gov.example";
  EXPECT_EQ(m.Evaluate(by_doe).author_policymaker, "sen-doe");
}

}  // namespace
}  // namespace chorus::analytics
