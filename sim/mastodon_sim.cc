#include "sim/mastodon_sim.h"

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
#include <unordered_map>
#include <utility>

namespace chorus::sim {
namespace {

constexpr char kJsonType[] = "application/json; charset=utf-8";
constexpr int kDefaultLimit = 20;
constexpr int kMaxLimit = 40;
constexpr size_t kTagsPerMode = 4;  // TagFeed::LIMIT_PER_MODE
constexpr size_t kMaxMultiGetIds = 40;
constexpr int64_t kDefaultWindowMs = 300'000;
constexpr int64_t kDayMs = 86'400'000;

constexpr char kNotFoundBody[] = R"({"error":"Record not found"})";
constexpr char kTooManyBody[] = R"({"error":"Too many requests"})";
constexpr char kInternalBody[] = R"({"error":"Internal server error"})";
constexpr char kBadTokenBody[] = R"({"error":"The access token is invalid"})";
constexpr char kBadGatewayHtml[] = "<html><body><h1>502 Bad Gateway</h1></body></html>";

bool IsAsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsWordChar(unsigned char c) { return IsAsciiAlnum(c) || c == '_'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && AsciiLower(a) == AsciiLower(b);
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += ch;  // UTF-8 passes through, as Mastodon sends it
    }
  }
  out += '"';
}

// Rails' html_escape set.
void AppendHtmlEscaped(std::string& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsAsciiAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
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

std::optional<uint64_t> ParseId(const std::string& s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<uint64_t> IdParam(const httplib::Request& req, const char* key) {
  if (!req.has_param(key)) return std::nullopt;
  return ParseId(req.get_param_value(key));
}

int LimitParam(const httplib::Request& req) {
  if (!req.has_param("limit")) return kDefaultLimit;
  const std::string v = req.get_param_value("limit");
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n <= 0) return kDefaultLimit;
  return std::min(n, kMaxLimit);
}

// ActiveModel::Type::Boolean, as Mastodon's truthy_param? uses it.
bool TruthyParam(const httplib::Request& req, const char* key) {
  if (!req.has_param(key)) return false;
  const std::string v = AsciiLower(req.get_param_value(key));
  return !(v.empty() || v == "0" || v == "f" || v == "false" || v == "off");
}

std::vector<std::string> TagParams(const httplib::Request& req, const char* key) {
  std::vector<std::string> out;
  const size_t n = std::min(req.get_param_value_count(key), kTagsPerMode);
  for (size_t i = 0; i < n; ++i) out.push_back(AsciiLower(req.get_param_value(key, i)));
  return out;
}

// "%Y-%m-%dT%H:%M:%S.%6NZ", the format rack-attack's reset header uses.
std::string FormatResetTime(int64_t unix_ms) {
  std::string s = FormatRfc3339Ms(unix_ms);  // "...T14:10:00.000Z"
  s.insert(s.size() - 1, "000");
  return s;
}

std::string AccountKey(const SimAccount& a) { return a.username + "@" + a.domain; }

// One HTTP answer before faults, auth and bookkeeping are applied.
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = kJsonType;
  std::string link;
  std::vector<std::string> uris;  // statuses in the body, for served_uris()
};

