#include "daemon/demo.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/log.h"
#include "daemon/daemon.h"
#include "sim/campaign_player.h"
#include "sim/loopback_server.h"
#include "sim/mastodon_sim.h"
#include "sim/platform_player.h"

namespace chorus::daemon {
namespace {

// The demo's alert receiver URL travels like a real webhook secret: in the environment.
constexpr const char* kDemoAlertUrlEnv = "CHORUS_DEMO_ALERT_URL";

// The string value of a top-level `"name":"..."` field of the alert JSON Chorus itself wrote
// (daemon/alert_payloads.cc); enough to log a line, not a general JSON parser.
std::string JsonStringField(const std::string& body, const std::string& name) {
  const std::string needle = "\"" + name + "\":\"";
  size_t i = body.find(needle);
  if (i == std::string::npos) return "";
  std::string out;
  for (i += needle.size(); i < body.size() && body[i] != '"'; ++i) {
    if (body[i] == '\\' && i + 1 < body.size()) {
      const char c = body[++i];
      if (c == 'u') {
        i += 4;  // a control character: not worth showing in a log line
        continue;
      }
      out.push_back(c == 'n' ? ' ' : c == 't' ? ' ' : c);
      continue;
    }
    out.push_back(body[i]);
  }
  return out;
}

// A loopback webhook that logs every alert it receives: "alerts in the log" (design §8), through
// the daemon's real outbox and dispatcher.
Result<void> StartAlertSink(sim::LoopbackServer& sink) {
  auto server = std::make_unique<httplib::Server>();
  server->Post("/alerts", [](const httplib::Request& req, httplib::Response& res) {
    std::string line = "alert: rule=" + JsonStringField(req.body, "rule") +
                       " kind=" + JsonStringField(req.body, "kind");
    const std::string platform = JsonStringField(req.body, "platform");
    if (!platform.empty()) line += " platform=" + platform;
    const std::string url = JsonStringField(req.body, "url");
    line += url.empty() ? " key=" + JsonStringField(req.body, "key") : " post=" + url;
    LogInfo(line);
    res.set_content("{}", "application/json");
  });
  if (auto r = sink.Start(std::move(server), 0, "demo alert sink"); !r) return r;
  setenv(kDemoAlertUrlEnv, ("http://127.0.0.1:" + std::to_string(sink.port()) + "/alerts").c_str(), 1);
  return {};
}

}  // namespace

std::string DemoConfigYaml(const DemoUrls& urls, const std::string& store_path,
                           const std::string& listen) {
  auto poll = [](std::string s) {
    return s + "    poll_interval: 5s\n    backfill: 12h\n    overlap: 15m\n    timeout: 5s\n";
  };
  return "# Written by chorusd --demo: the daemon polls simulated platforms on loopback.\n"
         "storage:\n"
         "  path: " + store_path + "\n"
         "http:\n"
         "  listen: \"" + listen + "\"\n"
         "sources:\n" +
         poll("  - name: demo-mastodon\n    platform: mastodon\n    base_url: " + urls.mastodon + "\n") +
         poll("  - name: demo-bluesky\n    platform: bluesky\n    base_url: " + urls.bluesky +
              "\n    identifier_env: CHORUS_DEMO_BLUESKY_IDENTIFIER\n"
              "    password_env: CHORUS_DEMO_BLUESKY_PASSWORD\n") +
         poll("  - name: demo-x\n    platform: x\n    base_url: " + urls.x +
              "\n    token_env: CHORUS_DEMO_X_TOKEN\n") +
         poll("  - name: demo-reddit\n    platform: reddit\n    base_url: " + urls.reddit +
              "\n    auth_url: " + urls.reddit +
              "\n    client_id_env: CHORUS_DEMO_REDDIT_CLIENT_ID\n"
              "    client_secret_env: CHORUS_DEMO_REDDIT_CLIENT_SECRET\n"
              "    user_agent: \"linux:org.chorus.demo:v1 (by /u/chorus_demo)\"\n") +
         "campaigns:\n"
         "  - name: fund-our-schools\n"
         "    hashtags: [FundOurSchools, EdEquity]\n"
         "    keywords: [\"school funding formula\"]\n"
         "  - name: teachers-count\n"
         "    hashtags: [TeachersCount]\n"
         "people:\n"
         "  policymakers:\n"
         "    - id: sen-doe\n"
         "      name: Sen. Jane Doe\n"
         "      accounts: {mastodon: janedoe@gov.example, bluesky: janedoe.bsky.social, x: SenJaneDoe, "
         "reddit: SenJaneDoe}\n"
         "  coalition:\n"
         "    - id: parents-united\n"
         "      name: Parents United\n"
         "      accounts: {mastodon: parents@edu.example, bluesky: parentsunited.org, x: ParentsUnited}\n"
         "alerts:\n"
         "  receivers:\n"
         "    - {name: demo-log, format: json, url_env: " + std::string(kDemoAlertUrlEnv) + "}\n"
         "  rules:\n"
         "    # Scoped to one campaign so the log stays readable: the simulated policymaker is\n"
         "    # mentioned in about one post in ten.\n"
         "    - {name: policymaker-mentioned, kind: policymaker_mention, campaign: teachers-count, "
         "max_age: 1h, receivers: [demo-log]}\n"
         "    - {name: policymaker-responded, kind: policymaker_response, receivers: [demo-log]}\n"
         "    - {name: campaign-spike, kind: spike, campaign: fund-our-schools, window: 5m, threshold: 3, "
         "receivers: [demo-log]}\n";
}

int RunDemo(const std::string& listen, const std::string& data_dir_arg) {
  std::string data_dir = data_dir_arg;
  if (data_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/chorus-demo-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      LogError("demo: cannot create a data directory under " + tmpl);
      return 1;
    }
    data_dir = tmpl;
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);

