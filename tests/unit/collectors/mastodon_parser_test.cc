#include "collectors/mastodon_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"
#include "tests/testlib/test_util.h"

namespace chorus::collectors {
namespace {

using ::chorus::testing::ReadFixture;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The recordings come from Mastodon.py's test server, whose local domain is localhost:3000.
constexpr std::string_view kFixtureHome = "localhost:3000";
constexpr std::string_view kTag = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp";

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

std::vector<Post> MustParse(std::string_view body, std::string_view home = kFixtureHome) {
  auto posts = ParseMastodonStatuses(body, home);
  EXPECT_TRUE(posts.has_value()) << posts.error().ToString();
  return posts.value_or(std::vector<Post>{});
}

void ExpectParseError(std::string_view body, std::string_view message_part = "") {
  auto posts = ParseMastodonStatuses(body, kFixtureHome);
  ASSERT_FALSE(posts.has_value()) << "parsed " << posts->size()
                                  << " statuses from: " << body.substr(0, 300);
  EXPECT_EQ(posts.error().code, ErrorCode::kParse);
  EXPECT_THAT(posts.error().message, HasSubstr(std::string(message_part)));
}

// Checks what holds for every status of every recorded Status[] page.
void ExpectWellFormed(const std::vector<Post>& posts) {
  for (const Post& p : posts) {
    EXPECT_EQ(p.platform, Platform::kMastodon);
    EXPECT_FALSE(p.key.empty());
    EXPECT_THAT(p.key, HasSubstr("/statuses/" + p.local_id));  // key is the ActivityPub uri
    EXPECT_THAT(p.url, HasSubstr(p.local_id));
    EXPECT_GT(p.created_at_ms, Ms("2026-08-01T00:00:00Z"));
    EXPECT_THAT(p.author, HasSubstr("@localhost:3000"));
    EXPECT_FALSE(p.text.empty());
    EXPECT_EQ(p.text.find('<'), std::string::npos) << p.text;
    EXPECT_EQ(p.engagement, Engagement{});
  }
}

// ---- recorded pages ----

TEST(MastodonParserTest, TagTimelinePage1) {
  const auto posts = MustParse(ReadFixture("mastodon/timeline_tag_limit10_page1.json"));
  ASSERT_EQ(posts.size(), 10u);
  ExpectWellFormed(posts);

  const Post& first = posts[0];
  EXPECT_EQ(first.key,
            "http://localhost:3000/ap/users/117020566092212359/statuses/117020582251615632");
  EXPECT_EQ(first.local_id, "117020582251615632");
  EXPECT_EQ(first.url, "http://localhost:3000/@mastodonpy_test_2/117020582251615632");
  EXPECT_EQ(first.created_at_ms, 1785592380550);  // 2026-08-01T13:53:00.550Z
  EXPECT_EQ(first.author, "mastodonpy_test_2@localhost:3000");
  EXPECT_EQ(first.author_followers, 0);
  EXPECT_EQ(first.text, "Toot number 29! #" + std::string(kTag));
  EXPECT_THAT(first.hashtags, ElementsAre(std::string(kTag)));
  EXPECT_THAT(first.mentions, IsEmpty());
  EXPECT_EQ(first.in_reply_to_local_id, "");
  EXPECT_EQ(first.in_reply_to_author, "");
  EXPECT_EQ(first.quote_of, "");

  // Newest first, "Toot number 29" down to "Toot number 20", every one tagged.
  for (size_t i = 0; i < posts.size(); ++i) {
    EXPECT_EQ(posts[i].key.substr(posts[i].key.size() - posts[i].local_id.size()),
              posts[i].local_id);
    EXPECT_EQ(posts[i].text, "Toot number " + std::to_string(29 - i) + "! #" + std::string(kTag));
    EXPECT_THAT(posts[i].hashtags, ElementsAre(std::string(kTag)));
    if (i > 0) {
      EXPECT_LT(posts[i].created_at_ms, posts[i - 1].created_at_ms);
      EXPECT_LT(posts[i].local_id, posts[i - 1].local_id);  // same length: lexical == numeric
    }
  }
  EXPECT_EQ(posts.back().local_id, "117020582177108552");
  EXPECT_EQ(posts.back().created_at_ms, Ms("2026-08-01T13:52:59.413Z"));
}

TEST(MastodonParserTest, TagTimelinePage2FollowsPage1) {
  const auto page1 = MustParse(ReadFixture("mastodon/timeline_tag_limit10_page1.json"));
  const auto page2 = MustParse(ReadFixture("mastodon/timeline_tag_limit10_page2.json"));
  ASSERT_EQ(page2.size(), 10u);
  ExpectWellFormed(page2);
  EXPECT_EQ(page2.front().local_id, "117020582169338211");
  EXPECT_EQ(page2.front().created_at_ms, Ms("2026-08-01T13:52:59.294Z"));
  EXPECT_EQ(page2.front().text, "Toot number 19! #" + std::string(kTag));
  EXPECT_EQ(page2.back().local_id, "117020582097668259");
  EXPECT_EQ(page2.back().text, "Toot number 10! #" + std::string(kTag));
  // page2 was fetched with max_id = page1's oldest id: strictly older, no key seen twice.
  std::set<std::string> keys;
  for (const Post& p : page1) keys.insert(p.key);
  for (const Post& p : page2) {
    EXPECT_TRUE(keys.insert(p.key).second) << p.key;
    EXPECT_LT(p.created_at_ms, page1.back().created_at_ms);
  }
}

TEST(MastodonParserTest, TagTimelineHoot) {
  const auto posts = MustParse(ReadFixture("mastodon/timeline_tag_hoot.json"));
  ASSERT_EQ(posts.size(), 1u);
  ExpectWellFormed(posts);
  EXPECT_EQ(posts[0].local_id, "117020593741189701");
  EXPECT_EQ(posts[0].key,
            "http://localhost:3000/ap/users/117020566092212359/statuses/117020593741189701");
  EXPECT_EQ(posts[0].created_at_ms, Ms("2026-08-01T13:55:55.867Z"));
  EXPECT_EQ(posts[0].text, "#hoot (hashtag toot)");
  EXPECT_THAT(posts[0].hashtags, ElementsAre("hoot"));
  EXPECT_EQ(posts[0].author, "mastodonpy_test_2@localhost:3000");
}

TEST(MastodonParserTest, AccountStatuses) {
  const auto posts = MustParse(ReadFixture("mastodon/account_statuses_limit5.json"));
  ASSERT_EQ(posts.size(), 5u);
  ExpectWellFormed(posts);
  for (size_t i = 0; i < posts.size(); ++i) {
    EXPECT_EQ(posts[i].author, "mastodonpy_test@localhost:3000");
    EXPECT_EQ(posts[i].text, "Toot number " + std::to_string(9 - i) + "!");
    EXPECT_THAT(posts[i].hashtags, IsEmpty());
    EXPECT_THAT(posts[i].mentions, IsEmpty());
  }
  EXPECT_EQ(posts[0].local_id, "117020580518794573");
  EXPECT_EQ(posts[0].created_at_ms, Ms("2026-08-01T13:52:34.108Z"));
  EXPECT_EQ(posts[4].local_id, "117020580489281910");
}

TEST(MastodonParserTest, PublicTimelineWithMentionEntitiesAndEdit) {
  const auto posts = MustParse(ReadFixture("mastodon/timeline_public_anonymous.json"));
  ASSERT_EQ(posts.size(), 8u);
  ExpectWellFormed(posts);
  EXPECT_EQ(posts[0].text, "Toot, finally!");

  EXPECT_EQ(posts[1].text, "you can't say that on television");  // &#39;
  EXPECT_EQ(posts[1].author, "admin@localhost:3000");
  EXPECT_EQ(posts[1].author_followers, 1);

  const Post& mention = posts[4];
  EXPECT_EQ(mention.local_id, "117020588169351887");
  EXPECT_EQ(mention.key,
            "http://localhost:3000/ap/users/117020565693913441/statuses/117020588169351887");
  EXPECT_EQ(mention.url, "http://localhost:3000/@admin/117020588169351887");
  EXPECT_EQ(mention.created_at_ms, 1785592470847);  // 2026-08-01T13:54:30.847Z
  EXPECT_EQ(mention.author, "admin@localhost:3000");
  EXPECT_EQ(mention.author_followers, 1);
  EXPECT_EQ(mention.text, "@mastodonpy_test beep beep I'm a jeep");
  EXPECT_THAT(mention.mentions, ElementsAre("mastodonpy_test@localhost:3000"));
  EXPECT_THAT(mention.hashtags, IsEmpty());

  // This one has a non-null edited_at; it parses like any other.
  EXPECT_EQ(posts[5].local_id, "117020586180926938");
  EXPECT_EQ(posts[5].text,
            "the best editor? why, of course it is the KDE Advanced Text Editor, Kate");
}

TEST(MastodonParserTest, EndOfPaginationIsAnEmptyPage) {
  const std::string body = ReadFixture("mastodon/timeline_tag_limit10_end_empty.json");
  ASSERT_EQ(body, "[]");
  auto posts = ParseMastodonStatuses(body, kFixtureHome);
  ASSERT_TRUE(posts.has_value()) << posts.error().ToString();
  EXPECT_THAT(*posts, IsEmpty());
}

TEST(MastodonParserTest, NonArrayRecordedBodiesAreParseErrors) {
  ExpectParseError(ReadFixture("mastodon/error_404_status_not_found.json"), "array");
  ExpectParseError(ReadFixture("mastodon/search_v2_type_statuses_empty.json"), "array");
}

TEST(MastodonParserTest, ParserReuseDoesNotCorruptEarlierResults) {
  const auto page1 = MustParse(ReadFixture("mastodon/timeline_tag_limit10_page1.json"));
  const auto page2 = MustParse(ReadFixture("mastodon/timeline_tag_limit10_page2.json"));
  ASSERT_EQ(page1.size(), 10u);
  ASSERT_EQ(page2.size(), 10u);
  EXPECT_EQ(page1[0].text, "Toot number 29! #" + std::string(kTag));
  EXPECT_EQ(page1[0].author, "mastodonpy_test_2@localhost:3000");
}

// The import appends each line's posts to its pending batch; a page that fails leaves the batch as
// it was, not with the statuses read before the bad one.
TEST(MastodonParserTest, AppendingAddsAPageBehindEarlierPostsAndAFailedPageAddsNothing) {
  const std::string page1 = ReadFixture("mastodon/timeline_tag_limit10_page1.json");
  const std::string page2 = ReadFixture("mastodon/timeline_tag_limit10_page2.json");
  std::vector<Post> pending;
  auto n = AppendMastodonStatuses(page1, kFixtureHome, 0, &pending);
  ASSERT_TRUE(n) << n.error().ToString();
  EXPECT_EQ(*n, 10u);
  n = AppendMastodonStatuses(page2, kFixtureHome, 0, &pending);
  ASSERT_TRUE(n) << n.error().ToString();
  EXPECT_EQ(*n, 10u);
  ASSERT_EQ(pending.size(), 20u);
  const auto separately = MustParse(page2);
  EXPECT_EQ(pending[10].key, separately[0].key);
  EXPECT_EQ(pending[19].text, separately[9].text);
  EXPECT_EQ(pending[0].text, "Toot number 29! #" + std::string(kTag));
  // Cut short halfway: the statuses before the cut are read, then dropped with the page.
  const std::string broken = page1.substr(0, page1.size() / 2);
  n = AppendMastodonStatuses(broken, kFixtureHome, 0, &pending);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, ErrorCode::kParse);
  EXPECT_EQ(pending.size(), 20u);
  EXPECT_EQ(pending[19].text, separately[9].text);
}

TEST(MastodonParserTest, ThreadsParseConcurrently) {
  const std::string body = ReadFixture("mastodon/timeline_tag_limit10_page1.json");
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto posts = ParseMastodonStatuses(body, kFixtureHome);
        if (posts && posts->size() == 10 && (*posts)[9].local_id == "117020582177108552") ++ok[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(ok, ElementsAre(25, 25, 25, 25));
}

// ---- headers and error bodies ----

TEST(MastodonParserTest, LinkHeaderFromRecordedPage1) {
  // Literal `link` header of timeline_tag_limit10_page1.meta.json.
  const std::string header =
      "<http://localhost:3000/api/v1/timelines/tag/"
      "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp?limit=10&max_id=117020582177108552>; "
      "rel=\"next\", <http://localhost:3000/api/v1/timelines/tag/"
      "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp?limit=10&min_id=117020582251615632>; "
      "rel=\"prev\"";
  const LinkIds ids = ParseLinkHeader(header);
  EXPECT_EQ(ids.next_max_id, "117020582177108552");
  EXPECT_EQ(ids.prev_min_id, "117020582251615632");

  // The page's own oldest and newest ids, as the server computed them.
  const auto posts = MustParse(ReadFixture("mastodon/timeline_tag_limit10_page1.json"));
  ASSERT_EQ(posts.size(), 10u);
  EXPECT_EQ(ids.next_max_id, posts.back().local_id);
  EXPECT_EQ(ids.prev_min_id, posts.front().local_id);
}

TEST(MastodonParserTest, LinkHeaderFromRecordedSingleItemPage) {
  // timeline_tag_hoot.meta.json: one status, so next and prev carry the same id.
  const LinkIds ids = ParseLinkHeader(
      "<http://localhost:3000/api/v1/timelines/tag/hoot?max_id=117020593741189701>; rel=\"next\", "
      "<http://localhost:3000/api/v1/timelines/tag/hoot?min_id=117020593741189701>; rel=\"prev\"");
  EXPECT_EQ(ids.next_max_id, "117020593741189701");
  EXPECT_EQ(ids.prev_min_id, "117020593741189701");
}

TEST(MastodonParserTest, LinkHeaderVariants) {
  struct Case {
    std::string header, next, prev;
  };
  const std::vector<Case> cases = {
      {"<https://m.example/api/v1/timelines/tag/x?min_id=5>; rel=\"prev\", "
       "<https://m.example/api/v1/timelines/tag/x?max_id=4>; rel=\"next\"",
       "4", "5"},
      {"<https://m.example/x?max_id=4&limit=10>;rel=next,<https://m.example/x?min_id=5>;   rel = "
       "\"prev\"  ",
       "4", "5"},
      {"  <https://m.example/x?limit=2&max_id=4&local=true> ; title=\"a, b; c\" ; rel=\"next\"",
       "4", ""},
      {"<https://m.example/x?min_id=5>; rel=\"prev\"", "", "5"},
      {"<https://m.example/x?max_id=4>; REL=\"NEXT\"", "4", ""},
      {"<https://m.example/x?max_id=4>; rel=\"next last\"", "4", ""},
      {"<https://m.example/x?xmax_id=9&max_id=4#frag>; rel=\"next\"", "4", ""},
      {"<https://m.example/x?limit=2>; rel=\"next\", <https://m.example/x?since_id=3>; "
       "rel=\"prev\"",
       "", ""},
      {"<https://m.example/x?max_id=4>", "", ""},
      {"<https://m.example/x?max_id=4>; rel=\"first\"", "", ""},
      {"", "", ""},
      {"nonsense", "", ""},
      {"<https://m.example/x?max_id=4", "", ""},
  };
  for (const Case& c : cases) {
    const LinkIds ids = ParseLinkHeader(c.header);
    EXPECT_EQ(ids.next_max_id, c.next) << c.header;
    EXPECT_EQ(ids.prev_min_id, c.prev) << c.header;
  }
}

TEST(MastodonParserTest, RateLimitFromRecordedHeaders) {
  // x-ratelimit-* of timeline_tag_limit10_page1.meta.json.
  const MastodonRateLimit rl = ParseMastodonRateLimit("300", "299", "2026-08-01T13:55:00.729285Z");
  EXPECT_EQ(rl.limit, 300);
  EXPECT_EQ(rl.remaining, 299);
  EXPECT_EQ(rl.reset_at_ms, 1785592500729);  // 6 fractional digits, truncated to ms
}

TEST(MastodonParserTest, RateLimitAbsentOrGarbage) {
  MastodonRateLimit rl = ParseMastodonRateLimit("", "", "");
  EXPECT_EQ(rl.limit, std::nullopt);
  EXPECT_EQ(rl.remaining, std::nullopt);
  EXPECT_EQ(rl.reset_at_ms, std::nullopt);

  rl = ParseMastodonRateLimit("abc", "12abc", "tomorrow");
  EXPECT_EQ(rl.limit, std::nullopt);
  EXPECT_EQ(rl.remaining, std::nullopt);
  EXPECT_EQ(rl.reset_at_ms, std::nullopt);

  rl = ParseMastodonRateLimit(" 300 ", "0", "2026-03-10T14:10:00.000000Z");
  EXPECT_EQ(rl.limit, 300);
  EXPECT_EQ(rl.remaining, 0);
  EXPECT_EQ(rl.reset_at_ms, Ms("2026-03-10T14:10:00Z"));

  rl = ParseMastodonRateLimit("99999999999999999999999", "1.5", "1785592500");
  EXPECT_EQ(rl.limit, std::nullopt);
  EXPECT_EQ(rl.remaining, std::nullopt);
  EXPECT_EQ(rl.reset_at_ms, std::nullopt);
}

TEST(MastodonParserTest, ErrorBodies) {
  EXPECT_EQ(ParseMastodonError(ReadFixture("mastodon/error_404_status_not_found.json")),
            "Not Found");
  EXPECT_EQ(ParseMastodonError(R"({"error":"Too many requests"})"), "Too many requests");
  EXPECT_EQ(ParseMastodonError(
                R"({"error":"invalid_grant","error_description":"The access grant is invalid"})"),
            "invalid_grant");
  EXPECT_EQ(ParseMastodonError(""), "");
  EXPECT_EQ(ParseMastodonError("not json"), "");
  EXPECT_EQ(ParseMastodonError("[]"), "");
  EXPECT_EQ(ParseMastodonError(R"({"error": 404})"), "");
  EXPECT_EQ(ParseMastodonError(R"({"message": "Forbidden"})"), "");
  EXPECT_EQ(ParseMastodonError(R"({"error":"Not Found")"), "");
  EXPECT_EQ(ParseMastodonError(ReadFixture("mastodon/timeline_tag_hoot.json")), "");
}

// ---- hand-written statuses ----

// A boost (as account statuses return it) of a remote status that mentions a remote and a local
// account, is a reply, quotes another post, and carries entities and emoji in several encodings.
constexpr std::string_view kBoostPage = R"json([
{
  "id": "116205300000000001",
  "created_at": "2026-03-10T15:00:00.000Z",
  "in_reply_to_id": null,
  "in_reply_to_account_id": null,
  "sensitive": false,
  "spoiler_text": "",
  "visibility": "public",
  "language": null,
  "uri": "https://mastodon.example/users/Booster/statuses/116205300000000001/activity",
  "url": null,
  "replies_count": 0,
  "reblogs_count": 0,
  "favourites_count": 0,
  "quotes_count": 0,
  "edited_at": null,
  "content": "",
  "reblog": {
    "id": "116205256704004242",
    "created_at": "2026-03-10T14:05:00.000Z",
    "in_reply_to_id": "116205200000000000",
    "in_reply_to_account_id": "110000000000000001",
    "sensitive": true,
    "spoiler_text": "Clean air",
    "visibility": "public",
    "language": "en",
    "uri": "https://social.example.org/users/alice/statuses/116205256704000001",
    "url": "https://social.example.org/@alice/116205256704000001",
    "replies_count": 1,
    "reblogs_count": 4,
    "favourites_count": 9,
    "edited_at": "2026-03-10T14:06:00.000Z",
    "content": "<p><span class=\"h-card\" translate=\"no\"><a href=\"https://gov.example/@SenJaneDoe\" class=\"u-url mention\">@<span>SenJaneDoe</span></a></span> <span class=\"h-card\"><a href=\"https://mastodon.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span> please back <a href=\"https://mastodon.example/tags/CleanAirAct\" class=\"mention hashtag\" rel=\"tag\">#<span>CleanAirAct</span></a> &amp; vote &quot;yes&quot; &#127757; \ud83c\udf0d 🌿</p><p>Details: <a href=\"https://example.org/a/very/long/path\" rel=\"nofollow noopener\" target=\"_blank\"><span class=\"invisible\">https://</span><span class=\"ellipsis\">example.org/a/very/lo</span><span class=\"invisible\">ng/path</span></a><br>It&#39;s 5 &lt; 6 &gt; 4</p>",
    "reblog": null,
    "application": {"name": "Web", "website": null},
    "account": {
      "id": "109876543210987654",
      "username": "Alice",
      "acct": "Alice@Social.Example.org",
      "display_name": "Alice \ud83c\udf3f",
      "note": "<p>Clean air now.</p>",
      "followers_count": 1203,
      "following_count": 311,
      "statuses_count": 4521,
      "last_status_at": "2026-03-10",
      "emojis": [],
      "fields": [{"name": "web", "value": "<a href=\"https://alice.example\">alice.example</a>", "verified_at": null}]
    },
    "media_attachments": [],
    "mentions": [
      {"id": "110000000000000001", "username": "SenJaneDoe", "url": "https://gov.example/@SenJaneDoe", "acct": "SenJaneDoe@gov.example"},
      {"id": "110000000000000002", "username": "bob", "url": "https://mastodon.example/@bob", "acct": "bob"}
    ],
    "tags": [{"name": "CleanAirAct", "url": "https://mastodon.example/tags/cleanairact"}],
    "emojis": [],
    "quote": {
      "state": "accepted",
      "quoted_status": {
        "id": "116000000000000009",
        "created_at": "2026-03-01T10:00:00.000Z",
        "uri": "https://gov.example/users/senjanedoe/statuses/116000000000000009",
        "content": "<p>quoted</p>",
        "account": {"id": "110000000000000001", "acct": "SenJaneDoe@gov.example", "followers_count": 50000},
        "mentions": [],
        "tags": [{"name": "other", "url": "https://mastodon.example/tags/other"}],
        "quote": null
      }
    },
    "card": null,
    "poll": null
  },
  "application": null,
  "account": {"id": "300", "username": "Booster", "acct": "Booster", "followers_count": 5},
  "media_attachments": [],
  "mentions": [],
  "tags": [],
  "emojis": [],
  "quote": null,
  "card": null,
  "poll": null
}
])json";

