#include "collectors/x_collector.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "collectors/x_parser.h"
#include "core/log.h"
#include "core/time.h"
#include "core/strings.h"

namespace chorus::collectors {
namespace {

constexpr int64_t kDayMs = 86'400'000;
// start_time and since_id must lie within the last 7 days; the margin covers clock skew and the
// time a request takes, so the window never slips past the edge on X's side.
constexpr int64_t kMaxLookbackMs = 7 * kDayMs - 5 * 60'000;
// A usage cap (monthly or daily post reads) does not lift at the next 15-minute window.
constexpr int64_t kUsageCapBackoffMs = 3'600'000;

uint64_t ParseU64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : 0;
}

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

bool IsXUsername(std::string_view s) {
  if (s.empty() || s.size() > 15) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Characters that would change the meaning of a query if a hashtag carried them.
bool IsSafeHashtag(std::string_view s) {
  if (s.empty()) return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '(' || c == ')' ||
           c == ':' || c == '#' || c == '@' || c == '-';
  });
}

// A keyword as an exact-phrase operator: quotes inside it cannot be escaped in X's query
// language, so they become spaces; runs of whitespace collapse.
std::string PhraseTerm(std::string_view keyword) {
  std::string words;
  bool space = false;
  for (char c : keyword) {
    if (c == '"' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !words.empty();
      continue;
    }
    if (space) words += ' ';
    space = false;
    words += c;
  }
  if (words.empty()) return "";
  return "\"" + AsciiLower(words) + "\"";
}

// "2026-03-10T14:05:00Z": X wants second granularity.
std::string FormatStartTime(int64_t unix_s) {
  std::string s = FormatRfc3339Ms(unix_s * 1000);  // "...T14:05:00.000Z"
  const size_t dot = s.rfind('.');
  if (dot != std::string::npos) s = s.substr(0, dot) + "Z";
  return s;
}

std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// X limits each endpoint on its own; the scheduler keeps one budget per source. Reporting the
// most exhausted endpoint whose window is still open keeps that one budget safe for all.
class RateTracker {
 public:
  void Update(const std::string& endpoint, const XRateLimit& rl) {
    if (!rl.remaining && !rl.reset_at_ms) return;
    by_endpoint_[endpoint] = RateLimit{rl.limit, rl.remaining, rl.reset_at_ms};
  }
  void Exhaust(const std::string& endpoint, int64_t reset_at_ms) {
    RateLimit& r = by_endpoint_[endpoint];
    r.remaining = 0;
    r.reset_at_ms = reset_at_ms;
  }
  RateLimit Effective(int64_t now_ms) const {
    RateLimit best;
    for (const auto& [endpoint, r] : by_endpoint_) {
      if (r.reset_at_ms && *r.reset_at_ms <= now_ms) continue;  // that window is over
      if (!r.remaining) continue;
      if (!best.remaining || *r.remaining < *best.remaining) best = r;
    }
    return best;
  }

 private:
  std::map<std::string, RateLimit> by_endpoint_;
};

class XCollector final : public Collector {
 public:
  XCollector(const config::Source& source, std::vector<XQuerySpec> specs,
             std::unique_ptr<HttpTransport> transport, std::string token)
      : source_(source), transport_(std::move(transport)), token_(std::move(token)) {
    page_limit_ = std::clamp(source.page_limit, 10, 100);
    for (auto& spec : specs) {
      queries_.push_back(spec.query);
      specs_.emplace(spec.query.key, std::move(spec));
    }
  }

  const std::vector<Query>& queries() const override { return queries_; }

  size_t refresh_batch_limit() const override { return kXRefreshBatch; }