  sim::SimOptions sim_options;
  sim_options.domain = "demo.social";
  sim_options.rate_limit = 300;
  // Short windows: the demo's injected 429 then costs at most half a minute of Mastodon silence
  // (real Mastodon's five-minute window would hide the demo's own surges).
  sim_options.rate_window_ms = 30'000;
  sim::MastodonSim mastodon(sim_options);
  if (auto r = mastodon.Start(); !r) {
    LogError("demo: " + r.error().ToString());
    return 1;
  }
  // Now and then a slow page and a 429, as real servers do.
  sim::FaultPlan faults;
  faults.rate_limit_every = 41;
  faults.slow_every = 17;
  faults.slow_ms = 1200;
  mastodon.SetFaults(faults);
  sim::CampaignPlayer player(mastodon);
  player.Start();

  // The other platforms, with demo credentials handed over the way real secrets are: in the
  // environment, named by the config.
  setenv("CHORUS_DEMO_BLUESKY_IDENTIFIER", "demo.bsky.social", 1);
  setenv("CHORUS_DEMO_BLUESKY_PASSWORD", "demo-app-password", 1);
  setenv("CHORUS_DEMO_X_TOKEN", "demo-bearer-token", 1);
  setenv("CHORUS_DEMO_REDDIT_CLIENT_ID", "demo-client", 1);
  setenv("CHORUS_DEMO_REDDIT_CLIENT_SECRET", "demo-secret", 1);
  sim::BlueskySimOptions bluesky_options;
  bluesky_options.identifier = "demo.bsky.social";
  bluesky_options.password = "demo-app-password";
  sim::BlueskySim bluesky(bluesky_options);
  sim::XSimOptions x_options;
  x_options.required_token = "demo-bearer-token";
  sim::XSim x(x_options);
  sim::RedditSimOptions reddit_options;
  reddit_options.client_id = "demo-client";
  reddit_options.client_secret = "demo-secret";
  sim::RedditSim reddit(reddit_options);
  for (auto r : {bluesky.Start(), x.Start(), reddit.Start()}) {
    if (!r) {
      LogError("demo: " + r.error().ToString());
      return 1;
    }
  }
  sim::PlatformPlayer others(bluesky, x, reddit);
  others.Start();
  sim::LoopbackServer alert_sink;
  if (auto r = StartAlertSink(alert_sink); !r) {
    LogError("demo: " + r.error().ToString());
    return 1;
  }

  const std::string config_path = data_dir + "/chorus.yml";
  {
    std::ofstream out(config_path);
    out << DemoConfigYaml({mastodon.base_url(), bluesky.base_url(), x.base_url(), reddit.base_url()},
                          data_dir + "/store", listen);
    if (!out) {
      LogError("demo: cannot write " + config_path);
      return 1;
    }
  }
  LogInfo("demo: simulated Mastodon " + mastodon.base_url() + ", Bluesky " + bluesky.base_url() +
          ", X " + x.base_url() + ", Reddit " + reddit.base_url() + "; config " + config_path);
  DaemonOptions options;
  options.config_path = config_path;
  options.on_ready = [listen](int port) {
    LogInfo("demo: open http://" + listen.substr(0, listen.rfind(':')) + ":" + std::to_string(port) +
            "/ for the campaigns, /metrics for Prometheus; Ctrl-C stops");
  };
  const int rc = RunDaemon(options);
  alert_sink.Stop();
  others.Stop();
  player.Stop();
  return rc;
}

}  // namespace chorus::daemon
