// Binary encoding of StoredPost: a version byte, then fields in a fixed order, in the record
// format of core/record_codec.h. Compact and fast, and independent of any JSON library so the
// store stays free of parsing concerns.
#include <cstring>
#include <string_view>
#include <type_traits>

#include "core/record_codec.h"
#include "store/store.h"

namespace chorus::store {
namespace {

constexpr uint8_t kPostFormat = 1;

using codec::Reader;

}  // namespace

std::string EncodeStoredPost(const StoredPost& sp) {
  std::string out;
  EncodeStoredPostTo(sp, &out);
  return out;
}

namespace {

// Calls `put` with each field of the record after its two leading bytes, in the format's order:
// a string_view for a string, an int64_t for an integer, a string list as itself. The one field
// list EncodeStoredPostTo both measures and writes, so the two can never disagree.
template <typename Put>
void ForEachField(const StoredPost& sp, Put&& put) {
  const Post& p = sp.post;
  put(std::string_view(p.key));
  put(std::string_view(p.local_id));
  put(std::string_view(p.url));
  put(int64_t{p.created_at_ms});
  put(std::string_view(p.author));
  put(int64_t{p.author_followers});
  put(std::string_view(p.text));
  put(p.hashtags);
  put(p.mentions);
  put(std::string_view(p.in_reply_to_local_id));
  put(std::string_view(p.in_reply_to_author));
  put(std::string_view(p.in_reply_to_key));
  put(std::string_view(p.quote_of));
  put(int64_t{p.engagement.likes});
  put(int64_t{p.engagement.reposts});
  put(int64_t{p.engagement.replies});
  put(int64_t{p.engagement.quotes});
  put(int64_t{sp.first_seen_ms});
  put(int64_t{sp.last_seen_ms});
  put(sp.campaigns);
  put(sp.terms);
  put(sp.policymakers);
}

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* WriteVarint(char* at, uint64_t v) {
  while (v >= 0x80) {
    *at++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *at++ = static_cast<char>(v);
  return at;
}

char* WriteString(char* at, std::string_view s) {
  at = WriteVarint(at, s.size());
  if (!s.empty()) std::memcpy(at, s.data(), s.size());
  return at + s.size();
}

}  // namespace

// The same bytes as appending each field with codec::PutString/PutInt/PutList (the decoder's
// format), measured first and then written into the buffer in one piece: a bulk import encodes a
// million of these, and two dozen appends each, with their capacity checks, were most of the cost.
void EncodeStoredPostTo(const StoredPost& sp, std::string* buffer) {
  size_t size = 2;
  ForEachField(sp, [&size](const auto& field) {
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, std::string_view>) {
      size += VarintSize(field.size()) + field.size();
    } else if constexpr (std::is_same_v<T, int64_t>) {
      size += VarintSize(ZigZag(field));
    } else {
      size += VarintSize(field.size());
      for (const auto& s : field) size += VarintSize(s.size()) + s.size();
    }
  });
  std::string& out = *buffer;
  out.resize(size);
  char* at = out.data();
  *at++ = static_cast<char>(kPostFormat);
  *at++ = static_cast<char>(sp.post.platform);
  ForEachField(sp, [&at](const auto& field) {
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, std::string_view>) {
      at = WriteString(at, field);
    } else if constexpr (std::is_same_v<T, int64_t>) {
      at = WriteVarint(at, ZigZag(field));
    } else {
      at = WriteVarint(at, field.size());
      for (const auto& s : field) at = WriteString(at, s);
    }
  });
}

Result<void> DecodeStoredPostInto(std::string_view bytes, StoredPost* out) {
  StoredPost& sp = *out;
  Post& p = sp.post;
  Reader r(bytes);
  uint8_t format = 0, platform = 0;
  const bool ok = r.Byte(&format) && format == kPostFormat && r.Byte(&platform) && platform <= 3 &&
                  r.String(&p.key) && r.String(&p.local_id) && r.String(&p.url) &&
                  r.Int(&p.created_at_ms) && r.String(&p.author) && r.Int(&p.author_followers) &&
                  r.String(&p.text) && r.List(&p.hashtags) && r.List(&p.mentions) &&
                  r.String(&p.in_reply_to_local_id) && r.String(&p.in_reply_to_author) && r.String(&p.in_reply_to_key) &&
                  r.String(&p.quote_of) && r.Int(&p.engagement.likes) &&
                  r.Int(&p.engagement.reposts) && r.Int(&p.engagement.replies) &&
                  r.Int(&p.engagement.quotes) && r.Int(&sp.first_seen_ms) &&
                  r.Int(&sp.last_seen_ms) && r.List(&sp.campaigns) && r.List(&sp.terms) &&
                  r.List(&sp.policymakers) && r.AtEnd();
  if (!ok) return Fail(Error::Storage("corrupt post record"));
  p.platform = static_cast<Platform>(platform);
  return {};
}

Result<StoredPost> DecodeStoredPost(std::string_view bytes) {
  StoredPost sp;
  if (auto r = DecodeStoredPostInto(bytes, &sp); !r) return Fail(r.error());
  return sp;
}

std::optional<Platform> StoredPostPlatform(std::string_view bytes) {
  if (bytes.size() < 2 || static_cast<uint8_t>(bytes[0]) != kPostFormat ||
      static_cast<uint8_t>(bytes[1]) > 3) {
    return std::nullopt;
  }
  return static_cast<Platform>(bytes[1]);
}

}  // namespace chorus::store
