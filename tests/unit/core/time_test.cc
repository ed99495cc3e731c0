#include "core/time.h"

#include <gtest/gtest.h>

#include "core/counter_key.h"
#include "core/json_escape.h"

namespace chorus {
namespace {

TEST(Rfc3339, ParsesMastodonAndRateLimitForms) {
  EXPECT_EQ(*ParseRfc3339Ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339Ms("2026-03-10T14:05:00.000Z"), 1773151500000);
  EXPECT_EQ(*ParseRfc3339Ms("2026-03-10T14:05:00.5Z"), 1773151500500);
  // Six fractional digits, as in X-RateLimit-Reset; extra digits are truncated, not rounded.
  EXPECT_EQ(*ParseRfc3339Ms("2026-08-01T13:55:00.729285Z"), *ParseRfc3339Ms("2026-08-01T13:55:00.729Z"));
  EXPECT_EQ(*ParseRfc3339Ms("2026-03-10T16:05:00+02:00"), 1773151500000);
  EXPECT_EQ(*ParseRfc3339Ms("2026-03-10T09:05:00-05:00"), 1773151500000);
}

TEST(Rfc3339, HandlesLeapDaysAndRejectsImpossibleDates) {
  EXPECT_EQ(*ParseRfc3339Ms("2024-02-29T00:00:00Z") - *ParseRfc3339Ms("2024-02-28T00:00:00Z"), 86'400'000);
  EXPECT_EQ(*ParseRfc3339Ms("2024-03-01T00:00:00Z") - *ParseRfc3339Ms("2024-02-29T00:00:00Z"), 86'400'000);
  EXPECT_FALSE(ParseRfc3339Ms("2025-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339Ms("1900-02-29T00:00:00Z"));
  EXPECT_TRUE(ParseRfc3339Ms("2000-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339Ms("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339Ms("2026-03-10"));
  EXPECT_FALSE(ParseRfc3339Ms("2026-03-10T14:05:00"));  // no zone
  EXPECT_FALSE(ParseRfc3339Ms("2026-03-10T14:05:00.Z"));
  EXPECT_FALSE(ParseRfc3339Ms("2026-03-10T14:05:00Zjunk"));
  EXPECT_FALSE(ParseRfc3339Ms(""));
}

TEST(Rfc3339, FormatRoundTrips) {
  for (int64_t ms : {0LL, 1773151500000LL, 1709164800123LL, 951782400000LL, 4102444799999LL}) {
    EXPECT_EQ(*ParseRfc3339Ms(FormatRfc3339Ms(ms)), ms) << FormatRfc3339Ms(ms);
  }
  EXPECT_EQ(FormatRfc3339Ms(1773151500000), "2026-03-10T14:05:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(1709164800000), "2024-02-29T00:00:00.000Z");
}

TEST(TimeArg, AcceptsUnixSecondsAndRfc3339) {
  EXPECT_EQ(*ParseTimeArgMs("1773151500"), 1773151500000);
  EXPECT_EQ(*ParseTimeArgMs("2026-03-10T14:05:00Z"), 1773151500000);
  EXPECT_EQ(ParseTimeArgMs("yesterday").error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ParseTimeArgMs("99999999999999999999"));
}

TEST(Duration, ParsesUnitsAndRejectsGarbage) {
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("30s"), 30'000);
  EXPECT_EQ(*ParseDurationMs("15m"), 900'000);
  EXPECT_EQ(*ParseDurationMs("24h"), 86'400'000);
  EXPECT_EQ(*ParseDurationMs("7d"), 604'800'000);
  EXPECT_EQ(*ParseDurationMs("0"), 0);
  for (const char* bad : {"", "s", "10", "10x", "-5s", "1.5h", "10 s", "9999999999999s"}) {
    EXPECT_FALSE(ParseDurationMs(bad)) << bad;
  }
  EXPECT_EQ(FormatDurationMs(900'000), "15m");
  EXPECT_EQ(FormatDurationMs(90'000), "90s");
  EXPECT_EQ(FormatDurationMs(1500), "1500ms");
}

TEST(CounterKey, RoundTripsIncludingEmptyLabelValues) {
  CounterKey k{"chorus_policymaker_mentions_total", {{"policymaker", "sen-doe"}, {"platform", "mastodon"}, {"campaign", ""}}};
  auto d = CounterKey::Decode(k.Encode());
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, k);
  EXPECT_FALSE(CounterKey::Decode(""));
  EXPECT_FALSE(CounterKey::Decode("name\x1fnolabelsep"));
}

TEST(CounterKey, EncodeToWritesWhatEncodeReturnsOverAReusedBuffer) {
  std::string buf = "left over from a longer key, to be replaced";
  CounterKey::EncodeTo(&buf, "chorus_posts_total", {{"campaign", "c"}, {"platform", "x"}});
  EXPECT_EQ(buf, (CounterKey{"chorus_posts_total", {{"campaign", "c"}, {"platform", "x"}}}.Encode()));
  CounterKey::EncodeTo(&buf, "m", {});
  EXPECT_EQ(buf, "m");
}

TEST(JsonEscape, EscapesQuotesControlsAndKeepsUtf8) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
  EXPECT_EQ(HtmlEscape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

}  // namespace
}  // namespace chorus
