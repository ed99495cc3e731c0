#include "daemon/alert_dispatcher.h"

#include <cstdlib>
#include <optional>

#include "core/log.h"
#include "daemon/alert_payloads.h"

namespace chorus::daemon {
namespace {

constexpr int64_t kTrimIntervalMs = 60'000;
constexpr size_t kRememberDelivered = 100'000;
constexpr std::string_view kAlertmanagerPath = "/api/v2/alerts";

// "https://host:8443/a/b?c" -> {"https://host:8443", "/a/b?c"}; nullopt when it is not an
// http(s) URL with a host.
std::optional<std::pair<std::string, std::string>> SplitUrl(const std::string& url) {
  const bool ok = url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
  if (!ok) return std::nullopt;
  const size_t host = url.find("://") + 3;
  const size_t path = url.find_first_of("/?#", host);
  std::string origin = url.substr(0, path);
  if (origin.size() == host) return std::nullopt;
  std::string rest = path == std::string::npos ? "/" : url.substr(path);
  if (rest.front() != '/') rest.insert(rest.begin(), '/');
  return std::make_pair(std::move(origin), std::move(rest));
}

}  // namespace

AlertDispatcher::AlertDispatcher(store::Store& store, AlertQueue* queue, Metrics* metrics,
                                 const Clock& clock, AlertDispatcherOptions options)
    : store_(store),
      queue_(queue),
      metrics_(metrics),
      clock_(clock),
      options_(std::move(options)),
      rng_(std::random_device{}()) {
  if (!options_.transport_factory) options_.transport_factory = collectors::MakeHttpClient;
}

AlertDispatcher::~AlertDispatcher() { Stop(); }

void AlertDispatcher::SetReceivers(const std::vector<config::Receiver>& receivers) {
  std::lock_guard lock(mu_);
  receivers_.clear();
  for (const auto& r : receivers) receivers_[r.name] = r;
}

void AlertDispatcher::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  nudged_ = true;  // a first pass at once: the outbox may hold entries from before a restart
  thread_ = std::thread([this] { Run(); });
}

void AlertDispatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AlertDispatcher::Nudge() {
  {
    std::lock_guard lock(mu_);
    nudged_ = true;
  }
  cv_.notify_all();
}

double AlertDispatcher::Random() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

void AlertDispatcher::Count(const std::string& rule, const std::string& receiver, const char* outcome) {
  if (metrics_) metrics_->IncAlerts(rule, receiver, outcome);
}

void AlertDispatcher::Run() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(options_.scan_interval_ms),
                   [this] { return stopping_ || nudged_; });
      if (stopping_) return;
      nudged_ = false;
    }
    try {
      const int64_t now = clock_.NowMs();
      if (queue_ && options_.spike_interval_ms > 0 &&
          (last_spike_ms_ == 0 || now - last_spike_ms_ >= options_.spike_interval_ms)) {
        last_spike_ms_ = now;
        if (auto r = queue_->EvaluateSpikes(now); !r) {
          LogWarn("alerts: spike evaluation failed: " + r.error().ToString());
        }
      }
      if (last_trim_ms_ == 0 || now - last_trim_ms_ >= kTrimIntervalMs) {
        last_trim_ms_ = now;
        if (auto r = TrimAlertLog(store_); !r) LogWarn("alerts: trimming the alert log failed: " + r.error().ToString());
      }
      DeliverDue();
    } catch (const std::exception& e) {
      LogError(std::string("alerts: unexpected exception in the dispatcher: ") + e.what());
    }
  }
}

