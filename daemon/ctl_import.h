// `chorusctl import`: ingests archived API pages (design §3, §7 "Archived pages").
//
// Every line of an input file is one complete JSON response body of the platform's search
// endpoint, exactly as the collector receives it (twarc2 JSONL is such a file for X). Each line is
// parsed with that platform's collector parser and its posts go through the same Ingester as
// polled pages, so imported posts are deduplicated by canonical key and counted exactly once, in
// the store and therefore in /metrics: importing a file twice changes nothing. A line that does
// not parse is reported as FILE:LINE and skipped; the rest of the import goes on.
//
// Several lines' posts are applied in one Ingester::ApplyPage call (one RocksDB batch), which
// amortizes the write; the outcome is the same as applying the lines one by one (a post repeated
// across the lines of one batch keeps its engagement high-water mark; a policymaker's reply finds
// the campaign post it answers in the same batch as the ingester finds one in the same page).
//
// Imported posts are not scheduled for engagement refresh (they have no source), and raise no
// alerts. The store must not be held by a running chorusd: import opens it as the primary.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "core/model.h"

namespace chorus::daemon {

struct ImportOptions {
  Platform platform = Platform::kMastodon;
  std::vector<std::string> files;
  // Mastodon writes local accounts without their domain; the domain of the server that served the
  // pages qualifies them. "" = the host of the config's Mastodon source when there is exactly one,
  // else the host of each page's own statuses (the `uri` of a status by a local account).
  std::string home_domain;
  size_t batch_posts = 100000;  // posts per ApplyPage call (at least one line per call)
  // Clock for first_seen/last_seen; the system clock when unset.
  std::function<int64_t()> now_ms;
};

struct ImportSummary {
  int64_t files = 0;
  int64_t lines = 0;          // lines read, blank ones included
  int64_t blank_lines = 0;    // ignored
  int64_t pages_ok = 0;       // lines that parsed
  int64_t lines_skipped = 0;  // lines that did not parse (reported on stderr)
  int64_t posts_seen = 0;     // posts in the pages that parsed
  int64_t new_posts = 0;      // stored and counted for the first time
  int64_t updated_posts = 0;  // already stored; engagement grew, and the growth was counted
  int64_t irrelevant_posts = 0;  // matched no campaign, policymaker or coalition member
  int64_t expired_posts = 0;     // created before storage.retention.posts: not stored
  int64_t bytes = 0;
  double seconds = 0;

  // Posts already stored (or seen earlier in this import): posts_seen minus the others.
  int64_t duplicates() const { return posts_seen - new_posts - irrelevant_posts - expired_posts; }
};

// What the import tells its caller while it runs.
struct ImportReporter {
  // A line that was skipped: "FILE:LINE: <parser error>".
  std::function<void(const std::string& message)> skipped;
  // Bytes read so far out of `total_bytes`, and posts seen so far.
  std::function<void(int64_t bytes, int64_t total_bytes, int64_t posts)> progress;
};

// Imports `options.files` into the store at config.storage.path. Fails (kNotFound) when an input
// file cannot be opened, before anything is written; (kStorage) when the store cannot be opened —
// a running chorusd holds its lock — or a write fails. Batches committed before a storage failure
// stay committed: running the import again completes it without counting anything twice.
Result<ImportSummary> ImportArchives(const config::Config& config, const ImportOptions& options,
                                     const ImportReporter& reporter = {});

// `chorusctl import` with the arguments after the command name; returns the exit status
// (0 ok, 1 failure, 2 usage error, 3 lines skipped under --strict).
int RunImportCommand(const std::vector<std::string>& args);

// The usage text of `chorusctl import`.
extern const char* const kImportUsage;

}  // namespace chorus::daemon
