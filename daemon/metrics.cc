#include "daemon/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <set>
#include <sstream>

#include "core/build_info.h"
#include "core/counter_key.h"
#include "core/log.h"
#include "ingest/ingester.h"

namespace chorus::daemon {
namespace {

// HELP texts are static ASCII without backslashes: prometheus-cpp 1.0.1 does not escape them.
struct CounterDef {
  const char* name;
  const char* help;
};
constexpr CounterDef kCampaignCounters[] = {
    {ingest::kPostsTotal, "Distinct posts matching the campaign."},
    {ingest::kTermPostsTotal, "Distinct posts matching the campaign term (hashtag or keyword)."},
    {ingest::kEngagementTotal, "Engagement earned by the campaign's posts, by kind."},
    {ingest::kPotentialReachTotal, "Sum of authors' follower counts when each post was first seen."},
    {ingest::kPolicymakerMentionsTotal, "Posts mentioning a policymaker, per campaign matched."},
    {ingest::kPolicymakerResponsesTotal, "Policymaker posts responding to a campaign."},
    {ingest::kCoalitionPostsTotal, "Coalition members' posts matching the campaign."},
};

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::map<std::string, prometheus::Family<prometheus::Counter>*> campaign_families;
  mutable std::mutex mu;
  std::map<std::string, int64_t> values;                    // encoded key -> value (mirror)
  std::map<std::string, prometheus::Counter*> counters;     // encoded key -> series
  std::set<std::string> warned_unknown;

  prometheus::Family<prometheus::Gauge>* source_up;
  prometheus::Family<prometheus::Counter>* requests;
  prometheus::Family<prometheus::Gauge>* rate_remaining;
  prometheus::Family<prometheus::Gauge>* last_success;
  prometheus::Family<prometheus::Histogram>* poll_duration;
  prometheus::Family<prometheus::Counter>* parse_errors;
  prometheus::Family<prometheus::Gauge>* source_queries;
  prometheus::Family<prometheus::Gauge>* unique_authors;
  prometheus::Family<prometheus::Gauge>* share_of_voice;
  prometheus::Family<prometheus::Gauge>* first_mention;
  prometheus::Family<prometheus::Gauge>* first_response;
  prometheus::Family<prometheus::Gauge>* store_size;
  prometheus::Family<prometheus::Counter>* alerts;

