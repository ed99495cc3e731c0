#include "collectors/x_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "collectors/x_collector.h"
#include "core/time.h"
#include "tests/testlib/test_util.h"

namespace chorus::collectors {
namespace {

using ::chorus::testing::ReadFixture;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

int64_t Ms(std::string_view rfc3339) {
  auto ms = ParseRfc3339Ms(rfc3339);
  EXPECT_TRUE(ms.has_value()) << rfc3339;
  return ms.value_or(0);
}

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << "test bug: '" << from << "' not in the template";
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

XPage MustParse(std::string_view body) {
  auto page = ParseXPostsPage(body);
  EXPECT_TRUE(page.has_value()) << page.error().ToString();
  return page.value_or(XPage{});
}

void ExpectParseError(std::string_view body, std::string_view message_part = "") {
  auto page = ParseXPostsPage(body);
  ASSERT_FALSE(page.has_value()) << "parsed " << page->posts.size()
                                 << " posts from: " << body.substr(0, 300);
  EXPECT_EQ(page.error().code, ErrorCode::kParse);
  EXPECT_THAT(page.error().message, HasSubstr(std::string(message_part)));
}

std::string AsciiLowerForTest(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

const Post* Find(const std::vector<Post>& posts, const std::string& key) {
  for (const Post& p : posts) {
    if (p.key == key) return &p;
  }
  return nullptr;
}

void ExpectWellFormed(const std::vector<Post>& posts) {
  std::set<std::string> keys;
  for (const Post& p : posts) {
    EXPECT_EQ(p.platform, Platform::kX);
    EXPECT_TRUE(ParseXId(p.key).has_value()) << p.key;
    EXPECT_TRUE(ParseXId(p.local_id).has_value()) << p.local_id;
    EXPECT_TRUE(keys.insert(p.key).second) << "key twice in one page: " << p.key;
    EXPECT_THAT(p.url, HasSubstr("/status/" + p.local_id));
    EXPECT_GT(p.created_at_ms, Ms("2020-01-01T00:00:00Z"));
    EXPECT_FALSE(p.text.empty());
    EXPECT_EQ(p.text.rfind("RT @", 0), std::string::npos)
        << "a retweet was emitted as a post: " << p.text;
    for (const auto& t : p.hashtags) EXPECT_EQ(t, AsciiLowerForTest(t));
    for (const auto& m : p.mentions) EXPECT_EQ(m, AsciiLowerForTest(m));
  }
}

// ---- recorded pages ----

TEST(XParserTest, RecentSearchWithoutFieldsTweepy) {
  const XPage page = MustParse(ReadFixture("twitter/search_recent_tweepy.json"));
  ASSERT_EQ(page.posts.size(), 10u);
  ExpectWellFormed(page.posts);
  EXPECT_EQ(page.next_token, "b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul");
  EXPECT_EQ(page.newest_id, "1578516068309794817");
  EXPECT_EQ(page.oldest_id, "1578511538419212288");
  EXPECT_EQ(page.result_count, 10);
  EXPECT_EQ(page.max_data_id, 1578516068309794817u);
  EXPECT_EQ(page.data_count, 10);
  EXPECT_EQ(page.retweets, 0);
  EXPECT_THAT(page.errors, IsEmpty());

  const Post& first = page.posts[0];
  EXPECT_EQ(first.key, "1578516068309794817");
  EXPECT_EQ(first.local_id, "1578516068309794817");
  EXPECT_EQ(first.text, "2022-10-07 22:42:12.637103 tweepy");
  // No tweet.fields were asked for: created_at comes from the id's snowflake time, which the
  // text (written by the posting script) confirms to the second.
  EXPECT_NEAR(first.created_at_ms, Ms("2022-10-07T22:42:12.637Z"), 1000);
  EXPECT_EQ(first.author, "");
  EXPECT_EQ(first.url, "https://x.com/i/web/status/1578516068309794817");
  EXPECT_THAT(first.hashtags, IsEmpty());
  EXPECT_EQ(first.engagement, Engagement{});
  for (size_t i = 1; i < page.posts.size(); ++i) {
    EXPECT_LT(page.posts[i].created_at_ms, page.posts[i - 1].created_at_ms);
    EXPECT_NEAR(page.posts[i - 1].created_at_ms - page.posts[i].created_at_ms, 120'000, 1'000);
  }
}

TEST(XParserTest, FiveResultsWithRetweetsFoldIntoOriginals) {
  const XPage page = MustParse(ReadFixture("twitter/search_all_commtwitter_expansions_5.json"));
  ExpectWellFormed(page.posts);
  EXPECT_EQ(page.data_count, 5);
  EXPECT_EQ(page.retweets, 3);
  EXPECT_EQ(page.missing_originals, 0);
  EXPECT_EQ(page.max_data_id, 1400199391961620488u);
  EXPECT_EQ(page.result_count, 5);
  EXPECT_EQ(page.next_token, "");
  // Three retweets of two originals (one of which is also a result of its own) and one more
  // original: three posts, none of them a retweet.
  ASSERT_EQ(page.posts.size(), 3u);
  EXPECT_EQ(page.posts[0].key, "1391807748346683397");
  EXPECT_EQ(page.posts[1].key, "1399780280710221834");
  EXPECT_EQ(page.posts[2].key, "1399765322509557763");

  const Post& original = page.posts[0];  // from includes.tweets
  EXPECT_EQ(original.author, "natcomm");
  EXPECT_EQ(original.author_followers, 12326);
  EXPECT_EQ(original.url, "https://x.com/NatComm/status/1391807748346683397");
  EXPECT_EQ(original.created_at_ms, Ms("2021-05-10T17:30:00.000Z"));
  EXPECT_THAT(original.hashtags, ElementsAre("altac", "commtwitter", "career", "phdchat"));
  // The original's own counters, not the retweet's (retweet_count 6, likes 0).
  EXPECT_EQ(original.engagement, (Engagement{13, 6, 0, 3}));
  EXPECT_THAT(original.text, HasSubstr("career outside of academia"));

  const Post& twice = page.posts[1];
  EXPECT_EQ(twice.engagement, (Engagement{5, 2, 0, 0}));
  EXPECT_THAT(twice.hashtags, ElementsAre("commtwitter"));
}

TEST(XParserTest, TwentySevenResultsQuotesRepliesMentions) {
  const XPage page = MustParse(ReadFixture("twitter/search_all_commtwitter_expansions_27.json"));
  ExpectWellFormed(page.posts);
  EXPECT_EQ(page.data_count, 27);
  EXPECT_EQ(page.retweets, 8);
  EXPECT_EQ(page.result_count, 27);
  EXPECT_EQ(page.newest_id, "1404501844567732226");
  ASSERT_EQ(page.posts.size(), 20u);
  EXPECT_EQ(page.posts.front().key, "1404495852886913025");
  EXPECT_EQ(page.posts.back().key, "1401954608633847808");

  const Post* quote = Find(page.posts, "1403000217239126022");
  ASSERT_NE(quote, nullptr);
  EXPECT_EQ(quote->quote_of, "1401872229026058243");
  EXPECT_EQ(quote->in_reply_to_key, "");
  EXPECT_EQ(quote->author, "marleahdeank");
  EXPECT_EQ(quote->author_followers, 1533);
  EXPECT_EQ(quote->engagement.likes, 11);
  EXPECT_THAT(quote->hashtags,
              ElementsAre("healthcomm", "commtwitter", "familyhealthhistory", "bcsm", "ayacsm",
                          "brca", "hereditarycancer", "genetics", "genomics"));

  const Post* reply = Find(page.posts, "1402979405224460290");
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->in_reply_to_local_id, "1402971442384445442");
  EXPECT_EQ(reply->in_reply_to_key, "1402971442384445442");
  EXPECT_EQ(reply->in_reply_to_author, "usfcomdept");
  EXPECT_THAT(reply->mentions, ElementsAre("usfcomdept"));
  EXPECT_EQ(reply->quote_of, "");

  const Post* many = Find(page.posts, "1403408940910616581");
  ASSERT_NE(many, nullptr);
  EXPECT_THAT(many->mentions, ElementsAre("icaglbt", "ncaglbtq", "aejmclgbtq", "aejmc_ccs",
                                          "ccsaejmc", "scmstudies", "scmsqt", "aca_media"));
  EXPECT_EQ(many->author, "oxfordqueer");
}

TEST(XParserTest, LookupWithExpansions) {
  const XPage page = MustParse(ReadFixture("twitter/tweets_lookup_ids_expansions_1.json"));
  ASSERT_EQ(page.posts.size(), 1u);
  ExpectWellFormed(page.posts);
  const Post& p = page.posts[0];
  EXPECT_EQ(p.key, "1266841835626024964");  // recorded before edit history existed: key = id
  EXPECT_EQ(p.local_id, "1266841835626024964");
  EXPECT_EQ(p.created_at_ms, Ms("2020-05-30T21:20:05.000Z"));
  EXPECT_EQ(p.author, "ralleoak");
  EXPECT_EQ(p.author_followers, 58);
  EXPECT_EQ(p.url, "https://x.com/RalleOak/status/1266841835626024964");
  EXPECT_THAT(p.hashtags,
              ElementsAre("climatecrisis", "climatejustice", "datteln4", "fridaysforfuture"));
  EXPECT_THAT(p.mentions, ElementsAre("futuredatteln", "ende__gelaende"));
  EXPECT_EQ(p.engagement, (Engagement{7, 1, 1, 0}));
  EXPECT_THAT(p.text, HasSubstr("Heute war ich wieder in Datteln"));
  EXPECT_EQ(page.result_count, -1);  // lookups have no meta
  EXPECT_EQ(page.next_token, "");
}

TEST(XParserTest, LookupWithPartialErrors) {
  const XPage page =
      MustParse(ReadFixture("twitter/tweets_lookup_ids_expansions_partial_errors.json"));
  ExpectWellFormed(page.posts);
  ASSERT_EQ(page.errors.size(), 18u);
  const XProblem& e = page.errors.front();
  EXPECT_EQ(e.title, "Not Found Error");
  EXPECT_EQ(e.detail, "Could not find tweet with ids: [1].");
  EXPECT_EQ(e.Kind(), "resource-not-found");
  EXPECT_EQ(e.value, "1");
  EXPECT_EQ(e.resource_type, "tweet");
  EXPECT_EQ(e.resource_id, "1");
  EXPECT_EQ(e.parameter, "ids");
  EXPECT_EQ(page.errors.back().value, "18");
  EXPECT_EQ(e.Summary(), "Not Found Error: Could not find tweet with ids: [1].");
  // Both found ids are retweets: the page yields their originals.
  EXPECT_EQ(page.retweets, 2);
  ASSERT_EQ(page.posts.size(), 2u);
  EXPECT_EQ(page.posts[0].key, "1266436838190911497");
  EXPECT_EQ(page.posts[0].author, "manya_g");
  EXPECT_EQ(page.posts[0].author_followers, 329);
  EXPECT_EQ(page.posts[0].engagement, (Engagement{799, 121, 6, 2}));
  EXPECT_EQ(page.posts[1].key, "1266722835252129794");
  EXPECT_EQ(page.posts[1].author, "addnme");
  // Non-ASCII tags keep their letters; only ASCII is lower-cased.
  EXPECT_THAT(page.posts[1].hashtags, ::testing::Contains("abwrackprämie"));
  EXPECT_THAT(page.posts[1].hashtags, ::testing::Contains("verkehrswendedresden"));
}

TEST(XParserTest, LookupTweepyDecodesSurrogatePairs) {
  const XPage page = MustParse(ReadFixture("twitter/tweets_lookup_ids_tweepy.json"));
  ASSERT_EQ(page.posts.size(), 2u);
  ExpectWellFormed(page.posts);
  EXPECT_EQ(page.posts[0].key, "1293593516040269825");
  // "\uD83E\uDD41" on the wire is U+1F941 DRUM, four bytes of UTF-8.
  EXPECT_THAT(page.posts[0].text, HasSubstr("here! \xF0\x9F\xA5\x81 Say hello"));
  EXPECT_THAT(page.posts[0].text, HasSubstr("It\xE2\x80\x99s finally"));
  EXPECT_THAT(page.posts[1].text, HasSubstr("#TwitterAPI #EarlyAccess"));
  EXPECT_THAT(page.posts[1].hashtags, IsEmpty());  // no entities were requested
}

TEST(XParserTest, EmptyResultHasNoData) {
  const XPage page = MustParse(ReadFixture("twitter/search_all_empty_result.json"));
  EXPECT_THAT(page.posts, IsEmpty());
  EXPECT_EQ(page.result_count, 0);
  EXPECT_EQ(page.next_token, "");
  EXPECT_EQ(page.newest_id, "");
  EXPECT_EQ(page.max_data_id, 0u);
  EXPECT_EQ(MustParse(R"({"meta":{"result_count":0},"errors":[{"title":"x"}]})").errors.size(), 1u);
  EXPECT_THAT(MustParse("{}").posts, IsEmpty());
  EXPECT_THAT(MustParse(R"({"data":[]})").posts, IsEmpty());
  EXPECT_THAT(MustParse(R"({"data":null})").posts, IsEmpty());
}

TEST(XParserTest, ProblemBodies) {
  auto bad = ParseXProblem(ReadFixture("twitter/error_400_invalid_request.json"));
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->title, "Invalid Request");
  EXPECT_EQ(bad->detail, "One or more parameters to your request was invalid.");
  EXPECT_EQ(bad->Kind(), "invalid-request");
  EXPECT_THAT(bad->message, HasSubstr("'start_time' must be before 'end_time'"));
  EXPECT_THAT(bad->Summary(), HasSubstr("Invalid Request: One or more parameters"));
  EXPECT_THAT(bad->Summary(), HasSubstr("must be before"));

