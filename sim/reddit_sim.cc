#include "sim/reddit_sim.h"

#include "sim/loopback_server.h"
#include "core/base64.h"
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
#include <unordered_map>
#include <utility>

namespace chorus::sim {
namespace {

constexpr char kJsonType[] = "application/json; charset=UTF-8";
constexpr char kHtmlType[] = "text/html; charset=utf-8";
constexpr int kDefaultLimit = 25;
constexpr int kMaxLimit = 100;
constexpr size_t kMaxInfoIds = 100;

constexpr char kUnauthorizedBody[] = R"({"message": "Unauthorized", "error": 401})";
constexpr char kNotFoundBody[] = R"({"message": "Not Found", "error": 404})";
constexpr char kBadRequestBody[] = R"({"message": "Bad Request", "error": 400})";
constexpr char kTooManyBody[] = R"({"message": "Too Many Requests", "error": 429})";
constexpr char kInternalBody[] = R"({"message": "Internal Server Error", "error": 500})";
// What Reddit's edge serves to clients without a proper User-Agent (abridged).
constexpr char kBlockedHtml[] =
    "<!doctype html><html><head><title>Blocked</title></head><body><h1>whoa there, pardner!</h1>"
    "<p>Your request has been blocked due to a network policy.</p><p>Make sure your User-Agent is "
    "not empty and is something unique and descriptive and try again.</p></body></html>";
constexpr char kUnavailableHtml[] =
    "<!doctype html><html><head><title>Reddit - Dive into anything</title></head><body>"
    "<h1>Our CDN was unable to reach our servers</h1></body></html>";

bool IsAsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
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

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// Reddit's legacy escaping of every string without raw_json=1: & < > become entities.
std::string EntityEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

// A JSON string. `html_field` writes < and > as \u003C / \u003E, as Reddit does in *_html fields.
void AppendJsonString(std::string& out, std::string_view raw, bool raw_json,
                      bool html_field = false) {
  const std::string escaped = raw_json ? std::string(raw) : EntityEscape(raw);
  out += '"';
  for (const char ch : escaped) {
    const auto c = static_cast<unsigned char>(ch);
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
    } else if (html_field && c == '<') {
      out += "\\u003C";
    } else if (html_field && c == '>') {
      out += "\\u003E";
    } else {
      out += ch;
    }
  }
  out += '"';
}

std::string Seconds(int64_t ms) {
  const int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  return std::to_string(s) + ".0";
}

// The words of a text for search: lower-cased runs of letters, digits and non-ASCII bytes.
std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsAsciiAlnum(c) || c >= 0x80) {
      cur += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// A query: phrases that must all occur. A quoted phrase, or a bare term ("u/name" is the phrase
// "u name"); field prefixes and boolean operators are not simulated.
std::vector<std::vector<std::string>> ParseQuery(std::string_view q) {
  std::vector<std::vector<std::string>> out;
  size_t i = 0;
  while (i < q.size()) {
    if (q[i] == ' ' || q[i] == '\t') {
      ++i;
      continue;
    }
    size_t end;
    std::string_view term;
    if (q[i] == '"') {
      end = q.find('"', i + 1);
      if (end == std::string_view::npos) end = q.size();
      term = q.substr(i + 1, end - i - 1);
      i = end + 1;
    } else {
      end = q.find_first_of(" \t", i);
      if (end == std::string_view::npos) end = q.size();
      term = q.substr(i, end - i);
      i = end;
    }
    auto words = Words(term);
    if (!words.empty()) out.push_back(std::move(words));
  }
  return out;
}

bool ContainsPhrase(const std::vector<std::string>& words, const std::vector<std::string>& phrase) {
  if (phrase.empty() || phrase.size() > words.size()) return false;
  return std::search(words.begin(), words.end(), phrase.begin(), phrase.end()) != words.end();
}

// r2's VBoolean: false only for "off", empty, or values starting with 'f' or 'n'.
bool RedditBool(const httplib::Request& req, const char* key) {
  if (!req.has_param(key)) return false;
  const std::string v = AsciiLower(req.get_param_value(key));
  return !(v.empty() || v == "off" || v[0] == 'f' || v[0] == 'n');
}

int LimitParam(const httplib::Request& req) {
  if (!req.has_param("limit")) return kDefaultLimit;
  const std::string v = req.get_param_value("limit");
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n <= 0) return kDefaultLimit;
  return std::min(n, kMaxLimit);
}