  prometheus::Counter* CounterFor(const std::string& encoded) {
    auto it = counters.find(encoded);
    if (it != counters.end()) return it->second;
    const auto key = CounterKey::Decode(encoded);
    if (!key) return nullptr;
    auto fam = campaign_families.find(key->name);
    if (fam == campaign_families.end()) {
      if (warned_unknown.insert(key->name).second) {
        LogWarn("metrics: store holds counter '" + key->name + "' this version does not export");
      }
      return nullptr;
    }
    std::map<std::string, std::string> labels(key->labels.begin(), key->labels.end());
    auto* c = &fam->second->Add(labels);
    counters.emplace(encoded, c);
    return c;
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
  auto& r = *impl_->registry;
  for (const auto& def : kCampaignCounters) {
    impl_->campaign_families[def.name] =
        &prometheus::BuildCounter().Name(def.name).Help(def.help).Register(r);
  }
  impl_->source_up = &prometheus::BuildGauge()
                          .Name("chorus_source_up")
                          .Help("1 when the last poll of the source succeeded, else 0.")
                          .Register(r);
  impl_->requests = &prometheus::BuildCounter()
                         .Name("chorus_source_requests_total")
                         .Help("HTTP requests sent to the source, by response code (error = no response).")
                         .Register(r);
  impl_->rate_remaining = &prometheus::BuildGauge()
                               .Name("chorus_source_rate_limit_remaining")
                               .Help("Requests left in the current rate-limit window, as last reported.")
                               .Register(r);
  impl_->last_success = &prometheus::BuildGauge()
                             .Name("chorus_source_last_success_timestamp_seconds")
                             .Help("Unix time of the last successful poll of the source.")
                             .Register(r);
  impl_->poll_duration = &prometheus::BuildHistogram()
                              .Name("chorus_source_poll_duration_seconds")
                              .Help("Duration of one page request to the source, in seconds.")
                              .Register(r);
  impl_->parse_errors = &prometheus::BuildCounter()
                             .Name("chorus_source_parse_errors_total")
                             .Help("Pages from the source that could not be parsed and were skipped.")
                             .Register(r);
  impl_->source_queries = &prometheus::BuildGauge()
                               .Name("chorus_source_queries")
                               .Help("Queries of the source this daemon polls (its shard's part when sharded).")
                               .Register(r);
  impl_->unique_authors = &prometheus::BuildGauge()
                               .Name("chorus_unique_authors")
                               .Help("Distinct authors of the campaign's posts created in the window ending now.")
                               .Register(r);
  impl_->share_of_voice = &prometheus::BuildGauge()
                               .Name("chorus_share_of_voice")
                               .Help("The campaign's share of all configured campaigns' posts on the platform in the window, 0 to 1.")
                               .Register(r);
  impl_->first_mention = &prometheus::BuildGauge()
                              .Name(ingest::kFirstMentionTimestamp)
                              .Help("Creation time of the earliest post in the campaign mentioning the policymaker.")
                              .Register(r);
  impl_->first_response = &prometheus::BuildGauge()
                               .Name(ingest::kFirstResponseTimestamp)
                               .Help("Creation time of the policymaker's earliest response to the campaign.")
                               .Register(r);
  impl_->store_size = &prometheus::BuildGauge()
                           .Name("chorus_store_size_bytes")
                           .Help("Size of the RocksDB store on disk plus memtables, as RocksDB estimates it.")
                           .Register(r);
  impl_->alerts = &prometheus::BuildCounter()
                       .Name("chorus_alerts_total")
                       .Help("Alert deliveries by rule, receiver and outcome (delivered, failed, retried, dropped).")
                       .Register(r);
  prometheus::BuildGauge()
      .Name("chorus_build_info")
      .Help("Build information; the value is always 1.")
      .Register(r)
      .Add({{"version", ChorusVersion()}, {"revision", ChorusRevision()}})
      .Set(1);
}

Metrics::~Metrics() = default;

void Metrics::RestoreCounters(const std::map<std::string, int64_t>& counters) {
  std::lock_guard lock(impl_->mu);
  for (const auto& [key, value] : counters) {
    const int64_t delta = value - impl_->values[key];
    if (auto* c = impl_->CounterFor(key); c != nullptr && delta > 0) c->Increment(static_cast<double>(delta));
    impl_->values[key] = value;
  }
}

void Metrics::AddCounters(const std::map<std::string, int64_t>& deltas) {
  std::lock_guard lock(impl_->mu);
  for (const auto& [key, delta] : deltas) {
    if (delta <= 0) continue;
    if (auto* c = impl_->CounterFor(key)) c->Increment(static_cast<double>(delta));
    impl_->values[key] += delta;
  }
}

void Metrics::DeclareConfig(const config::Config& config) {
  std::lock_guard lock(impl_->mu);
  std::set<std::string> platforms;
  for (const auto& s : config.sources) platforms.insert(std::string(PlatformName(s.platform)));
  for (const auto& c : config.campaigns) {
    for (const auto& p : platforms) {
      impl_->CounterFor(CounterKey{ingest::kPostsTotal, {{"campaign", c.name}, {"platform", p}}}.Encode());
      impl_->CounterFor(
          CounterKey{ingest::kPotentialReachTotal, {{"campaign", c.name}, {"platform", p}}}.Encode());
      for (const char* kind : {"like", "repost", "reply", "quote"}) {
        impl_->CounterFor(CounterKey{ingest::kEngagementTotal,
                                     {{"campaign", c.name}, {"platform", p}, {"kind", kind}}}
                              .Encode());
      }
      for (const auto& t : c.hashtags) {
        impl_->CounterFor(CounterKey{ingest::kTermPostsTotal,
                                     {{"campaign", c.name}, {"term", t}, {"platform", p}}}
                              .Encode());
      }
      for (const auto& k : c.keywords) {
        impl_->CounterFor(CounterKey{ingest::kTermPostsTotal,
                                     {{"campaign", c.name}, {"term", k}, {"platform", p}}}
                              .Encode());
      }
    }
  }
  // Every configured rule × receiver starts at 0, so rates and dashboards have a series before
  // the first alert.
  for (const auto& rule : config.rules) {
    for (const auto& receiver : rule.receivers) {
      for (const char* outcome : {"delivered", "failed", "retried", "dropped"}) {
        impl_->alerts->Add({{"rule", rule.name}, {"receiver", receiver}, {"outcome", outcome}});
      }
    }
  }
  for (const auto& s : config.sources) {
    const std::string platform(PlatformName(s.platform));
    impl_->source_up->Add({{"source", s.name}, {"platform", platform}});
    impl_->parse_errors->Add({{"source", s.name}});
    impl_->last_success->Add({{"source", s.name}});
  }
}

int64_t Metrics::CounterValue(const std::string& encoded_key) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->values.find(encoded_key);
  return it == impl_->values.end() ? 0 : it->second;
}

void Metrics::SetSourceUp(const std::string& source, const std::string& platform, bool up) {
  impl_->source_up->Add({{"source", source}, {"platform", platform}}).Set(up ? 1 : 0);
}
void Metrics::IncRequests(const std::string& source, const std::string& code) {
  impl_->requests->Add({{"source", source}, {"code", code}}).Increment();
}
void Metrics::SetRateLimitRemaining(const std::string& source, double remaining) {
  impl_->rate_remaining->Add({{"source", source}}).Set(remaining);
}
void Metrics::SetLastSuccess(const std::string& source, double unix_seconds) {
  impl_->last_success->Add({{"source", source}}).Set(unix_seconds);
}
void Metrics::ObservePollDuration(const std::string& source, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  impl_->poll_duration->Add({{"source", source}}, kBuckets).Observe(seconds);
}
void Metrics::IncParseErrors(const std::string& source) {
  impl_->parse_errors->Add({{"source", source}}).Increment();
}

void Metrics::SetSourceQueries(const std::string& source, double queries) {
  impl_->source_queries->Add({{"source", source}}).Set(queries);
}

void Metrics::SetUniqueAuthors(const std::string& campaign, const std::string& platform,
                               const std::string& window, double value) {
  impl_->unique_authors->Add({{"campaign", campaign}, {"platform", platform}, {"window", window}}).Set(value);
}
void Metrics::SetShareOfVoice(const std::string& campaign, const std::string& platform,
                              const std::string& window, double value) {
  impl_->share_of_voice->Add({{"campaign", campaign}, {"platform", platform}, {"window", window}}).Set(value);
}
void Metrics::SetMarks(const std::map<std::string, int64_t>& marks) {
  for (const auto& [encoded, seconds] : marks) {
    const auto key = CounterKey::Decode(encoded);
    if (!key) continue;
    auto* family = key->name == ingest::kFirstMentionTimestamp    ? impl_->first_mention
                   : key->name == ingest::kFirstResponseTimestamp ? impl_->first_response
                                                                  : nullptr;
    if (family == nullptr) continue;
    std::map<std::string, std::string> labels(key->labels.begin(), key->labels.end());
    family->Add(labels).Set(static_cast<double>(seconds));
  }
}
void Metrics::SetStoreSize(double bytes) { impl_->store_size->Add({}).Set(bytes); }
void Metrics::IncAlerts(const std::string& rule, const std::string& receiver, const std::string& outcome) {
  impl_->alerts->Add({{"rule", rule}, {"receiver", receiver}, {"outcome", outcome}}).Increment();
}

std::string Metrics::Serialize() const {
  prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, impl_->registry->Collect());
  return out.str();
}

}  // namespace chorus::daemon
