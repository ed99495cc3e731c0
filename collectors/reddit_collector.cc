#include "collectors/reddit_collector.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>

#include "collectors/reddit_parser.h"
#include "core/strings.h"

namespace chorus::collectors {
namespace {

constexpr size_t kRefreshBatchLimit = 100;  // /api/info takes at most 100 fullnames
constexpr int64_t kRefreshMarginMs = 60'000;
// A page token starting with this has already restarted its poll from the top once.
constexpr char kRestartedMark = '~';

int64_t ParseI64(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : 0;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string TrimSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// What one Query asks Reddit: a site-wide search or a user's submissions.
struct QuerySpec {
  enum class Kind { kSearch, kSubmitted } kind = Kind::kSearch;
  std::string q;     // search text, as sent
  std::string user;  // kSubmitted: the account name
};

class RedditCollector final : public Collector {
 public:
  RedditCollector(const config::Source& source, std::vector<std::pair<Query, QuerySpec>> queries,
                  std::unique_ptr<HttpTransport> api, std::unique_ptr<HttpTransport> auth,
                  std::string client_id, std::string client_secret)
      : source_(source),
        api_(std::move(api)),
        auth_(std::move(auth)),
        basic_(Base64(client_id + ":" + client_secret)) {
    for (auto& [q, spec] : queries) {
      specs_.emplace(q.key, std::move(spec));
      queries_.push_back(std::move(q));
    }
  }

  const std::vector<Query>& queries() const override { return queries_; }

  FetchResult FetchPage(const Query& query, const PageRequest& req) override {
    FetchResult out;
    auto it = specs_.find(query.key);
    if (it == specs_.end()) {
      out.error = Error::Internal("reddit: unknown query '" + query.key + "'");
      return out;
    }
    const QuerySpec& spec = it->second;
    const RedditCursor cursor = ParseRedditCursor(req.cursor);
    const bool continuing = !req.page_token.empty();
    bool restarted = false;
    std::string after;
    if (continuing) {
      restarted = req.page_token.front() == kRestartedMark;
      after = restarted ? req.page_token.substr(1) : req.page_token;
    } else {
      after = cursor.resume_after;
    }
    const bool mid_poll = continuing || !cursor.resume_after.empty();
    int64_t poll_newest = mid_poll ? cursor.poll_newest_ms : 0;
    const int64_t watermark = cursor.watermark_ms;
    const bool first_poll = watermark == 0;
    const int64_t floor_ms =
        first_poll ? req.now_ms - source_.backfill_ms : watermark - source_.overlap_ms;

    std::string path;
    if (spec.kind == QuerySpec::Kind::kSearch) {
      path = "/search?q=" + UrlEncode(spec.q) + "&sort=new&type=link&restrict_sr=false";
    } else {
      path = "/user/" + UrlEncode(spec.user) + "/submitted?sort=new";
    }
    path += "&limit=" + std::to_string(source_.page_limit) + "&raw_json=1";
    if (!after.empty()) path += "&after=" + UrlEncode(after);

    auto res = Send(path, req.now_ms, out);
    if (!res) return out;
    auto listing = ParseRedditListing(res->body);
    if (!listing) {
      out.error = listing.error();
      return out;
    }

    const size_t children = listing->posts.size() + static_cast<size_t>(listing->skipped_children);
    if (!listing->posts.empty()) {
      // A post dated in the future (clock skew) must not push the watermark past now.
      poll_newest = std::max(poll_newest, std::min(listing->newest_created_ms, req.now_ms));
    }
    bool done;
    if (children == 0) {
      if (!after.empty() && !restarted) {
        // The anchor of `after` is gone (deleted, removed, fell out of the index): nothing after
        // it can be reached, so walk once more from the top; dedupe absorbs the re-read.
        // The newest time seen so far is dropped with the resume point: the walk from the top
        // sees it again.
        out.next_page_token = std::string(1, kRestartedMark);
        out.cursor = watermark == 0 ? "" : FormatRedditCursor({watermark, 0, ""});
        return out;
      }
      done = true;
    } else {
      done = (!listing->posts.empty() && listing->oldest_created_ms < floor_ms) ||
             listing->after.empty() || listing->after == after;
    }

    if (done) {
      const int64_t next_watermark = std::max(watermark, poll_newest);
      out.cursor = next_watermark == 0 ? "" : FormatRedditCursor({next_watermark, 0, ""});
    } else {
      out.next_page_token = (restarted ? std::string(1, kRestartedMark) : "") + listing->after;
      out.cursor = FormatRedditCursor({watermark, poll_newest, listing->after});
    }
    out.posts = std::move(listing->posts);
    if (first_poll) {
      // The first poll reaches back `backfill` and no further.
      std::erase_if(out.posts, [&](const Post& p) { return p.created_at_ms < floor_ms; });
    }
    return out;
  }

  size_t refresh_batch_limit() const override { return kRefreshBatchLimit; }

  FetchResult Refresh(const std::vector<std::string>& local_ids, int64_t now_ms) override {
    FetchResult out;
    if (local_ids.empty()) return out;
    if (local_ids.size() > kRefreshBatchLimit) {
      out.error = Error::InvalidArgument("reddit /api/info takes at most " +
                                         std::to_string(kRefreshBatchLimit) + " ids, got " +
                                         std::to_string(local_ids.size()));
      return out;
    }
    std::string ids;
    for (const auto& id : local_ids) {
      if (!ids.empty()) ids += ',';
      ids += UrlEncode(id);
    }
    auto res = Send("/api/info?id=" + ids + "&raw_json=1", now_ms, out);
    if (!res) return out;
    auto listing = ParseRedditListing(res->body);
    if (!listing) {
      out.error = listing.error();
      return out;
    }
    out.posts = std::move(listing->posts);
    return out;
  }

 private:
  HttpTransport& auth_transport() { return auth_ ? *auth_ : *api_; }

  // Fetches a token when there is none or it is about to expire. Sets out.error (and the token
  // endpoint's status) and returns false when no token could be had.
  bool EnsureToken(int64_t now_ms, FetchResult& out) {
    if (!token_.empty() && now_ms < refresh_at_ms_) return true;
    token_.clear();
    HeaderList headers = {{"Authorization", "Basic " + basic_}};
    auto res =
        auth_transport().Post("/api/v1/access_token", headers, "grant_type=client_credentials",
                              "application/x-www-form-urlencoded");
    if (!res) {
      out.error = Error::Unavailable("reddit token endpoint: " + res.error().message);
      return false;
    }
    out.http_status = res->status;
    const int status = res->status;
    if (status == 200 && !LooksLikeHtml(res->body)) {
      auto token = ParseRedditToken(res->body);
      if (!token) {
        out.error = token.error();
        if (out.error->code == ErrorCode::kUnauthenticated) out.error->message += CredentialHint();
        return false;
      }
      const int64_t lifetime_ms = token->expires_in_s * 1000;
      token_ = std::move(token->access_token);
      refresh_at_ms_ = now_ms + lifetime_ms - std::min(kRefreshMarginMs, lifetime_ms / 2);
      return true;
    }
    const std::string what = "reddit token endpoint answered HTTP " + std::to_string(status);
    if (status == 429) {
      out.error = Error::RateLimited(what);
      out.rate.remaining = 0;
      if (auto s = ParseI64(res->Header("retry-after")); s > 0) {
        out.rate.reset_at_ms = now_ms + s * 1000;
      }
    } else if (!ParseRedditError(res->body)) {
      // An edge page (a block for a missing or generic User-Agent, an outage): transient.
      out.error =
          Error::Unavailable(what + ": an HTML or non-JSON page instead of an API answer" +
                             (status == 403 ? " (blocked at the edge? check user_agent)" : ""));
    } else if (status == 401 || status == 403) {
      out.error = Error::Unauthenticated(what + ": client credentials rejected" + CredentialHint());
    } else {
      out.error = Error::Unavailable(what);
    }
    return false;
  }

  std::string CredentialHint() const {
    return " (check the env vars " + source_.client_id_env + " and " + source_.client_secret_env +
           ")";
  }

  // GETs `path` with a bearer token, renewing the token once on a 401. On success the response is
  // a 200 with a body that is not HTML; otherwise out.error says why and nullopt is returned.
  // out.http_status and out.rate are set from the last response.
  std::optional<HttpResponse> Send(const std::string& path, int64_t now_ms, FetchResult& out) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!EnsureToken(now_ms, out)) return std::nullopt;
      auto res = api_->Get(path, {{"Authorization", "bearer " + token_}});
      if (!res) {
        out.http_status = 0;
        out.error = res.error();
        return std::nullopt;
      }
      out.http_status = res->status;
      const RedditRateLimit rl = ParseRedditRateLimit(res->Header("x-ratelimit-used"),
                                                      res->Header("x-ratelimit-remaining"),
                                                      res->Header("x-ratelimit-reset"), now_ms);
      out.rate = {rl.limit, rl.remaining, rl.reset_at_ms};
      if (res->status == 401 && attempt == 0) {
        // Expired or revoked before its time: a fresh token, then the same request once more.
        token_.clear();
        continue;
      }
      if (Accept(*res, now_ms, out)) return std::move(*res);
      return std::nullopt;
    }
    return std::nullopt;  // not reached: the second attempt always returns
  }

