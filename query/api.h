// The query endpoints of design §6: GET /api/v1/series, /api/v1/posts, /api/v1/top, and the
// request half of /api/v1/export (the streaming half is RunExport in export.h).
//
// Each function takes the request's query parameters (a name may repeat in a query string; a
// repeated or unknown parameter is a 400 naming it), the configuration, the store and the current
// time, and returns a complete response: status, content type and body. Bad parameters are 400
// with {"error": "..."} naming the parameter, an unknown campaign is 404, a store failure 500.
// They only read the store, so any number may run at once on server threads.
//
// Defaults: `to` is now; `from` is 24 hours before `to` for series and the start of the store for
// posts, top and exports. Series points are the buckets of `step` whose start lies in
// [bucket of `from`, `to`), every one present (zeros filled). A series asking for more than
// kMaxSeriesPoints buckets is refused with a message naming the step that would fit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "query/export.h"
#include "query/params.h"
#include "store/store.h"

namespace chorus::query {

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

inline constexpr int64_t kMaxSeriesPoints = 50'000;
// Without `step`, the finest step giving at most this many points is chosen.
inline constexpr int64_t kDefaultMaxPoints = 2'000;

// GET /api/v1/series?campaign=&metric=&platform=&term=&from=&to=&step=
//   metric: posts (default) | reach | engagement | unique_authors | share_of_voice (this
//   campaign's posts over the sum of every configured campaign's posts in the bucket, a fraction)
//   | likes | reposts | replies | quotes. platform "" sums the platforms. term: posts only.
//   -> {"campaign":..,"metric":..,"step":"1h","points":[[unix_seconds, value], ...]}
ApiResponse Series(const Params& params, const config::Config& config, const store::Store& store,
                   int64_t now_ms);

// GET /api/v1/posts?campaign=&platform=&from=&to=&limit=&cursor=
//   Posts in creation order (then key), at most `limit` (default 100, max 1000).
//   -> {"posts":[{post}...],"next_cursor":"..."|null}; pass next_cursor back as `cursor` (with the
//   same other parameters) for the next page.
ApiResponse Posts(const Params& params, const config::Config& config, const store::Store& store,
                  int64_t now_ms);

// GET /api/v1/top?campaign=&by=engagement|reach&from=&to=&limit=
//   The `limit` (default 10, max 100) posts created in the range with the highest total engagement
//   (likes + reposts + replies + quotes) or reach (author_followers), highest first, ties by
//   post_id. -> {"campaign":..,"by":..,"posts":[{post}...]}
ApiResponse Top(const Params& params, const config::Config& config, const store::Store& store,
                int64_t now_ms);

// Dispatches `endpoint` ("series", "posts" or "top"); anything else is a 404.
ApiResponse HandleApi(std::string_view endpoint, const Params& params, const config::Config& config,
                      const store::Store& store, int64_t now_ms);

// GET /api/v1/export, split in two so that bad parameters still get a plain 400/404 before the
// streamed 200 starts: Prepare validates, and `run` (set only when the request is valid) writes
// the export to a sink. `run` keeps the configuration alive; the store must outlive it.
struct ExportStream {
  ApiResponse error;  // the answer when `run` is empty
  std::string content_type;
  std::string filename;  // suggested download name, e.g. "chorus-posts.csv"
  std::function<Result<int64_t>(const Sink& sink)> run;
};
ExportStream PrepareExport(const Params& params, std::shared_ptr<const config::Config> config,
                           const store::Store& store, int64_t now_ms);

// {"error": message} with the status an error code maps to (kInvalidArgument 400, kNotFound 404,
// others 500).
ApiResponse ErrorResponse(const Error& error);

}  // namespace chorus::query
