// Streamed exports of posts and series (design §6 /api/v1/export, §3 `chorusctl export`).
//
// One implementation serves the HTTP endpoint and the command line: a request is parsed from the
// same parameter names, and rows are written to a sink chunk by chunk, so memory stays flat
// whatever the range. Every export leads with its provenance (the query, the time range, the metric
// definitions version and the collection gaps in the range): `#` comment lines in CSV, a first
// `{"provenance":{...}}` object in NDJSON.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/error.h"
#include "store/store.h"

namespace chorus::query {

// Version of the metric definitions in docs/metrics.md that exports record.
inline constexpr int kDefinitionsVersion = 1;

enum class Dataset { kPosts, kSeries };
enum class Format { kCsv, kNdjson };

struct ExportRequest {
  Dataset dataset = Dataset::kPosts;
  Format format = Format::kCsv;
  std::string campaign;  // "" = every campaign
  std::string platform;  // "" = every platform
  int64_t from_ms = 0;   // [from_ms, to_ms)
  int64_t to_ms = 0;
  store::Step step = store::Step::kHour;  // series only
};

// Parses `dataset`, `format`, `campaign`, `platform`, `from`, `to`, `step` (times RFC 3339 or unix
// seconds; `to` defaults to now, `from` to the start of the store). Unknown parameters, bad values
// and unknown campaigns are errors naming the parameter (kInvalidArgument; kNotFound for an
// unknown campaign).
Result<ExportRequest> ParseExportRequest(const std::map<std::string, std::string>& params,
                                         const config::Config& config, int64_t now_ms);

// Receives the export, chunk by chunk; returning false stops it (the client went away).
using Sink = std::function<bool(std::string_view chunk)>;
// Called now and then with the rows written so far and where in [from_ms, to_ms) the export is.
using Progress = std::function<void(int64_t rows, int64_t at_ms)>;

// Writes the export to `sink`; returns the number of data rows written.
Result<int64_t> RunExport(const store::Store& store, const config::Config& config,
                          const ExportRequest& request, const Sink& sink,
                          const Progress& progress = {});

// "text/csv; charset=utf-8" or "application/x-ndjson".
std::string_view ContentType(Format format);

}  // namespace chorus::query
