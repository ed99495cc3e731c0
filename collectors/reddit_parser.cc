#include "collectors/reddit_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>
#include "collectors/json_support.h"
#include "core/strings.h"

namespace chorus::collectors {
namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view kWebOrigin = "https://www.reddit.com";
// created_utc beyond this (year 5138) is not a time any post has; it would also overflow ms.
constexpr double kMaxEpochSeconds = 1e11;

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// The word bytes of analytics' matcher: ASCII letters and digits, '_' and any non-ASCII byte.
bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

bool IsUserNameByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

void AddOnce(std::vector<std::string>& out, std::string value) {
  if (std::find(out.begin(), out.end(), value) == out.end()) out.push_back(std::move(value));
}

// Error messages name the child ("reddit child 3 (t3_hozvuc)") and the field, so a bad page can
// be diagnosed from the log line alone.
class Context {
 public:
  explicit Context(std::string where) : where_(std::move(where)) {}
  void SetName(std::string_view name) {
    if (!name.empty() && name_.empty()) name_ = " (" + std::string(name) + ")";
  }
  Error Field(std::string_view field, simdjson::error_code ec) const {
    return Error::Parse(where_ + name_ + ": field '" + std::string(field) +
                        "': " + simdjson::error_message(ec));
  }
  Error Field(std::string_view field, std::string_view what) const {
    return Error::Parse(where_ + name_ + ": field '" + std::string(field) +
                        "': " + std::string(what));
  }
  Error Object(simdjson::error_code ec) const {
    return Error::Parse(where_ + name_ + ": " + simdjson::error_message(ec));
  }
  Error Missing(std::string_view field) const {
    return Error::Parse(where_ + name_ + ": missing field '" + std::string(field) + "'");
  }

 private:
  std::string where_;
  std::string name_;
};

// What one t3 `data` object says.
struct RawLink {
  std::string id, name, title, selftext, author, permalink, crosspost_parent;
  std::optional<double> created_utc;
  int64_t score = 0, num_comments = 0, num_crossposts = 0;
};

using FieldResult = std::optional<Error>;  // nullopt: the field was read

// `edited` is false, or the edit time as a float (some very old posts say true).
simdjson::error_code CheckEdited(od::value& v) {
  od::json_type t;
  if (auto ec = v.type().get(t)) return ec;
  if (t == od::json_type::boolean) {
    bool b = false;
    return v.get_bool().get(b);
  }
  if (t == od::json_type::number) {
    double d = 0;
    return v.get_double().get(d);
  }
  return simdjson::INCORRECT_TYPE;
}

FieldResult ReadLinkField(std::string_view key, od::value& v, Context& ctx, RawLink& link) {
  simdjson::error_code ec = simdjson::SUCCESS;
  if (key == "id") {
    ec = ReadString(v, link.id);
  } else if (key == "name") {
    ec = ReadString(v, link.name);
    if (!ec) ctx.SetName(link.name);
  } else if (key == "title") {
    ec = ReadString(v, link.title);
  } else if (key == "selftext") {
    ec = ReadNullableString(v, link.selftext);
  } else if (key == "author") {
    ec = ReadString(v, link.author);
  } else if (key == "permalink") {
    ec = ReadString(v, link.permalink);
  } else if (key == "crosspost_parent") {
    ec = ReadNullableString(v, link.crosspost_parent);
  } else if (key == "created_utc") {
    double d = 0;
    ec = v.get_double().get(d);
    if (!ec) {
      if (!std::isfinite(d) || std::fabs(d) > kMaxEpochSeconds) {
        return ctx.Field(key, "not a time in epoch seconds");
      }
      link.created_utc = d;
    }
  } else if (key == "edited") {
    ec = CheckEdited(v);
  } else if (key == "score") {
    ec = v.get_int64().get(link.score);
  } else if (key == "num_comments") {
    ec = v.get_int64().get(link.num_comments);
  } else if (key == "num_crossposts") {
    ec = v.get_int64().get(link.num_crossposts);
  }
  if (ec) return ctx.Field(key, ec);
  return std::nullopt;
}

FieldResult ReadLinkData(od::value& v, Context& ctx, RawLink& link) {
  od::object obj;
  if (auto ec = v.get_object().get(obj)) return ctx.Field("data", ec);
  for (auto field_result : obj) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return ctx.Object(ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return ctx.Object(ec);
    if (auto err = ReadLinkField(key, field.value(), ctx, link)) return err;
  }
  return std::nullopt;
}

bool IsRemovalMarker(std::string_view selftext) {
  return selftext == "[deleted]" || selftext == "[removed]";
}

Result<Post> ToPost(RawLink&& link, const Context& ctx) {
  if (link.name.empty()) {
    if (link.id.empty()) return Fail(ctx.Missing("name"));
    link.name = "t3_" + link.id;
  }
  if (!link.created_utc) return Fail(ctx.Missing("created_utc"));
  Post post;
  post.platform = Platform::kReddit;
  post.key = link.name;
  post.local_id = std::move(link.name);
  if (!link.permalink.empty()) {
    post.url = std::string(kWebOrigin) + link.permalink;
  } else {
    const std::string id = link.id.empty() ? post.key.substr(post.key.find('_') + 1) : link.id;
    post.url = std::string(kWebOrigin) + "/comments/" + id + "/";
  }
  post.created_at_ms = std::llround(*link.created_utc * 1000.0);
  post.author = AsciiLower(link.author);
  post.author_followers = 0;

  std::string_view selftext = link.selftext;
  if (IsRemovalMarker(TrimAscii(selftext))) selftext = {};
  post.text = link.title;
  if (!TrimAscii(selftext).empty()) {
    if (!post.text.empty()) post.text += "\n\n";
    post.text += selftext;
  }
  post.hashtags = ExtractRedditHashtags(post.text);
  post.mentions = ExtractRedditMentions(post.text);
  post.quote_of = std::move(link.crosspost_parent);
  post.engagement.likes = std::max<int64_t>(link.score, 0);
  post.engagement.replies = std::max<int64_t>(link.num_comments, 0);
  post.engagement.reposts = std::max<int64_t>(link.num_crossposts, 0);
  post.engagement.quotes = 0;
  return post;
}

// One element of `children`: {"kind": "t3", "data": {...}}, in either key order.
Result<std::optional<Post>> ReadChild(od::value& element, size_t index) {
  Context ctx("reddit child " + std::to_string(index));
  od::object obj;
  if (auto ec = element.get_object().get(obj)) return Fail(ctx.Object(ec));
  std::string kind;
  bool has_data = false;
  RawLink link;
  for (auto field_result : obj) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return Fail(ctx.Object(ec));
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return Fail(ctx.Object(ec));
    if (key == "kind") {
      if (auto ec = ReadString(field.value(), kind)) return Fail(ctx.Field("kind", ec));
    } else if (key == "data") {
      has_data = true;
      if (auto err = ReadLinkData(field.value(), ctx, link)) return Fail(*err);
    }
  }
  if (kind.empty()) return Fail(ctx.Missing("kind"));
  if (kind != "t3") return std::optional<Post>();
  if (!has_data) return Fail(ctx.Missing("data"));
  auto post = ToPost(std::move(link), ctx);
  if (!post) return Fail(post.error());
  return std::optional<Post>(std::move(*post));
}