bool IsGenericUserAgent(std::string_view ua) {
  const std::string lower = AsciiLower(Trim(ua));
  // Library defaults, command-line tools, a browser pretended by a script, and chorus' own default
  // (no user_agent configured) tell Reddit nothing about who is calling.
  static constexpr std::string_view kGeneric[] = {"python-requests", "python-urllib",
                                                  "python-httpx",    "aiohttp",
                                                  "curl/",           "wget/",
                                                  "go-http-client",  "okhttp",
                                                  "axios",           "node-fetch",
                                                  "java/",           "libwww-perl",
                                                  "cpp-httplib",     "mozilla/",
                                                  "chorus/",         "praw",
                                                  "httpclient",      "apache-httpclient"};
  for (std::string_view g : kGeneric) {
    if (lower.rfind(g, 0) == 0) return true;
  }
  return lower.size() < 8;
}

std::string Slug(std::string_view title) {
  std::string out;
  for (const std::string& w : Words(title)) {
    if (out.size() + w.size() > 50) break;
    if (!out.empty()) out += '_';
    out += w;
  }
  return out.empty() ? "post" : out;
}

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = kJsonType;
  bool rate_headers = true;  // the token endpoint sends none
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> fullnames;  // posts in the body, for served_fullnames()
};

Reply JsonReply(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

struct RedditSim::Impl {
  explicit Impl(RedditSimOptions o) : options(std::move(o)) {
    if (options.clock == nullptr) options.clock = &SystemClock::Instance();
    if (options.rate_window_ms <= 0) options.rate_window_ms = 600'000;
  }

  RedditSimOptions options;

  LoopbackServer host;

  mutable std::mutex mu;
  std::map<std::string, RedditSimPost> by_name;     // fullname -> post
  std::vector<std::string> order;                   // fullnames in insertion order (tie-break)
  std::set<std::string> users;                      // lower-cased names known to the server
  uint64_t next_id = 3'903'427'584;                 // base36 "1sk0000": ids that look like 2026's
  std::unordered_map<std::string, int64_t> tokens;  // token -> expiry (unix ms)
  uint64_t token_seq = 0;
  FaultPlan faults;
  int64_t requests = 0;
  int64_t api_requests = 0;
  int64_t token_issued = 0;
  int64_t window = -1;
  int64_t window_used = 0;
  std::map<int, int64_t> by_status;
  std::set<std::string> served;
  std::vector<std::string> targets;

  bool Searchable(const RedditSimPost& p) const { return p.removed_by_category.empty(); }

  // Requires mu. Newest first; among posts of the same second, the later added first.
  std::vector<const RedditSimPost*> Sorted(const std::function<bool(const RedditSimPost&)>& keep,
                                           const std::string& sort) const {
    std::vector<const RedditSimPost*> list;
    std::unordered_map<std::string_view, size_t> rank;
    for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
    for (const auto& [name, p] : by_name) {
      if (keep(p)) list.push_back(&p);
    }
    auto newer = [&](const RedditSimPost* a, const RedditSimPost* b) {
      const int64_t sa = a->created_at_ms / 1000, sb = b->created_at_ms / 1000;
      if (sa != sb) return sa > sb;
      return rank[a->name] > rank[b->name];
    };
    if (sort == "new") {
      std::sort(list.begin(), list.end(), newer);
    } else if (sort == "comments") {
      std::stable_sort(list.begin(), list.end(), [&](auto* a, auto* b) {
        return a->num_comments != b->num_comments ? a->num_comments > b->num_comments : newer(a, b);
      });
    } else {  // relevance, hot, top: by score in the sim
      std::stable_sort(list.begin(), list.end(), [&](auto* a, auto* b) {
        return a->score != b->score ? a->score > b->score : newer(a, b);
      });
    }
    if (options.listing_cap > 0 && list.size() > static_cast<size_t>(options.listing_cap)) {
      list.resize(static_cast<size_t>(options.listing_cap));
    }
    return list;
  }

  void AppendPostJson(std::string& out, const RedditSimPost& p, bool raw) const {
    const bool deleted = p.removed_by_category == "deleted";
    const bool removed = !p.removed_by_category.empty() && !deleted;
    const std::string author = deleted ? "[deleted]" : p.author;
    const std::string selftext = deleted ? "[deleted]" : (removed ? "[removed]" : p.selftext);
    const bool is_self = p.link_url.empty();
    const std::string permalink =
        "/r/" + p.subreddit + "/comments/" + p.id + "/" + Slug(p.title) + "/";
    auto key = [&](const char* k) {
      out += ",\"";
      out += k;
      out += "\": ";
    };
    out += "{\"kind\": \"t3\", \"data\": {\"approved_at_utc\": null";
    key("subreddit");
    AppendJsonString(out, p.subreddit, raw);
    key("selftext");
    AppendJsonString(out, selftext, raw);
    if (!deleted) {
      key("author_fullname");
      AppendJsonString(out, "t2_" + Base36(Fnv1a(AsciiLower(p.author)) % 2'000'000'000ULL), raw);
    }
    out += ", \"saved\": false, \"gilded\": 0, \"clicked\": false";
    key("title");
    AppendJsonString(out, p.title, raw);
    key("subreddit_name_prefixed");
    AppendJsonString(out, "r/" + p.subreddit, raw);
    out += ", \"hidden\": false, \"downs\": 0, \"hide_score\": false";
    key("name");
    AppendJsonString(out, p.name, raw);
    out += ", \"quarantine\": false";
    key("upvote_ratio");
    out += p.score > 0 ? "0.96" : "0.5";
    key("ups");
    out += std::to_string(p.score);
    key("score");
    out += std::to_string(p.score);
    key("created");
    out += Seconds(p.created_at_ms);
    key("domain");
    AppendJsonString(out, is_self ? "self." + p.subreddit : "example.org", raw);
    key("edited");
    out += p.edited_at_ms > 0 ? Seconds(p.edited_at_ms) : "false";
    key("is_self");
    out += is_self ? "true" : "false";
    key("selftext_html");
    if (is_self && !selftext.empty()) {
      std::string html = "<!-- SC_OFF --><div class=\"md\"><p>" + EntityEscape(selftext) +
                         "</p>\n</div><!-- SC_ON -->";
      AppendJsonString(out, html, raw, /*html_field=*/true);
    } else {
      out += "null";
    }
    key("subreddit_id");
    AppendJsonString(out, "t5_" + Base36(Fnv1a(AsciiLower(p.subreddit)) % 60'000'000ULL), raw);
    key("id");
    AppendJsonString(out, p.id, raw);
    key("author");
    AppendJsonString(out, author, raw);
    key("num_comments");
    out += std::to_string(p.num_comments);
    key("num_crossposts");
    out += std::to_string(p.num_crossposts);
    key("permalink");
    AppendJsonString(out, permalink, raw);
    key("url");
    AppendJsonString(out, is_self ? "https://www.reddit.com" + permalink : p.link_url, raw);
    out +=
        ", \"over_18\": false, \"spoiler\": false, \"stickied\": false, \"locked\": false, "
        "\"archived\": false, \"is_video\": false, \"distinguished\": null, "
        "\"link_flair_text\": null, \"subreddit_type\": \"public\", \"total_awards_received\": 0";
    key("removed_by_category");
    if (p.removed_by_category.empty()) {
      out += "null";
    } else {
      AppendJsonString(out, p.removed_by_category, raw);
    }
    if (!p.crosspost_parent.empty()) {
      key("crosspost_parent");
      AppendJsonString(out, p.crosspost_parent, raw);
    }
    key("created_utc");
    out += Seconds(p.created_at_ms);
    out += "}}";
  }

  // One Listing page over `list` (already sorted), with after/before paging as r2 does it.
  Reply Listing(const httplib::Request& req, const std::vector<const RedditSimPost*>& list,
                bool search) {
    const bool raw = req.has_param("raw_json") && req.get_param_value("raw_json") == "1";
    const int limit = LimitParam(req);
    size_t begin = 0, end = list.size();
    auto index_of = [&](const std::string& fullname) -> std::optional<size_t> {
      for (size_t i = 0; i < list.size(); ++i) {
        if (list[i]->name == fullname) return i;
      }
      return std::nullopt;
    };
    bool anchored = false;
    if (req.has_param("after")) {
      anchored = true;
      const auto at = index_of(req.get_param_value("after"));
      begin = at ? *at + 1 : list.size();  // a vanished anchor: nothing after it
      end = std::min(list.size(), begin + static_cast<size_t>(limit));
    } else if (req.has_param("before")) {
      anchored = true;
      const auto at = index_of(req.get_param_value("before"));
      end = at ? *at : 0;
      begin = end > static_cast<size_t>(limit) ? end - static_cast<size_t>(limit) : 0;
    } else {
      end = std::min(list.size(), static_cast<size_t>(limit));
    }
    Reply r;
    std::string children;
    for (size_t i = begin; i < end; ++i) {
      if (i > begin) children += ", ";
      AppendPostJson(children, *list[i], raw);
      r.fullnames.push_back(list[i]->name);
    }
    const bool more_after = end < list.size() && end > begin;
    const bool more_before = anchored && begin > 0 && end > begin;
    std::string& b = r.body;
    b = "{\"kind\": \"Listing\", \"data\": {\"after\": ";
    if (more_after) {
      AppendJsonString(b, list[end - 1]->name, true);
    } else {
      b += "null";
    }
    b += ", \"dist\": " + std::to_string(end - begin);
    if (search) b += ", \"facets\": {}";
    b +=
        ", \"modhash\": null, \"geo_filter\": null, \"children\": [" + children + "], \"before\": ";
    if (more_before) {
      AppendJsonString(b, list[begin]->name, true);
    } else {
      b += "null";
    }
    b += "}}";
    return r;
  }

  Reply Search(const httplib::Request& req, const std::string& subreddit) {
    const auto phrases = ParseQuery(req.has_param("q") ? req.get_param_value("q") : "");
    const std::string type = req.has_param("type") ? AsciiLower(req.get_param_value("type")) : "";
    const std::string sort =
        req.has_param("sort") ? AsciiLower(req.get_param_value("sort")) : "relevance";
    const bool restrict = !subreddit.empty() && RedditBool(req, "restrict_sr");
    std::lock_guard<std::mutex> lock(mu);
    const bool links = type.empty() || type.find("link") != std::string::npos;
    auto keep = [&](const RedditSimPost& p) {
      if (!links || phrases.empty() || !Searchable(p)) return false;
      if (restrict && AsciiLower(p.subreddit) != AsciiLower(subreddit)) return false;
      const auto words = Words(p.title + "\n" + p.selftext);
      return std::all_of(phrases.begin(), phrases.end(),
                         [&](const auto& ph) { return ContainsPhrase(words, ph); });
    };
    return Listing(req, Sorted(keep, sort), true);
  }

  Reply GlobalSearch(const httplib::Request& req) { return Search(req, ""); }
  Reply SubredditSearch(const httplib::Request& req) { return Search(req, req.matches[1].str()); }

  Reply Submitted(const httplib::Request& req) {
    const std::string user = AsciiLower(req.matches[1].str());
    const std::string sort = req.has_param("sort") ? AsciiLower(req.get_param_value("sort")) : "new";
    std::lock_guard<std::mutex> lock(mu);
    if (users.count(user) == 0) return JsonReply(404, kNotFoundBody);
    auto keep = [&](const RedditSimPost& p) { return Searchable(p) && AsciiLower(p.author) == user; };
    return Listing(req, Sorted(keep, sort), false);
  }

  Reply SubredditNew(const httplib::Request& req) {
    const std::string sub = AsciiLower(req.matches[1].str());
    std::lock_guard<std::mutex> lock(mu);
    auto keep = [&](const RedditSimPost& p) { return Searchable(p) && AsciiLower(p.subreddit) == sub; };
    return Listing(req, Sorted(keep, "new"), false);
  }

  // /api/info?id=t3_a,t3_b: request order, unknown ids omitted, removed posts with markers.
  Reply Info(const httplib::Request& req) {
    const bool raw = req.has_param("raw_json") && req.get_param_value("raw_json") == "1";
    std::vector<std::string> ids;
    const std::string param = req.has_param("id") ? req.get_param_value("id") : "";
    std::string_view all = param;
    while (!all.empty()) {
      const size_t comma = all.find(',');
      const std::string_view id = Trim(all.substr(0, comma));
      if (!id.empty()) ids.emplace_back(id);
      if (comma == std::string_view::npos) break;
      all.remove_prefix(comma + 1);
    }
    if (ids.size() > kMaxInfoIds) return JsonReply(400, kBadRequestBody);
    std::lock_guard<std::mutex> lock(mu);
    Reply r;
    std::string children;
    std::set<std::string> seen;
    for (const auto& id : ids) {
      auto it = by_name.find(id);
      if (it == by_name.end() || !seen.insert(id).second) continue;
      if (!children.empty()) children += ", ";
      AppendPostJson(children, it->second, raw);
      r.fullnames.push_back(id);
    }
    r.body = "{\"kind\": \"Listing\", \"data\": {\"after\": null, \"dist\": " +
             std::to_string(r.fullnames.size()) +
             ", \"modhash\": null, \"geo_filter\": \"\", \"children\": [" + children +
             "], \"before\": null}}";
    return r;
  }

  // POST /api/v1/access_token (on www.reddit.com in reality): Basic auth, form body.
  Reply AccessToken(const httplib::Request& req) {
    Reply r;
    r.rate_headers = false;
    const std::string auth = req.get_header_value("Authorization");
    std::optional<std::string> creds;
    if (auth.size() > 6 && AsciiLower(auth.substr(0, 6)) == "basic ") {
      creds = Base64Decode(Trim(std::string_view(auth).substr(6)));
    }
    if (!creds || *creds != options.client_id + ":" + options.client_secret) {
      r.status = 401;
      r.body = kUnauthorizedBody;
      r.headers.emplace_back("www-authenticate", "Basic realm=\"reddit\"");
      return r;
    }
    // The grant comes in the form body, never in the query string.
    std::string grant;
    if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
      httplib::Params form;
      httplib::detail::parse_query_text(req.body, form);
      auto it = form.find("grant_type");
      if (it != form.end()) grant = it->second;
    }
    if (grant != "client_credentials") {
      r.body = R"({"error": "unsupported_grant_type"})";  // HTTP 200, as Reddit answers
      return r;
    }
    std::lock_guard<std::mutex> lock(mu);
    const uint64_t seq = ++token_seq;
    const std::string token = "sim" + std::to_string(seq) + "-" +
                              Base36(Fnv1a(options.client_id + std::to_string(seq) +
                                           std::to_string(options.clock->NowMs())));
    tokens[token] = options.clock->NowMs() + options.token_lifetime_s * 1000;
    ++token_issued;
    r.body = "{\"access_token\": \"" + token + "\", \"token_type\": \"bearer\", \"expires_in\": " +
             std::to_string(options.token_lifetime_s) + ", \"scope\": \"*\"}";
    return r;
  }

  // Requires mu.
  bool Authorized(const httplib::Request& req) const {
    const std::string h = req.get_header_value("Authorization");
    if (h.size() <= 7 || AsciiLower(h.substr(0, 7)) != "bearer ") return false;
    auto it = tokens.find(std::string(Trim(std::string_view(h).substr(7))));
    return it != tokens.end() && options.clock->NowMs() < it->second;
  }

  bool UserAgentOk(const httplib::Request& req) const {
    const std::string ua = req.get_header_value("User-Agent");
    if (Trim(ua).empty()) return false;
    return !options.strict_user_agent || !IsGenericUserAgent(ua);
  }

  // Every request passes here: User-Agent (the edge), then for API requests the rate limit,
  // faults and the bearer token, then the route.
  void Handle(const httplib::Request& req, httplib::Response& res,
              const std::function<Reply(const httplib::Request&)>& route, bool api) {
    Reply r;
    bool truncated = false;
    int64_t used = 0, remaining = 0, reset_s = 0;
    bool rate_headers = false;
    if (!UserAgentOk(req)) {
      r.status = 403;
      r.body = kBlockedHtml;
      r.content_type = kHtmlType;
      r.rate_headers = false;
      std::lock_guard<std::mutex> lock(mu);
      ++requests;
    } else if (!api) {
      {
        std::lock_guard<std::mutex> lock(mu);
        ++requests;
      }
      r = route(req);
    } else {
      int64_t n = 0;
      bool exhausted = false, authorized = false;
      FaultPlan plan;
      {
        std::lock_guard<std::mutex> lock(mu);
        ++requests;
        n = ++api_requests;
        targets.push_back(req.target);
        const int64_t now = options.clock->NowMs();
        const int64_t w = now / options.rate_window_ms;
        if (w != window) {
          window = w;
          window_used = 0;
        }
        ++window_used;
        used = window_used;
        exhausted = window_used > options.rate_limit;
        remaining = std::max<int64_t>(0, options.rate_limit - window_used);
        reset_s = ((w + 1) * options.rate_window_ms - now + 999) / 1000;
        authorized = Authorized(req);
        plan = faults;
      }
      rate_headers = true;
      auto every = [n](int k) { return k > 0 && n % k == 0; };
      if (exhausted || every(plan.rate_limit_every)) {
        remaining = 0;
        r = JsonReply(429, kTooManyBody);
      } else if (every(plan.error_500_every)) {
        r = JsonReply(500, kInternalBody);
      } else if (every(plan.non_json_every)) {
        r.status = 503;
        r.body = kUnavailableHtml;
        r.content_type = kHtmlType;
      } else if (!authorized) {
        r = JsonReply(401, kUnauthorizedBody);
        r.headers.emplace_back("www-authenticate",
                               "Bearer realm=\"reddit\", error=\"invalid_token\"");
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
    }

    res.status = r.status;
    if (rate_headers && r.rate_headers) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(remaining));
      res.set_header("x-ratelimit-remaining", buf);
      res.set_header("x-ratelimit-used", std::to_string(used));
      res.set_header("x-ratelimit-reset", std::to_string(reset_s));
    }
    res.set_header("Cache-Control", "private, s-maxage=0, max-age=0, must-revalidate, no-store");
    res.set_header("x-content-type-options", "nosniff");
    for (const auto& [k, v] : r.headers) res.set_header(k.c_str(), v);
    res.set_content(r.body, r.content_type.c_str());

    std::lock_guard<std::mutex> lock(mu);
    ++by_status[r.status];
    if (r.status == 200 && !truncated) served.insert(r.fullnames.begin(), r.fullnames.end());
  }
};

RedditSim::RedditSim(RedditSimOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

RedditSim::~RedditSim() { Stop(); }

Result<void> RedditSim::Start(int port) {
  if (impl_->host.running()) return Fail(Error::InvalidArgument("reddit sim: already started"));
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(8); };
  server->set_keep_alive_timeout(1);
  Impl* impl = impl_.get();
  auto route = [impl](Reply (Impl::*fn)(const httplib::Request&), bool api) {
    return [impl, fn, api](const httplib::Request& req, httplib::Response& res) {
      impl->Handle(
          req, res, [impl, fn](const httplib::Request& r) { return (impl->*fn)(r); }, api);
    };
  };
  server->Post("/api/v1/access_token", route(&Impl::AccessToken, false));
  server->Get(R"(/search(?:\.json)?/?)", route(&Impl::GlobalSearch, true));
  server->Get(R"(/r/([^/]+)/search(?:\.json)?/?)", route(&Impl::SubredditSearch, true));
  server->Get(R"(/user/([^/]+)/submitted(?:\.json)?/?)", route(&Impl::Submitted, true));
  server->Get(R"(/r/([^/]+)/new(?:\.json)?/?)", route(&Impl::SubredditNew, true));
  server->Get(R"(/api/info(?:\.json)?/?)", route(&Impl::Info, true));
  auto not_found = [impl](const httplib::Request& req, httplib::Response& res) {
    impl->Handle(
        req, res, [](const httplib::Request&) { return JsonReply(404, kNotFoundBody); }, true);
  };
  server->Get(R"(.*)", not_found);
  server->Post(R"(.*)", not_found);

  return impl_->host.Start(std::move(server), port, "reddit sim");
}

void RedditSim::Stop() { impl_->host.Stop(); }

int RedditSim::port() const { return impl_->host.port(); }

std::string RedditSim::base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }

