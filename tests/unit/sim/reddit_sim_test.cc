#include "sim/reddit_sim.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/time.h"

namespace chorus::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kUa[] = "linux:org.example.chorus-test:v1.0 (by /u/chorus_ops)";

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    acc = (acc << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

// A small JSON reader, enough to walk the sim's answers: objects keep their key order.
struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool b = false;
  std::string text;  // number as written, or string value
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> fields;

  const Json* Get(std::string_view key) const {
    for (const auto& [k, v] : fields) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  const Json& operator[](std::string_view key) const {
    static const Json kMissing;
    const Json* v = Get(key);
    return v ? *v : kMissing;
  }
  std::vector<std::string> Keys() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : fields) out.push_back(k);
    return out;
  }

  static std::optional<Json> Parse(const std::string& s) {
    size_t pos = 0;
    Json out;
    if (!Value(s, pos, out)) return std::nullopt;
    Ws(s, pos);
    if (pos != s.size()) return std::nullopt;
    return out;
  }

 private:
  static void Ws(const std::string& s, size_t& p) {
    while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
  }
  static bool Lit(const std::string& s, size_t& p, std::string_view w) {
    if (s.compare(p, w.size(), w) != 0) return false;
    p += w.size();
    return true;
  }
  static bool String(const std::string& s, size_t& p, std::string& out) {
    if (p >= s.size() || s[p] != '"') return false;
    ++p;
    while (p < s.size()) {
      const char c = s[p++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p >= s.size()) return false;
      const char e = s[p++];
      if (e == 'u') {
        if (p + 4 > s.size()) return false;
        const unsigned cp = std::stoul(s.substr(p, 4), nullptr, 16);
        p += 4;
        if (cp < 0x80) {
          out += static_cast<char>(cp);
        } else {
          out += '?';  // the sim escapes only ASCII
        }
      } else if (e == 'n') {
        out += '\n';
      } else if (e == 't') {
        out += '\t';
      } else if (e == '"' || e == '\\' || e == '/') {
        out += e;
      } else {
        return false;
      }
    }
    return false;
  }
  static bool Value(const std::string& s, size_t& p, Json& out) {
    Ws(s, p);
    if (p >= s.size()) return false;
    const char c = s[p];
    if (c == '{') {
      out.type = kObject;
      ++p;
      Ws(s, p);
      if (p < s.size() && s[p] == '}') return ++p, true;
      while (true) {
        Ws(s, p);
        std::string key;
        if (!String(s, p, key)) return false;
        Ws(s, p);
        if (p >= s.size() || s[p++] != ':') return false;
        Json v;
        if (!Value(s, p, v)) return false;
        out.fields.emplace_back(std::move(key), std::move(v));
        Ws(s, p);
        if (p >= s.size()) return false;
        if (s[p] == ',') {
          ++p;
          continue;
        }
        return s[p++] == '}';
      }
    }
    if (c == '[') {
      out.type = kArray;
      ++p;
      Ws(s, p);
      if (p < s.size() && s[p] == ']') return ++p, true;
      while (true) {
        Json v;
        if (!Value(s, p, v)) return false;
        out.items.push_back(std::move(v));
        Ws(s, p);
        if (p >= s.size()) return false;
        if (s[p] == ',') {
          ++p;
          continue;
        }
        return s[p++] == ']';
      }
    }
    if (c == '"') {
      out.type = kString;
      return String(s, p, out.text);
    }
    if (Lit(s, p, "true")) return out.type = kBool, out.b = true, true;
    if (Lit(s, p, "false")) return out.type = kBool, true;
    if (Lit(s, p, "null")) return out.type = kNull, true;
    const size_t start = p;
    while (p < s.size() && (std::isdigit(static_cast<unsigned char>(s[p])) || s[p] == '-' ||
                            s[p] == '.' || s[p] == 'e' || s[p] == 'E' || s[p] == '+')) {
      ++p;
    }
    if (p == start) return false;
    out.type = kNumber;
    out.text = s.substr(start, p - start);
    return true;
  }
};

