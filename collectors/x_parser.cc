#include "collectors/x_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <unordered_map>
#include <utility>

#include "collectors/json_support.h"
#include "core/time.h"
#include "core/strings.h"

namespace chorus::collectors {
namespace {

namespace od = simdjson::ondemand;

std::string_view TrimAscii(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string Join(std::string_view prefix, std::string_view key) {
  std::string out(prefix);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::string Index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// Errors name the element ("x post 3", "x includes.users[1]") and the field path inside it.
class Context {
 public:
  explicit Context(std::string where) : where_(std::move(where)) {}
  Error FieldError(std::string_view path, simdjson::error_code ec) const {
    return Error::Parse(where_ + ": field '" + std::string(path) +
                        "': " + simdjson::error_message(ec));
  }
  Error FieldError(std::string_view path, std::string_view what) const {
    return Error::Parse(where_ + ": field '" + std::string(path) + "': " + std::string(what));
  }
  Error ObjectError(std::string_view path, simdjson::error_code ec) const {
    const std::string at = path.empty() ? where_ : where_ + ": in '" + std::string(path) + "'";
    return Error::Parse(at + ": " + simdjson::error_message(ec));
  }
  Error Missing(std::string_view path) const {
    return Error::Parse(where_ + ": missing field '" + std::string(path) + "'");
  }

 private:
  std::string where_;
};

using FieldResult = std::optional<Error>;  // nullopt: read fine

// Iterates the fields of the object in `v`, calling fn(key, value) -> FieldResult.
template <typename Fn>
FieldResult ForEachField(od::value& v, const Context& ctx, const std::string& path, Fn&& fn) {
  od::object obj;
  if (auto ec = v.get_object().get(obj)) return ctx.FieldError(path, ec);
  for (auto field_result : obj) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return ctx.ObjectError(path, ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return ctx.ObjectError(path, ec);
    if (auto err = fn(key, field.value())) return err;
  }
  return std::nullopt;
}

// Iterates the elements of the array in `v`, calling fn(index_path, element) -> FieldResult.
template <typename Fn>
FieldResult ForEachElement(od::value& v, const Context& ctx, const std::string& path, Fn&& fn) {
  od::array arr;
  if (auto ec = v.get_array().get(arr)) return ctx.FieldError(path, ec);
  size_t i = 0;
  for (auto element_result : arr) {
    const std::string item = Index(path, i++);
    od::value element;
    if (auto ec = std::move(element_result).get(element)) return ctx.ObjectError(item, ec);
    if (auto err = fn(item, element)) return err;
  }
  return std::nullopt;
}

// What one Post object says, before references are resolved against `includes`.
struct RawTweet {
  std::string id, text, created_at, author_id, in_reply_to_user_id;
  bool has_id = false, has_text = false, has_created_at = false;
  std::vector<std::string> edit_history;
  std::vector<std::pair<std::string, std::string>> refs;  // (type, id)
  std::vector<std::string> hashtags, mentions;
  Engagement engagement;
  bool has_note = false;
  std::string note_text;
  bool note_has_entities = false;
  std::vector<std::string> note_hashtags, note_mentions;
};

// entities: {hashtags: [{tag}], mentions: [{username}], urls: [...], ...}; only tags and
// usernames are needed (indices are code points, but the strings are all Chorus uses).
FieldResult ReadEntities(od::value& v, const Context& ctx, const std::string& path,
                         std::vector<std::string>& hashtags, std::vector<std::string>& mentions) {
  return ForEachField(v, ctx, path, [&](std::string_view key, od::value& value) -> FieldResult {
    const bool tags = key == "hashtags";
    const bool users = key == "mentions";
    if (!tags && !users) return std::nullopt;
    const std::string list_path = Join(path, key);
    bool is_null = false;
    if (auto ec = value.is_null().get(is_null)) return ctx.FieldError(list_path, ec);
    if (is_null) return std::nullopt;  // the spec marks the arrays nullable
    return ForEachElement(value, ctx, list_path, [&](const std::string& item, od::value& e) {
      return ForEachField(e, ctx, item, [&](std::string_view k, od::value& fv) -> FieldResult {
        if ((tags && k == "tag") || (users && k == "username")) {
          std::string s;
          if (auto ec = ReadNullableString(fv, s)) return ctx.FieldError(Join(item, k), ec);
          if (!s.empty() && (s.front() == '#' || s.front() == '@')) s.erase(0, 1);
          if (!s.empty()) (tags ? hashtags : mentions).push_back(AsciiLower(s));
        }
        return std::nullopt;
      });
    });
  });
}

FieldResult ReadStringArray(od::value& v, const Context& ctx, const std::string& path,
                            std::vector<std::string>& out) {
  return ForEachElement(v, ctx, path, [&](const std::string& item, od::value& e) -> FieldResult {
    std::string s;
    if (auto ec = ReadString(e, s)) return ctx.FieldError(item, ec);
    out.push_back(std::move(s));
    return std::nullopt;
  });
}

FieldResult ReadPublicMetrics(od::value& v, const Context& ctx, const std::string& path,
                              Engagement& e) {
  return ForEachField(v, ctx, path, [&](std::string_view key, od::value& value) -> FieldResult {
    int64_t* target = nullptr;
    if (key == "like_count")
      target = &e.likes;
    else if (key == "retweet_count" || key == "repost_count")
      target = &e.reposts;
    else if (key == "reply_count")
      target = &e.replies;
    else if (key == "quote_count")
      target = &e.quotes;
    if (target == nullptr) return std::nullopt;
    if (auto ec = value.get_int64().get(*target)) return ctx.FieldError(Join(path, key), ec);
    if (*target < 0) *target = 0;
    return std::nullopt;
  });
}

FieldResult ReadTweetField(std::string_view key, od::value& v, const Context& ctx, RawTweet& t) {
  const std::string path(key);
  simdjson::error_code ec = simdjson::SUCCESS;
  if (key == "id") {
    ec = ReadString(v, t.id);
    t.has_id = true;
  } else if (key == "text") {
    ec = ReadString(v, t.text);
    t.has_text = true;
  } else if (key == "created_at") {
    ec = ReadString(v, t.created_at);
    t.has_created_at = true;
  } else if (key == "author_id") {
    ec = ReadString(v, t.author_id);
  } else if (key == "in_reply_to_user_id") {
    ec = ReadNullableString(v, t.in_reply_to_user_id);
  } else if (key == "edit_history_tweet_ids" || key == "edit_history_post_ids") {
    t.edit_history.clear();
    return ReadStringArray(v, ctx, path, t.edit_history);
  } else if (key == "referenced_tweets" || key == "referenced_posts") {
    return ForEachElement(v, ctx, path, [&](const std::string& item, od::value& e) -> FieldResult {
      std::pair<std::string, std::string> ref;
      auto err = ForEachField(e, ctx, item, [&](std::string_view k, od::value& fv) -> FieldResult {
        simdjson::error_code fec = simdjson::SUCCESS;
        if (k == "type")
          fec = ReadString(fv, ref.first);
        else if (k == "id")
          fec = ReadString(fv, ref.second);
        if (fec) return ctx.FieldError(Join(item, k), fec);
        return std::nullopt;
      });
      if (err) return err;
      if (ref.second.empty()) return ctx.Missing(Join(item, "id"));
      t.refs.push_back(std::move(ref));
      return std::nullopt;
    });
  } else if (key == "entities") {
    return ReadEntities(v, ctx, path, t.hashtags, t.mentions);
  } else if (key == "public_metrics") {
    return ReadPublicMetrics(v, ctx, path, t.engagement);
  } else if (key == "note_tweet" || key == "note_post") {
    return ForEachField(v, ctx, path, [&](std::string_view k, od::value& fv) -> FieldResult {
      if (k == "text") {
        if (auto fec = ReadString(fv, t.note_text)) return ctx.FieldError(Join(path, k), fec);
        t.has_note = true;
      } else if (k == "entities") {
        t.note_has_entities = true;
        return ReadEntities(fv, ctx, Join(path, k), t.note_hashtags, t.note_mentions);
      }
      return std::nullopt;
    });
  }
  if (ec) return ctx.FieldError(path, ec);
  return std::nullopt;
}

Result<RawTweet> ReadTweet(od::value& v, const Context& ctx) {
  RawTweet t;
  auto err = ForEachField(v, ctx, "", [&](std::string_view key, od::value& value) {
    return ReadTweetField(key, value, ctx, t);
  });
  if (err) return Fail(std::move(*err));
  if (!t.has_id) return Fail(ctx.Missing("id"));
  if (!t.has_text) return Fail(ctx.Missing("text"));
  if (!ParseXId(t.id))
    return Fail(ctx.FieldError("id", "not a post id of 1-19 digits: '" + t.id + "'"));
  for (size_t i = 0; i < t.edit_history.size(); ++i) {
    if (!ParseXId(t.edit_history[i])) {
      return Fail(ctx.FieldError(Index("edit_history_tweet_ids", i), "not a post id"));
    }
  }
  return t;
}

struct UserInfo {
  std::string id, username;
  int64_t followers = 0;
};

Result<UserInfo> ReadUser(od::value& v, const Context& ctx) {
  UserInfo u;
  bool has_id = false;
  auto err = ForEachField(v, ctx, "", [&](std::string_view key, od::value& value) -> FieldResult {
    simdjson::error_code ec = simdjson::SUCCESS;
    if (key == "id") {
      ec = ReadString(value, u.id);
      has_id = true;
    } else if (key == "username") {
      ec = ReadString(value, u.username);
    } else if (key == "public_metrics") {
      return ForEachField(value, ctx, "public_metrics",
                          [&](std::string_view k, od::value& fv) -> FieldResult {
                            if (k != "followers_count") return std::nullopt;
                            if (auto fec = fv.get_int64().get(u.followers)) {
                              return ctx.FieldError("public_metrics.followers_count", fec);
                            }
                            if (u.followers < 0) u.followers = 0;
                            return std::nullopt;
                          });
    }
    if (ec) return ctx.FieldError(key, ec);
    return std::nullopt;
  });
  if (err) return Fail(std::move(*err));
  if (!has_id) return Fail(ctx.Missing("id"));
  return u;
}

// Problems are read leniently: a field of an unexpected type is skipped, so an odd error entry
// never costs the posts of the page it came with.
XProblem ReadProblemObject(od::object& obj, bool* ok) {
  XProblem p;
  *ok = true;
  for (auto field_result : obj) {
    od::field field;
    if (std::move(field_result).get(field)) {
      *ok = false;
      return p;
    }
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      *ok = false;
      return p;
    }
    od::value& v = field.value();
    od::json_type type;
    if (v.type().get(type)) {
      *ok = false;
      return p;
    }
    std::string* target = nullptr;
    if (key == "title")
      target = &p.title;
    else if (key == "detail")
      target = &p.detail;
    else if (key == "type")
      target = &p.type;
    else if (key == "message")
      target = &p.message;
    else if (key == "value")
      target = &p.value;
    else if (key == "parameter")
      target = &p.parameter;
    else if (key == "resource_type")
      target = &p.resource_type;
    else if (key == "resource_id")
      target = &p.resource_id;
    else if (key == "period")
      target = &p.period;
    else if (key == "scope")
      target = &p.scope;
    if (target != nullptr && type == od::json_type::string) {
      if (ReadString(v, *target)) {
        *ok = false;
        return p;
      }
    } else if (key == "status" && type == od::json_type::number) {
      int64_t s = 0;
      if (v.get_int64().get(s)) {
        *ok = false;
        return p;
      }
      p.status = static_cast<int>(s);
    }
  }
  return p;
}

FieldResult ReadProblems(od::value& v, const Context& ctx, const std::string& path,
                         std::vector<XProblem>& out) {
  return ForEachElement(v, ctx, path, [&](const std::string& item, od::value& e) -> FieldResult {
    od::object obj;
    if (auto ec = e.get_object().get(obj)) return ctx.FieldError(item, ec);
    bool ok = true;
    XProblem p = ReadProblemObject(obj, &ok);
    if (!ok) return ctx.FieldError(item, "malformed problem");
    out.push_back(std::move(p));
    return std::nullopt;
  });
}

FieldResult ReadMeta(od::value& v, const Context& ctx, XPage& page) {
  return ForEachField(v, ctx, "meta", [&](std::string_view key, od::value& value) -> FieldResult {
    simdjson::error_code ec = simdjson::SUCCESS;
    if (key == "newest_id")
      ec = ReadString(value, page.newest_id);
    else if (key == "oldest_id")
      ec = ReadString(value, page.oldest_id);
    else if (key == "next_token")
      ec = ReadString(value, page.next_token);
    else if (key == "result_count")
      ec = value.get_int64().get(page.result_count);
    if (ec) return ctx.FieldError(Join("meta", key), ec);
    return std::nullopt;
  });
}

// X escapes &, < and > in `text` as HTML entities (long-standing behaviour); nothing else is.
std::string UnescapeText(std::string_view s) {
  if (s.find('&') == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '&') {
      const std::string_view rest = s.substr(i);
      if (rest.substr(0, 5) == "&amp;") {
        out += '&';
        i += 5;
        continue;
      }
      if (rest.substr(0, 4) == "&lt;") {
        out += '<';
        i += 4;
        continue;
      }
      if (rest.substr(0, 4) == "&gt;") {
        out += '>';
        i += 4;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

void AppendUnique(std::vector<std::string>& out, const std::vector<std::string>& in) {
  for (const auto& s : in) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
}

// Everything a page carries, gathered in one pass before posts are built: `data` may come
// before `includes` on the wire, and posts need both.
struct Gathered {
  std::vector<RawTweet> data;
  std::unordered_map<std::string, RawTweet> included;  // includes.tweets by id
  std::unordered_map<std::string, UserInfo> users;     // includes.users by id
};

std::string KeyOf(const RawTweet& t) {
  return t.edit_history.empty() ? t.id : t.edit_history.front();
}

class PostBuilder {
 public:
  explicit PostBuilder(const Gathered& g) : g_(g) {}

  // The canonical key of a referenced post: its first version when the page includes it.
  std::string KeyOfId(const std::string& id) const {
    auto it = g_.included.find(id);
    return it == g_.included.end() ? id : KeyOf(it->second);
  }

  const UserInfo* User(const std::string& id) const {
    if (id.empty()) return nullptr;
    auto it = g_.users.find(id);
    return it == g_.users.end() ? nullptr : &it->second;
  }

  Post Build(const RawTweet& t, int64_t created_at_ms) const {
    Post p;
    p.platform = Platform::kX;
    p.key = KeyOf(t);
    p.local_id = t.id;
    p.created_at_ms = created_at_ms;
    const UserInfo* author = User(t.author_id);
    if (author != nullptr && !author->username.empty()) {
      p.author = AsciiLower(author->username);
      p.author_followers = author->followers;
      p.url = "https://x.com/" + author->username + "/status/" + t.id;
    } else {
      p.url = "https://x.com/i/web/status/" + t.id;
    }
    p.text = UnescapeText(t.has_note ? t.note_text : t.text);
    const bool note_entities = t.has_note && t.note_has_entities;
    AppendUnique(p.hashtags, note_entities ? t.note_hashtags : t.hashtags);
    AppendUnique(p.mentions, note_entities ? t.note_mentions : t.mentions);
    for (const auto& [type, id] : t.refs) {
      if (type == "replied_to") {
        p.in_reply_to_local_id = id;
        p.in_reply_to_key = KeyOfId(id);
        const UserInfo* parent_author = User(t.in_reply_to_user_id);
        if (parent_author == nullptr) {
          auto parent = g_.included.find(id);
          if (parent != g_.included.end()) parent_author = User(parent->second.author_id);
        }
        if (parent_author != nullptr) p.in_reply_to_author = AsciiLower(parent_author->username);
      } else if (type == "quoted") {
        p.quote_of = KeyOfId(id);
      }
    }
    p.engagement = t.engagement;
    return p;
  }

 private:
  const Gathered& g_;
};

Result<int64_t> CreatedAtMs(const RawTweet& t, const Context& ctx) {
  if (!t.has_created_at) return XTimeMsFromId(*ParseXId(t.id));
  auto ms = ParseRfc3339Ms(t.created_at);
  if (!ms) return Fail(ctx.FieldError("created_at", ms.error().message));
  return *ms;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  text = TrimAscii(text);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string XProblem::Kind() const {
  const size_t slash = type.rfind('/');
  return slash == std::string::npos ? type : type.substr(slash + 1);
}

std::string XProblem::Summary() const {
  std::string out = title;
  const std::string& text = !detail.empty() ? detail : message;
  if (!text.empty()) out += out.empty() ? text : ": " + text;
  if (!message.empty() && message != text) out += " (" + message + ")";
  if (out.empty()) out = type.empty() ? "unknown problem" : type;
  return out;
}

Result<XPage> ParseXPostsPage(std::string_view body) {
  if (!simdjson::validate_utf8(body)) return Fail(Error::Parse("x page: body is not valid UTF-8"));
  const simdjson::padded_string padded(body);
  auto doc = Iterate(padded, "x page");
  if (!doc) return Fail(doc.error());
  od::object top;
  if (auto ec = doc->get_object().get(top)) {
    return Fail(Error::Parse(std::string("x page: expected a JSON object: ") +
                             simdjson::error_message(ec)));
  }
  XPage page;
  Gathered g;
  const Context page_ctx("x page");
  for (auto field_result : top) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return Fail(page_ctx.ObjectError("", ec));
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return Fail(page_ctx.ObjectError("", ec));
    od::value& v = field.value();
    FieldResult err;
    if (key == "data") {
      bool is_null = false;
      if (auto ec = v.is_null().get(is_null)) return Fail(page_ctx.FieldError("data", ec));
      if (is_null) continue;
      od::array arr;
      if (auto ec = v.get_array().get(arr)) return Fail(page_ctx.FieldError("data", ec));
      for (auto element_result : arr) {
        const Context ctx("x post " + std::to_string(g.data.size()));
        od::value element;
        if (auto ec = std::move(element_result).get(element)) return Fail(ctx.ObjectError("", ec));
        auto t = ReadTweet(element, ctx);
        if (!t) return Fail(t.error());
        g.data.push_back(std::move(*t));
      }
    } else if (key == "includes") {
      err = ForEachField(
          v, page_ctx, "includes", [&](std::string_view k, od::value& list) -> FieldResult {
            const std::string path = Join("includes", k);
            if (k == "users") {
              return ForEachElement(list, page_ctx, path,
                                    [&](const std::string& item, od::value& e) -> FieldResult {
                                      auto u = ReadUser(e, Context("x " + item));
                                      if (!u) return u.error();
                                      std::string id = u->id;
                                      g.users.emplace(std::move(id), std::move(*u));
                                      return std::nullopt;
                                    });
            }
            if (k == "tweets" || k == "posts") {
              return ForEachElement(list, page_ctx, path,
                                    [&](const std::string& item, od::value& e) -> FieldResult {
                                      auto t = ReadTweet(e, Context("x " + item));
                                      if (!t) return t.error();
                                      std::string id = t->id;
                                      g.included.emplace(std::move(id), std::move(*t));
                                      return std::nullopt;
                                    });
            }
            return std::nullopt;  // media, polls, places, topics
          });
    } else if (key == "errors") {
      err = ReadProblems(v, page_ctx, "errors", page.errors);
    } else if (key == "meta") {
      err = ReadMeta(v, page_ctx, page);
    }
    if (err) return Fail(std::move(*err));
  }
  if (!AtDocumentEnd(*doc))
    return Fail(Error::Parse("x page: content after the end of the object"));

  const PostBuilder builder(g);
  std::map<std::string, size_t> index_by_key;
  auto emit = [&](Post post) {
    auto [it, inserted] = index_by_key.emplace(post.key, page.posts.size());
    if (inserted) {
      page.posts.push_back(std::move(post));
      return;
    }
    // The same post twice (two retweets of one original, or an original that is also in
    // `data`): one Post; an edit chain keeps its newest version.
    Post& kept = page.posts[it->second];
    if (ParseXId(post.local_id).value_or(0) > ParseXId(kept.local_id).value_or(0))
      kept = std::move(post);
  };
  page.data_count = static_cast<int>(g.data.size());
  for (size_t i = 0; i < g.data.size(); ++i) {
    const RawTweet& t = g.data[i];
    page.max_data_id = std::max(page.max_data_id, *ParseXId(t.id));
    const Context ctx("x post " + std::to_string(i));
    auto created = CreatedAtMs(t, ctx);
    if (!created) return Fail(created.error());
    const auto retweet = std::find_if(t.refs.begin(), t.refs.end(),
                                      [](const auto& r) { return r.first == "retweeted"; });
    if (retweet != t.refs.end()) {
      ++page.retweets;
      auto original = g.included.find(retweet->second);
      if (original == g.included.end()) {
        ++page.missing_originals;
        continue;
      }
      auto original_created =
          CreatedAtMs(original->second, Context("x includes.tweets id " + original->first));
      if (!original_created) return Fail(original_created.error());
      emit(builder.Build(original->second, *original_created));
      continue;
    }
    emit(builder.Build(t, *created));
  }
  return page;
}

Result<XUser> ParseXUserLookup(std::string_view body) {
  if (!simdjson::validate_utf8(body)) return Fail(Error::Parse("x user: body is not valid UTF-8"));
  const simdjson::padded_string padded(body);
  auto doc = Iterate(padded, "x user");
  if (!doc) return Fail(doc.error());
  od::object top;
  if (auto ec = doc->get_object().get(top)) {
    return Fail(Error::Parse(std::string("x user: expected a JSON object: ") +
                             simdjson::error_message(ec)));
  }
  const Context ctx("x user");
  std::optional<UserInfo> user;
  std::vector<XProblem> errors;
  for (auto field_result : top) {
    od::field field;
    if (auto ec = std::move(field_result).get(field)) return Fail(ctx.ObjectError("", ec));
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return Fail(ctx.ObjectError("", ec));
    od::value& v = field.value();
    if (key == "data") {
      auto u = ReadUser(v, Context("x user data"));
      if (!u) return Fail(u.error());
      user = std::move(*u);
    } else if (key == "errors") {
      if (auto err = ReadProblems(v, ctx, "errors", errors)) return Fail(std::move(*err));
    }
  }
  if (!AtDocumentEnd(*doc))
    return Fail(Error::Parse("x user: content after the end of the object"));
  if (!user) {
    if (!errors.empty()) return Fail(Error::NotFound(errors.front().Summary()));
    return Fail(ctx.Missing("data"));
  }
  if (user->id.empty() || !ParseXId(user->id))
    return Fail(ctx.FieldError("data.id", "not a user id"));
  if (user->username.empty()) return Fail(ctx.Missing("data.username"));
  return XUser{std::move(user->id), std::move(user->username), user->followers};
}

std::optional<XProblem> ParseXProblem(std::string_view body) {
  if (!simdjson::validate_utf8(body)) return std::nullopt;
  const simdjson::padded_string padded(body);
  auto doc = Iterate(padded, "x problem");
  if (!doc) return std::nullopt;
  od::object top;
  if (doc->get_object().get(top)) return std::nullopt;
  bool ok = true;
  // The problem's own fields and an `errors` list may come in any order; the list (invalid
  // requests, v1.1-style bodies) only adds its first message.
  XProblem p;
  std::vector<XProblem> nested;
  for (auto field_result : top) {
    od::field field;
    if (std::move(field_result).get(field)) return std::nullopt;
    std::string_view key;
    if (field.unescaped_key().get(key)) return std::nullopt;
    od::value& v = field.value();
    od::json_type type;
    if (v.type().get(type)) return std::nullopt;
    if (key == "errors" && type == od::json_type::array) {
      od::array arr;
      if (v.get_array().get(arr)) return std::nullopt;
      for (auto element : arr) {
        od::object obj;
        if (element.get_object().get(obj)) return std::nullopt;
        nested.push_back(ReadProblemObject(obj, &ok));
        if (!ok) return std::nullopt;
      }
      continue;
    }
    std::string* target = nullptr;
    if (key == "title")
      target = &p.title;
    else if (key == "detail")
      target = &p.detail;
    else if (key == "type")
      target = &p.type;
    else if (key == "period")
      target = &p.period;
    else if (key == "scope")
      target = &p.scope;
    else if (key == "message")
      target = &p.message;
    if (target != nullptr && type == od::json_type::string) {
      if (ReadString(v, *target)) return std::nullopt;
    } else if (key == "status" && type == od::json_type::number) {
      int64_t s = 0;
      if (v.get_int64().get(s)) return std::nullopt;
      p.status = static_cast<int>(s);
    }
  }
  if (!AtDocumentEnd(*doc)) return std::nullopt;
  if (p.message.empty() && !nested.empty()) p.message = nested.front().message;
  if (p.title.empty() && p.detail.empty() && p.type.empty() && p.message.empty())
    return std::nullopt;
  return p;
}

XRateLimit ParseXRateLimit(std::string_view limit, std::string_view remaining,
                           std::string_view reset) {
  XRateLimit out;
  out.limit = ParseInt(limit);
  out.remaining = ParseInt(remaining);
  if (auto s = ParseInt(reset); s && *s > 0) out.reset_at_ms = *s * 1000;
  return out;
}

uint64_t XIdFromTimeMs(int64_t unix_ms) {
  if (unix_ms <= kXEpochMs) return 0;
  return static_cast<uint64_t>(unix_ms - kXEpochMs) << 22;
}

int64_t XTimeMsFromId(uint64_t id) { return static_cast<int64_t>(id >> 22) + kXEpochMs; }

std::optional<uint64_t> ParseXId(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace chorus::collectors
