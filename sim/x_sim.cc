#include "sim/x_sim.h"

#include "sim/loopback_server.h"
#include "core/strings.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

namespace chorus::sim {
namespace {

constexpr char kJsonType[] = "application/json; charset=utf-8";
constexpr int64_t kXEpochMs = 1288834974657;
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kSearchWindowMs = 7 * kDayMs;
constexpr size_t kMaxQueryChars = 512;
constexpr size_t kMaxLookupIds = 100;
constexpr size_t kTokenHashChars = 7;
constexpr char kProblemBase[] = "https://api.twitter.com/2/problems/";

constexpr char kUnauthorizedBody[] =
    R"({"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"})";
constexpr char kTooManyBody[] =
    R"({"title":"Too Many Requests","type":"about:blank","status":429,"detail":"Too Many Requests"})";
constexpr char kUsageCappedBody[] =
    R"({"title":"UsageCapExceeded","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.twitter.com/2/problems/usage-capped","period":"Monthly","scope":"Product"})";
constexpr char kInternalBody[] =
    R"({"title":"Internal Server Error","type":"about:blank","status":500,"detail":"Something went wrong. Please try again later."})";
constexpr char kNotFoundRouteBody[] =
    R"({"errors":[{"message":"The requested resource could not be found","code":34}],"title":"Not Found Error","detail":"Sorry, that page does not exist.","type":"about:blank","status":404})";
constexpr char kOverCapacityHtml[] =
    "<html><head><title>Twitter / Over capacity</title></head><body><h1>Over "
    "capacity</h1></body></html>";

bool IsAsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsWordByte(unsigned char c) { return IsAsciiAlnum(c) || c == '_' || c >= 0x80; }

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// JSON string as X writes it: raw UTF-8 for the BMP, UTF-16 surrogate pairs for astral
// characters ("\uD83E\uDD41"), control characters escaped.
void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else if (c >= 0xF0 && i + 3 < s.size()) {
      const uint32_t cp = ((c & 0x07u) << 18) |
                          ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
                          ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) |
                          (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
      const uint32_t v = cp - 0x10000;
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u%04X\\u%04X", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      out += buf;
      i += 3;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

// X's `text` escapes these three as HTML entities.
std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out += c;
  }
  return out;
}

std::string Base36(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[v % 36]);
    v /= 36;
  } while (v > 0);
  return out;
}

std::optional<uint64_t> ParseBase36(std::string_view s) {
  if (s.empty() || s.size() > 13) return std::nullopt;
  uint64_t v = 0;
  for (const char c : s) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'z')
      d = c - 'a' + 10;
    else
      return std::nullopt;
    if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / 36) return std::nullopt;
    v = v * 36 + static_cast<uint64_t>(d);
  }
  return v;
}