class RedditSimTest : public ::testing::Test {
 protected:
  void StartSim(RedditSimOptions options = {}) {
    sim_ = std::make_unique<RedditSim>(std::move(options));
    ASSERT_TRUE(sim_->Start().has_value());
    client_ = std::make_unique<httplib::Client>(sim_->base_url());
    client_->set_read_timeout(std::chrono::seconds(5));
  }

  httplib::Result PostToken(const std::string& id, const std::string& secret,
                            const std::string& body = "grant_type=client_credentials",
                            const std::string& ua = kUa,
                            const std::string& path = "/api/v1/access_token") {
    httplib::Headers h = {{"User-Agent", ua}};
    if (!id.empty()) {
      h.emplace("Authorization", "Basic " + Base64(id + ":" + secret));
    }
    return client_->Post(path.c_str(), h, body, "application/x-www-form-urlencoded");
  }

  std::string Token() {
    auto res = PostToken("sim-client-id", "sim-client-secret");
    EXPECT_TRUE(res && res->status == 200);
    if (!res) return "";
    auto json = Json::Parse(res->body);
    EXPECT_TRUE(json.has_value()) << res->body;
    return json ? (*json)["access_token"].text : "";
  }

  httplib::Result Get(const std::string& target, const std::string& token,
                      const std::string& ua = kUa) {
    httplib::Headers h = {{"User-Agent", ua}};
    if (!token.empty()) h.emplace("Authorization", "bearer " + token);
    return client_->Get(target.c_str(), h);
  }

  // GETs a Listing and returns it parsed; fails the test on anything else.
  Json Listing(const std::string& target, const std::string& token) {
    auto res = Get(target, token);
    EXPECT_TRUE(res) << target;
    if (!res) return {};
    EXPECT_EQ(res->status, 200) << target << ": " << res->body;
    auto json = Json::Parse(res->body);
    EXPECT_TRUE(json.has_value()) << res->body.substr(0, 300);
    return json.value_or(Json{});
  }

  static std::vector<std::string> Names(const Json& listing) {
    std::vector<std::string> out;
    for (const auto& child : listing["data"]["children"].items)
      out.push_back(child["data"]["name"].text);
    return out;
  }

  RedditSimPost Post(std::string title, std::string selftext, int64_t created_ms,
                     std::string author = "campaign_ops") {
    RedditSimPost p;
    p.title = std::move(title);
    p.selftext = std::move(selftext);
    p.created_at_ms = created_ms;
    p.author = std::move(author);
    return sim_->AddPost(p);
  }

  std::unique_ptr<RedditSim> sim_;
  std::unique_ptr<httplib::Client> client_;
};

constexpr int64_t kT0 = 1'776'062'531'000;  // 2026-04-13T06:42:11Z

