// Several real chorusd sharing one watch list (config `shard`, design §9) against one simulated
// Mastodon: each hashtag's timeline is polled by exactly one daemon, and together they store every
// post. Each daemon reaches the simulator through its own recording proxy, which is how the test
// sees who asked for what. Loopback only; every wait is bounded.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/time.h"
#include "daemon/source_runner.h"
#include "sim/loopback_server.h"
#include "sim/mastodon_sim.h"
#include "tests/testlib/process.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {
namespace {

using std::chrono::seconds;

// Eight tags: with source name "sim" and two shards, six fall on shard 0 and two on shard 1.
const std::vector<std::string> kTags = {"fundourschools", "edequity",     "teacherscount",
                                        "smallerclasses", "freelunch",    "busroutes",
                                        "artsmatter",     "nurseinschool"};
constexpr int kPostsPerTag = 5;
const std::string kTimelinePrefix = "/api/v1/timelines/tag/";

// Forwards every GET to the simulator unchanged and remembers the paths asked for.
class RecordingProxy {
 public:
  explicit RecordingProxy(int upstream_port) : upstream_port_(upstream_port) {
    auto server = std::make_unique<httplib::Server>();
    server->Get(".*",
                [this](const httplib::Request& req, httplib::Response& res) { Forward(req, res); });
    if (auto r = loopback_.Start(std::move(server), 0, "recording proxy"); !r) {
      ADD_FAILURE() << r.error().ToString();
    }
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(loopback_.port()); }

  // How many times each hashtag's timeline was requested.
  std::map<std::string, int> timeline_requests() const {
    std::lock_guard lock(mu_);
    std::map<std::string, int> out;
    for (const auto& path : paths_) {
      if (path.rfind(kTimelinePrefix, 0) == 0) ++out[path.substr(kTimelinePrefix.size())];
    }
    return out;
  }

 private:
  void Forward(const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(mu_);
      paths_.push_back(req.path);
    }
    httplib::Client upstream("127.0.0.1", upstream_port_);
    upstream.set_url_encode(false);  // req.target is already encoded as the daemon sent it
    upstream.set_connection_timeout(2);
    upstream.set_read_timeout(5);
    httplib::Headers headers;
    for (const auto& [name, value] : req.headers) {
      if (name == "Authorization" || name == "User-Agent" || name == "Accept")
        headers.emplace(name, value);
    }
    auto r = upstream.Get(req.target, headers);
    if (!r) {
      res.status = 502;
      res.set_content("proxy: simulator unreachable", "text/plain");
      return;
    }
    res.status = r->status;
    static const std::set<std::string> kHopByHop = {"Content-Length",    "Content-Type",
                                                    "Transfer-Encoding", "Connection",
                                                    "Keep-Alive",        "Content-Encoding"};
    for (const auto& [name, value] : r->headers) {
      if (kHopByHop.count(name) == 0) res.headers.emplace(name, value);
    }
    res.set_content(r->body, r->get_header_value("Content-Type").c_str());
  }

  const int upstream_port_;
  mutable std::mutex mu_;
  std::vector<std::string> paths_;
  sim::LoopbackServer loopback_;  // last: stops serving before the members above go away
};

// One chorusd with its own store, port and proxy.
class ShardDaemon {
 public:
  ShardDaemon(const std::string& dir, int index, int upstream_port)
      : dir_(dir + "/d" + std::to_string(index)), proxy_(upstream_port), port_(FreePort()) {
    std::filesystem::create_directories(dir_);
  }
  ~ShardDaemon() {
    if (proc_) {
      proc_->Signal(SIGKILL);
      proc_->Wait(seconds(10));
    }
  }

