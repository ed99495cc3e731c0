// The keys a bulk load has written, as 64-bit hashes, for lookups that would otherwise search
// the store for keys it cannot hold.
//
// An import into a store that held no posts when it was opened only finds a post in it if the
// import itself wrote that post: a key this set has never seen is new, without a `MultiGet`
// through every file's Bloom filter (a file per batch, so a probe each: 7 % of an import's CPU).
// A key it may have seen (or one whose hash collides with one) is looked up as before, so a
// collision costs a lookup, never a wrong answer. Not thread-safe; the store's writer owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace chorus::store {

class WrittenKeys {
 public:
  // `max_keys` bounds the memory (16 bytes a key); Add fails past it.
  explicit WrittenKeys(size_t max_keys) : max_keys_(max_keys), slots_(kInitialSlots, 0) {}

  // False when the set is full: it can no longer tell new keys apart, and should be dropped.
  bool Add(std::string_view key) {
    const uint64_t h = Hash(key);
    size_t i = h & (slots_.size() - 1);
    for (; slots_[i] != 0; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i] == h) return true;
    }
    if (count_ >= max_keys_) return false;
    slots_[i] = h;
    if (++count_ * 2 > slots_.size()) Grow();
    return true;
  }

  // False only for a key never added.
  bool MayContain(std::string_view key) const {
    const uint64_t h = Hash(key);
    for (size_t i = h & (slots_.size() - 1); slots_[i] != 0; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i] == h) return true;
    }
    return false;
  }

  size_t size() const { return count_; }

 private:
  static constexpr size_t kInitialSlots = 1 << 16;

  // Not persisted, so std::hash will do (8 bytes a step; these keys are long). 0 marks an
  // empty slot.
  static uint64_t Hash(std::string_view key) {
    const uint64_t h = std::hash<std::string_view>()(key);
    return h == 0 ? 1 : h;
  }

  // Open addressing with linear probing, at most half full: a miss (the usual lookup here)
  // probes 2.5 slots on average, mostly in one cache line.
  void Grow() {
    std::vector<uint64_t> old(slots_.size() * 2, 0);
    old.swap(slots_);
    for (const uint64_t h : old) {
      if (h == 0) continue;
      size_t i = h & (slots_.size() - 1);
      while (slots_[i] != 0) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = h;
    }
  }

  size_t max_keys_;
  size_t count_ = 0;
  std::vector<uint64_t> slots_;  // a power of two of them
};

}  // namespace chorus::store
