// Cost of the ingest path against a real RocksDB store in a temporary directory: a page of 40 new
// posts (match, counter and series deltas, one WriteBatch), a page of 40 posts already stored (the
// dedupe read that every overlapping poll pays), a page whose engagement grew, and loading ~10k
// counters (what the daemon does at start-up). Figures: docs/performance.md.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "analytics/matcher.h"
#include "config/config.h"
#include "core/counter_key.h"
#include "core/model.h"
#include "ingest/ingester.h"
#include "store/store.h"

namespace chorus::bench {
namespace {

constexpr int kPageSize = 40;  // the collector's page_limit for Mastodon (its maximum)
constexpr int64_t kNowMs = 1'773'000'000'000;

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/chorus-bench-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The demo's campaigns: two campaigns, three hashtags, a keyword, a policymaker, a coalition
// member.
config::Config BenchConfig() {
  config::Config c;
  c.campaigns.push_back(
      {"fund-our-schools", {"fundourschools", "edequity"}, {"school funding formula"}});
  c.campaigns.push_back({"teachers-count", {"teacherscount"}, {}});
  c.policymakers.push_back(
      {"sen-doe", "Sen. Jane Doe", {{Platform::kMastodon, "janedoe@gov.example"}}});
  c.coalition.push_back(
      {"parents-united", "Parents United", {{Platform::kMastodon, "parents@edu.example"}}});
  return c;
}

// Post `i` of a campaign stream: rotating tags, every 5th mentions the policymaker, every 7th by
// the coalition member, one per minute.
Post MakePost(int64_t i) {
  static const char* const kTags[] = {"fundourschools", "edequity", "teacherscount"};
  Post p;
  p.platform = Platform::kMastodon;
  p.local_id = std::to_string(1'000'000 + i);
  p.key =
      "https://mastodon.example/users/user" + std::to_string(i % 997) + "/statuses/" + p.local_id;
  p.url = "https://mastodon.example/@user" + std::to_string(i % 997) + "/" + p.local_id;
  p.created_at_ms = kNowMs - 86'400'000 + (i % 1440) * 60'000;
  p.author =
      i % 7 == 0 ? "parents@edu.example" : "user" + std::to_string(i % 997) + "@mastodon.example";
  p.author_followers = 100 + i % 500;
  p.text =
      "Our district is short on the school funding formula again. Write to your representative "
      "today, it takes two minutes. #" +
      std::string(kTags[i % 3]);
  p.hashtags = {kTags[i % 3]};
  if (i % 4 == 0) p.hashtags.push_back(kTags[(i + 1) % 3]);
  if (i % 5 == 0) p.mentions = {"janedoe@gov.example"};
  p.engagement = {i % 13, i % 5, i % 3, 0};
  return p;
}

struct Fixture {
  TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<ingest::Ingester> ingester;

