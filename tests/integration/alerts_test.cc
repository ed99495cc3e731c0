// Alerts end to end inside one process: a real store in a temp dir, the ingester with the alert
// hook, the dispatcher delivering to loopback receivers. Covers the payload shapes of the three
// receiver formats, retries, durability across a store reopen, in-run deduplication, max_age and
// the secrecy of webhook URLs.
#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

#include "analytics/matcher.h"
#include "core/log.h"
#include "core/time.h"
#include "daemon/alert_dispatcher.h"
#include "daemon/alert_queue.h"
#include "daemon/metrics.h"
#include "ingest/ingester.h"
#include "sim/loopback_server.h"
#include "store/store.h"
#include "tests/testlib/test_util.h"

namespace chorus::daemon {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;

// A webhook receiver on 127.0.0.1 that records what it is sent and can fail on purpose.
class Receiver {
 public:
  struct Request {
    std::string path;
    std::string body;
    int status = 0;
  };
  Receiver() {
    auto server = std::make_unique<httplib::Server>();
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      int status = 200;
      if (fail_next_ > 0) {
        --fail_next_;
        status = fail_status_;
      } else if (always_status_ != 0) {
        status = always_status_;
      }
      requests_.push_back({req.path, req.body, status});
      res.status = status;
      res.set_content("{}", "application/json");
    };
    server->Post(R"(/.*)", handler);
    auto r = server_.Start(std::move(server), 0, "test receiver");
    EXPECT_TRUE(r) << (r ? "" : r.error().ToString());
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + path;
  }
  void FailNext(int n, int status) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
    fail_status_ = status;
  }
  void AlwaysAnswer(int status) {
    std::lock_guard lock(mu_);
    always_status_ = status;
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int accepted() const {
    int n = 0;
    for (const auto& r : requests()) n += r.status >= 200 && r.status < 300;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  int fail_next_ = 0;
  int fail_status_ = 500;
  int always_status_ = 0;
  sim::LoopbackServer server_;
};

config::Config TestConfig() {
  config::Config c;
  c.campaigns.push_back({"fund-our-schools", {"fundourschools"}, {}});
  c.policymakers.push_back({"sen-doe", "Sen. Jane Doe", {{Platform::kMastodon, "janedoe@gov.example"}}});
  c.policymakers.push_back({"rep-roe", "Rep. Rita Roe", {{Platform::kMastodon, "roe@gov.example"}}});
  return c;
}

config::Rule MentionRule(std::vector<std::string> receivers) {
  config::Rule r;
  r.name = "mentioned";
  r.kind = "policymaker_mention";
  r.receivers = std::move(receivers);
  return r;
}

Post MentionPost(const std::string& id, int64_t created_ms) {
  Post p;
  p.platform = Platform::kMastodon;
  p.key = "https://a.example/users/alice/statuses/" + id;
  p.local_id = id;
  p.url = "https://a.example/@alice/" + id;
  p.author = "alice@a.example";
  p.created_at_ms = created_ms;
  p.text = "Fund our schools! @janedoe @roe <b>now</b>";
  p.hashtags = {"fundourschools"};
  p.mentions = {"janedoe@gov.example", "roe@gov.example"};
  return p;
}

// The value of the chorus_alerts_total series with these labels, 0 when absent.
double AlertsTotal(const Metrics& metrics, const std::string& rule, const std::string& receiver,
                   const std::string& outcome) {
  std::istringstream in(metrics.Serialize());
  const std::string want = "chorus_alerts_total{outcome=\"" + outcome + "\",receiver=\"" + receiver +
                           "\",rule=\"" + rule + "\"} ";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(want, 0) == 0) return std::stod(line.substr(want.size()));
  }
  return 0;
}

