#include "collectors/mastodon_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <utility>

#include "collectors/json_support.h"
#include "core/strings.h"
#include "core/time.h"

namespace chorus::collectors {

static_assert(kParsePadding == simdjson::SIMDJSON_PADDING);

namespace {

namespace od = simdjson::ondemand;

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// `s == name` for a literal name. The length is a constant here, so the compiler inlines the
// memcmp; `std::string_view == const char*` calls the library memcmp, which showed up in profiles
// at one call per key per status.
template <size_t N>
bool Is(std::string_view s, const char (&name)[N]) {
  return s.size() == N - 1 && std::memcmp(s.data(), name, N - 1) == 0;
}

// Mastodon writes local accounts as bare "user" and remote ones as "user@domain". Lower-casing is
// ASCII only: usernames and domains (IDNA) are ASCII on the wire.
std::string QualifyAcct(std::string_view acct, std::string_view home_domain) {
  if (!acct.empty() && acct.front() == '@') acct.remove_prefix(1);
  const bool qualify =
      !acct.empty() && acct.find('@') == std::string_view::npos && !home_domain.empty();
  std::string out;
  out.reserve(acct.size() + (qualify ? 1 + home_domain.size() : 0));
  AppendAsciiLower(out, acct);
  if (qualify) {
    out += '@';
    AppendAsciiLower(out, home_domain);
  }
  return out;
}

// Where a value sits inside a status ("reblog.account.followers_count", "tags[0].name"): a chain
// of nodes on the caller's stack, each pointing at its parent, so that the name is formatted only
// for an error message. A node must not outlive its parent: bind a child to a named variable or a
// parameter only, never chain Member() on a temporary.
class FieldPath {
 public:
  FieldPath() = default;  // the status itself

  FieldPath Member(std::string_view key) const { return FieldPath(this, key, kNoIndex); }
  FieldPath Element(size_t index) const { return FieldPath(this, {}, index); }

  // "" for the status itself, else members joined with '.' and elements as "[i]".
  std::string ToString() const {
    if (parent_ == nullptr) return "";
    std::string out = parent_->ToString();
    if (index_ == kNoIndex) {
      if (!out.empty()) out += '.';
      out += key_;
    } else {
      out += '[';
      out += std::to_string(index_);
      out += ']';
    }
    return out;
  }

 private:
  static constexpr size_t kNoIndex = static_cast<size_t>(-1);

  FieldPath(const FieldPath* parent, std::string_view key, size_t index)
      : parent_(parent), key_(key), index_(index) {}

  const FieldPath* parent_ = nullptr;
  std::string_view key_;
  size_t index_ = kNoIndex;
};

// Error messages name the status ("mastodon status 3") and the field path inside it, so a bad
// page can be diagnosed from the log line alone. Like the path, the status name is formatted
// only when an error is returned: a page that parses builds no names.
class Context {
 public:
  // `index` is the status's position in a page; nullopt for a single status.
  Context(std::optional<size_t> index, std::string_view home_domain)
      : index_(index), home_domain_(home_domain) {}

  std::string_view home_domain() const { return home_domain_; }

  Error FieldError(const FieldPath& path, simdjson::error_code ec) const {
    return FieldError(path, simdjson::error_message(ec));
  }
  Error FieldError(const FieldPath& path, std::string_view what) const {
    return Error::Parse(Status() + ": field '" + path.ToString() + "': " + std::string(what));
  }
  Error ObjectError(const FieldPath& path, simdjson::error_code ec) const {
    const std::string where = path.ToString();
    return Error::Parse((where.empty() ? Status() : Status() + ": in '" + where + "'") + ": " +
                        simdjson::error_message(ec));
  }
  Error Missing(const FieldPath& path) const {
    return Error::Parse(Status() + ": missing field '" + path.ToString() + "'");
  }

 private:
  std::string Status() const {
    return index_ ? "mastodon status " + std::to_string(*index_) : "mastodon status";
  }

