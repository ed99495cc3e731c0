// Binary encoding of StoredPost: a version byte, then fields in a fixed order, in the record
// format of core/record_codec.h. Compact and fast, and independent of any JSON library so the
// store stays free of parsing concerns.
#include <cstring>

#include "core/record_codec.h"
#include "store/store.h"

namespace chorus::store {
namespace {

constexpr uint8_t kPostFormat = 1;

using codec::PutInt;
using codec::PutList;
using codec::PutString;
using codec::Reader;

}  // namespace

std::string EncodeStoredPost(const StoredPost& sp) {
  std::string out;
  EncodeStoredPostTo(sp, &out);
  return out;
}

void EncodeStoredPostTo(const StoredPost& sp, std::string* buffer) {
  const Post& p = sp.post;
  std::string& out = *buffer;
  out.clear();
  out.reserve(256 + p.text.size());
  out.push_back(static_cast<char>(kPostFormat));
  out.push_back(static_cast<char>(p.platform));
  PutString(&out, p.key);
  PutString(&out, p.local_id);
  PutString(&out, p.url);
  PutInt(&out, p.created_at_ms);
  PutString(&out, p.author);
  PutInt(&out, p.author_followers);
  PutString(&out, p.text);
  PutList(&out, p.hashtags);
  PutList(&out, p.mentions);
  PutString(&out, p.in_reply_to_local_id);
  PutString(&out, p.in_reply_to_author);
  PutString(&out, p.in_reply_to_key);
  PutString(&out, p.quote_of);
  PutInt(&out, p.engagement.likes);
  PutInt(&out, p.engagement.reposts);
  PutInt(&out, p.engagement.replies);
  PutInt(&out, p.engagement.quotes);
  PutInt(&out, sp.first_seen_ms);
  PutInt(&out, sp.last_seen_ms);
  PutList(&out, sp.campaigns);
  PutList(&out, sp.terms);
  PutList(&out, sp.policymakers);
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