std::optional<uint64_t> ParseId(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string> SplitCsv(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    const size_t comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

bool ContainsPhrase(std::string_view text_lower, std::string_view phrase_lower) {
  if (phrase_lower.empty()) return false;
  for (size_t pos = text_lower.find(phrase_lower); pos != std::string_view::npos;
       pos = text_lower.find(phrase_lower, pos + 1)) {
    const size_t end = pos + phrase_lower.size();
    const bool left = pos == 0 || !IsWordByte(static_cast<unsigned char>(text_lower[pos - 1]));
    const bool right =
        end == text_lower.size() || !IsWordByte(static_cast<unsigned char>(text_lower[end]));
    if (left && right) return true;
  }
  return false;
}

std::string DisplayName(const std::string& username) {
  std::string display = username;
  for (size_t i = 0; i < display.size(); ++i) {
    if (display[i] == '_') display[i] = ' ';
    const bool word_start = i == 0 || display[i - 1] == ' ';
    if (word_start && display[i] >= 'a' && display[i] <= 'z') display[i] -= 'a' - 'A';
  }
  return display;
}

// ---- query language ----

struct Node {
  enum Kind { kAnd, kOr, kNot, kTerm } kind = kTerm;
  std::vector<Node> kids;
  std::string op;     // "#", "@", "phrase", "word", "from", "to", "is", "lang"
  std::string value;  // lower-cased
};

class QueryParser {
 public:
  explicit QueryParser(std::string_view q) : q_(q) {}

  std::optional<Node> Parse(std::string* error) {
    Tokenize();
    if (!error_.empty()) {
      *error = error_;
      return std::nullopt;
    }
    if (tokens_.empty()) {
      *error = "The query is empty";
      return std::nullopt;
    }
    auto node = ParseOr();
    if (!node || pos_ != tokens_.size()) {
      *error = error_.empty()
                   ? "There were errors processing your request: unexpected '" +
                         (pos_ < tokens_.size() ? tokens_[pos_] : std::string("end")) + "'"
                   : error_;
      return std::nullopt;
    }
    return node;
  }

 private:
  void Tokenize() {
    size_t i = 0;
    while (i < q_.size()) {
      const char c = q_[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i;
      } else if (c == '(' || c == ')') {
        tokens_.emplace_back(1, c);
        ++i;
      } else if (c == '-' && i + 1 < q_.size() && q_[i + 1] != ' ') {
        tokens_.emplace_back("-");
        ++i;
      } else if (c == '"') {
        const size_t end = q_.find('"', i + 1);
        if (end == std::string_view::npos) {
          error_ = "There were errors processing your request: unterminated quoted phrase";
          return;
        }
        tokens_.emplace_back(q_.substr(i, end - i + 1));
        i = end + 1;
      } else {
        size_t j = i;
        while (j < q_.size() && q_[j] != ' ' && q_[j] != '(' && q_[j] != ')' && q_[j] != '\t' &&
               q_[j] != '\n' && q_[j] != '"') {
          ++j;
        }
        tokens_.emplace_back(q_.substr(i, j - i));
        i = j;
      }
    }
  }

  bool AtEndOfGroup() const {
    return pos_ >= tokens_.size() || tokens_[pos_] == ")" || tokens_[pos_] == "OR";
  }

  std::optional<Node> ParseOr() {
    auto first = ParseAnd();
    if (!first) return std::nullopt;
    Node n;
    n.kind = Node::kOr;
    n.kids.push_back(std::move(*first));
    while (pos_ < tokens_.size() && tokens_[pos_] == "OR") {
      ++pos_;
      auto next = ParseAnd();
      if (!next) return std::nullopt;
      n.kids.push_back(std::move(*next));
    }
    if (n.kids.size() == 1) return std::move(n.kids.front());
    return n;
  }

  std::optional<Node> ParseAnd() {
    Node n;
    n.kind = Node::kAnd;
    while (!AtEndOfGroup()) {
      auto u = ParseUnary();
      if (!u) return std::nullopt;
      n.kids.push_back(std::move(*u));
    }
    if (n.kids.empty()) {
      error_ =
          "There were errors processing your request: an empty clause (a dangling OR or empty "
          "group)";
      return std::nullopt;
    }
    if (n.kids.size() == 1) return std::move(n.kids.front());
    return n;
  }

  std::optional<Node> ParseUnary() {
    const std::string& t = tokens_[pos_];
    if (t == "-") {
      ++pos_;
      if (AtEndOfGroup()) {
        error_ = "There were errors processing your request: nothing to negate";
        return std::nullopt;
      }
      auto inner = ParseUnary();
      if (!inner) return std::nullopt;
      Node n;
      n.kind = Node::kNot;
      n.kids.push_back(std::move(*inner));
      return n;
    }
    if (t == "(") {
      ++pos_;
      auto inner = ParseOr();
      if (!inner) return std::nullopt;
      if (pos_ >= tokens_.size() || tokens_[pos_] != ")") {
        error_ = "There were errors processing your request: missing ')'";
        return std::nullopt;
      }
      ++pos_;
      return inner;
    }
    ++pos_;
    return Term(t);
  }

  std::optional<Node> Term(const std::string& t) {
    Node n;
    if (t.size() >= 2 && t.front() == '"') {
      n.op = "phrase";
      n.value = AsciiLower(t.substr(1, t.size() - 2));
    } else if (t.size() >= 2 && (t.front() == '#' || t.front() == '@')) {
      n.op = std::string(1, t.front());
      n.value = AsciiLower(t.substr(1));
    } else if (const size_t colon = t.find(':'); colon != std::string::npos && colon > 0) {
      n.op = AsciiLower(t.substr(0, colon));
      n.value = AsciiLower(t.substr(colon + 1));
      static const std::set<std::string> kOps = {"from", "to", "is", "lang"};
      if (kOps.count(n.op) == 0 || n.value.empty()) {
        error_ = "There were errors processing your request: Reference to invalid operator '" +
                 n.op + "'";
        return std::nullopt;
      }
      if (n.op == "is" && n.value != "retweet" && n.value != "reply" && n.value != "quote") {
        error_ =
            "There were errors processing your request: Reference to invalid field 'is:" + n.value +
            "'";
        return std::nullopt;
      }
    } else {
      n.op = "word";
      n.value = AsciiLower(t);
    }
    return n;
  }

  std::string_view q_;
  std::vector<std::string> tokens_;
  size_t pos_ = 0;
  std::string error_;
};

// One HTTP answer before faults and bookkeeping are applied.
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = kJsonType;
  std::vector<std::string> ids;  // posts in `data`, for served_ids()
  bool posts_response = false;
};

Reply JsonReply(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// 400 invalid-request problem, shaped as X sends it.
Reply InvalidRequest(const std::string& parameter, const std::string& value,
                     const std::string& message) {
  std::string body = "{\"errors\":[{\"parameters\":{";
  AppendJsonString(body, parameter);
  body += ":[";
  AppendJsonString(body, value);
  body += "]},\"message\":";
  AppendJsonString(body, message);
  body +=
      "}],\"title\":\"Invalid Request\",\"detail\":\"One or more parameters to your request was "
      "invalid.\","
      "\"type\":\"https://api.twitter.com/2/problems/invalid-request\"}";
  return JsonReply(400, std::move(body));
}

std::string NotFoundProblem(const std::string& value, const std::string& resource_type,
                            const std::string& parameter, const std::string& detail) {
  std::string out = "{\"value\":";
  AppendJsonString(out, value);
  out += ",\"detail\":";
  AppendJsonString(out, detail);
  out += ",\"title\":\"Not Found Error\",\"resource_type\":";
  AppendJsonString(out, resource_type);
  out += ",\"parameter\":";
  AppendJsonString(out, parameter);
  out += ",\"resource_id\":";
  AppendJsonString(out, value);
  out += ",\"type\":";
  AppendJsonString(out, std::string(kProblemBase) + "resource-not-found");
  out += '}';
  return out;
}

// X rejects query parameters an endpoint does not know.
std::optional<Reply> RejectUnknownParams(const httplib::Request& req,
                                         std::set<std::string> allowed) {
  for (const char* k : {"tweet.fields", "post.fields", "user.fields", "expansions", "media.fields",
                        "poll.fields", "place.fields"}) {
    allowed.insert(k);
  }
  for (const auto& [k, v] : req.params) {
    if (allowed.count(k) != 0) continue;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ",") + a;
    return InvalidRequest(k, v, "The query parameter [" + k + "] is not one of [" + list + "]");
  }
  return std::nullopt;
}

// The fields and expansions asked for, normalized to the classic names.
struct Shape {
  std::set<std::string> tweet_fields;
  std::set<std::string> user_fields;
  std::set<std::string> expansions;
};

const std::set<std::string>& AllowedTweetFields() {
  static const std::set<std::string> k = {"attachments",
                                          "author_id",
                                          "context_annotations",
                                          "conversation_id",
                                          "created_at",
                                          "edit_controls",
                                          "edit_history_tweet_ids",
                                          "entities",
                                          "geo",
                                          "id",
                                          "in_reply_to_user_id",
                                          "lang",
                                          "note_tweet",
                                          "possibly_sensitive",
                                          "public_metrics",
                                          "referenced_tweets",
                                          "reply_settings",
                                          "source",
                                          "text",
                                          "withheld",
                                          "display_text_range",
                                          "card_uri",
                                          "community_id",
                                          "scopes",
                                          "article",
                                          "media_metadata"};
  return k;
}
const std::set<std::string>& AllowedUserFields() {
  static const std::set<std::string> k = {"created_at",
                                          "description",
                                          "entities",
                                          "id",
                                          "location",
                                          "most_recent_tweet_id",
                                          "name",
                                          "pinned_tweet_id",
                                          "profile_image_url",
                                          "protected",
                                          "public_metrics",
                                          "url",
                                          "username",
                                          "verified",
                                          "verified_type",
                                          "withheld",
                                          "affiliation",
                                          "connection_status",
                                          "most_recent_post_id",
                                          "pinned_post_id",
                                          "profile_banner_url",
                                          "subscription_type",
                                          "parody"};
  return k;
}
const std::set<std::string>& AllowedExpansions() {
  static const std::set<std::string> k = {"author_id",
                                          "referenced_tweets.id",
                                          "referenced_tweets.id.author_id",
                                          "entities.mentions.username",
                                          "in_reply_to_user_id",
                                          "edit_history_tweet_ids",
                                          "attachments.media_keys",
                                          "attachments.poll_ids",
                                          "geo.place_id",
                                          "pinned_tweet_id"};
  return k;
}

// The renamed spec (v2.167) says post where the documentation says tweet.
std::string ClassicFieldName(const std::string& name) {
  if (name == "referenced_posts") return "referenced_tweets";
  if (name == "edit_history_post_ids") return "edit_history_tweet_ids";
  if (name == "note_post") return "note_tweet";
  if (name == "most_recent_post_id") return "most_recent_tweet_id";
  if (name == "pinned_post_id") return "pinned_tweet_id";
  return name;
}

std::string ClassicExpansionName(const std::string& name) {
  if (name == "referenced_posts" || name == "referenced_posts.id") return "referenced_tweets.id";
  if (name == "referenced_posts.id.author_id") return "referenced_tweets.id.author_id";
  if (name == "edit_history_post_ids") return "edit_history_tweet_ids";
  if (name == "pinned_post_id") return "pinned_tweet_id";
  return name;
}

// Reads a CSV field parameter; an unknown value is a 400, as on X.
std::optional<Reply> ReadCsvParam(const httplib::Request& req,
                                  const std::vector<std::string>& names,
                                  const std::set<std::string>& allowed,
                                  std::string (*classic_name)(const std::string&),
                                  std::set<std::string>& out) {
  for (const auto& name : names) {
    if (!req.has_param(name.c_str())) continue;
    const std::string v = req.get_param_value(name.c_str());
    for (const auto& item : SplitCsv(v)) {
      const std::string classic = classic_name(item);
      if (allowed.count(classic) == 0 && allowed.count(item) == 0) {
        return InvalidRequest(name, v,
                              "The `" + name + "` query parameter value [" + item +
                                  "] is not one of the allowed values");
      }
      out.insert(classic);
    }
  }
  return std::nullopt;
}

}  // namespace

