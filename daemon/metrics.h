// Chorus' Prometheus metrics (design §7): the campaign counters, mirrored from the store, and the
// per-source self-metrics. The only module that touches prometheus-cpp.
//
// Campaign counters are restored from the store at start-up and then advanced by the deltas of
// each committed page, so they never go back to zero on a restart. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config/config.h"

namespace prometheus {
class Registry;
}

namespace chorus::daemon {

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // Sets campaign counters to the values held by the store (call once, before serving).
  void RestoreCounters(const std::map<std::string, int64_t>& counters);
  // Adds committed deltas (encoded CounterKey -> delta).
  void AddCounters(const std::map<std::string, int64_t>& deltas);
  // Creates the zero-valued series a config implies, so dashboards see 0 rather than nothing.
  void DeclareConfig(const config::Config& config);
  // Current value of one campaign counter (encoded CounterKey), 0 when unknown.
  int64_t CounterValue(const std::string& encoded_key) const;

  void SetSourceUp(const std::string& source, const std::string& platform, bool up);
  void IncRequests(const std::string& source, const std::string& code);
  void SetRateLimitRemaining(const std::string& source, double remaining);
  void SetLastSuccess(const std::string& source, double unix_seconds);
  void ObservePollDuration(const std::string& source, double seconds);
  void IncParseErrors(const std::string& source);
  // Queries of the source this daemon polls: all of them, or its shard's part (config `shard`).
  void SetSourceQueries(const std::string& source, double queries);

  // Distinct authors of the campaign's posts created in the window ending now (1h, 24h, 7d).
  void SetUniqueAuthors(const std::string& campaign, const std::string& platform,
                        const std::string& window, double value);
  // The campaign's share (0..1) of all configured campaigns' posts on the platform in the window.
  void SetShareOfVoice(const std::string& campaign, const std::string& platform,
                       const std::string& window, double value);
  // First mention / response timestamps (encoded CounterKey of ingest::kFirst* -> unix seconds).
  void SetMarks(const std::map<std::string, int64_t>& marks);
  void SetStoreSize(double bytes);
  // One alert delivery attempt's outcome: delivered | failed | retried | dropped.
  void IncAlerts(const std::string& rule, const std::string& receiver, const std::string& outcome);

  // The Prometheus text exposition format 0.0.4.
  std::string Serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus::daemon