TEST_F(RedditSimTest, TokenEndpointTakesBasicAuthAndAFormBody) {
  StartSim();
  auto ok = PostToken("sim-client-id", "sim-client-secret");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto json = Json::Parse(ok->body);
  ASSERT_TRUE(json.has_value()) << ok->body;
  EXPECT_FALSE((*json)["access_token"].text.empty());
  EXPECT_EQ((*json)["token_type"].text, "bearer");
  EXPECT_EQ((*json)["expires_in"].type, Json::kNumber);
  EXPECT_EQ((*json)["expires_in"].text, "86400");
  EXPECT_EQ((*json)["scope"].text, "*");
  EXPECT_FALSE(ok->has_header("x-ratelimit-remaining"));  // the token endpoint sends none
  EXPECT_EQ(sim_->token_requests(), 1);

  auto wrong = PostToken("sim-client-id", "not-the-secret");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(wrong->body, R"({"message": "Unauthorized", "error": 401})");
  auto none = PostToken("", "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);

  // The grant must be client_credentials, in the body: refusals are HTTP 200 with an error.
  auto password = PostToken("sim-client-id", "sim-client-secret", "grant_type=password");
  ASSERT_TRUE(password);
  EXPECT_EQ(password->status, 200);
  EXPECT_EQ(password->body, R"({"error": "unsupported_grant_type"})");
  auto in_query = PostToken("sim-client-id", "sim-client-secret", "", kUa,
                            "/api/v1/access_token?grant_type=client_credentials");
  ASSERT_TRUE(in_query);
  EXPECT_THAT(in_query->body, HasSubstr("unsupported_grant_type"));
  EXPECT_EQ(sim_->token_requests(), 1);
}

TEST_F(RedditSimTest, TokensAreRequiredAndExpire) {
  FakeClock clock(kT0);
  RedditSimOptions o;
  o.clock = &clock;
  o.token_lifetime_s = 10;
  StartSim(o);
  auto none = Get("/search?q=x&raw_json=1", "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->body, R"({"message": "Unauthorized", "error": 401})");
  EXPECT_THAT(none->get_header_value("www-authenticate"), HasSubstr("invalid_token"));
  auto bogus = Get("/search?q=x&raw_json=1", "made-up");
  ASSERT_TRUE(bogus);
  EXPECT_EQ(bogus->status, 401);

  auto ok = PostToken("sim-client-id", "sim-client-secret");
  ASSERT_TRUE(ok);
  auto json = Json::Parse(ok->body);
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ((*json)["expires_in"].text, "10");
  const std::string token = (*json)["access_token"].text;
  EXPECT_EQ(Get("/search?q=x&raw_json=1", token)->status, 200);
  clock.Advance(9'999);
  EXPECT_EQ(Get("/search?q=x&raw_json=1", token)->status, 200);
  clock.Advance(1);
  EXPECT_EQ(Get("/search?q=x&raw_json=1", token)->status, 401);

  const std::string fresh = Token();
  EXPECT_NE(fresh, token);
  EXPECT_EQ(Get("/search?q=x&raw_json=1", fresh)->status, 200);
  sim_->ExpireTokens();
  EXPECT_EQ(Get("/search?q=x&raw_json=1", fresh)->status, 401);
  EXPECT_EQ(sim_->token_requests(), 2);
}

TEST_F(RedditSimTest, MissingOrGenericUserAgentsAreBlocked) {
  StartSim();
  const std::string token = Token();
  for (const char* ua : {"", "   ", "python-requests/2.31.0", "curl/8.5.0", "cpp-httplib/0.11.4",
                         "Mozilla/5.0 (X11; Linux x86_64)", "chorus/0.1.0", "bot"}) {
    SCOPED_TRACE(ua);
    auto res = Get("/search?q=x&raw_json=1", token, ua);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403);
    EXPECT_THAT(res->get_header_value("Content-Type"), StartsWith("text/html"));
    EXPECT_THAT(res->body, HasSubstr("User-Agent"));
  }
  auto token_without_ua =
      PostToken("sim-client-id", "sim-client-secret", "grant_type=client_credentials", "");
  ASSERT_TRUE(token_without_ua);
  EXPECT_EQ(token_without_ua->status, 403);
  EXPECT_EQ(Get("/search?q=x&raw_json=1", token)->status, 200);

  // Without the strictness flag only a missing User-Agent is refused.
  RedditSimOptions lax;
  lax.strict_user_agent = false;
  StartSim(lax);
  const std::string t2 = Token();
  EXPECT_EQ(Get("/search?q=x&raw_json=1", t2, "python-requests/2.31.0")->status, 200);
  EXPECT_EQ(Get("/search?q=x&raw_json=1", t2, "")->status, 403);
}

TEST_F(RedditSimTest, ListingShapeAndT3Fields) {
  StartSim();
  RedditSimPost p;
  p.title = "Call your senator about #FundOurSchools";
  p.selftext = "Script & numbers below, ask u/SenJaneDoe";
  p.author = "Campaign_Ops";
  p.subreddit = "education";
  p.created_at_ms = kT0 + 789;  // served in whole seconds
  p.edited_at_ms = kT0 + 60'000;
  p.score = 213;
  p.num_comments = 41;
  p.num_crossposts = 2;
  p = sim_->AddPost(p);
  EXPECT_EQ(p.name, "t3_" + p.id);
  RedditSimPost xpost;
  xpost.title = "crossposted #FundOurSchools";
  xpost.author = "other";
  xpost.created_at_ms = kT0 - 1000;
  xpost.crosspost_parent = p.name;
  xpost.link_url = "https://example.org/article";
  xpost = sim_->AddPost(xpost);

  const std::string token = Token();
  auto res =
      Get("/search?q=%23FundOurSchools&sort=new&type=link&restrict_sr=false&limit=100&raw_json=1",
          token);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), StartsWith("application/json"));
  // created_utc is a float with ".0"; edited is a float once edited.
  EXPECT_THAT(res->body, HasSubstr("\"created_utc\": 1776062531.0"));
  EXPECT_THAT(res->body, HasSubstr("\"edited\": 1776062591.0"));
  EXPECT_THAT(res->body, HasSubstr("\"edited\": false"));
  EXPECT_THAT(res->body, HasSubstr("\\u003C!-- SC_OFF --\\u003E"));  // *_html fields, as Reddit
  auto json = Json::Parse(res->body);
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ((*json)["kind"].text, "Listing");
  const Json& data = (*json)["data"];
  EXPECT_THAT(data.Keys(), ::testing::ElementsAre("after", "dist", "facets", "modhash",
                                                  "geo_filter", "children", "before"));
  EXPECT_EQ(data["after"].type, Json::kNull);
  EXPECT_EQ(data["before"].type, Json::kNull);
  EXPECT_EQ(data["dist"].text, "2");
  EXPECT_EQ(data["modhash"].type, Json::kNull);
  ASSERT_EQ(data["children"].items.size(), 2u);
  const Json& c0 = data["children"].items[0];
  EXPECT_EQ(c0["kind"].text, "t3");
  const Json& d = c0["data"];
  EXPECT_EQ(d["name"].text, p.name);
  EXPECT_EQ(d["id"].text, p.id);
  EXPECT_EQ(d["title"].text, p.title);
  EXPECT_EQ(d["selftext"].text, "Script & numbers below, ask u/SenJaneDoe");  // raw_json=1
  EXPECT_EQ(d["author"].text, "Campaign_Ops");
  EXPECT_THAT(d["author_fullname"].text, StartsWith("t2_"));
  EXPECT_EQ(d["subreddit"].text, "education");
  EXPECT_EQ(d["subreddit_name_prefixed"].text, "r/education");
  EXPECT_THAT(d["subreddit_id"].text, StartsWith("t5_"));
  EXPECT_EQ(d["created_utc"].text, "1776062531.0");
  EXPECT_EQ(d["score"].text, "213");
  EXPECT_EQ(d["ups"].text, "213");
  EXPECT_EQ(d["downs"].text, "0");
  EXPECT_EQ(d["num_comments"].text, "41");
  EXPECT_EQ(d["num_crossposts"].text, "2");
  EXPECT_EQ(d["is_self"].type, Json::kBool);
  EXPECT_TRUE(d["is_self"].b);
  EXPECT_EQ(d["removed_by_category"].type, Json::kNull);
  EXPECT_THAT(d["permalink"].text, StartsWith("/r/education/comments/" + p.id + "/"));
  EXPECT_EQ(d["url"].text, "https://www.reddit.com" + d["permalink"].text);
  EXPECT_EQ(d.Get("crosspost_parent"), nullptr);
  const Json& d1 = data["children"].items[1]["data"];
  EXPECT_EQ(d1["crosspost_parent"].text, p.name);
  EXPECT_FALSE(d1["is_self"].b);
  EXPECT_EQ(d1["url"].text, "https://example.org/article");
  EXPECT_EQ(d1["selftext_html"].type, Json::kNull);
  EXPECT_EQ(sim_->served_fullnames(), (std::set<std::string>{p.name, xpost.name}));
}

