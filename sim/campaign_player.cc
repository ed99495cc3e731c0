#include "sim/campaign_player.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <numbers>
#include <random>
#include <set>
#include <thread>

#include "core/time.h"

namespace chorus::sim {
namespace {

constexpr int64_t kTickMs = 100;
constexpr int64_t kWavePeriodMs = 10 * 60'000;  // the live wave: a "day" compressed for the demo
constexpr int64_t kFirstSpikeMs = 45'000;       // after Start, so a newcomer sees one early
constexpr int64_t kSpikeEveryMs = 120'000;
constexpr int64_t kSpikeJitterMs = 15'000;
constexpr int64_t kSpikeLengthMs = 20'000;
constexpr double kSpikeFactor = 5.0;
constexpr int64_t kEngagementHorizonMs = 30 * 60'000;  // posts older than this stop growing
constexpr size_t kMaxTracked = 400;
constexpr int kMaxPostsPerTick = 200;
constexpr int kPoolSize = 200;

const char* const kFirstNames[] = {
    "alice", "bob",    "carmen", "dev",  "erin",  "farah", "gus",   "hana", "ivan",  "jules",
    "kofi",  "lena",   "marco",  "nia",  "omar",  "priya", "quinn", "rosa", "sam",   "tariq",
    "uma",   "victor", "wren",   "xia",  "yusuf", "zoe",   "amara", "ben",  "chloe", "diego",
    "elif",  "finn",   "grace",  "hugo", "iris",  "jamal", "kai",   "luz",  "mina",  "noah"};
const char* const kSuffixes[] = {"",     "_teaches", "42",   "_k",    "mom",    "dad",
                                 "_edu", "writes",   "_pdx", "_ohio", "_reads", "_t"};
// Weighted toward the fediverse's big servers; "" is local to the sim.
const char* const kDomains[] = {"",
                                "",
                                "",
                                "mastodon.example",
                                "mastodon.example",
                                "social.example.org",
                                "social.example.org",
                                "toot.example.net",
                                "edu.example",
                                "mstdn.example.com"};

const char* const kCampaignTexts[] = {
    "Our kids deserve better than crumbling classrooms.",
    "Just testified at the school board meeting. Teachers & parents packed the room!",
    "Class sizes of 35 are not OK \xF0\x9F\x93\x9A",
    "Call your rep today and ask them to back the school funding bill \xE2\x9C\x8A",
    "Every child deserves a qualified teacher in front of the class.",
    "Teachers buy their own supplies & it shows.",
    "Rally at the capitol on Saturday, 10am. Bring signs!",
    "We <3 our teachers.",
    "New report: rural districts get 20% less per pupil than suburban ones.",
    "Proud of our PTA for organizing this week's letter drive \xF0\x9F\x92\xAA",
    "Counselors, nurses, librarians: schools need all of them.",
    "Fix the funding formula. It has not been updated since 1998.",
    "My daughter's school cut art & music this year. This is why we organize.",
    "Substitute shortages mean kids spend whole days in the gym. Not acceptable.",
    "Thank a teacher today, then call your legislator.",
    "Thread: what \"fully funded\" would actually mean for our district (1/4)",
};
const char* const kMentionTexts[] = {
    "please vote yes on the school funding bill.",
    "will you meet with parents & teachers this month?",
    "our schools can't wait another session.",
    "thousands of families are asking you to act on school funding.",
    "where do you stand on the funding formula?",
};
const char* const kCoalitionTexts[] = {
    "Parents coalition update: 4,000 letters delivered to the capitol today!",
    "Join our town hall on Thursday. Childcare provided & snacks for kids.",
    "Coalition statement on the budget proposal: it falls short for our students.",
    "Our volunteer phone bank starts at 6pm. Sign up via the link in our bio.",
};
const char* const kPolicymakerTexts[] = {
    "Thank you to everyone who reached out about school funding. I hear you, and I'm meeting "
    "with teachers next week.",
    "I've read your letters. Our schools need a fairer formula & I will say so in committee.",
};
struct Unrelated {
  const char* text;
  const char* tag;
};
const Unrelated kUnrelated[] = {
    {"Morning coffee and grading papers \xE2\x98\x95", "MondayMotivation"},
    {"The cat has claimed the laptop again.", "Caturday"},
    {"First tomatoes of the season!", "Gardening"},
    {"Fog over the bay this morning.", "PhotoOfTheDay"},
    {"Storm warning for the coast tonight, stay safe.", "Weather"},
};

}  // namespace

struct CampaignPlayer::Impl {
  struct Tracked {
    std::string uri;
    int64_t created_ms = 0;
    int64_t followers = 0;
    int64_t favourites = 0, reblogs = 0, replies = 0, quotes = 0;
  };

  Impl(MastodonSim& s, PlayerOptions o) : sim(s), options(std::move(o)), rng(options.seed) {
    BuildPool();
  }

  MastodonSim& sim;
  PlayerOptions options;
  std::mt19937 rng;  // used by Start() before the thread runs, then by the thread only
  std::vector<SimAccount> pool;
  std::deque<Tracked> recent;
  std::deque<std::string> mention_post_ids;  // posts the policymaker may answer
  std::atomic<int64_t> added{0};

