// The collector seam: what the daemon's scheduler asks of every platform.
//
// A collector turns its source's configuration into queries, and fetches one page of one query at
// a time. It knows nothing of storage or metrics: it returns posts, the cursor to persist with
// them, and what the platform said about rate limits. Each collector is used by one poll at a
// time (not thread-safe); the registry is read-only after start-up.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/http_client.h"
#include "config/config.h"
#include "core/error.h"
#include "core/model.h"

namespace chorus::collectors {

struct RateLimit {
  std::optional<int64_t> limit;
  std::optional<int64_t> remaining;
  std::optional<int64_t> reset_at_ms;  // when the window resets (absolute, unix ms)
};

// One thing a source polls (a group of hashtags, an account's timeline, ...). `key` is stable
// across restarts and names the query's cursor in the store.
struct Query {
  std::string key;
  std::string description;  // for logs: "#fundourschools #edequity"
  std::vector<std::string> hashtags;
  std::string account;  // set for an account's own timeline (a policymaker's posts), else ""
};

struct PageRequest {
  std::string cursor;      // persisted cursor of the query ("" before the first poll)
  std::string page_token;  // "" for the first page of a poll, else the previous page's token
  int64_t now_ms = 0;
};

struct FetchResult {
  int http_status = 0;          // 0 when no HTTP response arrived
  RateLimit rate;
  std::optional<Error> error;   // set when the page could not be fetched or parsed
  std::vector<Post> posts;
  std::string cursor;           // cursor to persist together with these posts
  std::string next_page_token;  // "" when this poll of the query is complete
};

class Collector {
 public:
  virtual ~Collector() = default;
  virtual const std::vector<Query>& queries() const = 0;
  virtual FetchResult FetchPage(const Query& query, const PageRequest& request) = 0;

  // Engagement refresh: re-fetches known posts in bulk by their `local_id` (Mastodon status id on
  // this server, Bluesky at:// URI, X post id, Reddit fullname). Posts the platform no longer
  // returns are simply absent from the result. refresh_batch_limit() is the most ids one call
  // takes (0: this collector cannot refresh).
  virtual size_t refresh_batch_limit() const { return 0; }
  virtual FetchResult Refresh(const std::vector<std::string>& local_ids, int64_t now_ms) {
    (void)local_ids;
    (void)now_ms;
    return {};
  }
};

// Builds a collector for one configured source, with its transport.
using CollectorFactory = std::function<Result<std::unique_ptr<Collector>>(
    const config::Source& source, const config::Config& config, std::unique_ptr<HttpTransport>)>;

class CollectorRegistry {
 public:
  void Register(Platform platform, CollectorFactory factory);
  // Fails with kInvalidArgument when no collector exists for the source's platform.
  Result<std::unique_ptr<Collector>> Create(const config::Source& source,
                                            const config::Config& config,
                                            std::unique_ptr<HttpTransport> transport) const;

 private:
  std::map<Platform, CollectorFactory> factories_;
};

// The collectors compiled into Chorus. An explicit list, not static self-registration.
void RegisterBuiltinCollectors(CollectorRegistry& registry);

}  // namespace chorus::collectors
