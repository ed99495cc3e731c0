#include "daemon/demo.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/log.h"
#include "daemon/daemon.h"
#include "sim/campaign_player.h"
#include "sim/mastodon_sim.h"

namespace chorus::daemon {

std::string DemoConfigYaml(const std::string& mastodon_url, const std::string& store_path,
                           const std::string& listen) {
  return "# Written by chorusd --demo: the daemon polls a simulated Mastodon on loopback.\n"
         "storage:\n"
         "  path: " + store_path + "\n"
         "http:\n"
         "  listen: \"" + listen + "\"\n"
         "sources:\n"
         "  - name: demo-mastodon\n"
         "    platform: mastodon\n"
         "    base_url: " + mastodon_url + "\n"
         "    poll_interval: 5s\n"
         "    backfill: 12h\n"
         "    overlap: 15m\n"
         "    timeout: 5s\n"
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
         "      accounts: {mastodon: janedoe@gov.example}\n"
         "  coalition:\n"
         "    - id: parents-united\n"
         "      name: Parents United\n"
         "      accounts: {mastodon: parents@edu.example}\n";
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

  const std::string config_path = data_dir + "/chorus.yml";
  {
    std::ofstream out(config_path);
    out << DemoConfigYaml(mastodon.base_url(), data_dir + "/store", listen);
    if (!out) {
      LogError("demo: cannot write " + config_path);
      return 1;
    }
  }
  LogInfo("demo: simulated Mastodon at " + mastodon.base_url() + ", config " + config_path);
  DaemonOptions options;
  options.config_path = config_path;
  options.on_ready = [listen](int port) {
    LogInfo("demo: open http://" + listen.substr(0, listen.rfind(':')) + ":" + std::to_string(port) +
            "/ for the campaigns, /metrics for Prometheus; Ctrl-C stops");
  };
  const int rc = RunDaemon(options);
  player.Stop();
  mastodon.Stop();
  return rc;
}

}  // namespace chorus::daemon
