#include "daemon/alert_payloads.h"

#include <cmath>
#include <cstdio>

#include "core/json_escape.h"
#include "core/time.h"

namespace chorus::daemon {
namespace {

using analytics::Alert;

void AppendList(std::string* out, const std::vector<std::string>& items) {
  out->push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonString(out, items[i]);
  }
  out->push_back(']');
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string Number(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Slack mrkdwn treats &, < and > as control characters (links are <url|label>).
std::string SlackEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string PolicymakerText(const Alert& a) {
  return Join(a.policymaker_names.empty() ? a.policymakers : a.policymaker_names, " and ");
}

std::string SpikeText(const Alert& a) {
  const auto& s = *a.spike;
  return std::to_string(s.count) + " posts in the " + FormatDurationMs(s.window_ms) +
         " from " + FormatRfc3339Ms(s.window_start_ms) + ", baseline " + Number(s.mean) +
         " ± " + Number(s.stddev) + " per " + FormatDurationMs(s.window_ms) + " over 7d (alert above " +
         Number(s.line) + ")";
}

}  // namespace

std::string Excerpt(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  // Back up to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "…";
}

std::string AlertSummary(const Alert& a) {
  const std::string campaigns = a.campaigns.empty() ? "" : " (" + Join(a.campaigns, ", ") + ")";
  if (a.kind == analytics::kRuleSpike) {
    return "spike in " + Join(a.campaigns, ", ") +
           (a.spike ? ": " + std::to_string(a.spike->count) + " posts in " +
                          FormatDurationMs(a.spike->window_ms)
                    : std::string());
  }
  if (a.kind == analytics::kRuleResponse) {
    return PolicymakerText(a) + " responded on " + a.platform + campaigns;
  }
  return PolicymakerText(a) + " mentioned on " + a.platform + " by " + a.post.author + campaigns;
}

void AppendAlertJsonFields(std::string* out, const Alert& a) {
  *out += "\"key\":";
  AppendJsonString(out, a.key);
  *out += ",\"rule\":";
  AppendJsonString(out, a.rule);
  *out += ",\"kind\":";
  AppendJsonString(out, a.kind);
  *out += ",\"platform\":";
  AppendJsonString(out, a.platform);
  *out += ",\"campaigns\":";
  AppendList(out, a.campaigns);
  *out += ",\"policymakers\":";
  AppendList(out, a.policymakers);
  *out += ",\"post\":{\"id\":";
  AppendJsonString(out, a.post.id);
  *out += ",\"url\":";
  AppendJsonString(out, a.post.url);
  *out += ",\"author\":";
  AppendJsonString(out, a.post.author);
  *out += ",\"created_at\":";
  AppendJsonString(out, a.post.id.empty() ? "" : FormatRfc3339Ms(a.post.created_at_ms));
  *out += ",\"text\":";
  AppendJsonString(out, a.post.text);
  *out += "}";
  if (a.spike) {
    const auto& s = *a.spike;
    *out += ",\"spike\":{\"window_start\":";
    AppendJsonString(out, FormatRfc3339Ms(s.window_start_ms));
    *out += ",\"window_seconds\":" + std::to_string(s.window_ms / 1000) +
            ",\"count\":" + std::to_string(s.count) + ",\"baseline_mean\":" + Number(s.mean) +
            ",\"baseline_stddev\":" + Number(s.stddev) + ",\"alert_above\":" + Number(s.line) +
            ",\"baseline_windows\":" + std::to_string(s.baseline_windows) + "}";
  }
}

std::string JsonAlertPayload(const Alert& a) {
  std::string out = "{";
  AppendAlertJsonFields(&out, a);
  out += "}";
  return out;
}

std::string SlackAlertPayload(const Alert& a) {
  std::string text = "*" + SlackEscape(a.rule) + "*: ";
  if (a.kind == analytics::kRuleSpike) {
    text += "spike in *" + SlackEscape(Join(a.campaigns, ", ")) + "*";
    if (a.spike) text += ": " + SlackEscape(SpikeText(a));
  } else {
    text += SlackEscape(PolicymakerText(a)) +
            (a.kind == analytics::kRuleResponse ? " responded" : " mentioned") + " on " +
            SlackEscape(a.platform) + " by " + SlackEscape(a.post.author);
    if (!a.campaigns.empty()) text += " — campaign " + SlackEscape(Join(a.campaigns, ", "));
    if (!a.post.text.empty()) text += "\n> " + SlackEscape(Excerpt(a.post.text, 280));
    if (!a.post.url.empty()) text += "\n<" + SlackEscape(a.post.url) + "|Open the post>";
  }
  std::string out = "{\"text\":";
  AppendJsonString(&out, text);
  out += "}";
  return out;
}

std::string AlertmanagerAlertPayload(const Alert& a) {
  auto label = [](std::string* out, const char* name, const std::string& value, bool comma = true) {
    if (comma) out->push_back(',');
    AppendJsonString(out, name);
    out->push_back(':');
    AppendJsonString(out, value);
  };
  std::string out = "[{\"labels\":{";
  label(&out, "alertname", a.rule, false);
  label(&out, "rule", a.rule);
  label(&out, "kind", a.kind);
  label(&out, "campaign", Join(a.campaigns, ","));
  label(&out, "platform", a.platform);
  label(&out, "policymaker", Join(a.policymakers, ","));
  label(&out, "severity", "warning");
  // Alertmanager identifies an alert by its label set: without the key, two posts mentioning the
  // same policymaker would merge into one alert.
  label(&out, "key", a.key);
  out += "},\"annotations\":{";
  label(&out, "summary", AlertSummary(a), false);
  std::string description;
  if (a.spike) {
    description = SpikeText(a);
  } else {
    description = Excerpt(a.post.text, 1000);
  }
  label(&out, "description", description);
  label(&out, "url", a.post.url);
  out += "},\"startsAt\":";
  AppendJsonString(&out, FormatRfc3339Ms(a.created_ms));
  // generatorURL must be an absolute URL when present; the post link is the natural one.
  if (a.post.url.rfind("http://", 0) == 0 || a.post.url.rfind("https://", 0) == 0) {
    out += ",\"generatorURL\":";
    AppendJsonString(&out, a.post.url);
  }
  out += "}]";
  return out;
}

}  // namespace chorus::daemon
