// The Mastodon status `chorusctl import` is benchmarked on: archive_bench writes its archive of
// these, and parser_bench parses a page of them, so that its per-status figure is the parse share
// of the import's budget.
#pragma once

#include <cstdint>
#include <string>

#include "core/time.h"

namespace chorus::bench {

// Authors the statuses cycle through (every 7th status is the coalition member's).
inline constexpr int kImportAuthors = 20'000;

// Appends status `i`, created at `created_ms`, as Mastodon serializes it (~1.06 KB: the fields
// the parser reads, plus the usual others): a hashtag link, a mention of the policymaker every
// 5th status.
inline void AppendImportStatus(std::string& out, int64_t i, int64_t created_ms) {
  static const char* const kTags[] = {"FundOurSchools", "EdEquity", "TeachersCount"};
  const char* tag = kTags[i % 3];
  const int64_t id = (created_ms << 16) | (i & 0xffff);
  const std::string ids = std::to_string(id);
  const bool coalition = i % 7 == 0;
  const std::string author = coalition ? "parents@edu.example" : "user" + std::to_string(i % kImportAuthors) + "@social.example";
  const std::string user = author.substr(0, author.find('@'));
  const std::string domain = author.substr(author.find('@') + 1);
  const std::string uri = "https://" + domain + "/users/" + user + "/statuses/" + ids;
  out += "{\"id\":\"" + ids + "\",\"created_at\":\"" + FormatRfc3339Ms(created_ms) +
         "\",\"in_reply_to_id\":null,\"in_reply_to_account_id\":null,\"sensitive\":false,"
         "\"spoiler_text\":\"\",\"visibility\":\"public\",\"language\":\"en\",\"uri\":\"" + uri +
         "\",\"url\":\"https://" + domain + "/@" + user + "/" + ids + "\",\"replies_count\":" +
         std::to_string(i % 4) + ",\"reblogs_count\":" + std::to_string(i % 5) +
         ",\"favourites_count\":" + std::to_string(i % 11) +
         ",\"edited_at\":null,\"content\":\"<p>Day " + std::to_string(i % 30) +
         " of the campaign: our schools need a fair school funding formula. <a href=\\\"https://" + domain +
         "/tags/" + tag + "\\\" class=\\\"mention hashtag\\\" rel=\\\"tag\\\">#<span>" + tag + "</span></a>";
  if (i % 5 == 0) {
    out += " <span class=\\\"h-card\\\"><a href=\\\"https://gov.example/@janedoe\\\" class=\\\"u-url mention\\\">"
           "@<span>janedoe</span></a></span>";
  }
  out += "</p>\",\"reblog\":null,\"account\":{\"id\":\"" + std::to_string(100000 + i % kImportAuthors) +
         "\",\"username\":\"" + user + "\",\"acct\":\"" + author + "\",\"display_name\":\"" + user +
         "\",\"locked\":false,\"bot\":false,\"created_at\":\"2022-01-01T00:00:00.000Z\",\"followers_count\":" +
         std::to_string(10 + i % 500) + ",\"following_count\":12,\"statuses_count\":345},"
         "\"media_attachments\":[],\"mentions\":[";
  if (i % 5 == 0) {
    out += "{\"id\":\"42\",\"username\":\"janedoe\",\"url\":\"https://gov.example/@janedoe\",\"acct\":\"janedoe@gov.example\"}";
  }
  out += "],\"tags\":[{\"name\":\"" + std::string(tag) + "\",\"url\":\"https://" + domain + "/tags/" + tag +
         "\"}],\"emojis\":[],\"card\":null,\"poll\":null}";
}

}  // namespace chorus::bench
