// The alert outbox survives kill -9 (issue 5, docs/alerts.md "Delivery"): a real chorusd polls a
// simulated Mastodon whose posts mention (and are written by) a policymaker, and delivers its
// alerts to a loopback JSON webhook. chorusd is SIGKILLed while the webhook refuses the alerts,
// or while it is accepting them, and restarted on the same store. Afterwards every alert must
// have reached the webhook (at least once), never twice within one uninterrupted run, and the
// webhook URL — a secret, given only to the child through its environment — must not show in the
// daemon's log, /metrics or /api/v1/alerts.
#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"
#include "sim/loopback_server.h"
#include "tests/integration/daemon_harness.h"

namespace chorus::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kUrlEnv[] = "CHORUS_DURABILITY_WEBHOOK_URL";
// The path of the webhook URL: recognisable, so any leak of the URL is found by searching for it.
constexpr char kSecretPath[] = "/hooks/T0DURABLE/B0KILL9/s3cr3t-webhook-token-7f3a";
constexpr char kMentionRule[] = "senator-mentioned";
constexpr char kResponseRule[] = "senator-responded";
constexpr int64_t kMinuteMs = 60'000;
// Every wait of a test is taken from this budget, so a test ends in time whatever goes wrong.
constexpr seconds kTestBudget{85};

// A JSON webhook on 127.0.0.1 that records the `key` of every alert POSTed to it, with the run
// ("phase") it arrived in and the status it was answered with.
class Webhook {
 public:
  struct Hit {
    int phase = 0;
    std::string key;
    int status = 0;
  };

  Webhook() {
    auto server = std::make_unique<httplib::Server>();
    server->Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::string key;
      {
        simdjson::dom::parser parser;
        std::string_view k;
        if (parser.parse(req.body).get_object()["key"].get_string().get(k) == simdjson::SUCCESS) {
          key = std::string(k);
        }
      }
      int status;
      int delay_ms;
      {
        std::lock_guard lock(mu_);
        status = req.path == kSecretPath ? status_ : 404;
        delay_ms = delay_ms_;
        hits_.push_back({phase_, key, status});
      }
      // After recording: a kill during this sleep is a delivery the daemon never saw accepted.
      if (delay_ms > 0) std::this_thread::sleep_for(milliseconds(delay_ms));
      res.status = status;
      res.set_content("{}", "application/json");
    });
    auto r = server_.Start(std::move(server), 0, "test webhook");
    EXPECT_TRUE(r) << (r ? "" : r.error().ToString());
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + kSecretPath;
  }
  void Answer(int status) {
    std::lock_guard lock(mu_);
    status_ = status;
  }
  void SetDelay(int ms) {
    std::lock_guard lock(mu_);
    delay_ms_ = ms;
  }
  void NextPhase() {
    std::lock_guard lock(mu_);
    ++phase_;
  }
  std::vector<Hit> hits() const {
    std::lock_guard lock(mu_);
    return hits_;
  }
  // Keys answered 2xx in `phase` (all phases when -1), with how often each arrived.
  std::map<std::string, int> Accepted(int phase = -1) const {
    std::map<std::string, int> out;
    for (const auto& h : hits()) {
      if ((phase < 0 || h.phase == phase) && h.status >= 200 && h.status < 300) ++out[h.key];
    }
    return out;
  }
  int Failed() const {
    int n = 0;
    for (const auto& h : hits()) n += h.status >= 500;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Hit> hits_;
  int phase_ = 0;
  int status_ = 200;
  int delay_ms_ = 0;
  sim::LoopbackServer server_;
};

std::set<std::string> KeySet(const std::map<std::string, int>& counted) {
  std::set<std::string> out;
  for (const auto& [k, n] : counted) out.insert(k);
  return out;
}