void ExpectBoostedOriginal(const Post& p) {
  EXPECT_EQ(p.key, "https://social.example.org/users/alice/statuses/116205256704000001");
  EXPECT_EQ(p.local_id, "116205256704004242");
  EXPECT_EQ(p.url, "https://social.example.org/@alice/116205256704000001");
  EXPECT_EQ(p.created_at_ms, 1773151500000);  // 2026-03-10T14:05:00.000Z
  EXPECT_EQ(p.author, "alice@social.example.org");
  EXPECT_EQ(p.author_followers, 1203);
  EXPECT_EQ(p.text,
            "Clean air\n\n"
            "@SenJaneDoe @bob please back #CleanAirAct & vote \"yes\" \U0001F30D \U0001F30D "
            "\U0001F33F\n\n"
            "Details: https://example.org/a/very/long/path\n"
            "It's 5 < 6 > 4");
  EXPECT_THAT(p.hashtags, ElementsAre("cleanairact"));
  EXPECT_THAT(p.mentions, ElementsAre("senjanedoe@gov.example", "bob@mastodon.example"));
  EXPECT_EQ(p.in_reply_to_local_id, "116205200000000000");
  EXPECT_EQ(p.in_reply_to_author, "senjanedoe@gov.example");
  EXPECT_EQ(p.quote_of, "https://gov.example/users/senjanedoe/statuses/116000000000000009");
  EXPECT_EQ(p.engagement, (Engagement{.likes = 9, .reposts = 4, .replies = 1, .quotes = 0}));
}

