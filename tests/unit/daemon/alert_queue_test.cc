#include "daemon/alert_queue.h"

#include <gtest/gtest.h>

#include "daemon/alert_payloads.h"

namespace chorus::daemon {
namespace {

analytics::Alert SampleAlert(int64_t created_ms, const std::string& key) {
  analytics::Alert a;
  a.key = key;
  a.rule = "mentioned";
  a.kind = "policymaker_mention";
  a.created_ms = created_ms;
  a.platform = "bluesky";
  a.campaigns = {"fund-our-schools"};
  a.policymakers = {"sen-doe"};
  a.policymaker_names = {"Sen. Jane Doe"};
  a.post = {"at://did:plc:x/app.bsky.feed.post/1", "https://bsky.app/profile/x/post/1", "x.bsky.social",
            created_ms - 1000, "Hello \"world\"\n"};
  a.receivers = {"comms", "pager"};
  return a;
}

TEST(AlertQueue, OutboxAndLogRecordsRoundTrip) {
  OutboxEntry e{SampleAlert(1773151500000, "k1"), "comms", 2, 1773151560000, "HTTP 503"};
  e.alert.spike = analytics::SpikeStats{1, 900'000, 42, 3.5, 1.25, 7.25, 96};
  auto back = DecodeOutboxEntry(EncodeOutboxEntry(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->alert.key, "k1");
  EXPECT_EQ(back->alert.post.text, "Hello \"world\"\n");
  EXPECT_EQ(back->alert.receivers, e.alert.receivers);
  ASSERT_TRUE(back->alert.spike);
  EXPECT_EQ(back->alert.spike->count, 42);
  EXPECT_DOUBLE_EQ(back->alert.spike->line, 7.25);
  EXPECT_EQ(back->attempts, 2);
  EXPECT_EQ(back->next_attempt_ms, 1773151560000);
  EXPECT_EQ(back->last_error, "HTTP 503");
  EXPECT_FALSE(DecodeOutboxEntry(EncodeOutboxEntry(e).substr(0, 20)));

  AlertLogEntry l{SampleAlert(5, "k2"), {{"comms", DeliveryState::kDelivered, 1, ""},
                                         {"pager", DeliveryState::kRetrying, 3, "HTTP 500"}}};
  auto lb = DecodeAlertLogEntry(EncodeAlertLogEntry(l));
  ASSERT_TRUE(lb);
  ASSERT_EQ(lb->deliveries.size(), 2u);
  EXPECT_EQ(lb->deliveries[1].state, DeliveryState::kRetrying);
  EXPECT_EQ(lb->deliveries[1].attempts, 3);
  EXPECT_FALSE(lb->alert.spike);
}

TEST(AlertQueue, KeysSortByCreationThenAlertThenReceiver) {
  auto early = SampleAlert(1000, "b");
  auto late = SampleAlert(2000, "a");
  EXPECT_LT(OutboxKey(early, "z"), OutboxKey(late, "a"));
  EXPECT_LT(OutboxKey(SampleAlert(1000, "a"), "z"), OutboxKey(early, "a"));
  EXPECT_LT(OutboxKey(early, "comms"), OutboxKey(early, "pager"));
  EXPECT_LT(AlertLogKey(SampleAlert(-5, "a")), AlertLogKey(SampleAlert(5, "a")));
}

TEST(AlertQueue, QueueAlertWritesOneOutboxEntryPerReceiverAndOneLogEntry) {
  store::Batch batch;
  QueueAlert(SampleAlert(1000, "k"), &batch);
  EXPECT_EQ(batch.outbox_puts.size(), 2u);
  ASSERT_EQ(batch.alert_log_puts.size(), 1u);
  auto l = DecodeAlertLogEntry(batch.alert_log_puts.begin()->second);
  ASSERT_TRUE(l);
  ASSERT_EQ(l->deliveries.size(), 2u);
  EXPECT_EQ(l->deliveries[0].state, DeliveryState::kPending);
}

TEST(AlertPayloads, ExcerptCutsAtCharacterBoundaries) {
  EXPECT_EQ(Excerpt("short", 10), "short");
  EXPECT_EQ(Excerpt("abcdef", 3), "abc…");
  // "é" is two bytes: a cut inside it backs up before it.
  EXPECT_EQ(Excerpt("aé", 2), "a…");
}

TEST(AlertPayloads, JsonPayloadHasExactlyTheDocumentedShape) {
  const std::string j = JsonAlertPayload(SampleAlert(1773151500000, "mentioned/bluesky/at://x"));
  EXPECT_EQ(j,
            "{\"key\":\"mentioned/bluesky/at://x\",\"rule\":\"mentioned\",\"kind\":\"policymaker_mention\","
            "\"platform\":\"bluesky\",\"campaigns\":[\"fund-our-schools\"],\"policymakers\":[\"sen-doe\"],"
            "\"post\":{\"id\":\"at://did:plc:x/app.bsky.feed.post/1\",\"url\":\"https://bsky.app/profile/x/post/1\","
            "\"author\":\"x.bsky.social\",\"created_at\":\"2026-03-10T14:04:59.000Z\",\"text\":\"Hello \\\"world\\\"\\n\"}}");
}

}  // namespace
}  // namespace chorus::daemon
