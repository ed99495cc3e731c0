#include "query/api.h"

#include <algorithm>
#include <queue>
#include <type_traits>
#include <vector>

#include "core/json_escape.h"
#include "core/time.h"
#include "query/format.h"

namespace chorus::query {
namespace {

ApiResponse BadRequest(std::string message) {
  return ErrorResponse(Error::InvalidArgument(std::move(message)));
}

// What a series metric reads: a stored per-platform sum, the unique-author buckets, or the share
// of voice (a ratio of two stored sums).
enum class MetricKind { kStored, kUniqueAuthors, kShareOfVoice };
struct MetricSpec {
  std::string_view name;    // as in the query
  std::string_view stored;  // series name in the store (ingest/ingester.cc)
  MetricKind kind;
};
constexpr MetricSpec kMetrics[] = {
    {"posts", "posts", MetricKind::kStored},
    {"reach", "reach", MetricKind::kStored},
    {"engagement", "engagement", MetricKind::kStored},
    {"unique_authors", "", MetricKind::kUniqueAuthors},
    {"share_of_voice", "posts", MetricKind::kShareOfVoice},
    {"likes", "engagement_like", MetricKind::kStored},
    {"reposts", "engagement_repost", MetricKind::kStored},
    {"replies", "engagement_reply", MetricKind::kStored},
    {"quotes", "engagement_quote", MetricKind::kStored},
};

int64_t BucketCount(int64_t from_s, int64_t to_s, store::Step step) {
  return (store::BucketStart(to_s - 1, step) - store::BucketStart(from_s, step)) /
             store::StepSeconds(step) + 1;
}

// Adds the sums of `stored` over the selected platforms into `values` (one slot per bucket from
// `first`).
Result<void> AddStored(const store::Store& store, std::string_view stored, std::string_view campaign,
                       std::string_view platform, std::string_view term, int64_t first,
                       int64_t to_s, store::Step step, std::vector<int64_t>& values) {
  const int64_t step_s = store::StepSeconds(step);
  for (auto p : kPlatforms) {
    if (!platform.empty() && p != platform) continue;
    auto points = store.ReadSeries(stored, campaign, p, term, first, to_s, step);
    if (!points) return Fail(points.error());
    for (const auto& [t, v] : *points) {
      const int64_t i = (t - first) / step_s;
      if (i >= 0 && i < static_cast<int64_t>(values.size())) values[i] += v;
    }
  }
  return {};
}

template <typename Value>
std::string SeriesBody(std::string_view campaign, std::string_view metric, store::Step step,
                       int64_t first, const std::vector<Value>& values) {
  std::string body;
  body.reserve(64 + values.size() * 18);
  body.append("{\"campaign\":");
  AppendJsonString(&body, campaign);
  body.append(",\"metric\":\"").append(metric);
  body.append("\",\"step\":\"").append(StepName(step)).append("\",\"points\":[");
  const int64_t step_s = store::StepSeconds(step);
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) body.push_back(',');
    body.push_back('[');
    AppendInt(&body, first + static_cast<int64_t>(i) * step_s);
    body.push_back(',');
    if constexpr (std::is_same_v<Value, double>) {
      AppendDouble(&body, values[i]);
    } else {
      AppendInt(&body, values[i]);
    }
    body.push_back(']');
  }
  body.append("]}");
  return body;
}

// The campaign named by a required `campaign` parameter.
Result<const config::Campaign*> RequiredCampaign(const ParamMap& p, const config::Config& config) {
  auto it = p.find("campaign");
  if (it == p.end() || it->second.empty()) {
    return Fail(Error::InvalidArgument("campaign: required"));
  }
  return FindCampaign(config, it->second);
}

std::string Get(const ParamMap& p, const char* name) {
  auto it = p.find(name);
  return it == p.end() ? std::string() : it->second;
}

std::string FileSafe(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) c = '_';
  }
  return out;
}

}  // namespace

