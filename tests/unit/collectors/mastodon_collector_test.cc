// The Mastodon collector's paging and cursor logic, against a scripted transport.
#include "collectors/mastodon_collector.h"

#include <gtest/gtest.h>

#include <deque>

#include "collectors/mastodon_parser.h"
#include "core/time.h"

namespace chorus::collectors {
namespace {

// Answers GETs from a script and records what was asked.
class ScriptedTransport : public HttpTransport {
 public:
  struct State {
    std::deque<HttpResponse> replies;
    std::vector<std::string> paths;
  };
  explicit ScriptedTransport(std::shared_ptr<State> s) : s_(std::move(s)) {}
  Result<HttpResponse> Get(const std::string& path, const HeaderList&) override {
    s_->paths.push_back(path);
    if (s_->replies.empty()) return Fail(Error::Unavailable("no scripted reply"));
    HttpResponse r = std::move(s_->replies.front());
    s_->replies.pop_front();
    return r;
  }
  Result<HttpResponse> Post(const std::string&, const HeaderList&, const std::string&,
                            const std::string&) override {
    return Fail(Error::Unavailable("unexpected POST"));
  }

 private:
  std::shared_ptr<State> s_;
};

constexpr int64_t kNow = 1'773'151'500'000;  // 2026-03-10T14:05:00Z

std::string Status(uint64_t id, const std::string& tag) {
  return R"({"id":")" + std::to_string(id) + R"(","uri":"https://a.example/s/)" + std::to_string(id) +
         R"(","url":null,"created_at":")" + FormatRfc3339Ms(MastodonTimeMsFromId(id)) +
         R"(","content":"<p>x</p>","spoiler_text":"","in_reply_to_id":null,"reblog":null,)"
         R"("account":{"id":"1","acct":"alice","followers_count":5},"mentions":[],)"
         R"("tags":[{"name":")" + tag + R"(","url":"u"}],"replies_count":0,"reblogs_count":0,"favourites_count":0})";
}

HttpResponse Page(const std::vector<uint64_t>& ids_desc, int remaining = 299) {
  HttpResponse r;
  r.status = 200;
  r.body = "[";
  for (size_t i = 0; i < ids_desc.size(); ++i) r.body += (i ? "," : "") + Status(ids_desc[i], "edequity");
  r.body += "]";
  r.headers["x-ratelimit-limit"] = "300";
  r.headers["x-ratelimit-remaining"] = std::to_string(remaining);
  r.headers["x-ratelimit-reset"] = "2026-03-10T14:10:00.000000Z";
  return r;
}

uint64_t IdAt(int64_t ms, int seq = 0) { return MastodonIdFromTimeMs(ms) + static_cast<uint64_t>(seq); }

std::string MinIdOf(const std::string& path) {
  const size_t p = path.find("min_id=");
  return p == std::string::npos ? "" : path.substr(p + 7, path.find('&', p) - p - 7);
}

class MastodonCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.name = "m";
    source_.base_url = "https://mastodon.example";
    source_.page_limit = 2;
    source_.backfill_ms = 3'600'000;
    source_.overlap_ms = 600'000;
    config_.campaigns.push_back({"c", {"edequity"}, {}});
    auto c = MakeMastodonCollector(source_, config_, std::make_unique<ScriptedTransport>(state_));
    ASSERT_TRUE(c);
    collector_ = std::move(*c);
  }
  config::Source source_;
  config::Config config_;
  std::shared_ptr<ScriptedTransport::State> state_ = std::make_shared<ScriptedTransport::State>();
  std::unique_ptr<Collector> collector_;
};

TEST_F(MastodonCollectorTest, OneQueryPerHashtagWithStableKeys) {
  ASSERT_EQ(collector_->queries().size(), 1u);
  EXPECT_EQ(collector_->queries()[0].key, "tag:edequity");
  EXPECT_EQ(collector_->refresh_batch_limit(), 40u);
}

