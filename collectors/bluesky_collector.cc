#include "collectors/bluesky_collector.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "collectors/bluesky_parser.h"
#include "core/json_escape.h"
#include "core/time.h"
#include "core/strings.h"

namespace chorus::collectors {
namespace {

constexpr size_t kBatch = 25;      // getProfiles actors, getPosts uris
constexpr int kMaxEmptyPages = 3;  // empty pages with a cursor followed before giving up
constexpr int64_t kResolveRetryMs = 5 * 60'000;
constexpr int64_t kLoginRetryMs = 5 * 60'000;
constexpr size_t kMaxFollowerCache = 200'000;  // distinct authors remembered before forgetting all
constexpr size_t kMaxServerMessage = 200;

std::optional<int64_t> ParseI64(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

struct QuerySpec {
  enum class Kind { kTag, kKeyword, kMentions, kAuthor };
  Kind kind = Kind::kTag;
  std::string value;  // tag, keyword as configured, or policymaker handle
};

struct Policymaker {
  std::string handle;
  std::string did;
  int64_t retry_at_ms = 0;
  int64_t attempted_at_ms = -1;
  std::optional<Error> last_error;
};

struct Session {
  std::string access_jwt;
  std::string refresh_jwt;
};

class BlueskyCollector final : public Collector {
 public:
  BlueskyCollector(const config::Source& source, const BlueskyCollectorOptions& options,
                   std::unique_ptr<HttpTransport> transport, std::string identifier,
                   std::string password)
      : source_(source),
        options_(options),
        transport_(std::move(transport)),
        identifier_(std::move(identifier)),
        password_(std::move(password)),
        page_limit_(std::clamp(source.page_limit, 1, 100)) {
    if (options_.search_depth_cap < 1) options_.search_depth_cap = 10'000;
  }

  void AddQuery(std::string key, std::string description, QuerySpec spec) {
    if (specs_.count(key) != 0) return;
    Query q;
    q.key = key;
    q.description = std::move(description);
    if (spec.kind == QuerySpec::Kind::kTag) q.hashtags = {spec.value};
    queries_.push_back(std::move(q));
    specs_.emplace(std::move(key), std::move(spec));
  }

  void AddPolicymaker(const std::string& handle) {
    for (const auto& p : policymakers_) {
      if (p.handle == handle) return;
    }
    policymakers_.push_back({handle, "", 0});
  }

  const std::vector<Query>& queries() const override { return queries_; }

  FetchResult FetchPage(const Query& query, const PageRequest& req) override {
    FetchResult out;
    auto it = specs_.find(query.key);
    if (it == specs_.end()) {
      out.error = Error::InvalidArgument("bluesky: unknown query '" + query.key + "'");
      return out;
    }
    // Known DIDs let every page map mentions and authors back to configured handles.
    ResolvePolicymakers(req.now_ms, out);
    if (it->second.kind == QuerySpec::Kind::kAuthor) return FetchAuthorFeed(it->second, req, out);
    return FetchSearch(it->second, req, out);
  }

  size_t refresh_batch_limit() const override { return kBatch; }

  FetchResult Refresh(const std::vector<std::string>& local_ids, int64_t now_ms) override {
    FetchResult out;
    if (local_ids.empty()) return out;
    if (local_ids.size() > kBatch) {
      out.error = Error::InvalidArgument("bluesky: getPosts takes at most 25 uris, got " +
                                         std::to_string(local_ids.size()));
      return out;
    }
    std::string path = "/xrpc/app.bsky.feed.getPosts?";
    for (size_t i = 0; i < local_ids.size(); ++i) {
      if (i > 0) path += '&';
      path += "uris=" + UrlEncode(local_ids[i]);
    }
    auto res = Get(path, now_ms, out);
    if (!res) {
      out.error = res.error();
      return out;
    }
    if (res->status != 200) {
      out.error = StatusError(*res, "getPosts");
      return out;
    }
    auto page = ParseBlueskyPosts(res->body);
    if (!page) {
      out.error = page.error();
      return out;
    }
    for (auto& bp : page->posts) {
      // Reach is fixed at first sight; use what is known without spending requests on it.
      if (auto f = followers_.find(bp.author_did); f != followers_.end()) {
        bp.post.author_followers = f->second;
      }
      out.posts.push_back(MapToConfigured(std::move(bp)));
    }
    return out;
  }

 private:
  // ---- HTTP and session ----

  bool HasCredentials() const { return !identifier_.empty(); }

  // Server-provided text can echo what it was sent; nothing secret leaves this class.
  std::string Redact(std::string text) const {
    auto scrub = [&](const std::string& secret) {
      if (secret.size() < 4) return;
      for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
        text.replace(at, secret.size(), "[redacted]");
      }
    };
    scrub(password_);
    scrub(identifier_);
    if (session_) {
      scrub(session_->access_jwt);
      scrub(session_->refresh_jwt);
    }
    if (text.size() > kMaxServerMessage) text = text.substr(0, kMaxServerMessage) + "...";
    return text;
  }

  void ApplyRate(const HttpResponse& res, int64_t now_ms, FetchResult& out) const {
    const auto rl =
        ParseBlueskyRateLimit(res.Header("ratelimit-limit"), res.Header("ratelimit-remaining"),
                              res.Header("ratelimit-reset"), res.Header("retry-after"), now_ms);
    if (rl.limit || rl.remaining || rl.reset_at_ms)
      out.rate = {rl.limit, rl.remaining, rl.reset_at_ms};
    if (res.status == 429) {
      out.rate.remaining = 0;
      // Neither header: the scheduler falls back to its own wait.
    }
  }

  // What an unsuccessful status means, for the scheduler (code) and for people (message).
  Error StatusError(const HttpResponse& res, std::string_view method) const {
    const auto xe = ParseBlueskyError(res.body);
    std::string detail = std::string(method) + ": HTTP " + std::to_string(res.status);
    if (xe) {
      detail += " " + xe->error;
      if (!xe->message.empty()) detail += ": " + xe->message;
    } else if (!res.body.empty()) {
      detail += " (not an XRPC error body: a CDN or proxy answered)";
    }
    detail = Redact(std::move(detail));
    const int s = res.status;
    if (s == 429) return Error::RateLimited(detail);
    if (s == 401) return Error::Unauthenticated(detail);
    if (s == 403) {
      if (method == "searchPosts" && !HasCredentials()) {
        detail += "; searchPosts needs a session: set identifier_env and password_env";
      }
      return Error::Unauthenticated(detail);
    }
    if (s == 400 && xe && (xe->error == "ExpiredToken" || xe->error == "InvalidToken")) {
      return Error::Unauthenticated(detail);
    }
    if (s == 400) return Error::InvalidArgument(detail);
    if (s == 404 || s == 501) return Error::NotFound(detail);
    return Error::Unavailable(detail);
  }

  Result<void> CreateSession(int64_t now_ms, FetchResult& out) {
    session_.reset();
    // Rejected credentials stay rejected for a while: createSession is limited to 30 per 5 min
    // and 300 a day per account, and every query of every poll would otherwise try again.
    if (login_error_ && now_ms < login_retry_at_ms_) return Fail(*login_error_);
    std::string body = "{\"identifier\":";
    AppendJsonString(&body, identifier_);
    body += ",\"password\":";
    AppendJsonString(&body, password_);
    body += '}';
    auto res =
        transport_->Post("/xrpc/com.atproto.server.createSession", {}, body, "application/json");
    if (!res) return Fail(Error::Unavailable("createSession: " + Redact(res.error().message)));
    out.http_status = res->status;
    ApplyRate(*res, now_ms, out);
    if (res->status == 200) {
      auto s = ParseBlueskySession(res->body);
      if (!s) return Fail(s.error());
      session_ = Session{std::move(s->access_jwt), std::move(s->refresh_jwt)};
      login_error_.reset();
      return {};
    }
    Error e = StatusError(*res, "createSession");
    if (res->status == 400 || res->status == 401) {
      e = Error::Unauthenticated(e.message + " (credentials from " + source_.identifier_env +
                                 " / " + source_.password_env + ")");
      login_error_ = e;
      login_retry_at_ms_ = now_ms + kLoginRetryMs;
    }
    return Fail(std::move(e));
  }

  // Trades the refresh token for a new pair; when that is refused, logs in again.
  Result<void> RefreshSession(int64_t now_ms, FetchResult& out) {
    if (!session_ || session_->refresh_jwt.empty()) return CreateSession(now_ms, out);
    const HeaderList headers{{"Authorization", "Bearer " + session_->refresh_jwt}};
    auto res = transport_->Post("/xrpc/com.atproto.server.refreshSession", headers, "", "");
    if (!res) return Fail(Error::Unavailable("refreshSession: " + Redact(res.error().message)));
    out.http_status = res->status;
    ApplyRate(*res, now_ms, out);
    if (res->status == 200) {
      auto s = ParseBlueskySession(res->body);
      if (s) {
        session_ = Session{std::move(s->access_jwt), std::move(s->refresh_jwt)};
        return {};
      }
    }
    if (res->status == 429) return Fail(StatusError(*res, "refreshSession"));
    return CreateSession(now_ms, out);
  }

  // One XRPC GET with the session's token. Creates the session when there is none; on
  // `ExpiredToken` refreshes it, on a rejected token logs in again, and retries once. Any HTTP
  // status is returned as a response; errors are transport and session failures.
  Result<HttpResponse> Get(const std::string& path, int64_t now_ms, FetchResult& out) {
    for (int attempt = 0;; ++attempt) {
      if (HasCredentials() && !session_) {
        if (auto s = CreateSession(now_ms, out); !s) return Fail(s.error());
      }
      HeaderList headers;
      if (session_) headers.emplace_back("Authorization", "Bearer " + session_->access_jwt);
      auto res = transport_->Get(path, headers);
      if (!res) return Fail(Error{res.error().code, Redact(res.error().message)});
      out.http_status = res->status;
      ApplyRate(*res, now_ms, out);
      if (attempt == 0 && HasCredentials() && (res->status == 400 || res->status == 401)) {
        const auto xe = ParseBlueskyError(res->body);
        if (xe && xe->error == "ExpiredToken") {
          if (auto s = RefreshSession(now_ms, out); !s) return Fail(s.error());
          continue;
        }
        if (res->status == 401 && xe &&
            (xe->error == "InvalidToken" || xe->error == "AuthMissing" ||
             xe->error == "AuthenticationRequired")) {
          session_.reset();
          continue;
        }
      }
      return std::move(*res);
    }
  }

  // ---- DIDs and handles ----

  // The policymaker's DID, resolving it when not known yet. After a failure the handle is not
  // asked for again for a while unless `force` (its own query needs it).
  Result<std::string> ResolveDid(Policymaker& pm, int64_t now_ms, FetchResult& out, bool force) {
    if (!pm.did.empty()) return pm.did;
    // Asked a moment ago in this same page (the best-effort pass): that answer stands.
    if (pm.attempted_at_ms == now_ms && pm.last_error) return Fail(*pm.last_error);
    if (!force && now_ms < pm.retry_at_ms) return std::string();
    pm.retry_at_ms = now_ms + kResolveRetryMs;
    pm.attempted_at_ms = now_ms;
    auto did = AskDid(pm.handle, now_ms, out);
    if (!did) {
      pm.last_error = did.error();
      return Fail(did.error());
    }
    pm.last_error.reset();
    pm.did = *did;
    handle_by_did_[pm.did] = pm.handle;
    return pm.did;
  }

  Result<std::string> AskDid(const std::string& handle, int64_t now_ms, FetchResult& out) {
    auto res =
        Get("/xrpc/com.atproto.identity.resolveHandle?handle=" + UrlEncode(handle), now_ms, out);
    if (!res) return Fail(res.error());
    if (res->status == 400) {
      const auto xe = ParseBlueskyError(res->body);
      return Fail(Error::NotFound("policymaker handle '" + handle +
                                  "' does not resolve to a DID (resolveHandle: " +
                                  Redact(xe ? xe->message : "HTTP 400") + ")"));
    }
    if (res->status != 200) return Fail(StatusError(*res, "resolveHandle"));
    return ParseBlueskyResolvedDid(res->body);
  }

  // Best effort: a handle that does not resolve now only matters to its own queries.
  void ResolvePolicymakers(int64_t now_ms, FetchResult& out) {
    for (Policymaker& pm : policymakers_) {
      if (pm.did.empty() && now_ms >= pm.retry_at_ms) (void)ResolveDid(pm, now_ms, out, false);
    }
  }

  Policymaker* FindPolicymaker(const std::string& handle) {
    for (Policymaker& pm : policymakers_) {
      if (pm.handle == handle) return &pm;
    }
    return nullptr;
  }

  Post MapToConfigured(BlueskyPost bp) const {
    Post& p = bp.post;
    if (auto it = handle_by_did_.find(bp.author_did); it != handle_by_did_.end())
      p.author = it->second;
    for (size_t i = 0; i < p.mentions.size() && i < bp.mention_dids.size(); ++i) {
      if (auto it = handle_by_did_.find(bp.mention_dids[i]); it != handle_by_did_.end()) {
        p.mentions[i] = it->second;
      }
    }
    // Two facets can name one account by different texts; keep each account once.
    std::vector<std::string> unique;
    for (auto& m : p.mentions) {
      if (std::find(unique.begin(), unique.end(), m) == unique.end())
        unique.push_back(std::move(m));
    }
    p.mentions = std::move(unique);
    if (auto it = handle_by_did_.find(p.in_reply_to_author); it != handle_by_did_.end()) {
      p.in_reply_to_author = it->second;
    }
    return std::move(bp.post);
  }

  // author_followers from getProfiles for authors not seen before. A profile the AppView does not
  // return (deactivated, taken down) counts 0 reach; rate limits and server errors fail the page,
  // so that reach is not recorded as 0 for a transient reason.
  Result<void> FillFollowers(std::vector<BlueskyPost>& posts, int64_t now_ms, FetchResult& out) {
    if (followers_.size() > kMaxFollowerCache) followers_.clear();
    std::vector<std::string> missing;
    std::set<std::string> seen;
    for (const auto& bp : posts) {
      if (followers_.count(bp.author_did) == 0 && seen.insert(bp.author_did).second) {
        missing.push_back(bp.author_did);
      }
    }
    for (size_t at = 0; at < missing.size(); at += kBatch) {
      const size_t end = std::min(missing.size(), at + kBatch);
      std::string path = "/xrpc/app.bsky.actor.getProfiles?";
      for (size_t i = at; i < end; ++i) {
        if (i > at) path += '&';
        path += "actors=" + UrlEncode(missing[i]);
      }
      auto res = Get(path, now_ms, out);
      if (!res) return Fail(res.error());
      if (res->status == 200) {
        auto profiles = ParseBlueskyProfiles(res->body);
        if (!profiles) return Fail(profiles.error());
        for (const auto& pr : *profiles) followers_[pr.did] = pr.followers;
      } else if (res->status == 429 || res->status >= 500 || res->status == 401) {
        return Fail(StatusError(*res, "getProfiles"));
      }
      for (size_t i = at; i < end; ++i) followers_.emplace(missing[i], 0);
    }
    for (auto& bp : posts) bp.post.author_followers = followers_[bp.author_did];
    return {};
  }

  // ---- search ----

  void StartPoll(BlueskyCursor& st, int64_t now_ms) const {
    const int64_t w = st.watermark_ms;
    st = BlueskyCursor{};
    st.watermark_ms = w;
    st.in_progress = true;
    st.since_ms = w > 0 ? w - source_.overlap_ms : now_ms - source_.backfill_ms;
    st.pending_ms = w;
  }

  // Moves the window's end down to the oldest post reached (kept: until is exclusive, and
  // others may share its millisecond). False when nothing older can be asked for.
  static bool SplitWindow(BlueskyCursor& st) {
    if (!st.oldest_ms) return false;
    int64_t until = *st.oldest_ms + 1;
    if (st.until_ms != 0 && until >= st.until_ms) until = st.until_ms - 1;
    if (until <= st.since_ms) return false;
    st.until_ms = until;
    st.oldest_ms.reset();
    st.window_results = 0;
    st.empty_pages = 0;
    st.page_cursor.clear();
    return true;
  }

  static void Complete(BlueskyCursor& st) {
    const int64_t w = std::max(st.watermark_ms, st.pending_ms);
    st = BlueskyCursor{};
    st.watermark_ms = w;
  }

  // Always a value, "w=0" included: a finished poll must overwrite the state of one in progress.
  static std::string CursorText(const BlueskyCursor& st) { return FormatBlueskyCursor(st); }

  std::string SearchPath(const QuerySpec& spec, const std::string& mention_did,
                         const BlueskyCursor& st) const {
    std::string q;
    std::string extra;
    switch (spec.kind) {
      case QuerySpec::Kind::kTag:
        q = "#" + spec.value;
        extra = "&tag=" + UrlEncode(spec.value);
        break;
      case QuerySpec::Kind::kKeyword: {
        std::string phrase;
        for (const char c : spec.value) {
          if (c != '"') phrase += c;
        }
        q = "\"" + phrase + "\"";
        break;
      }
      case QuerySpec::Kind::kMentions:
        q = "*";
        extra = "&mentions=" + UrlEncode(mention_did);
        break;
      case QuerySpec::Kind::kAuthor:
        break;
    }
    std::string path = "/xrpc/app.bsky.feed.searchPosts?q=" + UrlEncode(q) + extra +
                       "&sort=latest&since=" + UrlEncode(FormatRfc3339Ms(st.since_ms));
    if (st.until_ms != 0) path += "&until=" + UrlEncode(FormatRfc3339Ms(st.until_ms));
    path += "&limit=" + std::to_string(page_limit_);
    if (!st.page_cursor.empty()) path += "&cursor=" + UrlEncode(st.page_cursor);
    return path;
  }

  static bool IsCursorRejection(const HttpResponse& res) {
    if (res.status != 400) return false;
    const auto xe = ParseBlueskyError(res.body);
    return xe && AsciiLower(xe->message).find("cursor") != std::string::npos;
  }

  FetchResult FetchSearch(const QuerySpec& spec, const PageRequest& req, FetchResult& out) {
    std::string mention_did;
    if (spec.kind == QuerySpec::Kind::kMentions) {
      Policymaker* pm = FindPolicymaker(spec.value);
      auto did = pm ? ResolveDid(*pm, req.now_ms, out, true)
                    : Result<std::string>(Fail(Error::Internal("no policymaker " + spec.value)));
      if (!did) {
        out.error = did.error();
        return std::move(out);
      }
      mention_did = *did;
    }

    BlueskyCursor st;
    if (!req.page_token.empty()) {
      st = ParseBlueskyCursor(req.page_token);
    } else {
      st = ParseBlueskyCursor(req.cursor);
      if (!st.in_progress) {
        StartPoll(st, req.now_ms);
      } else if (!SplitWindow(st)) {
        // The interrupted poll had read nothing of its current window yet (or nothing older
        // remains): the window starts over, without a server cursor that may have gone stale.
        if (st.oldest_ms) {
          Complete(st);
          StartPoll(st, req.now_ms);
        } else {
          st.page_cursor.clear();
          st.window_results = 0;
          st.empty_pages = 0;
        }
      }
    }
    if (!st.in_progress) StartPoll(st, req.now_ms);

    const std::string method = "searchPosts";
    Result<HttpResponse> res = Fail(Error::Internal("not sent"));
    // A server that refuses the cursor (too deep, or a format it no longer accepts) gets the
    // window split and the question asked again.
    for (int attempt = 0; attempt < 3; ++attempt) {
      res = Get(SearchPath(spec, mention_did, st), req.now_ms, out);
      if (!res || !IsCursorRejection(*res) || st.page_cursor.empty()) break;
      if (!SplitWindow(st)) {
        Complete(st);
        out.cursor = CursorText(st);
        return std::move(out);
      }
    }
    if (!res) {
      out.error = res.error();
      return std::move(out);
    }
    if (res->status != 200) {
      out.error = StatusError(*res, method);
      return std::move(out);
    }
    auto page = ParseBlueskyPosts(res->body);
    if (!page) {
      out.error = page.error();
      return std::move(out);
    }
    if (auto filled = FillFollowers(page->posts, req.now_ms, out); !filled) {
      out.error = filled.error();
      return std::move(out);
    }

    for (const auto& bp : page->posts) {
      const int64_t at = bp.post.created_at_ms;  // sortAt
      st.pending_ms = std::max(st.pending_ms, at);
      st.oldest_ms = st.oldest_ms ? std::min(*st.oldest_ms, at) : at;
    }
    st.window_results += static_cast<int64_t>(page->posts.size());
    st.empty_pages = page->posts.empty() ? st.empty_pages + 1 : 0;

    const int64_t cap = options_.search_depth_cap;
    const bool has_next = !page->cursor.empty() && st.empty_pages < kMaxEmptyPages;
    bool done = false;
    if (has_next && st.window_results < cap) {
      st.page_cursor = page->cursor;
    } else if (has_next || st.window_results >= cap - page_limit_) {
      // The window is (nearly) as deep as search pages: what is older is asked for afresh.
      done = !SplitWindow(st);
    } else {
      done = true;
    }
    if (done) Complete(st);

    out.posts.reserve(page->posts.size());
    for (auto& bp : page->posts) out.posts.push_back(MapToConfigured(std::move(bp)));
    out.cursor = CursorText(st);
    if (st.in_progress) out.next_page_token = out.cursor;
    return std::move(out);
  }

  // ---- author feeds ----

  FetchResult FetchAuthorFeed(const QuerySpec& spec, const PageRequest& req, FetchResult& out) {
    Policymaker* pm = FindPolicymaker(spec.value);
    if (pm == nullptr) {
      out.error = Error::Internal("bluesky: no policymaker " + spec.value);
      return std::move(out);
    }
    auto did = ResolveDid(*pm, req.now_ms, out, true);
    if (!did) {
      out.error = did.error();
      return std::move(out);
    }
    BlueskyCursor st;
    if (!req.page_token.empty()) {
      st = ParseBlueskyCursor(req.page_token);
    } else {
      st = ParseBlueskyCursor(req.cursor);
      // An interrupted walk starts again from the top with the same bound: the feed has no
      // `until`, and re-reading a few pages is cheap.
      st.page_cursor.clear();
    }
    if (!st.in_progress) StartPoll(st, req.now_ms);

    std::string path = "/xrpc/app.bsky.feed.getAuthorFeed?actor=" + UrlEncode(*did) +
                       "&limit=" + std::to_string(page_limit_) +
                       "&filter=posts_with_replies&includePins=false";
    if (!st.page_cursor.empty()) path += "&cursor=" + UrlEncode(st.page_cursor);
    auto res = Get(path, req.now_ms, out);
    if (!res) {
      out.error = res.error();
      return std::move(out);
    }
    if (res->status != 200) {
      out.error = StatusError(*res, "getAuthorFeed");
      return std::move(out);
    }
    auto page = ParseBlueskyAuthorFeed(res->body);
    if (!page) {
      out.error = page.error();
      return std::move(out);
    }
    std::vector<BlueskyPost> own;
    bool reached_bound = false;
    for (auto& item : page->items) {
      // A pinned post sits on top whatever its age (includePins=false asks for none anyway).
      if (item.pinned) continue;
      if (item.feed_at_ms < st.since_ms) reached_bound = true;
      // A repost is amplification of someone else's post, not a post of the policymaker.
      if (item.repost || item.view.author_did != *did) continue;
      st.pending_ms = std::max(st.pending_ms, item.view.post.created_at_ms);
      own.push_back(std::move(item.view));
    }
    if (auto filled = FillFollowers(own, req.now_ms, out); !filled) {
      out.error = filled.error();
      return std::move(out);
    }
    if (!page->cursor.empty() && !page->items.empty() && !reached_bound) {
      st.page_cursor = page->cursor;
    } else {
      Complete(st);
    }
    for (auto& bp : own) out.posts.push_back(MapToConfigured(std::move(bp)));
    out.cursor = CursorText(st);
    if (st.in_progress) out.next_page_token = out.cursor;
    return std::move(out);
  }

  config::Source source_;
  BlueskyCollectorOptions options_;
  std::unique_ptr<HttpTransport> transport_;
  const std::string identifier_;
  const std::string password_;
  const int page_limit_;
  std::vector<Query> queries_;
  std::map<std::string, QuerySpec> specs_;
  std::vector<Policymaker> policymakers_;
  std::unordered_map<std::string, std::string> handle_by_did_;
  std::unordered_map<std::string, int64_t> followers_;
  std::optional<Session> session_;
  std::optional<Error> login_error_;
  int64_t login_retry_at_ms_ = 0;
};

}  // namespace

BlueskyCursor ParseBlueskyCursor(std::string_view text) {
  BlueskyCursor c;
  bool has_w = false;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (eq != 1) return {};
    const char k = pair[0];
    const std::string_view v = pair.substr(2);
    if (k == 'c') {
      c.page_cursor = PercentDecode(v);
      continue;
    }
    const auto n = ParseI64(v);
    if (!n) return {};
    switch (k) {
      case 'w':
        c.watermark_ms = *n;
        has_w = true;
        break;
      case 's':
        c.since_ms = *n;
        c.in_progress = true;
        break;
      case 'p':
        c.pending_ms = *n;
        break;
      case 'u':
        c.until_ms = *n;
        break;
      case 'o':
        c.oldest_ms = *n;
        break;
      case 'n':
        c.window_results = *n;
        break;
      case 'e':
        c.empty_pages = static_cast<int>(std::clamp<int64_t>(*n, 0, 1000));
        break;
      default:
        return {};
    }
  }
  if (!has_w) return {};
  return c;
}

