#include "daemon/daemon.h"

#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <csignal>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "analytics/matcher.h"
#include "collectors/collector.h"
#include "config/config.h"
#include "core/build_info.h"
#include "core/counter_key.h"
#include "core/json_escape.h"
#include "core/log.h"
#include "daemon/alert_dispatcher.h"
#include "daemon/alert_queue.h"
#include "daemon/campaign_gauges.h"
#include "daemon/http_server.h"
#include "daemon/metrics.h"
#include "daemon/source_runner.h"
#include "daemon/store_options.h"
#include "daemon/watchdog.h"
#include "daemon/web_config.h"
#include "ingest/ingester.h"
#include "query/api.h"
#include "store/store.h"

namespace chorus::daemon {
namespace {

namespace asio = boost::asio;
constexpr int kWorkerThreads = 4;

void ReportProblems(const config::LoadResult& loaded) {
  for (const auto& p : loaded.problems) LogError("config: " + p.ToString());
}

class Daemon {
 public:
  explicit Daemon(const DaemonOptions& options) : options_(options) {}

  int Run() {
    auto config = Load();
    if (!config) return 1;
    // TLS and basic auth (http.web_config_file): a file that does not load stops start-up, never
    // falls back to plain HTTP.
    auto web = LoadWebConfigFor(*config);
    if (!web) {
      LogError(web.error().ToString());
      return 1;
    }
    auto store = store::Store::Open(config->storage.path, StoreOptionsFor(*config));
    if (!store) {
      LogError(store.error().ToString());
      return 1;
    }
    store_ = std::move(*store);
    auto counters = store_->LoadCounters();
    if (!counters) {
      LogError(counters.error().ToString());
      return 1;
    }
    metrics_.RestoreCounters(*counters);
    metrics_.DeclareConfig(*config);
    ingester_ = std::make_unique<ingest::Ingester>(*store_, std::make_shared<analytics::Matcher>(*config));
    // Retention is fixed at start-up (the store's compaction filter holds it); so is this.
    ingester_->SetPostRetention(config->storage.retention.posts_ms);
    auto marks = ingester_->LoadMarks();
    if (!marks) {
      LogError(marks.error().ToString());
      return 1;
    }
    metrics_.SetMarks(*marks);
    // Alerts: raised into the page's batch by the ingester's hook, delivered from the outbox.
    alert_queue_ = std::make_unique<AlertQueue>(*store_);
    alert_queue_->SetConfig(*config);
    ingester_->SetNewPostHook(alert_queue_->Hook());
    alert_dispatcher_ = std::make_unique<AlertDispatcher>(*store_, alert_queue_.get(), &metrics_,
                                                          SystemClock::Instance());
    alert_dispatcher_->SetReceivers(config->receivers);
    collectors::RegisterBuiltinCollectors(registry_);

    auto runners = BuildRunners(*config);
    if (!runners) {
      LogError(runners.error().ToString());
      return 1;
    }
    SetConfig(std::make_shared<const config::Config>(*config));
    runners_ = std::move(*runners);

    server_ = std::make_unique<HttpServer>(Handlers());
    if (auto r = server_->Start(config->http.listen, *web); !r) {
      LogError(r.error().ToString());
      return 1;
    }
    LogInfo(std::string("chorusd ") + ChorusVersion() + " listening on " + config->http.listen +
            " (port " + std::to_string(server_->port()) + ", " + DescribeWebConfig(web->get()) +
            "), store " + config->storage.path + ", " +
            std::to_string(runners_.size()) + " source(s), " + std::to_string(counters->size()) +
            " counter(s) restored");
    for (auto& r : runners_) r->Start();
    // The first retention pass waits ten minutes: a restart should not start with a full compaction.
    last_retention_ms_ = SystemClock::Instance().NowMs() - kRetentionIntervalMs + 10 * 60'000;
    ScheduleMaintenance(0);

    asio::signal_set signals(io_, SIGINT, SIGTERM, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          if (sig == SIGHUP) {
            LogInfo("SIGHUP: reloading " + options_.config_path);
            if (auto r = Reload(); !r) LogError("reload rejected, old configuration kept: " + r.error().message);
            signals.async_wait(on_signal);
            return;
          }
          LogInfo(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": draining");
          signals.cancel();
          Drain();
        };
    signals.async_wait(on_signal);
    ready_ = true;
    sd_notify(0, "READY=1");
    watchdog_.Start();
    alert_dispatcher_->Start();
    if (options_.on_ready) options_.on_ready(server_->port());

    io_.run();
    pool_.join();
    alert_dispatcher_->Stop();  // finishes the delivery in flight; the rest stays in the outbox
    server_.reset();
    runners_.clear();
    alert_dispatcher_.reset();
    ingester_.reset();  // holds the hook into alert_queue_
    alert_queue_.reset();
    store_.reset();
    LogInfo("chorusd stopped");
    return 0;
  }

