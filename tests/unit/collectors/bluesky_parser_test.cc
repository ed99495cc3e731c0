#include "collectors/bluesky_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collectors/bluesky_collector.h"
#include "core/time.h"
#include "tests/testlib/test_util.h"

namespace chorus::collectors {
namespace {

using ::chorus::testing::ReadFixture;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

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

BlueskyPostsPage MustParse(std::string_view body) {
  auto page = ParseBlueskyPosts(body);
  EXPECT_TRUE(page.has_value()) << page.error().ToString();
  return page.value_or(BlueskyPostsPage{});
}

void ExpectParseError(std::string_view body, std::string_view message_part = "") {
  auto page = ParseBlueskyPosts(body);
  ASSERT_FALSE(page.has_value()) << "parsed " << page->posts.size()
                                 << " posts from: " << body.substr(0, 300);
  EXPECT_EQ(page.error().code, ErrorCode::kParse);
  EXPECT_THAT(page.error().message, HasSubstr(std::string(message_part)));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// What holds for every post of every recorded page.
void ExpectWellFormed(const BlueskyPostsPage& page) {
  for (const BlueskyPost& bp : page.posts) {
    const Post& p = bp.post;
    SCOPED_TRACE(p.key);
    EXPECT_EQ(p.platform, Platform::kBluesky);
    EXPECT_THAT(p.key, StartsWith("at://did:"));
    EXPECT_THAT(p.key, HasSubstr("/app.bsky.feed.post/"));
    EXPECT_EQ(p.local_id, p.key);
    EXPECT_EQ(AtUriAuthority(p.key), bp.author_did);
    EXPECT_THAT(p.url, StartsWith("https://bsky.app/profile/" + bp.author_did + "/post/"));
    EXPECT_FALSE(p.author.empty());
    EXPECT_EQ(p.author, Lower(p.author));
    EXPECT_GT(p.created_at_ms, Ms("2020-01-01T00:00:00Z"));
    EXPECT_LE(p.created_at_ms, bp.indexed_at_ms);  // sortAt is never after indexedAt
    EXPECT_EQ(p.author_followers, 0);              // not in search results
    for (const auto& t : p.hashtags) {
      EXPECT_FALSE(t.empty());
      EXPECT_NE(t.front(), '#');
      EXPECT_EQ(t, Lower(t));
    }
    EXPECT_EQ(std::set<std::string>(p.hashtags.begin(), p.hashtags.end()).size(),
              p.hashtags.size());
    EXPECT_EQ(p.mentions.size(), bp.mention_dids.size());
    for (const auto& d : bp.mention_dids) EXPECT_THAT(d, StartsWith("did:"));
    if (!p.in_reply_to_key.empty()) {
      EXPECT_THAT(p.in_reply_to_key, StartsWith("at://"));
      EXPECT_EQ(p.in_reply_to_local_id, p.in_reply_to_key);
      EXPECT_EQ(p.in_reply_to_author, AtUriAuthority(p.in_reply_to_key));
    }
    if (!p.quote_of.empty()) {
      EXPECT_EQ(AtUriCollection(p.quote_of), "app.bsky.feed.post");
    }
    EXPECT_GE(p.engagement.likes, 0);
  }
}

// ---- recorded pages ----

TEST(BlueskyParser, SearchPageOfHundredRecordedPosts) {
  const std::string body = ReadFixture("bluesky/searchPosts_hashtag_rstats_limit100.json");
  const auto page = MustParse(body);
  ASSERT_EQ(page.posts.size(), 100u);
  EXPECT_EQ(page.cursor, "100");
  EXPECT_FALSE(page.hits_total.has_value());
  ExpectWellFormed(page);

  const BlueskyPost& first = page.posts[0];
  EXPECT_EQ(first.post.key,
            "at://did:plc:xxppgquw2duy3v2qh6mg5oiv/app.bsky.feed.post/3lt4t5vltz22t");
  EXPECT_EQ(first.post.url,
            "https://bsky.app/profile/did:plc:xxppgquw2duy3v2qh6mg5oiv/post/3lt4t5vltz22t");
  EXPECT_EQ(first.post.author, "karlpettersson.bsky.social");
  EXPECT_EQ(first.post.created_at_ms, Ms("2025-07-04T08:28:35.629Z"));
  EXPECT_EQ(first.indexed_at_ms, Ms("2025-07-04T08:28:36.202Z"));
  EXPECT_EQ(first.post.in_reply_to_key,
            "at://did:plc:xxppgquw2duy3v2qh6mg5oiv/app.bsky.feed.post/3lt4posc55k2t");
  EXPECT_EQ(first.post.in_reply_to_author, "did:plc:xxppgquw2duy3v2qh6mg5oiv");
  EXPECT_EQ(first.post.quote_of,
            "at://did:plc:xxppgquw2duy3v2qh6mg5oiv/app.bsky.feed.post/3lj3q6dngdk2w");

  int replies = 0, quotes = 0, with_rstats = 0;
  for (const auto& bp : page.posts) {
    replies += !bp.post.in_reply_to_key.empty();
    quotes += !bp.post.quote_of.empty();
    for (const auto& t : bp.post.hashtags) with_rstats += t == "rstats";
  }
  EXPECT_EQ(replies, 13);
  EXPECT_EQ(quotes, 5);
  EXPECT_GE(with_rstats, 90);  // #rstats, #RStats and #Rstats are one tag
}

TEST(BlueskyParser, CreatedAtVariantsOfRealClientsAreRead) {
  const auto page = MustParse(ReadFixture("bluesky/searchPosts_hashtag_rstats_limit100.json"));
  ASSERT_EQ(page.posts.size(), 100u);
  // "-05:00" offsets without fractions (a bridge), microseconds, "+00:00" with microseconds.
  EXPECT_EQ(page.posts[3].post.created_at_ms, Ms("2025-07-04T08:02:14Z"));
  EXPECT_EQ(page.posts[2].post.created_at_ms, Ms("2025-07-04T08:16:10.140Z"));
  EXPECT_EQ(page.posts[8].post.created_at_ms, Ms("2025-07-04T07:23:03.351Z"));
}

TEST(BlueskyParser, RecordTagsCountAsHashtagsBesideTagFacets) {
  const auto page = MustParse(ReadFixture("bluesky/searchPosts_hashtag_rstats_limit100.json"));
  ASSERT_EQ(page.posts.size(), 100u);
  // Only record.tags, no tag facet at all: a bridged post whose tags are not in the text.
  EXPECT_THAT(page.posts[54].post.hashtags,
              ElementsAre("datascience", "dataanalytics", "operationsresearch", "opentowork",
                          "python", "rstats", "productanalytics", "tech"));
  // A tag facet and record.tags together, lower-cased and each once.
  const auto& wordle = page.posts[75].post.hashtags;
  EXPECT_THAT(wordle, Contains("wordle"));
  EXPECT_THAT(wordle, Contains("rstats"));
  EXPECT_EQ(wordle.size(), 2u);
  // Bridged accounts keep their mixed-case handles on the wire; authors are lower-cased.
  EXPECT_EQ(page.posts[59].post.author, "elenlefoll.fediscience.org.ap.brid.gy");
}

TEST(BlueskyParser, MentionFacetsUseByteOffsetsAfterEmoji) {
  const auto page = MustParse(ReadFixture("bluesky/searchPosts_hashtag_rstats_limit100.json"));
  ASSERT_EQ(page.posts.size(), 100u);
  EXPECT_THAT(page.posts[37].post.mentions,
              ElementsAre("f2harrell.bsky.social", "matloff.bsky.social"));
  EXPECT_THAT(page.posts[37].mention_dids,
              ElementsAre("did:plc:56hsqifm2ft7ql6slwcq5tix", "did:plc:w6fk75pymlwtvg4thtvlmc4k"));
  EXPECT_THAT(page.posts[10].post.mentions, ElementsAre("ropensci.org"));
  // Recorded as written by a bot: emoji earlier in the text and a facet two bytes early,
  // spanning " (@nrennie.bsky.social)". The handle inside the span is still found.
  EXPECT_THAT(page.posts[9].post.text, StartsWith("\xF0\x9F\x93\x9D"));
  EXPECT_THAT(page.posts[9].post.mentions, ElementsAre("nrennie.bsky.social"));
  EXPECT_THAT(page.posts[9].mention_dids, ElementsAre("did:plc:jiushxoiyvgcw2tgsjyvd2mc"));
}

TEST(BlueskyParser, SecondRecordedSearchPageWithReplies) {
  const auto page = MustParse(ReadFixture("bluesky/searchPosts_redistricting.json"));
  ASSERT_EQ(page.posts.size(), 25u);
  EXPECT_EQ(page.cursor, "25");
  ExpectWellFormed(page);
  EXPECT_EQ(page.posts[0].post.author, "socpaperbot.bsky.social");
  int replies = 0, quotes = 0;
  for (const auto& bp : page.posts) {
    replies += !bp.post.in_reply_to_key.empty();
    quotes += !bp.post.quote_of.empty();
  }
  EXPECT_EQ(replies, 12);
  EXPECT_EQ(quotes, 2);
}

TEST(BlueskyParser, LastPageHasNoCursor) {
  const auto page = MustParse(ReadFixture("bluesky/searchPosts_sort_top_since_no_cursor.json"));
  ASSERT_EQ(page.posts.size(), 1u);
  EXPECT_EQ(page.cursor, "");
  ExpectWellFormed(page);
  const Post& p = page.posts[0].post;
  EXPECT_EQ(p.key, "at://did:plc:ntd53albt5ffa4rgervvgibd/app.bsky.feed.post/3lcmymlgxwa2t");
  EXPECT_EQ(p.author, "jbgruber.bsky.social");
  EXPECT_THAT(p.hashtags, ElementsAre("rstats"));  // facet, and record.tags [] adds nothing
  EXPECT_EQ(p.engagement.likes, 13);
  EXPECT_THAT(p.mentions, IsEmpty());  // a link facet is no mention
}

TEST(BlueskyParser, GetPostsSingle) {
  const auto page = MustParse(ReadFixture("bluesky/getPosts_single.json"));
  ASSERT_EQ(page.posts.size(), 1u);
  ExpectWellFormed(page);
  const Post& p = page.posts[0].post;
  EXPECT_EQ(p.key, "at://did:plc:ic6zqvuw5ulmfpjiwnhsr2ns/app.bsky.feed.post/3k7qmjev5lr2s");
  EXPECT_EQ(p.author, "soubhikbarari.bsky.social");
  EXPECT_EQ(p.created_at_ms, Ms("2023-09-19T11:32:54.574Z"));
  EXPECT_EQ(p.engagement, (Engagement{4, 0, 0, 0}));
  // "@rstatsai" and "#rstats #rgov" are typed in the text but have no facets: no mention, no
  // hashtag (design §5: a handle typed without a facet is not a mention).
  EXPECT_THAT(p.text, HasSubstr("@rstatsai"));
  EXPECT_THAT(p.text, HasSubstr("#rstats"));
  EXPECT_THAT(p.mentions, IsEmpty());
  EXPECT_THAT(p.hashtags, IsEmpty());
  EXPECT_EQ(p.quote_of, "");  // an images embed is no quote
}

TEST(BlueskyParser, QuotesWithMentionsAndRecordWithMedia) {
  const auto page = MustParse(ReadFixture("bluesky/getQuotes_with_mentions.json"));
  ASSERT_EQ(page.posts.size(), 2u);
  ExpectWellFormed(page);
  const std::string quoted =
      "at://did:plc:5c2r73erhng4bszmxlfdtscf/app.bsky.feed.post/3lc5c5qv72r2w";

  const Post& a = page.posts[0].post;  // app.bsky.embed.record#view
  EXPECT_EQ(a.author, "randvegan.bsky.social");
  EXPECT_EQ(a.quote_of, quoted);
  EXPECT_THAT(a.mentions, ElementsAre("bskyr.bsky.social", "chriskenny.bsky.social"));
  EXPECT_THAT(page.posts[0].mention_dids,
              ElementsAre("did:plc:5c2r73erhng4bszmxlfdtscf", "did:plc:wpe35pganb6d4pg4ekmfy6u5"));
  EXPECT_THAT(a.hashtags, ElementsAre("rstats"));
  EXPECT_EQ(a.created_at_ms, Ms("2024-11-30T16:20:25.023Z"));  // microseconds cut to ms
  EXPECT_EQ(a.engagement, (Engagement{3, 1, 1, 0}));

  const Post& b = page.posts[1].post;  // app.bsky.embed.recordWithMedia#view
  EXPECT_EQ(b.author, "chriskenny.bsky.social");
  EXPECT_EQ(b.quote_of, quoted);
  EXPECT_THAT(b.mentions, ElementsAre("bskyr.bsky.social"));
  EXPECT_THAT(b.hashtags, ElementsAre("rstats"));
  EXPECT_EQ(b.engagement, (Engagement{12, 3, 3, 2}));
}

TEST(BlueskyParser, RecordedErrorBodies) {
  const auto invalid = ParseBlueskyError(ReadFixture("bluesky/error_400_InvalidRequest.json"));
  ASSERT_TRUE(invalid.has_value());
  EXPECT_EQ(invalid->error, "InvalidRequest");
  EXPECT_THAT(invalid->message, HasSubstr("300 graphemes"));
  const auto auth = ParseBlueskyError(ReadFixture("bluesky/error_401_AuthenticationRequired.json"));
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(auth->error, "AuthenticationRequired");
  EXPECT_EQ(auth->message, "Invalid identifier or password");
  // An error body is not a page.
  ExpectParseError(ReadFixture("bluesky/error_400_InvalidRequest.json"), "missing field 'posts'");
  ExpectParseError(ReadFixture("bluesky/error_401_AuthenticationRequired.json"), "posts");
  // Not error bodies.
  EXPECT_FALSE(ParseBlueskyError("<html><body>403 Forbidden</body></html>").has_value());
  EXPECT_FALSE(ParseBlueskyError(R"({"message":"no name"})").has_value());
  EXPECT_FALSE(ParseBlueskyError(R"({"error":42})").has_value());
  EXPECT_FALSE(ParseBlueskyError("").has_value());
  const auto no_message = ParseBlueskyError(R"({"error":"ExpiredToken"})");
  ASSERT_TRUE(no_message.has_value());
  EXPECT_EQ(no_message->message, "");
}

TEST(BlueskyParser, RecordedProfiles) {
  auto many = ParseBlueskyProfiles(ReadFixture("bluesky/getProfiles_chriskenny.json"));
  ASSERT_TRUE(many.has_value()) << many.error().ToString();
  ASSERT_EQ(many->size(), 1u);
  EXPECT_EQ((*many)[0].handle, "chriskenny.bsky.social");
  EXPECT_EQ((*many)[0].did, "did:plc:wpe35pganb6d4pg4ekmfy6u5");
  EXPECT_EQ((*many)[0].followers, 554);
  auto one = ParseBlueskyProfile(ReadFixture("bluesky/getProfile_favstats_eu.json"));
  ASSERT_TRUE(one.has_value()) << one.error().ToString();
  EXPECT_EQ(one->handle, "favstats.eu");
  EXPECT_EQ(one->followers, 3608);
  auto two = ParseBlueskyProfile(ReadFixture("bluesky/getProfile_jbgruber.json"));
  ASSERT_TRUE(two.has_value()) << two.error().ToString();
  EXPECT_EQ(two->followers, 1224);
  EXPECT_FALSE(ParseBlueskyProfiles(R"({"profiles":[{"handle":"x.example"}]})").has_value());
  EXPECT_FALSE(ParseBlueskyProfiles(R"({"profiles":[{"did":"did:plc:a","followersCount":"9"}]})")
                   .has_value());
  EXPECT_FALSE(ParseBlueskyProfiles(R"({"actors":[]})").has_value());
  auto absent = ParseBlueskyProfiles(R"({"profiles":[{"did":"did:plc:a","handle":"a.example"}]})");
  ASSERT_TRUE(absent.has_value());
  EXPECT_EQ((*absent)[0].followers, 0);
}

// ---- synthetic bodies: the shapes the recordings do not cover ----

// The example of platform-apis.md §2.4: a 4-byte emoji and a 3-byte arrow before facets.
constexpr char kExampleText[] =
    "\xF0\x9F\x8C\x8D Tell @jane-doe.senate.gov to back #CleanAirAct \xE2\x86\x92 example.org/act";

std::string PostJson(std::string_view text, std::string_view facets,
                     std::string_view extra_record = "",
                     std::string_view handle = "alice.bsky.social") {
  std::string out =
      R"({"uri":"at://did:plc:4u2bq7x3l7qk5lq3s3f2kz6d/app.bsky.feed.post/3mgz4xkq2ls2k",)"
      R"("cid":"bafyreih4","author":{"did":"did:plc:4u2bq7x3l7qk5lq3s3f2kz6d","handle":")";
  out += handle;
  out += R"(","labels":[]},"record":{"$type":"app.bsky.feed.post","text":")";
  out += text;
  out += R"(","createdAt":"2026-03-10T14:03:12.345Z","langs":["en"],"facets":)";
  out += facets;
  out += extra_record;
  out += R"(},"bookmarkCount":0,"replyCount":2,"repostCount":11,"likeCount":37,"quoteCount":1,)"
         R"("indexedAt":"2026-03-10T14:03:13.101Z","labels":[]})";
  return out;
}

std::string Facet(int start, int end, std::string_view feature) {
  return R"({"$type":"app.bsky.richtext.facet","index":{"byteStart":)" + std::to_string(start) +
         R"(,"byteEnd":)" + std::to_string(end) + R"(},"features":[)" + std::string(feature) + "]}";
}

constexpr char kMention[] =
    R"({"$type":"app.bsky.richtext.facet#mention","did":"did:plc:7ksenatorxyzq2m3n4o5p6q"})";
constexpr char kTag[] = R"({"$type":"app.bsky.richtext.facet#tag","tag":"CleanAirAct"})";

std::string Page(const std::string& post) {
  return R"({"cursor":"25","hitsTotal":214,"posts":[)" + post + "]}";
}

TEST(BlueskyParser, ByteOffsetsNotCharacterOffsets) {
  const std::string facets =
      "[" + Facet(10, 30, kMention) + "," + Facet(39, 51, kTag) + "," +
      Facet(56, 71, R"({"$type":"app.bsky.richtext.facet#link","uri":"https://example.org/act"})") +
      "]";
  const auto page = MustParse(Page(PostJson(kExampleText, facets)));
  ASSERT_EQ(page.posts.size(), 1u);
  EXPECT_EQ(page.cursor, "25");
  EXPECT_EQ(page.hits_total, 214);
  const Post& p = page.posts[0].post;
  EXPECT_THAT(p.mentions, ElementsAre("jane-doe.senate.gov"));
  EXPECT_THAT(page.posts[0].mention_dids, ElementsAre("did:plc:7ksenatorxyzq2m3n4o5p6q"));
  EXPECT_THAT(p.hashtags, ElementsAre("cleanairact"));
  EXPECT_EQ(p.text, kExampleText);
  EXPECT_EQ(p.created_at_ms, Ms("2026-03-10T14:03:12.345Z"));
  EXPECT_EQ(p.engagement, (Engagement{37, 11, 2, 1}));

  // Character offsets (7..27) are the classic bug: that span is "ll @jane-doe.senate." and cuts
  // the handle, so whatever it yields is not the policymaker's handle.
  const auto chars = MustParse(Page(PostJson(kExampleText, "[" + Facet(7, 27, kMention) + "]")));
  ASSERT_EQ(chars.posts.size(), 1u);
  EXPECT_NE(chars.posts[0].post.mentions[0], "jane-doe.senate.gov");
  // A span that starts inside the emoji is not a character boundary: the DID stands in.
  const auto inside = MustParse(Page(PostJson(kExampleText, "[" + Facet(1, 30, kMention) + "]")));
  EXPECT_THAT(inside.posts[0].post.mentions, ElementsAre("did:plc:7ksenatorxyzq2m3n4o5p6q"));
  // A span past the end of the text, reversed or empty: the DID.
  for (auto [s, e] : {std::pair{10, 500}, std::pair{30, 10}, std::pair{10, 10}, std::pair{-5, 3}}) {
    const auto odd = MustParse(Page(PostJson(kExampleText, "[" + Facet(s, e, kMention) + "]")));
    ASSERT_EQ(odd.posts.size(), 1u);
    EXPECT_THAT(odd.posts[0].post.mentions, ElementsAre("did:plc:7ksenatorxyzq2m3n4o5p6q"))
        << s << ".." << e;
  }
}

TEST(BlueskyParser, HandleInvalidAuthorIsKeptByDid) {
  const auto page = MustParse(
      Page(PostJson("hello #CleanAirAct", "[" + Facet(6, 18, kTag) + "]", "", "handle.invalid")));
  ASSERT_EQ(page.posts.size(), 1u);
  EXPECT_EQ(page.posts[0].post.author, "did:plc:4u2bq7x3l7qk5lq3s3f2kz6d");
  EXPECT_EQ(page.posts[0].author_did, "did:plc:4u2bq7x3l7qk5lq3s3f2kz6d");
  // Case does not matter either.
  const auto upper = MustParse(Page(PostJson("x", "[]", "", "Handle.Invalid")));
  EXPECT_EQ(upper.posts[0].post.author, "did:plc:4u2bq7x3l7qk5lq3s3f2kz6d");
}

TEST(BlueskyParser, SortAtIsTheEarlierOfCreatedAtAndIndexedAt) {
  // A client clock running ahead: the post is dated when the AppView saw it.
  auto future = Replace(PostJson("x", "[]"), "2026-03-10T14:03:12.345Z", "2031-01-01T00:00:00Z");
  EXPECT_EQ(MustParse(Page(future)).posts[0].post.created_at_ms, Ms("2026-03-10T14:03:13.101Z"));
  // Backdated (an import): the client's date stands.
  auto past = Replace(PostJson("x", "[]"), "2026-03-10T14:03:12.345Z", "2019-05-01T10:00:00+02:00");
  EXPECT_EQ(MustParse(Page(past)).posts[0].post.created_at_ms, Ms("2019-05-01T08:00:00Z"));
  // Unparsable or wrong-typed createdAt: indexedAt.
  auto garbage = Replace(PostJson("x", "[]"), "\"2026-03-10T14:03:12.345Z\"", "\"yesterday\"");
  EXPECT_EQ(MustParse(Page(garbage)).posts[0].post.created_at_ms, Ms("2026-03-10T14:03:13.101Z"));
  auto number = Replace(PostJson("x", "[]"), "\"2026-03-10T14:03:12.345Z\"", "1773151392");
  EXPECT_EQ(MustParse(Page(number)).posts[0].post.created_at_ms, Ms("2026-03-10T14:03:13.101Z"));
}

TEST(BlueskyParser, ClientWrittenOdditiesAreTolerated) {
  // Wrong types inside the record are what buggy clients write; the post is kept and the odd
  // part skipped.
  const std::string facets =
      "[" + Facet(39, 51, kTag) + R"(,{"index":{"byteStart":"10","byteEnd":30},)" +
      R"("features":[{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:x"}]},)" +
      R"("not a facet",{"index":[],"features":{}},)" +
      R"({"index":{"byteStart":10,"byteEnd":30},"features":[7,{"$type":"app.bsky.richtext.facet#tag","tag":5}]}])";
  const auto page = MustParse(
      Page(PostJson(kExampleText, facets, R"(,"tags":["Extra",9,"#extra",""],"reply":"yes")")));
  ASSERT_EQ(page.posts.size(), 1u);
  const Post& p = page.posts[0].post;
  EXPECT_THAT(p.hashtags, ElementsAre("cleanairact", "extra"));
  EXPECT_THAT(p.mentions, ElementsAre("did:plc:x"));  // byteStart was a string: no span
  EXPECT_EQ(p.in_reply_to_key, "");

  auto text_number = Replace(PostJson("x", "[]"), R"("text":"x")", R"("text":12)");
  EXPECT_EQ(MustParse(Page(text_number)).posts[0].post.text, "");
  auto facets_object = PostJson("x", R"({"a":1})");
  EXPECT_EQ(MustParse(Page(facets_object)).posts.size(), 1u);
  // A feature without $type (older clients) is read by its field.
  auto untyped = PostJson(kExampleText, "[" + Facet(10, 30, R"({"did":"did:plc:q"})") + "]");
  EXPECT_THAT(MustParse(Page(untyped)).posts[0].post.mentions, ElementsAre("jane-doe.senate.gov"));
}

TEST(BlueskyParser, ReplyAndQuoteReferences) {
  const std::string parent = "at://did:plc:parentparentparentparent1/app.bsky.feed.post/3aaa";
  const std::string quoted = "at://did:plc:quotedquotedquotedquoted1/app.bsky.feed.post/3bbb";
  const std::string reply =
      R"(,"reply":{"root":{"uri":"at://did:plc:r/app.bsky.feed.post/1","cid":"c"},"parent":{"uri":")" +
      parent + R"(","cid":"c"}})";
  auto page = MustParse(Page(PostJson("x", "[]", reply)));
  EXPECT_EQ(page.posts[0].post.in_reply_to_key, parent);
  EXPECT_EQ(page.posts[0].post.in_reply_to_author, "did:plc:parentparentparentparent1");

  // Only the record's embed (no view): still a quote.
  const std::string record_embed =
      R"(,"embed":{"$type":"app.bsky.embed.record","record":{"uri":")" + quoted +
      R"(","cid":"c"}})";
  EXPECT_EQ(MustParse(Page(PostJson("x", "[]", record_embed))).posts[0].post.quote_of, quoted);
  // A view whose quoted post is gone still names it.
  std::string not_found = PostJson("x", "[]");
  not_found = Replace(
      not_found, R"("bookmarkCount")",
      R"("embed":{"$type":"app.bsky.embed.record#view","record":{"$type":"app.bsky.embed.record#viewNotFound","uri":")" +
          quoted + R"(","notFound":true}},"bookmarkCount")");
  EXPECT_EQ(MustParse(Page(not_found)).posts[0].post.quote_of, quoted);
  // A record embed of a feed generator or a list is no quote.
  const std::string feed_embed =
      R"(,"embed":{"$type":"app.bsky.embed.record","record":{"uri":"at://did:plc:z/app.bsky.feed.generator/hot","cid":"c"}})";
  EXPECT_EQ(MustParse(Page(PostJson("x", "[]", feed_embed))).posts[0].post.quote_of, "");
  // recordWithMedia in the record itself.
  const std::string with_media =
      R"(,"embed":{"$type":"app.bsky.embed.recordWithMedia","media":{"$type":"app.bsky.embed.images","images":[]},)"
      R"("record":{"$type":"app.bsky.embed.record","record":{"uri":")" +
      quoted + R"(","cid":"c"}}})";
  EXPECT_EQ(MustParse(Page(PostJson("x", "[]", with_media))).posts[0].post.quote_of, quoted);
}