FieldResult ReadListingData(od::value& v, RedditListing& out) {
  const Context ctx("reddit listing");
  od::object obj;
  if (auto ec = v.get_object().get(obj)) return ctx.Field("data", ec);
  bool has_children = false;
  for (auto field_result : obj) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return ctx.Object(ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return ctx.Object(ec);
    if (key == "after") {
      if (auto ec = ReadNullableString(field.value(), out.after))
        return ctx.Field("data.after", ec);
    } else if (key == "before") {
      if (auto ec = ReadNullableString(field.value(), out.before)) {
        return ctx.Field("data.before", ec);
      }
    } else if (key == "children") {
      has_children = true;
      od::array arr;
      if (auto ec = field.value().get_array().get(arr)) return ctx.Field("data.children", ec);
      size_t index = 0;
      for (auto element_result : arr) {
        od::value element;
        if (auto ec = std::move(element_result).get(element)) return ctx.Object(ec);
        auto child = ReadChild(element, index++);
        if (!child) return child.error();
        if (!*child) {
          ++out.skipped_children;
          continue;
        }
        out.posts.push_back(std::move(**child));
      }
    }
  }
  if (!has_children) return ctx.Missing("data.children");
  return std::nullopt;
}

std::optional<int64_t> ParseIntHeader(std::string_view text) {
  text = TrimAscii(text);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<double> ParseFloatHeader(std::string_view text) {
  text = TrimAscii(text);
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

Result<RedditListing> ParseRedditListing(std::string_view body) {
  // On-Demand validates only what it reads; checking the encoding up front means no post text,
  // and no skipped field, can carry invalid UTF-8 into the store.
  if (!simdjson::validate_utf8(body)) {
    return Fail(Error::Parse("reddit listing: body is not valid UTF-8"));
  }
  const simdjson::padded_string padded(body);
  auto doc = Iterate(padded, "reddit listing");
  if (!doc) return Fail(doc.error());
  od::object obj;
  if (auto ec = doc->get_object().get(obj)) {
    return Fail(Error::Parse(std::string("reddit listing: expected a JSON object: ") +
                             simdjson::error_message(ec)));
  }
  RedditListing out;
  std::string kind;
  bool has_data = false;
  for (auto field_result : obj) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) {
      return Fail(Error::Parse(std::string("reddit listing: ") + simdjson::error_message(ec)));
    }
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) {
      return Fail(Error::Parse(std::string("reddit listing: ") + simdjson::error_message(ec)));
    }
    if (key == "kind") {
      if (auto ec = ReadString(field.value(), kind)) {
        return Fail(Error::Parse(std::string("reddit listing: field 'kind': ") +
                                 simdjson::error_message(ec)));
      }
    } else if (key == "data") {
      has_data = true;
      if (auto err = ReadListingData(field.value(), out)) return Fail(*err);
    }
  }
  if (kind != "Listing") {
    return Fail(Error::Parse(kind.empty()
                                 ? "reddit listing: missing field 'kind'"
                                 : "reddit listing: kind is '" + kind + "', expected 'Listing'"));
  }
  if (!has_data) return Fail(Error::Parse("reddit listing: missing field 'data'"));
  // Every value was walked to its end, so a body cut short has failed by now; this catches
  // content after the closing brace.
  if (!AtDocumentEnd(*doc)) {
    return Fail(Error::Parse("reddit listing: content after the end of the object"));
  }
  for (const Post& p : out.posts) {
    if (out.oldest_created_ms == 0 || p.created_at_ms < out.oldest_created_ms) {
      out.oldest_created_ms = p.created_at_ms;
    }
    out.newest_created_ms = std::max(out.newest_created_ms, p.created_at_ms);
  }
  return out;
}