ApiResponse ErrorResponse(const Error& error) {
  ApiResponse r;
  switch (error.code) {
    case ErrorCode::kInvalidArgument: r.status = 400; break;
    case ErrorCode::kNotFound: r.status = 404; break;
    default: r.status = 500;
  }
  r.body = "{\"error\":" + JsonString(error.message) + "}";
  return r;
}

ApiResponse Series(const Params& params, const config::Config& config, const store::Store& store,
                   int64_t now_ms) {
  auto p = CheckParams(params, {"campaign", "metric", "platform", "term", "from", "to", "step"});
  if (!p) return ErrorResponse(p.error());
  auto campaign = RequiredCampaign(*p, config);
  if (!campaign) return ErrorResponse(campaign.error());
  const std::string& name = (*campaign)->name;

  const std::string metric_name = p->count("metric") ? p->at("metric") : "posts";
  const MetricSpec* metric = nullptr;
  for (const auto& m : kMetrics) {
    if (m.name == metric_name) metric = &m;
  }
  if (!metric) {
    return BadRequest("metric: '" + metric_name.substr(0, 80) +
                      "' is not one of posts, reach, engagement, unique_authors, share_of_voice, "
                      "likes, reposts, replies, quotes");
  }
  auto platform = ParsePlatformParam(Get(*p, "platform"));
  if (!platform) return ErrorResponse(platform.error());
  std::string term;
  if (const std::string t = Get(*p, "term"); !t.empty()) {
    if (metric->name != "posts") {
      return BadRequest("term: only metric=posts has per-term series (metric is " +
                        std::string(metric->name) + ")");
    }
    auto resolved = ResolveTerm(**campaign, t);
    if (!resolved) return ErrorResponse(resolved.error());
    term = *resolved;
  }
  auto range = ParseRange(*p, now_ms, 24 * 3'600'000LL);
  if (!range) return ErrorResponse(range.error());
  const int64_t from_s = FloorSeconds(range->from_ms);
  const int64_t to_s = CeilSeconds(range->to_ms);

  store::Step step = store::Step::kDay;
  if (p->count("step")) {
    auto s = ParseStep(p->at("step"));
    if (!s) return ErrorResponse(s.error());
    step = *s;
    const int64_t n = BucketCount(from_s, to_s, step);
    if (n > kMaxSeriesPoints) {
      std::string fits;
      for (auto s2 : {store::Step::kMinute, store::Step::kHour, store::Step::kDay}) {
        if (fits.empty() && BucketCount(from_s, to_s, s2) <= kMaxSeriesPoints) {
          fits = std::string(StepName(s2));
        }
      }
      return BadRequest("step: from " + FormatRfc3339Ms(range->from_ms) + " to " +
                        FormatRfc3339Ms(range->to_ms) + " at step=" + std::string(StepName(step)) +
                        " is " + std::to_string(n) + " points, more than " +
                        std::to_string(kMaxSeriesPoints) + "; " +
                        (fits.empty() ? std::string("narrow the range between from and to")
                                      : "use step=" + fits + " or narrow the range between from and to"));
    }
  } else {
    for (auto s2 : {store::Step::kDay, store::Step::kHour, store::Step::kMinute}) {
      if (BucketCount(from_s, to_s, s2) <= kDefaultMaxPoints) step = s2;
    }
    if (BucketCount(from_s, to_s, step) > kMaxSeriesPoints) {
      return BadRequest("from: the range from " + FormatRfc3339Ms(range->from_ms) + " to " +
                        FormatRfc3339Ms(range->to_ms) + " has more than " +
                        std::to_string(kMaxSeriesPoints) +
                        " points even at step=1d; narrow the range between from and to");
    }
  }
  const int64_t first = store::BucketStart(from_s, step);
  const size_t n = static_cast<size_t>(BucketCount(from_s, to_s, step));

  std::vector<int64_t> values(n, 0);
  switch (metric->kind) {
    case MetricKind::kStored: {
      auto r = AddStored(store, metric->stored, name, *platform, term, first, to_s, step, values);
      if (!r) return ErrorResponse(r.error());
      break;
    }
    case MetricKind::kUniqueAuthors: {
      auto points = store.UniqueAuthorsSeries(name, *platform, first, to_s, step);
      if (!points) return ErrorResponse(points.error());
      const int64_t step_s = store::StepSeconds(step);
      for (const auto& [t, v] : *points) {
        const int64_t i = (t - first) / step_s;
        if (i >= 0 && i < static_cast<int64_t>(n)) values[i] += v;
      }
      break;
    }
    case MetricKind::kShareOfVoice: {
      auto r = AddStored(store, "posts", name, *platform, "", first, to_s, step, values);
      if (!r) return ErrorResponse(r.error());
      std::vector<int64_t> all(n, 0);
      for (const auto& c : config.campaigns) {
        auto rc = AddStored(store, "posts", c.name, *platform, "", first, to_s, step, all);
        if (!rc) return ErrorResponse(rc.error());
      }
      std::vector<double> share(n, 0.0);
      for (size_t i = 0; i < n; ++i) {
        if (all[i] > 0) share[i] = static_cast<double>(values[i]) / static_cast<double>(all[i]);
      }
      return {200, "application/json", SeriesBody(name, metric->name, step, first, share)};
    }
  }
  return {200, "application/json", SeriesBody(name, metric->name, step, first, values)};
}

