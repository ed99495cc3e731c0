// The byte order of many strings at once, for the bulk paths that sort tens of thousands of
// keys sharing long prefixes (post URIs, author handles): comparing such keys one pair at a time
// re-reads the shared prefix on every comparison, which was most of a bulk commit's sorting.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace chorus {

// The permutation that puts `keys` in byte order (std::string_view's operator<): keys[order[0]]
// is the least. Equal keys keep their input order. Keys already in order are only checked. A multikey quicksort over 8-byte words, so
// shared prefixes are read about once per level of the partitioning rather than per comparison.
std::vector<uint32_t> SortedOrder(const std::vector<std::string_view>& keys);

// The inverse of such an order: the rank of each key, rank[order[r]] == r.
inline std::vector<uint32_t> RanksOf(const std::vector<uint32_t>& order) {
  std::vector<uint32_t> rank(order.size());
  for (uint32_t r = 0; r < order.size(); ++r) rank[order[r]] = r;
  return rank;
}

}  // namespace chorus
