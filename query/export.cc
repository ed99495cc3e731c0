#include "query/export.h"

#include <chrono>
#include <map>
#include <tuple>
#include <vector>

#include "core/build_info.h"
#include "core/json_escape.h"
#include "core/time.h"
#include "query/format.h"
#include "query/params.h"

namespace chorus::query {
namespace {

// Rows are gathered into chunks of about this size before they reach the sink: big enough that
// per-chunk costs (a chunked-encoding frame, a write syscall) vanish, small enough to stay flat.
constexpr size_t kChunkBytes = 64 * 1024;
// Series are read this many buckets at a time (per campaign, platform and metric).
constexpr int64_t kSeriesWindowBuckets = 1440;
constexpr int64_t kProgressEveryRows = 8192;
// A partly filled chunk is sent anyway after this long, so a sparse export (a narrow platform
// filter, long empty stretches of series) keeps the client's read timeout from firing.
constexpr auto kMaxChunkDelay = std::chrono::seconds(1);

class ChunkWriter {
 public:
  explicit ChunkWriter(const Sink& sink) : sink_(sink) { buf_.reserve(kChunkBytes + 4096); }
  std::string* buf() { return &buf_; }
  // Hands the buffer to the sink once it is full (or always, with `force`); false when the sink
  // refused it, and every later call is refused too.
  bool Flush(bool force = false) {
    if (stopped_) return false;
    if (buf_.empty()) return true;
    if (!force && buf_.size() < kChunkBytes &&
        std::chrono::steady_clock::now() - last_sent_ < kMaxChunkDelay) {
      return true;
    }
    if (!sink_(buf_)) {
      stopped_ = true;
      return false;
    }
    buf_.clear();
    last_sent_ = std::chrono::steady_clock::now();
    return true;
  }
  bool stopped() const { return stopped_; }