  std::optional<size_t> index_;
  std::string_view home_domain_;
};

// The high bit of each byte of `word` equal to `c`, plus false positives only in bytes above a
// true one (borrows propagate upwards), so the lowest bit set is exact.
constexpr uint64_t BytesEqualBits(uint64_t word, char c) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHighBits = 0x8080808080808080;
  const uint64_t x = word ^ (kOnes * static_cast<uint8_t>(c));
  return (x - kOnes) & ~x & kHighBits;
}

// The key of `field` as written. A key without a backslash (every key Mastodon sends) is the raw
// bytes up to its closing quote, which saves unescaping it into the parser's string buffer; an
// escaped key is unescaped as before ("\u0069d" is `id`).
// Always inlined: as a call it took `field` through memory and cost about 5% of a page.
[[gnu::always_inline]] inline simdjson::error_code ReadKey(od::field& field,
                                                           std::string_view& key) {
  const char* raw = field.key().raw();
  if constexpr (std::endian::native == std::endian::little) {
    // Eight bytes at a time: every key's length feeds the branches that dispatch on it, so
    // finding it is on the critical path of each field. No read passes the buffer: the closing
    // quote lies inside the document, and SIMDJSON_PADDING bytes follow it.
    for (size_t n = 0;; n += 8) {
      uint64_t word;
      std::memcpy(&word, raw + n, sizeof(word));
      const uint64_t quotes = BytesEqualBits(word, '"');
      const uint64_t first = (quotes | BytesEqualBits(word, '\\'));
      if (first == 0) continue;
      // The lowest bit set is exact in both masks, so it tells a quote from a backslash.
      if ((quotes & first & -first) == 0) break;
      key = std::string_view(raw, n + static_cast<size_t>(std::countr_zero(first)) / 8);
      return simdjson::SUCCESS;
    }
  } else {
    for (size_t n = 0; raw[n] != '\\'; ++n) {
      if (raw[n] == '"') {
        key = std::string_view(raw, n);
        return simdjson::SUCCESS;
      }
    }
  }
  return field.unescaped_key().get(key);
}

simdjson::error_code ReadInt(od::value& v, int64_t& out) { return v.get_int64().get(out); }

struct Mention {
  std::string_view id;
  std::string acct;  // qualified, lower-cased
};

// What one Status object says, before the boost/reply resolution that needs all of it. The views
// point into the parser's buffers and die with the document.
struct RawStatus {
  std::string_view id, uri, url, created_at, content, spoiler_text;
  bool has_id = false, has_uri = false, has_created_at = false;
  std::string_view in_reply_to_id, in_reply_to_account_id;
  std::string_view account_id, acct;  // acct as written; qualified when the Post is built
  int64_t author_followers = 0;
  std::vector<std::string> hashtags;
  std::vector<Mention> mentions;
  std::string_view quote_of;
  Engagement engagement;
  bool has_reblog = false;  // the original status was read into the output Post
};

using FieldResult = std::optional<Error>;  // nullopt: the field was read

// The object loops below use each field in place, in the simdjson_result the iterator yields,
// once its error() is checked, instead of moving it out with get(field): that move reloads the
// struct just stored and stalls on store forwarding, which profiled as the largest single cost
// per field.

FieldResult ReadAccount(od::value& v, const Context& ctx, const FieldPath& path, RawStatus& s) {
  od::object obj;
  if (auto ec = v.get_object().get(obj)) return ctx.FieldError(path, ec);
  for (auto field_result : obj) {
    if (auto ec = field_result.error()) return ctx.ObjectError(path, ec);
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = ReadKey(field, key)) return ctx.ObjectError(path, ec);
    simdjson::error_code ec = simdjson::SUCCESS;
    if (Is(key, "acct")) {
      ec = ReadView(field.value(), s.acct);
    } else if (Is(key, "followers_count")) {
      ec = ReadInt(field.value(), s.author_followers);
      // Some forks report hidden counts as -1; the model has no "unknown", and 0 is the honest
      // lower bound.
      if (!ec && s.author_followers < 0) s.author_followers = 0;
    } else if (Is(key, "id")) {
      ec = ReadView(field.value(), s.account_id);
    }
    if (ec) return ctx.FieldError(path.Member(key), ec);
  }
  return std::nullopt;
}

FieldResult ReadTags(od::value& v, const Context& ctx, const FieldPath& path, RawStatus& s) {
  od::array arr;
  if (auto ec = v.get_array().get(arr)) return ctx.FieldError(path, ec);
  size_t i = 0;
  for (auto element : arr) {
    const FieldPath item = path.Element(i++);
    od::object obj;
    if (auto ec = element.get_object().get(obj)) return ctx.FieldError(item, ec);
    for (auto field_result : obj) {
      if (auto ec = field_result.error()) return ctx.ObjectError(item, ec);
      od::field& field = field_result.value_unsafe();
      std::string_view key;
      if (auto ec = ReadKey(field, key)) return ctx.ObjectError(item, ec);
      if (Is(key, "name")) {
        std::string_view name;
        if (auto ec = ReadView(field.value(), name)) return ctx.FieldError(item.Member(key), ec);
        if (!name.empty() && name.front() == '#') name.remove_prefix(1);
        if (!name.empty()) AppendAsciiLower(s.hashtags.emplace_back(), name);
      }
    }
  }
  return std::nullopt;
}

