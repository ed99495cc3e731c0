#include "daemon/ctl_import.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include "analytics/matcher.h"
#include "collectors/bluesky_parser.h"
#include "collectors/http_client.h"
#include "collectors/mastodon_parser.h"
#include "collectors/reddit_parser.h"
#include "collectors/x_parser.h"
#include "daemon/archive_lines.h"
#include "daemon/ctl_args.h"
#include "daemon/ctl_progress.h"
#include "ingest/ingester.h"
#include "daemon/store_options.h"
#include "store/store.h"

namespace chorus::daemon {

const char* const kImportUsage =
    "usage: chorusctl import --config FILE --platform mastodon|bluesky|x|reddit [options] FILE...\n"
    "\n"
    "Ingests archived API pages into the store at storage.path: every line of each FILE is one\n"
    "complete JSON response body of the platform's search endpoint (Mastodon tag timeline array,\n"
    "Bluesky searchPosts object, X /2/tweets/search/recent object, e.g. twarc2 JSONL, Reddit search\n"
    "Listing). Posts are deduplicated and counted exactly as polled ones; importing a file twice\n"
    "changes nothing. A line that does not parse is reported as FILE:LINE and skipped.\n"
    "chorusd must not be running on the same store (stop it first; start it again afterwards).\n"
    "\n"
    "options:\n"
    "  --home-domain D   Mastodon: the server the pages came from, which qualifies local accounts\n"
    "                    (default: the host of the config's Mastodon source, or of each page's\n"
    "                    statuses)\n"
    "  --strict          exit 3 when any line was skipped\n"
    "  --batch-posts N   posts committed per store write (default 100000)\n"
    "\n"
    "exit status: 0 done (skipped lines are listed on stderr and counted in the summary),\n"
    "  1 failure (config, input file, store in use or not writable), 2 usage error,\n"
    "  3 done but lines were skipped (--strict only)\n";

namespace {

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The home domain of a Mastodon page parsed without one: the host of the `uri` of a status whose
// author was written without a domain (a local account: its statuses live on the home server).
std::string PageHomeDomain(std::span<const Post> posts) {
  for (const Post& p : posts) {
    if (!p.author.empty() && p.author.find('@') == std::string::npos) return collectors::HostOf(p.key);
  }
  return "";
}

void QualifyLocalAccounts(std::span<Post> posts, const std::string& domain) {
  if (domain.empty()) return;
  const std::string suffix = "@" + AsciiLower(domain);
  auto qualify = [&](std::string& acct) {
    if (!acct.empty() && acct.find('@') == std::string::npos) acct += suffix;
  };
  for (Post& p : posts) {
    qualify(p.author);
    for (auto& m : p.mentions) qualify(m);
  }
}

// The domain qualifying Mastodon local accounts, from the flag or an unambiguous config; "" when
// each page has to tell.
std::string ConfiguredHomeDomain(const config::Config& config, const ImportOptions& options) {
  if (!options.home_domain.empty()) return options.home_domain;
  std::set<std::string> hosts;
  for (const auto& s : config.sources) {
    if (s.platform == Platform::kMastodon) hosts.insert(collectors::HostOf(s.base_url));
  }
  return hosts.size() == 1 ? *hosts.begin() : "";
}

class LineParser {
 public:
  LineParser(Platform platform, std::string home_domain)
      : platform_(platform), home_domain_(std::move(home_domain)) {}

  // Appends the posts of one line to `out` and returns how many; on error `out` is as it was.
  // `readable`: the bytes at line.data() that may be read (see ParseMastodonStatuses).
  Result<size_t> Append(std::string_view line, size_t readable, std::vector<Post>& out) const {
    switch (platform_) {
      case Platform::kMastodon: {  // parsed in place, straight into `out`
        const size_t before = out.size();
        auto n = collectors::AppendMastodonStatuses(line, home_domain_, readable, &out);
        if (n && home_domain_.empty()) {
          const std::span<Post> page(out.data() + before, *n);
          QualifyLocalAccounts(page, PageHomeDomain(page));
        }
        return n;
      }
      case Platform::kBluesky: {
        auto page = collectors::ParseBlueskyPosts(line);
        if (!page) return Fail(page.error());
        for (auto& bp : page->posts) out.push_back(std::move(bp.post));
        return page->posts.size();
      }
      case Platform::kX: {
        auto page = collectors::ParseXPostsPage(line);
        if (!page) return Fail(page.error());
        return MoveInto(page->posts, out);
      }
      case Platform::kReddit: {
        auto listing = collectors::ParseRedditListing(line);
        if (!listing) return Fail(listing.error());
        return MoveInto(listing->posts, out);
      }
    }
    return Fail(Error::Internal("unknown platform"));
  }

 private:
  static size_t MoveInto(std::vector<Post>& posts, std::vector<Post>& out) {
    std::move(posts.begin(), posts.end(), std::back_inserter(out));
    return posts.size();
  }

