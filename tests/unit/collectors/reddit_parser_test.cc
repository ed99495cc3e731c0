#include "collectors/reddit_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collectors/reddit_collector.h"
#include "tests/testlib/test_util.h"

namespace chorus::collectors {
namespace {

using ::chorus::testing::ReadFixture;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << "test bug: '" << from << "' not in the template";
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

RedditListing MustParse(std::string_view body) {
  auto listing = ParseRedditListing(body);
  EXPECT_TRUE(listing.has_value()) << listing.error().ToString();
  return listing.value_or(RedditListing{});
}

void ExpectParseError(std::string_view body, std::string_view message_part = "") {
  auto listing = ParseRedditListing(body);
  ASSERT_FALSE(listing.has_value())
      << "parsed " << listing->posts.size() << " posts from: " << body.substr(0, 300);
  EXPECT_EQ(listing.error().code, ErrorCode::kParse);
  EXPECT_THAT(listing.error().message, HasSubstr(std::string(message_part)));
}

// What holds for every post of every recorded Listing.
void ExpectWellFormed(const RedditListing& listing) {
  std::set<std::string> keys;
  for (const Post& p : listing.posts) {
    EXPECT_EQ(p.platform, Platform::kReddit);
    EXPECT_THAT(p.key, StartsWith("t3_"));
    EXPECT_EQ(p.local_id, p.key);
    EXPECT_TRUE(keys.insert(p.key).second) << "repeated " << p.key;
    EXPECT_THAT(p.url, StartsWith("https://www.reddit.com/r/"));
    EXPECT_THAT(p.url, HasSubstr("/comments/" + p.key.substr(3) + "/"));
    EXPECT_GT(p.created_at_ms, 1'300'000'000'000);  // 2011
    EXPECT_LT(p.created_at_ms, 1'600'000'000'000);  // 2020
    EXPECT_EQ(p.created_at_ms % 1000, 0);           // whole seconds on the wire
    EXPECT_FALSE(p.author.empty());
    EXPECT_EQ(p.author, AsciiLower(p.author));
    EXPECT_EQ(p.author_followers, 0);  // Reddit has none to give
    EXPECT_FALSE(p.text.empty());
    EXPECT_GE(p.engagement.likes, 0);
    EXPECT_EQ(p.engagement.quotes, 0);
    EXPECT_EQ(p.quote_of, "");
    EXPECT_EQ(p.in_reply_to_local_id, "");
    for (const auto& m : p.mentions) EXPECT_EQ(m, AsciiLower(m));
  }
}

// ---- recorded pages ----

TEST(RedditParserTest, SearchPraw2016) {
  const RedditListing listing = MustParse(ReadFixture("reddit/search_r_all_praw_2016.json"));
  ASSERT_EQ(listing.posts.size(), 6u);
  ExpectWellFormed(listing);
  EXPECT_EQ(listing.after, "");
  EXPECT_EQ(listing.before, "");
  EXPECT_EQ(listing.skipped_children, 0);

  const Post& first = listing.posts[0];
  EXPECT_EQ(first.key, "t3_3gpbiu");
  EXPECT_EQ(first.url,
            "https://www.reddit.com/r/redditdev/comments/3gpbiu/"
            "prawoauth2util_problem_using_get_banned_raise/?ref=search_posts");
  EXPECT_EQ(first.created_at_ms, 1'439'370'514'000);
  EXPECT_EQ(first.author, "dclauzel");
  EXPECT_THAT(first.text, StartsWith("[PRAW][OAuth2Util] Problem using get_banned() : raise "
                                     "Forbidden(_raw=response)\n\n# solved\n\nProblem solved"));
  // The user agent in the post's code says "(by /u/dClauzel)".
  EXPECT_THAT(first.mentions, ElementsAre("dclauzel"));
  EXPECT_THAT(first.hashtags, IsEmpty());  // "# solved" is a markdown heading, not a tag
  // 2016 bodies have no num_crossposts: reposts 0. `edited` is a float here.
  EXPECT_EQ(first.engagement, (Engagement{.likes = 0, .reposts = 0, .replies = 21, .quotes = 0}));

  EXPECT_EQ(listing.posts[5].key, "t3_4at068");
  EXPECT_EQ(listing.posts[5].engagement.likes, 15);
  EXPECT_THAT(listing.posts[5].text, StartsWith("たびたび話題になる"));  // UTF-8 kept
  EXPECT_THAT(listing.posts[5].url, HasSubstr("/r/p18s/comments/4at068/"));
  // Relevance order: the page's oldest and newest.
  EXPECT_EQ(listing.oldest_created_ms, 1'384'770'349'000);
  EXPECT_EQ(listing.newest_created_ms, 1'458'221'634'000);
}

TEST(RedditParserTest, SearchAsyncpraw2020) {
  const RedditListing listing = MustParse(ReadFixture("reddit/search_r_all_asyncpraw_2020.json"));
  ASSERT_EQ(listing.posts.size(), 31u);
  ExpectWellFormed(listing);
  EXPECT_EQ(listing.after, "");

  const Post& first = listing.posts[0];
  EXPECT_EQ(first.key, "t3_6ganxe");
  EXPECT_EQ(first.url,
            "https://www.reddit.com/r/learnpython/comments/6ganxe/"
            "how_to_check_if_a_username_is_available_on_reddit/");
  EXPECT_EQ(first.created_at_ms, 1'497'036'556'000);
  EXPECT_EQ(first.author, "cheesycow5");
  EXPECT_THAT(first.text, StartsWith("How to check if a username is available on Reddit?\n\nI need "
                                     "to check the availability"));
  EXPECT_EQ(first.engagement, (Engagement{.likes = 3, .reposts = 0, .replies = 24, .quotes = 0}));

  // "/u/Stuck_In_the_Matrix" and friends, lower-cased and without the prefix.
  EXPECT_THAT(listing.posts[2].mentions, ::testing::Contains("stuck_in_the_matrix"));
  EXPECT_THAT(listing.posts[2].mentions, ::testing::Contains("iamthatis"));
  // A code comment "#get comments" in a selftext is, to a text matcher, a hashtag.
  EXPECT_THAT(listing.posts[13].hashtags, ElementsAre("get"));
  EXPECT_EQ(listing.posts.back().key, "t3_2wtg1n");
  EXPECT_EQ(listing.posts.back().engagement.replies, 2);
}

TEST(RedditParserTest, SubredditNewWithAfterCursor) {
  const RedditListing listing = MustParse(ReadFixture("reddit/listing_r_askreddit_new_after.json"));
  ASSERT_EQ(listing.posts.size(), 100u);
  ExpectWellFormed(listing);
  EXPECT_EQ(listing.after, "t3_hozfbb");
  EXPECT_EQ(listing.before, "");
  // sort=new: newest first, and `after` is the last child's fullname.
  for (size_t i = 1; i < listing.posts.size(); ++i) {
    EXPECT_LE(listing.posts[i].created_at_ms, listing.posts[i - 1].created_at_ms);
  }
  EXPECT_EQ(listing.posts.back().key, listing.after);
  EXPECT_EQ(listing.posts.front().key, "t3_hozvuc");
  EXPECT_EQ(listing.newest_created_ms, 1'594'424'685'000);
  EXPECT_EQ(listing.oldest_created_ms, 1'594'422'939'000);
  // Link-only question posts: the text is the title.
  EXPECT_EQ(listing.posts.front().text, "What is best thing America has done for the world?");
  EXPECT_EQ(listing.posts.front().author, "p1aguedoc");
  EXPECT_EQ(listing.posts.front().engagement,
            (Engagement{.likes = 3, .reposts = 0, .replies = 3, .quotes = 0}));
}

TEST(RedditParserTest, ErrorBodyIsNotAListing) {
  const std::string body = ReadFixture("reddit/error_403_forbidden.json");
  ExpectParseError(body, "kind");
  const auto err = ParseRedditError(body);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->message, "Forbidden");
  EXPECT_EQ(err->code, 403);
  EXPECT_EQ(err->error, "");
}

// ---- hand-written t3 bodies ----

// A 2026-style Listing with one child; the fields below are replaced per test.
constexpr std::string_view kOne = R"({"kind": "Listing", "data": {"after": "t3_1sk99af", "dist": 1,
 "modhash": null, "geo_filter": null, "children": [{"kind": "t3", "data": {
 "id": "1sk99af", "name": "t3_1sk99af",
 "title": "Call your senator about the Clean Air Act vote",
 "selftext": "Script & numbers below. #CleanAirAct, ask u/SenJaneDoe",
 "selftext_html": "\u003C!-- SC_OFF --\u003E\u003Cdiv class=\"md\"\u003E\u003Cp\u003EScript &amp; numbers\u003C/p\u003E\u003C/div\u003E",
 "author": "Campaign_Ops", "author_fullname": "t2_bkb6ygd9", "subreddit": "climatepolicy",
 "created_utc": 1776083057.0, "created": 1776083057.0, "edited": false,
 "score": 213, "ups": 213, "downs": 0, "upvote_ratio": 0.94, "num_comments": 41, "num_crossposts": 2,
 "permalink": "/r/climatepolicy/comments/1sk99af/call_your_senator/",
 "url": "https://www.reddit.com/r/climatepolicy/comments/1sk99af/call_your_senator/",
 "is_self": true, "removed_by_category": null, "distinguished": null, "link_flair_text": null}}],
 "before": null}})";