FieldResult ReadMentions(od::value& v, const Context& ctx, const FieldPath& path, RawStatus& s) {
  od::array arr;
  if (auto ec = v.get_array().get(arr)) return ctx.FieldError(path, ec);
  size_t i = 0;
  for (auto element : arr) {
    const FieldPath item = path.Element(i++);
    od::object obj;
    if (auto ec = element.get_object().get(obj)) return ctx.FieldError(item, ec);
    Mention m;
    for (auto field_result : obj) {
      if (auto ec = field_result.error()) return ctx.ObjectError(item, ec);
      od::field& field = field_result.value_unsafe();
      std::string_view key;
      if (auto ec = ReadKey(field, key)) return ctx.ObjectError(item, ec);
      simdjson::error_code ec = simdjson::SUCCESS;
      if (Is(key, "acct")) {
        std::string_view raw;
        ec = ReadView(field.value(), raw);
        if (!ec) m.acct = QualifyAcct(raw, ctx.home_domain());
      } else if (Is(key, "id")) {
        ec = ReadView(field.value(), m.id);
      }
      if (ec) return ctx.FieldError(item.Member(key), ec);
    }
    if (!m.acct.empty()) s.mentions.push_back(std::move(m));
  }
  return std::nullopt;
}

// The quoted status's uri, from either shape: Mastodon 4.4+ wraps it,
// {"state": ..., "quoted_status": Status|null} (or a ShallowQuote with only `quoted_status_id`,
// which carries no uri); forks such as Fedibird put the quoted Status itself in `quote`.
// Only `uri` is read from the quoted status: it is a reference, not a post of this page.
FieldResult ReadQuote(od::value& v, const Context& ctx, const FieldPath& path, RawStatus& s) {
  bool is_null = false;
  if (auto ec = v.is_null().get(is_null)) return ctx.FieldError(path, ec);
  if (is_null) return std::nullopt;
  od::object obj;
  if (auto ec = v.get_object().get(obj)) return ctx.FieldError(path, ec);
  for (auto field_result : obj) {
    if (auto ec = field_result.error()) return ctx.ObjectError(path, ec);
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = ReadKey(field, key)) return ctx.ObjectError(path, ec);
    if (Is(key, "uri")) {
      if (auto ec = ReadView(field.value(), s.quote_of)) {
        return ctx.FieldError(path.Member(key), ec);
      }
    } else if (Is(key, "quoted_status")) {
      const FieldPath qpath = path.Member(key);
      od::value& q = field.value();
      if (auto ec = q.is_null().get(is_null)) return ctx.FieldError(qpath, ec);
      if (is_null) continue;
      od::object quoted;
      if (auto ec = q.get_object().get(quoted)) return ctx.FieldError(qpath, ec);
      for (auto qfield_result : quoted) {
        if (auto ec = qfield_result.error()) return ctx.ObjectError(qpath, ec);
        od::field& qfield = qfield_result.value_unsafe();
        std::string_view qkey;
        if (auto ec = ReadKey(qfield, qkey)) return ctx.ObjectError(qpath, ec);
        if (Is(qkey, "uri")) {
          if (auto ec = ReadView(qfield.value(), s.quote_of)) {
            return ctx.FieldError(qpath.Member(qkey), ec);
          }
        }
      }
    }
  }
  return std::nullopt;
}

FieldResult ReadStatus(od::object& obj, const Context& ctx, const FieldPath& prefix, Post& out);

// The Status fields the parser reads.
enum class StatusKey {
  kOther,  // not read: its value is skipped
  kId,
  kUri,
  kUrl,
  kCreatedAt,
  kContent,
  kSpoilerText,
  kInReplyToId,
  kInReplyToAccountId,
  kFavouritesCount,
  kReblogsCount,
  kRepliesCount,
  kQuotesCount,
  kAccount,
  kTags,
  kMentions,
  kQuote,
  kReblog,
};