  std::mutex lifecycle_mu;  // serializes Start/Stop
  std::mutex mu;            // guards stopping, for the condition variable
  std::condition_variable cv;
  bool stopping = false;
  bool seeded = false;
  std::thread thread;

  int64_t live_start_ms = 0;
  int64_t spike_start_ms = 0;
  double budget = 0;

  double Uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }
  bool Chance(double p) { return Uniform() < p; }
  int64_t Between(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
  }

  // A local account is stored with domain "" by the sim whatever we pass; keep it consistent here.
  SimAccount Local(SimAccount a) const {
    if (a.domain == sim.domain()) a.domain.clear();
    return a;
  }

  void BuildPool() {
    std::set<std::string> used;
    int attempts = 0;
    while (static_cast<int>(pool.size()) < kPoolSize && attempts++ < 10 * kPoolSize) {
      SimAccount a;
      a.username = std::string(Pick(kFirstNames)) + Pick(kSuffixes);
      a.domain = Pick(kDomains);
      if (!used.insert(a.username + "@" + a.domain).second) continue;
      a.followers = Between(0, 5000);
      pool.push_back(Local(a));
    }
  }

  SimAccount Policymaker() const {
    SimAccount a;
    a.username = options.policymaker_username;
    a.domain = options.policymaker_domain;
    a.followers = 24'800;
    return Local(a);
  }

  SimAccount Coalition() const {
    SimAccount a;
    a.username = options.coalition_username;
    a.domain = options.coalition_domain;
    a.followers = 3'150;
    return Local(a);
  }

  std::string Handle(const SimAccount& a) const {
    return a.domain.empty() ? "@" + a.username : "@" + a.username + "@" + a.domain;
  }

  // One or two campaign tags, the first weighted toward the campaign's main hashtag.
  std::vector<std::string> CampaignTags() {
    const auto& tags = options.hashtags;
    std::vector<double> weights;
    for (size_t i = 0; i < tags.size(); ++i) weights.push_back(1.0 / static_cast<double>(i + 1));
    std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
    std::vector<std::string> out = {tags[pick(rng)]};
    if (tags.size() > 1 && Chance(0.2)) {
      std::string second = out[0];
      while (second == out[0]) second = tags[pick(rng)];
      out.push_back(second);
    }
    return out;
  }

  static void AppendTags(SimStatus& st) {
    for (const auto& t : st.tags) st.text += " #" + t;
  }

  SimStatus MakePost(int64_t created_ms) {
    SimStatus st;
    st.created_at_ms = created_ms;
    const double roll = Uniform();
    if (options.hashtags.empty() || roll < 0.08) {  // an unrelated post the feed also carries
      const Unrelated& u = Pick(kUnrelated);
      st.account = pool[static_cast<size_t>(Between(0, static_cast<int64_t>(pool.size()) - 1))];
      st.text = u.text;
      st.tags = {u.tag};
      AppendTags(st);
      return st;
    }
    st.tags = CampaignTags();
    if (roll < 0.09 && !mention_post_ids.empty()) {  // the policymaker answers a mention
      st.account = Policymaker();
      st.in_reply_to_id = mention_post_ids.back();
      mention_post_ids.pop_back();
      st.text = Pick(kPolicymakerTexts);
      st.tags.resize(1);
    } else if (roll < 0.14) {
      st.account = Coalition();
      st.text = Pick(kCoalitionTexts);
    } else {
      st.account = pool[static_cast<size_t>(Between(0, static_cast<int64_t>(pool.size()) - 1))];
      if (roll < 0.24) {
        const SimAccount pm = Policymaker();
        st.mentions = {pm};
        st.text = Handle(pm) + " " + Pick(kMentionTexts);
      } else {
        st.text = Pick(kCampaignTexts);
      }
    }
    AppendTags(st);
    return st;
  }

  void Add(SimStatus st, int64_t now_ms) {
    const bool mentions_pm = !st.mentions.empty();
    const int64_t followers = st.account.followers;
    const SimStatus stored = sim.AddStatus(std::move(st));
    added.fetch_add(1);
    if (mentions_pm) {
      mention_post_ids.push_back(std::to_string(stored.id));
      if (mention_post_ids.size() > 50) mention_post_ids.pop_front();
    }
    if (now_ms - stored.created_at_ms < kEngagementHorizonMs) {
      recent.push_back({stored.uri, stored.created_at_ms, followers, stored.favourites,
                        stored.reblogs, stored.replies, stored.quotes});
      if (recent.size() > kMaxTracked) recent.pop_front();
    }
  }

  // Daily wave for the seeded history: busiest mid-afternoon UTC, quiet at night.
  static double DailyDensity(int64_t t_ms) {
    const double day =
        static_cast<double>(((t_ms % 86'400'000) + 86'400'000) % 86'400'000) / 86'400'000.0;
    return 0.55 + 0.45 * std::sin(2 * std::numbers::pi * (day - 0.375));
  }