TEST_F(RedditSimTest, StringsAreEntityEscapedUnlessRawJson) {
  StartSim();
  Post("Budget <draft> & #FundOurSchools", "a < b && c > d", kT0);
  const std::string token = Token();
  const Json raw = Listing("/search?q=FundOurSchools&raw_json=1", token);
  const Json& rd = raw["data"]["children"].items.at(0)["data"];
  EXPECT_EQ(rd["title"].text, "Budget <draft> & #FundOurSchools");
  EXPECT_EQ(rd["selftext"].text, "a < b && c > d");
  EXPECT_THAT(rd["selftext_html"].text, HasSubstr("<p>a &lt; b &amp;&amp; c &gt; d</p>"));
  const Json legacy = Listing("/search?q=FundOurSchools", token);
  const Json& ld = legacy["data"]["children"].items.at(0)["data"];
  EXPECT_EQ(ld["title"].text, "Budget &lt;draft&gt; &amp; #FundOurSchools");
  EXPECT_EQ(ld["selftext"].text, "a &lt; b &amp;&amp; c &gt; d");
  EXPECT_THAT(ld["selftext_html"].text, HasSubstr("&lt;p&gt;a &amp;lt; b"));
}

TEST_F(RedditSimTest, SearchFindsWordsNotHashtags) {
  StartSim();
  const auto tagged = Post("Please #FundOurSchools", "", kT0 - 1000);
  const auto plain = Post("fundourschools without a hash", "", kT0 - 2000);
  const auto longer = Post("#FundOurSchoolsNow", "", kT0 - 3000);
  const auto phrase = Post("About the school funding formula", "details", kT0 - 4000);
  const auto scattered = Post("formula for school funding", "", kT0 - 5000);
  const auto mention = Post("Thanks", "cc u/SenJaneDoe on this", kT0 - 6000);
  const auto removed = Post("#FundOurSchools gone", "", kT0 - 7000);
  sim_->Remove(removed.name, /*by_author=*/false);
  const std::string token = Token();

  EXPECT_THAT(Names(Listing("/search?q=%23FundOurSchools&sort=new&raw_json=1", token)),
              ::testing::ElementsAre(tagged.name, plain.name));
  EXPECT_THAT(
      Names(Listing("/search?q=%22school%20funding%20formula%22&sort=new&raw_json=1", token)),
      ::testing::ElementsAre(phrase.name));
  EXPECT_THAT(Names(Listing("/search?q=school%20funding%20formula&sort=new&raw_json=1", token)),
              ::testing::ElementsAre(phrase.name, scattered.name));
  EXPECT_THAT(Names(Listing("/search?q=u%2FSenJaneDoe&sort=new&raw_json=1", token)),
              ::testing::ElementsAre(mention.name));
  EXPECT_THAT(Names(Listing("/search?q=%23FundOurSchools&sort=new&type=sr&raw_json=1", token)),
              ::testing::IsEmpty());
  EXPECT_THAT(Names(Listing("/search?q=&raw_json=1", token)), ::testing::IsEmpty());
  // Restricted to a subreddit: only with a truthy restrict_sr ("0" is true in r2's VBoolean).
  EXPECT_THAT(Names(Listing("/r/other/search?q=%23FundOurSchools&restrict_sr=1&raw_json=1", token)),
              ::testing::IsEmpty());
  EXPECT_THAT(Names(Listing("/r/other/search?q=%23FundOurSchools&restrict_sr=0&raw_json=1", token)),
              ::testing::IsEmpty());
  EXPECT_EQ(
      Names(Listing("/r/other/search?q=%23FundOurSchools&restrict_sr=false&raw_json=1", token))
          .size(),
      2u);
  EXPECT_EQ(Names(Listing("/search.json?q=%23FundOurSchools&raw_json=1", token)).size(), 2u);
}