// A switch on the length leaves one or two comparisons per key, where a chain of 17 (most of the
// ~25 keys of a Status being ones it does not read) cost a string of branches per key.
StatusKey ClassifyStatusKey(std::string_view key) {
  switch (key.size()) {
    case 2:
      if (Is(key, "id")) return StatusKey::kId;
      break;
    case 3:
      if (Is(key, "uri")) return StatusKey::kUri;
      if (Is(key, "url")) return StatusKey::kUrl;
      break;
    case 4:
      if (Is(key, "tags")) return StatusKey::kTags;
      break;
    case 5:
      if (Is(key, "quote")) return StatusKey::kQuote;
      break;
    case 6:
      if (Is(key, "reblog")) return StatusKey::kReblog;
      break;
    case 7:
      if (Is(key, "content")) return StatusKey::kContent;
      if (Is(key, "account")) return StatusKey::kAccount;
      break;
    case 8:
      if (Is(key, "mentions")) return StatusKey::kMentions;
      break;
    case 10:
      if (Is(key, "created_at")) return StatusKey::kCreatedAt;
      break;
    case 12:
      if (Is(key, "spoiler_text")) return StatusKey::kSpoilerText;
      if (Is(key, "quotes_count")) return StatusKey::kQuotesCount;
      break;
    case 13:
      if (Is(key, "reblogs_count")) return StatusKey::kReblogsCount;
      if (Is(key, "replies_count")) return StatusKey::kRepliesCount;
      break;
    case 14:
      if (Is(key, "in_reply_to_id")) return StatusKey::kInReplyToId;
      break;
    case 16:
      if (Is(key, "favourites_count")) return StatusKey::kFavouritesCount;
      break;
    case 22:
      if (Is(key, "in_reply_to_account_id")) return StatusKey::kInReplyToAccountId;
      break;
  }
  return StatusKey::kOther;
}

// Reads one field of a Status. Values of keys it does not know are left unconsumed, which
// On-Demand skips when the loop moves to the next field. A non-null `reblog` is read straight
// into `out`.
FieldResult ReadStatusField(std::string_view key, od::value& v, const Context& ctx,
                            const FieldPath& prefix, RawStatus& s, Post& out) {
  simdjson::error_code ec = simdjson::SUCCESS;
  switch (ClassifyStatusKey(key)) {
    case StatusKey::kOther:
      return std::nullopt;
    case StatusKey::kId:
      ec = ReadView(v, s.id);
      s.has_id = true;
      break;
    case StatusKey::kUri:
      ec = ReadView(v, s.uri);
      s.has_uri = true;
      break;
    case StatusKey::kUrl:
      ec = ReadNullableView(v, s.url);
      break;
    case StatusKey::kCreatedAt:
      ec = ReadView(v, s.created_at);
      s.has_created_at = true;
      break;
    case StatusKey::kContent:
      ec = ReadView(v, s.content);
      break;
    case StatusKey::kSpoilerText:
      ec = ReadView(v, s.spoiler_text);
      break;
    case StatusKey::kInReplyToId:
      ec = ReadNullableView(v, s.in_reply_to_id);
      break;
    case StatusKey::kInReplyToAccountId:
      ec = ReadNullableView(v, s.in_reply_to_account_id);
      break;
    case StatusKey::kFavouritesCount:
      ec = ReadInt(v, s.engagement.likes);
      break;
    case StatusKey::kReblogsCount:
      ec = ReadInt(v, s.engagement.reposts);
      break;
    case StatusKey::kRepliesCount:
      ec = ReadInt(v, s.engagement.replies);
      break;
    case StatusKey::kQuotesCount:
      ec = ReadInt(v, s.engagement.quotes);
      break;
    case StatusKey::kAccount:
      return ReadAccount(v, ctx, prefix.Member(key), s);
    case StatusKey::kTags:
      return ReadTags(v, ctx, prefix.Member(key), s);
    case StatusKey::kMentions:
      return ReadMentions(v, ctx, prefix.Member(key), s);
    case StatusKey::kQuote:
      return ReadQuote(v, ctx, prefix.Member(key), s);
    case StatusKey::kReblog: {
      const FieldPath path = prefix.Member(key);
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return ctx.FieldError(path, e);
      if (is_null) return std::nullopt;
      od::object inner;
      if (auto e = v.get_object().get(inner)) return ctx.FieldError(path, e);
      if (auto err = ReadStatus(inner, ctx, path, out)) return err;
      s.has_reblog = true;
      break;
    }
  }
  if (ec) return ctx.FieldError(prefix.Member(key), ec);
  return std::nullopt;
}

// The author of the parent post, when the status says who it is: Mastodon gives only
// `in_reply_to_account_id`, a server-local account id, but a reply to someone else mentions
// them, and a self-reply (a thread) has the status's own account id (whose handle is `author`).
std::string_view ReplyAuthor(const RawStatus& s, std::string_view author) {
  if (s.in_reply_to_account_id.empty()) return "";
  if (s.in_reply_to_account_id == s.account_id) return author;
  for (const Mention& m : s.mentions) {
    if (m.id == s.in_reply_to_account_id) return m.acct;
  }
  return "";
}

