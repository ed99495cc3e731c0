// The keys a bulk load has written, as 32-bit fingerprints, for lookups that would otherwise
// search the store for keys it cannot hold.
//
// An import into a store that held no posts when it was opened only finds a post in it if the
// import itself wrote that post: a key this set has never seen is new, without a `MultiGet`
// through every file's Bloom filter (a file per batch, so a probe each: 7 % of an import's CPU).
// A key it may have seen (or one whose fingerprint collides with one: about one in 4,000 with a
// million keys) is looked up as before, so a collision costs a lookup, never a wrong answer.
// Not thread-safe; the store's writer owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace chorus::store {

class WrittenKeys {
 public:
  // `max_keys` bounds the memory (8 bytes a key); adding fails past it.
  explicit WrittenKeys(size_t max_keys) : max_keys_(max_keys), slots_(kInitialSlots, 0) {}

  // Adds get(0) ... get(n - 1). False, adding none, when that could take it past `max_keys`: it can
  // no longer tell new keys apart, and should be dropped.
  template <typename Get>
  bool AddEach(size_t n, const Get& get) {
    if (count_ + n > max_keys_) return false;
    while ((count_ + n) * 2 > slots_.size()) Grow();
    std::vector<uint32_t> fps(n);
    for (size_t i = 0; i < n; ++i) fps[i] = Fingerprint(get(i));
    for (size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) __builtin_prefetch(&slots_[Home(fps[i + kAhead])], 1);
      uint32_t& slot = slots_[Find(fps[i])];
      if (slot == 0) {
        slot = fps[i];
        ++count_;
      }
    }
    return true;
  }
  bool Add(std::string_view key) {
    return AddEach(1, [&](size_t) { return key; });
  }

  // For each of `keys`, whether it may have been added (false only for a key never added), into
  // `out`.
  void MayContainEach(const std::vector<std::string_view>& keys, std::vector<bool>* out) const {
    const size_t n = keys.size();
    std::vector<uint32_t> fps(n);
    for (size_t i = 0; i < n; ++i) fps[i] = Fingerprint(keys[i]);
    out->assign(n, false);
    for (size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) __builtin_prefetch(&slots_[Home(fps[i + kAhead])]);
      (*out)[i] = slots_[Find(fps[i])] != 0;
    }
  }
  bool MayContain(std::string_view key) const { return slots_[Find(Fingerprint(key))] != 0; }

  // Fingerprints held: the keys added, less the few that share one.
  size_t size() const { return count_; }

 private:
  static constexpr size_t kInitialSlots = 1 << 16;
  // How many keys ahead a slot is prefetched: the probes' cache misses overlap, rather than
  // each waiting for memory in turn (the table is megabytes).
  static constexpr size_t kAhead = 16;

  // Not persisted, so std::hash will do (8 bytes a step; these keys are long). 0 marks an
  // empty slot.
  static uint32_t Fingerprint(std::string_view key) {
    const uint32_t f = static_cast<uint32_t>(std::hash<std::string_view>()(key) >> 32);
    return f == 0 ? 1 : f;
  }
  size_t Mask() const { return slots_.size() - 1; }
  // A fingerprint's first slot: its top bits, spread (open addressing with linear probing).
  size_t Home(uint32_t fp) const { return (uint64_t{fp} * 0x9E3779B97F4A7C15ULL >> 32) & Mask(); }
  // The slot holding `fp`, or the empty one where it would go.
  size_t Find(uint32_t fp) const {
    size_t at = Home(fp);
    while (slots_[at] != 0 && slots_[at] != fp) at = (at + 1) & Mask();
    return at;
  }

  // At most half full: a miss (the usual lookup here) probes 2.5 slots on average, mostly in one
  // cache line.
  void Grow() {
    std::vector<uint32_t> old(slots_.size() * 2, 0);
    old.swap(slots_);
    for (const uint32_t fp : old) {
      if (fp != 0) slots_[Find(fp)] = fp;  // distinct: Find stops at an empty slot
    }
  }

  size_t max_keys_;
  size_t count_ = 0;
  std::vector<uint32_t> slots_;  // a power of two of them
};

}  // namespace chorus::store