// Waits (bounded) until `done` holds; the assertion after it says what was expected.
template <typename F>
void WaitFor(F done, int64_t timeout_ms = 20'000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

class AlertsTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(); }
  void TearDown() override { CloseStore(); }

  void OpenStore() {
    auto s = store::Store::Open(dir_.path() + "/store");
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    ingester_ = std::make_unique<ingest::Ingester>(*store_, std::make_shared<analytics::Matcher>(config_));
    queue_ = std::make_unique<AlertQueue>(*store_);
    queue_->SetConfig(config_);
    ingester_->SetNewPostHook(queue_->Hook());
  }
  void CloseStore() {
    if (dispatcher_) dispatcher_->Stop();
    dispatcher_.reset();
    ingester_.reset();
    queue_.reset();
    store_.reset();
  }
  void Configure(std::vector<config::Receiver> receivers, std::vector<config::Rule> rules) {
    config_.receivers = std::move(receivers);
    config_.rules = std::move(rules);
    queue_->SetConfig(config_);
  }
  AlertDispatcher& Dispatcher() {
    if (!dispatcher_) {
      AlertDispatcherOptions o;
      o.scan_interval_ms = 20;
      o.spike_interval_ms = 0;
      o.backoff = {10, 40};
      dispatcher_ = std::make_unique<AlertDispatcher>(*store_, queue_.get(), &metrics_,
                                                      SystemClock::Instance(), o);
      dispatcher_->SetReceivers(config_.receivers);
    }
    return *dispatcher_;
  }
  int Ingest(const std::vector<Post>& posts) {
    auto r = ingester_->ApplyPage(posts, {}, SystemClock::Instance().NowMs());
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? r->alerts_queued : -1;
  }
  size_t OutboxSize() {
    auto o = store_->ScanOutbox(10'000);
    EXPECT_TRUE(o);
    return o ? o->size() : 0;
  }

  testing::TempDir dir_;
  config::Config config_ = TestConfig();
  Metrics metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ingest::Ingester> ingester_;
  std::unique_ptr<AlertQueue> queue_;
  std::unique_ptr<AlertDispatcher> dispatcher_;
};

std::vector<std::string> Keys(simdjson::dom::object o) {
  std::vector<std::string> keys;
  for (auto field : o) keys.emplace_back(field.key);
  return keys;
}

std::string Str(simdjson::dom::element e) { return std::string(std::string_view(e.get_string().value())); }