RedditSimPost RedditSim::AddPost(RedditSimPost post) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  if (post.id.empty()) {
    do {
      post.id = Base36(m.next_id++);
    } while (m.by_name.count("t3_" + post.id) != 0);
  }
  post.name = "t3_" + post.id;
  if (!post.author.empty()) m.users.insert(AsciiLower(post.author));
  if (m.by_name.count(post.name) == 0) m.order.push_back(post.name);
  m.by_name[post.name] = post;
  return post;
}

void RedditSim::AddUser(const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->users.insert(AsciiLower(name));
}

bool RedditSim::SetEngagement(const std::string& fullname, int64_t score, int64_t num_comments,
                              int64_t num_crossposts) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->by_name.find(fullname);
  if (it == impl_->by_name.end()) return false;
  it->second.score = score;
  it->second.num_comments = num_comments;
  it->second.num_crossposts = num_crossposts;
  return true;
}

bool RedditSim::Remove(const std::string& fullname, bool by_author) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->by_name.find(fullname);
  if (it == impl_->by_name.end()) return false;
  it->second.removed_by_category = by_author ? "deleted" : "moderator";
  return true;
}

void RedditSim::SetFaults(const FaultPlan& plan) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults = plan;
}

void RedditSim::ExpireTokens() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const int64_t now = impl_->options.clock->NowMs();
  for (auto& [token, expiry] : impl_->tokens) expiry = std::min(expiry, now);
}

int64_t RedditSim::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}

int64_t RedditSim::token_requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->token_issued;
}

std::map<int, int64_t> RedditSim::responses_by_status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->by_status;
}

std::set<std::string> RedditSim::served_fullnames() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->served;
}

std::vector<std::string> RedditSim::api_targets() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->targets;
}

std::vector<RedditSimPost> RedditSim::posts() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<RedditSimPost> out;
  for (const auto& name : impl_->order) out.push_back(impl_->by_name.at(name));
  return out;
}

}  // namespace chorus::sim