TEST(RedditParserTest, HandWrittenPost) {
  const RedditListing listing = MustParse(kOne);
  ASSERT_EQ(listing.posts.size(), 1u);
  const Post& p = listing.posts[0];
  EXPECT_EQ(p.key, "t3_1sk99af");
  EXPECT_EQ(p.url, "https://www.reddit.com/r/climatepolicy/comments/1sk99af/call_your_senator/");
  EXPECT_EQ(p.created_at_ms, 1'776'083'057'000);
  EXPECT_EQ(p.author, "campaign_ops");
  EXPECT_EQ(p.text,
            "Call your senator about the Clean Air Act vote\n\n"
            "Script & numbers below. #CleanAirAct, ask u/SenJaneDoe");
  EXPECT_THAT(p.hashtags, ElementsAre("cleanairact"));
  EXPECT_THAT(p.mentions, ElementsAre("senjanedoe"));
  EXPECT_EQ(p.engagement, (Engagement{.likes = 213, .reposts = 2, .replies = 41, .quotes = 0}));
  EXPECT_EQ(listing.after, "t3_1sk99af");
}

TEST(RedditParserTest, EditedAsFloatOrBool) {
  EXPECT_EQ(MustParse(Replace(std::string(kOne), "\"edited\": false", "\"edited\": 1776090000.0"))
                .posts.size(),
            1u);
  EXPECT_EQ(MustParse(Replace(std::string(kOne), "\"edited\": false", "\"edited\": 1776090000"))
                .posts.size(),
            1u);
  // Some posts from 2008-2010 say true.
  EXPECT_EQ(
      MustParse(Replace(std::string(kOne), "\"edited\": false", "\"edited\": true")).posts.size(),
      1u);
  ExpectParseError(Replace(std::string(kOne), "\"edited\": false", "\"edited\": \"yesterday\""),
                   "edited");
  ExpectParseError(Replace(std::string(kOne), "\"edited\": false", "\"edited\": null"), "edited");
}