// chorusd on the harness' simulated Mastodon and config, with the webhook URL in its environment
// only (the test process never has kUrlEnv set).
class AlertingDaemon {
 public:
  explicit AlertingDaemon(int mentions, int responses)
      : deadline_(std::chrono::steady_clock::now() + kTestBudget),
        h_({}, {.poll_interval = "200ms", .timeout = "2s", .overlap = "15m", .page_limit = 40}) {
    std::string yaml = h_.ConfigYaml(/*extra_campaign=*/false);
    yaml += "alerts:\n  receivers:\n";
    yaml += "    - {name: hook, format: json, url_env: " + std::string(kUrlEnv) + "}\n";
    yaml += "  rules:\n";
    for (const auto& [rule, kind] : {std::pair{kMentionRule, "policymaker_mention"},
                                     std::pair{kResponseRule, "policymaker_response"}}) {
      yaml += "    - {name: " + std::string(rule) + ", kind: " + kind +
              ", max_age: 48h, receivers: [hook]}\n";
    }
    h_.WriteConfig(yaml);
    Seed(mentions, responses);
  }

  // `mentions` posts mentioning sen-doe, `responses` posts by her with a campaign hashtag, and
  // as many campaign posts that alert nobody; all created in the last two hours.
  void Seed(int mentions, int responses) {
    std::mt19937 rng(7);
    const int64_t now = SystemClock::Instance().NowMs();
    auto add = [&](sim::SimAccount author, bool mention, int i) {
      sim::SimStatus s;
      s.created_at_ms = now - static_cast<int64_t>(rng() % (120 * kMinuteMs));
      s.account = std::move(author);
      s.tags = {i % 2 ? "FundOurSchools" : "EdEquity"};
      s.text = "post " + std::to_string(i) + " #" + s.tags[0];
      if (mention) {
        s.mentions.push_back({"janedoe", "gov.example", 0});
        s.text += " @janedoe";
      }
      return h_.sim().AddStatus(s);
    };
    int i = 0;
    for (int n = 0; n < mentions; ++n, ++i) {
      const auto s = add({"voice" + std::to_string(n % 17), "remote.example", 10}, true, i);
      expected_.insert(std::string(kMentionRule) + "/mastodon/" + s.uri);
    }
    for (int n = 0; n < responses; ++n, ++i) {
      const auto s = add({"janedoe", "gov.example", 5000}, false, i);
      expected_.insert(std::string(kResponseRule) + "/mastodon/" + s.uri);
    }
    for (int n = 0; n < mentions; ++n, ++i)
      add({"quiet" + std::to_string(n % 5), "remote.example", 3}, false, i);
  }