TEST_F(MastodonCollectorTest, FirstPollBackfillsForwardPageByPageThenOverlaps) {
  const auto& q = collector_->queries()[0];
  const uint64_t a = IdAt(kNow - 50 * 60'000), b = IdAt(kNow - 40 * 60'000), c = IdAt(kNow - 5 * 60'000);
  state_->replies.push_back(Page({b, a}));  // full page (limit 2): more may follow
  state_->replies.push_back(Page({c}));     // short page: the poll is complete

  FetchResult p1 = collector_->FetchPage(q, {"", "", kNow});
  ASSERT_FALSE(p1.error) << p1.error->ToString();
  EXPECT_EQ(MinIdOf(state_->paths[0]), std::to_string(MastodonIdFromTimeMs(kNow - 3'600'000)));
  EXPECT_NE(state_->paths[0].find("/api/v1/timelines/tag/edequity?limit=2"), std::string::npos);
  EXPECT_EQ(p1.posts.size(), 2u);
  EXPECT_EQ(p1.next_page_token, std::to_string(b));
  // The cursor committed with page 1 records where an interrupted poll resumes.
  EXPECT_EQ(p1.cursor, std::to_string(b) + "/" + std::to_string(b));
  EXPECT_EQ(*p1.rate.remaining, 299);

  FetchResult p2 = collector_->FetchPage(q, {p1.cursor, p1.next_page_token, kNow});
  ASSERT_FALSE(p2.error);
  EXPECT_EQ(MinIdOf(state_->paths[1]), std::to_string(b));
  EXPECT_TRUE(p2.next_page_token.empty());
  EXPECT_EQ(p2.cursor, std::to_string(c));

  // The next poll starts `overlap` before the newest post seen, to catch late federation.
  state_->replies.push_back(Page({}));
  FetchResult p3 = collector_->FetchPage(q, {p2.cursor, "", kNow + 60'000});
  ASSERT_FALSE(p3.error);
  EXPECT_EQ(MinIdOf(state_->paths[2]), std::to_string(MastodonIdFromTimeMs(kNow - 5 * 60'000 - 600'000)));
  EXPECT_EQ(p3.cursor, std::to_string(c));
}

TEST_F(MastodonCollectorTest, AnInterruptedPollResumesFromItsLastCommittedPage) {
  const auto& q = collector_->queries()[0];
  const uint64_t b = IdAt(kNow - 40 * 60'000);
  const std::string interrupted = std::to_string(b) + "/" + std::to_string(b);
  state_->replies.push_back(Page({}));
  FetchResult r = collector_->FetchPage(q, {interrupted, "", kNow});
  ASSERT_FALSE(r.error);
  EXPECT_EQ(MinIdOf(state_->paths[0]), std::to_string(b));
  EXPECT_EQ(r.cursor, std::to_string(b));  // the poll completed: nothing to resume
}

TEST_F(MastodonCollectorTest, ErrorsAreClassifiedAndNeverAdvanceTheCursor) {
  const auto& q = collector_->queries()[0];
  HttpResponse too_many = Page({}, 0);
  too_many.status = 429;
  too_many.body = R"({"error":"Too many requests"})";
  HttpResponse unauthorized;
  unauthorized.status = 401;
  unauthorized.body = R"({"error":"The access token is invalid"})";
  HttpResponse broken = Page({IdAt(kNow)});
  broken.body.resize(broken.body.size() / 2);
  HttpResponse unknown_tag;
  unknown_tag.status = 404;
  unknown_tag.body = R"({"error":"Record not found"})";
  for (auto* r : {&too_many, &unauthorized, &broken, &unknown_tag}) state_->replies.push_back(*r);

  FetchResult a = collector_->FetchPage(q, {"7", "", kNow});
  ASSERT_TRUE(a.error);
  EXPECT_EQ(a.error->code, ErrorCode::kRateLimited);
  EXPECT_EQ(*a.rate.reset_at_ms, *ParseRfc3339Ms("2026-03-10T14:10:00Z"));
  EXPECT_TRUE(a.cursor.empty());
  FetchResult b = collector_->FetchPage(q, {"7", "", kNow});
  EXPECT_EQ(b.error->code, ErrorCode::kUnauthenticated);
  FetchResult c = collector_->FetchPage(q, {"7", "", kNow});
  EXPECT_EQ(c.error->code, ErrorCode::kParse);
  EXPECT_TRUE(c.posts.empty());
  EXPECT_TRUE(c.cursor.empty());
  FetchResult d = collector_->FetchPage(q, {"7", "", kNow});  // docs: unknown tag is 404
  EXPECT_FALSE(d.error);
  EXPECT_EQ(d.cursor, "7");
  FetchResult e = collector_->FetchPage(q, {"7", "", kNow});  // no reply at all
  EXPECT_EQ(e.error->code, ErrorCode::kUnavailable);
  EXPECT_EQ(e.http_status, 0);
}

TEST(MastodonCursor, RoundTrips) {
  EXPECT_EQ(FormatMastodonCursor({42, 0}), "42");
  EXPECT_EQ(FormatMastodonCursor({42, 40}), "42/40");
  EXPECT_EQ(ParseMastodonCursor("42/40").resume_min_id, 40u);
  EXPECT_EQ(ParseMastodonCursor("42").newest_id, 42u);
  EXPECT_EQ(ParseMastodonCursor("").newest_id, 0u);
  EXPECT_EQ(ParseMastodonCursor("garbage").newest_id, 0u);
}

}  // namespace
}  // namespace chorus::collectors
