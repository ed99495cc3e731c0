#include "collectors/mastodon_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "collectors/json_support.h"
#include "core/time.h"
#include "core/strings.h"

namespace chorus::collectors {
namespace {

namespace od = simdjson::ondemand;

void AsciiLowerInPlace(std::string& s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Mastodon writes local accounts as bare "user" and remote ones as "user@domain". Lower-casing is
// ASCII only: usernames and domains (IDNA) are ASCII on the wire.
std::string QualifyAcct(std::string_view acct, std::string_view home_domain) {
  std::string out = AsciiLower(acct);
  if (!out.empty() && out.front() == '@') out.erase(0, 1);
  if (!out.empty() && out.find('@') == std::string::npos && !home_domain.empty()) {
    out += '@';
    out += AsciiLower(home_domain);
  }
  return out;
}

// Error messages name the status ("status 3") and the field path inside it
// ("reblog.account.followers_count"), so a bad page can be diagnosed from the log line alone.
class Context {
 public:
  Context(std::string status, std::string_view home_domain)
      : status_(std::move(status)), home_domain_(home_domain) {}

  std::string_view home_domain() const { return home_domain_; }

  Error FieldError(std::string_view path, simdjson::error_code ec) const {
    return Error::Parse(status_ + ": field '" + std::string(path) +
                        "': " + simdjson::error_message(ec));
  }
  Error FieldError(std::string_view path, std::string_view what) const {
    return Error::Parse(status_ + ": field '" + std::string(path) + "': " + std::string(what));
  }
  Error ObjectError(std::string_view path, simdjson::error_code ec) const {
    std::string where = path.empty() ? status_ : status_ + ": in '" + std::string(path) + "'";
    return Error::Parse(where + ": " + simdjson::error_message(ec));
  }
  Error Missing(std::string_view path) const {
    return Error::Parse(status_ + ": missing field '" + std::string(path) + "'");
  }

 private:
  std::string status_;
  std::string_view home_domain_;
};

std::string Join(std::string_view prefix, std::string_view key) {
  std::string out(prefix);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

simdjson::error_code ReadInt(od::value& v, int64_t& out) { return v.get_int64().get(out); }

struct Mention {
  std::string id;
  std::string acct;  // qualified, lower-cased
};

// What one Status object says, before the boost/reply resolution that needs all of it.
struct RawStatus {
  std::string id, uri, url, created_at, content, spoiler_text;
  bool has_id = false, has_uri = false, has_created_at = false;
  std::string in_reply_to_id, in_reply_to_account_id;
  std::string account_id, author;
  int64_t author_followers = 0;
  std::vector<std::string> hashtags;
  std::vector<Mention> mentions;
  std::string quote_of;
  Engagement engagement;
  std::optional<Post> reblog;
};

using FieldResult = std::optional<Error>;  // nullopt: the field was read

FieldResult ReadAccount(od::value& v, const Context& ctx, const std::string& path, RawStatus& s) {
  od::object obj;
  if (auto ec = v.get_object().get(obj)) return ctx.FieldError(path, ec);
  for (auto field_result : obj) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return ctx.ObjectError(path, ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return ctx.ObjectError(path, ec);
    simdjson::error_code ec = simdjson::SUCCESS;
    std::string raw_acct;
    if (key == "acct") {
      ec = ReadString(field.value(), raw_acct);
      if (!ec) s.author = QualifyAcct(raw_acct, ctx.home_domain());
    } else if (key == "followers_count") {
      ec = ReadInt(field.value(), s.author_followers);
      // Some forks report hidden counts as -1; the model has no "unknown", and 0 is the honest
      // lower bound.
      if (!ec && s.author_followers < 0) s.author_followers = 0;
    } else if (key == "id") {
      ec = ReadString(field.value(), s.account_id);
    }
    if (ec) return ctx.FieldError(Join(path, key), ec);
  }
  return std::nullopt;
}

FieldResult ReadTags(od::value& v, const Context& ctx, const std::string& path, RawStatus& s) {
  od::array arr;
  if (auto ec = v.get_array().get(arr)) return ctx.FieldError(path, ec);
  size_t i = 0;
  for (auto element : arr) {
    const std::string item = path + "[" + std::to_string(i++) + "]";
    od::object obj;
    if (auto ec = element.get_object().get(obj)) return ctx.FieldError(item, ec);
    for (auto field_result : obj) {
      od::field field;
      if (auto ec = std::move(field_result).get(field)) return ctx.ObjectError(item, ec);
      std::string_view key;
      if (auto ec = field.unescaped_key().get(key)) return ctx.ObjectError(item, ec);
      if (key == "name") {
        std::string name;
        if (auto ec = ReadString(field.value(), name)) return ctx.FieldError(item + ".name", ec);
        AsciiLowerInPlace(name);
        if (!name.empty() && name.front() == '#') name.erase(0, 1);
        if (!name.empty()) s.hashtags.push_back(std::move(name));
      }
    }
  }
  return std::nullopt;
}

FieldResult ReadMentions(od::value& v, const Context& ctx, const std::string& path, RawStatus& s) {
  od::array arr;
  if (auto ec = v.get_array().get(arr)) return ctx.FieldError(path, ec);
  size_t i = 0;
  for (auto element : arr) {
    const std::string item = path + "[" + std::to_string(i++) + "]";
    od::object obj;
    if (auto ec = element.get_object().get(obj)) return ctx.FieldError(item, ec);
    Mention m;
    for (auto field_result : obj) {
      od::field field;
      if (auto ec = std::move(field_result).get(field)) return ctx.ObjectError(item, ec);
      std::string_view key;
      if (auto ec = field.unescaped_key().get(key)) return ctx.ObjectError(item, ec);
      simdjson::error_code ec = simdjson::SUCCESS;
      if (key == "acct") {
        std::string raw;
        ec = ReadString(field.value(), raw);
        if (!ec) m.acct = QualifyAcct(raw, ctx.home_domain());
      } else if (key == "id") {
        ec = ReadString(field.value(), m.id);
      }
      if (ec) return ctx.FieldError(Join(item, key), ec);
    }
    if (!m.acct.empty()) s.mentions.push_back(std::move(m));
  }
  return std::nullopt;
}

// The quoted status's uri, from either shape: Mastodon 4.4+ wraps it,
// {"state": ..., "quoted_status": Status|null} (or a ShallowQuote with only `quoted_status_id`,
// which carries no uri); forks such as Fedibird put the quoted Status itself in `quote`.
// Only `uri` is read from the quoted status: it is a reference, not a post of this page.
FieldResult ReadQuote(od::value& v, const Context& ctx, const std::string& path, RawStatus& s) {
  bool is_null = false;
  if (auto ec = v.is_null().get(is_null)) return ctx.FieldError(path, ec);
  if (is_null) return std::nullopt;
  od::object obj;
  if (auto ec = v.get_object().get(obj)) return ctx.FieldError(path, ec);
  for (auto field_result : obj) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return ctx.ObjectError(path, ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return ctx.ObjectError(path, ec);
    if (key == "uri") {
      if (auto ec = ReadString(field.value(), s.quote_of)) {
        return ctx.FieldError(Join(path, key), ec);
      }
    } else if (key == "quoted_status") {
      const std::string qpath = Join(path, key);
      od::value& q = field.value();
      if (auto ec = q.is_null().get(is_null)) return ctx.FieldError(qpath, ec);
      if (is_null) continue;
      od::object quoted;
      if (auto ec = q.get_object().get(quoted)) return ctx.FieldError(qpath, ec);
      for (auto qfield_result : quoted) {
        od::field qfield;
        if (auto ec = std::move(qfield_result).get(qfield)) return ctx.ObjectError(qpath, ec);
        std::string_view qkey;
        if (auto ec = qfield.unescaped_key().get(qkey)) return ctx.ObjectError(qpath, ec);
        if (qkey == "uri") {
          if (auto ec = ReadString(qfield.value(), s.quote_of)) {
            return ctx.FieldError(Join(qpath, qkey), ec);
          }
        }
      }
    }
  }
  return std::nullopt;
}

Result<Post> ReadStatus(od::object& obj, const Context& ctx, const std::string& prefix);

// Reads one field of a Status. Values of keys it does not know are left unconsumed, which
// On-Demand skips when the loop moves to the next field.
FieldResult ReadStatusField(std::string_view key, od::value& v, const Context& ctx,
                            const std::string& prefix, RawStatus& s) {
  simdjson::error_code ec = simdjson::SUCCESS;
  if (key == "id") {
    ec = ReadString(v, s.id);
    s.has_id = true;
  } else if (key == "uri") {
    ec = ReadString(v, s.uri);
    s.has_uri = true;
  } else if (key == "url") {
    ec = ReadNullableString(v, s.url);
  } else if (key == "created_at") {
    ec = ReadString(v, s.created_at);
    s.has_created_at = true;
  } else if (key == "content") {
    ec = ReadString(v, s.content);
  } else if (key == "spoiler_text") {
    ec = ReadString(v, s.spoiler_text);
  } else if (key == "in_reply_to_id") {
    ec = ReadNullableString(v, s.in_reply_to_id);
  } else if (key == "in_reply_to_account_id") {
    ec = ReadNullableString(v, s.in_reply_to_account_id);
  } else if (key == "favourites_count") {
    ec = ReadInt(v, s.engagement.likes);
  } else if (key == "reblogs_count") {
    ec = ReadInt(v, s.engagement.reposts);
  } else if (key == "replies_count") {
    ec = ReadInt(v, s.engagement.replies);
  } else if (key == "quotes_count") {
    ec = ReadInt(v, s.engagement.quotes);
  } else if (key == "account") {
    return ReadAccount(v, ctx, Join(prefix, key), s);
  } else if (key == "tags") {
    return ReadTags(v, ctx, Join(prefix, key), s);
  } else if (key == "mentions") {
    return ReadMentions(v, ctx, Join(prefix, key), s);
  } else if (key == "quote") {
    return ReadQuote(v, ctx, Join(prefix, key), s);
  } else if (key == "reblog") {
    const std::string path = Join(prefix, key);
    bool is_null = false;
    if (auto e = v.is_null().get(is_null)) return ctx.FieldError(path, e);
    if (is_null) return std::nullopt;
    od::object inner;
    if (auto e = v.get_object().get(inner)) return ctx.FieldError(path, e);
    auto original = ReadStatus(inner, ctx, path);
    if (!original) return original.error();
    s.reblog = std::move(*original);
  }
  if (ec) return ctx.FieldError(Join(prefix, key), ec);
  return std::nullopt;
}

// The author of the parent post, when the status says who it is: Mastodon gives only
// `in_reply_to_account_id`, a server-local account id, but a reply to someone else mentions
// them, and a self-reply (a thread) has the status's own account id.
std::string ReplyAuthor(const RawStatus& s) {
  if (s.in_reply_to_account_id.empty()) return "";
  if (s.in_reply_to_account_id == s.account_id) return s.author;
  for (const Mention& m : s.mentions) {
    if (m.id == s.in_reply_to_account_id) return m.acct;
  }
  return "";
}

Result<Post> ReadStatus(od::object& obj, const Context& ctx, const std::string& prefix) {
  RawStatus s;
  for (auto field_result : obj) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return Fail(ctx.ObjectError(prefix, ec));
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return Fail(ctx.ObjectError(prefix, ec));
    if (auto err = ReadStatusField(key, field.value(), ctx, prefix, s)) {
      return Fail(std::move(*err));
    }
  }
  if (!s.has_id) return Fail(ctx.Missing(Join(prefix, "id")));
  if (!s.has_uri) return Fail(ctx.Missing(Join(prefix, "uri")));
  if (!s.has_created_at) return Fail(ctx.Missing(Join(prefix, "created_at")));
  if (s.id.empty()) return Fail(ctx.FieldError(Join(prefix, "id"), "empty"));
  if (s.uri.empty()) return Fail(ctx.FieldError(Join(prefix, "uri"), "empty"));
  auto created_at = ParseRfc3339Ms(s.created_at);
  if (!created_at) {
    return Fail(ctx.FieldError(Join(prefix, "created_at"), created_at.error().message));
  }

  // A boost is amplification of the original: the wrapper (empty content, the booster as
  // account, its own zero counts) is validated above but what the page yields is the original.
  if (s.reblog) return std::move(*s.reblog);

  Post post;
  post.platform = Platform::kMastodon;
  post.key = s.uri;
  post.local_id = std::move(s.id);
  post.url = s.url.empty() ? s.uri : std::move(s.url);
  post.created_at_ms = *created_at;
  post.author = s.author;
  post.author_followers = s.author_followers;
  post.text = HtmlToText(s.content);
  if (!s.spoiler_text.empty()) {
    // spoiler_text is plain text, not HTML. The content warning often carries the topic.
    post.text = post.text.empty() ? s.spoiler_text : s.spoiler_text + "\n\n" + post.text;
  }
  post.hashtags = std::move(s.hashtags);
  post.in_reply_to_local_id = s.in_reply_to_id;
  post.in_reply_to_author = ReplyAuthor(s);
  post.mentions.reserve(s.mentions.size());
  for (Mention& m : s.mentions) post.mentions.push_back(std::move(m.acct));
  post.quote_of = std::move(s.quote_of);
  post.engagement = s.engagement;
  return post;
}

// ---- HtmlToText helpers ----

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes the entity whose name (between '&' and ';') is `name`. False when it is not one we
// know, in which case the text is kept literally.
bool DecodeEntity(std::string_view name, std::string& out) {
  if (name.size() >= 2 && name[0] == '#') {
    const bool hex = name[1] == 'x' || name[1] == 'X';
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return false;
    uint32_t cp = 0;
    // A number too large for uint32_t (from_chars: out of range) is no code point either.
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
    if (p != digits.data() + digits.size()) return false;
    if (ec != std::errc()) cp = 0xFFFD;
    AppendUtf8(out, cp);
    return true;
  }
  struct Named {
    std::string_view name;
    std::string_view text;
  };
  // Mastodon's own serializer writes &amp; &lt; &gt; &quot; and &#39;; &apos; and &nbsp; come in
  // remote posts. &nbsp; becomes a plain space so that word matching treats it as a separator.
  static constexpr Named kNamed[] = {
      {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", " "},
  };
  for (const Named& n : kNamed) {
    if (name == n.name) {
      out += n.text;
      return true;
    }
  }
  return false;
}

// Index of the '>' closing the tag whose name starts at `from`, skipping quoted attribute
// values; npos when the tag never closes.
size_t FindTagEnd(std::string_view html, size_t from) {
  char quote = 0;
  for (size_t i = from; i < html.size(); ++i) {
    const char c = html[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

Result<std::vector<Post>> ParseMastodonStatuses(std::string_view body,
                                                std::string_view home_domain) {
  // On-Demand validates only what it reads; checking the encoding up front means no post text,
  // and no skipped field, can carry invalid UTF-8 into the store.
  if (!simdjson::validate_utf8(body)) {
    return Fail(Error::Parse("mastodon statuses: body is not valid UTF-8"));
  }
  const simdjson::padded_string padded(body);
  auto doc = Iterate(padded, "mastodon statuses");
  if (!doc) return Fail(doc.error());
  od::array arr;
  if (auto ec = doc->get_array().get(arr)) {
    return Fail(Error::Parse(std::string("mastodon statuses: expected a JSON array: ") +
                             simdjson::error_message(ec)));
  }
  std::vector<Post> posts;
  size_t index = 0;
  for (auto element : arr) {
    const Context ctx("mastodon status " + std::to_string(index), home_domain);
    od::object obj;
    if (auto ec = element.get_object().get(obj)) return Fail(ctx.ObjectError("", ec));
    auto post = ReadStatus(obj, ctx, "");
    if (!post) return Fail(post.error());
    posts.push_back(std::move(*post));
    ++index;
  }
  // Every element was walked to its end, so a body cut short has failed by now; this catches
  // content after the closing bracket.
  if (!AtDocumentEnd(*doc)) {
    return Fail(Error::Parse("mastodon statuses: content after the end of the array"));
  }
  return posts;
}

Result<Post> ParseMastodonStatus(std::string_view body, std::string_view home_domain) {
  if (!simdjson::validate_utf8(body)) {
    return Fail(Error::Parse("mastodon status: body is not valid UTF-8"));
  }
  const simdjson::padded_string padded(body);
  auto doc = Iterate(padded, "mastodon status");
  if (!doc) return Fail(doc.error());
  const Context ctx("mastodon status", home_domain);
  od::object obj;
  if (auto ec = doc->get_object().get(obj)) return Fail(ctx.ObjectError("", ec));
  auto post = ReadStatus(obj, ctx, "");
  if (!post) return Fail(post.error());
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
  std::string out;
  out.reserve(html.size());
  int owed_newlines = 0;
  auto before_text = [&](char first) -> bool {
    if (owed_newlines == 0) return true;
    if (IsAsciiSpace(first)) return false;  // whitespace next to a break is layout, not text
    if (!out.empty()) out.append(static_cast<size_t>(owed_newlines), '\n');
    owed_newlines = 0;
    return true;
  };
  size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '<' && i + 1 < html.size() &&
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
      const std::string name = AsciiLower(tag.substr(0, name_len));
      if (name == "br") {
        ++owed_newlines;
      } else if (name == "p" || name == "blockquote" || name == "pre" || name == "ul" ||
                 name == "ol" || name == "div" ||
                 (name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6')) {
        owed_newlines = std::max(owed_newlines, 2);
      } else if (name == "li") {
        owed_newlines = std::max(owed_newlines, 1);
      }
      continue;
    }
    if (c == '&') {
      // Entity names are short; a ';' further away means a bare '&'.
      const size_t semi = html.substr(i + 1, 32).find(';');
      if (semi != std::string_view::npos && semi > 0) {
        std::string decoded;
        if (DecodeEntity(html.substr(i + 1, semi), decoded)) {
          if (before_text(decoded.empty() ? 'x' : decoded.front())) out += decoded;
          i += semi + 2;
          continue;
        }
      }
    }
    if (before_text(c)) out += c;
    ++i;
  }
  return out;
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