 private:

  std::optional<config::Config> Load() {
    auto loaded = config::LoadConfigFile(options_.config_path, /*check_env=*/true);
    if (!loaded.config) {
      ReportProblems(loaded);
      return std::nullopt;
    }
    if (!options_.listen_override.empty()) loaded.config->http.listen = options_.listen_override;
    if (!options_.data_dir_override.empty()) loaded.config->storage.path = options_.data_dir_override;
    return loaded.config;
  }

  Result<std::vector<std::shared_ptr<SourceRunner>>> BuildRunners(const config::Config& config) {
    std::vector<std::shared_ptr<SourceRunner>> out;
    for (const auto& source : config.sources) {
      collectors::HttpClientOptions http;
      http.read_timeout_ms = source.timeout_ms;
      http.connect_timeout_ms = std::min<int64_t>(source.timeout_ms, 5'000);
      if (!source.user_agent.empty()) http.user_agent = source.user_agent;
      auto transport = collectors::MakeHttpClient(source.base_url, http);
      if (!transport) return Fail(transport.error());
      auto collector = registry_.Create(source, config, std::move(*transport));
      if (!collector) return Fail(collector.error());
      auto runner = std::make_shared<SourceRunner>(io_, pool_, source, std::move(*collector),
                                                   *ingester_, *store_, metrics_,
                                                   SystemClock::Instance(), config.shard);
      // New alerts go out now rather than at the dispatcher's next scan.
      runner->OnAlertsQueued([d = alert_dispatcher_.get()] { d->Nudge(); });
      out.push_back(std::move(runner));
    }
    return out;
  }

  // Stops every runner, then calls `then` on the io_context once none has a poll in flight.
  void StopRunners(std::function<void()> then) {
    auto pending = std::make_shared<size_t>(runners_.size());
    if (*pending == 0) {
      asio::post(io_, std::move(then));
      return;
    }
    for (auto& r : runners_) {
      r->Stop([pending, then] {
        if (--*pending == 0) then();
      });
    }
  }

  // Store-derived gauges every kGaugeIntervalMs; retention compaction every kRetentionIntervalMs
  // (the compaction filter also runs whenever RocksDB compacts on its own). Both on the pool.
  void ScheduleMaintenance(int64_t delay_ms) {
    maintenance_timer_.expires_after(std::chrono::milliseconds(delay_ms));
    maintenance_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || draining_) return;
      maintenance_running_ = true;
      asio::post(pool_, [this] {
        RunMaintenance();
        asio::post(io_, [this] {
          maintenance_running_ = false;
          if (draining_) {
            if (on_maintenance_done_) std::exchange(on_maintenance_done_, nullptr)();
            return;
          }
          ScheduleMaintenance(kGaugeIntervalMs);
        });
      });
    });
  }

  void RunMaintenance() {
    const int64_t now = SystemClock::Instance().NowMs();
    if (auto r = UpdateCampaignGauges(*store_, *GetConfig(), now, metrics_); !r) {
      LogWarn("gauges: " + r.error().ToString());
    }
    if (now - last_retention_ms_ >= kRetentionIntervalMs) {
      last_retention_ms_ = now;
      if (auto r = store_->CompactForRetention(); !r) LogWarn("retention: " + r.error().ToString());
    }
  }

  void Drain() {
    draining_ = true;
    maintenance_timer_.cancel();
    sd_notify(0, "STOPPING=1");
    watchdog_.Stop();
    StopRunners([this] {
      auto finish = [this] {
        server_->Stop();
        io_.stop();
      };
      // A maintenance pass in flight still reads the store: let it end first.
      if (maintenance_running_) on_maintenance_done_ = finish;
      else finish();
    });
  }