TEST(RedditParserTest, CreatedUtcWithoutFractionOrWithOne) {
  auto whole = MustParse(
      Replace(std::string(kOne), "\"created_utc\": 1776083057.0", "\"created_utc\": 1776083057"));
  ASSERT_EQ(whole.posts.size(), 1u);
  EXPECT_EQ(whole.posts[0].created_at_ms, 1'776'083'057'000);
  auto frac = MustParse(Replace(std::string(kOne), "\"created_utc\": 1776083057.0",
                                "\"created_utc\": 1776083057.25"));
  EXPECT_EQ(frac.posts[0].created_at_ms, 1'776'083'057'250);
  auto exp = MustParse(Replace(std::string(kOne), "\"created_utc\": 1776083057.0",
                               "\"created_utc\": 1.776083057e9"));
  EXPECT_EQ(exp.posts[0].created_at_ms, 1'776'083'057'000);
  ExpectParseError(Replace(std::string(kOne), "\"created_utc\": 1776083057.0",
                           "\"created_utc\": \"1776083057\""),
                   "created_utc");
  ExpectParseError(
      Replace(std::string(kOne), "\"created_utc\": 1776083057.0", "\"created_utc\": 1e300"),
      "created_utc");
  ExpectParseError(Replace(std::string(kOne), "\"created_utc\": 1776083057.0,", ""),
                   "missing field 'created_utc'");
}

