#include "query/params.h"

#include <algorithm>
#include <charconv>

#include "core/strings.h"
#include "core/time.h"

namespace chorus::query {
namespace {

bool Allowed(std::string_view name, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), name) != allowed.end();
}

std::string Shown(std::string_view v) {
  // Echoed values are cut short: an error message is not a place for a megabyte of query string.
  return std::string(v.substr(0, 80));
}

std::string ListOf(std::initializer_list<std::string_view> allowed) {
  std::string out;
  for (auto a : allowed) {
    if (!out.empty()) out += ", ";
    out += a;
  }
  return out;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

Result<ParamMap> CheckParams(const Params& params, std::initializer_list<std::string_view> allowed) {
  ParamMap out;
  for (const auto& [name, value] : params) {
    if (!Allowed(name, allowed)) {
      return Fail(Error::InvalidArgument("unknown parameter '" + Shown(name) + "' (allowed: " +
                                         ListOf(allowed) + ")"));
    }
    if (!out.emplace(name, value).second) {
      return Fail(Error::InvalidArgument(name + ": given more than once"));
    }
  }
  return out;
}

Result<void> CheckKnown(const ParamMap& params, std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : params) {
    if (!Allowed(name, allowed)) {
      return Fail(Error::InvalidArgument("unknown parameter '" + Shown(name) + "' (allowed: " +
                                         ListOf(allowed) + ")"));
    }
  }
  return {};
}

Result<int64_t> ParseTimeParam(std::string_view name, std::string_view value) {
  auto t = ParseTimeArgMs(value);
  if (!t) return Fail(Error::InvalidArgument(std::string(name) + ": " + t.error().message));
  return *t;
}

Result<store::Step> ParseStep(std::string_view value) {
  if (value == "1m") return store::Step::kMinute;
  if (value == "1h") return store::Step::kHour;
  if (value == "1d") return store::Step::kDay;
  return Fail(Error::InvalidArgument("step: '" + Shown(value) + "' is not one of 1m, 1h, 1d"));
}

std::string_view StepName(store::Step step) {
  switch (step) {
    case store::Step::kMinute: return "1m";
    case store::Step::kHour: return "1h";
    case store::Step::kDay: return "1d";
  }
  return "1h";
}

Result<std::string> ParsePlatformParam(std::string_view value) {
  if (value.empty()) return std::string();
  for (auto p : kPlatforms) {
    if (p == value) return std::string(p);
  }
  return Fail(Error::InvalidArgument("platform: '" + Shown(value) +
                                     "' is not one of mastodon, bluesky, x, reddit"));
}

Result<const config::Campaign*> FindCampaign(const config::Config& config, std::string_view name) {
  for (const auto& c : config.campaigns) {
    if (c.name == name) return &c;
  }
  return Fail(Error::NotFound("campaign: no campaign named '" + Shown(name) + "'"));
}

Result<std::string> ResolveTerm(const config::Campaign& campaign, std::string_view term) {
  const std::string tag = config::NormalizeHashtag(term);
  for (const auto& h : campaign.hashtags) {
    if (h == tag) return h;
  }
  const std::string lower = AsciiLower(term);
  for (const auto& k : campaign.keywords) {
    if (AsciiLower(k) == lower) return k;
  }
  std::string terms;
  for (const auto& h : campaign.hashtags) terms += (terms.empty() ? "" : ", ") + h;
  for (const auto& k : campaign.keywords) terms += (terms.empty() ? "" : ", ") + k;
  return Fail(Error::InvalidArgument("term: '" + Shown(term) + "' is not a term of campaign '" +
                                     campaign.name + "' (its terms: " + terms + ")"));
}

Result<int> ParseLimit(const ParamMap& params, std::string_view name, int def, int max) {
  auto it = params.find(std::string(name));
  if (it == params.end()) return def;
  const std::string& v = it->second;
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n < 1 || n > max) {
    return Fail(Error::InvalidArgument(std::string(name) + ": '" + Shown(v) +
                                       "' is not an integer from 1 to " + std::to_string(max)));
  }
  return n;
}

Result<TimeRange> ParseRange(const ParamMap& params, int64_t now_ms, int64_t default_span_ms) {
  TimeRange r;
  r.to_ms = now_ms;
  if (auto it = params.find("to"); it != params.end()) {
    auto t = ParseTimeParam("to", it->second);
    if (!t) return Fail(t.error());
    r.to_ms = *t;
  }
  r.from_ms = default_span_ms > 0 ? r.to_ms - default_span_ms : INT64_MIN;
  if (auto it = params.find("from"); it != params.end()) {
    auto t = ParseTimeParam("from", it->second);
    if (!t) return Fail(t.error());
    r.from_ms = *t;
  }
  if (r.from_ms >= r.to_ms) {
    return Fail(Error::InvalidArgument("from: must be before to (from " + FormatRfc3339Ms(r.from_ms) +
                                       ", to " + FormatRfc3339Ms(r.to_ms) + ")"));
  }
  return r;
}

std::string EncodeCursor(std::string_view raw) {
  std::string out;
  out.reserve((raw.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(raw[i])) << 16) | (uint32_t(uint8_t(raw[i + 1])) << 8) |
                       uint8_t(raw[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (raw.size() - i == 1) {
    const uint32_t v = uint32_t(uint8_t(raw[i])) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
  } else if (raw.size() - i == 2) {
    const uint32_t v = (uint32_t(uint8_t(raw[i])) << 16) | (uint32_t(uint8_t(raw[i + 1])) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
  }
  return out;
}

Result<std::string> DecodeCursor(std::string_view text) {
  auto bad = [] { return Fail(Error::InvalidArgument("cursor: not a cursor returned by this API")); };
  if (text.empty() || text.size() % 4 == 1) return bad();
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = B64Value(c);
    if (v < 0) return bad();
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero, so each cursor has exactly one spelling.
  if ((acc & ((1u << bits) - 1)) != 0) return bad();
  return out;
}

}  // namespace chorus::query
