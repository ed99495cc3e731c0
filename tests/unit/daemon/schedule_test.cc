#include "daemon/schedule.h"

#include <gtest/gtest.h>


namespace chorus::daemon {
namespace {

TEST(Schedule, JitterStaysWithinTenPercent) {
  EXPECT_EQ(JitteredIntervalMs(60'000, 0.0), 54'000);
  EXPECT_EQ(JitteredIntervalMs(60'000, 0.5), 60'000);
  EXPECT_LT(JitteredIntervalMs(60'000, 0.999999), 66'000);
}

TEST(Schedule, BackoffDoublesWithEqualJitterAndCaps) {
  BackoffPolicy p{1'000, 60'000};
  EXPECT_EQ(BackoffDelayMs(1, p, 0.0), 500);
  EXPECT_EQ(BackoffDelayMs(2, p, 0.0), 1'000);
  EXPECT_EQ(BackoffDelayMs(3, p, 0.0), 2'000);
  EXPECT_LT(BackoffDelayMs(3, p, 0.999), 4'000);
  EXPECT_EQ(BackoffDelayMs(10, p, 0.0), 30'000);   // 2^9 s capped at 60 s, halved
  EXPECT_EQ(BackoffDelayMs(1000, p, 0.0), 30'000); // no overflow
  EXPECT_EQ(BackoffDelayMs(0, p, 0.0), 500);
}

TEST(RateBudget, WaitsForTheResetWhenSpent) {
  RateBudget b(/*reserve=*/1);
  EXPECT_EQ(b.WaitMs(1'000), 0);
  b.Update({300, 200, 10'000}, 1'000);
  EXPECT_EQ(b.WaitMs(1'000), 0);
  b.Update({300, 1, 10'000}, 2'000);  // down to the reserve: never spend the last request
  EXPECT_EQ(b.WaitMs(2'000), 8'000);
  EXPECT_EQ(b.WaitMs(10'000), 0);
  EXPECT_EQ(*b.remaining(), 1);
}

TEST(RateBudget, A429WaitsUntilResetOrFallback) {
  RateBudget b;
  b.OnRateLimited({300, 0, 50'000}, 20'000, 60'000);
  EXPECT_EQ(b.WaitMs(20'000), 30'000);
  RateBudget c;
  c.OnRateLimited({}, 20'000, 60'000);  // no reset header: fall back
  EXPECT_EQ(c.WaitMs(20'000), 60'000);
  RateBudget d;
  d.OnRateLimited({300, 0, 10'000}, 20'000, 60'000);  // reset long past (clock skew): fall back
  EXPECT_EQ(d.WaitMs(20'000), 60'000);
}

TEST(RateBudget, A429WhoseResetJustPassedWaitsOnlyAMoment) {
  // The window turned over while the 429 was on its way: it has reset, a minute's wait is wasted.
  RateBudget b;
  b.OnRateLimited({300, 0, 19'200}, 20'000, 60'000);
  EXPECT_EQ(b.WaitMs(20'000), RateBudget::kAfterJustResetMs);
  RateBudget edge;
  edge.OnRateLimited({300, 0, 20'000 - RateBudget::kJustResetMs}, 20'000, 60'000);
  EXPECT_EQ(edge.WaitMs(20'000), RateBudget::kAfterJustResetMs);
  RateBudget beyond;
  beyond.OnRateLimited({300, 0, 20'000 - RateBudget::kJustResetMs - 1}, 20'000, 60'000);
  EXPECT_EQ(beyond.WaitMs(20'000), 60'000);
}

TEST(RateBudget, MissingHeadersChangeNothing) {
  RateBudget b;
  b.Update({}, 0);
  EXPECT_EQ(b.WaitMs(0), 0);
  EXPECT_FALSE(b.remaining());
}

}  // namespace
}  // namespace chorus::daemon

namespace chorus::daemon {
namespace {

TEST(GapThreshold, ThreeIntervalsButAtLeastTheIntervalPlusFiveMinutes) {
  EXPECT_EQ(GapThresholdMs(60'000), 360'000);
  EXPECT_EQ(GapThresholdMs(600'000), 1'800'000);
}

}  // namespace
}  // namespace chorus::daemon