std::string FormatBlueskyCursor(const BlueskyCursor& c) {
  std::string out = "w=" + std::to_string(c.watermark_ms);
  if (!c.in_progress) return out;
  out += "&s=" + std::to_string(c.since_ms) + "&p=" + std::to_string(c.pending_ms);
  if (c.until_ms != 0) out += "&u=" + std::to_string(c.until_ms);
  if (c.oldest_ms) out += "&o=" + std::to_string(*c.oldest_ms);
  if (c.window_results != 0) out += "&n=" + std::to_string(c.window_results);
  if (c.empty_pages != 0) out += "&e=" + std::to_string(c.empty_pages);
  if (!c.page_cursor.empty()) out += "&c=" + UrlEncode(c.page_cursor);
  return out;
}

Result<std::unique_ptr<Collector>> MakeBlueskyCollectorWithOptions(
    const config::Source& source, const config::Config& config,
    std::unique_ptr<HttpTransport> transport, const BlueskyCollectorOptions& options) {
  std::string identifier, password;
  if (!source.identifier_env.empty() || !source.password_env.empty()) {
    for (const auto& [name, value] : {std::pair{&source.identifier_env, &identifier},
                                      std::pair{&source.password_env, &password}}) {
      if (name->empty()) {
        return Fail(Error::InvalidArgument(
            "source '" + source.name + "': bluesky needs both identifier_env and password_env"));
      }
      const char* v = std::getenv(name->c_str());
      if (v == nullptr || *v == '\0') {
        return Fail(Error::Unauthenticated("source '" + source.name + "': environment variable " +
                                           *name + " is not set"));
      }
      *value = v;
    }
  }
  auto collector = std::make_unique<BlueskyCollector>(source, options, std::move(transport),
                                                      std::move(identifier), std::move(password));
  // Stable orders (sorted, deduplicated), so query keys and cursors survive config reorderings.
  std::set<std::string> tags;
  std::map<std::string, std::string> keywords;  // lower-cased -> as first written
  for (const auto& c : config.campaigns) {
    tags.insert(c.hashtags.begin(), c.hashtags.end());
    for (const auto& k : c.keywords) keywords.emplace(AsciiLower(k), k);
  }
  for (const auto& t : tags) {
    collector->AddQuery("tag:" + t, "#" + t, {QuerySpec::Kind::kTag, t});
  }
  for (const auto& [lower, written] : keywords) {
    collector->AddQuery("q:" + lower, "\"" + written + "\"", {QuerySpec::Kind::kKeyword, written});
  }
  std::set<std::string> handles;
  for (const auto& p : config.policymakers) {
    auto it = p.accounts.find(Platform::kBluesky);
    if (it == p.accounts.end() || it->second.empty()) continue;
    std::string h = AsciiLower(it->second);
    if (!h.empty() && h.front() == '@') h.erase(0, 1);
    handles.insert(h);
  }
  for (const auto& h : handles) {
    collector->AddPolicymaker(h);
    collector->AddQuery("mentions:" + h, "mentions of @" + h, {QuerySpec::Kind::kMentions, h});
  }
  for (const auto& h : handles) {
    collector->AddQuery("author:" + h, "posts by @" + h, {QuerySpec::Kind::kAuthor, h});
  }
  return std::unique_ptr<Collector>(std::move(collector));
}

Result<std::unique_ptr<Collector>> MakeBlueskyCollector(const config::Source& source,
                                                        const config::Config& config,
                                                        std::unique_ptr<HttpTransport> transport) {
  return MakeBlueskyCollectorWithOptions(source, config, std::move(transport),
                                         BlueskyCollectorOptions{});
}

}  // namespace chorus::collectors