  Platform platform_;
  std::string home_domain_;
};

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

Result<ImportSummary> ImportArchives(const config::Config& config, const ImportOptions& options,
                                     const ImportReporter& reporter) {
  const auto started = std::chrono::steady_clock::now();
  ImportSummary sum;
  // Every input is checked before the store is touched, so a typo in the last file name does not
  // leave a half-done import behind.
  int64_t total_bytes = 0;
  for (const auto& f : options.files) {
    std::error_code ec;
    const auto status = std::filesystem::status(f, ec);
    if (ec || !std::filesystem::exists(status)) return Fail(Error::NotFound("cannot read " + f + ": no such file"));
    if (std::filesystem::is_directory(status)) return Fail(Error::InvalidArgument("cannot read " + f + ": is a directory"));
    // Checked without opening it: opening a named pipe would wait for its writer and then, closed
    // again, lose what it wrote.
    if (::access(f.c_str(), R_OK) != 0) {
      return Fail(Error::NotFound("cannot read " + f + ": permission denied or unreadable"));
    }
    const auto size = std::filesystem::file_size(f, ec);
    if (!ec) total_bytes += static_cast<int64_t>(size);
  }

  // Bulk mode (no write-ahead log, atomic flushes) is safe here because the import ends with
  // Flush() below and is idempotent: after a crash the store holds whole batches up to some point,
  // and running the import again stores and counts exactly the posts after it.
  store::OpenOptions open_options = StoreOptionsFor(config);
  open_options.bulk_load = true;
  auto opened = store::Store::Open(config.storage.path, open_options);
  if (!opened) {
    if (store::IsStoreInUse(opened.error())) {
      return Fail(Error::Storage("the store at " + config.storage.path +
                                 " is in use (is chorusd running on it? stop chorusd first, import, "
                                 "then start it again)"));
    }
    return Fail(opened.error());
  }
  std::unique_ptr<store::Store> store = std::move(*opened);
  ingest::Ingester ingester(*store, std::make_shared<analytics::Matcher>(config));
  ingester.SetPostRetention(config.storage.retention.posts_ms);
  if (auto r = ingester.LoadMarks(); !r) return Fail(r.error());

  const auto now = options.now_ms ? options.now_ms : std::function<int64_t()>(SystemNowMs);
  const LineParser parser(options.platform,
                          options.platform == Platform::kMastodon ? ConfiguredHomeDomain(config, options) : "");
  const size_t batch_posts = std::max<size_t>(options.batch_posts, 1);
  // The posts of several lines, committed in one ApplyPage call once there are batch_posts (room
  // for that plus a page over it). A post repeated within the batch is the ingester's to merge,
  // as it merges a repeat within one page.
  const size_t pending_capacity = batch_posts + 1'000;
  std::vector<Post> pending;
  pending.reserve(pending_capacity);
  auto flush = [&]() -> Result<void> {
    if (pending.empty()) return {};
    auto outcome = ingester.ApplyPage(std::exchange(pending, {}), {}, now());
    pending.reserve(pending_capacity);  // after the batch is freed, so its memory is reused
    if (!outcome) {
      return Fail(Error::Storage(outcome.error().message + " (" + std::to_string(sum.new_posts) +
                                 " new posts were stored before the failure; importing again "
                                 "completes the import without counting anything twice)"));
    }
    sum.new_posts += outcome->new_posts;
    sum.updated_posts += outcome->updated_posts;
    sum.irrelevant_posts += outcome->irrelevant_posts;
    sum.expired_posts += outcome->expired_posts;
    return {};
  };

  for (const auto& file : options.files) {
    auto lines = ArchiveLines::Open(file, collectors::kParsePadding);
    if (!lines) return Fail(lines.error());
    ++sum.files;
    int64_t line_no = 0;
    std::string_view line;
    size_t readable = 0;
    while ((*lines)->Next(&line, &readable)) {
      ++line_no;
      ++sum.lines;
      sum.bytes += static_cast<int64_t>(line.size()) + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (IsBlank(line)) {
        ++sum.blank_lines;
        continue;
      }
      auto appended = parser.Append(line, readable, pending);
      if (!appended) {
        ++sum.lines_skipped;
        if (reporter.skipped) {
          reporter.skipped(file + ":" + std::to_string(line_no) + ": " + appended.error().message);
        }
        continue;
      }
      ++sum.pages_ok;
      sum.posts_seen += static_cast<int64_t>(*appended);
      if (pending.size() >= batch_posts) {
        if (auto r = flush(); !r) return Fail(r.error());
      }
      if (reporter.progress) reporter.progress(std::min(sum.bytes, total_bytes), total_bytes, sum.posts_seen);
    }
    if ((*lines)->failed()) {
      return Fail(Error::Storage("cannot read " + file + " at line " + std::to_string(line_no + 1)));
    }
  }
  if (auto r = flush(); !r) return Fail(r.error());
  // Leaves SST files rather than a large write-ahead log that every later open would replay.
  if (auto r = store->Flush(); !r) return Fail(r.error());
  // And leaves them compacted: the batches' `posts` files overlap and pile up in level 0, and closing
  // now would cancel the compaction under way and hand it to chorusd's start.
  store->SettleCompactions(std::chrono::minutes(10));
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return sum;
}

namespace {

std::string FormatSummary(const ImportSummary& s) {
  std::string out = "imported " + GroupThousands(s.files) + (s.files == 1 ? " file, " : " files, ") +
                    GroupThousands(s.lines) + " lines: " + GroupThousands(s.pages_ok) + " pages ok, " +
                    GroupThousands(s.lines_skipped) + " lines skipped";
  if (s.blank_lines > 0) out += ", " + GroupThousands(s.blank_lines) + " blank";
  out += "\nposts: " + GroupThousands(s.posts_seen) + " seen, " + GroupThousands(s.new_posts) +
         " new (stored and counted), " + GroupThousands(s.duplicates()) + " duplicates (" +
         GroupThousands(s.updated_posts) + " with grown engagement, counted), " +
         GroupThousands(s.irrelevant_posts) + " matching no campaign or person, " +
         GroupThousands(s.expired_posts) + " older than storage.retention.posts";
  char rate[96];
  std::snprintf(rate, sizeof rate, "\n%.2f s, %s posts/s\n", s.seconds,
                GroupThousands(s.seconds > 0 ? static_cast<int64_t>(s.posts_seen / s.seconds) : 0).c_str());
  out += rate;
  return out;
}

}  // namespace

int RunImportCommand(const std::vector<std::string>& args) {
  auto parsed = ParseCtlArgs(args, {"--config", "--platform", "--home-domain", "--batch-posts"},
                             {"--strict", "--help", "-h"});
  if (!parsed) {
    std::cerr << "chorusctl import: " << parsed.error().message << " (see chorusctl import --help)\n";
    return 2;
  }
  if (parsed->Has("--help") || parsed->Has("-h")) {
    std::cout << kImportUsage;
    return 0;
  }
  auto usage_error = [](const std::string& m) {
    std::cerr << "chorusctl import: " << m << " (see chorusctl import --help)\n";
    return 2;
  };
  const std::string* config_path = parsed->Value("--config");
  if (!config_path) return usage_error("--config FILE is required");
  const std::string* platform_name = parsed->Value("--platform");
  if (!platform_name) return usage_error("--platform is required (mastodon, bluesky, x or reddit)");
  const auto platform = ParsePlatform(*platform_name == "twitter" ? "x" : *platform_name);
  if (!platform) {
    return usage_error("unknown platform '" + *platform_name + "' (mastodon, bluesky, x or reddit)");
  }
  if (parsed->positional.empty()) return usage_error("no FILE to import");
  ImportOptions options;
  options.platform = *platform;
  options.files = parsed->positional;
  if (const std::string* d = parsed->Value("--home-domain")) {
    if (*platform != Platform::kMastodon) return usage_error("--home-domain applies to --platform mastodon only");
    options.home_domain = *d;
  }
  if (const std::string* n = parsed->Value("--batch-posts")) {
    char* end = nullptr;
    const long long v = std::strtoll(n->c_str(), &end, 10);
    if (*end != '\0' || v < 1 || v > 1'000'000) return usage_error("--batch-posts must be a number from 1 to 1000000");
    options.batch_posts = static_cast<size_t>(v);
  }

  const auto loaded = config::LoadConfigFile(*config_path, /*check_env=*/false);
  if (!loaded.config) {
    for (const auto& p : loaded.problems) std::cerr << p.ToString() << "\n";
    std::cerr << "chorusctl import: " << *config_path << " is not a valid configuration\n";
    return 1;
  }

  ProgressLine bar("import");
  ImportReporter reporter;
  reporter.skipped = [&](const std::string& m) {
    bar.Clear();
    std::cerr << m << " (line skipped)\n";
  };
  if (bar.enabled()) {
    reporter.progress = [&](int64_t bytes, int64_t total, int64_t posts) {
      char detail[128];
      std::snprintf(detail, sizeof detail, "%.1f/%.1f MB, %s posts", bytes / 1e6, total / 1e6,
                    GroupThousands(posts).c_str());
      bar.Update(total > 0 ? static_cast<double>(bytes) / static_cast<double>(total) : 0, detail);
    };
  }
  auto summary = ImportArchives(*loaded.config, options, reporter);
  bar.Finish();
  if (!summary) {
    std::cerr << "chorusctl import: " << summary.error().message << "\n";
    return 1;
  }
  std::cout << FormatSummary(*summary) << std::flush;
  if (summary->lines_skipped > 0) {
    std::cerr << "chorusctl import: warning: " << summary->lines_skipped
              << (summary->lines_skipped == 1 ? " line was" : " lines were")
              << " skipped (listed above); the rest was imported\n";
    if (parsed->Has("--strict")) return 3;
  }
  return 0;
}

}  // namespace chorus::daemon
