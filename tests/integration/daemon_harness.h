// Runs the real chorusd against a simulated Mastodon served from the test process, and reads
// what it exports. Shared by the integration tests.
#pragma once

#include <signal.h>

#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "analytics/matcher.h"
#include "core/time.h"
#include "sim/mastodon_sim.h"
#include "tests/testlib/process.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {

inline const std::vector<std::string> kFundTags = {"fundourschools", "edequity"};
inline const std::vector<std::string> kTeacherTags = {"teacherscount"};

struct HarnessOptions {
  std::string poll_interval = "200ms";
  std::string timeout = "2s";
  std::string overlap = "15m";
  int page_limit = 40;
};

class DaemonHarness {
 public:
  explicit DaemonHarness(sim::SimOptions sim_options = {}, HarnessOptions options = {})
      : sim_(sim_options), options_(options) {
    if (!sim_.Start()) ADD_FAILURE() << "sim did not start";
    port_ = FreePort();
    config_path_ = dir_.path() + "/chorus.yml";
    WriteConfig(ConfigYaml(/*extra_campaign=*/false));
  }
  ~DaemonHarness() { Kill(); }

  std::string ConfigYaml(bool extra_campaign) const {
    std::string y =
        "storage:\n  path: " + dir_.path() + "/store\n"
        "http:\n  listen: \"127.0.0.1:" + std::to_string(port_) + "\"\n"
        "sources:\n"
        "  - name: sim\n"
        "    platform: mastodon\n"
        "    base_url: " + sim_.base_url() + "\n"
        "    poll_interval: " + options_.poll_interval + "\n"
        "    backfill: 24h\n"
        "    overlap: " + options_.overlap + "\n"
        "    timeout: " + options_.timeout + "\n"
        "    page_limit: " + std::to_string(options_.page_limit) + "\n"
        "campaigns:\n"
        "  - name: fund-our-schools\n"
        "    hashtags: [FundOurSchools, EdEquity]\n"
        "  - name: teachers-count\n"
        "    hashtags: [TeachersCount]\n";
    if (extra_campaign) y += "  - name: cats\n    hashtags: [Cats]\n";
    y += "people:\n"
         "  policymakers:\n"
         "    - id: sen-doe\n"
         "      name: Sen. Jane Doe\n"
         "      accounts: {mastodon: janedoe@gov.example}\n"
         "  coalition:\n"
         "    - id: parents-united\n"
         "      name: Parents United\n"
         "      accounts: {mastodon: parents@edu.example}\n";
    return y;
  }
  void WriteConfig(const std::string& yaml) {
    std::ofstream(config_path_, std::ios::trunc) << yaml;
  }

  void Start() {
    proc_ = std::make_unique<Process>(
        std::vector<std::string>{BinPath("chorusd"), "--config", config_path_}, log_path());
    ASSERT_TRUE(WaitFor([&] { return HttpGet(port_, "/readyz", 1).status == 200; },
                        std::chrono::seconds(20)))
        << "chorusd did not become ready; log:\n" << ReadFile(log_path());
  }
  void Kill() {
    if (proc_) {
      proc_->Signal(SIGKILL);
      proc_->Wait(std::chrono::seconds(10));
      proc_.reset();
    }
  }
  std::optional<int> Terminate() {
    proc_->Signal(SIGTERM);
    auto rc = proc_->Wait(std::chrono::seconds(30));
    proc_.reset();
    return rc;
  }

  std::map<std::string, double> Metrics() { return ParseMetrics(HttpGet(port_, "/metrics").body); }
  double Posts(const std::string& campaign) {
    return MetricSum(Metrics(), "chorus_posts_total", {"campaign=\"" + campaign + "\""});
  }

  // Adds a status with the given tags; created `age_ms` ago.
  sim::SimStatus Add(std::vector<std::string> tags, int64_t age_ms = 0, int64_t followers = 10,
                     int64_t favourites = 0) {
    sim::SimStatus s;
    s.created_at_ms = SystemClock::Instance().NowMs() - age_ms;
    s.account = {"user" + std::to_string(next_user_++ % 50), "remote.example", followers};
    s.text = "post";
    for (const auto& t : tags) s.text += " #" + t;
    s.tags = std::move(tags);
    s.favourites = favourites;
    return sim_.AddStatus(s);
  }

  // Distinct statuses the sim holds that match any of `tags` (lower-case) and are inside the backfill.
  int64_t Expected(const std::vector<std::string>& tags) const {
    int64_t n = 0;
    const int64_t floor = SystemClock::Instance().NowMs() - 24LL * 3'600'000;
    for (const auto& s : sim_.statuses()) {
      if (s.created_at_ms < floor) continue;
      bool match = false;
      for (const auto& t : s.tags) {
        for (const auto& want : tags) match = match || analytics::AsciiLower(t) == want;
      }
      n += match;
    }
    return n;
  }

  std::string log_path() const { return dir_.path() + "/chorusd.log"; }
  std::string log() const { return ReadFile(log_path()); }
  sim::MastodonSim& sim() { return sim_; }
  int port() const { return port_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& dir() const { return dir_.path(); }
  Process* process() { return proc_.get(); }

 private:
  TempDir dir_;
  sim::MastodonSim sim_;
  HarnessOptions options_;
  int port_ = 0;
  std::string config_path_;
  std::unique_ptr<Process> proc_;
  int next_user_ = 0;
};

}  // namespace chorus::testing