  void SeedHistory(int64_t now_ms) {
    if (options.history_posts <= 0 || options.history_ms <= 0) return;
    std::vector<int64_t> times;
    times.reserve(static_cast<size_t>(options.history_posts));
    for (int i = 0; i < options.history_posts; ++i) {
      int64_t t = now_ms - Between(1, options.history_ms);
      for (int tries = 0; tries < 100 && !Chance(DailyDensity(t)); ++tries) {
        t = now_ms - Between(1, options.history_ms);
      }
      times.push_back(t);
    }
    std::sort(times.begin(), times.end());
    for (const int64_t t : times) {
      SimStatus st = MakePost(t);
      // Older posts have had time to collect engagement; bigger accounts collect more.
      const double age = std::min(1.0, static_cast<double>(now_ms - t) / 3'600'000.0);
      const double reach = 2.0 + static_cast<double>(st.account.followers) / 300.0;
      st.favourites = static_cast<int64_t>(reach * age * Uniform() * 3);
      st.reblogs = static_cast<int64_t>(static_cast<double>(st.favourites) * Uniform() * 0.4);
      st.replies = static_cast<int64_t>(static_cast<double>(st.favourites) * Uniform() * 0.2);
      st.quotes = Chance(0.05) ? 1 : 0;
      Add(std::move(st), now_ms);
    }
  }

  double Rate(int64_t now_ms) {
    const double phase =
        static_cast<double>((now_ms - live_start_ms) % kWavePeriodMs) / kWavePeriodMs;
    double rate = options.posts_per_second * (1.0 + 0.5 * std::sin(2 * std::numbers::pi * phase));
    while (now_ms >= spike_start_ms + kSpikeLengthMs) {
      spike_start_ms += kSpikeEveryMs + Between(-kSpikeJitterMs, kSpikeJitterMs);
    }
    if (now_ms >= spike_start_ms && now_ms < spike_start_ms + kSpikeLengthMs) {
      rate *= kSpikeFactor;
    }
    return rate;
  }

  void GrowEngagement(int64_t now_ms) {
    while (!recent.empty() && now_ms - recent.front().created_ms > kEngagementHorizonMs) {
      recent.pop_front();
    }
    if (recent.empty()) return;
    const size_t touches = std::min<size_t>(recent.size(), 2 + recent.size() / 25);
    for (size_t i = 0; i < touches; ++i) {
      Tracked& p = recent[static_cast<size_t>(Between(0, static_cast<int64_t>(recent.size()) - 1))];
      const double age_min = static_cast<double>(now_ms - p.created_ms) / 60'000.0;
      const double heat =
          std::exp(-age_min / 10.0) * (1.0 + static_cast<double>(p.followers) / 1000.0);
      if (!Chance(std::min(1.0, heat))) continue;
      p.favourites += Between(1, 3);
      if (Chance(0.4)) p.reblogs += 1;
      if (Chance(0.2)) p.replies += 1;
      if (Chance(0.03)) p.quotes += 1;
      sim.SetEngagement(p.uri, p.favourites, p.reblogs, p.replies, p.quotes);
    }
  }

  void Run() {
    int64_t last_ms = SystemClock::Instance().NowMs();
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      cv.wait_for(lock, std::chrono::milliseconds(kTickMs), [this] { return stopping; });
      if (stopping) break;
      lock.unlock();
      const int64_t now_ms = SystemClock::Instance().NowMs();
      const int64_t dt = std::clamp<int64_t>(now_ms - last_ms, 0, 10 * kTickMs);
      last_ms = now_ms;
      budget += Rate(now_ms) * static_cast<double>(dt) / 1000.0;
      for (int n = 0; budget >= 1.0 && n < kMaxPostsPerTick; ++n) {
        budget -= 1.0;
        int64_t created = now_ms;
        if (Chance(0.05)) created -= Between(60'000, 600'000);  // federated late
        Add(MakePost(created), now_ms);
      }
      budget = std::min(budget, 1.0);
      GrowEngagement(now_ms);
      lock.lock();
    }
  }
};

CampaignPlayer::CampaignPlayer(MastodonSim& sim, PlayerOptions options)
    : impl_(std::make_unique<Impl>(sim, std::move(options))) {}

CampaignPlayer::~CampaignPlayer() { Stop(); }

void CampaignPlayer::Start() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lifecycle(m.lifecycle_mu);
  if (m.thread.joinable()) return;
  const int64_t now = SystemClock::Instance().NowMs();
  if (!m.seeded) {
    m.seeded = true;
    m.SeedHistory(now);
  }
  m.live_start_ms = now;
  m.spike_start_ms = now + kFirstSpikeMs;
  m.budget = 0;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.stopping = false;
  }
  m.thread = std::thread([&m] { m.Run(); });
}

void CampaignPlayer::Stop() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lifecycle(m.lifecycle_mu);
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.stopping = true;
  }
  m.cv.notify_all();
  if (m.thread.joinable()) m.thread.join();
}

int64_t CampaignPlayer::posts_added() const { return impl_->added.load(); }

}  // namespace chorus::sim
