#include "daemon/alert_queue.h"

#include <charconv>
#include <cstring>

#include "core/json_escape.h"
#include "core/record_codec.h"
#include "core/log.h"
#include "core/time.h"
#include "daemon/alert_payloads.h"

namespace chorus::daemon {
namespace {

using analytics::Alert;

// Record formats: a format byte, then fields in a fixed order (core/record_codec.h).
constexpr uint8_t kOutboxFormat = 1;
constexpr uint8_t kLogFormat = 1;
constexpr int64_t kSpikeRestoreMs = 86'400'000;

using codec::PutDouble;
using codec::PutInt;
using codec::PutList;
using codec::PutString;
using codec::PutVarint;
using codec::Reader;

void PutAlert(std::string* out, const Alert& a) {
  PutString(out, a.key);
  PutString(out, a.rule);
  PutString(out, a.kind);
  PutInt(out, a.created_ms);
  PutString(out, a.platform);
  PutList(out, a.campaigns);
  PutList(out, a.policymakers);
  PutList(out, a.policymaker_names);
  PutString(out, a.post.id);
  PutString(out, a.post.url);
  PutString(out, a.post.author);
  PutInt(out, a.post.created_at_ms);
  PutString(out, a.post.text);
  out->push_back(a.spike ? 1 : 0);
  if (a.spike) {
    const auto& s = *a.spike;
    PutInt(out, s.window_start_ms);
    PutInt(out, s.window_ms);
    PutInt(out, s.count);
    PutDouble(out, s.mean);
    PutDouble(out, s.stddev);
    PutDouble(out, s.line);
    PutInt(out, s.baseline_windows);
  }
  PutList(out, a.receivers);
}

bool ReadAlert(Reader& r, Alert* a) {
  uint8_t has_spike = 0;
  if (!(r.String(&a->key) && r.String(&a->rule) && r.String(&a->kind) && r.Int(&a->created_ms) &&
        r.String(&a->platform) && r.List(&a->campaigns) && r.List(&a->policymakers) &&
        r.List(&a->policymaker_names) && r.String(&a->post.id) && r.String(&a->post.url) &&
        r.String(&a->post.author) && r.Int(&a->post.created_at_ms) && r.String(&a->post.text) &&
        r.Byte(&has_spike))) {
    return false;
  }
  if (has_spike) {
    analytics::SpikeStats s;
    if (!(r.Int(&s.window_start_ms) && r.Int(&s.window_ms) && r.Int(&s.count) && r.Double(&s.mean) &&
          r.Double(&s.stddev) && r.Double(&s.line) && r.Int(&s.baseline_windows))) {
      return false;
    }
    a->spike = s;
  }
  return r.List(&a->receivers);
}

constexpr Platform kAllPlatforms[] = {Platform::kMastodon, Platform::kBluesky, Platform::kX,
                                      Platform::kReddit};

}  // namespace

std::string_view DeliveryStateName(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending: return "pending";
    case DeliveryState::kRetrying: return "retrying";
    case DeliveryState::kDelivered: return "delivered";
    case DeliveryState::kDropped: return "dropped";
  }
  return "pending";
}

std::string AlertLogKey(const Alert& alert) {
  std::string k;
  codec::PutOrderedInt64(&k, alert.created_ms);
  k += alert.key;
  return k;
}

std::string OutboxKey(const Alert& alert, const std::string& receiver) {
  std::string k = AlertLogKey(alert);
  k.push_back('\x1f');
  k += receiver;
  return k;
}

std::string EncodeOutboxEntry(const OutboxEntry& e) {
  std::string out;
  out.push_back(static_cast<char>(kOutboxFormat));
  PutAlert(&out, e.alert);
  PutString(&out, e.receiver);
  PutInt(&out, e.attempts);
  PutInt(&out, e.next_attempt_ms);
  PutString(&out, e.last_error);
  return out;
}

Result<OutboxEntry> DecodeOutboxEntry(std::string_view bytes) {
  OutboxEntry e;
  Reader r(bytes);
  uint8_t format = 0;
  if (!(r.Byte(&format) && format == kOutboxFormat && ReadAlert(r, &e.alert) && r.String(&e.receiver) &&
        r.Int(&e.attempts) && r.Int(&e.next_attempt_ms) && r.String(&e.last_error) && r.AtEnd())) {
    return Fail(Error::Storage("corrupt alert outbox record"));
  }
  return e;
}

std::string EncodeAlertLogEntry(const AlertLogEntry& e) {
  std::string out;
  out.push_back(static_cast<char>(kLogFormat));
  PutAlert(&out, e.alert);
  PutVarint(&out, e.deliveries.size());
  for (const auto& d : e.deliveries) {
    PutString(&out, d.receiver);
    out.push_back(static_cast<char>(d.state));
    PutInt(&out, d.attempts);
    PutString(&out, d.last_error);
  }
  return out;
}

Result<AlertLogEntry> DecodeAlertLogEntry(std::string_view bytes) {
  AlertLogEntry e;
  Reader r(bytes);
  uint8_t format = 0;
  uint64_t n = 0;
  bool ok = r.Byte(&format) && format == kLogFormat && ReadAlert(r, &e.alert) && r.Varint(&n) &&
            n <= bytes.size();
  for (uint64_t i = 0; ok && i < n; ++i) {
    Delivery d;
    uint8_t state = 0;
    ok = r.String(&d.receiver) && r.Byte(&state) && state <= 3 && r.Int(&d.attempts) &&
         r.String(&d.last_error);
    d.state = static_cast<DeliveryState>(state);
    e.deliveries.push_back(std::move(d));
  }
  if (!ok || !r.AtEnd()) return Fail(Error::Storage("corrupt alert log record"));
  return e;
}