  // Runs on the io_context thread. Validates first: an invalid file changes nothing.
  Result<void> Reload() {
    if (draining_) return Fail(Error::Cancelled("daemon is shutting down"));
    if (reloading_) return Fail(Error::Unavailable("a reload is already in progress"));
    auto loaded = config::LoadConfigFile(options_.config_path, /*check_env=*/true);
    if (!loaded.config) {
      ReportProblems(loaded);
      std::string msg = "invalid configuration";
      if (!loaded.problems.empty()) msg += ": " + loaded.problems.front().ToString();
      return Fail(Error::InvalidArgument(msg));
    }
    config::Config next = *loaded.config;
    const auto current = GetConfig();
    if (!options_.listen_override.empty()) next.http.listen = options_.listen_override;
    if (!options_.data_dir_override.empty()) next.storage.path = options_.data_dir_override;
    if (next.storage.path != current->storage.path || next.http.listen != current->http.listen ||
        next.http.web_config_file != current->http.web_config_file) {
      LogWarn("reload: storage.path, http.listen and http.web_config_file take effect only after a restart");
      next.storage.path = current->storage.path;
      next.http.listen = current->http.listen;
      next.http.web_config_file = current->http.web_config_file;
    }
    auto runners = BuildRunners(next);
    if (!runners) return Fail(Error::InvalidArgument(runners.error().message));
    reloading_ = true;
    auto shared_next = std::make_shared<const config::Config>(std::move(next));
    auto new_runners = std::make_shared<std::vector<std::shared_ptr<SourceRunner>>>(std::move(*runners));
    StopRunners([this, shared_next, new_runners] {
      reloading_ = false;
      if (draining_) return;
      ingester_->SetMatcher(std::make_shared<analytics::Matcher>(*shared_next));
      alert_queue_->SetConfig(*shared_next);
      alert_dispatcher_->SetReceivers(shared_next->receivers);
      metrics_.DeclareConfig(*shared_next);
      SetConfig(shared_next);
      {
        std::lock_guard lock(config_mu_);
        runners_ = std::move(*new_runners);
      }
      for (auto& r : runners_) r->Start();
      LogInfo("reload: configuration applied, " + std::to_string(runners_.size()) + " source(s)");
    });
    return {};
  }

