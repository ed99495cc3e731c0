#include "query/format.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "core/json_escape.h"
#include "core/time.h"
#include "core/utf8.h"

namespace chorus::query {
namespace {

// What a byte asks of the writers, looked up once per byte: an export formats hundreds of MB, and
// a per-byte find_first_of (one memchr call per byte) was a tenth of its time.
enum : uint8_t { kCsvSpecial = 1, kNonAscii = 2 };
constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0x80; c < 0x100; ++c) t[c] |= kNonAscii;
  for (unsigned char c : {',', '"', '\r', '\n'}) t[c] |= kCsvSpecial;
  return t;
}();

// The classes of all bytes of `s`, or-ed.
uint8_t Classes(std::string_view s) {
  uint8_t any = 0;
  for (unsigned char c : s) any |= kByteClass[c];
  return any;
}

// The term label of a post's "campaign\x1fterm" pair.
std::string_view TermName(std::string_view pair) {
  const size_t sep = pair.find('\x1f');
  return sep == std::string_view::npos ? pair : pair.substr(sep + 1);
}

// Calls `f` with each term label of a post's "campaign\x1fterm" pairs, first occurrence kept
// (a handful of terms: the quadratic check costs less than allocating a list a row).
template <typename F>
void ForEachTermName(const store::StoredPost& p, F&& f) {
  for (size_t i = 0; i < p.terms.size(); ++i) {
    const std::string_view term = TermName(p.terms[i]);
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) seen = TermName(p.terms[j]) == term;
    if (!seen) f(term);
  }
}

// Items joined with ';' as one CSV field. Written in place unless the joined text needs quotes.
template <typename List>
void AppendCsvList(std::string* out, const List& items) {
  uint8_t any = 0;
  for (const auto& item : items) any |= Classes(item);
  if (!(any & kCsvSpecial)) {
    bool first = true;
    for (const auto& item : items) {
      if (!first) out->push_back(';');
      first = false;
      if (any & kNonAscii) {
        AppendUtf8(out, item);
      } else {
        out->append(item);
      }
    }
    return;
  }
  std::string joined;
  for (const auto& item : items) {
    if (!joined.empty()) joined.push_back(';');
    joined.append(item);
  }
  AppendCsvField(out, joined);
}

// The post's term labels as one CSV list field (see AppendCsvList).
void AppendCsvTerms(std::string* out, const store::StoredPost& p) {
  uint8_t any = 0;
  for (const auto& pair : p.terms) any |= Classes(TermName(pair));
  if (!(any & kCsvSpecial)) {
    bool first = true;
    ForEachTermName(p, [&](std::string_view term) {
      if (!first) out->push_back(';');
      first = false;
      if (any & kNonAscii) {
        AppendUtf8(out, term);
      } else {
        out->append(term);
      }
    });
    return;
  }
  std::string joined;
  ForEachTermName(p, [&](std::string_view term) {
    if (!joined.empty()) joined.push_back(';');
    joined.append(term);
  });
  AppendCsvField(out, joined);
}

template <typename List>
void AppendJsonList(std::string* out, const List& items) {
  out->push_back('[');
  bool first = true;
  for (const auto& item : items) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, item);
  }
  out->push_back(']');
}

void AppendJsonTerms(std::string* out, const store::StoredPost& p) {
  out->push_back('[');
  bool first = true;
  ForEachTermName(p, [&](std::string_view term) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, term);
  });
  out->push_back(']');
}

}  // namespace

void AppendCsvField(std::string* out, std::string_view s) {
  const uint8_t classes = Classes(s);
  if (!(classes & kCsvSpecial)) {
    if (classes & kNonAscii) {
      AppendUtf8(out, s);
    } else {
      out->append(s);
    }
    return;
  }
  out->push_back('"');
  size_t start = 0;
  for (size_t q = s.find('"'); q != std::string_view::npos; q = s.find('"', start)) {
    AppendUtf8(out, s.substr(start, q - start));
    out->append("\"\"");
    start = q + 1;
  }
  AppendUtf8(out, s.substr(start));
  out->push_back('"');
}

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, p);
}

void AppendDouble(std::string* out, double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, p);
}

