#include "sim/platform_player.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

namespace chorus::sim {
namespace {

constexpr int64_t kSpikeJitterMs = 15'000;

const char* const kPhrases[] = {
    "Our schools need fair funding now", "Call your senator today about the budget vote",
    "Teachers deserve better, full stop", "The school funding formula leaves rural kids behind",
    "Packed hearing room this morning", "Parents & teachers together at the capitol",
};

}  // namespace

struct PlatformPlayer::Impl {
  BlueskySim& bluesky;
  XSim& x;
  RedditSim& reddit;
  PlatformPlayerOptions options;
  std::mt19937 rng;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool seeded = false;
  std::atomic<int64_t> added{0};
  std::vector<std::string> bluesky_campaign_uris;
  std::vector<uint64_t> x_campaign_ids;
  std::mt19937 spike_rng;  // apart from `rng`, so surges leave the content sequence as it was
  int64_t spike_start_ms = 0;

  Impl(BlueskySim& b, XSim& xs, RedditSim& r, PlatformPlayerOptions o)
      : bluesky(b),
        x(xs),
        reddit(r),
        options(std::move(o)),
        rng(options.seed),
        spike_rng(options.seed + 1) {}

  int Pick(int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }
  std::string Tag() { return options.hashtags[static_cast<size_t>(Pick(static_cast<int>(options.hashtags.size())))]; }
  std::string Phrase() { return kPhrases[Pick(static_cast<int>(std::size(kPhrases)))]; }

  void PostEverywhere(int64_t created_ms) {
    const std::string tag = Tag();
    const bool mention = Chance(0.12);
    const bool coalition = Chance(0.06);
    const bool respond = Chance(0.03);
    const int64_t likes = Pick(40), reposts = Pick(12), replies = Pick(6);

    BlueskySimPost bp;
    bp.author = {coalition ? options.bluesky_coalition : "voice" + std::to_string(Pick(80)) + ".bsky.social", "",
                 Pick(3000)};
    bp.created_at_ms = created_ms;
    bp.text = Phrase() + " #" + tag;
    if (mention) {
      bp.text += " @" + options.bluesky_policymaker;
      bp.mentions.push_back({options.bluesky_policymaker, "", 25'000});
    }
    bp.likes = likes;
    bp.reposts = reposts;
    bp.replies = replies;
    if (respond && !bluesky_campaign_uris.empty()) {
      BlueskySimPost reply;
      reply.author = {options.bluesky_policymaker, "", 25'000};
      reply.created_at_ms = created_ms;
      reply.text = "Thank you for speaking up. My office is listening.";
      reply.reply_parent_uri = bluesky_campaign_uris[static_cast<size_t>(Pick(static_cast<int>(bluesky_campaign_uris.size())))];
      bluesky.AddPost(reply);
      ++added;
    }
    bluesky_campaign_uris.push_back(bluesky.AddPost(bp).uri);

    XSimPost xp;
    xp.author = {coalition ? options.x_coalition : "voice" + std::to_string(Pick(80)), Pick(5000), ""};
    xp.created_at_ms = created_ms;
    xp.text = Phrase() + " #" + tag + (mention ? " @" + options.x_policymaker : "");
    xp.likes = likes;
    xp.retweets = reposts;
    xp.replies = replies;
    if (respond && !x_campaign_ids.empty()) {
      XSimPost reply;
      reply.author = {options.x_policymaker, 40'000, ""};
      reply.created_at_ms = created_ms;
      reply.text = "We hear you. More at the hearing on Thursday.";
      reply.reply_to = x_campaign_ids[static_cast<size_t>(Pick(static_cast<int>(x_campaign_ids.size())))];
      x.AddPost(reply);
      ++added;
    }
    x_campaign_ids.push_back(x.AddPost(xp).id);

    RedditSimPost rp;
    rp.author = "voice" + std::to_string(Pick(80));
    rp.created_at_ms = created_ms;
    rp.title = Phrase();
    rp.selftext = "Details in the comments. #" + tag + (mention ? " Paging u/" + options.reddit_policymaker : "");
    rp.score = likes;
    rp.num_comments = replies;
    reddit.AddPost(rp);
    added += 3;
  }

  // The live rate at `now_ms`: the base rate, times spike_factor inside a surge. Advances the
  // surge schedule as time passes it.
  double Rate(int64_t now_ms) {
    while (now_ms >= spike_start_ms + options.spike_ms) {
      const int64_t jitter =
          std::uniform_int_distribution<int64_t>(-kSpikeJitterMs, kSpikeJitterMs)(spike_rng);
      spike_start_ms += std::max<int64_t>(options.spike_every_ms + jitter, options.spike_ms + 1);
    }
    const bool surging = now_ms >= spike_start_ms && options.spike_factor > 1.0;
    return options.posts_per_second * (surging ? options.spike_factor : 1.0);
  }

  void Run() {
    std::unique_lock lock(mu);
    while (!stop) {
      const double rate = Rate(SystemClock::Instance().NowMs());
      if (rate <= 0) {  // no live posts: just wait to be stopped
        cv.wait(lock, [&] { return stop; });
        break;
      }
      const auto period =
          std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(1000.0 / rate)));
      if (cv.wait_for(lock, period, [&] { return stop; })) break;
      lock.unlock();
      PostEverywhere(SystemClock::Instance().NowMs());
      lock.lock();
    }
  }
};

PlatformPlayer::PlatformPlayer(BlueskySim& bluesky, XSim& x, RedditSim& reddit,
                               PlatformPlayerOptions options)
    : impl_(std::make_unique<Impl>(bluesky, x, reddit, std::move(options))) {}

PlatformPlayer::~PlatformPlayer() { Stop(); }

void PlatformPlayer::Start() {
  if (impl_->thread.joinable()) return;
  if (!impl_->seeded) {
    impl_->seeded = true;
    impl_->bluesky.AddActor({impl_->options.bluesky_policymaker, "", 25'000});
    impl_->bluesky.AddActor({impl_->options.bluesky_coalition, "", 4'000});
    impl_->x.AddUser({impl_->options.x_policymaker, 40'000, ""});
    impl_->x.AddUser({impl_->options.x_coalition, 6'000, ""});
    impl_->reddit.AddUser(impl_->options.reddit_policymaker);
    const int64_t now = SystemClock::Instance().NowMs();
    for (int i = 0; i < impl_->options.history_posts; ++i) {
      impl_->PostEverywhere(now - impl_->options.history_ms + impl_->options.history_ms * i /
                                                                   impl_->options.history_posts);
    }
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = false;
  }
  impl_->spike_start_ms = SystemClock::Instance().NowMs() + impl_->options.first_spike_ms;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void PlatformPlayer::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int64_t PlatformPlayer::posts_added() const { return impl_->added.load(); }

}  // namespace chorus::sim