TEST(RedditParserTest, WrongTypesFailTheWholePageNamingTheField) {
  const std::string one(kOne);
  ExpectParseError(Replace(one, "\"score\": 213", "\"score\": \"213\""), "'score'");
  ExpectParseError(Replace(one, "\"score\": 213", "\"score\": 2.5"), "'score'");
  ExpectParseError(Replace(one, "\"num_comments\": 41", "\"num_comments\": null"),
                   "'num_comments'");
  ExpectParseError(Replace(one, "\"num_crossposts\": 2", "\"num_crossposts\": []"),
                   "'num_crossposts'");
  ExpectParseError(Replace(one, "\"name\": \"t3_1sk99af\"", "\"name\": 7"), "'name'");
  ExpectParseError(Replace(one, "\"title\": \"Call", "\"title\": [\"Call"), "");
  ExpectParseError(Replace(one, "\"author\": \"Campaign_Ops\"", "\"author\": {}"), "'author'");
  ExpectParseError(Replace(one, "\"permalink\": \"/r", "\"permalink\": 1, \"x\": \"/r"),
                   "'permalink'");
  ExpectParseError(Replace(one, "\"after\": \"t3_1sk99af\"", "\"after\": 5"), "data.after");
  ExpectParseError(Replace(one, "\"before\": null", "\"before\": false"), "data.before");
  ExpectParseError(Replace(one, "\"children\": [", "\"children\": {\"a\": ["), "data.children");
  ExpectParseError(Replace(one, "\"kind\": \"t3\", \"data\": {", "\"kind\": \"t3\", \"data\": [{"),
                   "");
  ExpectParseError(Replace(one, "\"kind\": \"Listing\"", "\"kind\": \"t3\""), "Listing");
  ExpectParseError(Replace(one, "\"kind\": \"t3\"", "\"kind\": 3"), "kind");
  // The error names the child by its fullname.
  ExpectParseError(Replace(one, "\"score\": 213", "\"score\": true"), "(t3_1sk99af)");
}

TEST(RedditParserTest, NameFallsBackToIdAndOneOfThemIsRequired) {
  auto from_id = MustParse(Replace(std::string(kOne), "\"name\": \"t3_1sk99af\",", ""));
  ASSERT_EQ(from_id.posts.size(), 1u);
  EXPECT_EQ(from_id.posts[0].key, "t3_1sk99af");
  ExpectParseError(Replace(Replace(std::string(kOne), "\"name\": \"t3_1sk99af\",", ""),
                           "\"id\": \"1sk99af\",", ""),
                   "missing field 'name'");
}

TEST(RedditParserTest, OtherKindsAreSkippedAndKindMayFollowData) {
  const std::string body = R"({"kind": "Listing", "data": {"after": null, "before": null,
    "children": [
      {"kind": "t1", "data": {"name": "t1_abc", "body": "a comment", "created_utc": 1.0,
                              "edited": false, "score": 1}},
      {"data": {"name": "t3_x1", "title": "T", "selftext": "", "author": "A",
                "created_utc": 1700000000.0, "score": 1, "num_comments": 0,
                "permalink": "/r/s/comments/x1/t/"}, "kind": "t3"}]}})";
  const RedditListing listing = MustParse(body);
  ASSERT_EQ(listing.posts.size(), 1u);
  EXPECT_EQ(listing.posts[0].key, "t3_x1");
  EXPECT_EQ(listing.skipped_children, 1);
  ExpectParseError(R"({"kind": "Listing", "data": {"children": [{"data": {}}]}})",
                   "missing field 'kind'");
  ExpectParseError(R"({"kind": "Listing", "data": {"children": [{"kind": "t3"}]}})",
                   "missing field 'data'");
}