  void Start() {
    ASSERT_EQ(std::getenv(kUrlEnv), nullptr) << "the test process must not hold the webhook URL";
    // env(1) sets the variable for chorusd alone and execs it, so the pid is chorusd's.
    proc_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/env", std::string(kUrlEnv) + "=" + webhook_.url(),
                                 "CHORUS_LOG_LEVEL=debug", BinPath("chorusd"), "--config",
                                 h_.config_path()},
        h_.log_path());
    ASSERT_TRUE(
        WaitFor([&] { return HttpGet(h_.port(), "/readyz", 1).status == 200; }, Cap(seconds(20))))
        << "chorusd did not become ready; log:\n"
        << h_.log();
  }
  void Kill() {
    if (!proc_) return;
    proc_->Signal(SIGKILL);
    EXPECT_EQ(proc_->Wait(seconds(10)), 128 + SIGKILL);
    proc_.reset();
  }
  std::optional<int> Terminate() {
    proc_->Signal(SIGTERM);
    auto rc = proc_->Wait(Cap(seconds(30)));
    proc_.reset();
    return rc;
  }

  // /api/v1/alerts as alert key -> the state of its one delivery (to `hook`); nullopt when the
  // API did not answer with a readable list.
  std::optional<std::map<std::string, std::string>> AlertStates() {
    const HttpResult r = HttpGet(h_.port(), "/api/v1/alerts?limit=1000", 2);
    if (r.status != 200) return std::nullopt;
    simdjson::dom::parser parser;
    simdjson::dom::array alerts;
    if (parser.parse(r.body)["alerts"].get_array().get(alerts) != simdjson::SUCCESS)
      return std::nullopt;
    std::map<std::string, std::string> out;
    for (auto a : alerts) {
      std::string_view key, state;
      simdjson::dom::array deliveries;
      if (a["key"].get_string().get(key) || a["deliveries"].get_array().get(deliveries) ||
          deliveries.size() != 1 || deliveries.at(0)["state"].get_string().get(state)) {
        return std::nullopt;
      }
      out[std::string(key)] = std::string(state);
    }
    return out;
  }
  // True when the API lists exactly the expected alerts and every one is in `states`.
  bool AllIn(const std::set<std::string>& states) {
    auto listed = AlertStates();
    if (!listed || listed->size() != expected_.size()) return false;
    for (const auto& [k, s] : *listed) {
      if (!expected_.count(k) || !states.count(s)) return false;
    }
    return true;
  }
  double Delivered() {
    return MetricSum(h_.Metrics(), "chorus_alerts_total", {"outcome=\"delivered\""});
  }

  // The webhook URL shows nowhere the daemon writes or serves.
  void ExpectUrlNeverShown(bool delivered_in_this_run) {
    const std::string log = h_.log();
    const std::string metrics = HttpGet(h_.port(), "/metrics").body;
    const std::string alerts = HttpGet(h_.port(), "/api/v1/alerts?limit=1000").body;
    EXPECT_FALSE(log.empty());
    // (chorus_alerts_total counts from the start of the process: a run that delivered nothing has
    // no series yet.)
    if (delivered_in_this_run) {
      EXPECT_NE(metrics.find("chorus_alerts_total{"), std::string::npos);
    }
    EXPECT_NE(alerts.find(kMentionRule), std::string::npos);
    for (const std::string& secret :
         {std::string(kSecretPath), std::string("s3cr3t-webhook-token"), webhook_.url()}) {
      EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log";
      EXPECT_EQ(metrics.find(secret), std::string::npos) << secret << " in /metrics";
      EXPECT_EQ(alerts.find(secret), std::string::npos) << secret << " in /api/v1/alerts";
    }
  }

  // `wanted`, or what is left of the test's budget if that is less.
  milliseconds Cap(milliseconds wanted) const {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline_ - std::chrono::steady_clock::now());
    return std::max(milliseconds(0), std::min(wanted, left));
  }
  Webhook& webhook() { return webhook_; }
  const std::set<std::string>& expected() const { return expected_; }
  std::string log() const { return h_.log(); }

 private:
  std::chrono::steady_clock::time_point deadline_;
  DaemonHarness h_;
  Webhook webhook_;
  std::set<std::string> expected_;
  std::unique_ptr<Process> proc_;  // last: killed before the webhook and the sim stop
};

TEST(AlertsDurability, OutboxSurvivesKillNineAndIsDeliveredExactlyOnceAfterIt) {
  AlertingDaemon d(/*mentions=*/24, /*responses=*/6);
  ASSERT_EQ(d.expected().size(), 30u);

  // Phase 1: the webhook is down (500). The alerts are raised and queued, then chorusd dies.
  d.webhook().Answer(500);
  ASSERT_NO_FATAL_FAILURE(d.Start());
  // Listed, and the dispatcher has tried (and failed) at least once: some are `retrying`.
  const bool queued = WaitFor(
      [&] {
        return d.webhook().Failed() > 0 && d.AllIn({"pending", "retrying"});
      },
      d.Cap(seconds(30)));
  ASSERT_TRUE(queued) << "the expected alerts were not all listed undelivered; log:\n" << d.log();
  d.Kill();
  EXPECT_TRUE(d.webhook().Accepted().empty());
  // The failure path, where a URL would most likely leak into a message, was taken.
  EXPECT_NE(d.log().find("delivery to receiver hook failed"), std::string::npos) << d.log();

  // Phase 2: the webhook is back; the restarted daemon delivers what the dead one left behind.
  d.webhook().NextPhase();
  d.webhook().Answer(200);
  ASSERT_NO_FATAL_FAILURE(d.Start());
  const bool received =
      WaitFor([&] { return KeySet(d.webhook().Accepted(1)) == d.expected(); }, d.Cap(seconds(30)));
  EXPECT_TRUE(received) << d.webhook().Accepted(1).size() << " of " << d.expected().size()
                        << " alerts received; log:\n"
                        << d.log();
  ASSERT_TRUE(WaitFor([&] { return d.AllIn({"delivered"}); }, d.Cap(seconds(10))))
      << "/api/v1/alerts does not show every alert delivered; log:\n"
      << d.log();

  const auto accepted = d.webhook().Accepted(1);
  EXPECT_EQ(KeySet(accepted), d.expected());
  for (const auto& [key, n] : accepted)
    EXPECT_EQ(n, 1) << key << " delivered " << n << " times in one run";
  for (const auto& h : d.webhook().hits()) {
    if (h.phase == 1) {
      EXPECT_EQ(h.status, 200) << h.key;  // nothing went to a wrong path
    }
  }
  EXPECT_EQ(d.Delivered(), static_cast<double>(d.expected().size()));
  d.ExpectUrlNeverShown(/*delivered_in_this_run=*/true);

  // A clean stop and start sends nothing again: the outbox is empty.
  const size_t hits = d.webhook().hits().size();
  EXPECT_EQ(d.Terminate(), 0);
  ASSERT_NO_FATAL_FAILURE(d.Start());
  std::this_thread::sleep_for(milliseconds(1500));  // more than one dispatcher pass
  EXPECT_EQ(d.webhook().hits().size(), hits);
  EXPECT_TRUE(d.AllIn({"delivered"}));
  d.ExpectUrlNeverShown(/*delivered_in_this_run=*/false);
}