uint64_t XSimIdFromTimeMs(int64_t unix_ms) {
  if (unix_ms <= kXEpochMs) return 0;
  return static_cast<uint64_t>(unix_ms - kXEpochMs) << 22;
}

int64_t XSimTimeMsFromId(uint64_t id) { return static_cast<int64_t>(id >> 22) + kXEpochMs; }

struct XSim::Impl {
  struct Entity {
    size_t start = 0, end = 0;  // code points; end exclusive
    std::string text;           // without '#'/'@'
  };
  struct Stored {
    XSimPost post;
    std::string text;  // as served (retweets: "RT @user: ...")
    std::vector<Entity> tags, mentions;
    std::vector<uint64_t> chain;  // edit history, first version first
    bool deleted = false;
    bool superseded = false;
  };

  explicit Impl(XSimOptions o) : options(std::move(o)) {
    if (options.clock == nullptr) options.clock = &SystemClock::Instance();
    if (options.rate_window_ms <= 0) options.rate_window_ms = 900'000;
  }

  XSimOptions options;

  LoopbackServer host;

  mutable std::mutex mu;
  std::map<uint64_t, Stored> by_id;
  std::map<std::string, XSimUser> users;          // by lower-cased username
  std::map<std::string, std::string> user_by_id;  // id -> lower-cased username
  uint32_t seq = 0;
  FaultPlan faults;
  int64_t requests = 0;
  int64_t posts_responses = 0;
  struct Window {
    int64_t index = -1;
    int64_t count = 0;
  };
  std::map<std::string, Window> windows;  // by endpoint
  std::map<int, int64_t> by_status;
  std::set<std::string> served;
  std::vector<XSimRequest> log;

  // ---- users (require mu) ----

  XSimUser& User(XSimUser u) {
    const std::string key = AsciiLower(u.username);
    auto it = users.find(key);
    if (it == users.end()) {
      if (u.id.empty()) {
        uint64_t id = 100'000'000 + Fnv1a(key) % 1'400'000'000'000'000'000ULL;
        while (user_by_id.count(std::to_string(id)) != 0) ++id;
        u.id = std::to_string(id);
      }
      user_by_id[u.id] = key;
      return users.emplace(key, std::move(u)).first->second;
    }
    if (u.followers > 0) it->second.followers = u.followers;
    return it->second;
  }

  const XSimUser* UserById(const std::string& id) const {
    auto it = user_by_id.find(id);
    if (it == user_by_id.end()) return nullptr;
    return &users.at(it->second);
  }

  const XSimUser* UserByName(const std::string& name) const {
    auto it = users.find(AsciiLower(name));
    return it == users.end() ? nullptr : &it->second;
  }

  const Stored* Find(uint64_t id) const {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : &it->second;
  }

  // Hashtag and mention entities of `text`, with code-point indices.
  void DeriveEntities(Stored& s) {
    const std::string& t = s.text;
    auto boundary = [&](size_t pos) {
      return pos == 0 || !IsWordByte(static_cast<unsigned char>(t[pos - 1]));
    };
    for (size_t i = 0; i < t.size(); ++i) {
      const char c = t[i];
      if ((c != '#' && c != '@') || !boundary(i)) continue;
      size_t j = i + 1;
      if (c == '#') {
        while (j < t.size() && IsWordByte(static_cast<unsigned char>(t[j]))) ++j;
      } else {
        while (j < t.size() && j - i - 1 < 15 &&
               (IsAsciiAlnum(static_cast<unsigned char>(t[j])) || t[j] == '_')) {
          ++j;
        }
      }
      if (j == i + 1) continue;
      Entity e;
      e.start = CodePoints(std::string_view(t).substr(0, i));
      e.end = e.start + CodePoints(std::string_view(t).substr(i, j - i));
      e.text = t.substr(i + 1, j - i - 1);
      if (c == '#') {
        s.tags.push_back(std::move(e));
      } else {
        User(XSimUser{e.text, 0, ""});
        s.mentions.push_back(std::move(e));
      }
      i = j - 1;
    }
  }

  // ---- rendering (require mu) ----

  static bool Has(const Shape& shape, const char* field) {
    return shape.tweet_fields.count(field) != 0;
  }

  std::string ConversationId(const Stored& s) const {
    const Stored* cur = &s;
    for (int depth = 0; depth < 100 && cur->post.reply_to != 0; ++depth) {
      const Stored* parent = Find(cur->post.reply_to);
      if (parent == nullptr) return std::to_string(cur->post.reply_to);
      cur = parent;
    }
    return std::to_string(cur->post.id);
  }