  FetchResult FetchPage(const Query& query, const PageRequest& req) override {
    FetchResult out;
    auto spec_it = specs_.find(query.key);
    if (spec_it == specs_.end()) {
      out.error = Error::InvalidArgument("x: unknown query '" + query.key + "'");
      return out;
    }
    const XQuerySpec& spec = spec_it->second;
    XCursor cursor = ParseXCursor(req.cursor);
    const int64_t oldest_allowed = req.now_ms - kMaxLookbackMs;

    // Which window this request asks for, and from which token.
    std::string token;
    bool resumed = false;
    if (!req.page_token.empty() && cursor.in_progress()) {
      token = req.page_token;
    } else if (cursor.in_progress() && resume_broken_.count(query.key) == 0 &&
               WindowStartMs(cursor) > oldest_allowed) {
      token = cursor.next_token;
      resumed = true;
    } else {
      StartPoll(cursor, req.now_ms);
    }

    std::string path;
    if (!spec.search.empty()) {
      path = "/2/tweets/search/recent?query=" + UrlEncode(spec.search);
    } else {
      auto user_id = ResolveUser(spec.username, req.now_ms, out);
      if (!user_id) {
        // An error is set, or the account does not exist: nothing to read this time.
        if (!out.error) out.cursor = req.cursor;
        return out;
      }
      path = "/2/users/" + *user_id + "/tweets?";
    }
    path += (spec.search.empty() ? "" : "&");
    path += "max_results=" + std::to_string(page_limit_);
    if (cursor.since_id > 0) {
      path += "&since_id=" + std::to_string(cursor.since_id);
    } else {
      path += "&start_time=" + UrlEncode(FormatStartTime(cursor.start_s));
    }
    if (!token.empty()) {
      path += (spec.search.empty() ? "&pagination_token=" : "&next_token=") + UrlEncode(token);
    }
    path += FieldParams();

    const std::string endpoint = spec.search.empty() ? "users_tweets" : "search_recent";
    auto res = Get(path, endpoint, req.now_ms, out);
    if (!res) {
      if (resumed && out.http_status == 400) {
        resume_broken_.insert(query.key);
        LogWarn(
            "source=" + source_.name + " query=\"" + query.description +
            "\" the saved page token was rejected; the next poll starts again from the watermark");
      }
      if (!spec.search.empty() || out.http_status != 404) return out;
      user_ids_.erase(spec.username);  // a stale id: resolve again next time
      return out;
    }
    resume_broken_.erase(query.key);

    auto page = ParseXPostsPage(res->body);
    if (!page) {
      out.error = page.error();
      return out;
    }
    LogPartialErrors(query.description, *page, false);

    cursor.poll_newest =
        std::max({cursor.poll_newest, page->max_data_id, ParseU64(page->newest_id)});
    if (page->next_token.empty()) {
      cursor = XCursor{std::max(cursor.watermark, cursor.poll_newest), 0, 0, 0, ""};
    } else {
      cursor.next_token = page->next_token;
      out.next_page_token = page->next_token;
    }
    out.cursor = FormatXCursor(cursor);
    out.posts = std::move(page->posts);
    return out;
  }

  FetchResult Refresh(const std::vector<std::string>& local_ids, int64_t now_ms) override {
    FetchResult out;
    std::string ids;
    size_t n = 0;
    for (const auto& id : local_ids) {
      if (!ParseXId(id)) continue;  // not an X post id: X would reject the whole request
      if (!ids.empty()) ids += ',';
      ids += id;
      ++n;
    }
    if (n == 0) return out;
    if (n > kXRefreshBatch) {
      out.error = Error::InvalidArgument("x: at most " + std::to_string(kXRefreshBatch) +
                                         " ids per refresh, got " + std::to_string(n));
      return out;
    }
    auto res = Get("/2/tweets?ids=" + UrlEncode(ids) + FieldParams(), "tweets_lookup", now_ms, out);
    if (!res) return out;
    auto page = ParseXPostsPage(res->body);
    if (!page) {
      out.error = page.error();
      return out;
    }
    LogPartialErrors("refresh", *page, true);
    out.posts = std::move(page->posts);
    return out;
  }

 private:
  static std::string FieldParams() {
    return std::string("&expansions=") + UrlEncode(kXExpansions) +
           "&tweet.fields=" + UrlEncode(kXTweetFields) + "&user.fields=" + UrlEncode(kXUserFields);
  }

  static int64_t WindowStartMs(const XCursor& c) {
    return c.since_id > 0 ? XTimeMsFromId(c.since_id) : c.start_s * 1000;
  }

  // Sets the window of a new poll into `c`, keeping its watermark.
  void StartPoll(XCursor& c, int64_t now_ms) const {
    const int64_t oldest_allowed = now_ms - kMaxLookbackMs;
    c = XCursor{c.watermark, 0, 0, 0, ""};
    if (c.watermark > 0) {
      const int64_t from = XTimeMsFromId(c.watermark) - std::max<int64_t>(source_.overlap_ms, 0);
      if (from > oldest_allowed) {
        c.since_id =
            source_.overlap_ms > 0 ? std::min(c.watermark, XIdFromTimeMs(from)) : c.watermark;
        if (c.since_id > 0) return;
      }
      // Down for longer than the search window: read all of it.
      c.start_s = (oldest_allowed + 999) / 1000;
      return;
    }
    const int64_t from =
        std::max(now_ms - std::max<int64_t>(source_.backfill_ms, 0), oldest_allowed);
    c.start_s = (from + 999) / 1000;
  }

