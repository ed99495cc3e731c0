// Parameters of the query API and the exports (design §6), parsed one way for every endpoint, so a
// time, a step, a platform or a cursor means the same everywhere and each error names its
// parameter. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/error.h"
#include "store/store.h"

namespace chorus::query {

// A request's query string as cpp-httplib parses it: a name may appear more than once.
using Params = std::multimap<std::string, std::string>;
using ParamMap = std::map<std::string, std::string>;

// Flattens `params`, refusing (kInvalidArgument, naming the parameter) a name that is not in
// `allowed` or that is given more than once.
Result<ParamMap> CheckParams(const Params& params, std::initializer_list<std::string_view> allowed);
// The same check for a map (no repeats possible).
Result<void> CheckKnown(const ParamMap& params, std::initializer_list<std::string_view> allowed);

// A time given as RFC 3339 or unix seconds, in unix ms; errors name `name`.
Result<int64_t> ParseTimeParam(std::string_view name, std::string_view value);

// "1m" | "1h" | "1d".
Result<store::Step> ParseStep(std::string_view value);
std::string_view StepName(store::Step step);

// "" (every platform) or a platform name ("mastodon", "bluesky", "x", "reddit").
Result<std::string> ParsePlatformParam(std::string_view value);
// The platform names the store knows, in a fixed order.
inline constexpr std::string_view kPlatforms[] = {"mastodon", "bluesky", "x", "reddit"};

// The configured campaign `name`, or kNotFound naming it.
Result<const config::Campaign*> FindCampaign(const config::Config& config, std::string_view name);

// The stored term label of `campaign` that `term` designates: a hashtag normalized like the
// config's (leading '#' stripped, ASCII lower-case), or a keyword compared case-insensitively and
// returned as configured. kInvalidArgument naming `term` when it is not one of the campaign's.
Result<std::string> ResolveTerm(const config::Campaign& campaign, std::string_view term);

// An integer in [1, max]; absent gives `def`.
Result<int> ParseLimit(const ParamMap& params, std::string_view name, int def, int max);

// The half-open range [from_ms, to_ms) of a request: `to` defaults to now, `from` to
// `default_span_ms` before `to` (INT64_MIN when default_span_ms is 0: everything before `to`).
// from >= to is an error naming `from`.
struct TimeRange {
  int64_t from_ms = 0;
  int64_t to_ms = 0;
};
Result<TimeRange> ParseRange(const ParamMap& params, int64_t now_ms, int64_t default_span_ms);

// Opaque paging cursors: the store's binary position as unpadded base64url. Decoding refuses
// anything that is not base64url (kInvalidArgument naming `cursor`).
std::string EncodeCursor(std::string_view raw);
Result<std::string> DecodeCursor(std::string_view text);

// Floor and ceiling of ms to whole seconds (also for negative times).
inline int64_t FloorSeconds(int64_t ms) { return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000); }
inline int64_t CeilSeconds(int64_t ms) { return ms >= 0 ? (ms + 999) / 1000 : -((-ms) / 1000); }

}  // namespace chorus::query