  void AppendPostJson(std::string& out, const Stored& s, const Shape& shape) const {
    const bool renamed = options.new_field_names;
    const XSimPost& p = s.post;
    out += "{\"id\":";
    AppendJsonString(out, std::to_string(p.id));
    out += ",\"text\":";
    AppendJsonString(out, HtmlEscape(s.text));
    out += renamed ? ",\"edit_history_post_ids\":[" : ",\"edit_history_tweet_ids\":[";
    for (size_t i = 0; i < s.chain.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(out, std::to_string(s.chain[i]));
    }
    out += ']';
    if (Has(shape, "created_at")) {
      out += ",\"created_at\":";
      AppendJsonString(out, FormatRfc3339Ms(p.created_at_ms));
    }
    if (Has(shape, "author_id")) {
      out += ",\"author_id\":";
      AppendJsonString(out, p.author.id);
    }
    if (Has(shape, "conversation_id")) {
      out += ",\"conversation_id\":";
      AppendJsonString(out, ConversationId(s));
    }
    if (Has(shape, "in_reply_to_user_id") && p.reply_to != 0) {
      if (const Stored* parent = Find(p.reply_to)) {
        out += ",\"in_reply_to_user_id\":";
        AppendJsonString(out, parent->post.author.id);
      }
    }
    if (Has(shape, "lang")) {
      out += ",\"lang\":";
      AppendJsonString(out, p.lang);
    }
    if (Has(shape, "possibly_sensitive")) out += ",\"possibly_sensitive\":false";
    if (Has(shape, "public_metrics")) {
      int64_t likes = p.likes, retweets = p.retweets, replies = p.replies, quotes = p.quotes;
      if (p.retweet_of != 0) {
        // A retweet shows the original's repost count and nothing of its own.
        const Stored* original = Find(p.retweet_of);
        retweets = original != nullptr ? original->post.retweets : 0;
        likes = replies = quotes = 0;
      }
      out += renamed ? ",\"public_metrics\":{\"repost_count\":"
                     : ",\"public_metrics\":{\"retweet_count\":";
      out += std::to_string(retweets) + ",\"reply_count\":" + std::to_string(replies) +
             ",\"like_count\":" + std::to_string(likes) +
             ",\"quote_count\":" + std::to_string(quotes) +
             ",\"bookmark_count\":" + std::to_string(likes / 10) +
             ",\"impression_count\":" + std::to_string((likes + retweets + replies) * 37 + 11) +
             "}";
    }
    if (Has(shape, "entities") && (!s.tags.empty() || !s.mentions.empty())) {
      out += ",\"entities\":{";
      bool first = true;
      if (!s.mentions.empty()) {
        out += "\"mentions\":[";
        for (size_t i = 0; i < s.mentions.size(); ++i) {
          const Entity& e = s.mentions[i];
          if (i > 0) out += ',';
          out += "{\"start\":" + std::to_string(e.start) + ",\"end\":" + std::to_string(e.end) +
                 ",\"username\":";
          AppendJsonString(out, e.text);
          if (const XSimUser* u = UserByName(e.text)) {
            out += ",\"id\":";
            AppendJsonString(out, u->id);
          }
          out += '}';
        }
        out += ']';
        first = false;
      }
      if (!s.tags.empty()) {
        if (!first) out += ',';
        out += "\"hashtags\":[";
        for (size_t i = 0; i < s.tags.size(); ++i) {
          const Entity& e = s.tags[i];
          if (i > 0) out += ',';
          out += "{\"start\":" + std::to_string(e.start) + ",\"end\":" + std::to_string(e.end) +
                 ",\"tag\":";
          AppendJsonString(out, e.text);
          out += '}';
        }
        out += ']';
      }
      out += '}';
    }
    if (Has(shape, "referenced_tweets")) {
      std::vector<std::pair<const char*, uint64_t>> refs;
      if (p.retweet_of != 0) refs.emplace_back("retweeted", p.retweet_of);
      if (p.quote_of != 0) refs.emplace_back("quoted", p.quote_of);
      if (p.reply_to != 0) refs.emplace_back("replied_to", p.reply_to);
      if (!refs.empty()) {
        out += renamed ? ",\"referenced_posts\":[" : ",\"referenced_tweets\":[";
        for (size_t i = 0; i < refs.size(); ++i) {
          if (i > 0) out += ',';
          out += "{\"type\":\"" + std::string(refs[i].first) + "\",\"id\":";
          AppendJsonString(out, std::to_string(refs[i].second));
          out += '}';
        }
        out += ']';
      }
    }
    out += '}';
  }

  void AppendUserJson(std::string& out, const XSimUser& u, const Shape& shape) const {
    out += "{\"id\":";
    AppendJsonString(out, u.id);
    out += ",\"name\":";
    AppendJsonString(out, DisplayName(u.username));
    out += ",\"username\":";
    AppendJsonString(out, u.username);
    const uint64_t h = Fnv1a(AsciiLower(u.username));
    if (shape.user_fields.count("created_at") != 0) {
      out += ",\"created_at\":";
      AppendJsonString(
          out, FormatRfc3339Ms(1'230'768'000'000LL + static_cast<int64_t>(h % 5000) * kDayMs));
    }
    if (shape.user_fields.count("public_metrics") != 0) {
      out += ",\"public_metrics\":{\"followers_count\":" + std::to_string(u.followers) +
             ",\"following_count\":" + std::to_string((h >> 8) % 900) +
             (options.new_field_names ? ",\"post_count\":" : ",\"tweet_count\":") +
             std::to_string((h >> 20) % 9000) +
             ",\"listed_count\":" + std::to_string((h >> 32) % 40) +
             ",\"like_count\":" + std::to_string((h >> 40) % 7000) + "}";
    }
    if (shape.user_fields.count("verified") != 0) out += ",\"verified\":false";
    if (shape.user_fields.count("protected") != 0) out += ",\"protected\":false";
    out += '}';
  }

