#include "sim/bluesky_sim.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <charconv>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/time.h"

namespace chorus::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A small strict JSON reader, enough to look inside the simulator's answers (this test binary
// does not link the collectors' JSON parser).
struct Json {
  enum class T { kNull, kBool, kNum, kStr, kArr, kObj };
  T t = T::kNull;
  bool b = false;
  std::string num;  // as written
  std::string str;
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json>> obj;

  bool has(const std::string& k) const {
    for (const auto& [key, v] : obj) {
      if (key == k) return true;
    }
    return false;
  }
  const Json& operator[](const std::string& k) const {
    static const Json kNull;
    for (const auto& [key, v] : obj) {
      if (key == k) return v;
    }
    return kNull;
  }
  const Json& operator[](size_t i) const {
    static const Json kNull;
    return i < arr.size() ? arr[i] : kNull;
  }
  size_t size() const { return t == T::kArr ? arr.size() : obj.size(); }
  int64_t i() const {
    int64_t v = 0;
    std::from_chars(num.data(), num.data() + num.size(), v);
    return v;
  }
};

class JsonReader {
 public:
  static std::optional<Json> Parse(const std::string& s) {
    JsonReader r(s);
    Json out;
    r.Ws();
    if (!r.Value(out)) return std::nullopt;
    r.Ws();
    if (r.pos_ != s.size()) return std::nullopt;
    return out;
  }

