#include "collectors/bluesky_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>
#include <utility>

#include "collectors/json_support.h"
#include "core/time.h"
#include "core/strings.h"

namespace chorus::collectors {
namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view kPostCollection = "app.bsky.feed.post";
constexpr std::string_view kInvalidHandle = "handle.invalid";

// A value of the wrong JSON type (or a number too large) leaves the document walkable: the value
// is simply not consumed and the enclosing loop skips it. Every other error is structural.
bool Tolerable(simdjson::error_code ec) {
  return ec == simdjson::INCORRECT_TYPE || ec == simdjson::NUMBER_OUT_OF_RANGE;
}

bool IsHandleChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

std::string Join(std::string_view prefix, std::string_view key) {
  std::string out(prefix);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

// Error messages name the item ("bluesky post 3") and the field path inside it
// ("author.did"), never a value: values may be tokens.
class Context {
 public:
  explicit Context(std::string item) : item_(std::move(item)) {}
  Error FieldError(std::string_view path, simdjson::error_code ec) const {
    return Error::Parse(item_ + ": field '" + std::string(path) +
                        "': " + simdjson::error_message(ec));
  }
  Error FieldError(std::string_view path, std::string_view what) const {
    return Error::Parse(item_ + ": field '" + std::string(path) + "': " + std::string(what));
  }
  Error ObjectError(std::string_view path, simdjson::error_code ec) const {
    std::string where = path.empty() ? item_ : item_ + ": in '" + std::string(path) + "'";
    return Error::Parse(where + ": " + simdjson::error_message(ec));
  }
  Error Missing(std::string_view path) const {
    return Error::Parse(item_ + ": missing field '" + std::string(path) + "'");
  }

 private:
  std::string item_;
};

using FieldResult = std::optional<Error>;  // nullopt: fine
using FieldFn = std::function<FieldResult(std::string_view key, od::value& v)>;

// Walks every field of an object value; `fn` reads the keys it knows and leaves the others
// unconsumed (On-Demand skips them). With `tolerant`, a value that is not an object is ignored.
FieldResult ForEachField(od::value& v, const Context& ctx, const std::string& path, bool tolerant,
                         const FieldFn& fn) {
  od::object obj;
  if (auto ec = v.get_object().get(obj)) {
    if (tolerant && Tolerable(ec)) return std::nullopt;
    return ctx.FieldError(path, ec);
  }
  for (auto field_result : obj) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return ctx.ObjectError(path, ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return ctx.ObjectError(path, ec);
    if (auto err = fn(key, field.value())) return err;
  }
  return std::nullopt;
}

// Same for arrays: `fn` gets each element and its index.
using ElementFn = std::function<FieldResult(size_t index, od::value& v)>;
FieldResult ForEachElement(od::value& v, const Context& ctx, const std::string& path, bool tolerant,
                           const ElementFn& fn) {
  od::array arr;
  if (auto ec = v.get_array().get(arr)) {
    if (tolerant && Tolerable(ec)) return std::nullopt;
    return ctx.FieldError(path, ec);
  }
  size_t i = 0;
  for (auto element_result : arr) {
    od::value element;
    if (auto ec = std::move(element_result).get(element)) return ctx.ObjectError(path, ec);
    if (auto err = fn(i++, element)) return err;
  }
  return std::nullopt;
}

// Strict reads: the wrong type is an error.
FieldResult ReadString(od::value& v, const Context& ctx, std::string_view path, std::string& out) {
  std::string_view s;
  if (auto ec = v.get_string().get(s)) return ctx.FieldError(path, ec);
  out.assign(s);
  return std::nullopt;
}

// `string`, or null/absent meaning "none".
FieldResult ReadNullableString(od::value& v, const Context& ctx, std::string_view path,
                               std::string& out) {
  bool is_null = false;
  if (auto ec = v.is_null().get(is_null)) return ctx.FieldError(path, ec);
  if (is_null) {
    out.clear();
    return std::nullopt;
  }
  return ReadString(v, ctx, path, out);
}

// Counters the AppView writes; a negative one (never seen) clamps to 0.
FieldResult ReadCount(od::value& v, const Context& ctx, std::string_view path, int64_t& out) {
  if (auto ec = v.get_int64().get(out)) return ctx.FieldError(path, ec);
  if (out < 0) out = 0;
  return std::nullopt;
}

// Tolerant reads of client-written fields: a wrong type leaves `out` untouched.
FieldResult TryString(od::value& v, const Context& ctx, std::string_view path, std::string& out) {
  std::string_view s;
  if (auto ec = v.get_string().get(s)) {
    if (Tolerable(ec)) return std::nullopt;
    return ctx.FieldError(path, ec);
  }
  out.assign(s);
  return std::nullopt;
}

FieldResult TryInt(od::value& v, const Context& ctx, std::string_view path, int64_t& out) {
  int64_t n = 0;
  if (auto ec = v.get_int64().get(n)) {
    if (Tolerable(ec)) return std::nullopt;
    return ctx.FieldError(path, ec);
  }
  out = n;
  return std::nullopt;
}

// ---- the post record (client-written: tolerant) ----

struct RawFeature {
  std::string type, did, tag;
};

struct RawFacet {
  int64_t byte_start = -1;
  int64_t byte_end = -1;
  std::vector<RawFeature> features;
};

// The uris an embed (record embed or its view) points at: `record.uri` for
// app.bsky.embed.record[#view], `record.record.uri` for app.bsky.embed.recordWithMedia[#view].
struct EmbedRefs {
  std::string type;
  std::string record_uri;
  std::string record_record_uri;

  std::string QuotedUri() const {
    std::string uri;
    if (type.rfind("app.bsky.embed.recordWithMedia", 0) == 0) {
      uri = record_record_uri;
    } else if (type.rfind("app.bsky.embed.record", 0) == 0) {
      uri = record_uri;
    }
    // A record embed can also show a feed generator, a list or a starter pack: not a quote.
    return AtUriCollection(uri) == kPostCollection ? uri : "";
  }
};

struct RawRecord {
  std::string text;
  std::string created_at;
  std::vector<RawFacet> facets;
  std::vector<std::string> tags;
  std::string reply_parent_uri;
  EmbedRefs embed;
};

FieldResult ReadUriOf(od::value& v, const Context& ctx, const std::string& path, std::string& out) {
  return ForEachField(v, ctx, path, true, [&](std::string_view key, od::value& f) -> FieldResult {
    if (key == "uri") return TryString(f, ctx, Join(path, key), out);
    return std::nullopt;
  });
}

FieldResult ReadEmbed(od::value& v, const Context& ctx, const std::string& path, EmbedRefs& out) {
  return ForEachField(v, ctx, path, true, [&](std::string_view key, od::value& f) -> FieldResult {
    if (key == "$type") return TryString(f, ctx, Join(path, key), out.type);
    if (key != "record") return std::nullopt;
    const std::string rpath = Join(path, key);
    return ForEachField(f, ctx, rpath, true, [&](std::string_view k2, od::value& g) -> FieldResult {
      if (k2 == "uri") return TryString(g, ctx, Join(rpath, k2), out.record_uri);
      if (k2 == "record") return ReadUriOf(g, ctx, Join(rpath, k2), out.record_record_uri);
      return std::nullopt;
    });
  });
}

FieldResult ReadFacet(od::value& v, const Context& ctx, const std::string& path, RawFacet& out) {
  return ForEachField(v, ctx, path, true, [&](std::string_view key, od::value& f) -> FieldResult {
    const std::string fpath = Join(path, key);
    if (key == "index") {
      return ForEachField(f, ctx, fpath, true,
                          [&](std::string_view k2, od::value& g) -> FieldResult {
                            if (k2 == "byteStart")
                              return TryInt(g, ctx, Join(fpath, k2), out.byte_start);
                            if (k2 == "byteEnd")
                              return TryInt(g, ctx, Join(fpath, k2), out.byte_end);
                            return std::nullopt;
                          });
    }
    if (key == "features") {
      return ForEachElement(f, ctx, fpath, true, [&](size_t i, od::value& e) -> FieldResult {
        const std::string epath = fpath + "[" + std::to_string(i) + "]";
        RawFeature feature;
        auto err = ForEachField(e, ctx, epath, true,
                                [&](std::string_view k2, od::value& g) -> FieldResult {
                                  if (k2 == "$type")
                                    return TryString(g, ctx, Join(epath, k2), feature.type);
                                  if (k2 == "did")
                                    return TryString(g, ctx, Join(epath, k2), feature.did);
                                  if (k2 == "tag")
                                    return TryString(g, ctx, Join(epath, k2), feature.tag);
                                  return std::nullopt;
                                });
        if (err) return err;
        out.features.push_back(std::move(feature));
        return std::nullopt;
      });
    }
    return std::nullopt;
  });
}

FieldResult ReadRecord(od::value& v, const Context& ctx, const std::string& path, RawRecord& out) {
  // The record itself must be an object (the AppView puts the stored record here); its
  // contents were written by a client.
  return ForEachField(v, ctx, path, false, [&](std::string_view key, od::value& f) -> FieldResult {
    const std::string fpath = Join(path, key);
    if (key == "text") return TryString(f, ctx, fpath, out.text);
    if (key == "createdAt") return TryString(f, ctx, fpath, out.created_at);
    if (key == "facets") {
      return ForEachElement(f, ctx, fpath, true, [&](size_t i, od::value& e) -> FieldResult {
        RawFacet facet;
        if (auto err = ReadFacet(e, ctx, fpath + "[" + std::to_string(i) + "]", facet)) return err;
        out.facets.push_back(std::move(facet));
        return std::nullopt;
      });
    }
    if (key == "tags") {
      return ForEachElement(f, ctx, fpath, true, [&](size_t i, od::value& e) -> FieldResult {
        std::string tag;
        if (auto err = TryString(e, ctx, fpath + "[" + std::to_string(i) + "]", tag)) return err;
        if (!tag.empty()) out.tags.push_back(std::move(tag));
        return std::nullopt;
      });
    }
    if (key == "reply") {
      return ForEachField(f, ctx, fpath, true,
                          [&](std::string_view k2, od::value& g) -> FieldResult {
                            if (k2 == "parent")
                              return ReadUriOf(g, ctx, Join(fpath, k2), out.reply_parent_uri);
                            return std::nullopt;
                          });
    }
    if (key == "embed") return ReadEmbed(f, ctx, fpath, out.embed);
    return std::nullopt;
  });
}

// ---- the post view (AppView-written: strict) ----

struct RawPostView {
  std::string uri, did, handle, indexed_at;
  bool has_uri = false, has_author = false, has_did = false, has_handle = false, has_record = false,
       has_indexed_at = false;
  RawRecord record;
  EmbedRefs embed_view;
  Engagement engagement;
};

FieldResult ReadAuthor(od::value& v, const Context& ctx, const std::string& path, RawPostView& s) {
  return ForEachField(v, ctx, path, false, [&](std::string_view key, od::value& f) -> FieldResult {
    if (key == "did") {
      s.has_did = true;
      return ReadString(f, ctx, Join(path, key), s.did);
    }
    if (key == "handle") {
      s.has_handle = true;
      return ReadString(f, ctx, Join(path, key), s.handle);
    }
    return std::nullopt;
  });
}

FieldResult ReadPostViewField(std::string_view key, od::value& v, const Context& ctx,
                              const std::string& prefix, RawPostView& s) {
  const std::string path = Join(prefix, key);
  if (key == "uri") {
    s.has_uri = true;
    return ReadString(v, ctx, path, s.uri);
  }
  if (key == "author") {
    s.has_author = true;
    return ReadAuthor(v, ctx, path, s);
  }
  if (key == "record") {
    s.has_record = true;
    return ReadRecord(v, ctx, path, s.record);
  }
  if (key == "embed") return ReadEmbed(v, ctx, path, s.embed_view);
  if (key == "indexedAt") {
    s.has_indexed_at = true;
    return ReadString(v, ctx, path, s.indexed_at);
  }
  if (key == "likeCount") return ReadCount(v, ctx, path, s.engagement.likes);
  if (key == "repostCount") return ReadCount(v, ctx, path, s.engagement.reposts);
  if (key == "replyCount") return ReadCount(v, ctx, path, s.engagement.replies);
  if (key == "quoteCount") return ReadCount(v, ctx, path, s.engagement.quotes);
  return std::nullopt;
}

void AddUnique(std::vector<std::string>& list, std::string value) {
  if (value.empty()) return;
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

// The handle a mention facet spans: "@alice.example.org" -> "alice.example.org". Some clients
// write facets a few bytes off (" (@alice.example.org)"), so the handle is the run of handle
// characters after the first '@' inside the span. "" when the span holds no plausible handle (the
// caller falls back to the DID, which is what identifies the account anyway).
std::string HandleInSpan(std::string_view text, int64_t start, int64_t end) {
  auto span = Utf8ByteSlice(text, start, end);
  if (!span) return "";
  const size_t at = span->find('@');
  if (at == std::string_view::npos) return "";
  size_t stop = at + 1;
  while (stop < span->size() && IsHandleChar((*span)[stop])) ++stop;
  std::string_view handle = span->substr(at + 1, stop - at - 1);
  while (!handle.empty() && (handle.back() == '.' || handle.back() == '-')) handle.remove_suffix(1);
  if (handle.empty() || handle.front() == '.' || handle.find('.') == std::string_view::npos)
    return "";
  return AsciiLower(handle);
}

Result<BlueskyPost> FinishPost(RawPostView& s, const Context& ctx, const std::string& prefix) {
  if (!s.has_uri) return Fail(ctx.Missing(Join(prefix, "uri")));
  if (s.uri.empty()) return Fail(ctx.FieldError(Join(prefix, "uri"), "empty"));
  if (!s.has_author) return Fail(ctx.Missing(Join(prefix, "author")));
  if (!s.has_did) return Fail(ctx.Missing(Join(prefix, "author.did")));
  if (s.did.empty()) return Fail(ctx.FieldError(Join(prefix, "author.did"), "empty"));
  if (!s.has_handle) return Fail(ctx.Missing(Join(prefix, "author.handle")));
  if (!s.has_record) return Fail(ctx.Missing(Join(prefix, "record")));
  if (!s.has_indexed_at) return Fail(ctx.Missing(Join(prefix, "indexedAt")));
  auto indexed = ParseRfc3339Ms(s.indexed_at);
  if (!indexed) return Fail(ctx.FieldError(Join(prefix, "indexedAt"), indexed.error().message));

  BlueskyPost out;
  out.author_did = s.did;
  out.indexed_at_ms = *indexed;
  Post& p = out.post;
  p.platform = Platform::kBluesky;
  p.key = s.uri;
  p.local_id = s.uri;
  p.url = BlueskyPostUrl(s.uri);
  // sortAt, as the AppView computes it: createdAt is the client's claim, indexedAt when the
  // AppView saw the post; the earlier of the two, so a fast client clock cannot post-date.
  p.created_at_ms = *indexed;
  if (auto created = ParseRfc3339Ms(s.record.created_at)) {
    p.created_at_ms = std::min(*created, *indexed);
  }
  p.author =
      (s.handle.empty() || AsciiLower(s.handle) == kInvalidHandle) ? s.did : AsciiLower(s.handle);
  p.text = std::move(s.record.text);
  for (const RawFacet& facet : s.record.facets) {
    for (const RawFeature& f : facet.features) {
      const bool mention =
          f.type == "app.bsky.richtext.facet#mention" || (f.type.empty() && !f.did.empty());
      const bool tag =
          f.type == "app.bsky.richtext.facet#tag" || (f.type.empty() && !f.tag.empty());
      if (mention && !f.did.empty()) {
        if (std::find(out.mention_dids.begin(), out.mention_dids.end(), f.did) !=
            out.mention_dids.end()) {
          continue;
        }
        std::string handle = HandleInSpan(p.text, facet.byte_start, facet.byte_end);
        out.mention_dids.push_back(f.did);
        p.mentions.push_back(handle.empty() ? f.did : std::move(handle));
      } else if (tag) {
        std::string_view t = f.tag;
        if (!t.empty() && t.front() == '#') t.remove_prefix(1);
        AddUnique(p.hashtags, AsciiLower(t));
      }
    }
  }
  for (const std::string& t : s.record.tags) {
    std::string_view tv = t;
    if (!tv.empty() && tv.front() == '#') tv.remove_prefix(1);
    AddUnique(p.hashtags, AsciiLower(tv));
  }
  if (!s.record.reply_parent_uri.empty()) {
    p.in_reply_to_key = s.record.reply_parent_uri;
    p.in_reply_to_local_id = s.record.reply_parent_uri;
    p.in_reply_to_author = AtUriAuthority(s.record.reply_parent_uri);
  }
  p.quote_of = s.embed_view.QuotedUri();
  if (p.quote_of.empty()) p.quote_of = s.record.embed.QuotedUri();
  p.engagement = s.engagement;
  return out;
}

Result<BlueskyPost> ReadPostView(od::value& v, const Context& ctx, const std::string& prefix) {
  RawPostView s;
  auto err = ForEachField(v, ctx, prefix, false, [&](std::string_view key, od::value& f) {
    return ReadPostViewField(key, f, ctx, prefix, s);
  });
  if (err) return Fail(std::move(*err));
  return FinishPost(s, ctx, prefix);
}

// Checks the body, indexes it with the thread's parser and hands the top-level object's fields to
// `fn`. The document, and every string_view taken from it, lives only for this call.
Result<void> WalkTopObject(std::string_view body, std::string_view what, const FieldFn& fn) {
  if (!simdjson::validate_utf8(body)) {
    return Fail(Error::Parse(std::string(what) + ": body is not valid UTF-8"));
  }
  const simdjson::padded_string padded(body);
  od::document doc;
  if (auto ec = ThreadParser().iterate(padded).get(doc)) {
    return Fail(Error::Parse(std::string(what) + ": " + simdjson::error_message(ec)));
  }
  od::object obj;
  if (auto ec = doc.get_object().get(obj)) {
    return Fail(Error::Parse(std::string(what) +
                             ": expected a JSON object: " + simdjson::error_message(ec)));
  }
  const Context ctx{std::string(what)};
  for (auto field_result : obj) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return Fail(ctx.ObjectError("", ec));
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return Fail(ctx.ObjectError("", ec));
    if (auto err = fn(key, field.value())) return Fail(std::move(*err));
  }
  if (!AtDocumentEnd(doc)) {
    return Fail(Error::Parse(std::string(what) + ": content after the end of the object"));
  }
  return {};
}

std::optional<int64_t> ParseInt(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

Result<BlueskyPostsPage> ParseBlueskyPosts(std::string_view body) {
  BlueskyPostsPage page;
  bool has_posts = false;
  const Context top("bluesky posts");
  auto walked =
      WalkTopObject(body, "bluesky posts", [&](std::string_view key, od::value& v) -> FieldResult {
        if (key == "posts") {
          has_posts = true;
          return ForEachElement(v, top, "posts", false, [&](size_t i, od::value& e) -> FieldResult {
            const Context ctx("bluesky post " + std::to_string(i));
            auto post = ReadPostView(e, ctx, "");
            if (!post) return post.error();
            page.posts.push_back(std::move(*post));
            return std::nullopt;
          });
        }
        if (key == "cursor") return ReadNullableString(v, top, "cursor", page.cursor);
        if (key == "hitsTotal" || key == "hits_total") {
          // Optional and approximate: read when it is a number, ignored otherwise.
          int64_t n = -1;
          if (auto err = TryInt(v, top, key, n)) return err;
          if (n >= 0) page.hits_total = n;
          return std::nullopt;
        }
        return std::nullopt;
      });
  if (!walked) return Fail(walked.error());
  if (!has_posts) return Fail(top.Missing("posts"));
  return page;
}

Result<BlueskyFeedPage> ParseBlueskyAuthorFeed(std::string_view body) {
  BlueskyFeedPage page;
  bool has_feed = false;
  const Context top("bluesky feed");
  auto walked =
      WalkTopObject(body, "bluesky feed", [&](std::string_view key, od::value& v) -> FieldResult {
        if (key == "cursor") return ReadNullableString(v, top, "cursor", page.cursor);
        if (key != "feed") return std::nullopt;
        has_feed = true;
        return ForEachElement(v, top, "feed", false, [&](size_t i, od::value& e) -> FieldResult {
          const Context ctx("bluesky feed item " + std::to_string(i));
          BlueskyFeedItem item;
          bool has_post = false;
          std::string reason_type, reason_at;
          auto err =
              ForEachField(e, ctx, "", false, [&](std::string_view k, od::value& f) -> FieldResult {
                if (k == "post") {
                  has_post = true;
                  auto post = ReadPostView(f, ctx, "post");
                  if (!post) return post.error();
                  item.view = std::move(*post);
                  return std::nullopt;
                }
                if (k == "reason") {
                  return ForEachField(
                      f, ctx, "reason", false,
                      [&](std::string_view k2, od::value& g) -> FieldResult {
                        if (k2 == "$type") return ReadString(g, ctx, "reason.$type", reason_type);
                        if (k2 == "indexedAt")
                          return ReadString(g, ctx, "reason.indexedAt", reason_at);
                        if (k2 == "by") {
                          return ForEachField(
                              g, ctx, "reason.by", false,
                              [&](std::string_view k3, od::value& h) -> FieldResult {
                                if (k3 == "did")
                                  return ReadString(h, ctx, "reason.by.did", item.reposted_by_did);
                                return std::nullopt;
                              });
                        }
                        return std::nullopt;
                      });
                }
                return std::nullopt;
              });
          if (err) return err;
          if (!has_post) return ctx.Missing("post");
          item.repost = reason_type == "app.bsky.feed.defs#reasonRepost";
          item.pinned = reason_type == "app.bsky.feed.defs#reasonPin";
          item.feed_at_ms = item.view.post.created_at_ms;
          if (item.repost) {
            auto at = ParseRfc3339Ms(reason_at);
            if (!at) return ctx.FieldError("reason.indexedAt", at.error().message);
            item.feed_at_ms = *at;
          }
          page.items.push_back(std::move(item));
          return std::nullopt;
        });
      });
  if (!walked) return Fail(walked.error());
  if (!has_feed) return Fail(top.Missing("feed"));
  return page;
}

Result<BlueskySession> ParseBlueskySession(std::string_view body) {
  BlueskySession s;
  const Context top("bluesky session");
  auto walked = WalkTopObject(body, "bluesky session",
                              [&](std::string_view key, od::value& v) -> FieldResult {
                                if (key == "accessJwt")
                                  return ReadString(v, top, key, s.access_jwt);
                                if (key == "refreshJwt")
                                  return ReadString(v, top, key, s.refresh_jwt);
                                if (key == "did") return ReadString(v, top, key, s.did);
                                if (key == "handle") return ReadString(v, top, key, s.handle);
                                return std::nullopt;
                              });
  if (!walked) return Fail(walked.error());
  if (s.access_jwt.empty()) return Fail(top.Missing("accessJwt"));
  if (s.refresh_jwt.empty()) return Fail(top.Missing("refreshJwt"));
  return s;
}

Result<std::string> ParseBlueskyResolvedDid(std::string_view body) {
  std::string did;
  const Context top("bluesky resolveHandle");
  auto walked = WalkTopObject(body, "bluesky resolveHandle",
                              [&](std::string_view key, od::value& v) -> FieldResult {
                                if (key == "did") return ReadString(v, top, key, did);
                                return std::nullopt;
                              });
  if (!walked) return Fail(walked.error());
  if (did.rfind("did:", 0) != 0) return Fail(top.Missing("did"));
  return did;
}

namespace {

FieldResult ReadProfileField(std::string_view key, od::value& v, const Context& ctx,
                             BlueskyProfile& p) {
  if (key == "did") return ReadString(v, ctx, key, p.did);
  if (key == "handle") return ReadString(v, ctx, key, p.handle);
  if (key == "followersCount") return ReadCount(v, ctx, key, p.followers);
  return std::nullopt;
}

}  // namespace

Result<std::vector<BlueskyProfile>> ParseBlueskyProfiles(std::string_view body) {
  std::vector<BlueskyProfile> out;
  bool has_profiles = false;
  const Context top("bluesky profiles");
  auto walked = WalkTopObject(
      body, "bluesky profiles", [&](std::string_view key, od::value& v) -> FieldResult {
        if (key != "profiles") return std::nullopt;
        has_profiles = true;
        return ForEachElement(
            v, top, "profiles", false, [&](size_t i, od::value& e) -> FieldResult {
              const Context ctx("bluesky profile " + std::to_string(i));
              BlueskyProfile p;
              auto err = ForEachField(e, ctx, "", false, [&](std::string_view k, od::value& f) {
                return ReadProfileField(k, f, ctx, p);
              });
              if (err) return err;
              if (p.did.empty()) return ctx.Missing("did");
              out.push_back(std::move(p));
              return std::nullopt;
            });
      });
  if (!walked) return Fail(walked.error());
  if (!has_profiles) return Fail(top.Missing("profiles"));
  return out;
}

Result<BlueskyProfile> ParseBlueskyProfile(std::string_view body) {
  BlueskyProfile p;
  const Context top("bluesky profile");
  auto walked = WalkTopObject(body, "bluesky profile", [&](std::string_view key, od::value& v) {
    return ReadProfileField(key, v, top, p);
  });
  if (!walked) return Fail(walked.error());
  if (p.did.empty()) return Fail(top.Missing("did"));
  return p;
}

std::optional<BlueskyError> ParseBlueskyError(std::string_view body) {
  BlueskyError e;
  bool has_error = false;
  const Context top("bluesky error");
  auto walked =
      WalkTopObject(body, "bluesky error", [&](std::string_view key, od::value& v) -> FieldResult {
        if (key == "error") {
          has_error = true;
          return ReadString(v, top, key, e.error);
        }
        if (key == "message") return TryString(v, top, key, e.message);
        return std::nullopt;
      });
  if (!walked || !has_error || e.error.empty()) return std::nullopt;
  return e;
}

BlueskyRateLimit ParseBlueskyRateLimit(std::string_view limit, std::string_view remaining,
                                       std::string_view reset, std::string_view retry_after,
                                       int64_t now_ms) {
  BlueskyRateLimit out;
  out.limit = ParseInt(limit);
  out.remaining = ParseInt(remaining);
  if (auto r = ParseInt(reset); r && *r > 0 && *r < (int64_t{1} << 40)) out.reset_at_ms = *r * 1000;
  if (auto ra = ParseInt(retry_after); ra && *ra >= 0 && *ra < (int64_t{1} << 31)) {
    const int64_t at = now_ms + *ra * 1000;
    if (!out.reset_at_ms || *out.reset_at_ms < at) out.reset_at_ms = at;
  }
  return out;
}

std::string AtUriAuthority(std::string_view at_uri) {
  constexpr std::string_view kScheme = "at://";
  if (at_uri.substr(0, kScheme.size()) != kScheme) return "";
  at_uri.remove_prefix(kScheme.size());
  return std::string(at_uri.substr(0, at_uri.find('/')));
}

std::string AtUriCollection(std::string_view at_uri) {
  constexpr std::string_view kScheme = "at://";
  if (at_uri.substr(0, kScheme.size()) != kScheme) return "";
  at_uri.remove_prefix(kScheme.size());
  const size_t slash = at_uri.find('/');
  if (slash == std::string_view::npos) return "";
  at_uri.remove_prefix(slash + 1);
  return std::string(at_uri.substr(0, at_uri.find('/')));
}

std::string BlueskyPostUrl(std::string_view at_uri) {
  const std::string did = AtUriAuthority(at_uri);
  if (did.empty() || AtUriCollection(at_uri) != kPostCollection) return std::string(at_uri);
  const std::string_view rkey = at_uri.substr(at_uri.rfind('/') + 1);
  if (rkey.empty()) return std::string(at_uri);
  return "https://bsky.app/profile/" + did + "/post/" + std::string(rkey);
}

std::optional<std::string_view> Utf8ByteSlice(std::string_view text, int64_t byte_start,
                                              int64_t byte_end) {
  if (byte_start < 0 || byte_end <= byte_start || byte_end > static_cast<int64_t>(text.size())) {
    return std::nullopt;
  }
  auto continuation = [&](int64_t i) {
    return i < static_cast<int64_t>(text.size()) &&
           (static_cast<unsigned char>(text[static_cast<size_t>(i)]) & 0xC0) == 0x80;
  };
  if (continuation(byte_start) || continuation(byte_end)) return std::nullopt;
  return text.substr(static_cast<size_t>(byte_start), static_cast<size_t>(byte_end - byte_start));
}

}  // namespace chorus::collectors
