// The bodies Chorus POSTs to alert receivers (design §4 `alerts.receivers[].format`), as pure
// functions of an Alert so their shapes are unit-tested without sockets. docs/alerts.md shows an
// example of each.
//
//   json          {"key","rule","kind","platform","campaigns":[],"policymakers":[],
//                  "post":{"id","url","author","created_at","text"}} — exactly these keys for post
//                 alerts; spike alerts carry an empty post and add "spike":{...}.
//   slack         an incoming-webhook message: {"text": "..."} in Slack mrkdwn with the post's
//                 link, author, a text excerpt and the campaigns.
//   alertmanager  the JSON array Alertmanager's POST /api/v2/alerts takes, one alert with labels
//                 alertname (= rule), rule, kind, campaign, platform, policymaker, severity, key
//                 and annotations summary, description, url; startsAt = when it was raised.
#pragma once

#include <string>
#include <string_view>

#include "analytics/alerts.h"

namespace chorus::daemon {

std::string JsonAlertPayload(const analytics::Alert& alert);
std::string SlackAlertPayload(const analytics::Alert& alert);
std::string AlertmanagerAlertPayload(const analytics::Alert& alert);

// Appends the fields shared by the json payload and /api/v1/alerts, without the enclosing braces:
// "key":…,"rule":…,"kind":…,"platform":…,"campaigns":[…],"policymakers":[…],"post":{…}[,"spike":{…}]
void AppendAlertJsonFields(std::string* out, const analytics::Alert& alert);

// One line for people (logs, Slack, Alertmanager summary): "Sen. Jane Doe mentioned on mastodon
// by alice@example.org (fund-our-schools)".
std::string AlertSummary(const analytics::Alert& alert);

// At most `max_bytes` of `text`, cut at a UTF-8 character boundary, with "…" when cut.
std::string Excerpt(std::string_view text, size_t max_bytes);

}  // namespace chorus::daemon