TEST(AlertsDurability, RepeatedKillNineWhileDeliveringLosesNoAlert) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  AlertingDaemon d(/*mentions=*/60, /*responses=*/10);
  ASSERT_EQ(d.expected().size(), 70u);
  // Each acceptance takes a while, so a kill lands in the middle of the deliveries.
  d.webhook().SetDelay(40);

  constexpr int kKills = 3;
  for (int round = 0; round < kKills; ++round) {
    d.webhook().NextPhase();
    ASSERT_NO_FATAL_FAILURE(d.Start());
    // Kill at a random moment once this run has started delivering (or right away if there is
    // nothing left to deliver).
    const size_t before = d.webhook().hits().size();
    WaitFor(
        [&] {
          return d.webhook().hits().size() > before ||
                 KeySet(d.webhook().Accepted()) == d.expected();
        },
        d.Cap(seconds(10)));
    std::this_thread::sleep_for(milliseconds(rng() % 400));
    d.Kill();
  }

  // A final run that is not interrupted.
  d.webhook().NextPhase();
  const int final_phase = kKills + 1;
  ASSERT_NO_FATAL_FAILURE(d.Start());
  const bool received =
      WaitFor([&] { return KeySet(d.webhook().Accepted()) == d.expected(); }, d.Cap(seconds(30)));
  EXPECT_TRUE(received) << KeySet(d.webhook().Accepted()).size() << " of " << d.expected().size()
                        << " alerts received; log:\n"
                        << d.log();
  ASSERT_TRUE(WaitFor([&] { return d.AllIn({"delivered"}); }, d.Cap(seconds(10))))
      << "/api/v1/alerts does not show every alert delivered; log:\n"
      << d.log();

  // At least once: every alert arrived, and nothing else did.
  const auto all = d.webhook().Accepted();
  EXPECT_EQ(KeySet(all), d.expected());
  int total = 0;
  for (const auto& [key, n] : all) total += n;
  const int duplicates = total - static_cast<int>(all.size());
  // Never twice within the final, uninterrupted run.
  const auto last = d.webhook().Accepted(final_phase);
  for (const auto& [key, n] : last)
    EXPECT_EQ(n, 1) << key << " delivered " << n << " times in one run";
  int last_total = 0;
  for (const auto& [key, n] : last) last_total += n;
  EXPECT_EQ(d.Delivered(), static_cast<double>(last_total));
  d.ExpectUrlNeverShown(/*delivered_in_this_run=*/last_total > 0);

  std::map<int, int> per_phase;
  for (const auto& h : d.webhook().hits()) per_phase[h.phase] += h.status == 200;
  std::string summary = "alerts durability: " + std::to_string(all.size()) + " alerts, " +
                        std::to_string(total) + " deliveries, " + std::to_string(duplicates) +
                        " duplicate(s) across " + std::to_string(kKills) +
                        " kills; accepted per run:";
  for (const auto& [phase, n] : per_phase) summary += " " + std::to_string(n);
  std::cout << summary << std::endl;
  ::testing::Test::RecordProperty("duplicates", duplicates);
}

}  // namespace
}  // namespace chorus::testing
