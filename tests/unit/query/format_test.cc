// CSV (RFC 4180) and JSON writing of posts and series rows.
#include <gtest/gtest.h>

#include "core/time.h"
#include "query/format.h"

namespace chorus::query {
namespace {

std::string Csv(std::string_view s) {
  std::string out;
  AppendCsvField(&out, s);
  return out;
}
std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST(Csv, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(Csv("plain"), "plain");
  EXPECT_EQ(Csv(""), "");
  EXPECT_EQ(Csv("a,b"), "\"a,b\"");
  EXPECT_EQ(Csv("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(Csv("\""), "\"\"\"\"");
  EXPECT_EQ(Csv("line1\nline2"), "\"line1\nline2\"");
  EXPECT_EQ(Csv("cr\rlf"), "\"cr\rlf\"");
  // UTF-8 passes unchanged, quoted or not.
  EXPECT_EQ(Csv("Schulförderung 📚"), "Schulförderung 📚");
  EXPECT_EQ(Csv("é,\"ü\""), "\"é,\"\"ü\"\"\"");
}

TEST(Utf8, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_TRUE(IsValidUtf8("abc é 日本 𝄞"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  std::string out;
  AppendUtf8(&out, "a\xFFz\xC3");
  EXPECT_EQ(out, "a\xEF\xBF\xBDz\xEF\xBF\xBD");
  EXPECT_EQ(Csv("x\xFE,y"), "\"x\xEF\xBF\xBD,y\"");
  EXPECT_EQ(Json("x\xFE"), "\"x\xEF\xBF\xBD\"");
}

TEST(Json, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Json("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(Json(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(Json("ünï 🎉"), "\"ünï 🎉\"");
}

TEST(Numbers, IntegersAndShortestDoubles) {
  std::string s;
  AppendInt(&s, -42);
  s.push_back(' ');
  AppendInt(&s, INT64_MAX);
  s.push_back(' ');
  AppendDouble(&s, 0.25);
  s.push_back(' ');
  AppendDouble(&s, 1.0 / 3.0);
  s.push_back(' ');
  AppendDouble(&s, 0.0 / 0.0);
  EXPECT_EQ(s, "-42 9223372036854775807 0.25 0.3333333333333333 0");
}

store::StoredPost SamplePost() {
  store::StoredPost sp;
  sp.post.platform = Platform::kMastodon;
  sp.post.key = "https://a.example/users/al/statuses/1";
  sp.post.url = "https://a.example/@al/1";
  sp.post.created_at_ms = *ParseRfc3339Ms("2024-02-29T23:59:59.999Z");
  sp.post.author = "al@a.example";
  sp.post.author_followers = 1234;
  sp.post.text = "Fund \"our\" schools,\nnow! ✊";
  sp.post.mentions = {"sen@gov.example", "rep@gov.example"};
  sp.post.engagement = {5, 3, 2, 1};
  sp.campaigns = {"fos", "equity"};
  sp.terms = {"fos\x1f" "fundourschools", "equity\x1f" "fundourschools", "equity\x1f" "School Formula"};
  sp.policymakers = {"sen-doe"};
  return sp;
}

TEST(PostRow, CsvHasTheContractColumnsInOrder) {
  EXPECT_EQ(PostCsvHeader(),
            "platform,post_id,url,created_at,author,author_followers,campaigns,terms,mentions,likes,"
            "reposts,replies,quotes,policymakers,text\r\n");
  std::string row;
  AppendPostCsv(&row, SamplePost());
  EXPECT_EQ(row,
            "mastodon,https://a.example/users/al/statuses/1,https://a.example/@al/1,"
            "2024-02-29T23:59:59.999Z,al@a.example,1234,fos;equity,fundourschools;School Formula,"
            "sen@gov.example;rep@gov.example,5,3,2,1,sen-doe,\"Fund \"\"our\"\" schools,\nnow! ✊\"\r\n");
}

TEST(PostRow, JsonHasTheSameFieldNames) {
  std::string obj;
  AppendPostJson(&obj, SamplePost());
  EXPECT_EQ(obj,
            "{\"platform\":\"mastodon\",\"post_id\":\"https://a.example/users/al/statuses/1\","
            "\"url\":\"https://a.example/@al/1\",\"created_at\":\"2024-02-29T23:59:59.999Z\","
            "\"author\":\"al@a.example\",\"author_followers\":1234,\"campaigns\":[\"fos\",\"equity\"],"
            "\"terms\":[\"fundourschools\",\"School Formula\"],"
            "\"mentions\":[\"sen@gov.example\",\"rep@gov.example\"],\"likes\":5,\"reposts\":3,"
            "\"replies\":2,\"quotes\":1,\"policymakers\":[\"sen-doe\"],"
            "\"text\":\"Fund \\\"our\\\" schools,\\nnow! ✊\"}");
}

TEST(PostRow, NumericLookingIdsStayText) {
  store::StoredPost sp;
  sp.post.platform = Platform::kX;
  sp.post.key = "1763024011111111111";
  std::string obj;
  AppendPostJson(&obj, sp);
  EXPECT_NE(obj.find("\"post_id\":\"1763024011111111111\""), std::string::npos) << obj;
}

TEST(SeriesRowFormat, CsvAndJson) {
  SeriesRow r;
  r.time_s = *ParseRfc3339Ms("2024-02-29T00:00:00Z") / 1000;
  r.campaign = "fos";
  r.platform = "x";
  r.posts = 3;
  r.reach = 300;
  r.engagement = 10;
  r.likes = 4;
  r.reposts = 3;
  r.replies = 2;
  r.quotes = 1;
  r.unique_authors = 2;
  std::string csv, json;
  AppendSeriesCsv(&csv, r);
  AppendSeriesJson(&json, r);
  EXPECT_EQ(csv, "2024-02-29T00:00:00.000Z,fos,x,3,300,10,4,3,2,1,2\r\n");
  EXPECT_EQ(json,
            "{\"time\":\"2024-02-29T00:00:00.000Z\",\"campaign\":\"fos\",\"platform\":\"x\","
            "\"posts\":3,\"reach\":300,\"engagement\":10,\"likes\":4,\"reposts\":3,\"replies\":2,"
            "\"quotes\":1,\"unique_authors\":2}");
}

}  // namespace
}  // namespace chorus::query
