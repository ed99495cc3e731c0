#include "collectors/mastodon_collector.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include "collectors/mastodon_parser.h"

namespace chorus::collectors {
namespace {

uint64_t ParseId(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : 0;
}

class MastodonCollector final : public Collector {
 public:
  MastodonCollector(const config::Source& source, std::vector<std::string> hashtags,
                    std::vector<std::string> accounts, std::unique_ptr<HttpTransport> transport,
                    std::string token)
      : source_(source),
        home_domain_(HostOf(source.base_url)),
        transport_(std::move(transport)),
        token_(std::move(token)) {
    for (auto& tag : hashtags) {
      Query q;
      q.key = "tag:" + tag;
      q.description = "#" + tag;
      q.hashtags = {std::move(tag)};
      queries_.push_back(std::move(q));
    }
    for (auto& acct : accounts) {
      Query q;
      q.key = "account:" + acct;
      q.description = "@" + acct + " statuses";
      q.account = std::move(acct);
      queries_.push_back(std::move(q));
    }
  }

  const std::vector<Query>& queries() const override { return queries_; }

  size_t refresh_batch_limit() const override { return kMastodonRefreshBatch; }

  FetchResult Refresh(const std::vector<std::string>& local_ids, int64_t now_ms) override {
    (void)now_ms;
    FetchResult out;
    std::string path = "/api/v1/statuses?";
    for (size_t i = 0; i < local_ids.size(); ++i) path += (i ? "&id[]=" : "id[]=") + UrlEncode(local_ids[i]);
    auto res = transport_->Get(path, AuthHeaders());
    if (!Classify(res, &out)) {
      // Servers before 4.3 have no multi-get: the posts simply stay as they were last seen.
      if (out.http_status == 404) out.error.reset();
      return out;
    }
    auto page = ParseMastodonStatuses(res->body, home_domain_);
    if (!page) {
      out.error = page.error();
      return out;
    }
    out.posts = std::move(*page);
    return out;
  }

  FetchResult FetchPage(const Query& query, const PageRequest& req) override {
    FetchResult out;
    const MastodonCursor cursor = ParseMastodonCursor(req.cursor);
    const uint64_t newest = cursor.newest_id;
    uint64_t min_id;
    if (!req.page_token.empty()) {
      min_id = ParseId(req.page_token);
    } else if (cursor.resume_min_id > 0) {
      // The last poll stopped part-way (rate limit, error, restart): carry on from its last
      // committed page instead of re-reading the overlap window, which could hold more than a page.
      min_id = cursor.resume_min_id;
    } else if (newest > 0) {
      const int64_t from = MastodonTimeMsFromId(newest) - source_.overlap_ms;
      min_id = MastodonIdFromTimeMs(std::max<int64_t>(from, 0));
    } else {
      min_id = MastodonIdFromTimeMs(std::max<int64_t>(req.now_ms - source_.backfill_ms, 0));
    }

    std::string path;
    if (!query.account.empty()) {
      // A policymaker's own posts, to see their replies, quotes and hashtag use (design §5).
      // Boosts are amplification, never their own post.
      auto id = AccountId(query.account, &out);
      if (!id) return out;
      path = "/api/v1/accounts/" + *id + "/statuses?exclude_reblogs=true&limit=" +
             std::to_string(source_.page_limit) + "&min_id=" + std::to_string(min_id);
    } else {
      path = "/api/v1/timelines/tag/" + UrlEncode(query.hashtags.front()) +
             "?limit=" + std::to_string(source_.page_limit) + "&min_id=" + std::to_string(min_id);
    }
    auto res = transport_->Get(path, AuthHeaders());
    if (!Classify(res, &out)) {
      if (out.http_status == 404) {
        // The docs say an unknown tag is 404; the code answers 200 []. Both mean "nothing yet".
        out.error.reset();
        out.cursor = newest == 0 ? "" : FormatMastodonCursor({newest, 0});
      }
      return out;
    }
    auto page = ParseMastodonStatuses(res->body, home_domain_);
    if (!page) {
      out.error = page.error();
      return out;
    }
    uint64_t page_max = 0;
    for (const auto& p : *page) page_max = std::max(page_max, ParseId(p.local_id));
    // A full page means more may follow above its newest id; a short page ends the poll.
    if (page->size() >= static_cast<size_t>(source_.page_limit) && page_max > min_id) {
      // rel="prev" carries the min_id of the next page forward; without it, the page's newest id.
      const std::string prev = ParseLinkHeader(res->Header("link")).prev_min_id;
      out.next_page_token = ParseId(prev) > min_id ? prev : std::to_string(page_max);
    }
    const MastodonCursor next{std::max(newest, page_max), out.next_page_token.empty() ? 0 : page_max};
    out.cursor = next.newest_id == 0 ? "" : FormatMastodonCursor(next);
    if (!query.account.empty()) ResolveParents(&*page);
    out.posts = std::move(*page);
    return out;
  }