TEST_F(RedditSimTest, AfterAndBeforePageThroughNewestFirst) {
  StartSim();
  std::vector<std::string> all;  // newest first
  for (int i = 0; i < 250; ++i) {
    all.insert(all.begin(), Post("#Tag post " + std::to_string(i), "", kT0 + i * 1000).name);
  }
  const std::string token = Token();
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  while (true) {
    const Json page = Listing("/search?q=%23Tag&sort=new&type=link&limit=100&raw_json=1" +
                                  (after.empty() ? "" : "&after=" + after),
                              token);
    const auto names = Names(page);
    seen.insert(seen.end(), names.begin(), names.end());
    EXPECT_EQ(page["data"]["dist"].text, std::to_string(names.size()));
    if (pages > 0) {
      EXPECT_EQ(page["data"]["before"].text, names.front());
    }
    ++pages;
    if (page["data"]["after"].type == Json::kNull) break;
    after = page["data"]["after"].text;
    EXPECT_EQ(after, names.back());
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, all);

  // before: the page just above the anchor.
  EXPECT_THAT(
      Names(Listing("/search?q=%23Tag&sort=new&limit=2&raw_json=1&before=" + all[5], token)),
      ::testing::ElementsAre(all[3], all[4]));
  // Default limit 25, at most 100.
  EXPECT_EQ(Names(Listing("/search?q=%23Tag&sort=new&raw_json=1", token)).size(), 25u);
  EXPECT_EQ(Names(Listing("/search?q=%23Tag&sort=new&limit=1000&raw_json=1", token)).size(), 100u);
  // An anchor that is gone (removed posts leave the index) yields an empty page: the hazard
  // platform-apis.md §4.5 warns of.
  sim_->Remove(all[10], true);
  const Json vanished =
      Listing("/search?q=%23Tag&sort=new&limit=5&raw_json=1&after=" + all[10], token);
  EXPECT_THAT(Names(vanished), ::testing::IsEmpty());
  EXPECT_EQ(vanished["data"]["after"].type, Json::kNull);
}