// Fills `out` from a validated status. Every field is assigned, not appended to: `out` may
// already hold an earlier `reblog` of the same wrapper, which a later one replaces.
void BuildPost(RawStatus& s, int64_t created_at_ms, std::string_view home_domain, Post& out) {
  out.platform = Platform::kMastodon;
  out.key.assign(s.uri);
  out.local_id.assign(s.id);
  out.url.assign(s.url.empty() ? s.uri : s.url);
  out.created_at_ms = created_at_ms;
  out.author = QualifyAcct(s.acct, home_domain);
  out.author_followers = s.author_followers;
  std::string text = HtmlToText(s.content);
  if (!s.spoiler_text.empty()) {
    // spoiler_text is plain text, not HTML. The content warning often carries the topic.
    std::string with_warning(s.spoiler_text);
    if (!text.empty()) {
      with_warning += "\n\n";
      with_warning += text;
    }
    text = std::move(with_warning);
  }
  out.text = std::move(text);
  out.hashtags = std::move(s.hashtags);
  out.in_reply_to_local_id.assign(s.in_reply_to_id);
  out.in_reply_to_author.assign(ReplyAuthor(s, out.author));
  out.in_reply_to_key.clear();
  out.mentions.clear();
  out.mentions.reserve(s.mentions.size());
  for (Mention& m : s.mentions) out.mentions.push_back(std::move(m.acct));
  out.quote_of.assign(s.quote_of);
  out.engagement = s.engagement;
}

// Reads a Status object into `out`. On error `out` is left partly written; callers drop it.
FieldResult ReadStatus(od::object& obj, const Context& ctx, const FieldPath& prefix, Post& out) {
  RawStatus s;
  for (auto field_result : obj) {
    if (auto ec = field_result.error()) return ctx.ObjectError(prefix, ec);
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = ReadKey(field, key)) return ctx.ObjectError(prefix, ec);
    if (auto err = ReadStatusField(key, field.value(), ctx, prefix, s, out)) return err;
  }
  if (!s.has_id) return ctx.Missing(prefix.Member("id"));
  if (!s.has_uri) return ctx.Missing(prefix.Member("uri"));
  if (!s.has_created_at) return ctx.Missing(prefix.Member("created_at"));
  if (s.id.empty()) return ctx.FieldError(prefix.Member("id"), "empty");
  if (s.uri.empty()) return ctx.FieldError(prefix.Member("uri"), "empty");
  auto created_at = ParseRfc3339Ms(s.created_at);
  if (!created_at) return ctx.FieldError(prefix.Member("created_at"), created_at.error().message);

  // A boost is amplification of the original: the wrapper (empty content, the booster as
  // account, its own zero counts) is validated above but what the page yields is the original,
  // already in `out`.
  if (s.has_reblog) return std::nullopt;
  BuildPost(s, *created_at, ctx.home_domain(), out);
  return std::nullopt;
}

// ---- HtmlToText helpers ----

// Writes the UTF-8 encoding of `cp` (U+FFFD for what is no scalar value) to `out`, and returns
// its length (1 to 4).
size_t EncodeUtf8(uint32_t cp, char* out) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

// Decodes the entity whose name (between '&' and ';') is `name` into `out` and returns the
// number of bytes written; 0 when it is not one we know, in which case the text is kept
// literally.
size_t DecodeEntity(std::string_view name, char (&out)[4]) {
  if (name.size() >= 2 && name[0] == '#') {
    const bool hex = name[1] == 'x' || name[1] == 'X';
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    uint32_t cp = 0;
    // A number too large for uint32_t (from_chars: out of range) is no code point either.
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
    if (p != digits.data() + digits.size()) return 0;
    if (ec != std::errc()) cp = 0xFFFD;
    return EncodeUtf8(cp, out);
  }
  struct Named {
    std::string_view name;
    char text;
  };
  // Mastodon's own serializer writes &amp; &lt; &gt; &quot; and &#39;; &apos; and &nbsp; come in
  // remote posts. &nbsp; becomes a plain space so that word matching treats it as a separator.
  static constexpr Named kNamed[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '},
  };
  for (const Named& n : kNamed) {
    if (name == n.name) {
      out[0] = n.text;
      return 1;
    }
  }
  return 0;
}