TEST(MastodonParserTest, BoostYieldsTheOriginalStatus) {
  const auto posts = MustParse(kBoostPage, "mastodon.example");
  ASSERT_EQ(posts.size(), 1u);
  ExpectBoostedOriginal(posts[0]);
}

TEST(MastodonParserTest, SingleStatus) {
  // The same original, as GET /api/v1/statuses/:id returns it.
  const std::string page(kBoostPage);
  const size_t begin = page.find("\"reblog\": {") + std::string_view("\"reblog\": ").size();
  const size_t end = page.find("\n  },\n  \"application\": null") + 4;
  const std::string original = page.substr(begin, end - begin);
  auto post = ParseMastodonStatus(original, "mastodon.example");
  ASSERT_TRUE(post.has_value()) << post.error().ToString() << "\n" << original;
  ExpectBoostedOriginal(*post);

  auto boost = ParseMastodonStatus(
      page.substr(page.find('{'), page.rfind('}') - page.find('{') + 1), "mastodon.example");
  ASSERT_TRUE(boost.has_value()) << boost.error().ToString();
  ExpectBoostedOriginal(*boost);

  auto not_found =
      ParseMastodonStatus(ReadFixture("mastodon/error_404_status_not_found.json"), kFixtureHome);
  ASSERT_FALSE(not_found.has_value());
  EXPECT_EQ(not_found.error().code, ErrorCode::kParse);
  EXPECT_THAT(not_found.error().message, HasSubstr("missing field 'id'"));

  for (std::string_view bad : {"[]", "", "{", "{} {}", "\"x\"", "null"}) {
    auto r = ParseMastodonStatus(bad, kFixtureHome);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kParse) << bad;
  }
}

