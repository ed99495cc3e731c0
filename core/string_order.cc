#include "core/string_order.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "core/radix_sort.h"

namespace chorus {
namespace {

// Bytes [depth, depth + 8) of a key as a big-endian number (zero-padded past its end), and how
// many of them the key has. Ordering by (word, len) is the byte order of the keys' tails: a key
// that ends inside the word compares as its zero padding, and ties with a key that goes on with
// zero bytes are broken by length.
struct Word {
  uint64_t bytes;
  uint32_t len;  // 0..8; 8 means "and maybe more"
};

Word WordAt(std::string_view key, size_t depth) {
  const size_t left = key.size() > depth ? key.size() - depth : 0;
  const size_t len = left < 8 ? left : 8;
  unsigned char b[8] = {};
  std::memcpy(b, key.data() + depth, len);
  uint64_t v = 0;
  for (unsigned char c : b) v = (v << 8) | c;
  return {v, static_cast<uint32_t>(len)};
}

// A key being sorted: its index and its current word. Sorting moves these 16-byte items and
// reads their cached words, so a key's bytes are read once per level of depth (through `keys_`,
// a cache miss each for keys scattered on the heap).
struct Item {
  uint64_t bytes;  // the Word, unpacked so the index fits beside it
  uint32_t len;
  uint32_t index;
  void set(Word w) { bytes = w.bytes, len = w.len; }
  bool SameWord(const Item& o) const { return bytes == o.bytes && len == o.len; }
};
static_assert(sizeof(Item) == 16);

// A most-significant-word-first sort: each level orders its items by their 8-byte words with a
// stable radix sort (no comparisons to mispredict: the quicksort this replaced spent most of its
// time on those), then sorts each run of items with the same word on the next eight bytes.
class Sorter {
 public:
  explicit Sorter(const std::vector<std::string_view>& keys) : keys_(keys) {}

  // Sorts a[0, n) stably, whose keys share their first `depth` bytes and whose words are those
  // at `depth`; `scratch` has room for n items. `budget` bounds the recursion: past it (keys
  // alike for hundreds of bytes), a range is sorted by plain comparisons.
  void Sort(Item* a, size_t n, size_t depth, int budget, Item* scratch) {
    if (n <= 32 || budget <= 0) {
      SortByComparison(a, n, depth);
      return;
    }
    RadixByWord(a, n, scratch);
    for (size_t i = 0; i < n;) {
      size_t j = i + 1;
      while (j < n && a[j].SameWord(a[i])) ++j;
      // Keys that end inside this word are equal, and in input order already.
      if (j - i > 1 && a[i].len == 8) {
        for (size_t k = i; k < j; ++k) a[k].set(WordAt(keys_[a[k].index], depth + 8));
        Sort(a + i, j - i, depth + 8, budget - 1, scratch + i);
      }
      i = j;
    }
  }

 private:
  // Stable by (bytes, len): the length is the least significant digit, then the word's bytes.
  static void RadixByWord(Item* a, size_t n, Item* scratch) {
    RadixSort<9>(a, n, scratch, [](const Item& it, int d) -> size_t {
      return d == 0 ? it.len : (it.bytes >> (8 * (d - 1))) & 0xff;
    });
  }

  void SortByComparison(Item* a, size_t n, size_t depth) {
    std::sort(a, a + n, [&](const Item& x, const Item& y) {
      if (!x.SameWord(y)) return x.bytes != y.bytes ? x.bytes < y.bytes : x.len < y.len;
      if (x.len == 8) {
        const int c = keys_[x.index].substr(depth + 8).compare(keys_[y.index].substr(depth + 8));
        if (c != 0) return c < 0;
      }
      return x.index < y.index;
    });
  }

  const std::vector<std::string_view>& keys_;
};

}  // namespace

std::vector<uint32_t> SortedOrder(const std::vector<std::string_view>& keys) {
  constexpr size_t kPackAtLeast = 4096;
  std::vector<uint32_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0u);
  // Keys often come already in order (a page's distinct keys, found by sorting it): checking costs
  // one comparison a key, and stops at the first out of place.
  if (std::is_sorted(keys.begin(), keys.end())) return order;
  int budget = 2;  // levels of 8 bytes past the common prefix before comparisons take over
  for (size_t n = keys.size(); n > 1; n >>= 1) budget += 2;
  // Many keys are copied into one buffer first: each lies in its own allocation (a post's URI,
  // a few hundred bytes from the next), and the sort reads every key once per level of depth, in
  // an order unrelated to where they lie; packed, those reads are cache hits.
  std::string packed;
  std::vector<std::string_view> packed_keys;
  if (keys.size() >= kPackAtLeast) {
    size_t total = 0;
    for (const std::string_view k : keys) total += k.size();
    packed.resize(total);
    packed_keys.reserve(keys.size());
    char* at = packed.data();
    for (const std::string_view k : keys) {
      if (!k.empty()) std::memcpy(at, k.data(), k.size());
      packed_keys.emplace_back(at, k.size());
      at += k.size();
    }
  }
  const std::vector<std::string_view>& sorted = packed_keys.empty() ? keys : packed_keys;
  // Keys of one kind share a long prefix ("https://social.example/users/"): the words of it
  // are skipped at once rather than sorted level by level.
  const std::string_view first = sorted[0];
  size_t common = first.size();
  for (const std::string_view k : sorted) {
    if (k.size() >= common && std::memcmp(k.data(), first.data(), common) == 0) continue;
    const size_t n = std::min(common, k.size());
    size_t i = 0;
    while (i < n && k[i] == first[i]) ++i;
    common = i;
  }
  const size_t depth = common / 8 * 8;
  std::vector<Item> items(keys.size());
  for (uint32_t i = 0; i < items.size(); ++i) {
    items[i].set(WordAt(sorted[i], depth));
    items[i].index = i;
  }
  std::vector<Item> scratch(keys.size());
  Sorter(sorted).Sort(items.data(), items.size(), depth, budget, scratch.data());
  for (size_t i = 0; i < items.size(); ++i) order[i] = items[i].index;
  return order;
}

}  // namespace chorus