  auto unauthorized = ParseXProblem(ReadFixture("twitter/error_401_unauthorized.json"));
  ASSERT_TRUE(unauthorized.has_value());
  EXPECT_EQ(unauthorized->title, "Unauthorized");
  EXPECT_EQ(unauthorized->status, 401);
  EXPECT_EQ(unauthorized->Kind(), "about:blank");
  EXPECT_EQ(unauthorized->Summary(), "Unauthorized: Unauthorized");

  auto too_many = ParseXProblem(
      R"({"title":"Too Many Requests","type":"about:blank","status":429,"detail":"Too Many Requests"})");
  ASSERT_TRUE(too_many.has_value());
  EXPECT_EQ(too_many->status, 429);

  auto capped = ParseXProblem(
      R"({"title":"UsageCapExceeded","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.x.com/2/problems/usage-capped","period":"Monthly","scope":"Product"})");
  ASSERT_TRUE(capped.has_value());
  EXPECT_EQ(capped->Kind(), "usage-capped");
  EXPECT_EQ(capped->period, "Monthly");
  EXPECT_EQ(capped->scope, "Product");

  auto v1 = ParseXProblem(R"({"errors":[{"code":88,"message":"Rate limit exceeded"}]})");
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(v1->message, "Rate limit exceeded");
  EXPECT_EQ(v1->Summary(), "Rate limit exceeded");