TEST(RedditParserTest, RemovedAndDeletedPostsKeepTheirTitleButNoMarkerText) {
  auto removed = MustParse(Replace(std::string(kOne),
                                   "\"selftext\": \"Script & numbers below. #CleanAirAct, ask "
                                   "u/SenJaneDoe\"",
                                   "\"selftext\": \"[removed]\""));
  ASSERT_EQ(removed.posts.size(), 1u);
  EXPECT_EQ(removed.posts[0].text, "Call your senator about the Clean Air Act vote");
  EXPECT_THAT(removed.posts[0].hashtags, IsEmpty());
  EXPECT_THAT(removed.posts[0].mentions, IsEmpty());

  std::string deleted = Replace(std::string(kOne),
                                "\"selftext\": \"Script & numbers below. #CleanAirAct, ask "
                                "u/SenJaneDoe\"",
                                "\"selftext\": \"[deleted]\"");
  deleted = Replace(deleted, "\"author\": \"Campaign_Ops\", \"author_fullname\": \"t2_bkb6ygd9\",",
                    "\"author\": \"[deleted]\",");
  deleted =
      Replace(deleted, "\"removed_by_category\": null", "\"removed_by_category\": \"deleted\"");
  auto d = MustParse(deleted);
  ASSERT_EQ(d.posts.size(), 1u);
  EXPECT_EQ(d.posts[0].author, "[deleted]");
  EXPECT_EQ(d.posts[0].text, "Call your senator about the Clean Air Act vote");
  EXPECT_EQ(d.posts[0].engagement.likes, 213);  // counters still come
  // A removed post's selftext may also be null in some answers.
  auto null_text = MustParse(Replace(std::string(kOne),
                                     "\"selftext\": \"Script & numbers below. #CleanAirAct, ask "
                                     "u/SenJaneDoe\"",
                                     "\"selftext\": null"));
  EXPECT_EQ(null_text.posts[0].text, "Call your senator about the Clean Air Act vote");
}

TEST(RedditParserTest, CrosspostQuotesItsParentAndNegativeScoreIsNoEngagement) {
  std::string body = Replace(std::string(kOne), "\"is_self\": true,",
                             "\"is_self\": true, \"crosspost_parent\": \"t3_abc123\",");
  body = Replace(body, "\"score\": 213", "\"score\": -7");
  const RedditListing listing = MustParse(body);
  ASSERT_EQ(listing.posts.size(), 1u);
  EXPECT_EQ(listing.posts[0].quote_of, "t3_abc123");
  EXPECT_EQ(listing.posts[0].engagement.likes, 0);
  auto null_parent = MustParse(Replace(std::string(kOne), "\"is_self\": true,",
                                       "\"is_self\": true, \"crosspost_parent\": null,"));
  EXPECT_EQ(null_parent.posts[0].quote_of, "");
}

TEST(RedditParserTest, EntitiesAreNotDecoded) {
  // Without raw_json=1 Reddit sends "&amp;"; the parser keeps what it got (the collector always
  // asks for raw_json=1).
  auto listing = MustParse(Replace(std::string(kOne), "Script & numbers", "Script &amp; numbers"));
  EXPECT_THAT(listing.posts[0].text, HasSubstr("Script &amp; numbers"));
  // JSON escapes are decoded, as JSON.
  auto escaped =
      MustParse(Replace(std::string(kOne), "Script & numbers", "Script \\u0026 \\\"numbers\\\""));
  EXPECT_THAT(escaped.posts[0].text, HasSubstr("Script & \"numbers\""));
}

TEST(RedditParserTest, EmptyListing) {
  const RedditListing listing = MustParse(
      R"({"kind": "Listing", "data": {"after": null, "dist": 0, "modhash": null, "geo_filter": "", "children": [], "before": null}})");
  EXPECT_THAT(listing.posts, IsEmpty());
  EXPECT_EQ(listing.after, "");
  EXPECT_EQ(listing.oldest_created_ms, 0);
  EXPECT_EQ(listing.newest_created_ms, 0);
}