TEST_F(RedditSimTest, ListingsStopAtTheirCap) {
  RedditSimOptions o;
  o.listing_cap = 30;
  StartSim(o);
  for (int i = 0; i < 50; ++i) Post("#Tag " + std::to_string(i), "", kT0 + i * 1000);
  const std::string token = Token();
  const Json first = Listing("/search?q=%23Tag&sort=new&limit=20&raw_json=1", token);
  const Json second = Listing(
      "/search?q=%23Tag&sort=new&limit=20&raw_json=1&after=" + first["data"]["after"].text, token);
  EXPECT_EQ(Names(second).size(), 10u);
  EXPECT_EQ(second["data"]["after"].type, Json::kNull);
}

TEST_F(RedditSimTest, UserSubmittedAndInfo) {
  StartSim();
  const auto a = Post("first", "", kT0 - 3000, "SenJaneDoe");
  const auto b = Post("second", "", kT0 - 2000, "senjanedoe");
  Post("someone else", "", kT0 - 1000, "other");
  const std::string token = Token();
  EXPECT_THAT(Names(Listing("/user/SenJaneDoe/submitted?sort=new&raw_json=1", token)),
              ::testing::ElementsAre(b.name, a.name));
  auto unknown = Get("/user/nobody_here/submitted?sort=new&raw_json=1", token);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->body, R"({"message": "Not Found", "error": 404})");
  sim_->AddUser("quiet_rep");
  EXPECT_THAT(Names(Listing("/user/quiet_rep/submitted?raw_json=1", token)), ::testing::IsEmpty());

  // /api/info keeps the request order, skips unknown ids and still returns deleted posts.
  sim_->Remove(a.name, /*by_author=*/true);
  sim_->Remove(b.name, /*by_author=*/false);
  ASSERT_TRUE(sim_->SetEngagement(b.name, 99, 7, 1));
  EXPECT_FALSE(sim_->SetEngagement("t3_nope", 1, 1, 1));
  const Json info = Listing("/api/info?id=" + b.name + ",t3_nope," + a.name + "&raw_json=1", token);
  ASSERT_EQ(info["data"]["children"].items.size(), 2u);
  const Json& ib = info["data"]["children"].items[0]["data"];
  EXPECT_EQ(ib["name"].text, b.name);
  EXPECT_EQ(ib["selftext"].text, "[removed]");
  EXPECT_EQ(ib["removed_by_category"].text, "moderator");
  EXPECT_EQ(ib["author"].text, "senjanedoe");
  EXPECT_EQ(ib["score"].text, "99");
  EXPECT_EQ(ib["num_comments"].text, "7");
  const Json& ia = info["data"]["children"].items[1]["data"];
  EXPECT_EQ(ia["author"].text, "[deleted]");
  EXPECT_EQ(ia["selftext"].text, "[deleted]");
  EXPECT_EQ(ia.Get("author_fullname"), nullptr);
  // Removed and deleted posts leave the user's listing and search.
  EXPECT_THAT(Names(Listing("/user/SenJaneDoe/submitted?sort=new&raw_json=1", token)),
              ::testing::IsEmpty());

  std::string many = "/api/info?id=";
  for (int i = 0; i < 101; ++i) many += (i ? ",t3_" : "t3_") + std::to_string(i);
  auto too_many = Get(many, token);
  ASSERT_TRUE(too_many);
  EXPECT_EQ(too_many->status, 400);
  auto unknown_path = Get("/api/v1/me", token);
  ASSERT_TRUE(unknown_path);
  EXPECT_EQ(unknown_path->status, 404);
}