  // Translates a response's status and body into out.error; true for a usable 200.
  bool Accept(const HttpResponse& res, int64_t now_ms, FetchResult& out) {
    const int status = res.status;
    const bool html = LooksLikeHtml(res.body);
    if (status == 200 && !html) return true;
    std::string what = "HTTP " + std::to_string(status);
    if (status == 429) {
      out.rate.remaining = 0;
      if (!out.rate.reset_at_ms) {
        if (auto s = ParseI64(res.Header("retry-after")); s > 0) {
          out.rate.reset_at_ms = now_ms + s * 1000;
        }
      }
      out.error = Error::RateLimited(what + ": Too Many Requests");
      return false;
    }
    const auto api_error = ParseRedditError(res.body);
    if (!api_error) {
      // Reddit's edge answers blocks ("whoa there, pardner!", "blocked by network security") and
      // outages with HTML, whatever the status: transient from here, so retried with backoff.
      out.error = Error::Unavailable(what + ": an HTML or non-JSON page instead of an API answer" +
                                     (status == 403 ? " (blocked at the edge?)" : ""));
      return false;
    }
    if (!api_error->message.empty()) what += " " + api_error->message;
    if (!api_error->reason.empty()) what += " (" + api_error->reason + ")";
    if (status == 401 || status == 403) {
      out.error = Error::Unauthenticated(what);
    } else if (status == 404) {
      out.error = Error::NotFound(what);
    } else if (status >= 400 && status < 500 && status != 408) {
      out.error = Error::InvalidArgument(what);
    } else {
      out.error = Error::Unavailable(what);
    }
    return false;
  }

