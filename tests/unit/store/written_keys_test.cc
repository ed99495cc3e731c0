#include "store/written_keys.h"

#include <gtest/gtest.h>

#include <string>

namespace chorus::store {
namespace {

std::string Key(int i) { return "https://social.example/users/u" + std::to_string(i % 977) + "/statuses/" + std::to_string(i); }

// Past the first table's 65,536 slots, so growing keeps what was added.
TEST(WrittenKeys, EveryKeyAddedIsRememberedAndOthersAlmostNeverAre) {
  WrittenKeys keys(1'000'000);
  for (int i = 0; i < 200'000; i += 2) ASSERT_TRUE(keys.Add(Key(i)));
  EXPECT_EQ(keys.size(), 100'000u);
  int missing = 0, false_hits = 0;
  for (int i = 0; i < 200'000; ++i) {
    const bool may = keys.MayContain(Key(i));
    if (i % 2 == 0 && !may) ++missing;
    if (i % 2 == 1 && may) ++false_hits;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(false_hits, 0);  // a 64-bit hash collision among 200,000 keys: odds of about 1e-9
}

TEST(WrittenKeys, AddingAKeyAgainCountsItOnce) {
  WrittenKeys keys(10);
  EXPECT_TRUE(keys.Add("a"));
  EXPECT_TRUE(keys.Add("a"));
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_FALSE(keys.MayContain("b"));
}

// A full set refuses new keys (its owner then drops it) but still knows the ones it holds.
TEST(WrittenKeys, AFullSetRefusesNewKeys) {
  WrittenKeys keys(3);
  EXPECT_TRUE(keys.Add(Key(1)));
  EXPECT_TRUE(keys.Add(Key(2)));
  EXPECT_TRUE(keys.Add(Key(3)));
  EXPECT_TRUE(keys.Add(Key(3)));  // not new
  EXPECT_FALSE(keys.Add(Key(4)));
  EXPECT_TRUE(keys.MayContain(Key(1)));
  EXPECT_FALSE(keys.MayContain(Key(4)));
}

}  // namespace
}  // namespace chorus::store
