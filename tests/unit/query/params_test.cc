// Parameter parsing shared by the query API and exports: every error names its parameter.
#include <gtest/gtest.h>

#include "core/time.h"
#include "query/params.h"
#include "tests/testlib/test_util.h"

namespace chorus::query {
namespace {

using testing::TimeMs;

TEST(CheckParams, RefusesUnknownAndRepeatedNamesByName) {
  auto ok = CheckParams({{"a", "1"}, {"b", "2"}}, {"a", "b", "c"});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->at("a"), "1");
  auto unknown = CheckParams({{"a", "1"}, {"limt", "2"}}, {"a", "limit"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(unknown.error().message.find("'limt'"), std::string::npos) << unknown.error().message;
  auto repeated = CheckParams({{"a", "1"}, {"a", "2"}}, {"a"});
  ASSERT_FALSE(repeated);
  EXPECT_EQ(repeated.error().message.rfind("a:", 0), 0u) << repeated.error().message;
}

TEST(ParseRange, DefaultsAndBadTimesNameTheParameter) {
  const int64_t now = TimeMs("2024-03-01T12:00:00Z");
  auto def = ParseRange({}, now, 24 * 3'600'000LL);
  ASSERT_TRUE(def);
  EXPECT_EQ(def->to_ms, now);
  EXPECT_EQ(def->from_ms, TimeMs("2024-02-29T12:00:00Z"));
  auto open = ParseRange({}, now, 0);
  ASSERT_TRUE(open);
  EXPECT_EQ(open->from_ms, INT64_MIN);

  auto unix_s = ParseRange({{"from", "1709164800"}, {"to", "2024-03-01T00:00:00+01:00"}}, now, 0);
  ASSERT_TRUE(unix_s);
  EXPECT_EQ(unix_s->from_ms, TimeMs("2024-02-29T00:00:00Z"));
  EXPECT_EQ(unix_s->to_ms, TimeMs("2024-02-29T23:00:00Z"));

  auto bad = ParseRange({{"to", "yesterday"}}, now, 0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.rfind("to:", 0), 0u) << bad.error().message;
  auto bad_from = ParseRange({{"from", "2024-02-30T00:00:00Z"}}, now, 0);
  ASSERT_FALSE(bad_from);
  EXPECT_EQ(bad_from.error().message.rfind("from:", 0), 0u) << bad_from.error().message;
  auto reversed = ParseRange({{"from", "2024-03-01T00:00:00Z"}, {"to", "2024-03-01T00:00:00Z"}}, now, 0);
  ASSERT_FALSE(reversed);
  EXPECT_EQ(reversed.error().message.rfind("from:", 0), 0u);
}

TEST(ParseStep, KnowsThreeSteps) {
  EXPECT_EQ(*ParseStep("1m"), store::Step::kMinute);
  EXPECT_EQ(*ParseStep("1h"), store::Step::kHour);
  EXPECT_EQ(*ParseStep("1d"), store::Step::kDay);
  for (const char* bad : {"", "1s", "60m", "1H", "1w"}) {
    auto s = ParseStep(bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().message.rfind("step:", 0), 0u);
  }
  EXPECT_EQ(StepName(store::Step::kMinute), "1m");
  EXPECT_EQ(StepName(store::Step::kDay), "1d");
}

TEST(ParseLimit, AcceptsOneToMax) {
  EXPECT_EQ(*ParseLimit({}, "limit", 100, 1000), 100);
  EXPECT_EQ(*ParseLimit({{"limit", "1"}}, "limit", 100, 1000), 1);
  EXPECT_EQ(*ParseLimit({{"limit", "1000"}}, "limit", 100, 1000), 1000);
  for (const char* bad : {"0", "1001", "-1", "ten", "", "5x", "99999999999999999999"}) {
    auto l = ParseLimit({{"limit", bad}}, "limit", 100, 1000);
    ASSERT_FALSE(l) << bad;
    EXPECT_EQ(l.error().message.rfind("limit:", 0), 0u);
  }
}

TEST(ParsePlatform, EmptyMeansAll) {
  EXPECT_EQ(*ParsePlatformParam(""), "");
  EXPECT_EQ(*ParsePlatformParam("bluesky"), "bluesky");
  auto bad = ParsePlatformParam("twitter");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.rfind("platform:", 0), 0u);
}

TEST(Campaigns, UnknownIsNotFoundAndTermsNormalize) {
  config::Config c;
  c.campaigns.push_back({"fos", {"fundourschools", "edequity"}, {"School Funding Formula"}});
  ASSERT_TRUE(FindCampaign(c, "fos"));
  auto missing = FindCampaign(c, "other");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(*ResolveTerm(c.campaigns[0], "#FundOurSchools"), "fundourschools");
  EXPECT_EQ(*ResolveTerm(c.campaigns[0], "edequity"), "edequity");
  EXPECT_EQ(*ResolveTerm(c.campaigns[0], "school funding formula"), "School Funding Formula");
  auto bad = ResolveTerm(c.campaigns[0], "#other");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message.rfind("term:", 0), 0u);
}

TEST(Cursor, RoundTripsAnyBytesAndRefusesGarbage) {
  for (std::string raw : {std::string(""), std::string("a"), std::string("ab"), std::string("abc"),
                          std::string("fos\x1f\x00\x00\x01\x8d\xf0\xff\xfe key", 18)}) {
    const std::string enc = EncodeCursor(raw);
    EXPECT_EQ(enc.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    if (raw.empty()) continue;
    auto dec = DecodeCursor(enc);
    ASSERT_TRUE(dec) << enc;
    EXPECT_EQ(*dec, raw);
  }
  for (const char* bad : {"", "a", "ab=c", "a+bc", "ab/c", "abcde", "AB"}) {
    auto d = DecodeCursor(bad);
    EXPECT_FALSE(d) << bad;
    if (!d) {
      EXPECT_EQ(d.error().message.rfind("cursor:", 0), 0u);
    }
  }
}

TEST(Seconds, FloorAndCeilAlsoBeforeTheEpoch) {
  EXPECT_EQ(FloorSeconds(1500), 1);
  EXPECT_EQ(CeilSeconds(1500), 2);
  EXPECT_EQ(CeilSeconds(2000), 2);
  EXPECT_EQ(FloorSeconds(-1500), -2);
  EXPECT_EQ(CeilSeconds(-1500), -1);
  EXPECT_EQ(FloorSeconds(-2000), -2);
  EXPECT_EQ(CeilSeconds(-2000), -2);
}

}  // namespace
}  // namespace chorus::query
