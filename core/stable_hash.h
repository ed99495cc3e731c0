// A hash whose value is part of Chorus' contract: the same bytes give the same 64 bits on every
// build, platform and run.
//
// Sharding (design §9) assigns each query to one of several daemons by this hash modulo the number
// of daemons, so daemons built at different times, or on machines of different endianness, must
// agree on it; std::hash makes no such promise. FNV-1a works a byte at a time, so byte order never
// enters. Not for security: it is trivially invertible. Header-only and constexpr.
#pragma once

#include <cstdint>
#include <string_view>

namespace chorus {

// 64-bit FNV-1a (offset basis 14695981039346656037, prime 1099511628211) of `bytes`.
constexpr uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ULL;
  for (const char c : bytes) {
    h ^= static_cast<uint64_t>(static_cast<unsigned char>(c));
    h *= 1099511628211ULL;
  }
  return h;
}

// FNV-1a 64 followed by MurmurHash3's 64-bit finalizer (fmix64). FNV-1a alone is a poor choice
// for `hash % n`: its odd prime carries no high bits down, so the low k bits of the result depend
// only on the low k bits of each input byte ("tag1", "tag3", "tag5" all land on the same one of two
// shards). The finalizer mixes every bit of the state into every bit of the result.
constexpr uint64_t StableHash64(std::string_view bytes) {
  uint64_t h = Fnv1a64(bytes);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// The published FNV-1a test vectors: if these ever fail to compile, the hash changed.
static_assert(Fnv1a64("") == 0xcbf29ce484222325ULL);
static_assert(Fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
static_assert(Fnv1a64("foobar") == 0x85944171f73967e8ULL);

}  // namespace chorus
