// Throughput of the Mastodon parser on recorded pages (../shared/fixtures/mastodon/), on a
// synthetic full page of 40 statuses, the page size the collector asks for, and on a page shaped
// like the statuses `chorusctl import` is timed on (archive_bench). Figures and how to read them:
// docs/performance.md.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/import_status.h"
#include "collectors/mastodon_parser.h"

namespace chorus::bench {
namespace {

// Fixtures are read from the source tree so the binary runs from any directory.
std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(CHORUS_SOURCE_DIR) + "/../shared/fixtures/mastodon/" + name,
                   std::ios::binary);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A page of `n` statuses made by repeating the statuses of a recorded page: real field layout and
// sizes, more items per request. Status ids repeat, which the parser does not care about.
std::string SyntheticPage(const std::string& recorded, int n) {
  const size_t open = recorded.find('[');
  const size_t close = recorded.rfind(']');
  if (open == std::string::npos || close == std::string::npos || close <= open + 1) return "";
  const std::string inner = recorded.substr(open + 1, close - open - 1);
  auto parsed = collectors::ParseMastodonStatuses(recorded, "localhost");
  if (!parsed || parsed->empty()) return "";
  const int per_copy = static_cast<int>(parsed->size());
  // Whole copies only; callers pick n as a multiple of the recorded page's size.
  std::string page = "[";
  for (int done = 0; done < n; done += per_copy) {
    if (done > 0) page += ',';
    page += inner;
  }
  page += ']';
  return page;
}

// A page of `n` statuses shaped like those `chorusctl import` is timed on.
std::string ImportShapedPage(int n) {
  constexpr int64_t kCreatedMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  std::string out = "[";
  for (int i = 0; i < n; ++i) {
    if (i > 0) out += ',';
    AppendImportStatus(out, i, kCreatedMs + int64_t{i} * 60'000);
  }
  out += ']';
  return out;
}

void RunParse(benchmark::State& state, const std::string& body) {
  if (body.empty()) {
    state.SkipWithError(
        "fixture missing: expected ../shared/fixtures/mastodon next to the source tree");
    return;
  }
  size_t items = 0;
  for (auto _ : state) {
    auto posts = collectors::ParseMastodonStatuses(body, "mastodon.example");
    if (!posts) {
      state.SkipWithError(posts.error().ToString().c_str());
      return;
    }
    items = posts->size();
    benchmark::DoNotOptimize(posts);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * items));
  state.counters["page_bytes"] = static_cast<double>(body.size());
  state.counters["statuses"] = static_cast<double>(items);
  // CPU time per status, the unit the import budget is written in: items_per_second inverted,
  // printed with an SI prefix ("927.2ns").
  state.counters["per_status"] =
      benchmark::Counter(static_cast<double>(state.iterations() * items),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_ParseTagTimelinePage10(benchmark::State& state) {
  static const std::string body = ReadFixture("timeline_tag_limit10_page1.json");
  RunParse(state, body);
}
BENCHMARK(BM_ParseTagTimelinePage10);

void BM_ParseAccountStatuses5(benchmark::State& state) {
  static const std::string body = ReadFixture("account_statuses_limit5.json");
  RunParse(state, body);
}
BENCHMARK(BM_ParseAccountStatuses5);

void BM_ParseSyntheticPage40(benchmark::State& state) {
  static const std::string body = SyntheticPage(ReadFixture("timeline_tag_limit10_page1.json"), 40);
  RunParse(state, body);
}
BENCHMARK(BM_ParseSyntheticPage40);

void BM_ParseImportShapedPage40(benchmark::State& state) {
  static const std::string body = ImportShapedPage(40);
  RunParse(state, body);
}
BENCHMARK(BM_ParseImportShapedPage40);

// A campaign post as Mastodon renders it: paragraphs, a mention, hashtag links, entities.
constexpr const char* kTypicalContent =
    "<p>Our district is 40% short on the school funding formula again &amp; the kids pay for it. "
    "<span class=\"h-card\" translate=\"no\"><a href=\"https://gov.example/@janedoe\" "
    "class=\"u-url mention\">@<span>janedoe</span></a></span> will you vote for the amendment?</p>"
    "<p>Write to your representative today:<br />it takes two minutes &#8212; "
    "<a href=\"https://parents.example/act\" target=\"_blank\" rel=\"nofollow noopener "
    "noreferrer\" "
    "translate=\"no\"><span class=\"invisible\">https://</span><span "
    "class=\"\">parents.example/act</span>"
    "<span class=\"invisible\"></span></a></p>"
    "<p><a href=\"https://mastodon.example/tags/FundOurSchools\" class=\"mention hashtag\" "
    "rel=\"tag\">"
    "#<span>FundOurSchools</span></a> <a href=\"https://mastodon.example/tags/EdEquity\" "
    "class=\"mention hashtag\" rel=\"tag\">#<span>EdEquity</span></a></p>";

void BM_HtmlToTextTypicalStatus(benchmark::State& state) {
  const std::string html = kTypicalContent;
  for (auto _ : state) {
    std::string text = collectors::HtmlToText(html);
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * html.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_HtmlToTextTypicalStatus);

}  // namespace
}  // namespace chorus::bench

BENCHMARK_MAIN();