  config::Source source_;
  std::vector<Query> queries_;
  std::map<std::string, QuerySpec> specs_;
  std::unique_ptr<HttpTransport> api_;
  std::unique_ptr<HttpTransport> auth_;  // nullptr: the token endpoint is on api_
  std::string basic_;                    // base64(client_id:client_secret)
  std::string token_;
  int64_t refresh_at_ms_ = 0;
};

std::vector<std::pair<Query, QuerySpec>> BuildQueries(const config::Config& config) {
  // Each term once, in a stable order, so query keys (and cursors) survive reloads that only
  // reorder the config.
  std::set<std::string> tags, keywords, accounts;
  std::map<std::string, std::string> keyword_as_written;
  for (const auto& c : config.campaigns) {
    tags.insert(c.hashtags.begin(), c.hashtags.end());
    for (const auto& k : c.keywords) {
      const std::string lower = AsciiLower(k);
      if (keywords.insert(lower).second) keyword_as_written[lower] = k;
    }
  }
  for (const auto& p : config.policymakers) {
    auto it = p.accounts.find(Platform::kReddit);
    if (it != p.accounts.end() && !it->second.empty()) accounts.insert(it->second);
  }
  std::vector<std::pair<Query, QuerySpec>> out;
  for (const auto& tag : tags) {
    Query q{"search:#" + tag, "#" + tag, {tag}};
    out.emplace_back(std::move(q), QuerySpec{QuerySpec::Kind::kSearch, "#" + tag, ""});
  }
  for (const auto& k : keywords) {
    // Inner quotes would end the phrase early; the matcher works on the text either way.
    std::string phrase = keyword_as_written[k];
    std::replace(phrase.begin(), phrase.end(), '"', ' ');
    Query q{"search:\"" + k + "\"", "\"" + phrase + "\"", {}};
    out.emplace_back(std::move(q), QuerySpec{QuerySpec::Kind::kSearch, "\"" + phrase + "\"", ""});
  }
  for (const auto& a : accounts) {
    Query q{"search:u/" + a, "u/" + a, {}};
    out.emplace_back(std::move(q), QuerySpec{QuerySpec::Kind::kSearch, "u/" + a, ""});
  }
  for (const auto& a : accounts) {
    Query q{"user:" + a, "posts of u/" + a, {}};
    q.account = a;
    out.emplace_back(std::move(q), QuerySpec{QuerySpec::Kind::kSubmitted, "", a});
  }
  return out;
}