std::vector<std::string> ExtractRedditHashtags(std::string_view text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '#') continue;
    if (i > 0) {
      const auto prev = static_cast<unsigned char>(text[i - 1]);
      if (IsWordByte(prev) || prev == '&' || prev == '#' || prev == '/') continue;
    }
    size_t j = i + 1;
    bool has_non_digit = false;
    while (j < text.size() && IsWordByte(static_cast<unsigned char>(text[j]))) {
      if (text[j] < '0' || text[j] > '9') has_non_digit = true;
      ++j;
    }
    if (j > i + 1 && has_non_digit) AddOnce(out, AsciiLower(text.substr(i + 1, j - i - 1)));
    i = j - 1;
  }
  return out;
}

std::vector<std::string> ExtractRedditMentions(std::string_view text) {
  constexpr size_t kMinName = 3, kMaxName = 20;
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if ((text[i] != 'u' && text[i] != 'U') || text[i + 1] != '/') continue;
    if (i > 0) {
      const auto prev = static_cast<unsigned char>(text[i - 1]);
      if (IsWordByte(prev) || prev == '-') continue;
    }
    size_t j = i + 2;
    while (j < text.size() && IsUserNameByte(static_cast<unsigned char>(text[j]))) ++j;
    const size_t len = j - i - 2;
    // A longer run is not a user name at all ("u/" followed by a path), not a name cut short.
    if (len >= kMinName && len <= kMaxName) AddOnce(out, AsciiLower(text.substr(i + 2, len)));
    i = j - 1;
  }
  return out;
}

RedditRateLimit ParseRedditRateLimit(std::string_view used, std::string_view remaining,
                                     std::string_view reset, int64_t now_ms) {
  RedditRateLimit out;
  out.used = ParseIntHeader(used);
  if (auto r = ParseFloatHeader(remaining); r && *r >= 0 && *r < 1e15) {
    out.remaining = static_cast<int64_t>(std::floor(*r));
  }
  if (out.used && out.remaining) out.limit = *out.used + *out.remaining;
  // Seconds until the window ends; "469" in practice, a float tolerated.
  if (auto s = ParseFloatHeader(reset); s && *s >= 0 && *s < 1e9) {
    out.reset_at_ms = now_ms + static_cast<int64_t>(std::ceil(*s * 1000.0));
  }
  return out;
}

bool LooksLikeHtml(std::string_view body) {
  body = TrimAscii(body);
  return !body.empty() && body.front() == '<';
}

