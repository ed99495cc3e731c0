// A stable LSD radix sort, for the bulk paths that order many fixed-size keys (8-byte words of
// strings, 64-bit hashes): a few counting passes, and none of the mispredicted comparisons of a
// comparison sort on random values.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>

namespace chorus {

// Sorts a[0, n) stably by `digits` byte-sized digits, digit(item, 0) the least significant; each
// digit is 0..255. `scratch` has room for n items. Digits every item shares cost no pass.
template <int kDigits, typename T, typename Digit>
void RadixSort(T* a, size_t n, T* scratch, const Digit& digit) {
  if (n < 2) return;
  size_t counts[kDigits][256] = {};
  for (size_t i = 0; i < n; ++i) {
    for (int d = 0; d < kDigits; ++d) ++counts[d][digit(a[i], d)];
  }
  T* from = a;
  T* to = scratch;
  for (int d = 0; d < kDigits; ++d) {
    if (counts[d][digit(a[0], d)] == n) continue;  // every item has this digit
    size_t at = 0;
    for (size_t& c : counts[d]) {
      const size_t here = c;
      c = at;
      at += here;
    }
    for (size_t i = 0; i < n; ++i) to[counts[d][digit(from[i], d)]++] = from[i];
    std::swap(from, to);
  }
  if (from != a) std::copy(from, from + n, a);
}

}  // namespace chorus