  // The envelope {data, includes, errors, meta} for `list`, honouring the expansions.
  Reply PostsEnvelope(const std::vector<const Stored*>& list, const Shape& shape, bool with_meta,
                      const std::string& next_token, std::vector<std::string> errors,
                      bool single = false) {
    Reply r;
    r.posts_response = true;
    std::vector<std::string> user_order;
    std::set<std::string> user_seen;
    auto add_user = [&](const std::string& id) {
      if (!id.empty() && UserById(id) != nullptr && user_seen.insert(id).second)
        user_order.push_back(id);
    };
    std::vector<const Stored*> included;
    std::set<uint64_t> included_seen;
    auto include_post = [&](uint64_t id, const char* parameter) {
      const Stored* ref = Find(id);
      if (ref == nullptr || ref->deleted) {
        if (included_seen.insert(id).second) {
          const std::string sid = std::to_string(id);
          errors.push_back(NotFoundProblem(
              sid, "tweet", parameter,
              "Could not find tweet with " + std::string(parameter) + ": [" + sid + "]."));
        }
        return;
      }
      if (included_seen.insert(id).second) included.push_back(ref);
    };
    const bool exp_author = shape.expansions.count("author_id") != 0;
    const bool exp_mentions = shape.expansions.count("entities.mentions.username") != 0;
    const bool exp_refs = shape.expansions.count("referenced_tweets.id") != 0;
    const bool exp_ref_authors = shape.expansions.count("referenced_tweets.id.author_id") != 0;
    const bool exp_reply_user = shape.expansions.count("in_reply_to_user_id") != 0;
    const bool exp_edits = shape.expansions.count("edit_history_tweet_ids") != 0;
    for (const Stored* s : list) {
      if (exp_author) add_user(s->post.author.id);
      if (exp_mentions) {
        for (const auto& m : s->mentions) {
          if (const XSimUser* u = UserByName(m.text)) add_user(u->id);
        }
      }
      for (uint64_t ref : {s->post.retweet_of, s->post.quote_of, s->post.reply_to}) {
        if (ref == 0) continue;
        if (exp_refs) include_post(ref, "referenced_tweets.id");
        const Stored* target = Find(ref);
        if (target == nullptr || target->deleted) continue;
        if (exp_ref_authors) add_user(target->post.author.id);
        if (exp_reply_user && ref == s->post.reply_to) add_user(target->post.author.id);
      }
      if (exp_edits) {
        for (uint64_t v : s->chain) {
          if (v != s->post.id) include_post(v, "edit_history_tweet_ids");
        }
      }
    }
    if (options.partial_error_every > 0 && ++posts_responses % options.partial_error_every == 0) {
      errors.push_back(NotFoundProblem("ghost_account", "user", "entities.mentions.username",
                                       "Could not find user with usernames: [ghost_account]."));
    }

    std::string& out = r.body;
    out = "{";
    bool first = true;
    auto sep = [&] {
      if (!first) out += ',';
      first = false;
    };
    if (!list.empty()) {
      sep();
      out += single ? "\"data\":" : "\"data\":[";
      for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out += ',';
        AppendPostJson(out, *list[i], shape);
        r.ids.push_back(std::to_string(list[i]->post.id));
      }
      if (!single) out += ']';
    }
    if (!user_order.empty() || !included.empty()) {
      sep();
      out += "\"includes\":{";
      bool inner_first = true;
      if (!user_order.empty()) {
        out += "\"users\":[";
        for (size_t i = 0; i < user_order.size(); ++i) {
          if (i > 0) out += ',';
          AppendUserJson(out, *UserById(user_order[i]), shape);
        }
        out += ']';
        inner_first = false;
      }
      if (!included.empty()) {
        if (!inner_first) out += ',';
        out += options.new_field_names ? "\"posts\":[" : "\"tweets\":[";
        for (size_t i = 0; i < included.size(); ++i) {
          if (i > 0) out += ',';
          AppendPostJson(out, *included[i], shape);
        }
        out += ']';
      }
      out += '}';
    }
    if (!errors.empty()) {
      sep();
      out += "\"errors\":[";
      for (size_t i = 0; i < errors.size(); ++i) {
        if (i > 0) out += ',';
        out += errors[i];
      }
      out += ']';
    }
    if (with_meta) {
      sep();
      out += "\"meta\":{";
      if (!list.empty()) {
        out += "\"newest_id\":";
        AppendJsonString(out, std::to_string(list.front()->post.id));
        out += ",\"oldest_id\":";
        AppendJsonString(out, std::to_string(list.back()->post.id));
        out += ',';
      }
      out += "\"result_count\":" + std::to_string(list.size());
      if (!next_token.empty()) {
        out += ",\"next_token\":";
        AppendJsonString(out, next_token);
      }
      out += '}';
    }
    out += '}';
    return r;
  }

  // ---- matching ----

  bool Matches(const Node& n, const Stored& s) const {
    switch (n.kind) {
      case Node::kAnd:
        return std::all_of(n.kids.begin(), n.kids.end(),
                           [&](const Node& k) { return Matches(k, s); });
      case Node::kOr:
        return std::any_of(n.kids.begin(), n.kids.end(),
                           [&](const Node& k) { return Matches(k, s); });
      case Node::kNot:
        return !Matches(n.kids.front(), s);
      case Node::kTerm:
        break;
    }
    const XSimPost& p = s.post;
    if (n.op == "#") {
      return std::any_of(s.tags.begin(), s.tags.end(),
                         [&](const Entity& e) { return AsciiLower(e.text) == n.value; });
    }
    if (n.op == "@") {
      return std::any_of(s.mentions.begin(), s.mentions.end(),
                         [&](const Entity& e) { return AsciiLower(e.text) == n.value; });
    }
    if (n.op == "phrase" || n.op == "word") return ContainsPhrase(AsciiLower(s.text), n.value);
    if (n.op == "from") return AsciiLower(p.author.username) == n.value;
    if (n.op == "to") {
      const Stored* parent = p.reply_to != 0 ? Find(p.reply_to) : nullptr;
      return parent != nullptr && AsciiLower(parent->post.author.username) == n.value;
    }
    if (n.op == "is") {
      if (n.value == "retweet") return p.retweet_of != 0;
      if (n.value == "reply") return p.reply_to != 0;
      return p.quote_of != 0;
    }
    if (n.op == "lang") return AsciiLower(p.lang) == n.value;
    return false;
  }

  // ---- shared parameter handling ----

  std::optional<Reply> ReadShape(const httplib::Request& req, Shape& shape) const {
    if (auto bad = ReadCsvParam(req, {"tweet.fields", "post.fields"}, AllowedTweetFields(),
                                ClassicFieldName, shape.tweet_fields)) {
      return bad;
    }
    if (auto bad = ReadCsvParam(req, {"user.fields"}, AllowedUserFields(), ClassicFieldName,
                                shape.user_fields))
      return bad;
    if (auto bad = ReadCsvParam(req, {"expansions"}, AllowedExpansions(), ClassicExpansionName,
                                shape.expansions))
      return bad;
    return std::nullopt;
  }

  static std::string TokenFor(const std::string& scope, uint64_t below_id) {
    std::string h = Base36(Fnv1a(scope) % 78'364'164'096ULL);  // 36^7
    while (h.size() < kTokenHashChars) h.insert(h.begin(), '0');
    return h + Base36(below_id);
  }

  // The paging window common to search and timelines: since/until ids, start/end times, token.
  struct Span {
    uint64_t since_id = 0;
    uint64_t below_id = UINT64_MAX;  // until_id or the token's position, exclusive
    int64_t start_ms = INT64_MIN;
    int64_t end_ms = INT64_MAX;
    int max_results = 10;
  };

  std::optional<Reply> ReadWindow(const httplib::Request& req, const std::string& scope,
                                  int min_results, bool search, int64_t now, Span& w) const {
    auto param = [&](const char* k) {
      return req.has_param(k) ? req.get_param_value(k) : std::string();
    };
    if (req.has_param("max_results")) {
      const std::string v = param("max_results");
      int n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n < min_results ||
          n > 100) {
        return InvalidRequest("max_results", v,
                              "The `max_results` query parameter value [" + v +
                                  "] is not between " + std::to_string(min_results) + " and 100");
      }
      w.max_results = n;
    }
    for (const char* k : {"since_id", "until_id"}) {
      if (!req.has_param(k)) continue;
      const std::string v = param(k);
      if (!ParseId(v)) {
        return InvalidRequest(k, v,
                              "The `" + std::string(k) + "` query parameter value [" + v +
                                  "] does not match ^[0-9]{1,19}$");
      }
    }
    if (req.has_param("next_token") && req.has_param("pagination_token")) {
      return InvalidRequest("next_token", param("next_token"),
                            "Only one of `next_token` and `pagination_token` may be given");
    }
    if (req.has_param("since_id") && req.has_param("start_time")) {
      return InvalidRequest("since_id", param("since_id"),
                            "Invalid use of 'since_id' or 'until_id' in conjunction with "
                            "'start_time' or 'end_time'.");
    }
    if (req.has_param("until_id") && req.has_param("end_time")) {
      return InvalidRequest("until_id", param("until_id"),
                            "Invalid use of 'since_id' or 'until_id' in conjunction with "
                            "'start_time' or 'end_time'.");
    }
    if (req.has_param("sort_order")) {
      const std::string v = param("sort_order");
      if (v != "recency" && v != "relevancy") {
        return InvalidRequest(
            "sort_order", v,
            "The `sort_order` query parameter value [" + v + "] is not one of [recency,relevancy]");
      }
    }
    const int64_t oldest = now - kSearchWindowMs;
    if (req.has_param("since_id")) {
      w.since_id = *ParseId(param("since_id"));
      if (search && XSimTimeMsFromId(w.since_id) < oldest) {
        return InvalidRequest("since_id", param("since_id"),
                              "Invalid 'since_id':'" + param("since_id") +
                                  "'. 'since_id' must be a tweet id created after " +
                                  FormatRfc3339Ms(oldest));
      }
    }
    if (req.has_param("until_id")) w.below_id = *ParseId(param("until_id"));
    if (req.has_param("start_time")) {
      auto t = ParseRfc3339Ms(param("start_time"));
      if (!t)
        return InvalidRequest("start_time", param("start_time"),
                              "Invalid 'start_time':'" + param("start_time") + "'");
      if (search && *t < oldest) {
        return InvalidRequest("start_time", param("start_time"),
                              "Invalid 'start_time':'" + param("start_time") +
                                  "'. 'start_time' must be on or after " + FormatRfc3339Ms(oldest));
      }
      w.start_ms = *t;
    } else if (search) {
      w.start_ms = oldest;
    }
    if (req.has_param("end_time")) {
      auto t = ParseRfc3339Ms(param("end_time"));
      if (!t)
        return InvalidRequest("end_time", param("end_time"),
                              "Invalid 'end_time':'" + param("end_time") + "'");
      if (search && *t > now - 10'000) {
        return InvalidRequest(
            "end_time", param("end_time"),
            "Invalid 'end_time':'" + param("end_time") +
                "'. 'end_time' must be a minimum of 10 seconds prior to the request time.");
      }
      w.end_ms = *t;
    } else {
      w.end_ms = search ? now - options.index_lag_ms : now;
    }
    if (w.start_ms != INT64_MIN && w.start_ms >= w.end_ms) {
      return InvalidRequest("start_time", param("start_time"),
                            "Invalid 'start_time':'" + param("start_time") +
                                "'. 'start_time' must be before 'end_time'");
    }
    for (const char* k : {"next_token", "pagination_token"}) {
      if (!req.has_param(k)) continue;
      const std::string v = param(k);
      const std::string expected = TokenFor(scope, 0).substr(0, kTokenHashChars);
      auto below = v.size() > kTokenHashChars
                       ? ParseBase36(std::string_view(v).substr(kTokenHashChars))
                       : std::nullopt;
      if (v.compare(0, kTokenHashChars, expected) != 0 || !below) {
        return InvalidRequest(
            k, v, "The `" + std::string(k) + "` query parameter value [" + v + "] is not valid");
      }
      w.below_id = std::min(w.below_id, *below);
    }
    return std::nullopt;
  }

  // Walks posts newest first from below the window's top, collecting up to max_results that
  // pass `keep`; the token points below the last one when more would follow.
  std::pair<std::vector<const Stored*>, std::string> Page(
      const Span& w, const std::string& scope,
      const std::function<bool(const Stored&)>& keep) const {
    std::vector<const Stored*> page;
    std::string token;
    auto it = by_id.lower_bound(w.below_id);
    while (it != by_id.begin()) {
      --it;
      const Stored& s = it->second;
      if (s.post.id <= w.since_id) break;
      if (s.deleted || s.superseded) continue;
      if (s.post.created_at_ms < w.start_ms || s.post.created_at_ms >= w.end_ms) continue;
      if (!keep(s)) continue;
      if (static_cast<int>(page.size()) == w.max_results) {
        token = TokenFor(scope, page.back()->post.id);
        break;
      }
      page.push_back(&s);
    }
    return {std::move(page), std::move(token)};
  }

  // ---- routes ----

  // GET /2/tweets/search/recent
  Reply Search(const httplib::Request& req) {
    if (auto bad = RejectUnknownParams(
            req, {"query", "start_time", "end_time", "since_id", "until_id", "max_results",
                  "next_token", "pagination_token", "sort_order"})) {
      return *bad;
    }
    const std::string query = req.has_param("query") ? req.get_param_value("query") : "";
    if (query.empty())
      return InvalidRequest("query", "", "The `query` query parameter can not be empty");
    if (CodePoints(query) > kMaxQueryChars) {
      return InvalidRequest("query", query,
                            "There were errors processing your request: Query is too long (" +
                                std::to_string(CodePoints(query)) +
                                " characters; the maximum is 512)");
    }
    std::string error;
    auto ast = QueryParser(query).Parse(&error);
    if (!ast) return InvalidRequest("query", query, error);
    Shape shape;
    if (auto bad = ReadShape(req, shape)) return *bad;
    std::lock_guard<std::mutex> lock(mu);
    const int64_t now = options.clock->NowMs();
    Span w;
    if (auto bad = ReadWindow(req, "q:" + query, 10, true, now, w)) return *bad;
    auto [page, token] = Page(w, "q:" + query, [&](const Stored& s) {
      if (s.post.retweet_of != 0 && !options.serve_retweets) return false;
      return Matches(*ast, s);
    });
    return PostsEnvelope(page, shape, true, token, {});
  }

  // GET /2/users/:id/tweets
  Reply Timeline(const httplib::Request& req) {
    const std::string user_id = req.matches[1].str();
    if (auto bad = RejectUnknownParams(req, {"start_time", "end_time", "since_id", "until_id",
                                             "max_results", "pagination_token", "exclude"})) {
      return *bad;
    }
    Shape shape;
    if (auto bad = ReadShape(req, shape)) return *bad;
    std::lock_guard<std::mutex> lock(mu);
    const int64_t now = options.clock->NowMs();
    Span w;
    if (auto bad = ReadWindow(req, "u:" + user_id, 5, false, now, w)) return *bad;
    if (UserById(user_id) == nullptr) {
      return PostsEnvelope({}, shape, false, "",
                           {NotFoundProblem(user_id, "user", "id",
                                            "Could not find user with id: [" + user_id + "].")});
    }
    std::set<std::string> exclude;
    if (req.has_param("exclude")) {
      for (const auto& e : SplitCsv(req.get_param_value("exclude"))) {
        if (e != "retweets" && e != "replies") {
          return InvalidRequest(
              "exclude", e,
              "The `exclude` query parameter value [" + e + "] is not one of [replies,retweets]");
        }
        exclude.insert(e);
      }
    }
    auto [page, token] = Page(w, "u:" + user_id, [&](const Stored& s) {
      if (exclude.count("retweets") != 0 && s.post.retweet_of != 0) return false;
      if (exclude.count("replies") != 0 && s.post.reply_to != 0) return false;
      return s.post.author.id == user_id;
    });
    return PostsEnvelope(page, shape, true, token, {});
  }

  // GET /2/tweets?ids=
  Reply Lookup(const httplib::Request& req) {
    if (auto bad = RejectUnknownParams(req, {"ids"})) return *bad;
    const std::string ids_param = req.has_param("ids") ? req.get_param_value("ids") : "";
    if (ids_param.empty())
      return InvalidRequest("ids", "", "The `ids` query parameter can not be empty");
    const std::vector<std::string> ids = SplitCsv(ids_param);
    if (ids.size() > kMaxLookupIds) {
      return InvalidRequest("ids", ids_param,
                            "The number of values in the `ids` query parameter list [" +
                                std::to_string(ids.size()) + "] is not between 1 and 100");
    }
    for (const auto& id : ids) {
      if (!ParseId(id)) {
        return InvalidRequest(
            "ids", id, "The `ids` query parameter value [" + id + "] does not match ^[0-9]{1,19}$");
      }
    }
    Shape shape;
    if (auto bad = ReadShape(req, shape)) return *bad;
    std::lock_guard<std::mutex> lock(mu);
    std::vector<const Stored*> list;
    std::vector<std::string> errors;
    std::set<uint64_t> seen;
    for (const auto& id : ids) {
      const uint64_t v = *ParseId(id);
      if (!seen.insert(v).second) continue;
      const Stored* s = Find(v);
      if (s == nullptr || s->deleted) {
        errors.push_back(
            NotFoundProblem(id, "tweet", "ids", "Could not find tweet with ids: [" + id + "]."));
      } else {
        list.push_back(s);
      }
    }
    return PostsEnvelope(list, shape, false, "", std::move(errors));
  }

  // GET /2/tweets/:id
  Reply SingleLookup(const httplib::Request& req) {
    const std::string id = req.matches[1].str();
    if (auto bad = RejectUnknownParams(req, {})) return *bad;
    Shape shape;
    if (auto bad = ReadShape(req, shape)) return *bad;
    std::lock_guard<std::mutex> lock(mu);
    const auto v = ParseId(id);
    const Stored* s = v ? Find(*v) : nullptr;
    if (s == nullptr || s->deleted) {
      return JsonReply(200, "{\"errors\":[" +
                                NotFoundProblem(id, "tweet", "id",
                                                "Could not find tweet with id: [" + id + "].") +
                                "]}");
    }
    return PostsEnvelope({s}, shape, false, "", {}, /*single=*/true);
  }

  // GET /2/users/by/username/:username
  Reply UserByUsername(const httplib::Request& req) {
    const std::string name = req.matches[1].str();
    if (auto bad = RejectUnknownParams(req, {})) return *bad;
    const bool valid =
        !name.empty() && name.size() <= 15 && std::all_of(name.begin(), name.end(), [](char c) {
          return IsAsciiAlnum(static_cast<unsigned char>(c)) || c == '_';
        });
    if (!valid) {
      return InvalidRequest("username", name,
                            "The `username` query parameter value [" + name +
                                "] does not match ^[A-Za-z0-9_]{1,15}$");
    }
    Shape shape;
    if (auto bad = ReadShape(req, shape)) return *bad;
    std::lock_guard<std::mutex> lock(mu);
    const XSimUser* u = UserByName(name);
    if (u == nullptr) {
      return JsonReply(200,
                       "{\"errors\":[" +
                           NotFoundProblem(name, "user", "username",
                                           "Could not find user with username: [" + name + "].") +
                           "]}");
    }
    Reply r;
    r.body = "{\"data\":";
    AppendUserJson(r.body, *u, shape);
    r.body += '}';
    return r;
  }

  // ---- the pipeline every request passes ----

  bool Authorized(const httplib::Request& req) const {
    const std::string h = req.get_header_value("Authorization");
    if (h.size() <= 7 || AsciiLower(h.substr(0, 7)) != "bearer ") return false;
    return options.required_token.empty() || h.substr(7) == options.required_token;
  }

  void Handle(const httplib::Request& req, httplib::Response& res, const std::string& endpoint,
              const std::function<Reply(const httplib::Request&)>& route) {
    int64_t n = 0, remaining = 0, reset_s = 0;
    bool exhausted = false;
    bool capped = false;
    FaultPlan plan;
    const bool authorized = Authorized(req);
    {
      std::lock_guard<std::mutex> lock(mu);
      n = ++requests;
      plan = faults;
      capped = options.usage_capped;
      if (authorized) {
        const int64_t now = options.clock->NowMs();
        const int64_t index = now / options.rate_window_ms;
        Window& w = windows[endpoint];
        if (w.index != index) {
          w.index = index;
          w.count = 0;
        }
        ++w.count;
        remaining = std::max<int64_t>(0, options.rate_limit - w.count);
        exhausted = w.count > options.rate_limit;
        reset_s = (index + 1) * options.rate_window_ms / 1000;
      }
    }
    auto every = [n](int k) { return k > 0 && n % k == 0; };

    Reply r;
    bool truncated = false;
    if (!authorized) {
      r = JsonReply(401, kUnauthorizedBody);
      r.content_type = "application/problem+json";
    } else if (capped) {
      r = JsonReply(429, kUsageCappedBody);
      remaining = 0;
    } else if (exhausted || every(plan.rate_limit_every)) {
      remaining = 0;
      r = JsonReply(429, kTooManyBody);
    } else if (every(plan.error_500_every)) {
      r = JsonReply(500, kInternalBody);
    } else if (every(plan.non_json_every)) {
      r.status = 503;
      r.body = kOverCapacityHtml;
      r.content_type = "text/html;charset=utf-8";
    } else {
      const bool truncate = every(plan.truncate_every);
      if (!truncate && every(plan.slow_every) && plan.slow_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(plan.slow_ms));
      }
      try {
        r = route(req);
      } catch (const std::exception&) {
        r = JsonReply(500, kInternalBody);
      }
      if (truncate && r.status == 200) {
        r.body.resize(r.body.size() / 2);
        truncated = true;
      }
    }

    res.status = r.status;
    if (authorized) {
      res.set_header("x-rate-limit-limit", std::to_string(options.rate_limit));
      res.set_header("x-rate-limit-remaining", std::to_string(remaining));
      res.set_header("x-rate-limit-reset", std::to_string(reset_s));
    }
    res.set_header("cache-control", "no-cache, no-store, max-age=0");
    res.set_header("x-access-level", "read");
    res.set_header("api-version", "2.167");
    res.set_content(r.body, r.content_type.c_str());

    std::lock_guard<std::mutex> lock(mu);
    ++by_status[r.status];
    if (r.status == 200 && !truncated) served.insert(r.ids.begin(), r.ids.end());
    XSimRequest entry;
    entry.path = req.path;
    entry.params.insert(req.params.begin(), req.params.end());
    entry.status = r.status;
    log.push_back(std::move(entry));
  }
};

