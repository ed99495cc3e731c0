// How posts and series rows are written: RFC 4180 CSV and JSON, shared by the HTTP API
// (/api/v1/posts, /top) and the exports, so a field has one name and one spelling everywhere.
//
// Posts carry the columns of design §6, in this order:
//   platform,post_id,url,created_at,author,author_followers,campaigns,terms,mentions,likes,
//   reposts,replies,quotes,policymakers,text
// ids are text; created_at is RFC 3339 UTC with milliseconds; in CSV list columns are joined with
// ';', in JSON they are arrays. Text that is not valid UTF-8 has each bad byte replaced by U+FFFD,
// so every output is valid UTF-8. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_escape.h"  // AppendJsonString: JSON text, valid UTF-8 guaranteed
#include "core/utf8.h"         // IsValidUtf8, AppendUtf8
#include "store/store.h"

namespace chorus::query {

// Appends one RFC 4180 field: quoted (quotes doubled) when it holds a comma, quote, CR or LF.
void AppendCsvField(std::string* out, std::string_view s);
void AppendInt(std::string* out, int64_t v);
// Shortest decimal that reads back as `v` (JSON has no NaN or infinities: those become 0).
void AppendDouble(std::string* out, double v);

// CSV rows end with CRLF (RFC 4180).
inline constexpr std::string_view kCsvEol = "\r\n";

// The header row of the posts CSV, CRLF included.
std::string_view PostCsvHeader();
// One post as a CSV row (CRLF included) / as a JSON object (no newline).
void AppendPostCsv(std::string* out, const store::StoredPost& p);
void AppendPostJson(std::string* out, const store::StoredPost& p);

// A series export row: the sums of one (bucket, campaign, platform).
struct SeriesRow {
  int64_t time_s = 0;  // bucket start
  std::string_view campaign;
  std::string_view platform;
  int64_t posts = 0, reach = 0, engagement = 0, likes = 0, reposts = 0, replies = 0, quotes = 0,
          unique_authors = 0;
};
std::string_view SeriesCsvHeader();
void AppendSeriesCsv(std::string* out, const SeriesRow& r);
void AppendSeriesJson(std::string* out, const SeriesRow& r);

}  // namespace chorus::query