Reply JsonReply(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

struct MastodonSim::Impl {
  struct AccountInfo {
    uint64_t id = 0;
    int64_t created_at_ms = 0;
    int64_t following = 0;
    int64_t statuses_base = 0;  // posts "before" the simulation, so counts look lived-in
    int64_t statuses = 0;
    int64_t last_status_ms = 0;
  };

  explicit Impl(SimOptions o) : options(std::move(o)) {
    if (options.clock == nullptr) options.clock = &SystemClock::Instance();
    if (options.rate_window_ms <= 0) options.rate_window_ms = kDefaultWindowMs;
  }

  SimOptions options;

  // Server lifecycle, apart from the data mutex so Stop() never waits on a handler's lock.
  LoopbackServer host;

  mutable std::mutex mu;
  std::map<uint64_t, SimStatus> by_id;
  std::unordered_map<std::string, uint64_t> id_by_uri;
  std::map<std::string, AccountInfo> accounts;  // by AccountKey
  std::set<uint64_t> account_ids;
  std::set<std::string> known_tags;  // lower-cased; Tag.find_normalized succeeds
  uint16_t seq = 0;
  FaultPlan faults;
  int64_t requests = 0;
  int64_t window = -1;
  int64_t window_count = 0;
  std::map<int, int64_t> by_status;
  std::set<std::string> served;

  std::string Host(const SimAccount& a) const {
    return a.domain.empty() ? options.domain : a.domain;
  }

  void Normalize(SimAccount& a) const {
    if (EqualsIgnoreCase(a.domain, options.domain)) a.domain.clear();
  }

  // Requires mu. A stable id per (username, domain), a snowflake of a midnight-clamped join date.
  AccountInfo& Account(const SimAccount& a) {
    auto it = accounts.find(AccountKey(a));
    if (it != accounts.end()) return it->second;
    const uint64_t h = Fnv1a(AccountKey(a));
    AccountInfo info;
    info.created_at_ms = 1'483'228'800'000LL + static_cast<int64_t>(h % 2900) * kDayMs;
    info.id = (static_cast<uint64_t>(info.created_at_ms) << 16) | ((h >> 40) & 0xffff);
    while (!account_ids.insert(info.id).second) ++info.id;
    info.following = static_cast<int64_t>((h >> 8) % 800);
    info.statuses_base = static_cast<int64_t>((h >> 24) % 3000);
    return accounts.emplace(AccountKey(a), info).first->second;
  }

  static bool HasTag(const SimStatus& st, std::string_view lower_tag) {
    return std::any_of(st.tags.begin(), st.tags.end(),
                       [&](const std::string& t) { return AsciiLower(t) == lower_tag; });
  }

  // Mastodon's TextFormatter output for plain text: paragraphs, <br />, hashtag and mention links.
  std::string RenderContent(const SimStatus& st) const {
    const std::string& t = st.text;
    std::string out = "<p>";
    auto at_boundary = [&](size_t pos) {
      return pos == 0 || !(IsWordChar(static_cast<unsigned char>(t[pos - 1])) || t[pos - 1] == '/');
    };
    size_t i = 0;
    while (i < t.size()) {
      const char c = t[i];
      if (c == '\n') {
        if (i + 1 < t.size() && t[i + 1] == '\n') {
          while (i < t.size() && t[i] == '\n') ++i;
          out += "</p><p>";
        } else {
          out += "<br />";
          ++i;
        }
        continue;
      }
      if (c == '#' && at_boundary(i)) {
        size_t j = i + 1;
        while (j < t.size() && IsWordChar(static_cast<unsigned char>(t[j]))) ++j;
        const std::string_view name(t.data() + i + 1, j - i - 1);
        if (!name.empty() && HasTag(st, AsciiLower(name))) {
          out += "<a href=\"https://";
          AppendHtmlEscaped(out, options.domain);
          out += "/tags/";
          AppendHtmlEscaped(out, name);
          out += "\" class=\"mention hashtag\" rel=\"tag\">#<span>";
          AppendHtmlEscaped(out, name);
          out += "</span></a>";
          i = j;
          continue;
        }
      }
      if (c == '@' && at_boundary(i)) {
        size_t j = i + 1;
        while (j < t.size() && IsWordChar(static_cast<unsigned char>(t[j]))) ++j;
        const std::string_view user(t.data() + i + 1, j - i - 1);
        std::string_view domain;
        size_t end = j;
        if (j < t.size() && t[j] == '@') {
          size_t d = j + 1;
          while (d < t.size() &&
                 (IsAsciiAlnum(static_cast<unsigned char>(t[d])) || t[d] == '.' || t[d] == '-')) {
            ++d;
          }
          while (d > j + 1 && (t[d - 1] == '.' || t[d - 1] == '-')) --d;
          if (d > j + 1) {
            domain = std::string_view(t.data() + j + 1, d - j - 1);
            end = d;
          }
        }
        const SimAccount* hit = nullptr;
        for (const auto& m : st.mentions) {
          if (!user.empty() && EqualsIgnoreCase(m.username, user) &&
              (domain.empty() || EqualsIgnoreCase(Host(m), domain))) {
            hit = &m;
            break;
          }
        }
        if (hit != nullptr) {
          out += "<span class=\"h-card\" translate=\"no\"><a href=\"https://";
          AppendHtmlEscaped(out, Host(*hit));
          out += "/@";
          AppendHtmlEscaped(out, hit->username);
          out += "\" class=\"u-url mention\">@<span>";
          AppendHtmlEscaped(out, hit->username);
          out += "</span></a></span>";
          i = end;
          continue;
        }
      }
      AppendHtmlEscaped(out, std::string_view(&t[i], 1));
      ++i;
    }
    out += "</p>";
    return out;
  }

  // Requires mu.
  void AppendAccountJson(std::string& out, const SimAccount& a) {
    const AccountInfo& info = Account(a);
    const std::string host = Host(a);
    out += "{\"id\":";
    AppendJsonString(out, std::to_string(info.id));
    out += ",\"username\":";
    AppendJsonString(out, a.username);
    out += ",\"acct\":";
    AppendJsonString(out, a.domain.empty() ? a.username : a.username + "@" + a.domain);
    // "kai_reads" -> "Kai Reads"
    std::string display = a.username;
    for (size_t i = 0; i < display.size(); ++i) {
      if (display[i] == '_') display[i] = ' ';
      const bool word_start = i == 0 || display[i - 1] == ' ';
      if (word_start && display[i] >= 'a' && display[i] <= 'z') display[i] -= 'a' - 'A';
    }
    out += ",\"display_name\":";
    AppendJsonString(out, display);
    out +=
        ",\"locked\":false,\"bot\":false,\"discoverable\":true,\"indexable\":true,"
        "\"group\":false,\"created_at\":";
    AppendJsonString(out, FormatRfc3339Ms(info.created_at_ms));
    out += ",\"note\":\"\",\"url\":";
    AppendJsonString(out, "https://" + host + "/@" + a.username);
    out += ",\"uri\":";
    AppendJsonString(out, "https://" + host + "/users/" + a.username);
    const std::string avatar = "https://" + options.domain + "/avatars/original/missing.png";
    const std::string header = "https://" + options.domain + "/headers/original/missing.png";
    out += ",\"avatar\":";
    AppendJsonString(out, avatar);
    out += ",\"avatar_static\":";
    AppendJsonString(out, avatar);
    out += ",\"header\":";
    AppendJsonString(out, header);
    out += ",\"header_static\":";
    AppendJsonString(out, header);
    out += ",\"followers_count\":" + std::to_string(a.followers);
    out += ",\"following_count\":" + std::to_string(info.following);
    out += ",\"statuses_count\":" + std::to_string(info.statuses_base + info.statuses);
    out += ",\"last_status_at\":";
    if (info.last_status_ms > 0) {
      AppendJsonString(out, FormatRfc3339Ms(info.last_status_ms).substr(0, 10));
    } else {
      out += "null";
    }
    out += ",\"emojis\":[],\"fields\":[]}";
  }

  // Requires mu.
  void AppendStatusJson(std::string& out, const SimStatus& st) {
    out += "{\"id\":";
    AppendJsonString(out, std::to_string(st.id));
    out += ",\"created_at\":";
    AppendJsonString(out, FormatRfc3339Ms(st.created_at_ms));
    out += ",\"in_reply_to_id\":";
    const SimStatus* parent = nullptr;
    if (auto pid = ParseId(st.in_reply_to_id)) {
      auto it = by_id.find(*pid);
      if (it != by_id.end()) parent = &it->second;
    }
    if (st.in_reply_to_id.empty()) {
      out += "null";
    } else {
      AppendJsonString(out, st.in_reply_to_id);
    }
    out += ",\"in_reply_to_account_id\":";
    if (parent != nullptr) {
      AppendJsonString(out, std::to_string(Account(parent->account).id));
    } else {
      out += "null";
    }
    out +=
        ",\"sensitive\":false,\"spoiler_text\":\"\",\"visibility\":\"public\","
        "\"language\":\"en\",\"uri\":";
    AppendJsonString(out, st.uri);
    out += ",\"url\":";
    AppendJsonString(out, "https://" + Host(st.account) + "/@" + st.account.username + "/" +
                              std::to_string(st.id));
    out += ",\"replies_count\":" + std::to_string(st.replies);
    out += ",\"reblogs_count\":" + std::to_string(st.reblogs);
    out += ",\"favourites_count\":" + std::to_string(st.favourites);
    out += ",\"quotes_count\":" + std::to_string(st.quotes);
    out += ",\"edited_at\":null,\"content\":";
    AppendJsonString(out, RenderContent(st));
    out += ",\"reblog\":null,\"application\":null,\"account\":";
    AppendAccountJson(out, st.account);
    out += ",\"media_attachments\":[],\"mentions\":[";
    for (size_t i = 0; i < st.mentions.size(); ++i) {
      const SimAccount& m = st.mentions[i];
      if (i > 0) out += ',';
      out += "{\"id\":";
      AppendJsonString(out, std::to_string(Account(m).id));
      out += ",\"username\":";
      AppendJsonString(out, m.username);
      out += ",\"url\":";
      AppendJsonString(out, "https://" + Host(m) + "/@" + m.username);
      out += ",\"acct\":";
      AppendJsonString(out, m.domain.empty() ? m.username : m.username + "@" + m.domain);
      out += '}';
    }
    out += "],\"tags\":[";
    for (size_t i = 0; i < st.tags.size(); ++i) {
      const std::string name = AsciiLower(st.tags[i]);
      if (i > 0) out += ',';
      out += "{\"name\":";
      AppendJsonString(out, name);
      out += ",\"url\":";
      AppendJsonString(out, "https://" + options.domain + "/tags/" + PercentEncode(name));
      out += '}';
    }
    out += "],\"emojis\":[],\"quote\":null,\"card\":null,\"poll\":null}";
  }

  // Requires mu.
  Reply StatusArray(const std::vector<const SimStatus*>& list) {
    Reply r;
    r.body = "[";
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0) r.body += ',';
      AppendStatusJson(r.body, *list[i]);
      r.uris.push_back(list[i]->uri);
    }
    r.body += ']';
    return r;
  }

  // GET /api/v1/timelines/tag/:hashtag, after TagFeed and Api::V1::Timelines::TagController.
  Reply TagTimeline(const httplib::Request& req) {
    const std::string raw_tag = req.matches[1].str();
    const std::string tag = AsciiLower(raw_tag);
    std::vector<std::string> any = TagParams(req, "any[]");
    const std::vector<std::string> all = TagParams(req, "all[]");
    const std::vector<std::string> none = TagParams(req, "none[]");
    any.push_back(tag);
    const bool local = TruthyParam(req, "local");
    const bool remote = TruthyParam(req, "remote");
    const bool only_media = TruthyParam(req, "only_media");  // the sim has no media
    const int limit = LimitParam(req);
    const auto max_id = IdParam(req, "max_id");
    const auto since_id = IdParam(req, "since_id");
    const auto min_id = IdParam(req, "min_id");

    std::lock_guard<std::mutex> lock(mu);
    if (known_tags.count(tag) == 0 || only_media) return JsonReply(200, "[]");
    auto matches = [&](const SimStatus& st) {
      if (local && !st.account.domain.empty()) return false;
      if (remote && st.account.domain.empty()) return false;
      if (!std::any_of(any.begin(), any.end(), [&](const auto& t) { return HasTag(st, t); })) {
        return false;
      }
      if (!std::all_of(all.begin(), all.end(), [&](const auto& t) { return HasTag(st, t); })) {
        return false;
      }
      return std::none_of(none.begin(), none.end(), [&](const auto& t) { return HasTag(st, t); });
    };
    std::vector<const SimStatus*> page;
    if (min_id) {
      // paginate_by_min_id(...).reverse: the oldest `limit` above min_id, served newest first.
      for (auto it = by_id.upper_bound(*min_id);
           it != by_id.end() && static_cast<int>(page.size()) < limit; ++it) {
        if (max_id && it->first >= *max_id) break;
        if (matches(it->second)) page.push_back(&it->second);
      }
      std::reverse(page.begin(), page.end());
    } else {
      auto it = max_id ? by_id.lower_bound(*max_id) : by_id.end();
      while (it != by_id.begin() && static_cast<int>(page.size()) < limit) {
        --it;
        if (since_id && it->first <= *since_id) break;
        if (matches(it->second)) page.push_back(&it->second);
      }
    }
    Reply r = StatusArray(page);
    if (!page.empty()) {
      // Only PERMITTED_PARAMS (local, limit, only_media) survive into the links; Rails sorts keys.
      const std::string base = "http://127.0.0.1:" + std::to_string(host.port()) +
                               "/api/v1/timelines/tag/" + PercentEncode(raw_tag);
      auto link = [&](const char* cursor_key, uint64_t cursor) {
        std::vector<std::pair<std::string, std::string>> q;
        for (const char* key : {"limit", "local", "only_media"}) {
          if (req.has_param(key)) q.emplace_back(key, req.get_param_value(key));
        }
        q.emplace_back(cursor_key, std::to_string(cursor));
        std::sort(q.begin(), q.end());
        std::string url = base;
        for (size_t i = 0; i < q.size(); ++i) {
          url += i == 0 ? '?' : '&';
          url += q[i].first + "=" + PercentEncode(q[i].second);
        }
        return url;
      };
      r.link = "<" + link("max_id", page.back()->id) + ">; rel=\"next\", <" +
               link("min_id", page.front()->id) + ">; rel=\"prev\"";
    }
    return r;
  }

  // Requires mu. The statuses matching `keep`, paged like Paginable#paginate_by_id: min_id gives
  // the oldest `limit` above it, otherwise the newest below max_id and above since_id; newest first.
  template <typename Keep>
  std::vector<const SimStatus*> PageBy(const httplib::Request& req, Keep keep) const {
    const int limit = LimitParam(req);
    const auto max_id = IdParam(req, "max_id");
    const auto since_id = IdParam(req, "since_id");
    const auto min_id = IdParam(req, "min_id");
    std::vector<const SimStatus*> page;
    if (min_id) {
      for (auto it = by_id.upper_bound(*min_id);
           it != by_id.end() && static_cast<int>(page.size()) < limit; ++it) {
        if (max_id && it->first >= *max_id) break;
        if (keep(it->second)) page.push_back(&it->second);
      }
      std::reverse(page.begin(), page.end());
    } else {
      auto it = max_id ? by_id.lower_bound(*max_id) : by_id.end();
      while (it != by_id.begin() && static_cast<int>(page.size()) < limit) {
        --it;
        if (since_id && it->first <= *since_id) break;
        if (keep(it->second)) page.push_back(&it->second);
      }
    }
    return page;
  }

  // GET /api/v1/accounts/lookup?acct=user[@domain]: 404 for an account the server never saw.
  Reply LookupAccount(const httplib::Request& req) {
    std::string acct = AsciiLower(req.get_param_value("acct"));
    if (!acct.empty() && acct[0] == '@') acct.erase(0, 1);
    SimAccount a;
    const size_t at = acct.find('@');
    a.username = acct.substr(0, at);
    a.domain = at == std::string::npos ? "" : acct.substr(at + 1);
    Normalize(a);
    std::lock_guard<std::mutex> lock(mu);
    if (a.username.empty() || accounts.find(AccountKey(a)) == accounts.end()) {
      return JsonReply(404, kNotFoundBody);
    }
    for (auto it = by_id.rbegin(); it != by_id.rend(); ++it) {
      if (AccountKey(it->second.account) == AccountKey(a)) a.followers = it->second.account.followers;
      if (a.followers) break;
    }
    Reply r;
    AppendAccountJson(r.body, a);
    return r;
  }

  // GET /api/v1/accounts/:id/statuses (public statuses of one account; boosts are never simulated).
  Reply AccountStatuses(const httplib::Request& req) {
    const auto id = ParseId(req.matches[1].str());
    std::lock_guard<std::mutex> lock(mu);
    std::string key;
    for (const auto& [k, info] : accounts) {
      if (id && info.id == *id) key = k;
    }
    if (key.empty()) return JsonReply(404, kNotFoundBody);
    const bool exclude_replies = TruthyParam(req, "exclude_replies");
    auto page = PageBy(req, [&](const SimStatus& st) {
      return AccountKey(st.account) == key && !(exclude_replies && !st.in_reply_to_id.empty());
    });
    return StatusArray(page);
  }

  // GET /api/v1/statuses?id[]=...: unknown ids silently omitted, request order kept.
  Reply MultiGet(const httplib::Request& req) {
    const size_t n = req.get_param_value_count("id[]");
    if (n > kMaxMultiGetIds) {
      return JsonReply(422, R"json({"error":"Validation failed: too many ids (at most 40)"})json");
    }
    std::lock_guard<std::mutex> lock(mu);
    std::vector<const SimStatus*> list;
    std::set<uint64_t> seen;
    for (size_t i = 0; i < n; ++i) {
      const auto id = ParseId(req.get_param_value("id[]", i));
      if (!id || !seen.insert(*id).second) continue;
      auto it = by_id.find(*id);
      if (it != by_id.end()) list.push_back(&it->second);
    }
    return StatusArray(list);
  }

  // GET /api/v1/statuses/:id
  Reply SingleGet(const httplib::Request& req) {
    const auto id = ParseId(req.matches[1].str());
    std::lock_guard<std::mutex> lock(mu);
    auto it = id ? by_id.find(*id) : by_id.end();
    if (it == by_id.end()) return JsonReply(404, kNotFoundBody);
    Reply r;
    AppendStatusJson(r.body, it->second);
    r.uris.push_back(it->second.uri);
    return r;
  }

  bool Authorized(const httplib::Request& req) const {
    if (options.required_token.empty()) return true;
    const std::string h = req.get_header_value("Authorization");
    return h.size() > 7 && EqualsIgnoreCase(h.substr(0, 7), "bearer ") &&
           h.substr(7) == options.required_token;
  }

  // Every request passes here: counting, rate limit, faults, auth, then the route itself.
  void Handle(const httplib::Request& req, httplib::Response& res,
              const std::function<Reply(const httplib::Request&)>& route) {
    int64_t n = 0;
    int64_t remaining = 0;
    int64_t reset_ms = 0;
    bool exhausted = false;
    FaultPlan plan;
    {
      std::lock_guard<std::mutex> lock(mu);
      n = ++requests;
      const int64_t now = options.clock->NowMs();
      const int64_t w = now / options.rate_window_ms;
      if (w != window) {
        window = w;
        window_count = 0;
      }
      ++window_count;
      remaining = std::max<int64_t>(0, options.rate_limit - window_count);
      exhausted = window_count > options.rate_limit;
      reset_ms = (w + 1) * options.rate_window_ms;
      plan = faults;
    }
    auto every = [n](int k) { return k > 0 && n % k == 0; };

    Reply r;
    bool truncated = false;
    if (exhausted || every(plan.rate_limit_every)) {
      remaining = 0;
      r = JsonReply(429, kTooManyBody);
      r.content_type = "application/json";  // rack-attack's responder, not Rails
    } else if (every(plan.error_500_every)) {
      r = JsonReply(500, kInternalBody);
    } else if (every(plan.non_json_every)) {
      r.status = 502;
      r.body = kBadGatewayHtml;
      r.content_type = "text/html";
    } else if (!Authorized(req)) {
      r = JsonReply(401, kBadTokenBody);
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
        r.content_type = "application/json";
        truncated = true;
      }
    }

    res.status = r.status;
    res.set_header("X-RateLimit-Limit", std::to_string(options.rate_limit));
    res.set_header("X-RateLimit-Remaining", std::to_string(remaining));
    res.set_header("X-RateLimit-Reset", FormatResetTime(reset_ms));
    res.set_header("Cache-Control", "private, no-store");
    res.set_header("Vary", "Authorization, Origin");
    if (!r.link.empty()) res.set_header("Link", r.link);
    res.set_content(r.body, r.content_type.c_str());

    std::lock_guard<std::mutex> lock(mu);
    ++by_status[r.status];
    if (r.status == 200 && !truncated) served.insert(r.uris.begin(), r.uris.end());
  }
};