// One compact status; variants are made by replacing one of its fields.
constexpr std::string_view kBase =
    R"({"id":"100","created_at":"2026-03-10T14:05:00.000Z","in_reply_to_id":null,)"
    R"("in_reply_to_account_id":null,"spoiler_text":"","uri":"https://a.example/users/u/statuses/100",)"
    R"("url":"https://a.example/@u/100","replies_count":1,"reblogs_count":2,"favourites_count":3,)"
    R"("quotes_count":4,"edited_at":null,"content":"<p>hi</p>","reblog":null,"application":null,)"
    R"("account":{"id":"7","acct":"U","followers_count":8},"mentions":[],)"
    R"("tags":[{"name":"t","url":"https://a.example/tags/t"}],"quote":null,"card":null,"poll":null,)"
    R"("language":null})";

std::string Page(std::string_view second) {
  return "[" + std::string(kBase) + "," + std::string(second) + "]";
}

TEST(MastodonParserTest, CompactStatusAndNulls) {
  const auto posts = MustParse("[" + std::string(kBase) + "]", "A.Example");
  ASSERT_EQ(posts.size(), 1u);
  const Post& p = posts[0];
  EXPECT_EQ(p.key, "https://a.example/users/u/statuses/100");
  EXPECT_EQ(p.local_id, "100");
  EXPECT_EQ(p.url, "https://a.example/@u/100");
  EXPECT_EQ(p.author, "u@a.example");
  EXPECT_EQ(p.author_followers, 8);
  EXPECT_EQ(p.text, "hi");
  EXPECT_THAT(p.hashtags, ElementsAre("t"));
  EXPECT_EQ(p.engagement, (Engagement{.likes = 3, .reposts = 2, .replies = 1, .quotes = 4}));
  EXPECT_EQ(p.quote_of, "");
  EXPECT_EQ(p.in_reply_to_local_id, "");

  // url null falls back to uri; quotes_count absent (before 4.5) is 0.
  std::string v =
      Replace(std::string(kBase), R"("url":"https://a.example/@u/100")", R"("url":null)");
  v = Replace(v, R"("quotes_count":4,)", "");
  const auto nulls = MustParse("[" + v + "]");
  ASSERT_EQ(nulls.size(), 1u);
  EXPECT_EQ(nulls[0].url, "https://a.example/users/u/statuses/100");
  EXPECT_EQ(nulls[0].engagement.quotes, 0);
}

TEST(MastodonParserTest, ReplyAuthorAndSpoiler) {
  std::string self_reply =
      Replace(std::string(kBase), R"("in_reply_to_id":null)", R"("in_reply_to_id":"99")");
  self_reply =
      Replace(self_reply, R"("in_reply_to_account_id":null)", R"("in_reply_to_account_id":"7")");
  self_reply = Replace(self_reply, R"("spoiler_text":"")", R"("spoiler_text":"CW & <stuff>")");
  auto posts = MustParse("[" + self_reply + "]", "a.example");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].in_reply_to_local_id, "99");
  EXPECT_EQ(posts[0].in_reply_to_author, "u@a.example");
  EXPECT_EQ(posts[0].text, "CW & <stuff>\n\nhi");  // spoiler_text is plain text, not HTML

  // A reply to an account that is not mentioned: the parent is known, its author is not.
  const std::string unknown =
      Replace(self_reply, R"("in_reply_to_account_id":"7")", R"("in_reply_to_account_id":"8")");
  posts = MustParse("[" + unknown + "]", "a.example");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].in_reply_to_local_id, "99");
  EXPECT_EQ(posts[0].in_reply_to_author, "");
}