  // Odd types are skipped, not fatal.
  auto odd = ParseXProblem(R"({"title":5,"detail":"d","status":"429"})");
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(odd->detail, "d");
  EXPECT_EQ(odd->status, 0);

  EXPECT_FALSE(ParseXProblem("").has_value());
  EXPECT_FALSE(ParseXProblem("<html>Over capacity</html>").has_value());
  EXPECT_FALSE(ParseXProblem("[]").has_value());
  EXPECT_FALSE(ParseXProblem("{}").has_value());
  EXPECT_FALSE(ParseXProblem(R"({"title":"x"} junk)").has_value());
  EXPECT_FALSE(ParseXProblem(R"({"title":"Too Many)").has_value());
}

TEST(XParserTest, RateLimitHeaders) {
  const auto rl = ParseXRateLimit("450", "449", "1773152100");
  EXPECT_EQ(rl.limit, 450);
  EXPECT_EQ(rl.remaining, 449);
  EXPECT_EQ(rl.reset_at_ms, 1773152100000);  // epoch seconds, not seconds-until
  const auto none = ParseXRateLimit("", " ", "soon");
  EXPECT_FALSE(none.limit.has_value());
  EXPECT_FALSE(none.remaining.has_value());
  EXPECT_FALSE(none.reset_at_ms.has_value());
  EXPECT_EQ(ParseXRateLimit("300", "0", " 1625406607 ").reset_at_ms, 1625406607000);
}

TEST(XParserTest, UserLookup) {
  auto u = ParseXUserLookup(
      R"({"data":{"id":"987654321","name":"Sen. Jane Doe","username":"SenJaneDoe","public_metrics":{"followers_count":1203,"following_count":3,"tweet_count":9,"listed_count":1}}})");
  ASSERT_TRUE(u.has_value()) << u.error().ToString();
  EXPECT_EQ(u->id, "987654321");
  EXPECT_EQ(u->username, "SenJaneDoe");
  EXPECT_EQ(u->followers, 1203);

  auto missing = ParseXUserLookup(
      R"({"errors":[{"value":"nobody_here","detail":"Could not find user with username: [nobody_here].","title":"Not Found Error","resource_type":"user","parameter":"username","resource_id":"nobody_here","type":"https://api.twitter.com/2/problems/resource-not-found"}]})");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message, HasSubstr("nobody_here"));

  for (const char* body :
       {"", "[]", "{}", R"({"data":{"id":"1","username":"x"})",
        R"({"data":{"id":1,"username":"x"}})", R"({"data":{"id":"abc","username":"x"}})",
        R"({"data":{"id":"1"}})", R"({"data":[]})"}) {
    auto r = ParseXUserLookup(body);
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::kParse) << body;
  }
}

TEST(XParserTest, SnowflakeTimes) {
  EXPECT_EQ(XTimeMsFromId(0), kXEpochMs);
  EXPECT_EQ(XIdFromTimeMs(kXEpochMs + 1), uint64_t{1} << 22);
  EXPECT_EQ(XIdFromTimeMs(0), 0u);
  const int64_t t = Ms("2026-03-10T14:03:12.000Z");
  EXPECT_EQ(XTimeMsFromId(XIdFromTimeMs(t)), t);
  EXPECT_EQ(XTimeMsFromId(XIdFromTimeMs(t) | 0x3FFFFF), t);  // worker and sequence bits
  // Recorded: id 1266841835626024964 was created at 2020-05-30T21:20:05Z.
  EXPECT_NEAR(XTimeMsFromId(1266841835626024964u), Ms("2020-05-30T21:20:05Z"), 1000);
  EXPECT_TRUE(ParseXId("9223372036854775807").has_value());
  EXPECT_TRUE(ParseXId("18446744073709551615").has_value() == false);  // 20 digits
  EXPECT_FALSE(ParseXId("").has_value());
  EXPECT_FALSE(ParseXId("-1").has_value());
  EXPECT_FALSE(ParseXId("+1").has_value());
  EXPECT_FALSE(ParseXId("12a").has_value());
}

// ---- hand-made pages ----

// One page with a user table; `data` is spliced in.
std::string Envelope(const std::string& data, const std::string& extra_includes = "") {
  return R"({"data":[)" + data +
         R"(],"includes":{"users":[)"
         R"({"id":"11","name":"Alice","username":"Alice_For_Air","public_metrics":{"followers_count":1203,"following_count":1,"tweet_count":2,"listed_count":0}},)"
         R"({"id":"22","name":"Sen","username":"SenJaneDoe","public_metrics":{"followers_count":50000,"following_count":1,"tweet_count":2,"listed_count":0}}])" +
         extra_includes + R"(},"meta":{"result_count":1}})";
}

constexpr std::string_view kOriginal =
    R"({"id":"2031370287975366779","text":"Tell @SenJaneDoe to back #CleanAirAct &amp; #FundOurSchools now","edit_history_tweet_ids":["2031370287975366779"],"created_at":"2026-03-10T14:03:12.000Z","author_id":"11","conversation_id":"2031370287975366779","public_metrics":{"retweet_count":12,"reply_count":3,"like_count":58,"quote_count":2,"bookmark_count":1,"impression_count":4210},"entities":{"mentions":[{"start":5,"end":16,"username":"SenJaneDoe","id":"22"}],"hashtags":[{"start":25,"end":37,"tag":"CleanAirAct"},{"start":44,"end":59,"tag":"FundOurSchools"}]}})";

TEST(XParserTest, PlainPost) {
  const XPage page = MustParse(Envelope(std::string(kOriginal)));
  ASSERT_EQ(page.posts.size(), 1u);
  const Post& p = page.posts[0];
  EXPECT_EQ(p.key, "2031370287975366779");
  EXPECT_EQ(p.author, "alice_for_air");
  EXPECT_EQ(p.author_followers, 1203);
  EXPECT_EQ(p.url, "https://x.com/Alice_For_Air/status/2031370287975366779");
  EXPECT_EQ(p.text, "Tell @SenJaneDoe to back #CleanAirAct & #FundOurSchools now");
  EXPECT_THAT(p.hashtags, ElementsAre("cleanairact", "fundourschools"));
  EXPECT_THAT(p.mentions, ElementsAre("senjanedoe"));
  EXPECT_EQ(p.engagement, (Engagement{58, 12, 3, 2}));
  EXPECT_EQ(p.created_at_ms, Ms("2026-03-10T14:03:12.000Z"));
}

TEST(XParserTest, EditedPostKeepsTheIdOfItsFirstVersion) {
  const std::string edited =
      R"({"id":"2031370999999999999","text":"Tell @SenJaneDoe: back #FundOurSchools [edited]","edit_history_tweet_ids":["2031370287975366779","2031370999999999999"],"created_at":"2026-03-10T14:10:00.000Z","author_id":"11","public_metrics":{"retweet_count":13,"reply_count":3,"like_count":60,"quote_count":2},"entities":{"hashtags":[{"start":23,"end":38,"tag":"FundOurSchools"}]}})";
  const XPage page = MustParse(Envelope(edited));
  ASSERT_EQ(page.posts.size(), 1u);
  EXPECT_EQ(page.posts[0].key, "2031370287975366779");
  EXPECT_EQ(page.posts[0].local_id, "2031370999999999999");
  EXPECT_EQ(page.posts[0].url, "https://x.com/Alice_For_Air/status/2031370999999999999");
  EXPECT_EQ(page.posts[0].engagement.likes, 60);
  EXPECT_EQ(page.max_data_id, 2031370999999999999u);

  // Both versions in one page (either order): one post, the newest version.
  for (const std::string& data :
       {edited + "," + std::string(kOriginal), std::string(kOriginal) + "," + edited}) {
    const XPage both = MustParse(Envelope(data));
    ASSERT_EQ(both.posts.size(), 1u) << data;
    EXPECT_EQ(both.posts[0].key, "2031370287975366779");
    EXPECT_EQ(both.posts[0].local_id, "2031370999999999999");
    EXPECT_EQ(both.posts[0].text, "Tell @SenJaneDoe: back #FundOurSchools [edited]");
    EXPECT_EQ(both.data_count, 2);
  }

  // The newer names of the renamed spec.
  std::string renamed = Replace(edited, "edit_history_tweet_ids", "edit_history_post_ids");
  renamed = Replace(renamed, "retweet_count", "repost_count");
  const XPage page2 = MustParse(Envelope(renamed));
  ASSERT_EQ(page2.posts.size(), 1u);
  EXPECT_EQ(page2.posts[0].key, "2031370287975366779");
  EXPECT_EQ(page2.posts[0].engagement.reposts, 13);
}

TEST(XParserTest, RetweetYieldsTheOriginalNeverItself) {
  const std::string retweet =
      R"({"id":"2031399999999999999","text":"RT @Alice_For_Air: Tell @SenJaneDoe to back #CleanAirAct &amp; #FundOurSchools now","edit_history_tweet_ids":["2031399999999999999"],"created_at":"2026-03-10T15:00:00.000Z","author_id":"22","referenced_tweets":[{"type":"retweeted","id":"2031370287975366779"}],"public_metrics":{"retweet_count":12,"reply_count":0,"like_count":0,"quote_count":0},"entities":{"mentions":[{"start":3,"end":17,"username":"Alice_For_Air","id":"11"}],"hashtags":[{"start":44,"end":56,"tag":"CleanAirAct"}]}})";
  const XPage page = MustParse(Envelope(retweet, R"(,"tweets":[)" + std::string(kOriginal) + "]"));
  EXPECT_EQ(page.retweets, 1);
  EXPECT_EQ(page.max_data_id, 2031399999999999999u);  // the retweet's id still moves the watermark
  ASSERT_EQ(page.posts.size(), 1u);
  const Post& p = page.posts[0];
  EXPECT_EQ(p.key, "2031370287975366779");
  EXPECT_EQ(p.local_id, "2031370287975366779");
  EXPECT_EQ(p.author, "alice_for_air");  // not the retweeter
  EXPECT_EQ(p.engagement, (Engagement{58, 12, 3, 2}));
  EXPECT_EQ(p.created_at_ms, Ms("2026-03-10T14:03:12.000Z"));
  EXPECT_THAT(p.hashtags, ElementsAre("cleanairact", "fundourschools"));

  // The original in `data` as well, and a second retweet: still one post.
  const std::string second =
      Replace(retweet, R"("id":"2031399999999999999")", R"("id":"2031399999999999998")");
  const XPage dup = MustParse(Envelope(retweet + "," + std::string(kOriginal) + "," + second,
                                       R"(,"posts":[)" + std::string(kOriginal) + "]"));
  ASSERT_EQ(dup.posts.size(), 1u);
  EXPECT_EQ(dup.retweets, 2);

  // The original was deleted (not included): nothing, and the page says so.
  const XPage orphan = MustParse(Envelope(retweet));
  EXPECT_THAT(orphan.posts, IsEmpty());
  EXPECT_EQ(orphan.missing_originals, 1);

  // referenced_posts, the renamed field.
  const XPage renamed =
      MustParse(Envelope(Replace(retweet, "referenced_tweets", "referenced_posts"),
                         R"(,"tweets":[)" + std::string(kOriginal) + "]"));
  ASSERT_EQ(renamed.posts.size(), 1u);
  EXPECT_EQ(renamed.posts[0].key, "2031370287975366779");
}

TEST(XParserTest, QuoteAndReplyReferenceCanonicalKeys) {
  // The quoted post was edited: the reference names its first version.
  const std::string quoted =
      R"({"id":"500","text":"the quoted post, edited","edit_history_tweet_ids":["400","500"],"author_id":"22","created_at":"2026-03-10T10:00:00.000Z"})";
  const std::string quote =
      R"({"id":"600","text":"Yes! #FundOurSchools","edit_history_tweet_ids":["600"],"author_id":"11","created_at":"2026-03-10T11:00:00.000Z","referenced_tweets":[{"type":"quoted","id":"500"}]})";
  const std::string reply =
      R"({"id":"700","text":"@SenJaneDoe thanks","edit_history_tweet_ids":["700"],"author_id":"11","in_reply_to_user_id":"22","created_at":"2026-03-10T12:00:00.000Z","referenced_tweets":[{"type":"replied_to","id":"500"}]})";
  const std::string reply_unknown_parent =
      R"({"id":"800","text":"@someone hi","edit_history_tweet_ids":["800"],"author_id":"22","in_reply_to_user_id":"99","created_at":"2026-03-10T12:00:00.000Z","referenced_tweets":[{"type":"replied_to","id":"123"}]})";
  const XPage page = MustParse(
      Envelope(quote + "," + reply + "," + reply_unknown_parent, R"(,"tweets":[)" + quoted + "]"));
  ASSERT_EQ(page.posts.size(), 3u);
  EXPECT_EQ(page.posts[0].quote_of, "400");
  EXPECT_EQ(page.posts[0].in_reply_to_key, "");
  EXPECT_EQ(page.posts[0].author, "alice_for_air");
  EXPECT_EQ(page.posts[1].in_reply_to_local_id, "500");
  EXPECT_EQ(page.posts[1].in_reply_to_key, "400");
  EXPECT_EQ(page.posts[1].in_reply_to_author, "senjanedoe");
  EXPECT_EQ(page.posts[1].quote_of, "");
  EXPECT_EQ(page.posts[2].in_reply_to_key, "123");
  EXPECT_EQ(page.posts[2].in_reply_to_author, "");
  EXPECT_EQ(page.posts[2].author, "senjanedoe");
}

TEST(XParserTest, LongPostsUseTheNoteText) {
  const std::string note =
      R"({"id":"900","text":"A long post that X cut short and the hashtag is not in this part…","edit_history_tweet_ids":["900"],"author_id":"11","created_at":"2026-03-10T12:00:00.000Z","entities":{"hashtags":[{"start":0,"end":5,"tag":"Short"}]},"note_tweet":{"text":"A long post that X cut short and the hashtag is not in this part but here: #FundOurSchools &lt;3","entities":{"hashtags":[{"start":75,"end":90,"tag":"FundOurSchools"}],"mentions":[{"start":0,"end":1,"username":"SenJaneDoe"}]}}})";
  const XPage page = MustParse(Envelope(note));
  ASSERT_EQ(page.posts.size(), 1u);
  EXPECT_EQ(page.posts[0].text,
            "A long post that X cut short and the hashtag is not in this part but here: "
            "#FundOurSchools <3");
  EXPECT_THAT(page.posts[0].hashtags, ElementsAre("fundourschools"));
  EXPECT_THAT(page.posts[0].mentions, ElementsAre("senjanedoe"));
  const XPage renamed = MustParse(Envelope(Replace(note, "note_tweet", "note_post")));
  EXPECT_THAT(renamed.posts[0].hashtags, ElementsAre("fundourschools"));
}

TEST(XParserTest, FieldOrderAndUnknownFieldsDoNotMatter) {
  // includes before data, meta first, unknown keys everywhere.
  const std::string body =
      R"({"meta":{"result_count":1,"newest_id":"2031370287975366779","future":{"a":[1,2]}},"includes":{"media":[{"media_key":"3_1"}],"users":[{"username":"Alice_For_Air","id":"11","verified":false,"public_metrics":{"followers_count":7}}]},"data":[{"lang":"en","withheld":{"copyright":true},"text":"hi #X","id":"2031370287975366779","author_id":"11","entities":{"urls":[{"start":0,"end":1,"url":"https://t.co/x"}],"hashtags":[{"tag":"X","start":3,"end":5}],"cashtags":[{"start":0,"end":1,"tag":"T"}]}}],"x":null})";
  const XPage page = MustParse(body);
  ASSERT_EQ(page.posts.size(), 1u);
  EXPECT_EQ(page.posts[0].author, "alice_for_air");
  EXPECT_EQ(page.posts[0].author_followers, 7);
  EXPECT_THAT(page.posts[0].hashtags, ElementsAre("x"));
  EXPECT_EQ(page.newest_id, "2031370287975366779");
}

// ---- malformed bodies ----

TEST(XParserTest, NotAPage) {
  ExpectParseError("");
  ExpectParseError("   ");
  ExpectParseError("not json");
  ExpectParseError("<html><body>Over capacity</body></html>");
  ExpectParseError("[]", "object");
  ExpectParseError("null", "object");
  ExpectParseError("5", "object");
  ExpectParseError(R"({"data":{}})", "'data'");
  ExpectParseError(R"({"data":[1]})", "x post 0");
  ExpectParseError(R"({"data":[null]})", "x post 0");
  ExpectParseError(R"({"meta":{"result_count":0}} {})", "after the end");
  ExpectParseError(R"({"meta":{"result_count":0}} x)");
  ExpectParseError(R"({"meta":{"result_count":0},})");
  ExpectParseError(R"({"data":[)" + std::string(kOriginal) + ",]}");
}

TEST(XParserTest, WrongTypesNameThePostAndField) {
  struct Case {
    std::string_view from, to, field;
  };
  const std::vector<Case> cases = {
      {R"("id":"2031370287975366779")", R"("id":2031370287975366779)", "'id'"},
      {R"("id":"2031370287975366779")", R"("id":"20313702879753667790")", "'id'"},
      {R"("id":"2031370287975366779")", R"("id":"abc")", "'id'"},
      {R"("id":"2031370287975366779")", R"("id":"")", "'id'"},
      {R"("text":"Tell)", R"("text":5,"x":"Tell)", "'text'"},
      {R"("created_at":"2026-03-10T14:03:12.000Z")", R"("created_at":"yesterday")", "'created_at'"},
      {R"("created_at":"2026-03-10T14:03:12.000Z")", R"("created_at":1773151392)", "'created_at'"},
      {R"("author_id":"11")", R"("author_id":11)", "'author_id'"},
      {R"("edit_history_tweet_ids":["2031370287975366779"])", R"("edit_history_tweet_ids":"1")",
       "'edit_history_tweet_ids'"},
      {R"("edit_history_tweet_ids":["2031370287975366779"])", R"("edit_history_tweet_ids":[1])",
       "'edit_history_tweet_ids[0]'"},
      {R"("edit_history_tweet_ids":["2031370287975366779"])", R"("edit_history_tweet_ids":["x"])",
       "'edit_history_tweet_ids[0]'"},
      {R"("like_count":58)", R"("like_count":"58")", "'public_metrics.like_count'"},
      {R"("like_count":58)", R"("like_count":5.8)", "'public_metrics.like_count'"},
      {R"("retweet_count":12)", R"("retweet_count":null)", "'public_metrics.retweet_count'"},
      {R"("public_metrics":{)", R"("public_metrics":[],"y":{)", "'public_metrics'"},
      {R"("entities":{)", R"("entities":[],"z":{)", "'entities'"},
      {R"("hashtags":[{"start":25)", R"("hashtags":{"a":1},"h2":[{"start":25)",
       "'entities.hashtags'"},
      {R"("tag":"CleanAirAct")", R"("tag":7)", "'entities.hashtags[0].tag'"},
      {R"("username":"SenJaneDoe","id":"22")", R"("username":["SenJaneDoe"],"id":"22")",
       "'entities.mentions[0].username'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.to));
    ExpectParseError(Envelope(Replace(std::string(kOriginal), c.from, c.to)), "x post 0");
    ExpectParseError(Envelope(Replace(std::string(kOriginal), c.from, c.to)), c.field);
  }
  // References, users, meta and errors.
  ExpectParseError(Envelope(Replace(std::string(kOriginal), R"("author_id":"11")",
                                    R"("author_id":"11","referenced_tweets":{"type":"quoted"})")),
                   "'referenced_tweets'");
  ExpectParseError(Envelope(Replace(std::string(kOriginal), R"("author_id":"11")",
                                    R"("author_id":"11","referenced_tweets":[{"type":"quoted"}])")),
                   "missing field 'referenced_tweets[0].id'");
  ExpectParseError(
      Envelope(Replace(std::string(kOriginal), R"("author_id":"11")",
                       R"("author_id":"11","referenced_tweets":[{"type":1,"id":"5"}])")),
      "'referenced_tweets[0].type'");
  ExpectParseError(Replace(Envelope(std::string(kOriginal)), R"("followers_count":1203)",
                           R"("followers_count":"1203")"),
                   "includes.users[0]");
  ExpectParseError(
      Replace(Envelope(std::string(kOriginal)), R"("id":"11","name")", R"("id":11,"name")"),
      "includes.users[0]");
  ExpectParseError(
      Replace(Envelope(std::string(kOriginal)), R"("users":[)", R"("users":{"a":1},"u2":[)"),
      "'includes.users'");
  ExpectParseError(
      Replace(Envelope(std::string(kOriginal)), R"("result_count":1)", R"("result_count":"1")"),
      "'meta.result_count'");
  ExpectParseError(
      Replace(Envelope(std::string(kOriginal)), R"("meta":{)", R"("errors":{},"meta":{)"),
      "'errors'");
  ExpectParseError(
      Replace(Envelope(std::string(kOriginal)), R"("meta":{)", R"("errors":[1],"meta":{)"),
      "'errors[0]'");
  ExpectParseError(Envelope(std::string(kOriginal), R"(,"tweets":[{"id":"5"}])"),
                   "missing field 'text'");
}

TEST(XParserTest, MissingRequiredFields) {
  ExpectParseError(Envelope(Replace(std::string(kOriginal), R"("id":"2031370287975366779",)", "")),
                   "x post 0: missing field 'id'");
  ExpectParseError(
      Envelope(Replace(
          std::string(kOriginal),
          R"("text":"Tell @SenJaneDoe to back #CleanAirAct &amp; #FundOurSchools now",)", "")),
      "x post 0: missing field 'text'");
  ExpectParseError(R"({"data":[{}]})", "x post 0: missing field 'id'");
  ExpectParseError(R"({"data":[{"id":"1","text":"a"},{"text":"b"}]})",
                   "x post 1: missing field 'id'");
}

TEST(XParserTest, InvalidUtf8) {
  ExpectParseError(Envelope(Replace(std::string(kOriginal), "Tell", "T\xffll")), "UTF-8");
  // In a field the parser never reads, which On-Demand alone would not look at.
  ExpectParseError(
      Replace(Envelope(std::string(kOriginal)), R"("name":"Alice")", "\"name\":\"\xc3\x28\""),
      "UTF-8");
}

TEST(XParserTest, TruncatedBodiesAreErrorsAtEveryCut) {
  for (const char* name :
       {"twitter/search_recent_tweepy.json", "twitter/tweets_lookup_ids_tweepy.json",
        "twitter/tweets_lookup_ids_expansions_1.json", "twitter/search_all_empty_result.json"}) {
    const std::string body = ReadFixture(name);
    ASSERT_FALSE(body.empty());
    ASSERT_TRUE(ParseXPostsPage(body).has_value()) << name;
    for (size_t cut = 0; cut < body.size(); ++cut) {
      const std::string prefix = body.substr(0, cut);  // copied: nothing readable past the cut
      auto page = ParseXPostsPage(prefix);
      ASSERT_FALSE(page.has_value()) << name << " cut at " << cut;
      ASSERT_EQ(page.error().code, ErrorCode::kParse) << name << " cut at " << cut;
    }
  }
}

TEST(XParserTest, TruncatedLargePages) {
  for (const char* name : {"twitter/search_all_commtwitter_expansions_27.json",
                           "twitter/search_all_commtwitter_expansions_5.json",
                           "twitter/tweets_lookup_ids_expansions_partial_errors.json"}) {
    const std::string body = ReadFixture(name);
    ASSERT_FALSE(body.empty());
    std::vector<size_t> cuts;
    for (size_t i = 1; i <= 40; ++i) cuts.push_back(body.size() * i / 41);
    cuts.push_back(body.size() - 1);            // all but the final '}'
    cuts.push_back(body.find("\"includes\""));  // data complete, nothing after
    cuts.push_back(body.find("},{") + 1);       // one whole element, no ']'
    cuts.push_back(body.find("},{") + 2);       // a dangling comma
    for (size_t cut : cuts) {
      ASSERT_NE(cut, std::string::npos);
      const std::string prefix = body.substr(0, cut);
      auto page = ParseXPostsPage(prefix);
      ASSERT_FALSE(page.has_value()) << name << " cut at " << cut;
      EXPECT_EQ(page.error().code, ErrorCode::kParse) << name << " cut at " << cut;
    }
  }
}

TEST(XParserTest, ParserReuseDoesNotCorruptEarlierResults) {
  const XPage a = MustParse(ReadFixture("twitter/tweets_lookup_ids_expansions_1.json"));
  const XPage b = MustParse(ReadFixture("twitter/search_all_commtwitter_expansions_27.json"));
  ASSERT_EQ(a.posts.size(), 1u);
  EXPECT_EQ(a.posts[0].author, "ralleoak");
  EXPECT_THAT(a.posts[0].text, HasSubstr("Datteln"));
  EXPECT_EQ(b.posts.size(), 20u);
}

// ---- queries and cursors of the collector ----

config::Config QueryConfig() {
  config::Config c;
  c.campaigns.push_back({"fund-our-schools",
                         {"fundourschools", "edequity"},
                         {"School Funding  Formula", "say \"no\""}});
  c.campaigns.push_back({"teachers", {"teacherscount", "fundourschools"}, {}});
  c.policymakers.push_back(
      {"sen-doe",
       "Sen. Jane Doe",
       {{Platform::kX, "senjanedoe"}, {Platform::kMastodon, "j@gov.example"}}});
  c.policymakers.push_back({"rep-roe", "Rep. Roe", {{Platform::kX, "@RepRoe"}}});
  c.policymakers.push_back({"no-x", "Nobody", {{Platform::kBluesky, "nobody.bsky.social"}}});
  return c;
}

TEST(XQueriesTest, TermsArePackedWithOrIntoOneQuery) {
  const auto specs = BuildXQueries(QueryConfig());
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(
      specs[0].search,
      R"(("say no" OR "school funding formula" OR #edequity OR #fundourschools OR #teacherscount OR @reproe OR @senjanedoe))");
  EXPECT_EQ(specs[0].query.key.rfind("search:", 0), 0u);
  EXPECT_EQ(specs[0].query.key.size(), 7u + 16u);
  EXPECT_EQ(specs[0].query.description, specs[0].search);
  EXPECT_THAT(specs[0].query.hashtags, ElementsAre("edequity", "fundourschools", "teacherscount"));
  EXPECT_EQ(specs[1].query.key, "user:reproe");
  EXPECT_EQ(specs[1].username, "reproe");
  EXPECT_EQ(specs[2].query.key, "user:senjanedoe");
  EXPECT_TRUE(specs[2].search.empty());

  // Keys depend on the set of terms only.
  config::Config shuffled = QueryConfig();
  std::swap(shuffled.campaigns[0], shuffled.campaigns[1]);
  std::swap(shuffled.policymakers[0], shuffled.policymakers[1]);
  const auto again = BuildXQueries(shuffled);
  ASSERT_EQ(again.size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) EXPECT_EQ(again[i].query.key, specs[i].query.key);
}

TEST(XQueriesTest, LongTermListsAreSplitUnder512Characters) {
  config::Config c;
  config::Campaign big{"big", {}, {}};
  for (int i = 0; i < 120; ++i) big.hashtags.push_back("campaigntag" + std::to_string(i));
  big.keywords.push_back(std::string(600, 'k'));  // cannot fit any query: left out
  c.campaigns.push_back(big);
  const auto specs = BuildXQueries(c);
  ASSERT_GT(specs.size(), 3u);
  std::set<std::string> keys;
  size_t tags = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const std::string& q = specs[i].search;
    EXPECT_LE(q.size(), kXMaxQueryChars);
    if (i + 1 < specs.size()) {
      EXPECT_GT(q.size(), 450u) << "packing leaves room unused: " << q;
    }
    EXPECT_EQ(q.front(), '(');
    EXPECT_EQ(q.back(), ')');
    EXPECT_EQ(q.find("kkkk"), std::string::npos);
    EXPECT_TRUE(keys.insert(specs[i].query.key).second);
    tags += specs[i].query.hashtags.size();
  }
  EXPECT_EQ(tags, 120u);
  for (const auto& s : BuildXQueries(c, 60)) EXPECT_LE(s.search.size(), 60u);
}

TEST(XCursorTest, RoundTrip) {
  EXPECT_EQ(FormatXCursor({}), "0");
  XCursor done;
  done.watermark = 2031370287975366779u;
  EXPECT_EQ(FormatXCursor(done), "2031370287975366779");
  XCursor a = ParseXCursor("2031370287975366779");
  EXPECT_EQ(a.watermark, 2031370287975366779u);
  EXPECT_FALSE(a.in_progress());

  XCursor p{5, 9, 7, 0, "b26v89c/19zq"};
  EXPECT_EQ(FormatXCursor(p), "5/9/s7/b26v89c/19zq");
  XCursor q = ParseXCursor(FormatXCursor(p));
  EXPECT_EQ(q.watermark, 5u);
  EXPECT_EQ(q.poll_newest, 9u);
  EXPECT_EQ(q.since_id, 7u);
  EXPECT_EQ(q.next_token, "b26v89c/19zq");
  XCursor t{0, 0, 0, 1773151500, "tok"};
  EXPECT_EQ(FormatXCursor(t), "0/0/t1773151500/tok");
  EXPECT_EQ(ParseXCursor("0/0/t1773151500/tok").start_s, 1773151500);

  // Garbage degrades to "no poll in progress", never to a crash.
  for (const char* bad :
       {"", "x", "5/", "5/9", "5/9/s7", "5/9/s7/", "5/9/q7/tok", "5/9/s/tok", "5/9/t0/tok"}) {
    const XCursor c = ParseXCursor(bad);
    EXPECT_FALSE(c.in_progress()) << bad;
  }
  EXPECT_EQ(ParseXCursor("5/9/s7/").watermark, 5u);
}

}  // namespace
}  // namespace chorus::collectors