// Index of the '>' closing the tag whose name starts at `from`, skipping quoted attribute
// values; npos when the tag never closes.
size_t FindTagEnd(std::string_view html, size_t from) {
  for (size_t i = from; i < html.size(); ++i) {
    const char c = html[i];
    if (c == '>') return i;
    if (c == '"' || c == '\'') {
      // Attribute values (mostly URLs) are the bulk of a tag: jump to the closing quote.
      const void* close = std::memchr(html.data() + i + 1, c, html.size() - i - 1);
      if (close == nullptr) return std::string_view::npos;
      i = static_cast<size_t>(static_cast<const char*>(close) - html.data());
    }
  }
  return std::string_view::npos;
}

// Index of the first '<' or '&' at or after `from`, html.size() when there is none: where a run
// of plain text ends. (A byte loop: runs are short, and memchr or word-at-a-time scans measured
// slower on Mastodon's markup.)
size_t FindTextEnd(std::string_view html, size_t from) {
  size_t end = from;
  while (end < html.size() && html[end] != '<' && html[end] != '&') ++end;
  return end;
}

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The newlines a tag owes before the next text (see HtmlToText), given the debt so far.
int OwedAfterTag(std::string_view name, int owed_newlines) {
  // Lower-cased into a local buffer rather than a string per tag; a name longer than the longest
  // one acted on ("blockquote") is none of them.
  char buffer[10];
  if (name.size() > sizeof(buffer)) return owed_newlines;
  for (size_t i = 0; i < name.size(); ++i) buffer[i] = AsciiLower(name[i]);
  const std::string_view lower(buffer, name.size());
  if (Is(lower, "br")) return owed_newlines + 1;
  if (Is(lower, "p") || Is(lower, "blockquote") || Is(lower, "pre") || Is(lower, "ul") ||
      Is(lower, "ol") || Is(lower, "div") ||
      (lower.size() == 2 && lower[0] == 'h' && lower[1] >= '1' && lower[1] <= '6')) {
    return std::max(owed_newlines, 2);
  }
  if (Is(lower, "li")) return std::max(owed_newlines, 1);
  return owed_newlines;
}

}  // namespace

Result<size_t> AppendMastodonStatuses(std::string_view body, std::string_view home_domain,
                                      size_t readable, std::vector<Post>* out) {
  // On-Demand validates only what it reads; checking the encoding up front means no post text,
  // and no skipped field, can carry invalid UTF-8 into the store.
  if (!simdjson::validate_utf8(body)) {
    return Fail(Error::Parse("mastodon statuses: body is not valid UTF-8"));
  }
  const PaddedBody padded(body, readable);
  auto doc = Iterate(padded.view(), "mastodon statuses");
  if (!doc) return Fail(doc.error());
  od::array arr;
  if (auto ec = doc->get_array().get(arr)) {
    return Fail(Error::Parse(std::string("mastodon statuses: expected a JSON array: ") +
                             simdjson::error_message(ec)));
  }
  const size_t before = out->size();
  auto fail = [&](Error e) -> Result<size_t> {
    out->resize(before);
    return Fail(std::move(e));
  };
  size_t index = 0;
  for (auto element : arr) {
    const Context ctx(index, home_domain);
    od::object obj;
    if (auto ec = element.get_object().get(obj)) return fail(ctx.ObjectError(FieldPath(), ec));
    if (auto err = ReadStatus(obj, ctx, FieldPath(), out->emplace_back())) return fail(std::move(*err));
    ++index;
  }
  // Every element was walked to its end, so a body cut short has failed by now; this catches
  // content after the closing bracket.
  if (!AtDocumentEnd(*doc)) return fail(Error::Parse("mastodon statuses: content after the end of the array"));
  return out->size() - before;
}

Result<std::vector<Post>> ParseMastodonStatuses(std::string_view body, std::string_view home_domain,
                                                size_t readable) {
  // A status is rarely under 1 KB of JSON, so this is about one allocation for a whole page
  // without counting the elements first (an extra pass).
  constexpr size_t kTypicalStatusBytes = 1024;
  std::vector<Post> posts;
  posts.reserve(body.size() / kTypicalStatusBytes + 1);
  if (auto n = AppendMastodonStatuses(body, home_domain, readable, &posts); !n) return Fail(n.error());
  return posts;
}

