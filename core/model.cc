#include "core/model.h"

namespace chorus {

std::string_view PlatformName(Platform p) {
  switch (p) {
    case Platform::kMastodon: return "mastodon";
    case Platform::kBluesky: return "bluesky";
    case Platform::kX: return "x";
    case Platform::kReddit: return "reddit";
  }
  return "unknown";
}

std::optional<Platform> ParsePlatform(std::string_view name) {
  if (name == "mastodon") return Platform::kMastodon;
  if (name == "bluesky") return Platform::kBluesky;
  if (name == "x") return Platform::kX;
  if (name == "reddit") return Platform::kReddit;
  return std::nullopt;
}

}  // namespace chorus