  // GETs `path` and maps the answer: a 200 is returned, anything else sets out.error. Always sets
  // out.http_status and out.rate.
  std::optional<HttpResponse> Get(const std::string& path, const std::string& endpoint,
                                  int64_t now_ms, FetchResult& out) {
    auto res = transport_->Get(path, {{"Authorization", "Bearer " + token_}});
    if (!res) {
      out.error = res.error();
      out.rate = rates_.Effective(now_ms);
      return std::nullopt;
    }
    out.http_status = res->status;
    const XRateLimit rl =
        ParseXRateLimit(res->Header("x-rate-limit-limit"), res->Header("x-rate-limit-remaining"),
                        res->Header("x-rate-limit-reset"));
    rates_.Update(endpoint, rl);
    const int status = res->status;
    if (status == 200) {
      out.rate = rates_.Effective(now_ms);
      return std::move(*res);
    }
    const auto problem = ParseXProblem(res->body);
    const std::string summary = problem ? problem->Summary() : "HTTP " + std::to_string(status);
    if (status == 429) {
      if (problem && problem->Kind() == "usage-capped") {
        // Waiting for the 15-minute window is pointless: the cap is daily or monthly.
        rates_.Exhaust(endpoint, std::max(rl.reset_at_ms.value_or(0), now_ms + kUsageCapBackoffMs));
        out.error = Error::RateLimited("usage cap reached (" + problem->period + " " +
                                       problem->scope + "): " + summary);
      } else {
        if (rl.reset_at_ms) rates_.Exhaust(endpoint, *rl.reset_at_ms);
        out.error = Error::RateLimited(summary);
      }
    } else if (status == 401 || status == 403) {
      out.error = Error::Unauthenticated("HTTP " + std::to_string(status) + ": " + summary);
    } else if (status == 400) {
      out.error = Error::InvalidArgument("HTTP 400: " + summary);
    } else if (status == 404) {
      out.error = Error::NotFound("HTTP 404: " + summary);
    } else {
      out.error = Error::Unavailable("HTTP " + std::to_string(status) + ": " + summary);
    }
    out.rate = rates_.Effective(now_ms);
    if (status == 429 && !out.rate.reset_at_ms) {
      out.rate = RateLimit{rl.limit, 0, rl.reset_at_ms};
    }
    return std::nullopt;
  }

  // The numeric id of `username`, looked up once. nullopt with out.error set on failure, or
  // without it when the account does not exist (warned about once).
  std::optional<std::string> ResolveUser(const std::string& username, int64_t now_ms,
                                         FetchResult& out) {
    auto cached = user_ids_.find(username);
    if (cached != user_ids_.end()) return cached->second;
    auto res = Get(
        "/2/users/by/username/" + UrlEncode(username) + "?user.fields=" + UrlEncode(kXUserFields),
        "users_by_username", now_ms, out);
    if (!res) {
      if (out.http_status == 404) {
        out.error.reset();
        WarnMissingUser(username, "HTTP 404");
      }
      return std::nullopt;
    }
    auto user = ParseXUserLookup(res->body);
    if (!user) {
      if (user.error().code == ErrorCode::kNotFound) {
        WarnMissingUser(username, user.error().message);
        return std::nullopt;
      }
      out.error = user.error();
      return std::nullopt;
    }
    missing_users_.erase(username);
    user_ids_[username] = user->id;
    return user->id;
  }

  void WarnMissingUser(const std::string& username, const std::string& why) {
    if (!missing_users_.insert(username).second) return;
    LogWarn("source=" + source_.name + " policymaker account @" + username +
            " cannot be read on X (" + why + "); its own posts are skipped until it can");
  }

  void LogPartialErrors(const std::string& what, const XPage& page, bool refresh) const {
    if (page.errors.empty()) return;
    size_t not_found = 0;
    for (const auto& e : page.errors) not_found += e.Kind() == "resource-not-found";
    const std::string line = "source=" + source_.name + " query=\"" + what + "\" " +
                             std::to_string(page.errors.size()) +
                             " partial error(s) in a 200, first: " + page.errors.front().Summary();
    // Posts deleted since they were stored are expected when refreshing.
    if (refresh && not_found == page.errors.size()) {
      LogDebug(line);
    } else {
      LogWarn(line);
    }
  }

  config::Source source_;
  std::unique_ptr<HttpTransport> transport_;
  std::string token_;
  int page_limit_ = 100;
  std::vector<Query> queries_;
  std::map<std::string, XQuerySpec> specs_;
  std::map<std::string, std::string> user_ids_;  // username -> id, resolved once
  std::set<std::string> missing_users_;          // warned about already
  std::set<std::string> resume_broken_;          // queries whose saved token was rejected
  RateTracker rates_;
};

}  // namespace