TEST(RedditParserTest, MalformedBodies) {
  ExpectParseError("");
  ExpectParseError("   ");
  ExpectParseError("null", "expected a JSON object");
  ExpectParseError("[]", "expected a JSON object");
  ExpectParseError("42", "expected a JSON object");
  ExpectParseError("\"Listing\"", "expected a JSON object");
  ExpectParseError("{}", "missing field 'kind'");
  ExpectParseError(R"({"kind": "Listing"})", "missing field 'data'");
  ExpectParseError(R"({"kind": "Listing", "data": {}})", "missing field 'data.children'");
  ExpectParseError(R"({"kind": "Listing", "data": null})", "data");
  ExpectParseError(R"({"kind": "Listing", "data": {"children": []}} {"x": 1})",
                   "content after the end");
  ExpectParseError(R"({"kind": "Listing", "data": {"children": []}}])");
  ExpectParseError(R"({"kind": "Listing", "data": {"children": [1]}})");
  ExpectParseError(R"({"kind": "Listing", "data": {"children": [null]}})");
  ExpectParseError(R"({"kind": "Listing", "data": {"children": [}})");
  ExpectParseError(R"({"kind": "Listing", "data": {"children": [],}})");
  ExpectParseError(R"({"kind": "Listing", "data": {"children": []})");
  ExpectParseError("<html><body>whoa there, pardner!</body></html>");
  ExpectParseError(ReadFixture("reddit/error_403_forbidden.json"));
  ExpectParseError(std::string(R"({"kind": "Listing", "data": {"children": [], "modhash": ")") +
                       "\xff\xfe" + "\"}}",
                   "UTF-8");
}

// A body cut anywhere is an error, never a partial page (a page is stored whole or not at all).
TEST(RedditParserTest, TruncatedBodiesAreRejectedAtManyCutPoints) {
  for (const char* name :
       {"reddit/search_r_all_praw_2016.json", "reddit/search_r_all_asyncpraw_2020.json",
        "reddit/listing_r_askreddit_new_after.json"}) {
    const std::string body = ReadFixture(name);
    ASSERT_FALSE(body.empty());
    std::vector<size_t> cuts = {
        1, 2, 10, 11, 12, 30, body.size() / 2, body.size() - 2, body.size() - 1};
    for (size_t i = 1; i <= 150; ++i) cuts.push_back(body.size() * i / 151);
    for (size_t cut : cuts) {
      SCOPED_TRACE(std::string(name) + " cut at " + std::to_string(cut));
      auto listing = ParseRedditListing(std::string_view(body).substr(0, cut));
      ASSERT_FALSE(listing.has_value());
      EXPECT_EQ(listing.error().code, ErrorCode::kParse);
    }
  }
  const std::string one(kOne);
  for (size_t cut = 0; cut < one.size(); ++cut) {
    auto listing = ParseRedditListing(std::string_view(one).substr(0, cut));
    EXPECT_FALSE(listing.has_value()) << "cut at " << cut;
  }
}

// Random byte damage must give a page or a kParse error, never a crash or another code.
TEST(RedditParserTest, DamagedBodiesNeverCrash) {
  const std::string body = ReadFixture("reddit/search_r_all_praw_2016.json");
  std::mt19937 rng(20260413);
  static constexpr char kBytes[] = "{}[]\",:0123456789.-etrufalsn \\\x80\xff";
  for (int round = 0; round < 300; ++round) {
    std::string damaged = body;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      damaged[rng() % damaged.size()] = kBytes[rng() % (sizeof kBytes - 1)];
    }
    auto listing = ParseRedditListing(damaged);
    if (!listing) {
      EXPECT_EQ(listing.error().code, ErrorCode::kParse);
    }
  }
}

