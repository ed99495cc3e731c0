#include "ingest/ingester.h"

#include <gtest/gtest.h>

#include "core/counter_key.h"
#include "tests/testlib/test_util.h"

namespace chorus::ingest {
namespace {

config::Config TestConfig() {
  config::Config c;
  c.campaigns.push_back({"fund-our-schools", {"fundourschools", "edequity"}, {}});
  c.campaigns.push_back({"teachers-count", {"teacherscount"}, {}});
  c.policymakers.push_back({"sen-doe", "Sen. Jane Doe", {{Platform::kMastodon, "janedoe@gov.example"}}});
  c.coalition.push_back({"parents-united", "Parents United", {{Platform::kMastodon, "parents@edu.example"}}});
  return c;
}

Post MakePost(const std::string& key, std::vector<std::string> tags, Engagement e = {}, int64_t followers = 100) {
  Post p;
  p.platform = Platform::kMastodon;
  p.key = key;
  p.local_id = "1";
  p.created_at_ms = 1773151500000;  // 2026-03-10T14:05:00Z
  p.author = "alice@a.example";
  p.author_followers = followers;
  p.hashtags = std::move(tags);
  p.engagement = e;
  return p;
}

std::string Key(const char* name, std::vector<std::pair<std::string, std::string>> labels) {
  return CounterKey{name, std::move(labels)}.Encode();
}

class IngesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(dir_.path());
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    ingester_ = std::make_unique<Ingester>(*store_, std::make_shared<analytics::Matcher>(TestConfig()));
  }
  int64_t Counter(const std::string& key) {
    auto all = store_->LoadCounters();
    auto it = all->find(key);
    return it == all->end() ? 0 : it->second;
  }
  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Ingester> ingester_;
};