ApiResponse Posts(const Params& params, const config::Config& config, const store::Store& store,
                  int64_t now_ms) {
  auto p = CheckParams(params, {"campaign", "platform", "from", "to", "limit", "cursor"});
  if (!p) return ErrorResponse(p.error());
  store::PostScan scan;
  if (const std::string c = Get(*p, "campaign"); !c.empty()) {
    auto campaign = FindCampaign(config, c);
    if (!campaign) return ErrorResponse(campaign.error());
    scan.campaign = c;
  }
  auto platform = ParsePlatformParam(Get(*p, "platform"));
  if (!platform) return ErrorResponse(platform.error());
  scan.platform = *platform;
  auto range = ParseRange(*p, now_ms, 0);
  if (!range) return ErrorResponse(range.error());
  scan.from_ms = range->from_ms;
  scan.to_ms = range->to_ms;
  auto limit = ParseLimit(*p, "limit", 100, 1000);
  if (!limit) return ErrorResponse(limit.error());
  if (const std::string c = Get(*p, "cursor"); !c.empty()) {
    auto raw = DecodeCursor(c);
    if (!raw) return ErrorResponse(raw.error());
    scan.after = std::move(*raw);
  }

  std::string body = "{\"posts\":[";
  int n = 0;
  bool more = false;
  std::string last_cursor;
  auto scanned = store.ScanPosts(scan, [&](const store::StoredPost& post, const std::string& cursor) {
    if (n == *limit) {
      more = true;  // one past the page: there is a next page
      return false;
    }
    if (n) body.push_back(',');
    AppendPostJson(&body, post);
    last_cursor = cursor;
    ++n;
    return true;
  });
  if (!scanned) {
    Error e = scanned.error();
    if (e.code == ErrorCode::kInvalidArgument) e.message = "cursor: " + e.message;
    return ErrorResponse(e);
  }
  body.append("],\"next_cursor\":");
  if (more) {
    AppendJsonString(&body, EncodeCursor(last_cursor));
  } else {
    body.append("null");
  }
  body.push_back('}');
  return {200, "application/json", std::move(body)};
}

