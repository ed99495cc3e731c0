// The binary record format Chorus stores in RocksDB (posts, alert outbox and log entries):
// integers as zig-zag varints, strings and lists length-prefixed, doubles as their IEEE bits.
// Compact, fast, and independent of any JSON library. Each record type adds its own format byte
// and field order on top; a Reader refuses truncated or overlong input instead of reading past it.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::codec {

inline void PutVarint(std::string* out, uint64_t v) {
  char bytes[10];  // appended at once: a post record holds two dozen of these
  size_t n = 0;
  while (v >= 0x80) {
    bytes[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  bytes[n++] = static_cast<char>(v);
  out->append(bytes, n);
}
inline void PutInt(std::string* out, int64_t v) {
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
inline void PutDouble(std::string* out, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  PutVarint(out, bits);
}
inline void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}
inline void PutList(std::string* out, const std::vector<std::string>& list) {
  PutVarint(out, list.size());
  for (const auto& s : list) PutString(out, s);
}

// A signed 64-bit integer as 8 big-endian bytes with the sign bit flipped, so byte-wise order is
// numeric order (negative times before positive ones): the time part of RocksDB keys.
inline void PutOrderedInt64(std::string* out, int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v) ^ (1ULL << 63);
  char bytes[8];  // appended at once: keys are built by the million in a bulk import
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((u >> (8 * (7 - i))) & 0xff);
  out->append(bytes, sizeof bytes);
}
// The inverse, from the 8 bytes PutOrderedInt64 wrote.
inline int64_t ReadOrderedInt64(std::string_view s) {
  uint64_t u = 0;
  for (char c : s) u = (u << 8) | static_cast<uint8_t>(c);
  return static_cast<int64_t>(u ^ (1ULL << 63));
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      const uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Int(int64_t* v) {
    uint64_t u;
    if (!Varint(&u)) return false;
    *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  bool Int(int* v) {
    int64_t w;
    if (!Int(&w)) return false;
    *v = static_cast<int>(w);
    return true;
  }
  bool Double(double* d) {
    uint64_t bits;
    if (!Varint(&bits)) return false;
    std::memcpy(d, &bits, sizeof bits);
    return true;
  }
  bool String(std::string* s) {
    uint64_t n;
    if (!Varint(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  // A list cannot have more elements than bytes left, so a corrupt count cannot allocate wildly.
  bool List(std::vector<std::string>* list) {
    uint64_t n;
    if (!Varint(&n) || n > in_.size() - pos_) return false;
    list->resize(n);
    for (auto& s : *list) {
      if (!String(&s)) return false;
    }
    return true;
  }
  bool Byte(uint8_t* b) {
    if (pos_ >= in_.size()) return false;
    *b = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace chorus::codec