int AlertDispatcher::DeliverDue() {
  std::lock_guard pass(pass_mu_);
  std::map<std::string, config::Receiver> receivers;
  {
    std::lock_guard lock(mu_);
    receivers = receivers_;
  }
  auto entries = store_.ScanOutbox(options_.scan_limit);
  if (!entries) {
    LogWarn("alerts: reading the outbox failed: " + entries.error().ToString());
    return 0;
  }
  if (entries->empty()) return 0;

  // The alert log, read once per pass and only when an outcome must be recorded in it. The
  // dispatcher is the only writer of existing log entries, so read-modify-write is safe here.
  std::optional<std::map<std::string, AlertLogEntry>> log;
  auto log_entry = [&](const analytics::Alert& alert) -> AlertLogEntry* {
    if (!log) {
      log.emplace();
      if (auto all = store_.ScanAlertLog(kAlertLogKeep)) {
        for (const auto& [k, v] : *all) {
          if (auto e = DecodeAlertLogEntry(v)) log->emplace(k, std::move(*e));
        }
      }
    }
    auto it = log->find(AlertLogKey(alert));
    return it == log->end() ? nullptr : &it->second;
  };
  // Records the entry's new state: in the outbox (kept or deleted) and in the alert log, in one
  // commit.
  auto record = [&](const std::string& key, const OutboxEntry& e, DeliveryState state) {
    store::Batch batch;
    if (state == DeliveryState::kRetrying) {
      batch.outbox_puts[key] = EncodeOutboxEntry(e);
    } else {
      batch.outbox_deletes.push_back(key);
    }
    if (AlertLogEntry* l = log_entry(e.alert)) {
      for (auto& d : l->deliveries) {
        if (d.receiver != e.receiver) continue;
        d.state = state;
        d.attempts = e.attempts;
        d.last_error = state == DeliveryState::kDelivered ? "" : e.last_error;
      }
      batch.alert_log_puts[AlertLogKey(e.alert)] = EncodeAlertLogEntry(*l);
    }
    if (auto r = store_.Commit(batch); !r) {
      LogError("alerts: recording a delivery outcome failed: " + r.error().ToString());
    }
  };

  std::set<std::string> failed_receivers;
  int attempted = 0;
  for (const auto& [key, value] : *entries) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    auto e = DecodeOutboxEntry(value);
    if (!e) {
      LogError("alerts: dropping an unreadable outbox entry: " + e.error().ToString());
      store::Batch batch;
      batch.outbox_deletes.push_back(key);
      (void)store_.Commit(batch);
      continue;
    }
    if (delivered_.count(key)) {
      // Delivered earlier in this run, but its delete did not commit: only retry the delete.
      store::Batch batch;
      batch.outbox_deletes.push_back(key);
      (void)store_.Commit(batch);
      continue;
    }
    if (e->next_attempt_ms > clock_.NowMs()) continue;
    if (failed_receivers.count(e->receiver)) continue;
    auto rcv = receivers.find(e->receiver);
    if (rcv == receivers.end()) {
      LogWarn("alerts: dropping alert " + e->alert.key + " for receiver " + e->receiver +
              ", which is no longer configured");
      e->last_error = "receiver no longer configured";
      Count(e->alert.rule, e->receiver, "dropped");
      record(key, *e, DeliveryState::kDropped);
      continue;
    }

    if (e->attempts > 0) Count(e->alert.rule, e->receiver, "retried");
    const Attempt a = Deliver(rcv->second, e->alert);
    ++attempted;
    ++e->attempts;
    if (a.ok) {
      Count(e->alert.rule, e->receiver, "delivered");
      LogDebug("alerts: delivered " + e->alert.key + " to receiver " + e->receiver);
      delivered_.insert(key);
      delivered_order_.push_back(key);
      if (delivered_order_.size() > kRememberDelivered) {
        delivered_.erase(delivered_order_.front());
        delivered_order_.pop_front();
      }
      e->last_error.clear();
      record(key, *e, DeliveryState::kDelivered);
      continue;
    }

    Count(e->alert.rule, e->receiver, "failed");
    failed_receivers.insert(e->receiver);
    e->last_error = a.error;
    const int64_t now = clock_.NowMs();
    const int64_t delay = BackoffDelayMs(e->attempts, options_.backoff, Random());
    const bool give_up = (a.rejected && e->attempts >= options_.max_rejected_attempts) ||
                         now + delay > e->alert.created_ms + options_.give_up_ms;
    if (give_up) {
      LogWarn("alerts: giving up on alert " + e->alert.key + " for receiver " + e->receiver +
              " after " + std::to_string(e->attempts) + " attempt(s): " + a.error);
      Count(e->alert.rule, e->receiver, "dropped");
      record(key, *e, DeliveryState::kDropped);
    } else {
      LogWarn("alerts: delivery to receiver " + e->receiver + " failed (attempt " +
              std::to_string(e->attempts) + ", next in " + FormatDurationMs(delay) + "): " + a.error);
      e->next_attempt_ms = now + delay;
      record(key, *e, DeliveryState::kRetrying);
    }
  }
  return attempted;
}

AlertDispatcher::Attempt AlertDispatcher::Deliver(const config::Receiver& receiver,
                                                  const analytics::Alert& alert) {
  // Read at delivery time, never stored: the URL (often with a token in its path) is a secret.
  const char* env = std::getenv(receiver.url_env.c_str());
  if (env == nullptr || *env == '\0') {
    return {false, false, "environment variable " + receiver.url_env + " is not set"};
  }
  const std::string url = env;
  auto parts = SplitUrl(url);
  if (!parts) {
    return {false, true, "the value of " + receiver.url_env + " is not an http:// or https:// URL"};
  }
  auto& [origin, path] = *parts;
  std::string body;
  if (receiver.format == "alertmanager") {
    // url_env holds Alertmanager's base URL; the API path is appended unless already there.
    const size_t q = path.find('?');
    std::string p = path.substr(0, q);
    while (!p.empty() && p.back() == '/') p.pop_back();
    if (p.size() < kAlertmanagerPath.size() ||
        p.compare(p.size() - kAlertmanagerPath.size(), kAlertmanagerPath.size(), kAlertmanagerPath) != 0) {
      p += kAlertmanagerPath;
    }
    path = p + (q == std::string::npos ? "" : path.substr(q));
    body = AlertmanagerAlertPayload(alert);
  } else if (receiver.format == "slack") {
    body = SlackAlertPayload(alert);
  } else {
    body = JsonAlertPayload(alert);
  }
  auto transport = options_.transport_factory(origin, options_.http);
  if (!transport) {
    // The factory's message may quote the URL: say which variable instead.
    return {false, true, "the URL in " + receiver.url_env + " is not usable"};
  }
  auto resp = (*transport)->Post(path, {}, body, "application/json");
  if (!resp) {
    std::string msg = resp.error().message;
    if (msg.find(origin) != std::string::npos ||
        (path.size() > 1 && msg.find(path) != std::string::npos)) {
      msg = "request failed";
    }
    return {false, false, msg};
  }
  const int s = resp->status;
  if (s >= 200 && s < 300) return {true, false, ""};
  const bool transient = s == 408 || s == 429 || s >= 500;
  return {false, !transient, "HTTP " + std::to_string(s)};
}

}  // namespace chorus::daemon