XCursor ParseXCursor(std::string_view text) {
  XCursor c;
  const size_t a = text.find('/');
  c.watermark = ParseU64(text.substr(0, a));
  if (a == std::string_view::npos) return c;
  const size_t b = text.find('/', a + 1);
  const size_t d = b == std::string_view::npos ? b : text.find('/', b + 1);
  if (d == std::string_view::npos) return c;  // malformed: treat as complete
  const std::string_view window = text.substr(b + 1, d - b - 1);
  const std::string_view token = text.substr(d + 1);
  if (window.size() < 2 || token.empty()) return c;
  if (window[0] == 's') {
    c.since_id = ParseU64(window.substr(1));
    if (c.since_id == 0) return c;
  } else if (window[0] == 't') {
    c.start_s = static_cast<int64_t>(ParseU64(window.substr(1)));
    if (c.start_s == 0) return c;
  } else {
    return c;
  }
  c.poll_newest = ParseU64(text.substr(a + 1, b - a - 1));
  c.next_token = std::string(token);
  return c;
}

std::string FormatXCursor(const XCursor& c) {
  std::string out = std::to_string(c.watermark);
  if (!c.in_progress()) return out;
  out += "/" + std::to_string(c.poll_newest) + "/";
  out += c.since_id > 0 ? "s" + std::to_string(c.since_id) : "t" + std::to_string(c.start_s);
  out += "/" + c.next_token;
  return out;
}

std::vector<XQuerySpec> BuildXQueries(const config::Config& config, size_t max_query_chars) {
  // Sorted and deduplicated, so the packing (and so every query key) depends only on the set of
  // terms, not on their order in the file.
  std::set<std::string> terms;
  std::set<std::string> handles;
  for (const auto& c : config.campaigns) {
    for (const auto& tag : c.hashtags) {
      std::string t = AsciiLower(tag);
      if (!t.empty() && t.front() == '#') t.erase(0, 1);
      if (IsSafeHashtag(t)) {
        terms.insert("#" + t);
      } else {
        LogWarn("x: hashtag '" + tag + "' of campaign " + c.name +
                " cannot be searched on X; skipped");
      }
    }
    for (const auto& kw : c.keywords) {
      std::string phrase = PhraseTerm(kw);
      if (!phrase.empty()) terms.insert(std::move(phrase));
    }
  }
  for (const auto& p : config.policymakers) {
    auto it = p.accounts.find(Platform::kX);
    if (it == p.accounts.end()) continue;
    std::string handle = AsciiLower(it->second);
    if (!handle.empty() && handle.front() == '@') handle.erase(0, 1);
    if (!IsXUsername(handle)) {
      LogWarn("x: account '" + it->second + "' of policymaker " + p.id +
              " is not an X username; skipped");
      continue;
    }
    terms.insert("@" + handle);
    handles.insert(handle);
  }

  std::vector<XQuerySpec> out;
  std::vector<std::string> group;
  size_t group_len = 0;  // length of "(" + join(group, " OR ") + ")"
  auto flush = [&] {
    if (group.empty()) return;
    XQuerySpec spec;
    spec.search = "(";
    for (size_t i = 0; i < group.size(); ++i) {
      if (i > 0) spec.search += " OR ";
      spec.search += group[i];
      if (group[i].front() == '#') spec.query.hashtags.push_back(group[i].substr(1));
    }
    spec.search += ")";
    spec.query.key = "search:" + Hex16(Fnv1a64(spec.search));
    spec.query.description = spec.search;
    out.push_back(std::move(spec));
    group.clear();
    group_len = 0;
  };
  for (const auto& term : terms) {
    if (term.size() + 2 > max_query_chars) {
      LogWarn("x: search term " + term.substr(0, 40) +
              "... is longer than a whole X query; skipped");
      continue;
    }
    const size_t added = group.empty() ? term.size() + 2 : term.size() + 4;
    if (group_len + added > max_query_chars) flush();
    group_len += group.empty() ? term.size() + 2 : term.size() + 4;
    group.push_back(term);
  }
  flush();

  for (const auto& handle : handles) {
    XQuerySpec spec;
    spec.username = handle;
    spec.query.key = "user:" + handle;
    spec.query.account = handle;
    spec.query.description = "posts of @" + handle;
    out.push_back(std::move(spec));
  }
  return out;
}

Result<std::unique_ptr<Collector>> MakeXCollector(const config::Source& source,
                                                  const config::Config& config,
                                                  std::unique_ptr<HttpTransport> transport) {
  if (source.token_env.empty()) {
    return Fail(Error::InvalidArgument("source '" + source.name +
                                       "': platform x needs token_env, the name of the environment "
                                       "variable holding the API bearer token"));
  }
  const char* v = std::getenv(source.token_env.c_str());
  if (v == nullptr || *v == '\0') {
    return Fail(Error::Unauthenticated("source '" + source.name + "': environment variable " +
                                       source.token_env + " is not set"));
  }
  if (!transport)
    return Fail(Error::InvalidArgument("source '" + source.name + "': no HTTP transport"));
  return std::unique_ptr<Collector>(
      new XCollector(source, BuildXQueries(config), std::move(transport), std::string(v)));
}

}  // namespace chorus::collectors