MastodonSim::MastodonSim(SimOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

MastodonSim::~MastodonSim() { Stop(); }

Result<void> MastodonSim::Start(int port) {
  if (impl_->host.running()) return Fail(Error::InvalidArgument("mastodon sim: already started"));
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(8); };
  // Short keep-alive so Stop() and idle client connections never hold a worker for long.
  server->set_keep_alive_timeout(1);
  Impl* impl = impl_.get();
  auto route = [impl](Reply (Impl::*fn)(const httplib::Request&)) {
    return [impl, fn](const httplib::Request& req, httplib::Response& res) {
      impl->Handle(req, res, [impl, fn](const httplib::Request& r) { return (impl->*fn)(r); });
    };
  };
  server->Get(R"(/api/v1/timelines/tag/([^/]+))", route(&Impl::TagTimeline));
  server->Get(R"(/api/v1/statuses)", route(&Impl::MultiGet));
  server->Get(R"(/api/v1/statuses/(\d+))", route(&Impl::SingleGet));
  server->Get(R"(/api/v1/accounts/lookup)", route(&Impl::LookupAccount));
  server->Get(R"(/api/v1/accounts/(\d+)/statuses)", route(&Impl::AccountStatuses));
  server->Get(R"(.*)", [impl](const httplib::Request& req, httplib::Response& res) {
    impl->Handle(req, res, [](const httplib::Request&) { return JsonReply(404, kNotFoundBody); });
  });

  return impl_->host.Start(std::move(server), port, "mastodon sim");
}

