#include "query/format.h"

#include <charconv>
#include <cmath>
#include <vector>

#include "core/json_escape.h"
#include "core/time.h"

namespace chorus::query {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when the byte there does not
// start one (RFC 3629 table 3-7).
size_t SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  const size_t left = s.size() - i;
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return b(i + k) >= lo && b(i + k) <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3) return 0;
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4) return 0;
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

bool NeedsCsvQuotes(std::string_view s) {
  return s.find_first_of(",\"\r\n") != std::string_view::npos;
}

// Term labels of a post's "campaign\x1fterm" pairs, first occurrence kept.
std::vector<std::string_view> TermNames(const store::StoredPost& p) {
  std::vector<std::string_view> out;
  for (const auto& pair : p.terms) {
    const size_t sep = pair.find('\x1f');
    std::string_view term = sep == std::string::npos ? std::string_view(pair)
                                                     : std::string_view(pair).substr(sep + 1);
    bool seen = false;
    for (auto t : out) seen = seen || t == term;
    if (!seen) out.push_back(term);
  }
  return out;
}

template <typename List>
void AppendCsvList(std::string* out, const List& items) {
  std::string joined;
  for (const auto& item : items) {
    if (!joined.empty()) joined.push_back(';');
    joined.append(item);
  }
  AppendCsvField(out, joined);
}

template <typename List>
void AppendJsonList(std::string* out, const List& items) {
  out->push_back('[');
  bool first = true;
  for (const auto& item : items) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonText(out, item);
  }
  out->push_back(']');
}

void AppendTime(std::string* out, int64_t ms) { out->append(FormatRfc3339Ms(ms)); }

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void AppendUtf8(std::string* out, std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // Copy runs of ASCII at once; posts are mostly ASCII.
    size_t j = i;
    while (j < s.size() && static_cast<unsigned char>(s[j]) < 0x80) ++j;
    out->append(s.substr(i, j - i));
    i = j;
    if (i >= s.size()) break;
    const size_t n = SequenceLength(s, i);
    if (n == 0) {
      out->append(kReplacement);
      ++i;
    } else {
      out->append(s.substr(i, n));
      i += n;
    }
  }
}

void AppendCsvField(std::string* out, std::string_view s) {
  if (!NeedsCsvQuotes(s)) {
    AppendUtf8(out, s);
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

void AppendJsonText(std::string* out, std::string_view s) {
  if (IsValidUtf8(s)) {
    AppendJsonString(out, s);
    return;
  }
  std::string clean;
  AppendUtf8(&clean, s);
  AppendJsonString(out, clean);
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
  AppendTime(out, p.created_at_ms);
  out->push_back(',');
  AppendCsvField(out, p.author);
  out->push_back(',');
  AppendInt(out, p.author_followers);
  out->push_back(',');
  AppendCsvList(out, sp.campaigns);
  out->push_back(',');
  AppendCsvList(out, TermNames(sp));
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
  AppendJsonText(out, p.key);
  out->append(",\"url\":");
  AppendJsonText(out, p.url);
  out->append(",\"created_at\":\"");
  AppendTime(out, p.created_at_ms);
  out->append("\",\"author\":");
  AppendJsonText(out, p.author);
  out->append(",\"author_followers\":");
  AppendInt(out, p.author_followers);
  out->append(",\"campaigns\":");
  AppendJsonList(out, sp.campaigns);
  out->append(",\"terms\":");
  AppendJsonList(out, TermNames(sp));
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
  AppendJsonText(out, p.text);
  out->push_back('}');
}

std::string_view SeriesCsvHeader() {
  return "time,campaign,platform,posts,reach,engagement,likes,reposts,replies,quotes,"
         "unique_authors\r\n";
}

void AppendSeriesCsv(std::string* out, const SeriesRow& r) {
  AppendTime(out, r.time_s * 1000);
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
  AppendTime(out, r.time_s * 1000);
  out->append("\",\"campaign\":");
  AppendJsonText(out, r.campaign);
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