  // `shard_yaml` is the top-level shard block ("" for none).
  void WriteConfig(const std::string& shard_yaml) {
    std::string tags;
    for (const auto& t : kTags) tags += (tags.empty() ? "" : ", ") + t;
    std::ofstream(config_path(), std::ios::trunc)
        << "storage:\n  path: " << dir_ << "/store\n"
        << "http:\n  listen: \"127.0.0.1:" << port_ << "\"\n"
        << shard_yaml
        << "sources:\n"
           "  - name: sim\n"
           "    platform: mastodon\n"
           "    base_url: "
        << proxy_.base_url() << "\n"
        << "    poll_interval: 200ms\n"
           "    backfill: 24h\n"
           "    timeout: 2s\n"
           "campaigns:\n"
           "  - name: schools\n"
           "    hashtags: ["
        << tags << "]\n";
  }

  void Start() {
    proc_ = std::make_unique<Process>(
        std::vector<std::string>{BinPath("chorusd"), "--config", config_path()}, log_path());
    ASSERT_TRUE(WaitFor([&] { return HttpGet(port_, "/readyz", 1).status == 200; }, seconds(20)))
        << "chorusd did not become ready; log:\n"
        << log();
  }

  double Term(const std::string& tag) {
    return MetricSum(Metrics(), "chorus_term_posts_total", {"term=\"" + tag + "\""});
  }
  std::map<std::string, double> Metrics() { return ParseMetrics(HttpGet(port_, "/metrics").body); }
  std::string log() const { return ReadFile(log_path()); }
  RecordingProxy& proxy() { return proxy_; }
  Process* process() { return proc_.get(); }

 private:
  std::string config_path() const { return dir_ + "/chorus.yml"; }
  std::string log_path() const { return dir_ + "/chorusd.log"; }

  std::string dir_;
  RecordingProxy proxy_;
  int port_;
  std::unique_ptr<Process> proc_;
};

// Fills the simulator with kPostsPerTag recent posts per tag, each carrying one tag.
void AddPosts(sim::MastodonSim& sim) {
  const int64_t now = SystemClock::Instance().NowMs();
  int n = 0;
  for (const auto& tag : kTags) {
    for (int i = 0; i < kPostsPerTag; ++i, ++n) {
      sim::SimStatus s;
      s.created_at_ms = now - 60'000 - n * 7'000;
      s.account = {"user" + std::to_string(n), "remote.example", 10};
      s.text = "post #" + tag;
      s.tags = {tag};
      sim.AddStatus(s);
    }
  }
}

// The tags whose queries shard `index` of `total` owns, by the daemon's own partition function.
std::set<std::string> Owned(int index, int total) {
  std::set<std::string> out;
  for (const auto& t : kTags) {
    if (daemon::ShardPolls(config::Shard{index, total}, "sim", "tag:" + t)) out.insert(t);
  }
  return out;
}