TEST(BlueskyParser, EmptyAndNullShapes) {
  auto empty = MustParse(R"({"posts":[]})");
  EXPECT_TRUE(empty.posts.empty());
  EXPECT_EQ(empty.cursor, "");
  auto null_cursor = MustParse(R"({"posts":[],"cursor":null,"hits_total":0})");
  EXPECT_EQ(null_cursor.cursor, "");
  EXPECT_EQ(null_cursor.hits_total, 0);
  EXPECT_TRUE(MustParse(" \n{\"posts\" : [ ] }\n").posts.empty());
}

TEST(BlueskyParser, MalformedBodiesFailWhole) {
  ExpectParseError("");
  ExpectParseError("not json");
  ExpectParseError("<html><body><h1>403 Forbidden</h1></body></html>");
  ExpectParseError("[]", "expected a JSON object");
  ExpectParseError(R"({"posts":[]} {"posts":[]})", "content after the end");
  ExpectParseError(R"({"posts":[]}])");
  ExpectParseError(R"({"posts":{}})", "posts");
  ExpectParseError(R"({"posts":null})", "posts");
  ExpectParseError(R"({"posts":[1]})", "bluesky post 0");
  ExpectParseError(R"({"posts":[],"cursor":25})", "cursor");
  ExpectParseError("{\"posts\":[],\"cursor\":\"\xC3\x28\"}", "UTF-8");
  ExpectParseError(R"({"posts":[{,}]})");
  ExpectParseError(R"({"posts":[]},)");
}