Result<Post> ParseMastodonStatus(std::string_view body, std::string_view home_domain) {
  if (!simdjson::validate_utf8(body)) {
    return Fail(Error::Parse("mastodon status: body is not valid UTF-8"));
  }
  const PaddedBody padded(body);
  auto doc = Iterate(padded.view(), "mastodon status");
  if (!doc) return Fail(doc.error());
  const Context ctx(std::nullopt, home_domain);
  od::object obj;
  if (auto ec = doc->get_object().get(obj)) return Fail(ctx.ObjectError(FieldPath(), ec));
  Post post;
  if (auto err = ReadStatus(obj, ctx, FieldPath(), post)) return Fail(std::move(*err));
  if (!AtDocumentEnd(*doc)) {
    return Fail(Error::Parse("mastodon status: content after the end of the object"));
  }
  return post;
}

// Mastodon's sanitized HTML is a small dialect: <p>, <br>, <a>, <span> (plus a few block and
// inline elements in remote posts). Tags are dropped and their text kept, which keeps "#tag" and
// "@user" as written, since the '#'/'@' sit outside the inner <span>. Long links are split as
// <span class="invisible">https://</span><span class="ellipsis">example.org/a/lo</span>
// <span class="invisible">ng/path</span>: all of it is kept, so the text carries the full URL
// (what a reader copies), not the shortened display form.
//
// Line breaks are owed, not written: <br> owes one newline, a paragraph-level element owes two
// (the larger debt wins, <br>s add up), and the debt is paid only before the next text. So
// "</p><p>" gives one blank line, and nothing is added at the start or the end.
std::string HtmlToText(std::string_view html) {
  // The text is built in a buffer this thread keeps and then copied out at its exact size: one
  // allocation as large as the text (often half the HTML) instead of one as large as the HTML.
  // The buffer is dropped after an unusually long text, so it does not keep that size forever.
  constexpr size_t kMaxKeptScratch = size_t{64} << 10;
  thread_local std::string scratch;
  std::string& out = scratch;
  out.clear();
  out.reserve(html.size());
  int owed_newlines = 0;
  // Appends text, paying the debt first. While a debt is owed, ASCII whitespace is layout next to
  // a break, not text, and is dropped; the first other character pays it.
  auto append_text = [&](std::string_view text) {
    if (owed_newlines > 0) {
      size_t layout = 0;
      while (layout < text.size() && IsAsciiSpace(text[layout])) ++layout;
      if (layout == text.size()) return;
      text.remove_prefix(layout);
      if (!out.empty()) out.append(static_cast<size_t>(owed_newlines), '\n');
      owed_newlines = 0;
    }
    out.append(text);
  };
  const size_t size = html.size();
  size_t i = 0;
  while (i < size) {
    // Everything up to the next '<' or '&' is text, copied as one run.
    const size_t run_end = FindTextEnd(html, i);
    if (run_end > i) {
      append_text(html.substr(i, run_end - i));
      i = run_end;
      continue;
    }
    if (html[i] == '<') {
      if (i + 1 < size &&
          (IsAsciiAlpha(html[i + 1]) || html[i + 1] == '/' || html[i + 1] == '!')) {
        const size_t end = FindTagEnd(html, i + 1);
        if (end == std::string_view::npos) break;  // a cut-off tag is not text
        std::string_view tag = html.substr(i + 1, end - i - 1);
        i = end + 1;
        if (!tag.empty() && tag.front() == '/') tag.remove_prefix(1);
        size_t name_len = 0;
        while (name_len < tag.size() &&
               (IsAsciiAlpha(tag[name_len]) || (tag[name_len] >= '0' && tag[name_len] <= '9'))) {
          ++name_len;
        }
        owed_newlines = OwedAfterTag(tag.substr(0, name_len), owed_newlines);
        continue;
      }
    } else {
      // Entity names are short; a ';' further away means a bare '&'.
      const size_t semi = html.substr(i + 1, 32).find(';');
      if (semi != std::string_view::npos && semi > 0) {
        char decoded[4];
        if (const size_t len = DecodeEntity(html.substr(i + 1, semi), decoded)) {
          append_text(std::string_view(decoded, len));
          i += semi + 2;
          continue;
        }
      }
    }
    // A '<' that opens no tag, or a '&' that starts no entity we know, is text.
    append_text(html.substr(i, 1));
    ++i;
  }
  std::string text(out);
  if (out.capacity() > kMaxKeptScratch) std::string().swap(out);
  return text;
}

