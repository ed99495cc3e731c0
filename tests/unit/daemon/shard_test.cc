// Tests of the shard partition (config `shard`, design §9): which daemon polls which query. The
// hash values are pinned, because daemons built at different times must keep agreeing on them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "core/stable_hash.h"
#include "daemon/source_runner.h"

namespace chorus::daemon {
namespace {

// Query keys of the shapes the collectors produce ("tag:", "account:", "search:", ...).
std::vector<std::string> SyntheticKeys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) {
    switch (i % 4) {
      case 0:
        keys.push_back("tag:campaign" + std::to_string(i));
        break;
      case 1:
        keys.push_back("account:user" + std::to_string(i) + "@gov.example");
        break;
      case 2:
        keys.push_back("search:" + std::to_string(1'000'000 + i * 7919));
        break;
      default:
        keys.push_back("keyword:school funding " + std::to_string(i));
        break;
    }
  }
  return keys;
}

TEST(StableHash, IsFnv1a64ThenFmix64) {
  // The FNV reference test vectors.
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
  // Computed independently of this code (a few lines of Python).
  EXPECT_EQ(StableHash64(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(StableHash64("foobar"), 0x2c22194922d1672bULL);
  // Bytes above 0x7f are hashed as unsigned, whatever the signedness of char.
  EXPECT_EQ(Fnv1a64("\xc3\xa9"), 0x0ac21707b7181e01ULL);
  EXPECT_EQ(StableHash64("\xc3\xa9"), 0x9d55ccb9ba86763bULL);
}

TEST(QueryShardHash, HasFixedValues) {
  // A change here would move most of every sharded operator's queries to another daemon.
  EXPECT_EQ(QueryShardHash("mastodon-social", "tag:fundourschools"), 0xe15b59a74561d858ULL);
  EXPECT_EQ(QueryShardHash("sim", "tag:edequity"), 0x6fdf69c316b482b6ULL);
  EXPECT_TRUE(ShardPolls({1, 3}, "mastodon-social", "tag:fundourschools"));
  EXPECT_FALSE(ShardPolls({0, 3}, "mastodon-social", "tag:fundourschools"));
  EXPECT_TRUE(ShardPolls({2, 3}, "sim", "tag:edequity"));
}

TEST(QueryShardHash, SourceAndKeyAreKeptApart) {
  EXPECT_NE(QueryShardHash("a", "bc"), QueryShardHash("ab", "c"));
  EXPECT_NE(QueryShardHash("mastodon-a", "tag:x"), QueryShardHash("mastodon-b", "tag:x"));
}

TEST(ShardPolls, UnshardedPollsEverything) {
  for (const auto& key : SyntheticKeys(50)) {
    EXPECT_TRUE(ShardPolls(config::Shard{}, "src", key)) << key;
    EXPECT_TRUE(ShardPolls(config::Shard{0, 1}, "src", key)) << key;
  }
}

TEST(ShardPolls, ShardsAreDisjointAndCoverEveryQuery) {
  const auto keys = SyntheticKeys(300);
  for (int64_t total = 1; total <= 5; ++total) {
    std::vector<int> per_shard(static_cast<size_t>(total), 0);
    for (const auto& key : keys) {
      int owners = 0;
      for (int64_t index = 0; index < total; ++index) {
        if (ShardPolls({index, total}, "mastodon-social", key)) {
          ++owners;
          ++per_shard[static_cast<size_t>(index)];
        }
      }
      ASSERT_EQ(owners, 1) << key << " with total " << total;
    }
    int sum = 0;
    for (int n : per_shard) sum += n;
    EXPECT_EQ(sum, 300) << "total " << total;
  }
}

TEST(ShardPolls, SplitIsRoughlyEven) {
  // Deterministic: the inputs are fixed. The bound is loose: every shard gets at least half of an
  // even share (for total 3, at least 50 of 300 where 100 is even).
  const auto keys = SyntheticKeys(300);
  for (const char* source : {"mastodon-social", "bluesky", "x"}) {
    for (int64_t total = 2; total <= 5; ++total) {
      std::vector<int> per_shard(static_cast<size_t>(total), 0);
      for (const auto& key : keys) {
        for (int64_t index = 0; index < total; ++index) {
          if (ShardPolls({index, total}, source, key)) ++per_shard[static_cast<size_t>(index)];
        }
      }
      for (int n : per_shard) EXPECT_GE(n, 300 / total / 2) << source << " total " << total;
    }
  }
}

// Raw FNV-1a would put keys that differ only in the parity-preserving bits of one byte on the
// same shard of two ("t0", "t2", "t4", ... all on one); the finalizer spreads them.
TEST(ShardPolls, NearlyIdenticalKeysAreSpread) {
  std::vector<int> per_shard(2, 0);
  for (const char* key : {"tag:t0", "tag:t2", "tag:t4", "tag:t6", "tag:t8"}) {
    for (int64_t index = 0; index < 2; ++index) {
      if (ShardPolls({index, 2}, "sim", key)) ++per_shard[static_cast<size_t>(index)];
    }
    EXPECT_EQ(Fnv1a64(std::string("sim\x1f") + key) % 2, Fnv1a64("sim\x1ftag:t0") % 2);
  }
  EXPECT_GT(per_shard[0], 0);
  EXPECT_GT(per_shard[1], 0);
}

}  // namespace
}  // namespace chorus::daemon