TEST_F(AlertsTest, PayloadShapesOfTheThreeFormats) {
  Receiver rx;
  setenv("CHORUS_TEST_JSON_URL", rx.Url("/json").c_str(), 1);
  setenv("CHORUS_TEST_SLACK_URL", rx.Url("/services/T0/B0/slack").c_str(), 1);
  setenv("CHORUS_TEST_AM_URL", rx.Url("/am/").c_str(), 1);  // a base URL, as for Alertmanager
  Configure({{"generic", "json", "CHORUS_TEST_JSON_URL"},
             {"chat", "slack", "CHORUS_TEST_SLACK_URL"},
             {"am", "alertmanager", "CHORUS_TEST_AM_URL"}},
            {MentionRule({"generic", "chat", "am"})});
  const int64_t created = SystemClock::Instance().NowMs() - 5 * kMin;
  // Two policymakers named in one post: one alert naming both, per receiver.
  EXPECT_EQ(Ingest({MentionPost("1", created)}), 3);
  EXPECT_EQ(OutboxSize(), 3u);
  EXPECT_EQ(Dispatcher().DeliverDue(), 3);
  EXPECT_EQ(OutboxSize(), 0u);

  std::map<std::string, std::string> bodies;
  for (const auto& r : rx.requests()) bodies[r.path] = r.body;
  ASSERT_EQ(bodies.size(), 3u);
  simdjson::dom::parser parser;

  // json: exactly the documented keys (design §4).
  ASSERT_TRUE(bodies.count("/json"));
  simdjson::dom::object j;
  ASSERT_EQ(parser.parse(bodies["/json"]).get_object().get(j), simdjson::SUCCESS);
  EXPECT_EQ(Keys(j), (std::vector<std::string>{"key", "rule", "kind", "platform", "campaigns",
                                               "policymakers", "post"}));
  EXPECT_EQ(Str(j["key"]), "mentioned/mastodon/https://a.example/users/alice/statuses/1");
  EXPECT_EQ(Str(j["rule"]), "mentioned");
  EXPECT_EQ(Str(j["kind"]), "policymaker_mention");
  EXPECT_EQ(Str(j["platform"]), "mastodon");
  EXPECT_EQ(Str(j["campaigns"].at(0)), "fund-our-schools");
  EXPECT_EQ(j["policymakers"].get_array().size(), 2u);
  EXPECT_EQ(Str(j["policymakers"].at(1)), "rep-roe");
  simdjson::dom::object post = j["post"].get_object();
  EXPECT_EQ(Keys(post), (std::vector<std::string>{"id", "url", "author", "created_at", "text"}));
  EXPECT_EQ(Str(post["id"]), "https://a.example/users/alice/statuses/1");
  EXPECT_EQ(Str(post["url"]), "https://a.example/@alice/1");
  EXPECT_EQ(Str(post["author"]), "alice@a.example");
  EXPECT_EQ(Str(post["created_at"]), FormatRfc3339Ms(created));
  EXPECT_EQ(Str(post["text"]), "Fund our schools! @janedoe @roe <b>now</b>");

  // slack: an incoming-webhook message with the link, author, excerpt and campaign.
  ASSERT_TRUE(bodies.count("/services/T0/B0/slack"));
  simdjson::dom::object s;
  ASSERT_EQ(parser.parse(bodies["/services/T0/B0/slack"]).get_object().get(s), simdjson::SUCCESS);
  const std::string text = Str(s["text"]);
  EXPECT_NE(text.find("<https://a.example/@alice/1|"), std::string::npos) << text;
  EXPECT_NE(text.find("alice@a.example"), std::string::npos) << text;
  EXPECT_NE(text.find("fund-our-schools"), std::string::npos) << text;
  EXPECT_NE(text.find("Sen. Jane Doe and Rep. Rita Roe"), std::string::npos) << text;
  EXPECT_NE(text.find("&lt;b&gt;now&lt;/b&gt;"), std::string::npos) << text;  // mrkdwn-escaped

  // alertmanager: POST <base>/api/v2/alerts, an array of postable alerts.
  ASSERT_TRUE(bodies.count("/am/api/v2/alerts"));
  simdjson::dom::array am;
  ASSERT_EQ(parser.parse(bodies["/am/api/v2/alerts"]).get_array().get(am), simdjson::SUCCESS);
  ASSERT_EQ(am.size(), 1u);
  simdjson::dom::object labels = am.at(0)["labels"].get_object();
  EXPECT_EQ(Str(labels["alertname"]), "mentioned");
  EXPECT_EQ(Str(labels["rule"]), "mentioned");
  EXPECT_EQ(Str(labels["kind"]), "policymaker_mention");
  EXPECT_EQ(Str(labels["campaign"]), "fund-our-schools");
  EXPECT_EQ(Str(labels["platform"]), "mastodon");
  EXPECT_EQ(Str(labels["policymaker"]), "sen-doe,rep-roe");
  EXPECT_EQ(Str(labels["severity"]), "warning");
  simdjson::dom::object ann = am.at(0)["annotations"].get_object();
  EXPECT_FALSE(Str(ann["summary"]).empty());
  EXPECT_EQ(Str(ann["url"]), "https://a.example/@alice/1");
  EXPECT_TRUE(ParseRfc3339Ms(Str(am.at(0)["startsAt"])).has_value());

  // The alert log shows the alert delivered to all three.
  auto listed = AlertsJson(*store_, 50);
  ASSERT_TRUE(listed);
  simdjson::dom::object api;
  ASSERT_EQ(parser.parse(*listed).get_object().get(api), simdjson::SUCCESS);
  simdjson::dom::array alerts = api["alerts"].get_array();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(Str(alerts.at(0)["rule"]), "mentioned");
  EXPECT_FALSE(Str(alerts.at(0)["created_at"]).empty());
  simdjson::dom::array deliveries = alerts.at(0)["deliveries"].get_array();
  ASSERT_EQ(deliveries.size(), 3u);
  for (auto d : deliveries) EXPECT_EQ(Str(d["state"]), "delivered");
  for (const char* r : {"generic", "chat", "am"}) {
    EXPECT_EQ(AlertsTotal(metrics_, "mentioned", r, "delivered"), 1) << r;
  }
}