 private:
  explicit JsonReader(const std::string& s) : s_(s) {}
  void Ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool Lit(const char* w) {
    const std::string lit(w);
    if (s_.compare(pos_, lit.size(), lit) != 0) return false;
    pos_ += lit.size();
    return true;
  }
  bool String(std::string& out) {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) return false;
      const char e = s_[pos_++];
      if (e == 'u') {
        if (pos_ + 4 > s_.size()) return false;
        unsigned cp = 0;
        auto [p, ec] = std::from_chars(s_.data() + pos_, s_.data() + pos_ + 4, cp, 16);
        if (ec != std::errc() || p != s_.data() + pos_ + 4) return false;
        pos_ += 4;
        out += static_cast<char>(cp < 0x80 ? cp : '?');
      } else if (e == 'n') {
        out += '\n';
      } else if (e == 't') {
        out += '\t';
      } else if (e == '"' || e == '\\' || e == '/') {
        out += e;
      } else if (e == 'b' || e == 'f' || e == 'r') {
        out += ' ';
      } else {
        return false;
      }
    }
    return false;
  }
  bool Value(Json& out) {
    if (pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (c == '{') {
      out.t = Json::T::kObj;
      ++pos_;
      Ws();
      if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
      while (true) {
        Ws();
        std::string key;
        if (!String(key)) return false;
        Ws();
        if (!Lit(":")) return false;
        Ws();
        Json v;
        if (!Value(v)) return false;
        out.obj.emplace_back(std::move(key), std::move(v));
        Ws();
        if (Lit(",")) continue;
        return Lit("}");
      }
    }
    if (c == '[') {
      out.t = Json::T::kArr;
      ++pos_;
      Ws();
      if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
      while (true) {
        Ws();
        Json v;
        if (!Value(v)) return false;
        out.arr.push_back(std::move(v));
        Ws();
        if (Lit(",")) continue;
        return Lit("]");
      }
    }
    if (c == '"') {
      out.t = Json::T::kStr;
      return String(out.str);
    }
    if (Lit("true")) return out.t = Json::T::kBool, out.b = true, true;
    if (Lit("false")) return out.t = Json::T::kBool, true;
    if (Lit("null")) return true;
    const size_t start = pos_;
    while (pos_ < s_.size() &&
           (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' ||
            s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E' || s_[pos_] == '+')) {
      ++pos_;
    }
    if (pos_ == start) return false;
    out.t = Json::T::kNum;
    out.num = s_.substr(start, pos_ - start);
    return true;
  }
  const std::string& s_;
  size_t pos_ = 0;
};

constexpr int64_t kT0 = 1'773'151'200'000;  // 2026-03-10T14:00:00Z

struct Answer {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  Json json;
  bool is_json = false;
  std::string Header(const char* name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class BlueskySimTest : public ::testing::Test {
 protected:
  void StartSim(BlueskySimOptions o = {}) {
    if (o.clock == nullptr) o.clock = &clock_;
    sim_ = std::make_unique<BlueskySim>(o);
    ASSERT_TRUE(sim_->Start(0).has_value());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", sim_->port());
    client_->set_read_timeout(5, 0);
  }
  Answer Get(const std::string& path, const std::string& token = "") {
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    auto res = client_->Get(path.c_str(), h);
    Answer a;
    if (!res) {
      ADD_FAILURE() << "no response for " << path;
      return a;
    }
    a.status = res->status;
    a.body = res->body;
    a.headers = res->headers;
    if (auto j = JsonReader::Parse(res->body)) {
      a.json = std::move(*j);
      a.is_json = true;
    }
    return a;
  }
  Answer Post(const std::string& path, const std::string& body, const std::string& token = "",
              const char* type = "application/json") {
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    auto res = client_->Post(path.c_str(), h, body, type);
    Answer a;
    if (!res) {
      ADD_FAILURE() << "no response for " << path;
      return a;
    }
    a.status = res->status;
    a.body = res->body;
    a.headers = res->headers;
    if (auto j = JsonReader::Parse(res->body)) {
      a.json = std::move(*j);
      a.is_json = true;
    }
    return a;
  }
  BlueskySimPost Add(std::string text, int64_t created,
                     BlueskySimActor author = {"alice.bsky.social"},
                     std::vector<BlueskySimActor> mentions = {}) {
    BlueskySimPost p;
    p.author = std::move(author);
    p.text = std::move(text);
    p.created_at_ms = created;
    p.mentions = std::move(mentions);
    return sim_->AddPost(p);
  }
  static std::vector<std::string> Uris(const Json& posts) {
    std::vector<std::string> out;
    for (const auto& p : posts.arr) out.push_back(p["uri"].str);
    return out;
  }

  FakeClock clock_{kT0 + 3'600'000};
  std::unique_ptr<BlueskySim> sim_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(BlueskySimTest, SearchPagesWithAnOpaqueCursorUntilItIsAbsent) {
  StartSim();
  std::set<std::string> all;
  for (int i = 0; i < 23; ++i)
    all.insert(Add("post " + std::to_string(i) + " #FundOurSchools", kT0 + i * 1000).uri);
  Add("unrelated #Cats", kT0);
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  int64_t previous = INT64_MAX;
  while (true) {
    auto a = Get("/xrpc/app.bsky.feed.searchPosts?q=%23FundOurSchools&sort=latest&limit=10" +
                 (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(a.status, 200) << a.body;
    ASSERT_TRUE(a.is_json) << a.body;
    EXPECT_THAT(a.Header("Content-Type"), StartsWith("application/json"));
    ++pages;
    EXPECT_EQ(a.json["hitsTotal"].i(), 23);
    for (const auto& p : a.json["posts"].arr) {
      EXPECT_TRUE(seen.insert(p["uri"].str).second) << "served twice: " << p["uri"].str;
      const int64_t at = *ParseRfc3339Ms(p["indexedAt"].str);
      EXPECT_LE(at, previous);  // sort=latest: newest first
      previous = at;
    }
    if (!a.json.has("cursor")) break;
    EXPECT_EQ(a.json["cursor"].t, Json::T::kStr);
    cursor = a.json["cursor"].str;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, all);
  EXPECT_EQ(sim_->served_uris(), all);
}

TEST_F(BlueskySimTest, HiddenPostsMakeShortPagesWhileTheCursorGoesOn) {
  StartSim();
  for (int i = 0; i < 12; ++i) {
    BlueskySimPost p;
    p.author = {i % 3 == 0 ? "blocked.example" : "alice.bsky.social"};
    p.text = "#Tag " + std::to_string(i);
    p.created_at_ms = kT0 + i;
    p.hidden = i % 3 == 0;
    sim_->AddPost(p);
  }
  auto a = Get("/xrpc/app.bsky.feed.searchPosts?q=*&tag=tag&limit=5");
  ASSERT_EQ(a.status, 200);
  EXPECT_LT(a.json["posts"].size(), 5u);  // short...
  EXPECT_EQ(a.json["cursor"].str, "5");   // ...yet not the end
  auto b = Get("/xrpc/app.bsky.feed.searchPosts?q=*&tag=tag&limit=5&cursor=10");
  EXPECT_FALSE(b.json.has("cursor"));
}

TEST_F(BlueskySimTest, TagsAreAndedAndMatchFacetsAndRecordTags) {
  StartSim();
  const auto both = Add("#FundOurSchools and #EdEquity", kT0);
  const auto one = Add("#fundourschools only", kT0 + 1);
  BlueskySimPost hidden_tag;
  hidden_tag.author = {"bob.bsky.social"};
  hidden_tag.text = "tags not in the text";
  hidden_tag.record_tags = {"EdEquity", "FundOurSchools"};
  hidden_tag.created_at_ms = kT0 + 2;
  const auto record_tags = sim_->AddPost(hidden_tag);
  auto a = Get("/xrpc/app.bsky.feed.searchPosts?q=*&tag=FUNDOURSCHOOLS&tag=edequity");
  EXPECT_THAT(Uris(a.json["posts"]), ::testing::UnorderedElementsAre(both.uri, record_tags.uri));
  auto b = Get("/xrpc/app.bsky.feed.searchPosts?q=%23FundOurSchools");
  EXPECT_THAT(Uris(b.json["posts"]),
              ::testing::UnorderedElementsAre(both.uri, one.uri, record_tags.uri));
  auto c = Get("/xrpc/app.bsky.feed.searchPosts?q=%22and%20%23edequity%22");  // a phrase
  EXPECT_THAT(Uris(c.json["posts"]), ::testing::ElementsAre(both.uri));
}

TEST_F(BlueskySimTest, SinceIsInclusiveUntilExclusiveOnSortAt) {
  StartSim();
  const auto at = Add("#T exactly", kT0);
  const auto later = Add("#T later", kT0 + 60'000);
  // A backdated post (an import): its sortAt is its createdAt, however late it was indexed.
  BlueskySimPost old;
  old.author = {"importer.example"};
  old.text = "#T imported";
  old.created_at_ms = kT0 - 86'400'000;
  old.indexed_at_ms = kT0 + 120'000;
  sim_->AddPost(old);
  // A client clock ahead: sorted at indexedAt.
  BlueskySimPost future;
  future.author = {"skewed.example"};
  future.text = "#T from the future";
  future.created_at_ms = kT0 + 10 * 86'400'000LL;
  future.indexed_at_ms = kT0 + 30'000;
  const auto fut = sim_->AddPost(future);

  const std::string since = "2026-03-10T14:00:00.000Z", until = "2026-03-10T14:01:00.000Z";
  auto a = Get("/xrpc/app.bsky.feed.searchPosts?q=%23T&since=" + since + "&until=" + until);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_THAT(Uris(a.json["posts"]), ::testing::ElementsAre(fut.uri, at.uri));
  auto b = Get("/xrpc/app.bsky.feed.searchPosts?q=%23T&since=2026-03-10T14:01:00.000Z");
  EXPECT_THAT(Uris(b.json["posts"]), ::testing::ElementsAre(later.uri));
  auto c = Get("/xrpc/app.bsky.feed.searchPosts?q=%23T&since=2026-03-09");  // a bare date
  EXPECT_EQ(c.json["posts"].size(), 4u);
  auto bad = Get("/xrpc/app.bsky.feed.searchPosts?q=%23T&since=yesterday");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json["error"].str, "InvalidRequest");
}

TEST_F(BlueskySimTest, RecordsCarryTypedFacetsWithUtf8ByteOffsets) {
  StartSim();
  const BlueskySimActor jane{"jane-doe.senate.gov", "", 9000};
  const std::string text =
      "\xF0\x9F\x8C\x8D Tell @jane-doe.senate.gov to back #CleanAirAct \xE2\x86\x92 "
      "https://example.org/act";
  const auto p = Add(text, kT0, {"alice.bsky.social"}, {jane});
  auto a = Get("/xrpc/app.bsky.feed.getPosts?uris=" + p.uri);
  ASSERT_EQ(a.status, 200) << a.body;
  const Json& post = a.json["posts"][0];
  EXPECT_THAT(post["uri"].str, StartsWith("at://did:plc:"));
  EXPECT_THAT(post["cid"].str, StartsWith("bafyrei"));
  EXPECT_EQ(post["record"]["$type"].str, "app.bsky.feed.post");
  EXPECT_EQ(post["record"]["text"].str, text);
  const Json& facets = post["record"]["facets"];
  ASSERT_EQ(facets.size(), 3u);
  std::map<std::string, std::string> spans;
  for (const auto& f : facets.arr) {
    EXPECT_EQ(f["$type"].str, "app.bsky.richtext.facet");
    const size_t s = static_cast<size_t>(f["index"]["byteStart"].i());
    const size_t e = static_cast<size_t>(f["index"]["byteEnd"].i());
    spans[f["features"][0]["$type"].str] = text.substr(s, e - s);
    if (f["features"][0]["$type"].str == "app.bsky.richtext.facet#mention") {
      EXPECT_EQ(f["features"][0]["did"].str, SimDidForHandle("jane-doe.senate.gov"));
      EXPECT_EQ(s, 10u);  // bytes, not characters (7) or UTF-16 units (8)
      EXPECT_EQ(e, 30u);
    }
  }
  EXPECT_EQ(spans["app.bsky.richtext.facet#mention"], "@jane-doe.senate.gov");
  EXPECT_EQ(spans["app.bsky.richtext.facet#tag"], "#CleanAirAct");
  EXPECT_EQ(spans["app.bsky.richtext.facet#link"], "https://example.org/act");
  EXPECT_EQ(post["author"]["handle"].str, "alice.bsky.social");
  for (const char* k : {"replyCount", "repostCount", "likeCount", "quoteCount"})
    EXPECT_EQ(post[k].t, Json::T::kNum) << k;
  EXPECT_EQ(post["indexedAt"].str.size(), 24u);  // toISOString(): always milliseconds and Z
}

TEST_F(BlueskySimTest, MentionsMatchOnlyFacetMentionsByDidOrHandle) {
  StartSim();
  const BlueskySimActor jane{"janedoe.bsky.social"};
  const auto faceted = Add("hey @janedoe.bsky.social please", kT0, {"alice.bsky.social"}, {jane});
  Add("hey janedoe.bsky.social, typed without the @", kT0 + 1, {"bob.bsky.social"}, {jane});
  Add("hey @janedoe.bsky.social typed, no facet", kT0 + 2, {"carol.bsky.social"}, {});
  const std::string did = SimDidForHandle("janedoe.bsky.social");
  auto a = Get("/xrpc/app.bsky.feed.searchPosts?q=*&mentions=" + did);
  EXPECT_THAT(Uris(a.json["posts"]), ::testing::ElementsAre(faceted.uri));
  auto b = Get("/xrpc/app.bsky.feed.searchPosts?q=*&mentions=janedoe.bsky.social");
  EXPECT_THAT(Uris(b.json["posts"]), ::testing::ElementsAre(faceted.uri));
  auto c = Get("/xrpc/app.bsky.feed.searchPosts?q=mentions:janedoe.bsky.social");
  EXPECT_THAT(Uris(c.json["posts"]), ::testing::ElementsAre(faceted.uri));
  auto none = Get("/xrpc/app.bsky.feed.searchPosts?q=*&mentions=nobody.example");
  EXPECT_EQ(none.json["posts"].size(), 0u);
}

TEST_F(BlueskySimTest, InvalidHandlesAreServedAsHandleInvalid) {
  StartSim();
  BlueskySimActor broken{"broken.example", "", 5, true};
  const auto p = Add("#T hi", kT0, broken);
  auto a = Get("/xrpc/app.bsky.feed.searchPosts?q=%23T");
  EXPECT_EQ(a.json["posts"][0]["author"]["handle"].str, "handle.invalid");
  EXPECT_EQ(a.json["posts"][0]["author"]["did"].str, p.author.did);
}

TEST_F(BlueskySimTest, PdsSessionsExpireAndRefresh) {
  BlueskySimOptions o;
  o.identifier = "collector.bsky.social";
  o.password = "app-pass-word";
  o.account_email = "ops@example.org";
  StartSim(o);
  Add("#T hi", kT0);
  const std::string search = "/xrpc/app.bsky.feed.searchPosts?q=%23T";
  auto none = Get(search);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.json["error"].str, "AuthMissing");
  EXPECT_EQ(none.json["message"].str, "Authentication Required");
  EXPECT_EQ(Get(search, "made-up").json["error"].str, "InvalidToken");

  auto wrong = Post("/xrpc/com.atproto.server.createSession",
                    R"({"identifier":"collector.bsky.social","password":"nope"})");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.json["error"].str, "AuthenticationRequired");
  EXPECT_EQ(wrong.json["message"].str, "Invalid identifier or password");
  EXPECT_EQ(Post("/xrpc/com.atproto.server.createSession", R"({"identifier":"x"})").status, 400);
  EXPECT_EQ(Post("/xrpc/com.atproto.server.createSession", R"({"identifier":"a","password":"b"})",
                 "", "text/plain")
                .status,
            400);

  auto s = Post("/xrpc/com.atproto.server.createSession",
                R"({"identifier":"OPS@example.org","password":"app-pass-word"})");
  ASSERT_EQ(s.status, 200) << s.body;
  const std::string access = s.json["accessJwt"].str, refresh = s.json["refreshJwt"].str;
  EXPECT_THAT(access, StartsWith("eyJ"));
  EXPECT_EQ(s.json["handle"].str, "collector.bsky.social");
  EXPECT_THAT(s.json["did"].str, StartsWith("did:plc:"));
  EXPECT_EQ(Get(search, access).status, 200);
  EXPECT_EQ(Get(search, refresh).json["error"].str, "InvalidToken");  // wrong token type

  // Two hours later the access token has expired.
  clock_.Advance(2 * 3'600'000 + 1);
  auto expired = Get(search, access);
  EXPECT_EQ(expired.status, 400);
  EXPECT_EQ(expired.json["error"].str, "ExpiredToken");
  EXPECT_EQ(expired.json["message"].str, "Token has expired");
  EXPECT_EQ(Post("/xrpc/com.atproto.server.refreshSession", "", access).json["error"].str,
            "InvalidToken");
  auto r = Post("/xrpc/com.atproto.server.refreshSession", "", refresh, "");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string access2 = r.json["accessJwt"].str;
  EXPECT_NE(access2, access);
  EXPECT_EQ(Get(search, access2).status, 200);
  // The refresh token was spent.
  EXPECT_EQ(Post("/xrpc/com.atproto.server.refreshSession", "", refresh, "").status, 400);
  // Forced expiry, for tests that cannot wait two hours.
  sim_->ExpireAccessTokens();
  EXPECT_EQ(Get(search, access2).json["error"].str, "ExpiredToken");
  sim_->RevokeRefreshTokens();
  EXPECT_EQ(Post("/xrpc/com.atproto.server.refreshSession", "", r.json["refreshJwt"].str, "")
                .json["error"]
                .str,
            "ExpiredToken");
  EXPECT_EQ(sim_->sessions_created(), 1);
  EXPECT_EQ(sim_->sessions_refreshed(), 1);
  // The request log keeps no secret.
  for (const auto& line : sim_->request_log()) {
    EXPECT_EQ(line.find("app-pass-word"), std::string::npos);
    EXPECT_EQ(line.find(access), std::string::npos);
  }
}

TEST_F(BlueskySimTest, PublicHostRefusesUnauthenticatedSearchWithHtml) {
  BlueskySimOptions o;
  o.public_host = true;
  StartSim(o);
  const auto p = Add("#T hi", kT0);
  auto a = Get("/xrpc/app.bsky.feed.searchPosts?q=%23T");
  EXPECT_EQ(a.status, 403);
  EXPECT_FALSE(a.is_json);
  EXPECT_THAT(a.body, HasSubstr("Request forbidden by administrative rules"));
  EXPECT_EQ(Get("/xrpc/app.bsky.feed.getPosts?uris=" + p.uri).status, 200);
}

TEST_F(BlueskySimTest, RateLimitHeadersAndRetryAfter) {
  BlueskySimOptions o;
  o.rate_limit = 3;
  o.rate_window_ms = 300'000;
  StartSim(o);
  clock_.Set(kT0 + 10'000);  // 10 s into a 5-minute window
  const std::string path = "/xrpc/app.bsky.feed.searchPosts?q=*";
  auto first = Get(path);
  EXPECT_EQ(first.Header("RateLimit-Limit"), "3");
  EXPECT_EQ(first.Header("RateLimit-Remaining"), "2");
  EXPECT_EQ(first.Header("RateLimit-Reset"),
            std::to_string((kT0 + 300'000) / 1000));  // epoch seconds
  EXPECT_EQ(first.Header("RateLimit-Policy"), "3;w=300");
  EXPECT_EQ(first.Header("Retry-After"), "");
  Get(path);
  Get(path);
  auto limited = Get(path);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.json["error"].str, "RateLimitExceeded");
  EXPECT_EQ(limited.json["message"].str, "Rate Limit Exceeded");
  EXPECT_EQ(limited.Header("RateLimit-Remaining"), "0");
  EXPECT_EQ(limited.Header("Retry-After"), "290");
  clock_.Set(kT0 + 300'000);  // the next window
  EXPECT_EQ(Get(path).status, 200);
  EXPECT_EQ(sim_->responses_by_status()[429], 1);
}

TEST_F(BlueskySimTest, SearchDepthIsCapped) {
  BlueskySimOptions o;
  o.search_depth_cap = 30;
  StartSim(o);
  for (int i = 0; i < 45; ++i) Add("#Deep " + std::to_string(i), kT0 + i);
  auto p2 = Get("/xrpc/app.bsky.feed.searchPosts?q=%23Deep&limit=10&cursor=10");
  EXPECT_EQ(p2.json["cursor"].str, "20");
  auto p3 = Get("/xrpc/app.bsky.feed.searchPosts?q=%23Deep&limit=10&cursor=20");
  EXPECT_EQ(p3.json["posts"].size(), 10u);
  EXPECT_FALSE(p3.json.has("cursor"));  // 15 more exist, but search stops at the cap
  auto deep = Get("/xrpc/app.bsky.feed.searchPosts?q=%23Deep&limit=10&cursor=40");
  EXPECT_EQ(deep.status, 400);
  EXPECT_EQ(deep.json["message"].str, "invalid value for 'cursor' (can't paginate so deep)");
  EXPECT_EQ(Get("/xrpc/app.bsky.feed.searchPosts?q=%23Deep&cursor=abc").status, 400);
}

TEST_F(BlueskySimTest, ParameterValidation) {
  StartSim();
  auto no_q = Get("/xrpc/app.bsky.feed.searchPosts?limit=5");
  EXPECT_EQ(no_q.status, 400);
  EXPECT_EQ(no_q.json["error"].str, "InvalidRequest");
  EXPECT_EQ(Get("/xrpc/app.bsky.feed.searchPosts?q=x&limit=101").status, 400);
  EXPECT_EQ(Get("/xrpc/app.bsky.feed.searchPosts?q=x&limit=0").status, 400);
  EXPECT_EQ(Get("/xrpc/app.bsky.feed.searchPosts?q=x&sort=oldest").status, 400);
  auto unknown = Get("/xrpc/app.bsky.feed.getTimeline");
  EXPECT_EQ(unknown.status, 501);
  EXPECT_EQ(unknown.json["error"].str, "MethodNotImplemented");
}

TEST_F(BlueskySimTest, GetPostsTakesAtMost25AndOmitsUnknown) {
  StartSim();
  std::vector<std::string> uris;
  for (int i = 0; i < 26; ++i) uris.push_back(Add("p" + std::to_string(i), kT0 + i).uri);
  std::string q;
  for (int i = 0; i < 25; ++i) q += (i ? "&" : "") + std::string("uris=") + uris[i];
  auto a = Get("/xrpc/app.bsky.feed.getPosts?" + q);
  EXPECT_EQ(a.json["posts"].size(), 25u);
  EXPECT_EQ(Get("/xrpc/app.bsky.feed.getPosts?" + q + "&uris=" + uris[25]).status, 400);
  sim_->DeletePost(uris[0]);
  auto b = Get("/xrpc/app.bsky.feed.getPosts?uris=" + uris[0] +
               "&uris=at://did:plc:nobody/app.bsky.feed.post/x&uris=" + uris[1]);
  EXPECT_THAT(Uris(b.json["posts"]), ::testing::ElementsAre(uris[1]));
  ASSERT_TRUE(sim_->SetEngagement(uris[1], 7, 3, 2, 1));
  auto c = Get("/xrpc/app.bsky.feed.getPosts?uris=" + uris[1]);
  EXPECT_EQ(c.json["posts"][0]["likeCount"].i(), 7);
  EXPECT_EQ(c.json["posts"][0]["quoteCount"].i(), 1);
}

TEST_F(BlueskySimTest, AuthorFeedShowsRepostsWithAReason) {
  StartSim();
  const BlueskySimActor jane{"janedoe.bsky.social", "", 5000};
  const auto own1 = Add("my first", kT0, jane);
  const auto other = Add("a campaign post #T", kT0 + 1000, {"alice.bsky.social"});
  BlueskySimPost reply;
  reply.author = jane;
  reply.text = "thanks";
  reply.created_at_ms = kT0 + 2000;
  reply.reply_parent_uri = other.uri;
  const auto own2 = sim_->AddPost(reply);
  ASSERT_TRUE(sim_->AddRepost(jane, other.uri, kT0 + 3000));
  auto a = Get("/xrpc/app.bsky.feed.getAuthorFeed?actor=janedoe.bsky.social&limit=2");
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(a.json["feed"].size(), 2u);
  EXPECT_EQ(a.json["feed"][0]["post"]["uri"].str, other.uri);
  EXPECT_EQ(a.json["feed"][0]["reason"]["$type"].str, "app.bsky.feed.defs#reasonRepost");
  EXPECT_EQ(a.json["feed"][0]["reason"]["by"]["did"].str, SimDidForHandle("janedoe.bsky.social"));
  EXPECT_EQ(a.json["feed"][0]["post"]["repostCount"].i(), 1);
  EXPECT_EQ(a.json["feed"][1]["post"]["uri"].str, own2.uri);
  EXPECT_EQ(a.json["feed"][1]["reply"]["parent"]["uri"].str, other.uri);
  EXPECT_EQ(a.json["feed"][1]["post"]["record"]["reply"]["parent"]["uri"].str, other.uri);
  ASSERT_TRUE(a.json.has("cursor"));
  auto b = Get("/xrpc/app.bsky.feed.getAuthorFeed?actor=" + own1.author.did +
               "&limit=2&cursor=" + a.json["cursor"].str);
  EXPECT_THAT(Uris([&] {
                Json posts;
                for (const auto& item : b.json["feed"].arr) posts.arr.push_back(item["post"]);
                return posts;
              }()),
              ::testing::ElementsAre(own1.uri));
  auto no_replies =
      Get("/xrpc/app.bsky.feed.getAuthorFeed?actor=janedoe.bsky.social&filter=posts_no_replies");
  EXPECT_EQ(no_replies.json["feed"].size(), 2u);  // the repost and the first post
  auto unknown = Get("/xrpc/app.bsky.feed.getAuthorFeed?actor=nobody.example");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.json["message"].str, "Profile not found");
}

TEST_F(BlueskySimTest, ProfilesAndHandleResolution) {
  StartSim();
  const auto a = sim_->AddActor({"janedoe.bsky.social", "", 12345});
  Add("x", kT0, {"alice.bsky.social", "", 77});
  auto did = Get("/xrpc/com.atproto.identity.resolveHandle?handle=JaneDoe.bsky.social");
  ASSERT_EQ(did.status, 200);
  EXPECT_EQ(did.json["did"].str, a.did);
  auto missing = Get("/xrpc/com.atproto.identity.resolveHandle?handle=nobody.example");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.json["message"].str, "Unable to resolve handle");
  auto profiles = Get("/xrpc/app.bsky.actor.getProfiles?actors=" + a.did +
                      "&actors=alice.bsky.social&actors=ghost.example");
  ASSERT_EQ(profiles.json["profiles"].size(), 2u);
  EXPECT_EQ(profiles.json["profiles"][0]["followersCount"].i(), 12345);
  EXPECT_EQ(profiles.json["profiles"][1]["followersCount"].i(), 77);
  EXPECT_EQ(profiles.json["profiles"][1]["handle"].str, "alice.bsky.social");
  std::string many;
  for (int i = 0; i < 26; ++i)
    many += (i ? "&" : "") + std::string("actors=a") + std::to_string(i) + ".example";
  EXPECT_EQ(Get("/xrpc/app.bsky.actor.getProfiles?" + many).status, 400);
  EXPECT_EQ(
      Get("/xrpc/app.bsky.actor.getProfile?actor=janedoe.bsky.social").json["followersCount"].i(),
      12345);
  EXPECT_EQ(Get("/xrpc/app.bsky.actor.getProfile?actor=ghost.example").status, 400);
}

TEST_F(BlueskySimTest, QuoteEmbedsAreViews) {
  StartSim();
  const auto original = Add("original #T", kT0);
  BlueskySimPost q;
  q.author = {"bob.bsky.social"};
  q.text = "quoting";
  q.created_at_ms = kT0 + 1;
  q.quote_uri = original.uri;
  const auto quote = sim_->AddPost(q);
  q.text = "quoting with a picture";
  q.quote_with_media = true;
  q.created_at_ms = kT0 + 2;
  const auto with_media = sim_->AddPost(q);
  auto a = Get("/xrpc/app.bsky.feed.getPosts?uris=" + quote.uri + "&uris=" + with_media.uri);
  ASSERT_EQ(a.json["posts"].size(), 2u);
  const Json& e1 = a.json["posts"][0]["embed"];
  EXPECT_EQ(e1["$type"].str, "app.bsky.embed.record#view");
  EXPECT_EQ(e1["record"]["$type"].str, "app.bsky.embed.record#viewRecord");
  EXPECT_EQ(e1["record"]["uri"].str, original.uri);
  EXPECT_EQ(a.json["posts"][0]["record"]["embed"]["record"]["uri"].str, original.uri);
  const Json& e2 = a.json["posts"][1]["embed"];
  EXPECT_EQ(e2["$type"].str, "app.bsky.embed.recordWithMedia#view");
  EXPECT_EQ(e2["record"]["record"]["uri"].str, original.uri);
  sim_->DeletePost(original.uri);
  auto b = Get("/xrpc/app.bsky.feed.getPosts?uris=" + quote.uri);
  EXPECT_EQ(b.json["posts"][0]["embed"]["record"]["$type"].str,
            "app.bsky.embed.record#viewNotFound");
}

TEST_F(BlueskySimTest, InjectedFaults) {
  StartSim();
  Add("#T x", kT0);
  FaultPlan f;
  f.rate_limit_every = 2;
  f.error_500_every = 3;
  f.truncate_every = 5;
  f.non_json_every = 7;
  sim_->SetFaults(f);
  std::map<int, int> statuses;
  int truncated = 0;
  for (int i = 1; i <= 14; ++i) {
    auto a = Get("/xrpc/app.bsky.feed.searchPosts?q=%23T");
    ++statuses[a.status];
    if (a.status == 200 && !a.is_json) ++truncated;
    if (a.status == 429) {
      EXPECT_EQ(a.json["error"].str, "RateLimitExceeded");
      EXPECT_NE(a.Header("Retry-After"), "");
    }
    if (a.status == 500) {
      EXPECT_EQ(a.json["error"].str, "InternalServerError");
    }
    if (a.status == 502) {
      EXPECT_FALSE(a.is_json);
    }
  }
  EXPECT_EQ(statuses[429], 7);  // 2,4,6,8,10,12,14
  EXPECT_EQ(statuses[500], 2);  // 3 and 9; 6 and 12 were 429s
  EXPECT_EQ(truncated, 1);      // 5 (10 was a 429)
  EXPECT_EQ(statuses[502], 1);  // 7
  EXPECT_EQ(sim_->requests(), 14);
}

}  // namespace
}  // namespace chorus::sim