ApiResponse Top(const Params& params, const config::Config& config, const store::Store& store,
                int64_t now_ms) {
  auto p = CheckParams(params, {"campaign", "by", "from", "to", "limit"});
  if (!p) return ErrorResponse(p.error());
  auto campaign = RequiredCampaign(*p, config);
  if (!campaign) return ErrorResponse(campaign.error());
  const std::string by = p->count("by") ? p->at("by") : "engagement";
  if (by != "engagement" && by != "reach") {
    return BadRequest("by: '" + by.substr(0, 80) + "' is not one of engagement, reach");
  }
  const bool by_reach = by == "reach";
  auto range = ParseRange(*p, now_ms, 0);
  if (!range) return ErrorResponse(range.error());
  auto limit = ParseLimit(*p, "limit", 10, 100);
  if (!limit) return ErrorResponse(limit.error());

  struct Entry {
    int64_t score;
    store::StoredPost post;
  };
  // `a` ranks before `b`: higher score, then smaller post_id.
  auto ranks_before = [](const Entry& a, const Entry& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.post.post.key < b.post.post.key;
  };
  // With "ranks before" as the ordering, the queue's top is the entry ranking last: the one to
  // evict when a better post comes. The heap never holds more than `limit` posts.
  std::priority_queue<Entry, std::vector<Entry>, decltype(ranks_before)> heap(ranks_before);
  store::PostScan scan;
  scan.campaign = (*campaign)->name;
  scan.from_ms = range->from_ms;
  scan.to_ms = range->to_ms;
  auto scanned = store.ScanPosts(scan, [&](const store::StoredPost& post, const std::string&) {
    const Engagement& e = post.post.engagement;
    const int64_t score =
        by_reach ? post.post.author_followers : e.likes + e.reposts + e.replies + e.quotes;
    if (static_cast<int>(heap.size()) < *limit) {
      heap.push({score, post});
      return true;
    }
    const Entry& worst = heap.top();
    if (score > worst.score || (score == worst.score && post.post.key < worst.post.post.key)) {
      heap.pop();
      heap.push({score, post});
    }
    return true;
  });
  if (!scanned) return ErrorResponse(scanned.error());
  std::vector<Entry> top;
  top.reserve(heap.size());
  while (!heap.empty()) {
    top.push_back(heap.top());
    heap.pop();
  }
  std::reverse(top.begin(), top.end());

  std::string body = "{\"campaign\":";
  AppendJsonString(&body, (*campaign)->name);
  body.append(",\"by\":\"").append(by).append("\",\"posts\":[");
  for (size_t i = 0; i < top.size(); ++i) {
    if (i) body.push_back(',');
    AppendPostJson(&body, top[i].post);
  }
  body.append("]}");
  return {200, "application/json", std::move(body)};
}

ApiResponse HandleApi(std::string_view endpoint, const Params& params, const config::Config& config,
                      const store::Store& store, int64_t now_ms) {
  if (endpoint == "series") return Series(params, config, store, now_ms);
  if (endpoint == "posts") return Posts(params, config, store, now_ms);
  if (endpoint == "top") return Top(params, config, store, now_ms);
  return ErrorResponse(Error::NotFound("no such endpoint: /api/v1/" + std::string(endpoint)));
}

ExportStream PrepareExport(const Params& params, std::shared_ptr<const config::Config> config,
                           const store::Store& store, int64_t now_ms) {
  ExportStream out;
  auto p = CheckParams(params, {"dataset", "format", "campaign", "platform", "from", "to", "step"});
  if (!p) {
    out.error = ErrorResponse(p.error());
    return out;
  }
  auto request = ParseExportRequest(*p, *config, now_ms);
  if (!request) {
    out.error = ErrorResponse(request.error());
    return out;
  }
  out.content_type = std::string(ContentType(request->format));
  out.filename = "chorus-" + std::string(request->dataset == Dataset::kPosts ? "posts" : "series") +
                 (request->campaign.empty() ? "" : "-" + FileSafe(request->campaign)) +
                 (request->format == Format::kCsv ? ".csv" : ".ndjson");
  out.run = [config = std::move(config), &store, r = *request](const Sink& sink) {
    return RunExport(store, *config, r, sink);
  };
  return out;
}

}  // namespace chorus::query