TEST_F(AlertsTest, ReceiverFailingThenSucceedingGetsTheAlertExactlyOnce) {
  Receiver rx;
  rx.FailNext(3, 500);
  setenv("CHORUS_TEST_FLAKY_URL", rx.Url("/hook").c_str(), 1);
  Configure({{"flaky", "json", "CHORUS_TEST_FLAKY_URL"}}, {MentionRule({"flaky"})});
  EXPECT_EQ(Ingest({MentionPost("1", SystemClock::Instance().NowMs())}), 1);
  Dispatcher().Start();
  WaitFor([&] { return rx.accepted() >= 1 && OutboxSize() == 0; });
  EXPECT_EQ(rx.accepted(), 1);
  EXPECT_EQ(OutboxSize(), 0u);
  // More passes change nothing.
  for (int i = 0; i < 3; ++i) Dispatcher().DeliverDue();
  dispatcher_->Stop();
  EXPECT_EQ(rx.requests().size(), 4u);
  EXPECT_EQ(rx.accepted(), 1);
  EXPECT_EQ(AlertsTotal(metrics_, "mentioned", "flaky", "failed"), 3);
  EXPECT_EQ(AlertsTotal(metrics_, "mentioned", "flaky", "retried"), 3);
  EXPECT_EQ(AlertsTotal(metrics_, "mentioned", "flaky", "delivered"), 1);
  EXPECT_EQ(AlertsTotal(metrics_, "mentioned", "flaky", "dropped"), 0);
  auto listed = AlertsJson(*store_, 10);
  ASSERT_TRUE(listed);
  EXPECT_NE(listed->find("\"state\":\"delivered\",\"attempts\":4"), std::string::npos) << *listed;
}

TEST_F(AlertsTest, OutboxSurvivesAStoreReopenAndIsDeliveredAfterIt) {
  Receiver rx;
  setenv("CHORUS_TEST_LATER_URL", rx.Url("/hook").c_str(), 1);
  Configure({{"later", "json", "CHORUS_TEST_LATER_URL"}}, {MentionRule({"later"})});
  EXPECT_EQ(Ingest({MentionPost("1", SystemClock::Instance().NowMs()),
                    MentionPost("2", SystemClock::Instance().NowMs())}),
            2);
  // The dispatcher stops before delivering anything; the process "restarts".
  Dispatcher();
  CloseStore();
  EXPECT_TRUE(rx.requests().empty());
  OpenStore();
  EXPECT_EQ(OutboxSize(), 2u);
  // Seeing the same posts again after the restart raises nothing new (they are known).
  EXPECT_EQ(Ingest({MentionPost("1", SystemClock::Instance().NowMs())}), 0);
  Dispatcher().Start();
  WaitFor([&] { return rx.accepted() >= 2 && OutboxSize() == 0; });
  dispatcher_->Stop();
  EXPECT_EQ(rx.accepted(), 2);
  EXPECT_EQ(rx.requests().size(), 2u);
  EXPECT_EQ(OutboxSize(), 0u);
}

TEST_F(AlertsTest, AReceiverNeverSeesTheSameAlertTwiceInOneRun) {
  Receiver rx;
  setenv("CHORUS_TEST_ONCE_URL", rx.Url("/hook").c_str(), 1);
  Configure({{"once", "json", "CHORUS_TEST_ONCE_URL"}}, {MentionRule({"once"})});
  EXPECT_EQ(Ingest({MentionPost("1", SystemClock::Instance().NowMs())}), 1);
  auto before = store_->ScanOutbox(10);
  ASSERT_TRUE(before);
  ASSERT_EQ(before->size(), 1u);
  EXPECT_EQ(Dispatcher().DeliverDue(), 1);
  EXPECT_EQ(rx.accepted(), 1);
  // As if the delete after delivery had not committed: the entry is back in the outbox.
  store::Batch again;
  again.outbox_puts[before->front().first] = before->front().second;
  ASSERT_TRUE(store_->Commit(again));
  EXPECT_EQ(Dispatcher().DeliverDue(), 0);
  EXPECT_EQ(rx.requests().size(), 1u);
  EXPECT_EQ(OutboxSize(), 0u);  // only the delete was retried
  EXPECT_EQ(AlertsTotal(metrics_, "mentioned", "once", "delivered"), 1);
}