void QueueAlert(const Alert& alert, store::Batch* batch) {
  AlertLogEntry log{alert, {}};
  for (const auto& receiver : alert.receivers) {
    log.deliveries.push_back(Delivery{receiver, DeliveryState::kPending, 0, ""});
    OutboxEntry e{alert, receiver, 0, 0, ""};
    batch->outbox_puts[OutboxKey(alert, receiver)] = EncodeOutboxEntry(e);
  }
  batch->alert_log_puts[AlertLogKey(alert)] = EncodeAlertLogEntry(log);
}

AlertQueue::AlertQueue(store::Store& store)
    : store_(store), engine_(std::make_shared<analytics::AlertEngine>(config::Config{})) {}

void AlertQueue::SetConfig(const config::Config& config) {
  auto engine = std::make_shared<const analytics::AlertEngine>(config);
  std::lock_guard lock(mu_);
  engine_ = std::move(engine);
}

std::shared_ptr<const analytics::AlertEngine> AlertQueue::engine() const {
  std::lock_guard lock(mu_);
  return engine_;
}

ingest::NewPostHook AlertQueue::Hook() {
  return [this](const ingest::NewPostEvent& event, int64_t now_ms, store::Batch& batch) {
    const auto alerts = engine()->OnNewPost(event.post.post, event.match, event.responded_campaigns, now_ms);
    for (const auto& a : alerts) {
      LogDebug("alert raised: rule=" + a.rule + " key=" + a.key);
      QueueAlert(a, &batch);
    }
  };
}

Result<std::vector<Alert>> AlertQueue::EvaluateSpikes(int64_t now_ms) {
  std::lock_guard lock(spike_mu_);
  const auto eng = engine();
  if (!restored_) {
    // A restart must not turn the surge that was already alerted into a second alert.
    auto log = store_.ScanAlertLog(kAlertLogKeep);
    if (!log) return Fail(log.error());
    for (const auto& [k, v] : *log) {
      auto e = DecodeAlertLogEntry(v);
      if (e && e->alert.kind == analytics::kRuleSpike && e->alert.created_ms > now_ms - kSpikeRestoreMs) {
        spikes_.RestoreLastAlert(e->alert.rule, e->alert.created_ms);
      }
    }
    restored_ = true;
  }
  std::vector<Alert> raised;
  store::Batch batch;
  for (const auto& rule : eng->spike_rules()) {
    const auto [from_s, to_s] = analytics::SpikeRange(rule.window_ms, now_ms);
    std::vector<std::pair<int64_t, int64_t>> counts;
    for (Platform p : kAllPlatforms) {
      auto series = store_.ReadSeries("posts", rule.campaign, PlatformName(p), "", from_s, to_s,
                                      store::Step::kMinute);
      if (!series) return Fail(series.error());
      counts.insert(counts.end(), series->begin(), series->end());
    }
    if (auto a = spikes_.Evaluate(rule, counts, now_ms)) {
      LogInfo("alert raised: rule=" + a->rule + " " + AlertSummary(*a));
      QueueAlert(*a, &batch);
      raised.push_back(std::move(*a));
    }
  }
  if (!batch.empty()) {
    if (auto r = store_.Commit(batch); !r) return Fail(r.error());
  }
  return raised;
}

Result<void> TrimAlertLog(store::Store& store) {
  auto newest = store.ScanAlertLog(kAlertLogKeep);
  if (!newest) return Fail(newest.error());
  if (newest->size() < kAlertLogKeep) return {};
  return store.TrimAlertLog(newest->back().first);
}

Result<size_t> ParseAlertsLimit(std::string_view text) {
  if (text.empty()) return kAlertsDefaultLimit;
  size_t n = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || n < 1 || n > kAlertsMaxLimit) {
    return Fail(Error::InvalidArgument("limit must be an integer from 1 to " +
                                       std::to_string(kAlertsMaxLimit)));
  }
  return n;
}

Result<std::string> AlertsJson(const store::Store& store, size_t limit) {
  auto entries = store.ScanAlertLog(limit);
  if (!entries) return Fail(entries.error());
  std::string out = "{\"alerts\":[";
  bool first = true;
  for (const auto& [k, v] : *entries) {
    auto e = DecodeAlertLogEntry(v);
    if (!e) continue;  // a record from a newer format: skip rather than fail the whole list
    if (!first) out.push_back(',');
    first = false;
    out += "{";
    AppendAlertJsonFields(&out, e->alert);
    out += ",\"created_at\":";
    AppendJsonString(&out, FormatRfc3339Ms(e->alert.created_ms));
    out += ",\"deliveries\":[";
    for (size_t i = 0; i < e->deliveries.size(); ++i) {
      const auto& d = e->deliveries[i];
      if (i) out.push_back(',');
      out += "{\"receiver\":";
      AppendJsonString(&out, d.receiver);
      out += ",\"state\":";
      AppendJsonString(&out, DeliveryStateName(d.state));
      out += ",\"attempts\":" + std::to_string(d.attempts) + ",\"last_error\":";
      AppendJsonString(&out, d.last_error);
      out += "}";
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

query::ApiResponse AlertsApi(const query::Params& params, const store::Store& store) {
  auto checked = query::CheckParams(params, {"limit"});
  if (!checked) return query::ErrorResponse(checked.error());
  auto it = checked->find("limit");
  auto limit = ParseAlertsLimit(it == checked->end() ? "" : it->second);
  if (!limit) return query::ErrorResponse(limit.error());
  auto body = AlertsJson(store, *limit);
  if (!body) return query::ErrorResponse(body.error());
  query::ApiResponse r;
  r.body = std::move(*body);
  return r;
}

}  // namespace chorus::daemon