TEST(MastodonParserTest, QuoteShapes) {
  struct Case {
    std::string quote, want;
  };
  const std::vector<Case> cases = {
      {R"({"state":"accepted","quoted_status":{"id":"1","uri":"https://b.example/s/1"}})",
       "https://b.example/s/1"},
      {R"({"state":"deleted","quoted_status":null})", ""},
      {R"({"state":"accepted","quoted_status_id":"1"})", ""},  // ShallowQuote
      // Fedibird-style: the quoted Status itself.
      {R"({"id":"1","uri":"https://b.example/s/2","content":"<p>x</p>","account":{"acct":"b"}})",
       "https://b.example/s/2"},
  };
  for (const Case& c : cases) {
    const auto posts = MustParse(
        "[" + Replace(std::string(kBase), R"("quote":null)", R"("quote":)" + c.quote) + "]");
    ASSERT_EQ(posts.size(), 1u) << c.quote;
    EXPECT_EQ(posts[0].quote_of, c.want) << c.quote;
  }
}

TEST(MastodonParserTest, UnknownFieldsAndFieldOrderDoNotMatter) {
  const std::string noisy =
      R"({"future":{"a":[1,{"b":null}],"c":"\u00e9","d":-1.5e10},"filtered":[],)"
      R"("tagged_collections":[[],[{}]],"quote_approval":{"automatic":["public"]},)" +
      std::string(kBase.substr(1, kBase.size() - 2)) +
      R"(,"favourited":false,"emojis":[{"shortcode":"x","url":"u"}],"zzz":true})";
  // The same fields in reverse order, and a key written with an escape ("\u0075ri" is "uri").
  const std::string reordered =
      R"({"language":null,"poll":null,"quote":null,"tags":[{"url":"https://a.example/tags/t","name":"T"}],)"
      R"("mentions":[],"account":{"followers_count":8,"acct":"u","id":"7"},"application":null,)"
      R"("reblog":null,"content":"<p>hi</p>","edited_at":null,"quotes_count":4,"favourites_count":3,)"
      R"("reblogs_count":2,"replies_count":1,"url":"https://a.example/@u/100",)"
      R"("\u0075ri":"https://a.example/users/u/statuses/100","spoiler_text":"",)"
      R"("in_reply_to_account_id":null,"in_reply_to_id":null,"created_at":"2026-03-10T14:05:00.000Z",)"
      R"("id":"100"})";
  const auto base = MustParse("[" + std::string(kBase) + "]", "a.example");
  const auto a = MustParse("[" + noisy + "]", "a.example");
  const auto b = MustParse("[" + reordered + "]", "a.example");
  ASSERT_EQ(base.size(), 1u);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  for (const Post* p : {&a[0], &b[0]}) {
    EXPECT_EQ(p->key, base[0].key);
    EXPECT_EQ(p->local_id, base[0].local_id);
    EXPECT_EQ(p->url, base[0].url);
    EXPECT_EQ(p->created_at_ms, base[0].created_at_ms);
    EXPECT_EQ(p->author, base[0].author);
    EXPECT_EQ(p->author_followers, base[0].author_followers);
    EXPECT_EQ(p->text, base[0].text);
    EXPECT_EQ(p->hashtags, base[0].hashtags);
    EXPECT_EQ(p->engagement, base[0].engagement);
  }
}

