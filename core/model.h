// The normalized model every collector produces and every later stage consumes.
//
// A Post is platform-neutral: collectors translate each platform's wire format into it, analytics
// match it against campaigns, the store persists it. Plain value types; not thread-safe to mutate
// concurrently, safe to copy across threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chorus {

enum class Platform { kMastodon, kBluesky, kX, kReddit };

// "mastodon", "bluesky", "x", "reddit": the values of the `platform` config key and metric label.
std::string_view PlatformName(Platform p);
std::optional<Platform> ParsePlatform(std::string_view name);

// Engagement counters as the platform reports them at one moment.
struct Engagement {
  int64_t likes = 0;
  int64_t reposts = 0;
  int64_t replies = 0;
  int64_t quotes = 0;
  bool operator==(const Engagement&) const = default;
};

// Each count's larger value: what a post's engagement is after two sightings (counts only grow).
inline Engagement HighWater(const Engagement& a, const Engagement& b) {
  return {std::max(a.likes, b.likes), std::max(a.reposts, b.reposts), std::max(a.replies, b.replies),
          std::max(a.quotes, b.quotes)};
}

struct Post {
  Platform platform = Platform::kMastodon;
  // Canonical identity (design §5): Mastodon status `uri`, Bluesky at:// URI, X post id, Reddit
  // fullname. Two sightings with the same key are the same post.
  std::string key;
  // The id on the server that served it (Mastodon's per-server status id). Used for paging only.
  std::string local_id;
  std::string url;
  int64_t created_at_ms = 0;  // UTC, unix milliseconds
  std::string author;         // account handle, lower-cased, fully qualified (alice@example.org)
  int64_t author_followers = 0;
  std::string text;                   // plain text (HTML already reduced)
  std::vector<std::string> hashtags;  // lower-cased, without '#', from the platform's tag entities
  std::vector<std::string> mentions;  // accounts mentioned, lower-cased, fully qualified
  std::string in_reply_to_local_id;   // local id of the parent post, empty when not a reply
  std::string in_reply_to_author;     // account replied to (lower-cased), empty when unknown
  std::string in_reply_to_key;        // canonical key of the parent post, empty when not known
  std::string quote_of;               // canonical key of a quoted post, empty when none
  Engagement engagement;
};

}  // namespace chorus