TEST_F(RedditSimTest, RateLimitHeadersCountDownToAClockAlignedWindow) {
  FakeClock clock(kT0);  // 06:42:11: the window ends at 06:50:00, 469 s away
  RedditSimOptions o;
  o.clock = &clock;
  o.rate_limit = 3;
  StartSim(o);
  const std::string token = Token();
  auto r1 = Get("/search?q=x&raw_json=1", token);
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->get_header_value("x-ratelimit-used"), "1");
  EXPECT_EQ(r1->get_header_value("x-ratelimit-remaining"), "2.0");
  EXPECT_EQ(r1->get_header_value("x-ratelimit-reset"), "469");
  clock.Advance(69'000);
  auto r2 = Get("/search?q=x&raw_json=1", token);
  EXPECT_EQ(r2->get_header_value("x-ratelimit-used"), "2");
  EXPECT_EQ(r2->get_header_value("x-ratelimit-reset"), "400");
  EXPECT_EQ(Get("/search?q=x&raw_json=1", token)->status, 200);
  auto over = Get("/search?q=x&raw_json=1", token);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 429);
  EXPECT_EQ(over->body, R"({"message": "Too Many Requests", "error": 429})");
  EXPECT_EQ(over->get_header_value("x-ratelimit-remaining"), "0.0");
  clock.Set(kT0 + 469'000);  // 06:50:00, a new window
  auto fresh = Get("/search?q=x&raw_json=1", token);
  EXPECT_EQ(fresh->status, 200);
  EXPECT_EQ(fresh->get_header_value("x-ratelimit-used"), "1");
  EXPECT_EQ(fresh->get_header_value("x-ratelimit-reset"), "600");
  EXPECT_EQ(sim_->responses_by_status()[429], 1);
}

TEST_F(RedditSimTest, FaultsAreDeterministic) {
  StartSim();
  Post("#Tag one", "", kT0);
  const std::string token = Token();
  FaultPlan plan;
  plan.rate_limit_every = 2;
  plan.error_500_every = 3;
  plan.non_json_every = 5;
  plan.truncate_every = 7;
  sim_->SetFaults(plan);
  std::vector<int> statuses;
  std::vector<bool> json_ok;
  for (int i = 1; i <= 7; ++i) {
    auto res = Get("/search?q=%23Tag&raw_json=1", token);
    ASSERT_TRUE(res);
    statuses.push_back(res->status);
    json_ok.push_back(Json::Parse(res->body).has_value());
  }
  EXPECT_THAT(statuses, ::testing::ElementsAre(200, 429, 500, 429, 503, 429, 200));
  EXPECT_THAT(json_ok, ::testing::ElementsAre(true, true, true, true, false, true, false));
  const auto by_status = sim_->responses_by_status();
  EXPECT_EQ(by_status.at(429), 3);
  EXPECT_EQ(by_status.at(503), 1);
  EXPECT_EQ(sim_->requests(), 8);  // the token request counts too
  EXPECT_EQ(sim_->api_targets().size(), 7u);
  EXPECT_EQ(sim_->api_targets().front(), "/search?q=%23Tag&raw_json=1");
}

TEST_F(RedditSimTest, TruncatedAnswersAreNotServed) {
  StartSim();
  const auto p = Post("#Tag one", "", kT0);
  const std::string token = Token();
  FaultPlan plan;
  plan.truncate_every = 1;
  sim_->SetFaults(plan);
  auto res = Get("/search?q=%23Tag&raw_json=1", token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_FALSE(Json::Parse(res->body).has_value());
  EXPECT_TRUE(sim_->served_fullnames().empty());
  sim_->SetFaults({});
  Listing("/search?q=%23Tag&raw_json=1", token);
  EXPECT_EQ(sim_->served_fullnames(), std::set<std::string>{p.name});
}

}  // namespace
}  // namespace chorus::sim
