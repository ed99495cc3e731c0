#include "core/string_order.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace chorus {
namespace {

// Bytes [depth, depth + 8) of a key as a big-endian number (zero-padded past its end), and how
// many of them the key has. Ordering by (word, len) is the byte order of the keys' tails: a key
// that ends inside the word compares as its zero padding, and ties with a key that goes on with
// zero bytes are broken by length.
struct Word {
  uint64_t bytes;
  uint32_t len;  // 0..8; 8 means "and maybe more"
  bool operator<(const Word& o) const { return bytes != o.bytes ? bytes < o.bytes : len < o.len; }
  bool operator==(const Word& o) const { return bytes == o.bytes && len == o.len; }
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

// A key being sorted: its index and its current word. Partitioning moves these 16-byte items
// and compares their cached words, so a key's bytes are read once per level of depth rather than
// once per partitioning pass (through `keys_`, each a cache miss for keys scattered on the heap).
struct Item {
  uint64_t bytes;  // the Word, unpacked so the index fits beside it
  uint32_t len;
  uint32_t index;
  Word word() const { return {bytes, len}; }
  void set(Word w) { bytes = w.bytes, len = w.len; }
};
static_assert(sizeof(Item) == 16);

class Sorter {
 public:
  explicit Sorter(const std::vector<std::string_view>& keys) : keys_(keys) {}

  // Sorts a[0, n), whose keys share their first `depth` bytes and whose words are those at
  // `depth`. `budget` bounds the recursion: past it (an adversarial input), the range is sorted
  // by plain comparisons.
  void Sort(Item* a, size_t n, size_t depth, int budget) {
    while (n > 1) {
      if (n <= 16 || budget-- <= 0) {
        SortByComparison(a, n, depth);
        return;
      }
      const Word p = MedianOfThree(a[0].word(), a[n / 2].word(), a[n - 1].word());
      size_t lt = 0, i = 0, gt = n;  // [0, lt) < p, [lt, i) == p, [gt, n) > p
      while (i < gt) {
        const Word w = a[i].word();
        if (w < p) {
          std::swap(a[lt++], a[i++]);
        } else if (p < w) {
          std::swap(a[i], a[--gt]);
        } else {
          ++i;
        }
      }
      Sort(a, lt, depth, budget);
      Sort(a + gt, n - gt, depth, budget);
      a += lt;
      n = gt - lt;
      if (p.len < 8) {  // these keys end in this word: all equal, in input order
        std::sort(a, a + n, [](const Item& x, const Item& y) { return x.index < y.index; });
        return;
      }
      depth += 8;
      for (size_t j = 0; j < n; ++j) a[j].set(WordAt(keys_[a[j].index], depth));
    }
  }

 private:
  static Word MedianOfThree(Word x, Word y, Word z) {
    if (y < x) std::swap(x, y);
    if (z < y) std::swap(y, z);
    if (y < x) std::swap(x, y);
    return y;
  }

  void SortByComparison(Item* a, size_t n, size_t depth) {
    std::sort(a, a + n, [&](const Item& x, const Item& y) {
      const int c = keys_[x.index].substr(depth).compare(keys_[y.index].substr(depth));
      return c != 0 ? c < 0 : x.index < y.index;
    });
  }

  const std::vector<std::string_view>& keys_;
};

}  // namespace

std::vector<uint32_t> SortedOrder(const std::vector<std::string_view>& keys) {
  std::vector<uint32_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0u);
  // Keys often come already in order (a page's distinct keys, found by sorting it): checking costs
  // one comparison a key, and stops at the first out of place.
  if (std::is_sorted(keys.begin(), keys.end())) return order;
  int budget = 2;
  for (size_t n = keys.size(); n > 1; n >>= 1) budget += 2;
  // Keys of one kind share a long prefix ("https://social.example/users/"): the words of it
  // are skipped at once rather than partitioned, each an all-equal pass over every key.
  size_t common = keys[0].size();
  for (const std::string_view k : keys) {
    const size_t n = std::min(common, k.size());
    size_t i = 0;
    while (i < n && k[i] == keys[0][i]) ++i;
    common = i;
  }
  const size_t depth = common / 8 * 8;
  std::vector<Item> items(keys.size());
  for (uint32_t i = 0; i < items.size(); ++i) {
    items[i].set(WordAt(keys[i], depth));
    items[i].index = i;
  }
  Sorter(keys).Sort(items.data(), items.size(), depth, budget);
  for (size_t i = 0; i < items.size(); ++i) order[i] = items[i].index;
  return order;
}

}  // namespace chorus