TEST(BlueskyParser, WrongTypedAppViewFieldsFailThePage) {
  const std::string good = PostJson("x", "[]");
  ASSERT_EQ(MustParse(Page(good)).posts.size(), 1u);
  struct Case {
    std::string from, to, message;
  };
  const std::vector<Case> cases = {
      {R"("uri":"at://did:plc:4u2bq7x3l7qk5lq3s3f2kz6d/app.bsky.feed.post/3mgz4xkq2ls2k")",
       R"("uri":7)", "uri"},
      {R"("uri":"at://did:plc:4u2bq7x3l7qk5lq3s3f2kz6d/app.bsky.feed.post/3mgz4xkq2ls2k",)", "",
       "missing field 'uri'"},
      {R"("uri":"at://did:plc:4u2bq7x3l7qk5lq3s3f2kz6d/app.bsky.feed.post/3mgz4xkq2ls2k")",
       R"("uri":"")", "uri"},
      {R"("did":"did:plc:4u2bq7x3l7qk5lq3s3f2kz6d",)", "", "author.did"},
      {R"("did":"did:plc:4u2bq7x3l7qk5lq3s3f2kz6d")", R"("did":null)", "author.did"},
      {R"("handle":"alice.bsky.social")", R"("handle":["alice"])", "author.handle"},
      {R"("handle":"alice.bsky.social",)", "", "author.handle"},
      {R"("record":{)", R"("record":"text","rec":{)", "record"},
      {R"("indexedAt":"2026-03-10T14:03:13.101Z")", R"("indexedAt":"soon")", "indexedAt"},
      {R"("indexedAt":"2026-03-10T14:03:13.101Z")", R"("indexedAt":1773151393)", "indexedAt"},
      {R"("indexedAt":"2026-03-10T14:03:13.101Z",)", "", "missing field 'indexedAt'"},
      {R"("likeCount":37)", R"("likeCount":"37")", "likeCount"},
      {R"("likeCount":37)", R"("likeCount":3.5)", "likeCount"},
      {R"("repostCount":11)", R"("repostCount":null)", "repostCount"},
      {R"("replyCount":2)", R"("replyCount":99999999999999999999)", "replyCount"},
      {R"("author":{)", R"("author":"alice","x":{)", "author"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.to);
    ExpectParseError(Page(Replace(good, c.from, c.to)), c.message);
    // The bad post second on the page: the whole page still fails, naming the post.
    ExpectParseError(R"({"posts":[)" + good + "," + Replace(good, c.from, c.to) + "]}",
                     "bluesky post 1");
  }
}