TEST(RedditParserTest, ParsesConcurrentlyOnSeveralThreads) {
  const std::string a = ReadFixture("reddit/search_r_all_asyncpraw_2020.json");
  const std::string b = ReadFixture("reddit/listing_r_askreddit_new_after.json");
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto listing = ParseRedditListing(t % 2 ? a : b);
        if (listing && listing->posts.size() == (t % 2 ? 31u : 100u)) ++ok[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(ok, ElementsAre(20, 20, 20, 20));
}

// ---- text extraction ----

TEST(RedditParserTest, HashtagsAreWholeWordsAfterAHash) {
  EXPECT_THAT(ExtractRedditHashtags("Go #FundOurSchools! #EdEquity, #fundourschools again"),
              ElementsAre("fundourschools", "edequity"));
  EXPECT_THAT(ExtractRedditHashtags("#FundOurSchoolsNow"), ElementsAre("fundourschoolsnow"));
  EXPECT_THAT(ExtractRedditHashtags("(#Tag) [#Link](https://x.org) \\#Escaped"),
              ElementsAre("tag", "link", "escaped"));
  // Lower-casing is ASCII only, like the matcher's; non-ASCII bytes are word characters.
  EXPECT_THAT(ExtractRedditHashtags("#école #Ünïcode_2"), ElementsAre("école", "Ünïcode_2"));
  EXPECT_THAT(ExtractRedditHashtags("# heading\n## sub\nwe're #1 and #2026"), IsEmpty());
  EXPECT_THAT(ExtractRedditHashtags("https://x.org/page#top a&#x200B;b /#anchor ##double C#"),
              IsEmpty());
  EXPECT_THAT(ExtractRedditHashtags("#"), IsEmpty());
  EXPECT_THAT(ExtractRedditHashtags(""), IsEmpty());
  EXPECT_THAT(ExtractRedditHashtags("#a#b"), ElementsAre("a"));
}

TEST(RedditParserTest, MentionsAreUserReferences) {
  EXPECT_THAT(ExtractRedditMentions("thanks u/SenJaneDoe and /u/Other_Rep-2, cc u/senjanedoe"),
              ElementsAre("senjanedoe", "other_rep-2"));
  EXPECT_THAT(ExtractRedditMentions("(u/abc) [u/Name](https://reddit.com/u/Name)"),
              ElementsAre("abc", "name"));
  EXPECT_THAT(ExtractRedditMentions("U/Capital"), ElementsAre("capital"));
  // Too short, too long, inside a word, or no name at all.
  EXPECT_THAT(ExtractRedditMentions("u/ab menu/item emu/xyz u/ r/u/xyz- "
                                    "u/abcdefghijklmnopqrstuvwxyz"),
              ::testing::ElementsAre("xyz-"));
  EXPECT_THAT(ExtractRedditMentions(""), IsEmpty());
  EXPECT_THAT(ExtractRedditMentions("u"), IsEmpty());
}

// ---- headers, errors, tokens ----

TEST(RedditParserTest, RateLimitHeaders) {
  const int64_t now = 1'776'083'057'000;
  RedditRateLimit rl = ParseRedditRateLimit("6", "994.0", "469", now);
  EXPECT_EQ(rl.used, 6);
  EXPECT_EQ(rl.remaining, 994);
  EXPECT_EQ(rl.limit, 1000);
  EXPECT_EQ(rl.reset_at_ms, now + 469'000);

  rl = ParseRedditRateLimit(" 678 ", "9322.0", "12", now);
  EXPECT_EQ(rl.limit, 10'000);
  rl = ParseRedditRateLimit("1000", "0.0", "0", now);
  EXPECT_EQ(rl.remaining, 0);
  EXPECT_EQ(rl.reset_at_ms, now);
  rl = ParseRedditRateLimit("3", "2.7", "1.5", now);  // rounded down; fractional reset tolerated
  EXPECT_EQ(rl.remaining, 2);
  EXPECT_EQ(rl.reset_at_ms, now + 1'500);

  rl = ParseRedditRateLimit("", "", "", now);
  EXPECT_FALSE(rl.used || rl.limit || rl.remaining || rl.reset_at_ms);
  rl = ParseRedditRateLimit("six", "lots", "2026-03-10T14:10:00Z", now);
  EXPECT_FALSE(rl.used || rl.limit || rl.remaining || rl.reset_at_ms);
  rl = ParseRedditRateLimit("1", "-5.0", "-1", now);
  EXPECT_FALSE(rl.remaining || rl.reset_at_ms || rl.limit);
}

TEST(RedditParserTest, ErrorBodies) {
  auto e = ParseRedditError(R"({"message": "Unauthorized", "error": 401})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 401);
  e = ParseRedditError(
      R"json({"fields": ["title"], "explanation": "this is too long (max: 300)", "message": "Bad Request", "reason": "TOO_LONG"})json");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message, "Bad Request");
  EXPECT_EQ(e->reason, "TOO_LONG");
  e = ParseRedditError(R"({"error": "invalid_grant"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->error, "invalid_grant");
  EXPECT_FALSE(ParseRedditError("<!doctype html><html><body>blocked by network security</body>"));
  EXPECT_FALSE(ParseRedditError(""));
  EXPECT_FALSE(ParseRedditError("{}"));
  EXPECT_FALSE(ParseRedditError(R"({"message": "Forbidden", "error": 403)"));
  EXPECT_FALSE(ParseRedditError(R"({"message": 5})"));
  EXPECT_FALSE(ParseRedditError("[1]"));
  EXPECT_TRUE(LooksLikeHtml("\n  <html>"));
  EXPECT_FALSE(LooksLikeHtml(R"({"a": "<b>"})"));
}

TEST(RedditParserTest, TokenResponses) {
  auto t = ParseRedditToken(
      R"({"access_token": "eyJhbGciOi.secret", "token_type": "bearer", "expires_in": 86400, "scope": "*"})");
  ASSERT_TRUE(t.has_value()) << t.error().ToString();
  EXPECT_EQ(t->access_token, "eyJhbGciOi.secret");
  EXPECT_EQ(t->token_type, "bearer");
  EXPECT_EQ(t->expires_in_s, 86400);
  EXPECT_EQ(t->scope, "*");
  t = ParseRedditToken(R"({"access_token": "x", "token_type": "bearer", "expires_in": 3600.0})");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->expires_in_s, 3600);

  // Refusals can come as HTTP 200 with an error field.
  t = ParseRedditToken(R"({"error": "invalid_grant"})");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(t.error().message, HasSubstr("invalid_grant"));

  for (const char* bad : {R"({"token_type": "bearer", "expires_in": 1})",
                          R"({"access_token": "tok-123-secret", "token_type": "bearer"})",
                          R"({"access_token": "tok-123-secret", "expires_in": "soon"})",
                          R"({"access_token": "tok-123-secret", "expires_in": -5})",
                          R"({"access_token": ["tok-123-secret"], "expires_in": 5})",
                          R"({"access_token": "tok-123-secret", "expires_in": 5} trailing)",
                          "<html>oops</html>", "", "[]"}) {
    SCOPED_TRACE(bad);
    auto r = ParseRedditToken(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kParse);
    EXPECT_EQ(r.error().message.find("tok-123-secret"), std::string::npos);  // never the token
  }
}

// ---- the collector's cursor ----

TEST(RedditCursorTest, RoundTrips) {
  EXPECT_EQ(FormatRedditCursor({1'776'083'057'000, 0, ""}), "1776083057000");
  EXPECT_EQ(FormatRedditCursor({1'776'083'057'000, 1'776'083'999'000, "t3_1sk99af"}),
            "1776083057000/1776083999000/t3_1sk99af");
  const RedditCursor c = ParseRedditCursor("1776083057000/1776083999000/t3_1sk99af");
  EXPECT_EQ(c.watermark_ms, 1'776'083'057'000);
  EXPECT_EQ(c.poll_newest_ms, 1'776'083'999'000);
  EXPECT_EQ(c.resume_after, "t3_1sk99af");
  const RedditCursor empty = ParseRedditCursor("");
  EXPECT_EQ(empty.watermark_ms, 0);
  EXPECT_EQ(empty.resume_after, "");
  EXPECT_EQ(ParseRedditCursor("garbage").watermark_ms, 0);
}

}  // namespace
}  // namespace chorus::collectors