Result<std::string> ReadEnv(const config::Source& source, const std::string& name,
                            std::string_view key) {
  if (name.empty()) {
    return Fail(
        Error::InvalidArgument("source '" + source.name + "': reddit needs " + std::string(key)));
  }
  const char* v = std::getenv(name.c_str());
  if (v == nullptr || *v == '\0') {
    return Fail(Error::Unauthenticated("source '" + source.name + "': environment variable " +
                                       name + " is not set"));
  }
  return std::string(v);
}

}  // namespace

RedditCursor ParseRedditCursor(std::string_view text) {
  RedditCursor c;
  const size_t first = text.find('/');
  c.watermark_ms = ParseI64(text.substr(0, first));
  if (first == std::string_view::npos) return c;
  const std::string_view rest = text.substr(first + 1);
  const size_t second = rest.find('/');
  c.poll_newest_ms = ParseI64(rest.substr(0, second));
  if (second != std::string_view::npos) c.resume_after = std::string(rest.substr(second + 1));
  return c;
}

std::string FormatRedditCursor(const RedditCursor& c) {
  std::string out = std::to_string(c.watermark_ms);
  if (!c.resume_after.empty()) {
    out += "/" + std::to_string(c.poll_newest_ms) + "/" + c.resume_after;
  }
  return out;
}

Result<std::unique_ptr<Collector>> MakeRedditCollectorWithAuth(
    const config::Source& source, const config::Config& config, std::unique_ptr<HttpTransport> api,
    std::unique_ptr<HttpTransport> auth) {
  if (source.user_agent.empty()) {
    return Fail(Error::InvalidArgument("source '" + source.name +
                                       "': reddit needs a descriptive user_agent, such as "
                                       "\"linux:org.example.chorus:v1.0 (by /u/your_account)\""));
  }
  auto id = ReadEnv(source, source.client_id_env, "client_id_env");
  if (!id) return Fail(id.error());
  auto secret = ReadEnv(source, source.client_secret_env, "client_secret_env");
  if (!secret) return Fail(secret.error());
  return std::unique_ptr<Collector>(new RedditCollector(source, BuildQueries(config),
                                                        std::move(api), std::move(auth),
                                                        std::move(*id), std::move(*secret)));
}

Result<std::unique_ptr<Collector>> MakeRedditCollector(const config::Source& source,
                                                       const config::Config& config,
                                                       std::unique_ptr<HttpTransport> transport) {
  std::unique_ptr<HttpTransport> auth;
  const std::string auth_url = TrimSlashes(source.auth_url);
  if (!auth_url.empty() && auth_url != TrimSlashes(source.base_url)) {
    HttpClientOptions options;
    options.user_agent = source.user_agent;
    options.read_timeout_ms = source.timeout_ms;
    options.connect_timeout_ms = std::min<int64_t>(source.timeout_ms, 5'000);
    auto client = MakeHttpClient(auth_url, options);
    if (!client) return Fail(client.error());
    auth = std::move(*client);
  }
  return MakeRedditCollectorWithAuth(source, config, std::move(transport), std::move(auth));
}

}  // namespace chorus::collectors
