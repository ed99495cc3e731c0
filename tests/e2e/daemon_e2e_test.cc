// The real binaries as an operator runs them: the demo scraped and linted by promtool, the
// command line, reloads, shutdown, and the HTTP server under idle connections.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/integration/daemon_harness.h"

namespace chorus::testing {
namespace {

using std::chrono::seconds;

TEST(Demo, ServesCampaignsAndMetricsThatPromtoolAccepts) {
  TempDir dir;
  const int port = FreePort();
  const std::string log = dir.path() + "/demo.log";
  Process demo({BinPath("chorusd"), "--demo", "--listen", "127.0.0.1:" + std::to_string(port),
                "--data-dir", dir.path() + "/data"},
               log);
  std::map<std::string, double> m;
  ASSERT_TRUE(WaitFor([&] {
    m = ParseMetrics(HttpGet(port, "/metrics").body);
    return MetricSum(m, "chorus_posts_total", {"campaign=\"fund-our-schools\""}) > 50 &&
           MetricSum(m, "chorus_policymaker_mentions_total") > 0 &&
           MetricSum(m, "chorus_coalition_posts_total") > 0;
  }, seconds(60))) << ReadFile(log);

  const HttpResult metrics = HttpGet(port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  const RunResult lint = RunCommand({"/usr/bin/promtool", "check", "metrics"}, seconds(30), metrics.body);
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  for (const char* name : {"chorus_posts_total", "chorus_term_posts_total", "chorus_engagement_total",
                           "chorus_potential_reach_total", "chorus_policymaker_mentions_total",
                           "chorus_source_up", "chorus_source_requests_total",
                           "chorus_source_rate_limit_remaining",
                           "chorus_source_last_success_timestamp_seconds",
                           "chorus_source_poll_duration_seconds_bucket",
                           "chorus_source_parse_errors_total", "chorus_build_info"}) {
    EXPECT_NE(metrics.body.find(std::string("\n") + name + "{"), std::string::npos) << name;
  }
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);
  EXPECT_EQ(HttpGet(port, "/readyz").status, 200);
  const HttpResult page = HttpGet(port, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("fund-our-schools"), std::string::npos);
  EXPECT_NE(page.body.find("demo-mastodon"), std::string::npos);
  const HttpResult campaigns = HttpGet(port, "/api/v1/campaigns");
  EXPECT_EQ(campaigns.status, 200);
  EXPECT_NE(campaigns.body.find("\"name\":\"teachers-count\""), std::string::npos) << campaigns.body;
  EXPECT_EQ(HttpGet(port, "/api/v1/campaigns?bogus=1").status, 400);
  EXPECT_EQ(HttpGet(port, "/no/such/page").status, 404);

  ASSERT_TRUE(demo.Signal(SIGTERM));
  EXPECT_EQ(demo.Wait(seconds(30)), 0) << ReadFile(log);
}

TEST(CommandLine, CheckConfigReportsEveryProblemWithItsPlace) {
  TempDir dir;
  const std::string bad = dir.path() + "/bad.yml";
  std::ofstream(bad) << "storage:\n  path: /tmp/x\n"
                        "sources:\n"
                        "  - name: m\n    platform: mastadon\n    base_url: https://example.org\n"
                        "campaigns:\n"
                        "  - name: c\n    hashtags: [A]\n    colour: red\n";
  for (const auto& argv : {std::vector<std::string>{BinPath("chorusd"), "--check-config", "--config", bad},
                           std::vector<std::string>{BinPath("chorusctl"), "check-config", bad}}) {
    const RunResult r = RunCommand(argv, seconds(10));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find(bad + ":5:15:"), std::string::npos) << r.output;   // platform value
    EXPECT_NE(r.output.find(bad + ":10:5:"), std::string::npos) << r.output;   // unknown key
  }
  const std::string good = CHORUS_SOURCE_DIR "/config/chorus.yml";
  const RunResult ok = RunCommand({BinPath("chorusd"), "--check-config", "--config", good}, seconds(10));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(RunCommand({BinPath("chorusctl"), "check-config", good}, seconds(10)).exit_code, 0);

  // A web config file chorusd could not use fails the check as it would fail start-up.
  const std::string with_web = dir.path() + "/web.yml";
  std::ofstream(dir.path() + "/tls.yml") << "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n";
  std::ofstream(with_web) << "storage:\n  path: " << dir.path() << "/store\nhttp:\n  web_config_file: tls.yml\n"
                          << "campaigns:\n  - name: c\n    hashtags: [a]\n";
  for (const auto& argv : {std::vector<std::string>{BinPath("chorusd"), "--check-config", "--config", with_web},
                           std::vector<std::string>{BinPath("chorusctl"), "check-config", with_web}}) {
    const RunResult r = RunCommand(argv, seconds(10));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("missing.crt"), std::string::npos) << r.output;
  }
}