TEST(BlueskyParser, TruncatedBodiesAlwaysFail) {
  for (const char* name :
       {"bluesky/searchPosts_hashtag_rstats_limit100.json",
        "bluesky/searchPosts_redistricting.json", "bluesky/getQuotes_with_mentions.json",
        "bluesky/getPosts_single.json", "bluesky/searchPosts_sort_top_since_no_cursor.json"}) {
    SCOPED_TRACE(name);
    const std::string body = ReadFixture(name);
    ASSERT_FALSE(body.empty());
    ASSERT_TRUE(ParseBlueskyPosts(body).has_value());
    std::set<size_t> cuts = {0, 1, 2, body.size() - 1, body.size() - 2, body.size() / 2};
    for (size_t i = 0; i < 400; ++i) cuts.insert(body.size() * i / 400);
    // Cuts inside multi-byte characters and right after structural characters.
    for (size_t i = 0; i < body.size() && cuts.size() < 700; ++i) {
      const auto c = static_cast<unsigned char>(body[i]);
      if (c >= 0x80 || c == '}' || c == ']' || c == '"' || c == ',') {
        if (i % 7 == 0 || c >= 0xF0) cuts.insert(i + 1);
      }
    }
    for (size_t cut : cuts) {
      if (cut >= body.size()) continue;
      auto page = ParseBlueskyPosts(std::string_view(body).substr(0, cut));
      ASSERT_FALSE(page.has_value())
          << "a body cut at " << cut << " of " << body.size() << " parsed";
      EXPECT_EQ(page.error().code, ErrorCode::kParse);
    }
  }
}