void MastodonSim::Stop() { impl_->host.Stop(); }

int MastodonSim::port() const { return impl_->host.port(); }

std::string MastodonSim::base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }

const std::string& MastodonSim::domain() const { return impl_->options.domain; }

SimStatus MastodonSim::AddStatus(SimStatus status) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  m.Normalize(status.account);
  for (auto& mention : status.mentions) m.Normalize(mention);

  const SimStatus* replaced = nullptr;
  if (!status.uri.empty()) {
    auto it = m.id_by_uri.find(status.uri);
    if (it != m.id_by_uri.end()) {
      replaced = &m.by_id.at(it->second);
      status.id = replaced->id;
    }
  }
  if (status.id == 0) {
    // Mastodon::Snowflake.id_at: milliseconds in the high bits, a sequence in the low 16.
    const uint64_t base = static_cast<uint64_t>(std::max<int64_t>(0, status.created_at_ms)) << 16;
    do {
      status.id = base | m.seq++;
    } while (m.by_id.count(status.id) != 0);
  }
  const std::string host = m.Host(status.account);
  if (status.uri.empty()) {
    status.uri = "https://" + host + "/users/" + status.account.username + "/statuses/" +
                 std::to_string(status.id);
  }
  if (replaced == nullptr) {
    auto old = m.by_id.find(status.id);  // an explicit id that is already taken: replace it
    if (old != m.by_id.end()) m.id_by_uri.erase(old->second.uri);
    Impl::AccountInfo& info = m.Account(status.account);
    if (old == m.by_id.end()) ++info.statuses;
    info.last_status_ms = std::max(info.last_status_ms, status.created_at_ms);
  }
  for (const auto& mention : status.mentions) m.Account(mention);
  for (const auto& t : status.tags) m.known_tags.insert(AsciiLower(t));
  m.id_by_uri[status.uri] = status.id;
  m.by_id[status.id] = status;
  return status;
}

bool MastodonSim::SetEngagement(const std::string& uri, int64_t favourites, int64_t reblogs,
                                int64_t replies, int64_t quotes) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->id_by_uri.find(uri);
  if (it == impl_->id_by_uri.end()) return false;
  SimStatus& st = impl_->by_id.at(it->second);
  st.favourites = favourites;
  st.reblogs = reblogs;
  st.replies = replies;
  st.quotes = quotes;
  return true;
}

void MastodonSim::SetFaults(const FaultPlan& plan) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults = plan;
}

int64_t MastodonSim::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}

std::map<int, int64_t> MastodonSim::responses_by_status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->by_status;
}

std::set<std::string> MastodonSim::served_uris() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->served;
}

std::vector<SimStatus> MastodonSim::statuses() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<SimStatus> out;
  out.reserve(impl_->by_id.size());
  for (const auto& [id, st] : impl_->by_id) out.push_back(st);
  return out;
}

}  // namespace chorus::sim