XSim::XSim(XSimOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

XSim::~XSim() { Stop(); }

Result<void> XSim::Start(int port) {
  if (impl_->host.running()) return Fail(Error::InvalidArgument("x sim: already started"));
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(8); };
  server->set_keep_alive_timeout(1);
  Impl* impl = impl_.get();
  auto route = [impl](const char* endpoint, Reply (Impl::*fn)(const httplib::Request&)) {
    return [impl, endpoint, fn](const httplib::Request& req, httplib::Response& res) {
      impl->Handle(req, res, endpoint,
                   [impl, fn](const httplib::Request& r) { return (impl->*fn)(r); });
    };
  };
  server->Get(R"(/2/tweets/search/recent)", route("search_recent", &Impl::Search));
  server->Get(R"(/2/tweets)", route("tweets_lookup", &Impl::Lookup));
  server->Get(R"(/2/tweets/(\d+))", route("tweet_lookup", &Impl::SingleLookup));
  server->Get(R"(/2/users/by/username/([^/]+))", route("users_by_username", &Impl::UserByUsername));
  server->Get(R"(/2/users/(\d+)/tweets)", route("users_tweets", &Impl::Timeline));
  server->Get(R"(.*)", [impl](const httplib::Request& req, httplib::Response& res) {
    impl->Handle(req, res, "other",
                 [](const httplib::Request&) { return JsonReply(404, kNotFoundRouteBody); });
  });

  return impl_->host.Start(std::move(server), port, "x sim");
}