TEST(Shard, TwoDaemonsSplitTheHashtagsAndTogetherStoreEveryPost) {
  // The split must leave both daemons something to do, or the test would prove little.
  const std::set<std::string> owned[2] = {Owned(0, 2), Owned(1, 2)};
  ASSERT_FALSE(owned[0].empty());
  ASSERT_FALSE(owned[1].empty());

  sim::MastodonSim sim;
  ASSERT_TRUE(sim.Start());
  AddPosts(sim);
  TempDir dir;
  ShardDaemon d0(dir.path(), 0, sim.port()), d1(dir.path(), 1, sim.port());
  ShardDaemon* daemons[2] = {&d0, &d1};
  for (int i = 0; i < 2; ++i) {
    daemons[i]->WriteConfig("shard: {index: " + std::to_string(i) + ", total: 2}\n");
    ASSERT_NO_FATAL_FAILURE(daemons[i]->Start());
  }

  // Every tag's posts are stored once, by one daemon or the other.
  auto stored = [&](const std::string& tag) { return d0.Term(tag) + d1.Term(tag); };
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& t : kTags) {
          if (stored(t) != kPostsPerTag) return false;
        }
        return true;
      },
      seconds(40)))
      << "d0 log:\n"
      << d0.log() << "\nd1 log:\n"
      << d1.log();
  // Several polls later, the other daemon has still never asked for a tag it does not own.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 2; ++i) {
          const auto requests = daemons[i]->proxy().timeline_requests();
          for (const auto& t : owned[i]) {
            auto it = requests.find(t);
            if (it == requests.end() || it->second < 3) return false;
          }
        }
        return true;
      },
      seconds(30)));

  const std::map<std::string, int> requests[2] = {d0.proxy().timeline_requests(),
                                                  d1.proxy().timeline_requests()};
  for (const auto& t : kTags) {
    const bool asked0 = requests[0].count(t) > 0, asked1 = requests[1].count(t) > 0;
    EXPECT_NE(asked0, asked1) << "#" << t << " was requested by "
                              << (asked0 ? "both daemons" : "neither daemon");
    for (int i = 0; i < 2; ++i) {
      const bool owns = owned[i].count(t) > 0;
      EXPECT_EQ(requests[i].count(t) > 0, owns) << "#" << t << " daemon " << i;
      // A daemon stores only what it polled: the other shard's tags stay at 0 in its store.
      EXPECT_EQ(daemons[i]->Term(t), owns ? kPostsPerTag : 0) << "#" << t << " daemon " << i;
    }
  }

  // Together they stored every post the simulator served, each once.
  const int total_posts = static_cast<int>(kTags.size()) * kPostsPerTag;
  EXPECT_EQ(static_cast<int>(sim.served_uris().size()), total_posts);
  const auto m0 = d0.Metrics(), m1 = d1.Metrics();
  EXPECT_EQ(MetricSum(m0, "chorus_posts_total") + MetricSum(m1, "chorus_posts_total"), total_posts);

  // What each daemon polls is visible in its metrics and its log.
  EXPECT_EQ(MetricSum(m0, "chorus_source_queries", {"source=\"sim\""}),
            static_cast<double>(owned[0].size()));
  EXPECT_EQ(MetricSum(m1, "chorus_source_queries", {"source=\"sim\""}),
            static_cast<double>(owned[1].size()));
  for (int i = 0; i < 2; ++i) {
    const std::string line = "source sim: shard " + std::to_string(i) + "/2 polls " +
                             std::to_string(owned[i].size()) + " of " +
                             std::to_string(kTags.size()) + " queries";
    EXPECT_NE(daemons[i]->log().find(line), std::string::npos) << line << "\n" << daemons[i]->log();
  }
}

TEST(Shard, AChangedShardAppliesOnReload) {
  sim::MastodonSim sim;
  ASSERT_TRUE(sim.Start());
  AddPosts(sim);
  TempDir dir;
  ShardDaemon d(dir.path(), 1, sim.port());
  d.WriteConfig("shard: {index: 1, total: 2}\n");
  ASSERT_NO_FATAL_FAILURE(d.Start());
  const std::set<std::string> owned = Owned(1, 2);
  ASSERT_LT(owned.size(), kTags.size());
  ASSERT_TRUE(WaitFor(
      [&] {
        return MetricSum(d.Metrics(), "chorus_posts_total") ==
               static_cast<double>(owned.size() * kPostsPerTag);
      },
      seconds(30)))
      << d.log();
  EXPECT_EQ(MetricSum(d.Metrics(), "chorus_source_queries", {"source=\"sim\""}),
            static_cast<double>(owned.size()));

  // The other daemon is retired: this one takes the whole watch list without a restart.
  d.WriteConfig("");
  ASSERT_TRUE(d.process()->Signal(SIGHUP));
  const int total_posts = static_cast<int>(kTags.size()) * kPostsPerTag;
  ASSERT_TRUE(WaitFor([&] { return MetricSum(d.Metrics(), "chorus_posts_total") == total_posts; },
                      seconds(30)))
      << d.log();
  EXPECT_EQ(MetricSum(d.Metrics(), "chorus_source_queries", {"source=\"sim\""}),
            static_cast<double>(kTags.size()));
  const auto requests = d.proxy().timeline_requests();
  for (const auto& t : kTags) EXPECT_GT(requests.count(t), 0u) << "#" << t;
  EXPECT_NE(d.log().find("reload: configuration applied"), std::string::npos) << d.log();
  EXPECT_TRUE(d.process()->running());
}

}  // namespace
}  // namespace chorus::testing