TEST(CommandLine, BadArgumentsAndUnusableResourcesFailWithOneClearLine) {
  EXPECT_EQ(RunCommand({BinPath("chorusd"), "--frobnicate"}, seconds(10)).exit_code, 2);
  EXPECT_EQ(RunCommand({BinPath("chorusd")}, seconds(10)).exit_code, 2);
  EXPECT_EQ(RunCommand({BinPath("chorusctl"), "frobnicate"}, seconds(10)).exit_code, 2);
  const RunResult version = RunCommand({BinPath("chorusd"), "--version"}, seconds(10));
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.output.rfind("chorusd ", 0), 0u) << version.output;
  const RunResult missing = RunCommand({BinPath("chorusd"), "--config", "/nonexistent/chorus.yml"}, seconds(10));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("/nonexistent/chorus.yml"), std::string::npos) << missing.output;

  // The listen port is taken: exit 1, saying so.
  DaemonHarness h;
  h.Start();
  std::string yaml = h.ConfigYaml(false);
  TempDir other;
  yaml.replace(yaml.find(h.dir() + "/store"), h.dir().size() + 6, other.path() + "/store");
  std::ofstream(other.path() + "/c.yml") << yaml;
  const RunResult busy = RunCommand({BinPath("chorusd"), "--config", other.path() + "/c.yml"}, seconds(20));
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.output.find("cannot listen"), std::string::npos) << busy.output;
  // The store is locked by the running daemon: exit 1, naming it.
  const RunResult locked = RunCommand({BinPath("chorusd"), "--config", h.config_path(), "--listen", "127.0.0.1:0"}, seconds(20));
  EXPECT_EQ(locked.exit_code, 1);
  EXPECT_NE(locked.output.find("cannot open store"), std::string::npos) << locked.output;
}

TEST(Lifecycle, ReloadAppliesAValidConfigKeepsCountsAndRejectsAnInvalidOne) {
  DaemonHarness h;
  for (int i = 0; i < 30; ++i) h.Add({"FundOurSchools"}, i * 1000);
  for (int i = 0; i < 5; ++i) h.Add({"Cats"}, i * 1000);
  h.Start();
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == 30; }, seconds(20))) << h.log();

  // SIGHUP with a new campaign: it appears, and nothing counted so far is lost.
  h.WriteConfig(h.ConfigYaml(/*extra_campaign=*/true));
  ASSERT_TRUE(h.process()->Signal(SIGHUP));
  ASSERT_TRUE(WaitFor([&] { return h.Posts("cats") == 5; }, seconds(20))) << h.log();
  EXPECT_EQ(h.Posts("fund-our-schools"), 30);
  EXPECT_NE(HttpGet(h.port(), "/api/v1/campaigns").body.find("\"cats\""), std::string::npos);

  // An invalid file: logged, rejected, the running configuration keeps working.
  h.WriteConfig("sources: [oops\n");
  ASSERT_TRUE(h.process()->Signal(SIGHUP));
  ASSERT_TRUE(WaitFor([&] { return h.log().find("reload rejected") != std::string::npos; }, seconds(10))) << h.log();
  const HttpResult rejected = HttpPost(h.port(), "/-/reload");
  EXPECT_EQ(rejected.status, 400);
  EXPECT_NE(rejected.body.find("error"), std::string::npos);
  h.Add({"FundOurSchools"});
  ASSERT_TRUE(WaitFor([&] { return h.Posts("fund-our-schools") == 31; }, seconds(20))) << h.log();
  EXPECT_TRUE(h.process()->running());

  // POST /-/reload with the original file: the extra campaign goes away, counts stay.
  h.WriteConfig(h.ConfigYaml(false));
  EXPECT_EQ(HttpPost(h.port(), "/-/reload").status, 200);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(h.port(), "/api/v1/campaigns").body.find("\"cats\"") == std::string::npos; },
                      seconds(10)));
  EXPECT_EQ(h.Posts("fund-our-schools"), 31);

  // SIGTERM drains and exits 0; a restart restores the counters from the store.
  EXPECT_EQ(h.Terminate(), 0);
  h.Start();
  EXPECT_EQ(h.Posts("fund-our-schools"), 31);
}

TEST(HttpServer, IdleConnectionsDoNotStallAScrape) {
  DaemonHarness h;
  h.Start();
  // Far more idle keep-alive connections than cpp-httplib's default worker pool has threads.
  std::vector<int> fds;
  for (int i = 0; i < 24; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(h.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    fds.push_back(fd);
  }
  const auto t0 = std::chrono::steady_clock::now();
  // With cpp-httplib's defaults (8 workers, 5 s keep-alive) this scrape would queue behind the
  // idle connections for about 15 s; the daemon's pool and 1 s idle timeout keep it immediate.
  // The 4 s bound is generous for a loaded machine and far below the stall.
  const HttpResult r = HttpGet(h.port(), "/metrics", /*timeout_s=*/4);
  EXPECT_EQ(r.status, 200);
  RecordProperty("scrape_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::steady_clock::now() - t0).count()));
  for (int fd : fds) close(fd);
}

}  // namespace
}  // namespace chorus::testing