void XSim::Stop() { impl_->host.Stop(); }

int XSim::port() const { return impl_->host.port(); }

std::string XSim::base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }

XSimUser XSim::AddUser(XSimUser user) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->User(std::move(user));
}

XSimPost XSim::AddPost(XSimPost post) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  if (post.created_at_ms == 0) post.created_at_ms = m.options.clock->NowMs();
  post.author = m.User(post.author);

  Impl::Stored s;
  if (post.id == 0) {
    const uint64_t base = XSimIdFromTimeMs(post.created_at_ms);
    do {
      post.id = base | (m.seq++ & 0x3FFFFFu);
    } while (m.by_id.count(post.id) != 0);
  }
  s.text = post.text;
  if (post.retweet_of != 0) {
    const Impl::Stored* original = m.Find(post.retweet_of);
    s.text = original != nullptr ? "RT @" + original->post.author.username + ": " + original->text
                                 : "RT";
  }
  m.DeriveEntities(s);
  s.chain = {post.id};
  if (post.edit_of != 0) {
    if (auto prev_it = m.by_id.find(post.edit_of); prev_it != m.by_id.end()) {
      const std::vector<uint64_t> earlier = prev_it->second.chain;
      s.chain = earlier;
      s.chain.push_back(post.id);
      for (uint64_t v : earlier) {
        auto it = m.by_id.find(v);
        if (it == m.by_id.end()) continue;
        it->second.superseded = true;
        it->second.chain = s.chain;
      }
    }
  }
  if (auto old = m.by_id.find(post.id); old != m.by_id.end()) {
    s.chain = old->second.chain;  // a replacement keeps its place in an edit chain
    s.superseded = old->second.superseded;
  }
  s.post = post;
  m.by_id[post.id] = std::move(s);
  return post;
}

bool XSim::DeletePost(uint64_t id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->by_id.find(id);
  if (it == impl_->by_id.end() || it->second.deleted) return false;
  it->second.deleted = true;
  return true;
}

bool XSim::SetEngagement(uint64_t id, int64_t likes, int64_t retweets, int64_t replies,
                         int64_t quotes) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->by_id.find(id);
  if (it == impl_->by_id.end()) return false;
  XSimPost& p = it->second.post;
  p.likes = likes;
  p.retweets = retweets;
  p.replies = replies;
  p.quotes = quotes;
  return true;
}

void XSim::SetFaults(const FaultPlan& plan) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults = plan;
}

void XSim::SetUsageCapped(bool capped) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->options.usage_capped = capped;
}

int64_t XSim::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}

std::map<int, int64_t> XSim::responses_by_status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->by_status;
}

std::set<std::string> XSim::served_ids() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->served;
}

std::vector<XSimRequest> XSim::request_log() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->log;
}

std::vector<XSimPost> XSim::posts() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<XSimPost> out;
  out.reserve(impl_->by_id.size());
  for (const auto& [id, s] : impl_->by_id) out.push_back(s.post);
  return out;
}

}  // namespace chorus::sim