TEST_F(AlertsTest, PostsOlderThanMaxAgeAreNotAlerted) {
  Receiver rx;
  setenv("CHORUS_TEST_AGE_URL", rx.Url("/hook").c_str(), 1);
  config::Rule rule = MentionRule({"age"});
  rule.max_age_ms = 2 * kHour;
  Configure({{"age", "json", "CHORUS_TEST_AGE_URL"}}, {rule});
  const int64_t now = SystemClock::Instance().NowMs();
  // A first backfill brings an old post and a recent one: only the recent one alerts.
  EXPECT_EQ(Ingest({MentionPost("old", now - 3 * kHour), MentionPost("new", now - kHour)}), 1);
  EXPECT_EQ(Dispatcher().DeliverDue(), 1);
  ASSERT_EQ(rx.requests().size(), 1u);
  EXPECT_NE(rx.requests()[0].body.find("statuses/new"), std::string::npos);
}

TEST_F(AlertsTest, ARejectingReceiverIsNotRetriedForever) {
  Receiver rx;
  rx.AlwaysAnswer(404);
  setenv("CHORUS_TEST_GONE_URL", rx.Url("/gone").c_str(), 1);
  Configure({{"gone", "json", "CHORUS_TEST_GONE_URL"}}, {MentionRule({"gone"})});
  EXPECT_EQ(Ingest({MentionPost("1", SystemClock::Instance().NowMs())}), 1);
  Dispatcher().Start();
  WaitFor([&] { return OutboxSize() == 0; });
  dispatcher_->Stop();
  EXPECT_EQ(OutboxSize(), 0u);
  EXPECT_EQ(rx.requests().size(), 3u);  // max_rejected_attempts
  EXPECT_EQ(AlertsTotal(metrics_, "mentioned", "gone", "failed"), 3);
  EXPECT_EQ(AlertsTotal(metrics_, "mentioned", "gone", "dropped"), 1);
  auto listed = AlertsJson(*store_, 10);
  ASSERT_TRUE(listed);
  EXPECT_NE(listed->find("\"state\":\"dropped\""), std::string::npos) << *listed;
  EXPECT_NE(listed->find("HTTP 404"), std::string::npos) << *listed;
}

TEST_F(AlertsTest, WebhookUrlsNeverAppearInLogsMetricsOrTheAlertLog) {
  Receiver rx;
  rx.AlwaysAnswer(500);
  const std::string secret = "T0SECRET/B0SECRET/xoxb-not-for-logs";
  setenv("CHORUS_TEST_SECRET_URL", rx.Url("/services/" + secret).c_str(), 1);
  // A receiver whose server is gone: connection refused, with the secret in its URL too.
  int closed_port = 0;
  {
    Receiver gone;
    closed_port = std::stoi(gone.Url("").substr(std::string("http://127.0.0.1:").size()));
  }
  setenv("CHORUS_TEST_DOWN_URL",
         ("http://127.0.0.1:" + std::to_string(closed_port) + "/services/" + secret).c_str(), 1);
  setenv("CHORUS_TEST_BAD_URL", ("ftp://" + secret).c_str(), 1);
  Configure({{"secret", "slack", "CHORUS_TEST_SECRET_URL"},
             {"down", "json", "CHORUS_TEST_DOWN_URL"},
             {"bad", "alertmanager", "CHORUS_TEST_BAD_URL"}},
            {MentionRule({"secret", "down", "bad"})});
  EXPECT_EQ(Ingest({MentionPost("1", SystemClock::Instance().NowMs())}), 3);

  SetLogLevel(LogLevel::kDebug);
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 3; ++i) {
    Dispatcher().DeliverDue();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // past the test backoff
  }
  const std::string logs = ::testing::internal::GetCapturedStderr();
  SetLogLevel(LogLevel::kInfo);

  EXPECT_GE(rx.requests().size(), 1u);
  EXPECT_NE(logs.find("receiver secret"), std::string::npos) << logs;  // named, not located
  EXPECT_EQ(logs.find("SECRET"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("/services/"), std::string::npos) << logs;
  EXPECT_EQ(metrics_.Serialize().find("SECRET"), std::string::npos);
  auto listed = AlertsJson(*store_, 10);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->find("SECRET"), std::string::npos) << *listed;
  EXPECT_EQ(listed->find(std::to_string(closed_port)), std::string::npos) << *listed;
  EXPECT_GE(AlertsTotal(metrics_, "mentioned", "down", "failed"), 1);
}