TEST_F(IngesterTest, NewPostsAreCountedOncePerCampaignAndTerm) {
  auto r = ingester_->ApplyPage({MakePost("a", {"fundourschools", "edequity", "teacherscount"}, {3, 2, 1, 0}, 500)}, {}, 1);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->new_posts, 1);
  EXPECT_EQ(Counter(Key(kPostsTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 1);
  EXPECT_EQ(Counter(Key(kPostsTotal, {{"campaign", "teachers-count"}, {"platform", "mastodon"}})), 1);
  EXPECT_EQ(Counter(Key(kTermPostsTotal, {{"campaign", "fund-our-schools"}, {"term", "edequity"}, {"platform", "mastodon"}})), 1);
  EXPECT_EQ(Counter(Key(kPotentialReachTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 500);
  EXPECT_EQ(Counter(Key(kEngagementTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}, {"kind", "like"}})), 3);
  EXPECT_EQ(Counter(Key(kEngagementTotal, {{"campaign", "teachers-count"}, {"platform", "mastodon"}, {"kind", "reply"}})), 1);
  // Series: the creation minute holds the post and its reach.
  auto series = store_->ReadSeries("posts", "fund-our-schools", "mastodon", "", 1773151440, 1773151560);
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0], std::make_pair(int64_t{1773151500}, int64_t{1}));
  EXPECT_EQ(r->counter_deltas.at(Key(kPostsTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 1);
}

TEST_F(IngesterTest, RepeatsAcrossAndWithinPagesAreCountedOnce) {
  ASSERT_TRUE(ingester_->ApplyPage({MakePost("a", {"edequity"}), MakePost("a", {"edequity"})}, {}, 1));
  auto again = ingester_->ApplyPage({MakePost("a", {"edequity"}), MakePost("b", {"edequity"})}, {}, 2);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->new_posts, 1);
  EXPECT_EQ(Counter(Key(kPostsTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 2);
  EXPECT_EQ(*store_->CountPosts(), 2);
}

// A repeat within one page is stored and counted once: the latest copy's text, the engagement
// high-water mark, the reach of first sight. Lent and handed-over pages alike.
TEST(IngesterRepeats, ARepeatWithinAPageKeepsTheHighWaterMarkAndTheFirstReach) {
  Post first = MakePost("a", {"edequity"}, {5, 0, 1, 0}, 100);
  first.text = "first";
  Post again = MakePost("a", {"edequity"}, {3, 2, 0, 0}, 999);
  again.text = "edited";
  for (int handed_over = 0; handed_over < 2; ++handed_over) {
    testing::TempDir dir;
    auto store = store::Store::Open(dir.path());
    ASSERT_TRUE(store) << store.error().ToString();
    Ingester ingester(**store, std::make_shared<analytics::Matcher>(TestConfig()));
    std::vector<Post> page = {first, MakePost("b", {"edequity"}), again};
    auto r = handed_over ? ingester.ApplyPage(std::move(page), {}, 1) : ingester.ApplyPage(page, {}, 1);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->new_posts, 2) << handed_over;
    const auto counters = *(*store)->LoadCounters();
    auto engagement = [&](const char* kind) {
      return counters.at(Key(kEngagementTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}, {"kind", kind}}));
    };
    EXPECT_EQ(engagement("like"), 5) << handed_over;
    EXPECT_EQ(engagement("repost"), 2) << handed_over;
    EXPECT_EQ(engagement("reply"), 1) << handed_over;
    EXPECT_EQ(counters.at(Key(kPotentialReachTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 200);
    EXPECT_EQ(counters.at(Key(kPostsTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 2);
    auto series = (*store)->ReadSeries("engagement", "fund-our-schools", "mastodon", "", 1773151440, 1773151560);
    ASSERT_TRUE(series);
    ASSERT_EQ(series->size(), 1u);
    EXPECT_EQ((*series)[0].second, 8) << handed_over;
    auto stored = (*store)->GetPosts({"a"});
    ASSERT_TRUE(stored && (*stored)[0]);
    EXPECT_EQ((*stored)[0]->post.text, "edited");
    EXPECT_EQ((*stored)[0]->post.engagement, (Engagement{5, 2, 1, 0}));
    EXPECT_EQ((*stored)[0]->post.author_followers, 100);
  }
}

TEST_F(IngesterTest, EngagementGrowthAddsPositiveDeltasOnly) {
  ASSERT_TRUE(ingester_->ApplyPage({MakePost("a", {"edequity"}, {5, 1, 0, 0})}, {}, 1));
  auto up = ingester_->ApplyPage({MakePost("a", {"edequity"}, {8, 1, 2, 0})}, {}, 2);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->updated_posts, 1);
  const auto likes = Key(kEngagementTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}, {"kind", "like"}});
  EXPECT_EQ(Counter(likes), 8);
  // A like withdrawn, then given again, is not counted twice: the high-water mark holds.
  ASSERT_TRUE(ingester_->ApplyPage({MakePost("a", {"edequity"}, {6, 1, 2, 0})}, {}, 3));
  ASSERT_TRUE(ingester_->ApplyPage({MakePost("a", {"edequity"}, {8, 1, 2, 0})}, {}, 4));
  EXPECT_EQ(Counter(likes), 8);
  ASSERT_TRUE(ingester_->ApplyPage({MakePost("a", {"edequity"}, {9, 1, 2, 0})}, {}, 5));
  EXPECT_EQ(Counter(likes), 9);
  EXPECT_EQ(Counter(Key(kPostsTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 1);
  // Reach stays what it was when the post was first seen.
  ASSERT_TRUE(ingester_->ApplyPage({MakePost("a", {"edequity"}, {10, 1, 2, 0}, 99999)}, {}, 6));
  EXPECT_EQ(Counter(Key(kPotentialReachTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 100);
}

TEST_F(IngesterTest, AnUpdateThatReDatesAPostKeepsOneCopyAtItsFirstCreationTime) {
  ASSERT_TRUE(ingester_->ApplyPage({MakePost("a", {"edequity"}, {1, 0, 0, 0})}, {}, 1));
  Post redated = MakePost("a", {"edequity"}, {4, 0, 0, 0});
  redated.created_at_ms += 3'600'000;  // e.g. an edited post served with its edit time
  auto up = ingester_->ApplyPage({redated}, {}, 2);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->updated_posts, 1);
  std::vector<std::pair<int64_t, int64_t>> seen;  // (created, likes)
  ASSERT_TRUE(store_->ScanPosts({}, [&](const store::StoredPost& p, const std::string&) {
    seen.emplace_back(p.post.created_at_ms, p.post.engagement.likes);
    return true;
  }));
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, int64_t>>{{1773151500000, 4}}));
}

TEST_F(IngesterTest, MentionsResponsesAndCoalition) {
  Post mention = MakePost("m", {"edequity"});
  mention.mentions = {"janedoe@gov.example"};
  Post bare_mention = MakePost("n", {});
  bare_mention.mentions = {"janedoe@gov.example"};
  Post response = MakePost("r", {"fundourschools"});
  response.author = "janedoe@gov.example";
  Post member = MakePost("c", {"teacherscount"});
  member.author = "parents@edu.example";
  Post unrelated = MakePost("u", {"cats"});
  auto r = ingester_->ApplyPage({mention, bare_mention, response, member, unrelated}, {}, 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->new_posts, 4);
  EXPECT_EQ(r->irrelevant_posts, 1);
  EXPECT_EQ(Counter(Key(kPolicymakerMentionsTotal, {{"policymaker", "sen-doe"}, {"platform", "mastodon"}, {"campaign", "fund-our-schools"}})), 1);
  EXPECT_EQ(Counter(Key(kPolicymakerMentionsTotal, {{"policymaker", "sen-doe"}, {"platform", "mastodon"}, {"campaign", ""}})), 1);
  EXPECT_EQ(Counter(Key(kPolicymakerResponsesTotal, {{"policymaker", "sen-doe"}, {"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 1);
  EXPECT_EQ(Counter(Key(kCoalitionPostsTotal, {{"member", "parents-united"}, {"campaign", "teachers-count"}, {"platform", "mastodon"}})), 1);
}

TEST_F(IngesterTest, CursorCommitsWithThePage) {
  const std::string ck = store::CursorKey("src", "tags:edequity");
  ASSERT_TRUE(ingester_->ApplyPage({MakePost("a", {"edequity"})}, {{ck, "42"}}, 1));
  EXPECT_EQ(*store_->GetCursor(ck), "42");
  // An empty page still moves the cursor.
  ASSERT_TRUE(ingester_->ApplyPage({}, {{ck, "43"}}, 2));
  EXPECT_EQ(*store_->GetCursor(ck), "43");
}

// A bulk import's batch, with repeats, unrelated posts and known posts among new ones, in no order
// of their keys: the ingester hands the store its key order, and the bulk commit writes its files
// in that order (a wrong one is refused as out of order), storing every relevant post once.
TEST(IngesterBulk, ALargePageOutOfKeyOrderIsStoredWholeInABulkLoadStore) {
  testing::TempDir dir;
  store::OpenOptions bulk;
  bulk.bulk_load = true;
  auto store = store::Store::Open(dir.path(), bulk);
  ASSERT_TRUE(store) << store.error().ToString();
  Ingester ingester(**store, std::make_shared<analytics::Matcher>(TestConfig()));
  auto key = [](int i) { return "https://a.example/statuses/" + std::to_string((i * 7919) % 30'000); };
  ASSERT_TRUE(ingester.ApplyPage({MakePost(key(3), {"fundourschools"}, {1, 0, 0, 0})}, {}, 1));
  std::vector<Post> page;
  for (int i = 0; i < 30'000; ++i) page.push_back(MakePost(key(i), {i % 5 == 0 ? "unrelated" : "fundourschools"}));
  page.push_back(MakePost(key(11), {"fundourschools"}));          // a repeat
  page.push_back(MakePost(key(3), {"fundourschools"}, {5, 0, 0, 0}));  // known, with more likes
  auto r = ingester.ApplyPage(std::move(page), {}, 2);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->new_posts, 30'000 - 30'000 / 5 - 1);
  EXPECT_EQ(r->updated_posts, 1);
  EXPECT_EQ(*(*store)->CountPosts(), 30'000 - 30'000 / 5);
  auto known = (*store)->GetPosts({key(3), key(11), key(5)});
  ASSERT_TRUE(known);
  ASSERT_TRUE((*known)[0] && (*known)[1]);
  EXPECT_EQ((*known)[0]->post.engagement.likes, 5);
  EXPECT_FALSE((*known)[2]);  // unrelated
}

}  // namespace
}  // namespace chorus::ingest

namespace chorus::ingest {
namespace {

TEST(RefreshSchedule, PicksTheFirstStageStillAhead) {
  const int64_t created = 1'000'000'000'000;
  EXPECT_EQ(Ingester::NextRefreshStage(created, 0, created + 1'000), 0);              // due at +1h
  EXPECT_EQ(Ingester::NextRefreshStage(created, 0, created + 2 * 3'600'000), 1);      // +1h passed
  EXPECT_EQ(Ingester::NextRefreshStage(created, 2, created + 1'000), 2);
  EXPECT_EQ(Ingester::NextRefreshStage(created, 0, created + 80 * 3'600'000), -1);    // too old
  EXPECT_EQ(Ingester::NextRefreshStage(created, 4, created), -1);
}

TEST_F(IngesterTest, NewPostsAreScheduledForRefreshAndRefreshAnswersMoveThemOn) {
  Post p = MakePost("a", {"edequity"}, {1, 0, 0, 0});
  p.local_id = "1001";
  const int64_t now = p.created_at_ms + 60'000;
  ASSERT_TRUE(ingester_->ApplyPage({p}, {}, now, "src"));
  EXPECT_TRUE(store_->DueRefreshes("src", now, 10)->empty());
  const int64_t due_time = p.created_at_ms + 3'600'000;
  auto due = store_->DueRefreshes("src", due_time, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].local_id, "1001");
  EXPECT_EQ((*due)[0].stage, 0);
  EXPECT_TRUE(store_->DueRefreshes("other-source", due_time, 10)->empty());

  Post refreshed = p;
  refreshed.engagement = {6, 2, 0, 0};
  auto r = ingester_->ApplyRefresh("src", *due, {refreshed}, due_time);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->updated_posts, 1);
  EXPECT_EQ(Counter(Key(kEngagementTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}, {"kind", "like"}})), 6);
  EXPECT_EQ(Counter(Key(kPostsTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 1);
  // The entry moved to the next stage (+6h), nothing else is due now.
  EXPECT_TRUE(store_->DueRefreshes("src", due_time, 10)->empty());
  auto next = store_->DueRefreshes("src", p.created_at_ms + 6 * 3'600'000, 10);
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].stage, 1);
  // A post the platform no longer returns leaves the schedule.
  ASSERT_TRUE(ingester_->ApplyRefresh("src", *next, {}, p.created_at_ms + 6 * 3'600'000));
  EXPECT_TRUE(store_->DueRefreshes("src", p.created_at_ms + 100 * 3'600'000, 10)->empty());
}

TEST_F(IngesterTest, APolicymakersReplyToACampaignPostIsAResponseToThatCampaign) {
  ASSERT_TRUE(ingester_->ApplyPage({MakePost("campaign-post", {"teacherscount"})}, {}, 1));
  Post reply = MakePost("reply", {});
  reply.author = "janedoe@gov.example";
  reply.in_reply_to_key = "campaign-post";
  Post quote = MakePost("quote", {"edequity"});
  quote.author = "janedoe@gov.example";
  quote.quote_of = "campaign-post";
  Post unrelated_reply = MakePost("other", {});
  unrelated_reply.author = "janedoe@gov.example";
  unrelated_reply.in_reply_to_key = "unknown-post";
  ASSERT_TRUE(ingester_->ApplyPage({reply, quote, unrelated_reply}, {}, 2));
  EXPECT_EQ(Counter(Key(kPolicymakerResponsesTotal, {{"policymaker", "sen-doe"}, {"campaign", "teachers-count"}, {"platform", "mastodon"}})), 2);
  EXPECT_EQ(Counter(Key(kPolicymakerResponsesTotal, {{"policymaker", "sen-doe"}, {"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 1);
  // Seen again: not a second response.
  ASSERT_TRUE(ingester_->ApplyPage({reply, quote}, {}, 3));
  EXPECT_EQ(Counter(Key(kPolicymakerResponsesTotal, {{"policymaker", "sen-doe"}, {"campaign", "teachers-count"}, {"platform", "mastodon"}})), 2);
}

TEST_F(IngesterTest, AReplyServedInTheSamePageAsItsCampaignPostIsAResponse) {
  // Newest first, as timelines serve them: the reply comes before the post it answers.
  Post reply = MakePost("reply", {});
  reply.author = "janedoe@gov.example";
  reply.in_reply_to_key = "campaign-post";
  Post unmatched_parent_reply = MakePost("reply-2", {});
  unmatched_parent_reply.author = "janedoe@gov.example";
  unmatched_parent_reply.in_reply_to_key = "cat-post";  // in the page, but no campaign's
  auto r = ingester_->ApplyPage({reply, unmatched_parent_reply, MakePost("campaign-post", {"teacherscount"}),
                                 MakePost("cat-post", {"cats"})},
                                {}, 1);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(Counter(Key(kPolicymakerResponsesTotal, {{"policymaker", "sen-doe"}, {"campaign", "teachers-count"}, {"platform", "mastodon"}})), 1);
  EXPECT_EQ(Counter(Key(kPolicymakerResponsesTotal, {{"policymaker", "sen-doe"}, {"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 0);
  EXPECT_EQ(r->marks.count(Key(kFirstResponseTimestamp, {{"policymaker", "sen-doe"}, {"campaign", "teachers-count"}})), 1u);
}

TEST_F(IngesterTest, FirstMentionAndResponseMarksKeepTheEarliestTime) {
  Post later = MakePost("m2", {"fundourschools"});
  later.mentions = {"janedoe@gov.example"};
  later.created_at_ms = 1773151500000;
  Post earlier = later;
  earlier.key = "m1";
  earlier.created_at_ms = 1773140000000;
  ASSERT_TRUE(ingester_->ApplyPage({later}, {}, 1773151600000));
  auto r = ingester_->ApplyPage({earlier}, {}, 1773151600000);  // a backfilled, older mention
  ASSERT_TRUE(r);
  const std::string mention = Key(kFirstMentionTimestamp, {{"policymaker", "sen-doe"}, {"campaign", "fund-our-schools"}});
  EXPECT_EQ(r->marks.at(mention), 1773140000);
  Post reply = MakePost("r1", {"fundourschools"});
  reply.author = "janedoe@gov.example";
  r = ingester_->ApplyPage({reply}, {}, 1773151600000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->marks.at(Key(kFirstResponseTimestamp, {{"policymaker", "sen-doe"}, {"campaign", "fund-our-schools"}})),
            1773151500);
  // A newer mention moves nothing; marks survive a restart of the ingester.
  Post newest = later;
  newest.key = "m3";
  newest.created_at_ms += 60'000;
  Ingester fresh(*store_, std::make_shared<analytics::Matcher>(TestConfig()));
  ASSERT_TRUE(fresh.LoadMarks());
  r = fresh.ApplyPage({newest}, {}, 1773151700000);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->marks.empty());
  EXPECT_EQ(store_->LoadMarks()->at(mention), 1773140000);
}

TEST_F(IngesterTest, PostsOlderThanThePostsRetentionAreNotStoredOrCounted) {
  ingester_->SetPostRetention(24LL * 3'600'000);
  Post old = MakePost("old", {"fundourschools"});
  Post fresh = MakePost("fresh", {"fundourschools"});
  const int64_t now = old.created_at_ms + 25LL * 3'600'000;
  fresh.created_at_ms = now - 60'000;
  auto r = ingester_->ApplyPage({old, fresh}, {}, now);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->expired_posts, 1);
  EXPECT_EQ(r->new_posts, 1);
  EXPECT_EQ(Counter(Key(kPostsTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}})), 1);
}

TEST_F(IngesterTest, NewPostHookWritesInThePagesBatchAndOnlyForNewPosts) {
  std::vector<std::string> seen;
  ingester_->SetNewPostHook([&](const NewPostEvent& e, int64_t, store::Batch& batch) {
    seen.push_back(e.post.post.key + (e.responded_campaigns.empty() ? "" : ":response"));
    batch.outbox_puts["alert:" + e.post.post.key] = "x";
  });
  Post reply = MakePost("r1", {"fundourschools"});
  reply.author = "janedoe@gov.example";
  auto r = ingester_->ApplyPage({MakePost("a", {"fundourschools"}), reply, MakePost("n", {"unrelated"})}, {}, 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "r1:response"}));
  EXPECT_EQ(r->alerts_queued, 2);
  auto outbox = store_->ScanOutbox(10);
  ASSERT_TRUE(outbox);
  EXPECT_EQ(outbox->size(), 2u);
  r = ingester_->ApplyPage({MakePost("a", {"fundourschools"}, {5, 0, 0, 0})}, {}, 2);  // known post
  ASSERT_TRUE(r);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(r->alerts_queued, 0);
}

// A bulk import hands its batches over (ApplyPage(std::vector<Post>&&)), the daemon lends its
// pages: both must store and count the same, repeats, replies and mentions included.
TEST(IngesterHandOver, PostsHandedOverStoreAndCountWhatLentPostsDo) {
  std::vector<Post> page = {MakePost("a", {"fundourschools"}, {3, 1, 0, 0}, 500),
                            MakePost("b", {"teacherscount", "edequity"}),
                            MakePost("a", {"fundourschools"}, {4, 1, 0, 0}, 500),
                            MakePost("n", {"unrelated"})};
  page[1].mentions = {"janedoe@gov.example"};
  Post reply = MakePost("r", {});
  reply.author = "janedoe@gov.example";
  reply.in_reply_to_key = "b";
  page.push_back(reply);
  std::vector<std::string> stored[2];
  std::map<std::string, int64_t> counters[2];
  for (int i = 0; i < 2; ++i) {
    testing::TempDir dir;
    auto store = store::Store::Open(dir.path());
    ASSERT_TRUE(store) << store.error().ToString();
    Ingester ingester(**store, std::make_shared<analytics::Matcher>(TestConfig()));
    std::vector<Post> copy = page;
    auto r = i == 0 ? ingester.ApplyPage(copy, {}, 1) : ingester.ApplyPage(std::move(copy), {}, 1);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->new_posts, 3) << i;
    auto posts = (*store)->GetPosts({"a", "b", "r", "n"});
    ASSERT_TRUE(posts);
    for (const auto& p : *posts) stored[i].push_back(p ? store::EncodeStoredPost(*p) : "absent");
    counters[i] = *(*store)->LoadCounters();
  }
  EXPECT_EQ(stored[0], stored[1]);
  EXPECT_EQ(stored[0][3], "absent");
  EXPECT_EQ(counters[0], counters[1]);
  EXPECT_EQ(counters[1].at(Key(kEngagementTotal, {{"campaign", "fund-our-schools"}, {"platform", "mastodon"}, {"kind", "like"}})), 4);
  EXPECT_EQ(counters[1].at(Key(kPolicymakerResponsesTotal, {{"policymaker", "sen-doe"}, {"campaign", "teachers-count"}, {"platform", "mastodon"}})), 1);
}

}  // namespace
}  // namespace chorus::ingest
