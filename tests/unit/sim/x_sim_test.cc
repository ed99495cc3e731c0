#include "sim/x_sim.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/time.h"

namespace chorus::sim {
namespace {

// A small strict JSON reader: enough to check the shape of the sim's bodies (which keys are
// present, arrays, strings), and to tell a whole body from a cut one.
struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool b = false;
  double n = 0;
  std::string s;  // strings (\uXXXX kept escaped except ASCII), numbers as written
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> fields;

  bool Has(const std::string& k) const {
    for (const auto& f : fields) {
      if (f.first == k) return true;
    }
    return false;
  }
  const Json& operator[](const std::string& k) const {
    static const Json kMissing;
    for (const auto& f : fields) {
      if (f.first == k) return f.second;
    }
    return kMissing;
  }
  const Json& operator[](size_t i) const { return items.at(i); }
  size_t size() const { return type == kArray ? items.size() : fields.size(); }
  std::vector<std::string> Keys() const {
    std::vector<std::string> out;
    for (const auto& f : fields) out.push_back(f.first);
    return out;
  }
};

class JsonReader {
 public:
  static std::optional<Json> Parse(const std::string& s) {
    JsonReader r(s);
    Json v;
    r.Ws();
    if (!r.Value(v)) return std::nullopt;
    r.Ws();
    if (r.pos_ != s.size()) return std::nullopt;
    return v;
  }

 private:
  explicit JsonReader(const std::string& s) : s_(s) {}
  void Ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
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
        const std::string hex = s_.substr(pos_, 4);
        for (char h : hex) {
          if (!std::isxdigit(static_cast<unsigned char>(h))) return false;
        }
        const unsigned v = static_cast<unsigned>(std::stoul(hex, nullptr, 16));
        if (v < 0x80) {
          out += static_cast<char>(v);
        } else {
          out += "\\u" + hex;
        }
        pos_ += 4;
      } else if (e == 'n') {
        out += '\n';
      } else if (std::string("\"\\/bfrt").find(e) != std::string::npos) {
        out += e;
      } else {
        return false;
      }
    }
    return false;
  }
  bool Value(Json& v) {
    if (pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (c == '{') {
      v.type = Json::kObject;
      ++pos_;
      Ws();
      if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
      while (true) {
        Ws();
        std::pair<std::string, Json> f;
        if (!String(f.first)) return false;
        Ws();
        if (pos_ >= s_.size() || s_[pos_++] != ':') return false;
        Ws();
        if (!Value(f.second)) return false;
        v.fields.push_back(std::move(f));
        Ws();
        if (pos_ >= s_.size()) return false;
        const char d = s_[pos_++];
        if (d == '}') return true;
        if (d != ',') return false;
      }
    }
    if (c == '[') {
      v.type = Json::kArray;
      ++pos_;
      Ws();
      if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
      while (true) {
        Ws();
        Json item;
        if (!Value(item)) return false;
        v.items.push_back(std::move(item));
        Ws();
        if (pos_ >= s_.size()) return false;
        const char d = s_[pos_++];
        if (d == ']') return true;
        if (d != ',') return false;
      }
    }
    if (c == '"') {
      v.type = Json::kString;
      return String(v.s);
    }
    if (c == 't') return v.type = Json::kBool, v.b = true, Lit("true");
    if (c == 'f') return v.type = Json::kBool, Lit("false");
    if (c == 'n') return Lit("null");
    const size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    while (pos_ < s_.size() &&
           (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
            s_[pos_] == 'e' || s_[pos_] == 'E' || s_[pos_] == '+' || s_[pos_] == '-')) {
      ++pos_;
    }
    if (pos_ == start) return false;
    v.type = Json::kNumber;
    v.s = s_.substr(start, pos_ - start);
    v.n = std::stod(v.s);
    return true;
  }
  const std::string& s_;
  size_t pos_ = 0;
};

constexpr char kToken[] = "AAAA-test-bearer";
constexpr char kFields[] =
    "&tweet.fields=created_at,public_metrics,entities,referenced_tweets,author_id,conversation_id,"
    "edit_history_tweet_ids,in_reply_to_user_id&expansions=author_id,referenced_tweets.id,"
    "entities.mentions.username,referenced_tweets.id.author_id&user.fields=public_metrics,username";