// ---- malformed bodies ----

TEST(MastodonParserTest, NotAnArray) {
  ExpectParseError("");
  ExpectParseError("   ");
  ExpectParseError("not json");
  ExpectParseError("<html><body>502 Bad Gateway</body></html>");
  ExpectParseError(std::string(kBase), "array");  // a single status where a page was expected
  ExpectParseError("{}", "array");
  ExpectParseError("null", "array");
  ExpectParseError("[1]", "status 0");
  ExpectParseError("[null]", "status 0");
  ExpectParseError("[[]]", "status 0");
  ExpectParseError("[] []");
  ExpectParseError("[" + std::string(kBase) + "] []");
  ExpectParseError("[" + std::string(kBase) + "] x");
  ExpectParseError("[" + std::string(kBase) + ",]");
}

TEST(MastodonParserTest, TruncatedBodiesAreErrorsAtEveryCut) {
  for (const char* name :
       {"mastodon/timeline_tag_hoot.json", "mastodon/account_statuses_limit5.json"}) {
    const std::string body = ReadFixture(name);
    ASSERT_FALSE(body.empty());
    ASSERT_TRUE(ParseMastodonStatuses(body, kFixtureHome).has_value());
    for (size_t cut = 0; cut < body.size(); ++cut) {
      auto posts = ParseMastodonStatuses(std::string_view(body).substr(0, cut), kFixtureHome);
      ASSERT_FALSE(posts.has_value()) << name << " cut at " << cut;
      ASSERT_EQ(posts.error().code, ErrorCode::kParse) << name << " cut at " << cut;
    }
  }
}