 private:
  // The server-local account id for `acct`, looked up once. nullopt when unknown (the server has
  // not seen the account yet: an empty page, not an error) or when the lookup failed (`out` set).
  std::optional<std::string> AccountId(const std::string& acct, FetchResult* out) {
    if (auto it = account_ids_.find(acct); it != account_ids_.end()) return it->second;
    auto res = transport_->Get("/api/v1/accounts/lookup?acct=" + UrlEncode(acct), AuthHeaders());
    if (!Classify(res, out)) {
      if (out->http_status == 404) out->error.reset();
      return std::nullopt;
    }
    auto id = ParseMastodonAccountId(res->body);
    if (!id) {
      out->error = id.error();
      return std::nullopt;
    }
    account_ids_[acct] = *id;
    return *id;
  }

  // Replies carry only the server-local id of their parent; one lookup per reply gives its
  // canonical uri, so a policymaker's reply can be tied to the campaign post it answers.
  void ResolveParents(std::vector<Post>* posts) {
    for (auto& p : *posts) {
      if (p.in_reply_to_local_id.empty() || !p.in_reply_to_key.empty()) continue;
      auto res = transport_->Get("/api/v1/statuses/" + UrlEncode(p.in_reply_to_local_id), AuthHeaders());
      if (!res || res->status != 200) continue;  // deleted or private parent: not a response
      if (auto parent = ParseMastodonStatus(res->body, home_domain_)) p.in_reply_to_key = parent->key;
    }
  }

  HeaderList AuthHeaders() const {
    HeaderList headers;
    if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
    return headers;
  }

  // Fills status, rate limit and, for anything but a 200, the error. True for a 200.
  static bool Classify(const Result<HttpResponse>& res, FetchResult* out) {
    if (!res) {
      out->error = res.error();
      return false;
    }
    out->http_status = res->status;
    const auto rl = ParseMastodonRateLimit(res->Header("x-ratelimit-limit"),
                                           res->Header("x-ratelimit-remaining"),
                                           res->Header("x-ratelimit-reset"));
    out->rate = {rl.limit, rl.remaining, rl.reset_at_ms};
    const int status = res->status;
    if (status == 200) return true;
    std::string detail = ParseMastodonError(res->body);
    if (detail.empty()) detail = "HTTP " + std::to_string(status);
    if (status == 429) out->error = Error::RateLimited(detail);
    else if (status == 401 || status == 403) out->error = Error::Unauthenticated(detail);
    else out->error = Error::Unavailable("HTTP " + std::to_string(status) + ": " + detail);
    return false;
  }

  config::Source source_;
  std::string home_domain_;
  std::vector<Query> queries_;
  std::map<std::string, std::string> account_ids_;
  std::unique_ptr<HttpTransport> transport_;
  std::string token_;
};

}  // namespace

MastodonCursor ParseMastodonCursor(std::string_view text) {
  MastodonCursor c;
  const size_t slash = text.find('/');
  c.newest_id = ParseId(text.substr(0, slash));
  if (slash != std::string_view::npos) c.resume_min_id = ParseId(text.substr(slash + 1));
  return c;
}

std::string FormatMastodonCursor(const MastodonCursor& c) {
  std::string out = std::to_string(c.newest_id);
  if (c.resume_min_id > 0) {
    out.push_back('/');
    out += std::to_string(c.resume_min_id);
  }
  return out;
}

Result<std::unique_ptr<Collector>> MakeMastodonCollector(const config::Source& source,
                                                         const config::Config& config,
                                                         std::unique_ptr<HttpTransport> transport) {
  // Every campaign hashtag, once, in a stable order so query keys (and cursors) survive reloads
  // that only reorder the config.
  std::set<std::string> tags;
  for (const auto& c : config.campaigns) tags.insert(c.hashtags.begin(), c.hashtags.end());
  std::string token;
  if (!source.token_env.empty()) {
    const char* v = std::getenv(source.token_env.c_str());
    if (v == nullptr || *v == '\0') {
      return Fail(Error::Unauthenticated("source '" + source.name + "': environment variable " +
                                         source.token_env + " is not set"));
    }
    token = v;
  }
  std::set<std::string> accounts;
  for (const auto& p : config.policymakers) {
    if (auto it = p.accounts.find(Platform::kMastodon); it != p.accounts.end()) accounts.insert(it->second);
  }
  return std::unique_ptr<Collector>(new MastodonCollector(
      source, std::vector<std::string>(tags.begin(), tags.end()),
      std::vector<std::string>(accounts.begin(), accounts.end()), std::move(transport),
      std::move(token)));
}

}  // namespace chorus::collectors
