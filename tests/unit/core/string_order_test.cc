#include "core/string_order.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>

namespace chorus {
namespace {

// What SortedOrder must return: a stable sort of the indices by key.
std::vector<uint32_t> Expected(const std::vector<std::string_view>& keys) {
  std::vector<uint32_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  return order;
}

std::vector<std::string_view> Views(const std::vector<std::string>& s) {
  return std::vector<std::string_view>(s.begin(), s.end());
}

TEST(SortedOrder, OrdersPrefixesZeroBytesAndWordEdgesAsBytes) {
  using namespace std::string_literals;
  const std::vector<std::string> keys = {
      "", "a", "a\0"s, "a\0\0b"s, "ab", "abcdefgh", "abcdefg", "abcdefgh\0"s, "abcdefghi",
      "abcdefgh", "\xff", "\x7f", "b", "", "a\0"s, "https://a.example/users/x/statuses/1",
      "https://a.example/users/x/statuses/10", "https://a.example/users/x/statuses/2"};
  const auto views = Views(keys);
  EXPECT_EQ(SortedOrder(views), Expected(views));
}

TEST(SortedOrder, MatchesAStableSortOnLargeInputsWithSharedPrefixesAndRepeats) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> keys;
    const int n = 1 + static_cast<int>(rng() % 30'000);
    const char* hosts[] = {"https://mastodon.social/users/", "https://mastodon.online/users/",
                           "https://m.example/users/"};
    for (int i = 0; i < n; ++i) {
      std::string k = hosts[rng() % 3];
      k += "user" + std::to_string(rng() % 50) + "/statuses/";
      k += std::to_string(rng() % (round % 2 ? 100 : 100'000'000));  // odd rounds: many repeats
      if (rng() % 17 == 0) k.push_back('\0');
      if (rng() % 23 == 0) k.resize(rng() % (k.size() + 1));  // prefixes of other keys
      keys.push_back(std::move(k));
    }
    if (round == 3) std::sort(keys.begin(), keys.end());
    if (round == 4) std::sort(keys.rbegin(), keys.rend());
    const auto views = Views(keys);
    ASSERT_EQ(SortedOrder(views), Expected(views)) << "round " << round;
  }
}

// Keys alike for longer than the sort descends word by word (past its budget of levels), in
// groups that share no prefix with each other.
TEST(SortedOrder, OrdersKeysThatDifferOnlyAfterAThousandEqualBytes) {
  std::mt19937 rng(11);
  std::vector<std::string> keys;
  for (int i = 0; i < 3'000; ++i) {
    std::string k(1, "xyz"[rng() % 3]);
    k += std::string(1'000, 'a');
    k += std::to_string(rng() % 500);
    keys.push_back(std::move(k));
  }
  const auto views = Views(keys);
  EXPECT_EQ(SortedOrder(views), Expected(views));
}

TEST(SortedOrder, KeepsInputOrderOfManyEqualKeys) {
  const std::vector<std::string> keys(5'000, std::string(100, 'k'));
  const auto order = SortedOrder(Views(keys));
  for (uint32_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], i);
  EXPECT_TRUE(SortedOrder({}).empty());
}

TEST(SortedOrder, RanksOfInvertsTheOrder) {
  const std::vector<std::string> keys = {"b", "c", "a"};
  const auto order = SortedOrder(Views(keys));
  EXPECT_EQ(order, (std::vector<uint32_t>{2, 0, 1}));
  EXPECT_EQ(RanksOf(order), (std::vector<uint32_t>{1, 2, 0}));
}

}  // namespace
}  // namespace chorus
