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
  EXPECT_GE(keys.size(), 99'990u);  // distinct fingerprints: two keys may share one
  EXPECT_LE(keys.size(), 100'000u);
  int missing = 0, false_hits = 0;
  for (int i = 0; i < 200'000; ++i) {
    const bool may = keys.MayContain(Key(i));
    if (i % 2 == 0 && !may) ++missing;
    if (i % 2 == 1 && may) ++false_hits;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_LE(false_hits, 20);  // 32-bit fingerprints: about 100,000 × 2.5 / 2^32 expected
}

TEST(WrittenKeys, AddingAKeyAgainCountsItOnce) {
  WrittenKeys keys(10);
  EXPECT_TRUE(keys.Add("a"));
  EXPECT_TRUE(keys.Add("a"));
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_FALSE(keys.MayContain("b"));
}

// Many keys at once, as a batch adds and looks them up.
TEST(WrittenKeys, KeysAddedAndLookedUpInBatchesAreTheSameAsOneByOne) {
  WrittenKeys keys(1'000'000);
  std::vector<std::string> added;
  for (int i = 0; i < 150'000; ++i) added.push_back(Key(3 * i));
  ASSERT_TRUE(keys.AddEach(added.size(), [&](size_t i) -> std::string_view { return added[i]; }));
  EXPECT_GE(keys.size(), 149'980u);
  EXPECT_LE(keys.size(), 150'000u);
  std::vector<std::string> asked;
  for (int i = 0; i < 300'000; ++i) asked.push_back(Key(i));
  std::vector<bool> may;
  keys.MayContainEach(std::vector<std::string_view>(asked.begin(), asked.end()), &may);
  ASSERT_EQ(may.size(), asked.size());
  int false_hits = 0;
  for (int i = 0; i < 300'000; ++i) {
    if (i % 3 == 0) {
      ASSERT_TRUE(may[i]) << asked[i];
    }
    if (i % 3 != 0 && may[i]) ++false_hits;
    ASSERT_EQ(may[i], keys.MayContain(asked[i]));
  }
  EXPECT_LE(false_hits, 40);
}

// Past its bound a set refuses keys (its owner then drops it), but still knows the ones it holds.
TEST(WrittenKeys, ASetRefusesKeysPastItsBound) {
  WrittenKeys keys(3);
  EXPECT_TRUE(keys.Add(Key(1)));
  EXPECT_TRUE(keys.Add(Key(2)));
  EXPECT_TRUE(keys.Add(Key(3)));
  EXPECT_FALSE(keys.Add(Key(4)));
  EXPECT_TRUE(keys.MayContain(Key(1)));
  EXPECT_TRUE(keys.MayContain(Key(3)));
  EXPECT_FALSE(keys.MayContain(Key(4)));
}

}  // namespace
}  // namespace chorus::store