// ---- author feeds ----

TEST(BlueskyParser, AuthorFeedMarksRepostsAndPins) {
  const std::string post = PostJson("own post", "[]");
  const std::string other =
      Replace(Replace(PostJson("someone else's", "[]"), "did:plc:4u2bq7x3l7qk5lq3s3f2kz6d",
                      "did:plc:otherotherotherotherothe"),
              "did:plc:4u2bq7x3l7qk5lq3s3f2kz6d", "did:plc:otherotherotherotherothe");
  const std::string body =
      R"({"feed":[{"post":)" + post + R"(},{"post":)" + other +
      R"(,"reason":{"$type":"app.bsky.feed.defs#reasonRepost","by":{"did":"did:plc:4u2bq7x3l7qk5lq3s3f2kz6d","handle":"alice.bsky.social"},)"
      R"("indexedAt":"2026-03-11T09:00:00.000Z"}},{"post":)" +
      post +
      R"(,"reason":{"$type":"app.bsky.feed.defs#reasonPin"}}],"cursor":"2026-03-10T14:03:13.101Z::bafy"})";
  auto feed = ParseBlueskyAuthorFeed(body);
  ASSERT_TRUE(feed.has_value()) << feed.error().ToString();
  ASSERT_EQ(feed->items.size(), 3u);
  EXPECT_EQ(feed->cursor, "2026-03-10T14:03:13.101Z::bafy");
  EXPECT_FALSE(feed->items[0].repost);
  EXPECT_EQ(feed->items[0].feed_at_ms, Ms("2026-03-10T14:03:12.345Z"));
  EXPECT_TRUE(feed->items[1].repost);
  EXPECT_EQ(feed->items[1].reposted_by_did, "did:plc:4u2bq7x3l7qk5lq3s3f2kz6d");
  EXPECT_EQ(feed->items[1].view.author_did, "did:plc:otherotherotherotherothe");
  EXPECT_EQ(feed->items[1].feed_at_ms, Ms("2026-03-11T09:00:00Z"));
  EXPECT_TRUE(feed->items[2].pinned);

  EXPECT_TRUE(ParseBlueskyAuthorFeed(R"({"feed":[]})").has_value());
  EXPECT_FALSE(ParseBlueskyAuthorFeed(R"({"posts":[]})").has_value());
  EXPECT_FALSE(ParseBlueskyAuthorFeed(R"({"feed":[{"reason":{}}]})").has_value());
  EXPECT_FALSE(
      ParseBlueskyAuthorFeed(
          R"({"feed":[{"post":)" + post +
          R"(,"reason":{"$type":"app.bsky.feed.defs#reasonRepost","indexedAt":"never"}}]})")
          .has_value());
  EXPECT_FALSE(ParseBlueskyAuthorFeed(body.substr(0, body.size() / 2)).has_value());
}

// ---- session, identity, rate limits, uris ----

TEST(BlueskyParser, SessionAndResolvedDid) {
  auto s = ParseBlueskySession(
      R"({"did":"did:plc:me","didDoc":{"x":[1,2]},"handle":"me.bsky.social","email":"a@b.c","emailConfirmed":true,)"
      R"("accessJwt":"eyJ.access.sig","refreshJwt":"eyJ.refresh.sig","active":true})");
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(s->access_jwt, "eyJ.access.sig");
  EXPECT_EQ(s->refresh_jwt, "eyJ.refresh.sig");
  EXPECT_EQ(s->did, "did:plc:me");
  auto missing = ParseBlueskySession(R"({"accessJwt":"eyJ.secret-value.sig"})");
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message, HasSubstr("refreshJwt"));
  // Errors name fields, never values: a token must not reach a log through a parse error.
  auto wrong = ParseBlueskySession(R"({"accessJwt":"eyJ.secret-value.sig","refreshJwt":5})");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().message.find("secret-value"), std::string::npos);

  auto did = ParseBlueskyResolvedDid(R"({"did":"did:plc:7ksenatorxyzq2m3n4o5p6q"})");
  ASSERT_TRUE(did.has_value());
  EXPECT_EQ(*did, "did:plc:7ksenatorxyzq2m3n4o5p6q");
  EXPECT_FALSE(ParseBlueskyResolvedDid(R"({"did":"jane.example"})").has_value());
  EXPECT_FALSE(ParseBlueskyResolvedDid(R"({})").has_value());
}