std::optional<RedditApiError> ParseRedditError(std::string_view body) {
  if (LooksLikeHtml(body) || !simdjson::validate_utf8(body)) return std::nullopt;
  const simdjson::padded_string padded(body);
  auto doc = Iterate(padded, "reddit error");
  if (!doc) return std::nullopt;
  od::object obj;
  if (doc->get_object().get(obj)) return std::nullopt;
  RedditApiError out;
  std::string explanation;
  bool any = false;
  for (auto field_result : obj) {
    od::field field;
    if (std::move(field_result).get(field)) return std::nullopt;
    std::string_view key;
    if (field.unescaped_key().get(key)) return std::nullopt;
    od::value& v = field.value();
    if (key == "message") {
      if (ReadString(v, out.message)) return std::nullopt;
      any = true;
    } else if (key == "error") {
      od::json_type t;
      if (v.type().get(t)) return std::nullopt;
      if (t == od::json_type::number) {
        if (v.get_int64().get(out.code)) return std::nullopt;
      } else if (t == od::json_type::string) {
        if (ReadString(v, out.error)) return std::nullopt;
      } else {
        return std::nullopt;
      }
      any = true;
    } else if (key == "reason") {
      if (ReadNullableString(v, out.reason)) return std::nullopt;
    } else if (key == "explanation") {
      if (ReadNullableString(v, explanation)) return std::nullopt;
    }
  }
  if (!AtDocumentEnd(*doc) || !any) return std::nullopt;
  if (out.reason.empty()) out.reason = std::move(explanation);
  return out;
}

Result<RedditToken> ParseRedditToken(std::string_view body) {
  constexpr std::string_view kWhat = "reddit token response";
  if (LooksLikeHtml(body)) return Fail(Error::Parse(std::string(kWhat) + ": an HTML page"));
  if (!simdjson::validate_utf8(body)) {
    return Fail(Error::Parse(std::string(kWhat) + ": body is not valid UTF-8"));
  }
  const simdjson::padded_string padded(body);
  auto doc = Iterate(padded, kWhat);
  if (!doc) return Fail(doc.error());
  od::object obj;
  if (auto ec = doc->get_object().get(obj)) {
    return Fail(Error::Parse(std::string(kWhat) + ": " + simdjson::error_message(ec)));
  }
  RedditToken token;
  std::string error;
  bool has_expires = false;
  for (auto field_result : obj) {
    od::field field;
    std::string_view key;
    if (auto ec = std::move(field_result).get(field)) {
      return Fail(Error::Parse(std::string(kWhat) + ": " + simdjson::error_message(ec)));
    }
    if (auto ec = field.unescaped_key().get(key)) {
      return Fail(Error::Parse(std::string(kWhat) + ": " + simdjson::error_message(ec)));
    }
    simdjson::error_code ec = simdjson::SUCCESS;
    od::value& v = field.value();
    if (key == "access_token") {
      ec = ReadString(v, token.access_token);
    } else if (key == "token_type") {
      ec = ReadString(v, token.token_type);
    } else if (key == "scope") {
      ec = ReadString(v, token.scope);
    } else if (key == "expires_in") {
      // An integer in practice; a float is read and truncated.
      double d = 0;
      ec = v.get_double().get(d);
      if (!ec) {
        if (!std::isfinite(d) || d < 0 || d > 1e9) {
          return Fail(Error::Parse(std::string(kWhat) + ": field 'expires_in' out of range"));
        }
        token.expires_in_s = static_cast<int64_t>(d);
        has_expires = true;
      }
    } else if (key == "error") {
      od::json_type t;
      ec = v.type().get(t);
      if (!ec && t == od::json_type::string) {
        ec = ReadString(v, error);
      } else if (!ec && t == od::json_type::number) {
        int64_t code = 0;
        ec = v.get_int64().get(code);
        error = std::to_string(code);
      }
    }
    if (ec) {
      // The value itself is never quoted: it could be the token.
      return Fail(Error::Parse(std::string(kWhat) + ": field '" + std::string(key) +
                               "': " + simdjson::error_message(ec)));
    }
  }
  if (!AtDocumentEnd(*doc)) {
    return Fail(Error::Parse(std::string(kWhat) + ": content after the end of the object"));
  }
  if (!error.empty()) {
    return Fail(
        Error::Unauthenticated("reddit token endpoint refused the client credentials: " + error));
  }
  if (token.access_token.empty()) {
    return Fail(Error::Parse(std::string(kWhat) + ": missing field 'access_token'"));
  }
  if (!has_expires) {
    return Fail(Error::Parse(std::string(kWhat) + ": missing field 'expires_in'"));
  }
  return token;
}

}  // namespace chorus::collectors