TEST(MastodonParserTest, TruncatedLargePage) {
  const std::string body = ReadFixture("mastodon/timeline_tag_limit10_page1.json");
  ASSERT_EQ(body.size(), 21671u);
  std::vector<size_t> cuts;
  for (size_t i = 1; i <= 20; ++i) cuts.push_back(body.size() * i / 21);
  cuts.push_back(body.size() - 1);             // everything but the final ']'
  cuts.push_back(body.find("},{\"id\"") + 1);  // "[{...}" : one whole status, no ']'
  cuts.push_back(body.find("},{\"id\"") + 2);  // "[{...}," : a dangling comma
  for (size_t cut : cuts) {
    // Copied, so nothing readable lies beyond the cut (a sanitizer would notice an overread).
    const std::string prefix = body.substr(0, cut);
    auto posts = ParseMastodonStatuses(prefix, kFixtureHome);
    ASSERT_FALSE(posts.has_value()) << "cut at " << cut;
    EXPECT_EQ(posts.error().code, ErrorCode::kParse) << "cut at " << cut;
  }
}

TEST(MastodonParserTest, WrongTypesNameTheStatusAndField) {
  struct Case {
    std::string_view from, to, field;
  };
  const std::vector<Case> cases = {
      {R"("favourites_count":3)", R"("favourites_count":"3")", "'favourites_count'"},
      {R"("reblogs_count":2)", R"("reblogs_count":true)", "'reblogs_count'"},
      {R"("replies_count":1)", R"("replies_count":1.5)", "'replies_count'"},
      {R"("quotes_count":4)", R"("quotes_count":null)", "'quotes_count'"},
      {R"("tags":[{"name":"t","url":"https://a.example/tags/t"}])", R"("tags":"t")", "'tags'"},
      {R"("tags":[{"name":"t","url":"https://a.example/tags/t"}])", R"("tags":[1])", "'tags[0]'"},
      {R"("tags":[{"name":"t",)", R"("tags":[{"name":5,)", "'tags[0].name'"},
      {R"("followers_count":8)", R"("followers_count":"8")", "'account.followers_count'"},
      {R"("acct":"U")", R"("acct":null)", "'account.acct'"},
      {R"("account":{"id":"7","acct":"U","followers_count":8})", R"("account":[])", "'account'"},
      {R"("id":"100")", R"("id":100)", "'id'"},
      {R"("uri":"https://a.example/users/u/statuses/100")", R"("uri":null)", "'uri'"},
      {R"("url":"https://a.example/@u/100")", R"("url":5)", "'url'"},
      {R"("created_at":"2026-03-10T14:05:00.000Z")", R"("created_at":"yesterday")", "'created_at'"},
      {R"("created_at":"2026-03-10T14:05:00.000Z")", R"("created_at":1773151500)", "'created_at'"},
      {R"("content":"<p>hi</p>")", R"("content":["hi"])", "'content'"},
      {R"("in_reply_to_id":null)", R"("in_reply_to_id":5)", "'in_reply_to_id'"},
      {R"("in_reply_to_id":null)", R"("in_reply_to_id":nul)", "'in_reply_to_id'"},
      {R"("reblog":null)", R"("reblog":"x")", "'reblog'"},
      {R"("reblog":null)", R"("reblog":{"id":"1","uri":"https://b.example/s/1","created_at":5})",
       "'reblog.created_at'"},
      {R"("quote":null)", R"("quote":5)", "'quote'"},
      {R"("quote":null)", R"("quote":{"quoted_status":{"uri":7}})", "'quote.quoted_status.uri'"},
      {R"("mentions":[])", R"("mentions":{})", "'mentions'"},
      {R"("mentions":[])", R"("mentions":[{"acct":1}])", "'mentions[0].acct'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.to));
    ExpectParseError(Page(Replace(std::string(kBase), c.from, c.to)), "status 1");
    ExpectParseError(Page(Replace(std::string(kBase), c.from, c.to)), c.field);
  }
}

TEST(MastodonParserTest, MissingRequiredFields) {
  const std::string base(kBase);
  ExpectParseError(Page(Replace(base, R"("uri":"https://a.example/users/u/statuses/100",)", "")),
                   "status 1: missing field 'uri'");
  ExpectParseError(Page(Replace(base, R"("id":"100",)", "")), "status 1: missing field 'id'");
  ExpectParseError(Page(Replace(base, R"("created_at":"2026-03-10T14:05:00.000Z",)", "")),
                   "status 1: missing field 'created_at'");
  ExpectParseError(Page(Replace(base, R"("reblog":null)",
                                R"("reblog":{"id":"1","created_at":"2026-03-10T14:05:00.000Z"})")),
                   "status 1: missing field 'reblog.uri'");
  ExpectParseError("[{}]", "status 0: missing field 'id'");
}

TEST(MastodonParserTest, InvalidUtf8) {
  // In a used field, and in an ignored one (which On-Demand alone would never look at).
  ExpectParseError(Page(Replace(std::string(kBase), "<p>hi</p>", "<p>h\xff</p>")), "UTF-8");
  ExpectParseError(Page(Replace(std::string(kBase), R"("card":null)", "\"card\":\"\xc3\x28\"")),
                   "UTF-8");
  ExpectParseError(Page(Replace(std::string(kBase), "<p>hi</p>", "<p>\xed\xa0\x80</p>")), "UTF-8");
}

// ---- HtmlToText ----

TEST(HtmlToTextTest, Cases) {
  struct Case {
    std::string_view html, text;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {"plain", "plain"},
      {"<p>Hello</p>", "Hello"},
      {"<p>a</p><p>b</p>", "a\n\nb"},
      {"<p>a</p>\n<p>b</p>", "a\n\nb"},
      {"a<br>b<br/>c<br />d<BR>e", "a\nb\nc\nd\ne"},
      {"<p>a<br><br>b</p>", "a\n\nb"},
      {"<p>a<br></p><p>b</p>", "a\n\nb"},
      {"<br><p>x</p><br>", "x"},
      {"<ul><li>a</li><li>b</li></ul><p>c</p>", "a\nb\n\nc"},
      {"<p>a</p><blockquote><p>b</p></blockquote><p>c</p>", "a\n\nb\n\nc"},
      {"&amp;", "&"},
      {"&lt;&gt;", "<>"},
      {"&quot;q&quot;", "\"q\""},
      {"it&#39;s &apos;x&apos;", "it's 'x'"},
      {"a&nbsp;b", "a b"},
      {"&#65;&#x42;&#X43;&#233;&#x1F600;", "ABC\u00e9\U0001F600"},
      {"&#0;&#xD800;&#99999999999;&#x110000;", "\uFFFD\uFFFD\uFFFD\uFFFD"},
      {"&foo; & AT&T &#; &#x; &#12a; &amp", "&foo; & AT&T &#; &#x; &#12a; &amp"},
      {"&lt;p&gt;not a tag&lt;/p&gt;", "<p>not a tag</p>"},
      {"a < b > c", "a < b > c"},
      {"<p>h\u00e9llo \U0001F30D</p>", "h\u00e9llo \U0001F30D"},
      {R"(<a href="https://m.example/tags/CleanAirAct" class="mention hashtag" rel="tag">#<span>CleanAirAct</span></a>)",
       "#CleanAirAct"},
      {R"(<span class="h-card" translate="no"><a href="https://gov.example/@jane" class="u-url mention">@<span>jane</span></a></span>)",
       "@jane"},
      {R"(<a href="https://example.org/a/very/long/path" rel="nofollow noopener" target="_blank"><span class="invisible">https://</span><span class="ellipsis">example.org/a/very/lo</span><span class="invisible">ng/path</span></a>)",
       "https://example.org/a/very/long/path"},
      {R"(<a title="1 > 0" href='x>y'>link</a>)", "link"},
      {"<!-- note -->a", "a"},
      {"<p>cut <a href=\"http://x", "cut "},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(HtmlToText(c.html), c.text) << c.html;
  }
}

// ---- snowflakes ----

TEST(MastodonSnowflakeTest, KnownValues) {
  EXPECT_EQ(MastodonIdFromTimeMs(0), 0u);
  EXPECT_EQ(MastodonIdFromTimeMs(-5), 0u);
  EXPECT_EQ(MastodonIdFromTimeMs(1), 65536u);
  EXPECT_EQ(MastodonTimeMsFromId(65535), 0);
  EXPECT_EQ(MastodonIdFromTimeMs(1785592380548), 117020582251593728u);
  EXPECT_EQ(MastodonTimeMsFromId(117020582251615632u), 1785592380548);
}

TEST(MastodonSnowflakeTest, RecordedIdsMatchTheirCreatedAt) {
  // A local status's id is taken from the database clock at insert, a millisecond or two before
  // Rails stamps created_at; every recorded pair is within a second.
  const auto page1 = MustParse(ReadFixture("mastodon/timeline_tag_limit10_page1.json"));
  ASSERT_FALSE(page1.empty());
  EXPECT_EQ(page1[0].local_id, "117020582251615632");
  EXPECT_NEAR(MastodonTimeMsFromId(117020582251615632u), page1[0].created_at_ms, 1000);

  size_t checked = 0;
  for (const char* name :
       {"mastodon/timeline_tag_limit10_page1.json", "mastodon/timeline_tag_limit10_page2.json",
        "mastodon/timeline_tag_hoot.json", "mastodon/account_statuses_limit5.json",
        "mastodon/timeline_public_anonymous.json"}) {
    for (const Post& p : MustParse(ReadFixture(name))) {
      const uint64_t id = std::strtoull(p.local_id.c_str(), nullptr, 10);
      const int64_t ms = MastodonTimeMsFromId(id);
      EXPECT_NEAR(ms, p.created_at_ms, 1000) << p.local_id;
      // The smallest id at that millisecond is at or below the id, within the 16-bit sequence.
      const uint64_t floor = MastodonIdFromTimeMs(ms);
      EXPECT_LE(floor, id);
      EXPECT_LT(id - floor, 65536u);
      EXPECT_EQ(MastodonTimeMsFromId(floor), ms);
      // An id computed from created_at selects the post with min_id = that id - overlap.
      EXPECT_LT(MastodonIdFromTimeMs(p.created_at_ms - 1000), id);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 34u);
}

}  // namespace
}  // namespace chorus::collectors
