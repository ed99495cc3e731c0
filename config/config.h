// The daemon's configuration (design §4): the typed form of chorus.yml, and its loader.
//
// LoadConfig reads and validates a whole file and reports *every* problem it finds, each with
// file:line:col and the key concerned, so an operator fixes a file in one round. Secrets are never
// read into this struct: only the *names* of the environment variables that hold them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace chorus::config {

struct Retention {
  int64_t posts_ms = 400LL * 86'400'000;
  int64_t minute_ms = 35LL * 86'400'000;
  int64_t hour_ms = 800LL * 86'400'000;
  int64_t day_ms = 0;  // 0 = keep forever
};

struct Storage {
  std::string path = "/var/lib/chorus";
  Retention retention;
};

struct Http {
  std::string listen = "127.0.0.1:9750";
  std::string web_config_file;
};

struct Source {
  std::string name;
  Platform platform = Platform::kMastodon;
  std::string base_url;
  std::string token_env;          // env var holding a bearer token (Mastodon, X); optional
  std::string identifier_env;     // Bluesky
  std::string password_env;       // Bluesky
  std::string client_id_env;      // Reddit
  std::string client_secret_env;  // Reddit
  std::string user_agent;         // required for Reddit; any source may set one
  std::string auth_url;           // Reddit token endpoint host, default https://www.reddit.com
  int64_t poll_interval_ms = 60'000;
  int64_t backfill_ms = 24LL * 3'600'000;
  int64_t overlap_ms = 15LL * 60'000;  // re-read window for late-federated / late-indexed posts
  int64_t timeout_ms = 15'000;         // per HTTP request (connect + read)
  int page_limit = 40;  // items per page requested; default 40 for mastodon (its maximum), else 100
  int line = 0;         // where the source is defined, for messages
};

struct Campaign {
  std::string name;
  std::vector<std::string> hashtags;  // normalized: lower-cased, without '#'
  std::vector<std::string> keywords;  // as written (matched case-insensitively)
};

struct Person {
  std::string id;
  std::string name;
  std::map<Platform, std::string> accounts;  // normalized: lower-cased, without leading '@'
};

struct Receiver {
  std::string name;
  std::string format;  // slack | json | alertmanager
  std::string url_env;
};

struct Rule {
  std::string name;
  std::string kind;  // policymaker_mention | policymaker_response | spike
  std::string campaign;
  int64_t window_ms = 15 * 60'000;
  double threshold = 3.0;
  int64_t max_age_ms = 24LL * 3'600'000;
  std::vector<std::string> receivers;
};

// This daemon's part of a watch list split over several daemons (design §9): it polls the queries
// whose stable hash modulo `total` is `index`. The default, 0 of 1, polls everything.
struct Shard {
  int64_t index = 0;  // 0 <= index < total
  int64_t total = 1;  // >= 1
  bool sharded() const { return total > 1; }
  bool operator==(const Shard&) const = default;
};

struct Config {
  std::string file;  // path it was loaded from
  Storage storage;
  Http http;
  Shard shard;
  std::vector<Source> sources;
  std::vector<Campaign> campaigns;
  std::vector<Person> policymakers;
  std::vector<Person> coalition;
  std::vector<Receiver> receivers;
  std::vector<Rule> rules;
};

// One problem found in a config file: "chorus.yml:12:5: sources[0].platform: unknown platform
// 'mastadon'".
struct Problem {
  std::string file;
  int line = 0;  // 1-based; 0 when not tied to a place
  int col = 0;   // 1-based
  std::string message;
  std::string ToString() const;
};

struct LoadResult {
  std::optional<Config> config;  // set only when problems is empty
  std::vector<Problem> problems;
};

// Reads and validates `path`. `check_env` makes unset required environment variables problems
// (true for the daemon; tests may pass false).
LoadResult LoadConfigFile(const std::string& path, bool check_env = true);

// Same, from text already in memory; `file` names it in messages.
LoadResult LoadConfigText(const std::string& text, const std::string& file, bool check_env = true);

// Normalizes a hashtag as written in config or seen in a post: strips '#', lower-cases (ASCII).
std::string NormalizeHashtag(std::string_view tag);

// A listen address split into its parts: "127.0.0.1:9750" -> {"127.0.0.1", 9750};
// "[::1]:9750" -> {"::1", 9750} (brackets removed).
struct HostPort {
  std::string host;
  int port = 0;
};

// Parses `host:port` (IPv6 hosts in brackets). The host must be non-empty and the port 0..65535,
// where 0 asks the OS for any free port (tests, --demo). Returns kInvalidArgument with a message
// for people otherwise.
Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace chorus::config