std::string Enc(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

class XSimTest : public ::testing::Test {
 protected:
  void StartSim(XSimOptions options = {}) {
    options.clock = &clock_;
    sim_ = std::make_unique<XSim>(std::move(options));
    auto started = sim_->Start();
    ASSERT_TRUE(started.has_value()) << started.error().ToString();
    ASSERT_GT(sim_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", sim_->port());
    client_->set_connection_timeout(2, 0);
    client_->set_read_timeout(3, 0);
  }

  httplib::Result Get(const std::string& path, bool auth = true,
                      const std::string& token = kToken) {
    httplib::Headers h;
    if (auth) h.emplace("Authorization", "Bearer " + token);
    return client_->Get(path, h);
  }

  // GETs and parses a JSON body, expecting `status`.
  Json GetJson(const std::string& path, int status = 200) {
    auto res = Get(path);
    EXPECT_TRUE(res) << path;
    if (!res) return {};
    EXPECT_EQ(res->status, status) << path << "\n" << res->body;
    auto json = JsonReader::Parse(res->body);
    EXPECT_TRUE(json.has_value()) << "not JSON: " << res->body;
    return json.value_or(Json{});
  }

  Json Search(const std::string& query, const std::string& extra = "", int status = 200) {
    return GetJson("/2/tweets/search/recent?query=" + Enc(query) + extra + kFields, status);
  }

  XSimPost Post(const std::string& user, int64_t minutes_ago, const std::string& text,
                int64_t followers = 120) {
    XSimPost p;
    p.author.username = user;
    p.author.followers = followers;
    p.created_at_ms = clock_.NowMs() - minutes_ago * 60'000;
    p.text = text;
    return sim_->AddPost(p);
  }

  static std::vector<std::string> Ids(const Json& body) {
    std::vector<std::string> out;
    for (const auto& item : body["data"].items) out.push_back(item["id"].s);
    return out;
  }

  FakeClock clock_{*ParseRfc3339Ms("2026-03-10T14:05:00Z")};
  std::unique_ptr<XSim> sim_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(XSimTest, SearchServesPostsNewestFirstWithFieldsAndExpansions) {
  StartSim();
  sim_->AddUser({"SenJaneDoe", 50'000, ""});
  auto a = Post("alice_for_air", 30, "Tell @SenJaneDoe to back #FundOurSchools now", 1203);
  auto b = Post("alice_for_air", 20, "Again: #FundOurSchools!", 1203);
  auto c = Post("bob", 10, "I agree #fundourschools", 7);
  Post("carol", 5, "nothing to see #Cats");
  const Json body = Search("(#FundOurSchools OR @SenJaneDoe)");
  EXPECT_EQ(Ids(body), (std::vector<std::string>{std::to_string(c.id), std::to_string(b.id),
                                                 std::to_string(a.id)}));
  EXPECT_GT(a.id, 0u);
  EXPECT_LT(a.id, b.id);
  EXPECT_EQ(XSimTimeMsFromId(a.id), a.created_at_ms);  // snowflake of created_at

  const Json& first = body["data"][2];
  EXPECT_EQ(first["text"].s, "Tell @SenJaneDoe to back #FundOurSchools now");
  EXPECT_EQ(first["created_at"].s, FormatRfc3339Ms(a.created_at_ms));
  EXPECT_EQ(first["edit_history_tweet_ids"].size(), 1u);
  EXPECT_EQ(first["edit_history_tweet_ids"][0].s, std::to_string(a.id));
  EXPECT_EQ(first["conversation_id"].s, std::to_string(a.id));
  EXPECT_EQ(first["entities"]["mentions"][0]["username"].s, "SenJaneDoe");
  EXPECT_EQ(first["entities"]["mentions"][0]["start"].s, "5");
  EXPECT_EQ(first["entities"]["mentions"][0]["end"].s, "16");
  EXPECT_EQ(first["entities"]["hashtags"][0]["tag"].s, "FundOurSchools");
  EXPECT_EQ(first["entities"]["hashtags"][0]["start"].s, "25");
  EXPECT_EQ(first["entities"]["hashtags"][0]["end"].s, "40");
  for (const char* k : {"retweet_count", "reply_count", "like_count", "quote_count",
                        "bookmark_count", "impression_count"}) {
    EXPECT_TRUE(first["public_metrics"].Has(k)) << k;
  }
  EXPECT_FALSE(first.Has("referenced_tweets"));  // omitted, not empty
  EXPECT_FALSE(body["data"][0]["entities"].Has("mentions"));
  EXPECT_FALSE(body.Has("errors"));

  // includes.users: one entry per user, authors and mentioned users alike.
  std::multiset<std::string> users;
  for (const auto& u : body["includes"]["users"].items) {
    users.insert(u["username"].s);
    EXPECT_TRUE(u.Has("id"));
    EXPECT_TRUE(u.Has("name"));
    EXPECT_TRUE(u["public_metrics"].Has("followers_count"));
  }
  EXPECT_EQ(users, (std::multiset<std::string>{"alice_for_air", "SenJaneDoe", "bob"}));
  EXPECT_EQ(body["meta"]["newest_id"].s, std::to_string(c.id));
  EXPECT_EQ(body["meta"]["oldest_id"].s, std::to_string(a.id));
  EXPECT_EQ(body["meta"]["result_count"].s, "3");
  EXPECT_FALSE(body["meta"].Has("next_token"));
}

TEST_F(XSimTest, WithoutFieldsOnlyTheDefaultsAreServed) {
  StartSim();
  Post("alice", 10, "#FundOurSchools");
  auto res = Get("/2/tweets/search/recent?query=%23FundOurSchools");
  ASSERT_TRUE(res);
  const auto body = JsonReader::Parse(res->body);
  ASSERT_TRUE(body);
  EXPECT_EQ((*body)["data"][0].Keys(),
            (std::vector<std::string>{"id", "text", "edit_history_tweet_ids"}));
  EXPECT_FALSE(body->Has("includes"));
}

TEST_F(XSimTest, EmptyResultOmitsData) {
  StartSim();
  Post("alice", 10, "#Cats");
  auto res = Get("/2/tweets/search/recent?query=%23FundOurSchools" + std::string(kFields));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"meta":{"result_count":0}})");
}

TEST_F(XSimTest, NextTokenOnlyWhileMorePagesExist) {
  StartSim();
  std::vector<std::string> all;
  for (int i = 0; i < 25; ++i)
    all.insert(all.begin(), std::to_string(Post("u" + std::to_string(i), 100 - i, "#Tag").id));
  std::vector<std::string> seen;
  std::string token;
  std::vector<size_t> sizes;
  for (int page = 0; page < 5; ++page) {
    const Json body =
        Search("#tag", "&max_results=10" + (token.empty() ? "" : "&next_token=" + token));
    const auto ids = Ids(body);
    sizes.push_back(ids.size());
    seen.insert(seen.end(), ids.begin(), ids.end());
    if (!body["meta"].Has("next_token")) break;
    const std::string next = body["meta"]["next_token"].s;
    // The token replays identically.
    EXPECT_EQ(Ids(Search("#tag", "&max_results=10&next_token=" + next)),
              Ids(Search("#tag", "&max_results=10&pagination_token=" + next)));
    token = next;
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{10, 10, 5}));
  EXPECT_EQ(seen, all);
  // Exactly max_results left: the page is full and still the last one.
  const Json last = Search("#tag", "&max_results=25");
  EXPECT_EQ(Ids(last).size(), 25u);
  EXPECT_FALSE(last["meta"].Has("next_token"));
  // A token of another query is refused.
  const Json other = Search("#other", "&max_results=10&next_token=" + token, 400);
  EXPECT_EQ(other["title"].s, "Invalid Request");
  EXPECT_EQ(Search("#tag", "&next_token=zzz", 400)["type"].s,
            "https://api.twitter.com/2/problems/invalid-request");
}

TEST_F(XSimTest, SinceUntilAndTimeWindows) {
  StartSim();
  std::vector<XSimPost> p;
  for (int i = 0; i < 6; ++i) p.push_back(Post("u", 60 - i * 10, "#Tag"));  // 60..10 minutes ago
  auto id = [&](int i) { return std::to_string(p[i].id); };
  EXPECT_EQ(Ids(Search("#tag", "&since_id=" + id(3))), (std::vector<std::string>{id(5), id(4)}));
  EXPECT_EQ(Ids(Search("#tag", "&until_id=" + id(2))), (std::vector<std::string>{id(1), id(0)}));
  EXPECT_EQ(Ids(Search("#tag", "&since_id=" + id(1) + "&until_id=" + id(4))),
            (std::vector<std::string>{id(3), id(2)}));
  const std::string start = FormatRfc3339Ms(p[4].created_at_ms).substr(0, 19) + "Z";
  EXPECT_EQ(Ids(Search("#tag", "&start_time=" + Enc(start))),
            (std::vector<std::string>{id(5), id(4)}));
  const std::string end = FormatRfc3339Ms(p[1].created_at_ms).substr(0, 19) + "Z";
  EXPECT_EQ(Ids(Search("#tag", "&end_time=" + Enc(end))),
            (std::vector<std::string>{id(0)}));  // exclusive

  // Index lag: by default end_time is now - 30 s.
  auto fresh = Post("u", 0, "#Tag");
  EXPECT_EQ(Ids(Search("#tag")).front(), id(5));
  clock_.Advance(31'000);
  EXPECT_EQ(Ids(Search("#tag")).front(), std::to_string(fresh.id));
  // Older than the 7-day window of recent search: never served.
  Post("u", 8 * 24 * 60, "#Tag");
  EXPECT_EQ(Ids(Search("#tag")).size(), 7u);
}

TEST_F(XSimTest, InvalidParametersAre400Problems) {
  StartSim();
  Post("u", 10, "#Tag");
  const std::string old_start =
      Enc(FormatRfc3339Ms(clock_.NowMs() - 8 * 86'400'000LL).substr(0, 19) + "Z");
  const std::string recent_start =
      Enc(FormatRfc3339Ms(clock_.NowMs() - 3'600'000).substr(0, 19) + "Z");
  const std::string old_id = std::to_string(XSimIdFromTimeMs(clock_.NowMs() - 8 * 86'400'000LL));
  struct Case {
    std::string extra, parameter;
  };
  const std::vector<Case> cases = {
      {"&max_results=5", "max_results"},
      {"&max_results=101", "max_results"},
      {"&max_results=ten", "max_results"},
      {"&since_id=abc", "since_id"},
      {"&until_id=12345678901234567890", "until_id"},
      {"&since_id=1&start_time=" + recent_start, "since_id"},
      {"&until_id=1&end_time=" + recent_start, "until_id"},
      {"&next_token=a&pagination_token=a", "next_token"},
      {"&start_time=" + old_start, "start_time"},
      {"&start_time=yesterday", "start_time"},
      {"&since_id=" + old_id, "since_id"},
      {"&sort_order=oldest", "sort_order"},
      {"&bogus=1", "bogus"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.extra);
    const Json body = Search("#tag", c.extra, 400);
    EXPECT_EQ(body["title"].s, "Invalid Request");
    EXPECT_EQ(body["detail"].s, "One or more parameters to your request was invalid.");
    EXPECT_EQ(body["type"].s, "https://api.twitter.com/2/problems/invalid-request");
    ASSERT_EQ(body["errors"].size(), 1u);
    EXPECT_TRUE(body["errors"][0]["parameters"].Has(c.parameter)) << body["errors"][0]["message"].s;
    EXPECT_FALSE(body["errors"][0]["message"].s.empty());
  }
  EXPECT_EQ(Search("#tag", "&max_results=5", 400)["errors"][0]["message"].s,
            "The `max_results` query parameter value [5] is not between 10 and 100");
  // The query itself: too long, unbalanced, empty, unknown operator, unknown field values.
  EXPECT_EQ(Search("(" + std::string(600, 'a') + ")", "", 400)["title"].s, "Invalid Request");
  EXPECT_EQ(Search("(#a OR #b", "", 400)["title"].s, "Invalid Request");
  EXPECT_EQ(Search("#a OR", "", 400)["title"].s, "Invalid Request");
  EXPECT_EQ(Search("()", "", 400)["title"].s, "Invalid Request");
  EXPECT_EQ(Search("\"open phrase", "", 400)["title"].s, "Invalid Request");
  EXPECT_EQ(Search("bogus:op", "", 400)["title"].s, "Invalid Request");
  EXPECT_EQ(GetJson("/2/tweets/search/recent", 400)["title"].s, "Invalid Request");
  EXPECT_EQ(GetJson("/2/tweets/search/recent?query=%23a&tweet.fields=colour", 400)["title"].s,
            "Invalid Request");
  EXPECT_EQ(GetJson("/2/tweets/search/recent?query=%23a&expansions=everything", 400)["title"].s,
            "Invalid Request");
  // Exactly 512 characters is allowed.
  std::string q = "(#tag OR " + std::string(512 - 10, 'w') + ")";
  ASSERT_EQ(q.size(), 512u);
  EXPECT_EQ(Ids(Search(q)).size(), 1u);
}

TEST_F(XSimTest, QueryLanguage) {
  StartSim();
  auto a = Post("alice", 50, "School funding formula now! #FundOurSchools @SenJaneDoe");
  auto b = Post("bob", 40, "the school funding formulas are odd #EdEquity");
  auto c = Post("SenJaneDoe", 30, "Thanks all #FundOurSchools");
  XSimPost reply;
  reply.author.username = "dan";
  reply.created_at_ms = clock_.NowMs() - 20 * 60'000;
  reply.text = "@SenJaneDoe why?";
  reply.reply_to = c.id;
  reply = sim_->AddPost(reply);
  auto ids = [&](const std::string& q) {
    std::set<uint64_t> out;
    for (const auto& s : Ids(Search(q))) out.insert(std::stoull(s));
    return out;
  };
  using S = std::set<uint64_t>;
  EXPECT_EQ(ids("\"school funding formula\""), (S{a.id}));  // phrase on word boundaries
  EXPECT_EQ(ids("#fundourschools OR #EDEQUITY"), (S{a.id, b.id, c.id}));
  EXPECT_EQ(ids("#fundourschools -from:senjanedoe"), (S{a.id}));
  EXPECT_EQ(ids("@senjanedoe"), (S{a.id, reply.id}));  // mentions, not the author's own posts
  EXPECT_EQ(ids("(@senjanedoe OR #edequity) -is:reply"), (S{a.id, b.id}));
  EXPECT_EQ(ids("to:SenJaneDoe"), (S{reply.id}));
  EXPECT_EQ(ids("is:reply"), (S{reply.id}));
  EXPECT_EQ(ids("odd #edequity"), (S{b.id}));            // implicit AND
  EXPECT_EQ(ids("odd OR thanks #edequity"), (S{b.id}));  // AND binds tighter than OR
  EXPECT_EQ(ids("#nope OR (thanks #fundourschools)"), (S{c.id}));
}

TEST_F(XSimTest, RetweetsReferenceTheirOriginal) {
  StartSim();
  auto original = Post("alice", 60, "Back #FundOurSchools & more <3", 500);
  sim_->SetEngagement(original.id, 40, 3, 2, 1);
  XSimPost rt;
  rt.author.username = "bob";
  rt.created_at_ms = clock_.NowMs() - 10 * 60'000;
  rt.retweet_of = original.id;
  rt = sim_->AddPost(rt);
  const Json body = Search("#fundourschools");
  ASSERT_EQ(Ids(body),
            (std::vector<std::string>{std::to_string(rt.id), std::to_string(original.id)}));
  const Json& r = body["data"][0];
  EXPECT_EQ(r["text"].s, "RT @alice: Back #FundOurSchools &amp; more &lt;3");
  EXPECT_EQ(r["referenced_tweets"][0]["type"].s, "retweeted");
  EXPECT_EQ(r["referenced_tweets"][0]["id"].s, std::to_string(original.id));
  EXPECT_EQ(r["public_metrics"]["retweet_count"].s, "3");
  EXPECT_EQ(r["public_metrics"]["like_count"].s, "0");
  EXPECT_EQ(r["entities"]["mentions"][0]["username"].s, "alice");
  ASSERT_EQ(body["includes"]["tweets"].size(), 1u);
  EXPECT_EQ(body["includes"]["tweets"][0]["id"].s, std::to_string(original.id));
  EXPECT_EQ(body["includes"]["tweets"][0]["public_metrics"]["like_count"].s, "40");
  EXPECT_EQ(body["includes"]["users"].size(), 2u);  // bob and alice, alice once

  sim_->Stop();
  XSimOptions o;
  o.serve_retweets = false;
  StartSim(o);
  original = Post("alice", 60, "#FundOurSchools");
  rt.id = 0;
  rt.retweet_of = original.id;
  sim_->AddPost(rt);
  EXPECT_EQ(Ids(Search("#fundourschools")),
            (std::vector<std::string>{std::to_string(original.id)}));
}

TEST_F(XSimTest, EditsGetNewIdsAndListTheirHistory) {
  StartSim();
  auto v1 = Post("alice", 30, "#FundOurSchools typo");
  XSimPost edit;
  edit.author.username = "alice";
  edit.created_at_ms = clock_.NowMs() - 25 * 60'000;
  edit.text = "#FundOurSchools fixed";
  edit.edit_of = v1.id;
  auto v2 = sim_->AddPost(edit);
  EXPECT_GT(v2.id, v1.id);
  const Json body = Search("#fundourschools");
  ASSERT_EQ(Ids(body),
            (std::vector<std::string>{std::to_string(v2.id)}));  // the newest version only
  const Json& history = body["data"][0]["edit_history_tweet_ids"];
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].s, std::to_string(v1.id));
  EXPECT_EQ(history[1].s, std::to_string(v2.id));
  // Looking up the first version finds it, with the whole chain.
  const Json old = GetJson("/2/tweets?ids=" + std::to_string(v1.id) + kFields);
  EXPECT_EQ(old["data"][0]["text"].s, "#FundOurSchools typo");
  EXPECT_EQ(old["data"][0]["edit_history_tweet_ids"].size(), 2u);
}

TEST_F(XSimTest, LookupByIdsWithPartialErrors) {
  StartSim();
  auto a = Post("alice", 30, "#A");
  auto b = Post("bob", 20, "#B");
  ASSERT_TRUE(sim_->DeletePost(b.id));
  const Json body = GetJson("/2/tweets?ids=" + std::to_string(b.id) + "," + std::to_string(a.id) +
                            ",42" + kFields);
  EXPECT_EQ(Ids(body), (std::vector<std::string>{std::to_string(a.id)}));
  ASSERT_EQ(body["errors"].size(), 2u);
  const Json& e = body["errors"][0];
  EXPECT_EQ(e["value"].s, std::to_string(b.id));
  EXPECT_EQ(e["title"].s, "Not Found Error");
  EXPECT_EQ(e["resource_type"].s, "tweet");
  EXPECT_EQ(e["parameter"].s, "ids");
  EXPECT_EQ(e["type"].s, "https://api.twitter.com/2/problems/resource-not-found");
  EXPECT_EQ(e["detail"].s, "Could not find tweet with ids: [" + std::to_string(b.id) + "].");
  EXPECT_FALSE(body.Has("meta"));
  // At most 100 ids; each must be an id.
  std::string many;
  for (int i = 1; i <= 101; ++i) many += (i > 1 ? "," : "") + std::to_string(i);
  EXPECT_EQ(GetJson("/2/tweets?ids=" + many, 400)["title"].s, "Invalid Request");
  EXPECT_EQ(GetJson("/2/tweets?ids=1,x", 400)["title"].s, "Invalid Request");
  // A single post is an object.
  const Json one = GetJson("/2/tweets/" + std::to_string(a.id) + "?tweet.fields=created_at");
  EXPECT_EQ(one["data"].type, Json::kObject);
  EXPECT_EQ(one["data"]["id"].s, std::to_string(a.id));
}

TEST_F(XSimTest, DeletedReferencedPostIsAPartialErrorOfTheSearch) {
  StartSim();
  auto parent = Post("alice", 30, "first");
  XSimPost reply;
  reply.author.username = "bob";
  reply.created_at_ms = clock_.NowMs() - 10 * 60'000;
  reply.text = "@alice #FundOurSchools indeed";
  reply.reply_to = parent.id;
  reply = sim_->AddPost(reply);
  sim_->DeletePost(parent.id);
  const Json body = Search("#fundourschools");
  EXPECT_EQ(Ids(body), (std::vector<std::string>{std::to_string(reply.id)}));
  EXPECT_FALSE(body["includes"].Has("tweets"));
  ASSERT_EQ(body["errors"].size(), 1u);
  EXPECT_EQ(body["errors"][0]["parameter"].s, "referenced_tweets.id");
  EXPECT_EQ(body["errors"][0]["resource_id"].s, std::to_string(parent.id));
}

TEST_F(XSimTest, OccasionalPartialErrors) {
  XSimOptions o;
  o.partial_error_every = 2;
  StartSim(o);
  Post("alice", 30, "#A");
  EXPECT_FALSE(Search("#a").Has("errors"));
  const Json second = Search("#a");
  ASSERT_EQ(second["errors"].size(), 1u);
  EXPECT_EQ(second["errors"][0]["value"].s, "ghost_account");
  EXPECT_EQ(Ids(second).size(), 1u);  // the data is still there
}

TEST_F(XSimTest, UsersAndTheirTimelines) {
  StartSim();
  sim_->AddUser({"SenJaneDoe", 50'000, ""});
  std::vector<std::string> own;
  for (int i = 0; i < 7; ++i)
    own.insert(own.begin(),
               std::to_string(Post("SenJaneDoe", 70 - i, "post " + std::to_string(i), 50'000).id));
  Post("someone", 5, "@SenJaneDoe hi");
  const Json user = GetJson("/2/users/by/username/senjanedoe?user.fields=public_metrics,username");
  EXPECT_EQ(user["data"]["username"].s, "SenJaneDoe");
  EXPECT_EQ(user["data"]["public_metrics"]["followers_count"].s, "50000");
  const std::string id = user["data"]["id"].s;
  ASSERT_FALSE(id.empty());

  std::vector<std::string> seen;
  std::string token;
  for (int i = 0; i < 4; ++i) {
    const Json page = GetJson("/2/users/" + id + "/tweets?max_results=5" +
                              (token.empty() ? "" : "&pagination_token=" + token) + kFields);
    const auto ids = Ids(page);
    seen.insert(seen.end(), ids.begin(), ids.end());
    if (!page["meta"].Has("next_token")) break;
    token = page["meta"]["next_token"].s;
  }
  EXPECT_EQ(seen, own);
  EXPECT_EQ(Ids(GetJson("/2/users/" + id + "/tweets?since_id=" + own[2] + kFields)),
            (std::vector<std::string>{own[0], own[1]}));
  XSimPost rt;
  rt.author.username = "SenJaneDoe";
  rt.created_at_ms = clock_.NowMs() - 60'000;
  rt.retweet_of = std::stoull(own.back());
  const auto amplified = sim_->AddPost(rt);
  EXPECT_EQ(Ids(GetJson("/2/users/" + id + "/tweets?max_results=5" + kFields)).front(),
            std::to_string(amplified.id));
  EXPECT_EQ(
      Ids(GetJson("/2/users/" + id + "/tweets?max_results=5&exclude=retweets" + kFields)).front(),
      own[0]);
  EXPECT_EQ(GetJson("/2/users/" + id + "/tweets?exclude=likes", 400)["title"].s, "Invalid Request");
  // next_token is a search parameter only; max_results 5..100 here.
  EXPECT_EQ(GetJson("/2/users/" + id + "/tweets?next_token=x", 400)["title"].s, "Invalid Request");
  EXPECT_EQ(GetJson("/2/users/" + id + "/tweets?max_results=4", 400)["title"].s, "Invalid Request");

  const Json missing = GetJson("/2/users/by/username/nobody_here");
  EXPECT_FALSE(missing.Has("data"));
  EXPECT_EQ(missing["errors"][0]["detail"].s, "Could not find user with username: [nobody_here].");
  EXPECT_EQ(GetJson("/2/users/by/username/not-valid!", 400)["title"].s, "Invalid Request");
}

TEST_F(XSimTest, BearerTokenIsRequired) {
  XSimOptions o;
  o.required_token = kToken;
  StartSim(o);
  for (bool auth : {false, true}) {
    auto res = Get("/2/tweets/search/recent?query=%23a", auth, "wrong");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(
        res->body,
        R"({"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"})");
    EXPECT_FALSE(res->has_header("x-rate-limit-remaining"));
  }
  auto ok = Get("/2/tweets/search/recent?query=%23a");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(XSimTest, RateLimitHeadersPerEndpointAndExhaustion) {
  XSimOptions o;
  o.rate_limit = 3;
  o.rate_window_ms = 900'000;
  StartSim(o);
  const int64_t window_end_s = (clock_.NowMs() / 900'000 + 1) * 900;
  for (int i = 1; i <= 4; ++i) {
    auto res = Get("/2/tweets/search/recent?query=%23a");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->get_header_value("x-rate-limit-limit"), "3");
    EXPECT_EQ(res->get_header_value("x-rate-limit-remaining"), std::to_string(std::max(0, 3 - i)));
    EXPECT_EQ(res->get_header_value("x-rate-limit-reset"),
              std::to_string(window_end_s));  // epoch seconds
    if (i <= 3) {
      EXPECT_EQ(res->status, 200);
    } else {
      EXPECT_EQ(res->status, 429);
      EXPECT_EQ(
          res->body,
          R"({"title":"Too Many Requests","type":"about:blank","status":429,"detail":"Too Many Requests"})");
    }
  }
  // Another endpoint has its own window.
  auto other = Get("/2/tweets?ids=1");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  EXPECT_EQ(other->get_header_value("x-rate-limit-remaining"), "2");
  // The next window starts afresh.
  clock_.Advance(900'000);
  auto next = Get("/2/tweets/search/recent?query=%23a");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->get_header_value("x-rate-limit-remaining"), "2");
  EXPECT_EQ(sim_->responses_by_status()[429], 1);
}

TEST_F(XSimTest, FaultsAndUsageCap) {
  StartSim();
  Post("alice", 10, "#A");
  FaultPlan plan;
  plan.rate_limit_every = 2;
  plan.error_500_every = 3;
  plan.non_json_every = 5;
  plan.truncate_every = 7;
  sim_->SetFaults(plan);
  std::map<int, int> statuses;
  for (int i = 1; i <= 7; ++i) {
    auto res = Get("/2/tweets/search/recent?query=%23a" + std::string(kFields));
    ASSERT_TRUE(res);
    ++statuses[res->status];
    if (i == 2 || i == 4 || i == 6) {
      EXPECT_EQ(res->status, 429);
      EXPECT_EQ(res->get_header_value("x-rate-limit-remaining"), "0");
    } else if (i == 3) {
      EXPECT_EQ(res->status, 500);
      EXPECT_TRUE(JsonReader::Parse(res->body).has_value());
    } else if (i == 5) {
      EXPECT_EQ(res->status, 503);
      EXPECT_NE(res->body.find("<html>"), std::string::npos);
    } else if (i == 7) {
      EXPECT_EQ(res->status, 200);
      EXPECT_FALSE(JsonReader::Parse(res->body).has_value()) << "not truncated: " << res->body;
    } else {
      EXPECT_EQ(res->status, 200);
    }
  }
  EXPECT_EQ(sim_->served_ids().size(), 1u);  // from request 1; request 7 was cut
  sim_->SetFaults({});
  sim_->SetUsageCapped(true);
  auto capped = Get("/2/tweets/search/recent?query=%23a");
  ASSERT_TRUE(capped);
  EXPECT_EQ(capped->status, 429);
  const auto body = JsonReader::Parse(capped->body);
  ASSERT_TRUE(body);
  EXPECT_EQ((*body)["type"].s, "https://api.twitter.com/2/problems/usage-capped");
  EXPECT_EQ((*body)["period"].s, "Monthly");
}

TEST_F(XSimTest, SlowRequestsAreDelayed) {
  StartSim();
  FaultPlan plan;
  plan.slow_every = 1;
  plan.slow_ms = 300;
  sim_->SetFaults(plan);
  const auto t0 = std::chrono::steady_clock::now();
  auto res = Get("/2/tweets/search/recent?query=%23a");
  ASSERT_TRUE(res);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(290));
}

TEST_F(XSimTest, NewFieldNamesSwitch) {
  XSimOptions o;
  o.new_field_names = true;
  StartSim(o);
  auto original = Post("alice", 30, "#A one");
  XSimPost quote;
  quote.author.username = "bob";
  quote.created_at_ms = clock_.NowMs() - 10 * 60'000;
  quote.text = "#A two";
  quote.quote_of = original.id;
  sim_->AddPost(quote);
  const Json body = GetJson(
      "/2/tweets/search/recent?query=%23a&post.fields=public_metrics,referenced_posts,"
      "edit_history_post_ids&expansions=referenced_posts.id,author_id");
  const Json& q = body["data"][0];
  EXPECT_TRUE(q.Has("edit_history_post_ids"));
  EXPECT_FALSE(q.Has("edit_history_tweet_ids"));
  EXPECT_EQ(q["referenced_posts"][0]["type"].s, "quoted");
  EXPECT_TRUE(q["public_metrics"].Has("repost_count"));
  EXPECT_FALSE(q["public_metrics"].Has("retweet_count"));
  EXPECT_EQ(body["includes"]["posts"].size(), 1u);
}

TEST_F(XSimTest, TextEscapesAndCodePointIndices) {
  StartSim();
  // U+1F941 DRUM (astral: a surrogate pair on the wire, one code point in the indices), then a tag.
  auto p = Post("alice", 10, "\xF0\x9F\xA5\x81 a<b #Tag");
  auto res = Get("/2/tweets/search/recent?query=%23tag" + std::string(kFields));
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find(R"("text":"\uD83E\uDD41 a&lt;b #Tag")"), std::string::npos) << res->body;
  const auto body = JsonReader::Parse(res->body);
  ASSERT_TRUE(body);
  EXPECT_EQ((*body)["data"][0]["entities"]["hashtags"][0]["start"].s, "6");
  EXPECT_EQ((*body)["data"][0]["entities"]["hashtags"][0]["end"].s, "10");
  EXPECT_EQ((*body)["data"][0]["id"].s, std::to_string(p.id));
}

TEST_F(XSimTest, StartTwiceFailsStopIsIdempotentAndUnknownRoutesAre404) {
  StartSim();
  EXPECT_FALSE(sim_->Start().has_value());
  auto res = Get("/2/spaces/search");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(sim_->request_log().back().path, "/2/spaces/search");
  EXPECT_EQ(sim_->request_log().back().status, 404);
  EXPECT_EQ(sim_->requests(), 1);
  sim_->Stop();
  sim_->Stop();
  EXPECT_EQ(sim_->port(), 0);
}

}  // namespace
}  // namespace chorus::sim