TEST(BlueskyParser, RateLimitHeaders) {
  const int64_t now = Ms("2026-03-10T14:03:13Z");
  auto rl = ParseBlueskyRateLimit("3000", "2987", "1773151500", "", now);
  EXPECT_EQ(rl.limit, 3000);
  EXPECT_EQ(rl.remaining, 2987);
  EXPECT_EQ(rl.reset_at_ms, 1773151500000);  // epoch seconds, not "seconds until"
  // A 429's Retry-After past the window's reset wins; one before it does not.
  EXPECT_EQ(ParseBlueskyRateLimit("3000", "0", "1773151500", "600", now).reset_at_ms,
            now + 600'000);
  EXPECT_EQ(ParseBlueskyRateLimit("3000", "0", "1773151500", "5", now).reset_at_ms, 1773151500000);
  EXPECT_EQ(ParseBlueskyRateLimit("", "", "", "30", now).reset_at_ms, now + 30'000);
  auto junk = ParseBlueskyRateLimit("lots", "-", "Tue, 10 Mar 2026", "soon", now);
  EXPECT_FALSE(junk.limit || junk.remaining || junk.reset_at_ms);
  EXPECT_EQ(ParseBlueskyRateLimit(" 10 ", "7", "1748016454", "", now).limit, 10);
}

TEST(BlueskyParser, AtUriHelpers) {
  const std::string uri = "at://did:plc:abc/app.bsky.feed.post/3k7qmjev5lr2s";
  EXPECT_EQ(AtUriAuthority(uri), "did:plc:abc");
  EXPECT_EQ(AtUriCollection(uri), "app.bsky.feed.post");
  EXPECT_EQ(BlueskyPostUrl(uri), "https://bsky.app/profile/did:plc:abc/post/3k7qmjev5lr2s");
  EXPECT_EQ(BlueskyPostUrl("at://did:plc:abc/app.bsky.feed.generator/hot"),
            "at://did:plc:abc/app.bsky.feed.generator/hot");
  EXPECT_EQ(BlueskyPostUrl("https://example.org"), "https://example.org");
  EXPECT_EQ(AtUriAuthority("https://x/y"), "");
  EXPECT_EQ(AtUriCollection("at://did:plc:abc"), "");

  const std::string text = kExampleText;
  EXPECT_EQ(Utf8ByteSlice(text, 10, 30), "@jane-doe.senate.gov");
  EXPECT_EQ(Utf8ByteSlice(text, 0, 4), "\xF0\x9F\x8C\x8D");
  EXPECT_FALSE(Utf8ByteSlice(text, 1, 4).has_value());  // starts inside the emoji
  EXPECT_FALSE(Utf8ByteSlice(text, 0, 2).has_value());  // ends inside it
  EXPECT_FALSE(Utf8ByteSlice(text, 5, 5).has_value());
  EXPECT_FALSE(Utf8ByteSlice(text, 0, static_cast<int64_t>(text.size()) + 1).has_value());
  EXPECT_EQ(Utf8ByteSlice(text, 0, static_cast<int64_t>(text.size())), text);
}

TEST(BlueskyParser, ParsersAreReentrantAcrossThreads) {
  const std::string big = ReadFixture("bluesky/searchPosts_hashtag_rstats_limit100.json");
  const std::string small = ReadFixture("bluesky/getQuotes_with_mentions.json");
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto page = ParseBlueskyPosts(t % 2 ? big : small);
        ok[t] += page && page->posts.size() == (t % 2 ? 100u : 2u);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(ok, ::testing::Each(20));
}

// The query state the collector persists with each page (bluesky_collector.h).
TEST(BlueskyCursor, RoundTripsAndRejectsGarbage) {
  BlueskyCursor c;
  c.watermark_ms = 1773151200000;
  EXPECT_EQ(FormatBlueskyCursor(c), "w=1773151200000");
  c.in_progress = true;
  c.since_ms = 1773150300000;
  c.pending_ms = 1773151300000;
  c.until_ms = 1773150900001;
  c.oldest_ms = -5;  // a 1969 post: negative times are times too
  c.window_results = 9900;
  c.empty_pages = 2;
  c.page_cursor = "eyJvZmZzZXQiOjEwMH0=&x=%/\xC3\xBC";
  const std::string text = FormatBlueskyCursor(c);
  const BlueskyCursor back = ParseBlueskyCursor(text);
  EXPECT_EQ(FormatBlueskyCursor(back), text);
  EXPECT_TRUE(back.in_progress);
  EXPECT_EQ(back.since_ms, c.since_ms);
  EXPECT_EQ(back.pending_ms, c.pending_ms);
  EXPECT_EQ(back.until_ms, c.until_ms);
  EXPECT_EQ(back.oldest_ms, -5);
  EXPECT_EQ(back.window_results, 9900);
  EXPECT_EQ(back.empty_pages, 2);
  EXPECT_EQ(back.page_cursor, c.page_cursor);
  for (const char* bad :
       {"", "garbage", "w=", "w=abc", "s=5", "w=5&z=1", "w=5&&s=1", "ww=5", "12345"}) {
    const BlueskyCursor e = ParseBlueskyCursor(bad);
    EXPECT_EQ(e.watermark_ms, 0) << bad;
    EXPECT_FALSE(e.in_progress) << bad;
  }
}

}  // namespace
}  // namespace chorus::collectors