 private:
  const Sink& sink_;
  std::string buf_;
  bool stopped_ = false;
  std::chrono::steady_clock::time_point last_sent_ = std::chrono::steady_clock::now();
};

// Values shown on a `#` line stay on that line.
std::string OneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

std::string_view DatasetName(Dataset d) { return d == Dataset::kPosts ? "posts" : "series"; }

void WriteProvenance(std::string* out, const ExportRequest& r, int64_t from_ms, int64_t to_ms,
                     const std::vector<store::Gap>& gaps) {
  const bool open_start = from_ms == INT64_MIN;
  const bool series = r.dataset == Dataset::kSeries;
  if (r.format == Format::kCsv) {
    out->append("# chorus export (chorus ").append(ChorusVersion()).append(")\r\n");
    out->append("# query: dataset=").append(DatasetName(r.dataset));
    out->append(" format=csv campaign=").append(r.campaign.empty() ? "(all)" : OneLine(r.campaign));
    out->append(" platform=").append(r.platform.empty() ? "(all)" : r.platform);
    if (series) out->append(" step=").append(StepName(r.step));
    out->append("\r\n# range: ");
    out->append(series ? "buckets starting in [" : "created_at in [");
    out->append(open_start ? "start of store" : FormatRfc3339Ms(from_ms));
    out->append(", ").append(FormatRfc3339Ms(to_ms)).append(")\r\n");
    out->append("# definitions: version ").append(std::to_string(kDefinitionsVersion));
    out->append(" (docs/metrics.md)\r\n");
    if (gaps.empty()) out->append("# gaps: none\r\n");
    for (const auto& g : gaps) {
      out->append("# gap: source=").append(OneLine(g.source));
      out->append(" from=").append(FormatRfc3339Ms(g.from_ms));
      out->append(" to=").append(FormatRfc3339Ms(g.to_ms)).append("\r\n");
    }
    return;
  }
  out->append("{\"provenance\":{\"chorus_version\":");
  AppendJsonString(out, ChorusVersion());
  out->append(",\"query\":{\"dataset\":\"").append(DatasetName(r.dataset));
  out->append("\",\"format\":\"ndjson\",\"campaign\":");
  AppendJsonString(out, r.campaign);
  out->append(",\"platform\":");
  AppendJsonString(out, r.platform);
  if (series) out->append(",\"step\":\"").append(StepName(r.step)).append("\"");
  out->append("},\"from\":");
  if (open_start) {
    out->append("null");
  } else {
    AppendJsonString(out, FormatRfc3339Ms(from_ms));
  }
  out->append(",\"to\":");
  AppendJsonString(out, FormatRfc3339Ms(to_ms));
  out->append(",\"range_applies_to\":");
  out->append(series ? "\"bucket_start\"" : "\"created_at\"");
  out->append(",\"definitions_version\":").append(std::to_string(kDefinitionsVersion));
  out->append(",\"gaps\":[");
  for (size_t i = 0; i < gaps.size(); ++i) {
    if (i) out->push_back(',');
    out->append("{\"source\":");
    AppendJsonString(out, gaps[i].source);
    out->append(",\"from\":");
    AppendJsonString(out, FormatRfc3339Ms(gaps[i].from_ms));
    out->append(",\"to\":");
    AppendJsonString(out, FormatRfc3339Ms(gaps[i].to_ms));
    out->push_back('}');
  }
  out->append("]}}\n");
}

Error Cancelled() { return Error::Cancelled("export stopped: the receiver went away"); }

Result<int64_t> ExportPosts(const store::Store& store, const ExportRequest& r, ChunkWriter& w,
                            const Progress& progress) {
  if (r.format == Format::kCsv) w.buf()->append(PostCsvHeader());
  int64_t rows = 0;
  store::PostScan scan;
  scan.campaign = r.campaign;
  scan.platform = r.platform;
  scan.from_ms = r.from_ms;
  scan.to_ms = r.to_ms;
  scan.read_through = true;
  auto scanned = store.ScanPosts(scan, [&](const store::StoredPost& p, const std::string&) {
    if (r.format == Format::kCsv) {
      AppendPostCsv(w.buf(), p);
    } else {
      AppendPostJson(w.buf(), p);
      w.buf()->push_back('\n');
    }
    ++rows;
    if (progress && rows % kProgressEveryRows == 0) progress(rows, p.post.created_at_ms);
    return w.Flush();
  });
  if (!scanned) return Fail(scanned.error());
  if (!w.Flush(true)) return Fail(Cancelled());
  if (progress) progress(rows, r.to_ms);
  return rows;
}

// Where a series export that asked for "from the start" starts: the creation time of the first
// stored post in its scope (series are never older than the posts they count, except past the
// posts' retention).
Result<std::optional<int64_t>> EarliestPost(const store::Store& store, const ExportRequest& r) {
  std::optional<int64_t> earliest;
  store::PostScan scan;
  scan.campaign = r.campaign;
  scan.platform = r.platform;
  scan.to_ms = r.to_ms;
  auto scanned = store.ScanPosts(scan, [&](const store::StoredPost& p, const std::string&) {
    earliest = p.post.created_at_ms;
    return false;
  });
  if (!scanned) return Fail(scanned.error());
  return earliest;
}

Result<int64_t> ExportSeries(const store::Store& store, const config::Config& config,
                             const ExportRequest& r, int64_t from_ms, ChunkWriter& w,
                             const Progress& progress) {
  if (r.format == Format::kCsv) w.buf()->append(SeriesCsvHeader());
  std::vector<std::string> campaigns;
  if (!r.campaign.empty()) {
    campaigns.push_back(r.campaign);
  } else {
    for (const auto& c : config.campaigns) campaigns.push_back(c.name);
  }
  std::vector<std::string_view> platforms;
  for (auto p : kPlatforms) {
    if (r.platform.empty() || r.platform == p) platforms.push_back(p);
  }
  // Stored metric name and the row field it fills.
  using Field = int64_t SeriesRow::*;
  const std::pair<const char*, Field> metrics[] = {
      {"posts", &SeriesRow::posts},
      {"reach", &SeriesRow::reach},
      {"engagement", &SeriesRow::engagement},
      {"engagement_like", &SeriesRow::likes},
      {"engagement_repost", &SeriesRow::reposts},
      {"engagement_reply", &SeriesRow::replies},
      {"engagement_quote", &SeriesRow::quotes},
  };
  const int64_t step_s = store::StepSeconds(r.step);
  const int64_t first = store::BucketStart(FloorSeconds(from_ms), r.step);
  const int64_t end_s = CeilSeconds(r.to_ms);
  int64_t rows = 0;
  // Each window's rows, in (bucket, campaign, platform) order; only buckets with data.
  std::map<std::tuple<int64_t, size_t, size_t>, SeriesRow> window;
  for (int64_t w_start = first; w_start < end_s;) {
    const int64_t w_end = end_s - w_start > kSeriesWindowBuckets * step_s
                              ? w_start + kSeriesWindowBuckets * step_s
                              : end_s;
    window.clear();
    for (size_t ci = 0; ci < campaigns.size(); ++ci) {
      for (size_t pi = 0; pi < platforms.size(); ++pi) {
        auto row_at = [&](int64_t t) -> SeriesRow& {
          SeriesRow& row = window[{t, ci, pi}];
          row.time_s = t;
          row.campaign = campaigns[ci];
          row.platform = platforms[pi];
          return row;
        };
        for (const auto& [metric, field] : metrics) {
          auto points = store.ReadSeries(metric, campaigns[ci], platforms[pi], "", w_start, w_end, r.step);
          if (!points) return Fail(points.error());
          for (const auto& [t, v] : *points) row_at(t).*field += v;
        }
        auto authors = store.UniqueAuthorsSeries(campaigns[ci], platforms[pi], w_start, w_end, r.step);
        if (!authors) return Fail(authors.error());
        for (const auto& [t, v] : *authors) row_at(t).unique_authors += v;
      }
    }
    for (const auto& [key, row] : window) {
      if (r.format == Format::kCsv) {
        AppendSeriesCsv(w.buf(), row);
      } else {
        AppendSeriesJson(w.buf(), row);
        w.buf()->push_back('\n');
      }
      ++rows;
      if (!w.Flush()) return Fail(Cancelled());
    }
    if (!w.Flush()) return Fail(Cancelled());
    if (progress) progress(rows, w_end * 1000);
    w_start = w_end;
  }
  if (!w.Flush(true)) return Fail(Cancelled());
  return rows;
}

}  // namespace

Result<ExportRequest> ParseExportRequest(const std::map<std::string, std::string>& params,
                                         const config::Config& config, int64_t now_ms) {
  if (auto ok = CheckKnown(params, {"dataset", "format", "campaign", "platform", "from", "to", "step"});
      !ok) {
    return Fail(ok.error());
  }
  ExportRequest r;
  if (auto it = params.find("dataset"); it != params.end()) {
    if (it->second == "posts") {
      r.dataset = Dataset::kPosts;
    } else if (it->second == "series") {
      r.dataset = Dataset::kSeries;
    } else {
      return Fail(Error::InvalidArgument("dataset: '" + it->second.substr(0, 80) +
                                         "' is not one of posts, series"));
    }
  }
  if (auto it = params.find("format"); it != params.end()) {
    if (it->second == "csv") {
      r.format = Format::kCsv;
    } else if (it->second == "ndjson") {
      r.format = Format::kNdjson;
    } else {
      return Fail(Error::InvalidArgument("format: '" + it->second.substr(0, 80) +
                                         "' is not one of csv, ndjson"));
    }
  }
  if (auto it = params.find("campaign"); it != params.end() && !it->second.empty()) {
    auto c = FindCampaign(config, it->second);
    if (!c) return Fail(c.error());
    r.campaign = it->second;
  }
  if (auto it = params.find("platform"); it != params.end()) {
    auto p = ParsePlatformParam(it->second);
    if (!p) return Fail(p.error());
    r.platform = *p;
  }
  auto range = ParseRange(params, now_ms, /*default_span_ms=*/0);
  if (!range) return Fail(range.error());
  r.from_ms = range->from_ms;
  r.to_ms = range->to_ms;
  if (auto it = params.find("step"); it != params.end()) {
    auto s = ParseStep(it->second);
    if (!s) return Fail(s.error());
    r.step = *s;
  }
  return r;
}

Result<int64_t> RunExport(const store::Store& store, const config::Config& config,
                          const ExportRequest& request, const Sink& sink, const Progress& progress) {
  if (request.from_ms >= request.to_ms) {
    return Fail(Error::InvalidArgument("from: must be before to"));
  }
  int64_t from_ms = request.from_ms;
  if (request.dataset == Dataset::kSeries && from_ms == INT64_MIN) {
    auto earliest = EarliestPost(store, request);
    if (!earliest) return Fail(earliest.error());
    from_ms = earliest->value_or(request.to_ms);
  }
  auto gaps = store.ReadGaps(from_ms, request.to_ms);
  if (!gaps) return Fail(gaps.error());
  ChunkWriter w(sink);
  WriteProvenance(w.buf(), request, from_ms, request.to_ms, *gaps);
  if (request.dataset == Dataset::kPosts) return ExportPosts(store, request, w, progress);
  return ExportSeries(store, config, request, from_ms, w, progress);
}

std::string_view ContentType(Format format) {
  return format == Format::kCsv ? "text/csv; charset=utf-8" : "application/x-ndjson";
}

}  // namespace chorus::query