std::string_view PostCsvHeader() {
  return "platform,post_id,url,created_at,author,author_followers,campaigns,terms,mentions,likes,"
         "reposts,replies,quotes,policymakers,text\r\n";
}

void AppendPostCsv(std::string* out, const store::StoredPost& sp) {
  const Post& p = sp.post;
  out->append(PlatformName(p.platform));
  out->push_back(',');
  AppendCsvField(out, p.key);
  out->push_back(',');
  AppendCsvField(out, p.url);
  out->push_back(',');
  AppendRfc3339Ms(out, p.created_at_ms);
  out->push_back(',');
  AppendCsvField(out, p.author);
  out->push_back(',');
  AppendInt(out, p.author_followers);
  out->push_back(',');
  AppendCsvList(out, sp.campaigns);
  out->push_back(',');
  AppendCsvTerms(out, sp);
  out->push_back(',');
  AppendCsvList(out, p.mentions);
  for (int64_t v : {p.engagement.likes, p.engagement.reposts, p.engagement.replies, p.engagement.quotes}) {
    out->push_back(',');
    AppendInt(out, v);
  }
  out->push_back(',');
  AppendCsvList(out, sp.policymakers);
  out->push_back(',');
  AppendCsvField(out, p.text);
  out->append(kCsvEol);
}

void AppendPostJson(std::string* out, const store::StoredPost& sp) {
  const Post& p = sp.post;
  out->append("{\"platform\":\"");
  out->append(PlatformName(p.platform));
  out->append("\",\"post_id\":");
  AppendJsonString(out, p.key);
  out->append(",\"url\":");
  AppendJsonString(out, p.url);
  out->append(",\"created_at\":\"");
  AppendRfc3339Ms(out, p.created_at_ms);
  out->append("\",\"author\":");
  AppendJsonString(out, p.author);
  out->append(",\"author_followers\":");
  AppendInt(out, p.author_followers);
  out->append(",\"campaigns\":");
  AppendJsonList(out, sp.campaigns);
  out->append(",\"terms\":");
  AppendJsonTerms(out, sp);
  out->append(",\"mentions\":");
  AppendJsonList(out, p.mentions);
  out->append(",\"likes\":");
  AppendInt(out, p.engagement.likes);
  out->append(",\"reposts\":");
  AppendInt(out, p.engagement.reposts);
  out->append(",\"replies\":");
  AppendInt(out, p.engagement.replies);
  out->append(",\"quotes\":");
  AppendInt(out, p.engagement.quotes);
  out->append(",\"policymakers\":");
  AppendJsonList(out, sp.policymakers);
  out->append(",\"text\":");
  AppendJsonString(out, p.text);
  out->push_back('}');
}

std::string_view SeriesCsvHeader() {
  return "time,campaign,platform,posts,reach,engagement,likes,reposts,replies,quotes,"
         "unique_authors\r\n";
}

void AppendSeriesCsv(std::string* out, const SeriesRow& r) {
  AppendRfc3339Ms(out, r.time_s * 1000);
  out->push_back(',');
  AppendCsvField(out, r.campaign);
  out->push_back(',');
  out->append(r.platform);
  for (int64_t v : {r.posts, r.reach, r.engagement, r.likes, r.reposts, r.replies, r.quotes,
                    r.unique_authors}) {
    out->push_back(',');
    AppendInt(out, v);
  }
  out->append(kCsvEol);
}

void AppendSeriesJson(std::string* out, const SeriesRow& r) {
  out->append("{\"time\":\"");
  AppendRfc3339Ms(out, r.time_s * 1000);
  out->append("\",\"campaign\":");
  AppendJsonString(out, r.campaign);
  out->append(",\"platform\":\"");
  out->append(r.platform);
  out->push_back('"');
  const std::pair<const char*, int64_t> fields[] = {
      {"posts", r.posts},     {"reach", r.reach},       {"engagement", r.engagement},
      {"likes", r.likes},     {"reposts", r.reposts},   {"replies", r.replies},
      {"quotes", r.quotes},   {"unique_authors", r.unique_authors}};
  for (const auto& [name, v] : fields) {
    out->append(",\"");
    out->append(name);
    out->append("\":");
    AppendInt(out, v);
  }
  out->push_back('}');
}

}  // namespace chorus::query