LinkIds ParseLinkHeader(std::string_view header) {
  // Value of `key` in the query string of `url`; "" when absent.
  auto query_param = [](std::string_view url, std::string_view key) -> std::string {
    const size_t q = url.find('?');
    if (q == std::string_view::npos) return "";
    std::string_view query = url.substr(q + 1);
    query = query.substr(0, query.find('#'));
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == key) {
        return std::string(pair.substr(eq + 1));
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
    return "";
  };

  LinkIds ids;
  size_t pos = 0;
  while (pos < header.size()) {
    const size_t lt = header.find('<', pos);
    if (lt == std::string_view::npos) break;
    const size_t gt = header.find('>', lt + 1);
    if (gt == std::string_view::npos) break;
    const std::string_view url = header.substr(lt + 1, gt - lt - 1);
    // The parameters run to the next ',' outside a quoted string.
    size_t end = gt + 1;
    bool quoted = false;
    for (; end < header.size(); ++end) {
      if (header[end] == '"') quoted = !quoted;
      if (header[end] == ',' && !quoted) break;
    }
    std::string_view params = header.substr(gt + 1, end - gt - 1);
    pos = end;

    bool next = false, prev = false;
    while (!params.empty()) {
      const size_t semi = params.find(';');
      const std::string_view param = TrimAscii(params.substr(0, semi));
      params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
      const size_t eq = param.find('=');
      if (eq == std::string_view::npos) continue;
      if (AsciiLower(TrimAscii(param.substr(0, eq))) != "rel") continue;
      std::string_view value = TrimAscii(param.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      // rel may list several space-separated relation types.
      while (!value.empty()) {
        value = TrimAscii(value);
        const size_t sp = value.find(' ');
        const std::string rel = AsciiLower(value.substr(0, sp));
        if (rel == "next") next = true;
        if (rel == "prev" || rel == "previous") prev = true;
        if (sp == std::string_view::npos) break;
        value.remove_prefix(sp);
      }
    }
    if (next && ids.next_max_id.empty()) ids.next_max_id = query_param(url, "max_id");
    if (prev && ids.prev_min_id.empty()) ids.prev_min_id = query_param(url, "min_id");
  }
  return ids;
}

MastodonRateLimit ParseMastodonRateLimit(std::string_view limit, std::string_view remaining,
                                         std::string_view reset) {
  auto parse_int = [](std::string_view text) -> std::optional<int64_t> {
    text = TrimAscii(text);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    return v;
  };
  MastodonRateLimit out;
  out.limit = parse_int(limit);
  out.remaining = parse_int(remaining);
  reset = TrimAscii(reset);
  if (!reset.empty()) {
    if (auto ms = ParseRfc3339Ms(reset)) out.reset_at_ms = *ms;
  }
  return out;
}

std::string ParseMastodonError(std::string_view body) {
  if (!simdjson::validate_utf8(body)) return "";
  const simdjson::padded_string padded(body);
  auto doc = Iterate(padded, "mastodon error");
  if (!doc) return "";
  od::object obj;
  if (doc->get_object().get(obj)) return "";
  std::string message;
  for (auto field_result : obj) {
    od::field field;
    if (std::move(field_result).get(field)) return "";
    std::string_view key;
    if (field.unescaped_key().get(key)) return "";
    if (key == "error" && ReadString(field.value(), message)) return "";
  }
  if (!AtDocumentEnd(*doc)) return "";
  return message;
}

Result<std::string> ParseMastodonAccountId(std::string_view body) {
  if (!simdjson::validate_utf8(body)) return Fail(Error::Parse("mastodon account: not UTF-8"));
  const simdjson::padded_string padded(body);
  auto doc = Iterate(padded, "mastodon account");
  if (!doc) return Fail(doc.error());
  od::object obj;
  if (doc->get_object().get(obj)) return Fail(Error::Parse("mastodon account: not an object"));
  std::string id;
  for (auto field_result : obj) {
    od::field field;
    if (std::move(field_result).get(field)) return Fail(Error::Parse("mastodon account: malformed"));
    std::string_view key;
    if (field.unescaped_key().get(key)) return Fail(Error::Parse("mastodon account: malformed key"));
    if (key == "id" && ReadString(field.value(), id)) {
      return Fail(Error::Parse("mastodon account: 'id' is not a string"));
    }
  }
  if (!AtDocumentEnd(*doc) || id.empty()) return Fail(Error::Parse("mastodon account: no id"));
  return id;
}

uint64_t MastodonIdFromTimeMs(int64_t unix_ms) {
  // Times before 1970 have no snowflake; the smallest id stands for them.
  if (unix_ms <= 0) return 0;
  return static_cast<uint64_t>(unix_ms) << 16;
}

int64_t MastodonTimeMsFromId(uint64_t id) { return static_cast<int64_t>(id >> 16); }

}  // namespace chorus::collectors