  bool Open(benchmark::State& state) {
    if (dir.path().empty()) {
      state.SkipWithError("cannot create a temporary directory");
      return false;
    }
    auto s = store::Store::Open(dir.path() + "/store");
    if (!s) {
      state.SkipWithError(s.error().ToString().c_str());
      return false;
    }
    store = std::move(*s);
    ingester = std::make_unique<ingest::Ingester>(
        *store, std::make_shared<analytics::Matcher>(BenchConfig()));
    return true;
  }
};

// Every iteration stores a page of 40 posts never seen before; the store grows as it would.
void BM_ApplyPageNewPosts(benchmark::State& state) {
  Fixture f;
  if (!f.Open(state)) return;
  std::vector<Post> page;
  for (int i = 0; i < kPageSize; ++i) page.push_back(MakePost(i));
  int64_t next = 0;
  const std::string cursor_key = store::CursorKey("bench", "tag:fundourschools");
  for (auto _ : state) {
    // Only identities and times change between pages, so building the page stays out of the
    // figure. Time moves on as in real traffic (20,000 posts a day, one every 4.32 s): counter
    // keys repeat on every page, minute series keys for a few pages.
    for (auto& p : page) {
      p.local_id = std::to_string(1'000'000 + next);
      p.key.replace(p.key.rfind('/') + 1, std::string::npos, p.local_id);
      p.created_at_ms = kNowMs - 86'400'000 + next * 4'320;
      ++next;
    }
    auto r = f.ingester->ApplyPage(page, {{cursor_key, page.front().local_id}}, kNowMs);
    if (!r || r->new_posts != kPageSize) {
      state.SkipWithError(r ? "posts were not all new" : r.error().ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPageSize));
  state.counters["pages_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ApplyPageNewPosts);

// The same 40 stored posts again, unchanged: the overlap re-read of every poll. One MultiGet, no
// write (the cursor did not move, as in daemon/source_runner.cc).
void BM_ApplyPageKnownPosts(benchmark::State& state) {
  Fixture f;
  if (!f.Open(state)) return;
  // Some history around the page, so lookups hit a store that is not trivially small.
  for (int64_t base = 0; base < 10'000; base += kPageSize) {
    std::vector<Post> filler;
    for (int i = 0; i < kPageSize; ++i) filler.push_back(MakePost(100'000 + base + i));
    if (!f.ingester->ApplyPage(filler, {}, kNowMs)) {
      state.SkipWithError("cannot fill the store");
      return;
    }
  }
  std::vector<Post> page;
  for (int i = 0; i < kPageSize; ++i) page.push_back(MakePost(i));
  if (!f.ingester->ApplyPage(page, {}, kNowMs)) {
    state.SkipWithError("cannot store the page");
    return;
  }
  for (auto _ : state) {
    auto r = f.ingester->ApplyPage(page, {}, kNowMs);
    if (!r || r->new_posts != 0 || r->updated_posts != 0) {
      state.SkipWithError(r ? "posts were not recognized as known" : r.error().ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPageSize));
}
BENCHMARK(BM_ApplyPageKnownPosts);

// The same 40 stored posts with one more like each: the engagement update path (read, rewrite
// the stored post, engagement deltas, one WriteBatch).
void BM_ApplyPageEngagementGrowth(benchmark::State& state) {
  Fixture f;
  if (!f.Open(state)) return;
  std::vector<Post> page;
  for (int i = 0; i < kPageSize; ++i) page.push_back(MakePost(i));
  if (!f.ingester->ApplyPage(page, {}, kNowMs)) {
    state.SkipWithError("cannot store the page");
    return;
  }
  for (auto _ : state) {
    for (auto& p : page) ++p.engagement.likes;
    auto r = f.ingester->ApplyPage(page, {}, kNowMs);
    if (!r || r->updated_posts != kPageSize) {
      state.SkipWithError(r ? "posts were not all updated" : r.error().ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPageSize));
}
BENCHMARK(BM_ApplyPageEngagementGrowth);

// Start-up: every counter read back and decoded from its merged value. ~10k counters is a large
// deployment (e.g. 50 campaigns x 4 platforms x 50 labels).
void BM_LoadCounters(benchmark::State& state) {
  Fixture f;
  if (!f.Open(state)) return;
  const int n = static_cast<int>(state.range(0));
  store::Batch batch;
  for (int i = 0; i < n; ++i) {
    const std::string campaign = "campaign-" + std::to_string(i % 50);
    const std::string term = "term-" + std::to_string(i / 50);
    batch.counter_deltas[CounterKey{
        ingest::kTermPostsTotal, {{"campaign", campaign}, {"term", term}, {"platform", "mastodon"}}}
                             .Encode()] = 1 + i;
  }
  // Two commits so values are merge operands over a base, as after days of ingest.
  if (!f.store->Commit(batch) || !f.store->Commit(batch)) {
    state.SkipWithError("cannot write counters");
    return;
  }
  for (auto _ : state) {
    auto counters = f.store->LoadCounters();
    if (!counters || static_cast<int>(counters->size()) != n) {
      state.SkipWithError(counters ? "wrong number of counters"
                                   : counters.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(counters);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_LoadCounters)->Arg(10'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chorus::bench

BENCHMARK_MAIN();