TEST_F(AlertsTest, SpikeAlertsAreCommittedOnTheirOwnAndDeliveredOnce) {
  Receiver rx;
  setenv("CHORUS_TEST_SPIKE_URL", rx.Url("/hook").c_str(), 1);
  config::Rule spike;
  spike.name = "surge";
  spike.kind = "spike";
  spike.campaign = "fund-our-schools";
  spike.window_ms = 15 * kMin;
  spike.threshold = 3;
  spike.receivers = {"spiky"};
  Configure({{"spiky", "json", "CHORUS_TEST_SPIKE_URL"}}, {spike});
  const int64_t now = SystemClock::Instance().NowMs();
  std::vector<Post> posts;
  auto post = [&](int i, int64_t created) {
    Post p = MentionPost("s" + std::to_string(i), created);
    p.mentions.clear();
    posts.push_back(p);
  };
  int n = 0;
  for (int64_t t = now - 24 * kHour; t < now - 30 * kMin; t += 30 * kMin) post(n++, t);  // 1 per 30 min
  EXPECT_FALSE(queue_->EvaluateSpikes(now)->size());
  for (int i = 0; i < 20; ++i) post(n++, now - 5 * kMin + i * 1000);  // a surge
  Ingest(posts);
  auto raised = queue_->EvaluateSpikes(now);
  ASSERT_TRUE(raised) << raised.error().ToString();
  ASSERT_EQ(raised->size(), 1u);
  EXPECT_EQ((*raised)[0].spike->count, 20);
  // The same surge a minute later: in cooldown.
  auto again = queue_->EvaluateSpikes(now + kMin);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  // A restart does not forget the cooldown either (restored from the alert log).
  CloseStore();
  OpenStore();
  again = queue_->EvaluateSpikes(now + 2 * kMin);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());

  EXPECT_EQ(Dispatcher().DeliverDue(), 1);
  ASSERT_EQ(rx.requests().size(), 1u);
  simdjson::dom::parser parser;
  simdjson::dom::object j;
  ASSERT_EQ(parser.parse(rx.requests()[0].body).get_object().get(j), simdjson::SUCCESS);
  EXPECT_EQ(Str(j["kind"]), "spike");
  EXPECT_EQ(Str(j["rule"]), "surge");
  EXPECT_EQ(Str(j["campaigns"].at(0)), "fund-our-schools");
  EXPECT_EQ(Str(j["post"]["id"]), "");
  EXPECT_EQ(j["spike"]["count"].get_int64().value(), 20);
}

TEST_F(AlertsTest, ApiAnswersNewestFirstAndRefusesBadParameters) {
  Configure({}, {MentionRule({})});  // raised and logged, delivered nowhere
  const int64_t now = SystemClock::Instance().NowMs();
  EXPECT_EQ(Ingest({MentionPost("1", now)}), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(Ingest({MentionPost("2", now)}), 0);
  auto r = AlertsApi({{"limit", "1"}}, *store_);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("statuses/2"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("statuses/1"), std::string::npos) << r.body;
  r = AlertsApi({}, *store_);
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(r.body.find("statuses/2"), r.body.find("statuses/1")) << r.body;
  for (const query::Params& bad : std::vector<query::Params>{
           {{"limit", "0"}}, {{"limit", "x"}}, {{"limit", "2000"}}, {{"since", "1"}},
           {{"limit", "1"}, {"limit", "2"}}}) {
    r = AlertsApi(bad, *store_);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.body.rfind("{\"error\":", 0), 0u) << r.body;
  }
}

TEST(AlertsApi, LimitParameter) {
  EXPECT_EQ(*ParseAlertsLimit(""), 50u);
  EXPECT_EQ(*ParseAlertsLimit("1"), 1u);
  EXPECT_EQ(*ParseAlertsLimit("1000"), 1000u);
  for (const char* bad : {"0", "1001", "-1", "ten", "5x", " 5"}) {
    auto r = ParseAlertsLimit(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace chorus::daemon