  HttpHandlers Handlers() {
    HttpHandlers h;
    h.metrics = [this] { return metrics_.Serialize(); };
    h.ready = [this] { return ready_.load() && !draining_.load(); };
    h.status_page = [this] { return StatusPage(); };
    h.campaigns_json = [this] { return CampaignsJson(); };
    h.reload = [this]() -> Result<void> {
      auto promise = std::make_shared<std::promise<Result<void>>>();
      auto future = promise->get_future();
      asio::post(io_, [this, promise] { promise->set_value(Reload()); });
      if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        return Fail(Error::Unavailable("reload did not complete in time"));
      }
      return future.get();
    };
    // The server stops before the store closes, so these may hold the store by reference.
    h.api = [this](const std::string& endpoint, const QueryParams& params) {
      return query::HandleApi(endpoint, params, *GetConfig(), *store_, SystemClock::Instance().NowMs());
    };
    h.alerts = [this](const QueryParams& params) { return AlertsApi(params, *store_); };
    h.export_stream = [this](const QueryParams& params) {
      return query::PrepareExport(params, GetConfig(), *store_, SystemClock::Instance().NowMs());
    };
    return h;
  }

  struct Totals {
    int64_t posts = 0, reach = 0, engagement = 0;
  };
  Totals TotalsFor(const std::string& campaign, const std::string& platform) const {
    Totals t;
    t.posts = metrics_.CounterValue(CounterKey{ingest::kPostsTotal, {{"campaign", campaign}, {"platform", platform}}}.Encode());
    t.reach = metrics_.CounterValue(CounterKey{ingest::kPotentialReachTotal, {{"campaign", campaign}, {"platform", platform}}}.Encode());
    for (const char* kind : {"like", "repost", "reply", "quote"}) {
      t.engagement += metrics_.CounterValue(
          CounterKey{ingest::kEngagementTotal, {{"campaign", campaign}, {"platform", platform}, {"kind", kind}}}.Encode());
    }
    return t;
  }

  static std::vector<std::string> Platforms(const config::Config& c) {
    std::vector<std::string> out;
    for (const auto& s : c.sources) {
      std::string p(PlatformName(s.platform));
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
    return out;
  }

  std::string CampaignsJson() const {
    const auto config = GetConfig();
    std::string out = "{\"campaigns\":[";
    bool first = true;
    for (const auto& c : config->campaigns) {
      if (!first) out += ',';
      first = false;
      out += "{\"name\":" + JsonString(c.name) + ",\"hashtags\":[";
      for (size_t i = 0; i < c.hashtags.size(); ++i) out += (i ? "," : "") + JsonString(c.hashtags[i]);
      out += "],\"keywords\":[";
      for (size_t i = 0; i < c.keywords.size(); ++i) out += (i ? "," : "") + JsonString(c.keywords[i]);
      out += "],\"totals\":{";
      bool first_p = true;
      for (const auto& p : Platforms(*config)) {
        const Totals t = TotalsFor(c.name, p);
        out += (first_p ? "" : ",") + JsonString(p) + ":{\"posts\":" + std::to_string(t.posts) +
               ",\"potential_reach\":" + std::to_string(t.reach) +
               ",\"engagement\":" + std::to_string(t.engagement) + "}";
        first_p = false;
      }
      out += "}}";
    }
    return out + "]}";
  }

  std::string StatusPage() const {
    const auto config = GetConfig();
    std::vector<SourceStatus> sources;
    {
      std::lock_guard lock(config_mu_);
      for (const auto& r : runners_) sources.push_back(r->status());
    }
    std::string h =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Chorus</title>"
        "<meta http-equiv=\"refresh\" content=\"10\">"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.up{color:#070}.down{color:#a00}"
        "</style></head><body><h1>Chorus</h1><p>Version " + std::string(ChorusVersion()) + " (" +
        ChorusRevision() + ")</p>"
        "<h2>Sources</h2><table><tr><th>source</th><th>platform</th><th>health</th>"
        "<th>last success</th><th>rate limit remaining</th><th>last error</th></tr>";
    for (const auto& s : sources) {
      const char* health = !s.polled ? "starting" : (s.up ? "up" : "down");
      h += "<tr><td>" + HtmlEscape(s.name) + "</td><td>" + HtmlEscape(s.platform) +
           "</td><td class=\"" + (s.up ? "up" : "down") + "\">" + health + "</td><td>" +
           (s.last_success_ms ? FormatRfc3339Ms(s.last_success_ms) : "never") + "</td><td>" +
           (s.rate_remaining ? std::to_string(*s.rate_remaining) : "-") + "</td><td>" +
           HtmlEscape(s.last_error) + "</td></tr>";
    }
    h += "</table><h2>Campaigns</h2><table><tr><th>campaign</th><th>terms</th><th>platform</th>"
         "<th>posts</th><th>potential reach</th><th>engagement</th></tr>";
    for (const auto& c : config->campaigns) {
      std::string terms;
      for (const auto& t : c.hashtags) terms += "#" + t + " ";
      for (const auto& k : c.keywords) terms += "\"" + k + "\" ";
      for (const auto& p : Platforms(*config)) {
        const Totals t = TotalsFor(c.name, p);
        h += "<tr><td>" + HtmlEscape(c.name) + "</td><td>" + HtmlEscape(terms) + "</td><td>" +
             HtmlEscape(p) + "</td><td>" + std::to_string(t.posts) + "</td><td>" +
             std::to_string(t.reach) + "</td><td>" + std::to_string(t.engagement) + "</td></tr>";
      }
    }
    h += "</table><p><a href=\"/metrics\">/metrics</a> · <a href=\"/api/v1/campaigns\">/api/v1/campaigns</a>"
         " · <a href=\"/api/v1/posts?limit=20\">/api/v1/posts</a> · <a href=\"/api/v1/alerts\">/api/v1/alerts</a>"
         " · <a href=\"/api/v1/export?dataset=posts&amp;format=csv\">export (CSV)</a>"
         " · <a href=\"/healthz\">/healthz</a> · <a href=\"/readyz\">/readyz</a></p></body></html>\n";
    return h;
  }

  std::shared_ptr<const config::Config> GetConfig() const {
    std::lock_guard lock(config_mu_);
    return config_;
  }
  void SetConfig(std::shared_ptr<const config::Config> c) {
    std::lock_guard lock(config_mu_);
    config_ = std::move(c);
  }

  DaemonOptions options_;
  asio::io_context io_;
  asio::thread_pool pool_{kWorkerThreads};
  Watchdog watchdog_{io_};  // after io_: its timer must go before the io_context does
  std::unique_ptr<store::Store> store_;
  Metrics metrics_;
  std::unique_ptr<AlertQueue> alert_queue_;
  std::unique_ptr<ingest::Ingester> ingester_;
  std::unique_ptr<AlertDispatcher> alert_dispatcher_;
  collectors::CollectorRegistry registry_;
  std::vector<std::shared_ptr<SourceRunner>> runners_;
  std::unique_ptr<HttpServer> server_;
  static constexpr int64_t kGaugeIntervalMs = 15'000;
  static constexpr int64_t kRetentionIntervalMs = 6 * 3'600'000;
  asio::steady_timer maintenance_timer_{io_};
  bool maintenance_running_ = false;  // io_context thread only
  std::function<void()> on_maintenance_done_;
  int64_t last_retention_ms_ = 0;     // worker thread only, one pass at a time
  mutable std::mutex config_mu_;
  std::shared_ptr<const config::Config> config_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
  bool reloading_ = false;
};

}  // namespace

int RunDaemon(const DaemonOptions& options) {
  try {
    Daemon d(options);
    return d.Run();
  } catch (const std::exception& e) {
    LogError(std::string("fatal: ") + e.what());
    return 1;
  }
}

}  // namespace chorus::daemon
