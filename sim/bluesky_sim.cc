#include "sim/bluesky_sim.h"

#include "sim/loopback_server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>

#include "core/json_escape.h"
#include "core/strings.h"

namespace chorus::sim {
namespace {

constexpr char kJsonType[] = "application/json; charset=utf-8";
constexpr int kSearchDefaultLimit = 25;
constexpr int kFeedDefaultLimit = 50;
constexpr int kMaxLimit = 100;
constexpr size_t kMaxBatch = 25;  // getPosts uris, getProfiles actors
constexpr int64_t kDefaultWindowMs = 300'000;
constexpr int64_t kDefaultIndexLagMs = 250;
constexpr std::string_view kPostCollection = "app.bsky.feed.post";
constexpr char kBase32Sortable[] = "234567abcdefghijklmnopqrstuvwxyz";
// What the CDN in front of public.api.bsky.app answers to an unauthenticated searchPosts.
constexpr char kForbiddenHtml[] =
    "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1>"
    "<p>Request forbidden by administrative rules.</p></body></html>";
constexpr char kBadGatewayHtml[] = "<html><body><h1>502 Bad Gateway</h1></body></html>";

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool IsHandleChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}
bool IsAsciiPunct(char c) {
  return c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == ')' ||
         c == '(' || c == '"' || c == '\'';
}

uint64_t Fnv1a(std::string_view s, uint64_t seed = 1469598103934665603ULL) {
  uint64_t h = seed;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// `n` base32 characters drawn from hashes of `s` (for DIDs and CIDs).
std::string HashChars(std::string_view s, size_t n) {
  std::string out;
  uint64_t h = Fnv1a(s);
  while (out.size() < n) {
    for (int i = 0; i < 12 && out.size() < n; ++i) {
      out += kBase32Sortable[h & 31];
      h >>= 5;
    }
    h = Fnv1a(s, h ^ 0x9E3779B97F4A7C15ULL);
  }
  return out;
}

// A record key in the TID format: 64 bits (microseconds << 10 | clock id), 13 sortable base32
// characters, so later posts get larger keys.
std::string Tid(int64_t created_ms, uint32_t seq) {
  const uint64_t micros =
      static_cast<uint64_t>(std::max<int64_t>(created_ms, 0)) * 1000 + seq % 1000;
  const uint64_t v = ((micros << 10) | (seq / 1000 % 1024)) & ~(uint64_t{1} << 63);
  std::string out;
  for (int i = 12; i >= 0; --i) out += kBase32Sortable[(v >> (5 * i)) & 31];
  return out;
}

std::string Base64Url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    if (i + 1 < in.size()) out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string AtUriDid(std::string_view uri) {
  constexpr std::string_view kScheme = "at://";
  if (uri.substr(0, kScheme.size()) != kScheme) return "";
  uri.remove_prefix(kScheme.size());
  return std::string(uri.substr(0, uri.find('/')));
}

std::optional<int64_t> ParseInt(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Lexicon `datetime` or a bare date, as searchPosts' since/until accept.
std::optional<int64_t> ParseDateParam(const std::string& s) {
  if (s.size() == 10) {
    if (auto ms = ParseRfc3339Ms(s + "T00:00:00Z")) return *ms;
    return std::nullopt;
  }
  if (auto ms = ParseRfc3339Ms(s)) return *ms;
  return std::nullopt;
}

// The string value of `key` in a flat JSON object (the createSession body); nullopt when absent
// or not a string. Enough JSON for {"identifier": "...", "password": "..."}.
std::optional<std::string> JsonStringField(std::string_view body, std::string_view key) {
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < body.size() && IsSpace(body[i])) ++i;
  };
  auto read_string = [&](std::string* out) -> bool {
    if (i >= body.size() || body[i] != '"') return false;
    ++i;
    while (i < body.size()) {
      const char c = body[i++];
      if (c == '"') return true;
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (i >= body.size()) return false;
      const char e = body[i++];
      switch (e) {
        case 'n':
          *out += '\n';
          break;
        case 't':
          *out += '\t';
          break;
        case 'r':
          *out += '\r';
          break;
        case 'b':
          *out += '\b';
          break;
        case 'f':
          *out += '\f';
          break;
        case 'u': {
          if (i + 4 > body.size()) return false;
          uint32_t cp = 0;
          auto [p, ec] = std::from_chars(body.data() + i, body.data() + i + 4, cp, 16);
          if (ec != std::errc() || p != body.data() + i + 4) return false;
          i += 4;
          if (cp < 0x80) {
            *out += static_cast<char>(cp);
          } else if (cp < 0x800) {
            *out += static_cast<char>(0xC0 | (cp >> 6));
            *out += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            *out += static_cast<char>(0xE0 | (cp >> 12));
            *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            *out += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default:
          *out += e;
      }
    }
    return false;
  };
  skip_ws();
  if (i >= body.size() || body[i] != '{') return std::nullopt;
  ++i;
  while (true) {
    skip_ws();
    std::string k;
    if (!read_string(&k)) return std::nullopt;
    skip_ws();
    if (i >= body.size() || body[i] != ':') return std::nullopt;
    ++i;
    skip_ws();
    if (i < body.size() && body[i] == '"') {
      std::string v;
      if (!read_string(&v)) return std::nullopt;
      if (k == key) return v;
    } else {
      // Not a string: skip a scalar (the bodies we take have no nested values).
      while (i < body.size() && body[i] != ',' && body[i] != '}') ++i;
      if (k == key) return std::nullopt;
    }
    skip_ws();
    if (i < body.size() && body[i] == ',') {
      ++i;
      continue;
    }
    return std::nullopt;
  }
}

enum class FacetKind { kMention, kTag, kLink };

struct SimFacet {
  size_t start = 0, end = 0;  // UTF-8 byte offsets, end exclusive
  FacetKind kind = FacetKind::kTag;
  std::string value;  // mention: DID; tag: the tag as written; link: the uri
};

// One HTTP answer before faults, auth and bookkeeping are applied.
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = kJsonType;
  std::vector<std::string> uris;  // posts in the body, for served_uris()
};

Reply JsonReply(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Reply XrpcError(int status, std::string_view name, std::string_view message) {
  std::string body = "{\"error\":";
  AppendJsonString(&body, name);
  body += ",\"message\":";
  AppendJsonString(&body, message);
  body += '}';
  return JsonReply(status, std::move(body));
}

}  // namespace

std::string SimDidForHandle(std::string_view handle) {
  return "did:plc:" + HashChars(AsciiLower(handle), 24);
}

struct BlueskySim::Impl {
  struct Stored {
    BlueskySimPost post;
    std::vector<SimFacet> facets;
    std::vector<std::string> tags_lower;  // tag facets and record.tags
    std::set<std::string> mention_dids;   // faceted mentions only
    std::string cid;
    std::string root_uri;
    int64_t sort_at_ms = 0;
    int version = 0;
  };
  struct Repost {
    std::string by_did;
    std::string subject_uri;
    std::string uri;
    int64_t at_ms = 0;
  };
  struct Token {
    bool refresh = false;
    int64_t expires_ms = 0;
    bool revoked = false;
  };
  // One entry of an author feed.
  struct FeedEntry {
    int64_t at_ms;
    std::string key;  // uri of the post, or of the repost record
    const Stored* post;
    const Repost* repost;
  };

  explicit Impl(BlueskySimOptions o) : options(std::move(o)) {
    if (options.clock == nullptr) options.clock = &SystemClock::Instance();
    if (options.rate_window_ms <= 0) options.rate_window_ms = kDefaultWindowMs;
    if (options.search_depth_cap <= 0) options.search_depth_cap = 10'000;
    if (!options.identifier.empty()) {
      account.handle = AsciiLower(options.identifier);
      account.did = SimDidForHandle(account.handle);
    }
  }

  BlueskySimOptions options;
  BlueskySimActor account;  // the PDS account sessions are created for

  LoopbackServer host;

  mutable std::mutex mu;
  std::map<std::string, Stored> posts;               // by uri
  std::map<std::string, BlueskySimActor> actors;     // by DID
  std::map<std::string, std::string> did_by_handle;  // lower-cased handle -> DID
  std::vector<Repost> reposts;
  std::map<std::string, Token> tokens;
  int64_t token_seq = 0;
  uint32_t tid_seq = 0;
  FaultPlan faults;
  int64_t requests = 0;
  int64_t window = -1;
  int64_t window_count = 0;
  std::map<int, int64_t> by_status;
  std::set<std::string> served;
  std::vector<std::string> log;
  int64_t sessions_created = 0;
  int64_t sessions_refreshed = 0;

  // ---- actors ----

  // Requires mu. Fills in the DID, remembers the actor (the latest copy wins).
  // A follower count of 0 keeps the one already known, so an actor named only as a mention does
  // not reset the audience it was given as an author.
  BlueskySimActor& Remember(BlueskySimActor a) {
    if (a.did.empty()) a.did = SimDidForHandle(a.handle);
    did_by_handle[AsciiLower(a.handle)] = a.did;
    auto [it, inserted] = actors.emplace(a.did, a);
    if (!inserted) {
      if (a.followers == 0) a.followers = it->second.followers;
      it->second = std::move(a);
    }
    return it->second;
  }

  // Requires mu. An at-identifier (DID or handle) to a known actor's DID; "" when unknown.
  std::string Resolve(const std::string& id) const {
    if (id.empty()) return "";
    if (id.rfind("did:", 0) == 0) return actors.count(id) ? id : "";
    auto it = did_by_handle.find(AsciiLower(id[0] == '@' ? id.substr(1) : id));
    return it == did_by_handle.end() ? "" : it->second;
  }

  static std::string ServedHandle(const BlueskySimActor& a) {
    return a.invalid_handle ? "handle.invalid" : AsciiLower(a.handle);
  }

  static std::string DisplayName(const BlueskySimActor& a) {
    std::string name = a.handle.substr(0, a.handle.find('.'));
    for (size_t i = 0; i < name.size(); ++i) {
      if (name[i] == '-' || name[i] == '_') name[i] = ' ';
      const bool word_start = i == 0 || name[i - 1] == ' ';
      if (word_start && name[i] >= 'a' && name[i] <= 'z')
        name[i] = static_cast<char>(name[i] - 'a' + 'A');
    }
    return name;
  }

  static int64_t ActorCreatedMs(const BlueskySimActor& a) {
    return 1'682'899'200'000LL + static_cast<int64_t>(Fnv1a(a.did) % 700) * 86'400'000LL;
  }

  // profileViewBasic
  void AppendProfileBasic(std::string& out, const BlueskySimActor& a) const {
    out += "{\"did\":";
    AppendJsonString(&out, a.did);
    out += ",\"handle\":";
    AppendJsonString(&out, ServedHandle(a));
    out += ",\"displayName\":";
    AppendJsonString(&out, DisplayName(a));
    out += ",\"avatar\":";
    AppendJsonString(&out, "https://cdn.bsky.app/img/avatar/plain/" + a.did + "/bafkrei" +
                               HashChars(a.did + "avatar", 52) + "@jpeg");
    out +=
        ",\"associated\":{\"chat\":{\"allowIncoming\":\"following\"}},\"labels\":[],\"createdAt\":";
    AppendJsonString(&out, FormatRfc3339Ms(ActorCreatedMs(a)));
    out += '}';
  }

  // Requires mu. profileViewDetailed
  void AppendProfileDetailed(std::string& out, const BlueskySimActor& a) const {
    int64_t count = 0;
    for (const auto& [uri, st] : posts) count += st.post.author.did == a.did;
    out += "{\"did\":";
    AppendJsonString(&out, a.did);
    out += ",\"handle\":";
    AppendJsonString(&out, ServedHandle(a));
    out += ",\"displayName\":";
    AppendJsonString(&out, DisplayName(a));
    out +=
        ",\"associated\":{\"lists\":0,\"feedgens\":0,\"starterPacks\":0,\"labeler\":false},"
        "\"labels\":[],\"createdAt\":";
    AppendJsonString(&out, FormatRfc3339Ms(ActorCreatedMs(a)));
    out += ",\"description\":\"\",\"indexedAt\":";
    AppendJsonString(&out, FormatRfc3339Ms(ActorCreatedMs(a)));
    out += ",\"followersCount\":" + std::to_string(a.followers);
    out += ",\"followsCount\":" + std::to_string(Fnv1a(a.did) % 500);
    out += ",\"postsCount\":" + std::to_string(count + static_cast<int64_t>(Fnv1a(a.did) % 900));
    out += '}';
  }

  // ---- posts ----

  // Facets as the Bluesky app's RichText.detectFacets writes them, with UTF-8 byte offsets.
  static std::vector<SimFacet> ComputeFacets(const BlueskySimPost& p) {
    std::vector<SimFacet> out;
    const std::string& t = p.text;
    size_t i = 0;
    while (i < t.size()) {
      const bool boundary = i == 0 || IsSpace(t[i - 1]) || t[i - 1] == '(';
      if (boundary && t[i] == '#') {
        size_t j = i + 1;
        while (j < t.size() && !IsSpace(t[j])) ++j;
        size_t end = j;
        while (end > i + 1 && IsAsciiPunct(t[end - 1])) --end;
        const std::string tag = t.substr(i + 1, end - i - 1);
        const bool all_digits =
            std::all_of(tag.begin(), tag.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!tag.empty() && !all_digits) out.push_back({i, end, FacetKind::kTag, tag});
        i = j;
        continue;
      }
      if (boundary && t[i] == '@') {
        size_t j = i + 1;
        while (j < t.size() && IsHandleChar(t[j])) ++j;
        size_t end = j;
        while (end > i + 1 && (t[end - 1] == '.' || t[end - 1] == '-')) --end;
        const std::string handle = AsciiLower(t.substr(i + 1, end - i - 1));
        for (const auto& m : p.mentions) {
          if (!handle.empty() && AsciiLower(m.handle) == handle) {
            out.push_back({i, end, FacetKind::kMention, m.did});
            break;
          }
        }
        i = std::max(j, i + 1);
        continue;
      }
      if (boundary && t.compare(i, 8, "https://") == 0) {
        size_t j = i;
        while (j < t.size() && !IsSpace(t[j])) ++j;
        size_t end = j;
        while (end > i + 8 && IsAsciiPunct(t[end - 1])) --end;
        out.push_back({i, end, FacetKind::kLink, t.substr(i, end - i)});
        i = j;
        continue;
      }
      ++i;
    }
    return out;
  }

  // Requires mu. The record as stored in the repo (app.bsky.feed.post).
  void AppendRecord(std::string& out, const Stored& st) const {
    const BlueskySimPost& p = st.post;
    out += "{\"$type\":\"app.bsky.feed.post\",\"createdAt\":";
    AppendJsonString(&out, FormatRfc3339Ms(p.created_at_ms));
    if (!p.quote_uri.empty()) {
      std::string quoted_cid = "bafyreiunknown";
      if (auto it = posts.find(p.quote_uri); it != posts.end()) quoted_cid = it->second.cid;
      std::string ref = "{\"cid\":";
      AppendJsonString(&ref, quoted_cid);
      ref += ",\"uri\":";
      AppendJsonString(&ref, p.quote_uri);
      ref += '}';
      if (p.quote_with_media) {
        out +=
            ",\"embed\":{\"$type\":\"app.bsky.embed.recordWithMedia\",\"media\":{\"$type\":"
            "\"app.bsky.embed.images\",\"images\":[]},\"record\":{\"$type\":\"app.bsky.embed."
            "record\","
            "\"record\":" +
            ref + "}}";
      } else {
        out += ",\"embed\":{\"$type\":\"app.bsky.embed.record\",\"record\":" + ref + "}";
      }
    }
    if (!st.facets.empty()) {
      out += ",\"facets\":[";
      for (size_t i = 0; i < st.facets.size(); ++i) {
        const SimFacet& f = st.facets[i];
        if (i > 0) out += ',';
        out += "{\"$type\":\"app.bsky.richtext.facet\",\"features\":[{\"$type\":";
        switch (f.kind) {
          case FacetKind::kMention:
            out += "\"app.bsky.richtext.facet#mention\",\"did\":";
            break;
          case FacetKind::kTag:
            out += "\"app.bsky.richtext.facet#tag\",\"tag\":";
            break;
          case FacetKind::kLink:
            out += "\"app.bsky.richtext.facet#link\",\"uri\":";
            break;
        }
        AppendJsonString(&out, f.value);
        out += "}],\"index\":{\"byteEnd\":" + std::to_string(f.end) +
               ",\"byteStart\":" + std::to_string(f.start) + "}}";
      }
      out += ']';
    }
    out += ",\"langs\":[\"en\"]";
    if (!p.reply_parent_uri.empty()) {
      auto ref = [&](const std::string& uri) {
        std::string r = "{\"cid\":";
        auto it = posts.find(uri);
        AppendJsonString(&r, it == posts.end() ? "bafyreiunknown" : it->second.cid);
        r += ",\"uri\":";
        AppendJsonString(&r, uri);
        return r + "}";
      };
      out += ",\"reply\":{\"parent\":" + ref(p.reply_parent_uri) + ",\"root\":" + ref(st.root_uri) +
             "}";
    }
    if (!p.record_tags.empty()) {
      out += ",\"tags\":[";
      for (size_t i = 0; i < p.record_tags.size(); ++i) {
        if (i > 0) out += ',';
        AppendJsonString(&out, p.record_tags[i]);
      }
      out += ']';
    }
    out += ",\"text\":";
    AppendJsonString(&out, p.text);
    out += '}';
  }

  void AppendCounts(std::string& out, const BlueskySimPost& p) const {
    out += ",\"replyCount\":" + std::to_string(p.replies);
    out += ",\"repostCount\":" + std::to_string(p.reposts);
    out += ",\"likeCount\":" + std::to_string(p.likes);
    out += ",\"quoteCount\":" + std::to_string(p.quotes);
  }

  // Requires mu. app.bsky.feed.defs#postView
  void AppendPostView(std::string& out, const Stored& st) const {
    const BlueskySimPost& p = st.post;
    out += "{\"uri\":";
    AppendJsonString(&out, p.uri);
    out += ",\"cid\":";
    AppendJsonString(&out, st.cid);
    out += ",\"author\":";
    AppendProfileBasic(out, p.author);
    out += ",\"record\":";
    AppendRecord(out, st);
    if (!p.quote_uri.empty()) {
      std::string view;
      auto it = posts.find(p.quote_uri);
      if (it == posts.end() || it->second.post.hidden) {
        view = "{\"$type\":\"app.bsky.embed.record#viewNotFound\",\"uri\":";
        AppendJsonString(&view, p.quote_uri);
        view += ",\"notFound\":true}";
      } else {
        const Stored& q = it->second;
        view = "{\"$type\":\"app.bsky.embed.record#viewRecord\",\"uri\":";
        AppendJsonString(&view, q.post.uri);
        view += ",\"cid\":";
        AppendJsonString(&view, q.cid);
        view += ",\"author\":";
        AppendProfileBasic(view, q.post.author);
        view += ",\"value\":";
        AppendRecord(view, q);
        view += ",\"labels\":[]";
        AppendCounts(view, q.post);
        view += ",\"indexedAt\":";
        AppendJsonString(&view, FormatRfc3339Ms(q.post.indexed_at_ms));
        view += ",\"embeds\":[]}";
      }
      if (p.quote_with_media) {
        out +=
            ",\"embed\":{\"$type\":\"app.bsky.embed.recordWithMedia#view\",\"record\":{"
            "\"record\":" +
            view + "},\"media\":{\"$type\":\"app.bsky.embed.images#view\",\"images\":[]}}";
      } else {
        out += ",\"embed\":{\"$type\":\"app.bsky.embed.record#view\",\"record\":" + view + "}";
      }
    }
    out += ",\"bookmarkCount\":0";
    AppendCounts(out, p);
    out += ",\"indexedAt\":";
    AppendJsonString(&out, FormatRfc3339Ms(p.indexed_at_ms));
    out += ",\"labels\":[]}";
  }

  // ---- auth ----

  std::string IssueToken(bool refresh, const std::string& did) {
    const int64_t now = options.clock->NowMs();
    const int64_t n = ++token_seq;
    const int64_t ttl = refresh ? options.refresh_ttl_ms : options.access_ttl_ms;
    std::string payload = std::string("{\"scope\":\"") +
                          (refresh ? "com.atproto.refresh" : "com.atproto.access") +
                          "\",\"sub\":\"" + did + "\",\"iat\":" + std::to_string(now / 1000) +
                          ",\"exp\":" + std::to_string((now + ttl) / 1000) + ",\"jti\":\"" +
                          std::to_string(n) + "\"}";
    std::string token = std::string(refresh ? "eyJ0eXAiOiJyZWZyZXNoK2p3dCIsImFsZyI6IkhTMjU2In0."
                                            : "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJIUzI1NiJ9.") +
                        Base64Url(payload) + "." + HashChars(payload, 43);
    tokens[token] = Token{refresh, now + ttl, false};
    return token;
  }

  static std::string BearerOf(const httplib::Request& req) {
    const std::string h = req.get_header_value("Authorization");
    if (h.size() <= 7 || AsciiLower(h.substr(0, 7)) != "bearer ") return "";
    return h.substr(7);
  }

  // Requires mu. nullopt when the access token is good; else the XRPC error the PDS answers.
  std::optional<Reply> CheckAccess(const httplib::Request& req) const {
    const std::string token = BearerOf(req);
    if (token.empty()) return XrpcError(401, "AuthMissing", "Authentication Required");
    auto it = tokens.find(token);
    if (it == tokens.end()) return XrpcError(401, "InvalidToken", "Token could not be verified");
    if (it->second.refresh) return XrpcError(400, "InvalidToken", "Invalid token type");
    if (it->second.expires_ms <= options.clock->NowMs()) {
      return XrpcError(400, "ExpiredToken", "Token has expired");
    }
    return std::nullopt;
  }

  std::string SessionJson(const std::string& access, const std::string& refresh) const {
    std::string out = "{\"did\":";
    AppendJsonString(
        &out, account.did.empty() ? SimDidForHandle("sim-collector.bsky.social") : account.did);
    out += ",\"didDoc\":{},\"handle\":";
    AppendJsonString(&out, account.handle.empty() ? "sim-collector.bsky.social" : account.handle);
    out += ",\"accessJwt\":";
    AppendJsonString(&out, access);
    out += ",\"refreshJwt\":";
    AppendJsonString(&out, refresh);
    out += ",\"active\":true}";
    return out;
  }

  // POST com.atproto.server.createSession
  Reply CreateSession(const httplib::Request& req) {
    if (AsciiLower(req.get_header_value("Content-Type")).rfind("application/json", 0) != 0) {
      return XrpcError(400, "InvalidRequest",
                       "Request encoding (Content-Type) required but not provided");
    }
    const auto identifier = JsonStringField(req.body, "identifier");
    const auto password = JsonStringField(req.body, "password");
    if (!identifier)
      return XrpcError(400, "InvalidRequest", "Input must have the property \"identifier\"");
    if (!password)
      return XrpcError(400, "InvalidRequest", "Input must have the property \"password\"");
    std::lock_guard<std::mutex> lock(mu);
    if (!options.identifier.empty()) {
      const std::string id = AsciiLower(*identifier);
      const bool who = id == AsciiLower(options.identifier) || id == account.did ||
                       (!options.account_email.empty() && id == AsciiLower(options.account_email));
      if (!who || *password != options.password) {
        return XrpcError(401, "AuthenticationRequired", "Invalid identifier or password");
      }
    }
    ++sessions_created;
    const std::string did = account.did;
    const std::string access = IssueToken(false, did);
    const std::string refresh = IssueToken(true, did);
    return JsonReply(200, SessionJson(access, refresh));
  }

  // POST com.atproto.server.refreshSession, authorized by the refresh token. The old refresh
  // token is spent (rotation).
  Reply RefreshSession(const httplib::Request& req) {
    const std::string token = BearerOf(req);
    std::lock_guard<std::mutex> lock(mu);
    if (token.empty()) return XrpcError(401, "AuthMissing", "Authentication Required");
    auto it = tokens.find(token);
    if (it == tokens.end()) return XrpcError(401, "InvalidToken", "Token could not be verified");
    if (!it->second.refresh) return XrpcError(400, "InvalidToken", "Invalid token type");
    if (it->second.revoked) return XrpcError(400, "ExpiredToken", "Token has been revoked");
    if (it->second.expires_ms <= options.clock->NowMs()) {
      return XrpcError(400, "ExpiredToken", "Token has expired");
    }
    it->second.revoked = true;
    ++sessions_refreshed;
    const std::string did = account.did;
    const std::string access = IssueToken(false, did);
    const std::string refresh = IssueToken(true, did);
    return JsonReply(200, SessionJson(access, refresh));
  }

  // ---- methods ----

  static std::optional<int> LimitParam(const httplib::Request& req, int def, Reply* error) {
    if (!req.has_param("limit")) return def;
    const auto n = ParseInt(req.get_param_value("limit"));
    if (!n) {
      *error = XrpcError(400, "InvalidRequest", "Error: limit must be an integer");
      return std::nullopt;
    }
    if (*n < 1) {
      *error = XrpcError(400, "InvalidRequest", "Error: limit can not be less than 1");
      return std::nullopt;
    }
    if (*n > kMaxLimit) {
      *error = XrpcError(400, "InvalidRequest", "Error: limit can not be greater than 100");
      return std::nullopt;
    }
    return static_cast<int>(*n);
  }

  struct SearchFilter {
    std::vector<std::string> terms;  // lower-cased words or phrases, each must occur in the text
    std::vector<std::string> tags;   // lower-cased, ANDed
    std::optional<std::string> mentions;  // DID ("" = an identifier nobody has: no match)
    std::optional<std::string> author;
    std::optional<int64_t> since, until;
  };

  // Requires mu. The q string as palomar's ParsePostQuery reads it: quoted phrases, #tag,
  // @handle, from:/to:/mentions:, since:/until:, and plain words; "*" alone matches everything.
  void ParseQ(const std::string& q, SearchFilter& f) const {
    std::vector<std::string> parts;
    std::string cur;
    bool quoted = false;
    for (const char c : q) {
      if (c == '"') quoted = !quoted;
      if (c == ' ' && !quoted) {
        if (!cur.empty()) parts.push_back(std::move(cur));
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) parts.push_back(std::move(cur));
    for (const std::string& p : parts) {
      if (p.front() == '"') {
        std::string phrase = p.substr(1);
        if (!phrase.empty() && phrase.back() == '"') phrase.pop_back();
        if (!phrase.empty()) f.terms.push_back(AsciiLower(phrase));
      } else if (p.size() > 1 && p.front() == '#') {
        f.tags.push_back(AsciiLower(p.substr(1)));
      } else if (p.size() > 1 && p.front() == '@') {
        if (std::string did = Resolve(p.substr(1)); !did.empty()) f.mentions = did;
      } else if (const size_t colon = p.find(':'); colon != std::string::npos && colon > 0) {
        const std::string op = p.substr(0, colon);
        const std::string arg = p.substr(colon + 1);
        if (op == "from" || op == "to" || op == "mentions") {
          if (std::string did = Resolve(arg); !did.empty()) {
            (op == "from" ? f.author : f.mentions) = did;
          }
        } else if (op == "since" || op == "until") {
          if (auto ms = ParseDateParam(arg)) (op == "since" ? f.since : f.until) = *ms;
        } else if (op == "did") {
          f.author = p;
        } else {
          f.terms.push_back(AsciiLower(p));
        }
      } else if (p != "*") {
        f.terms.push_back(AsciiLower(p));
      }
    }
  }

  static bool Matches(const Stored& st, const SearchFilter& f) {
    if (f.since && st.sort_at_ms < *f.since) return false;   // since: inclusive
    if (f.until && st.sort_at_ms >= *f.until) return false;  // until: exclusive
    if (f.author && st.post.author.did != *f.author) return false;
    if (f.mentions && st.mention_dids.count(*f.mentions) == 0) return false;
    for (const auto& t : f.tags) {
      if (std::find(st.tags_lower.begin(), st.tags_lower.end(), t) == st.tags_lower.end())
        return false;
    }
    if (!f.terms.empty()) {
      const std::string text = AsciiLower(st.post.text);
      for (const auto& term : f.terms) {
        if (text.find(term) == std::string::npos) return false;
      }
    }
    return true;
  }

  // GET app.bsky.feed.searchPosts
  Reply SearchPosts(const httplib::Request& req) {
    const std::string q = req.get_param_value("q");
    if (!req.has_param("q"))
      return XrpcError(400, "InvalidRequest", "Error: Params must have the property \"q\"");
    const std::string sort = req.has_param("sort") ? req.get_param_value("sort") : "latest";
    if (sort != "latest" && sort != "top") {
      return XrpcError(400, "InvalidRequest", "Error: sort must be one of latest, top");
    }
    Reply error;
    const auto limit = LimitParam(req, kSearchDefaultLimit, &error);
    if (!limit) return error;
    int64_t offset = 0;
    if (req.has_param("cursor")) {
      const auto c = ParseInt(req.get_param_value("cursor"));
      if (!c) return XrpcError(400, "InvalidRequest", "invalid value for 'cursor': not a number");
      offset = std::max<int64_t>(*c, 0);
      if (offset > options.search_depth_cap) {
        return XrpcError(400, "InvalidRequest",
                         "invalid value for 'cursor' (can't paginate so deep)");
      }
    }

    std::lock_guard<std::mutex> lock(mu);
    SearchFilter f;
    if (q.empty()) return XrpcError(400, "BadQueryString", "must pass non-empty search query");
    ParseQ(q, f);
    for (const char* key : {"since", "until"}) {
      if (!req.has_param(key)) continue;
      const auto ms = ParseDateParam(req.get_param_value(key));
      if (!ms)
        return XrpcError(400, "InvalidRequest",
                         std::string("Error: ") + key + " must be a valid datetime");
      (std::string_view(key) == "since" ? f.since : f.until) = *ms;
    }
    if (req.has_param("mentions")) f.mentions = Resolve(req.get_param_value("mentions"));
    if (req.has_param("author")) f.author = Resolve(req.get_param_value("author"));
    for (size_t i = 0; i < req.get_param_value_count("tag"); ++i) {
      std::string t = AsciiLower(req.get_param_value("tag", i));
      if (!t.empty() && t.front() == '#') t.erase(0, 1);
      if (!t.empty()) f.tags.push_back(std::move(t));
    }

    // The search backend's skeleton: every match, hidden ones included.
    std::vector<const Stored*> hits;
    for (const auto& [uri, st] : posts) {
      if (Matches(st, f)) hits.push_back(&st);
    }
    if (sort == "latest") {
      std::sort(hits.begin(), hits.end(), [](const Stored* a, const Stored* b) {
        return std::tie(a->sort_at_ms, a->post.uri) > std::tie(b->sort_at_ms, b->post.uri);
      });
    } else {
      std::sort(hits.begin(), hits.end(), [](const Stored* a, const Stored* b) {
        return std::tie(a->post.likes, a->sort_at_ms, a->post.uri) >
               std::tie(b->post.likes, b->sort_at_ms, b->post.uri);
      });
    }
    const size_t begin = std::min<size_t>(static_cast<size_t>(offset), hits.size());
    const size_t end = std::min<size_t>(begin + static_cast<size_t>(*limit), hits.size());

    Reply r;
    r.body = "{\"posts\":[";
    bool first = true;
    for (size_t i = begin; i < end; ++i) {
      if (hits[i]->post.hidden) continue;  // dropped while hydrating: the page comes back short
      if (!first) r.body += ',';
      first = false;
      AppendPostView(r.body, *hits[i]);
      r.uris.push_back(hits[i]->post.uri);
    }
    r.body += ']';
    // palomar: a cursor only after a full skeleton page, and never past the depth cap.
    if (end - begin == static_cast<size_t>(*limit) && offset + *limit < options.search_depth_cap) {
      r.body += ",\"cursor\":\"" + std::to_string(offset + *limit) + "\"";
    }
    if (options.report_hits_total) r.body += ",\"hitsTotal\":" + std::to_string(hits.size());
    r.body += '}';
    return r;
  }

  // GET app.bsky.feed.getPosts: unknown, deleted and hidden posts are simply absent.
  Reply GetPosts(const httplib::Request& req) {
    const size_t n = req.get_param_value_count("uris");
    if (n == 0)
      return XrpcError(400, "InvalidRequest", "Error: Params must have the property \"uris\"");
    if (n > kMaxBatch) {
      return XrpcError(400, "InvalidRequest", "Error: uris must not have more than 25 elements");
    }
    std::lock_guard<std::mutex> lock(mu);
    Reply r;
    r.body = "{\"posts\":[";
    std::set<std::string> seen;
    for (size_t i = 0; i < n; ++i) {
      const std::string uri = req.get_param_value("uris", i);
      auto it = posts.find(uri);
      if (it == posts.end() || it->second.post.hidden || !seen.insert(uri).second) continue;
      if (r.uris.size() > 0) r.body += ',';
      AppendPostView(r.body, it->second);
      r.uris.push_back(uri);
    }
    r.body += "]}";
    return r;
  }

  // GET app.bsky.feed.getAuthorFeed: the actor's posts and reposts, newest first, keyset cursor
  // "<unix ms>::<key>" of the last item.
  Reply GetAuthorFeed(const httplib::Request& req) {
    if (!req.has_param("actor")) {
      return XrpcError(400, "InvalidRequest", "Error: Params must have the property \"actor\"");
    }
    Reply error;
    const auto limit = LimitParam(req, kFeedDefaultLimit, &error);
    if (!limit) return error;
    const std::string filter =
        req.has_param("filter") ? req.get_param_value("filter") : "posts_with_replies";
    std::optional<std::pair<int64_t, std::string>> after;
    if (req.has_param("cursor")) {
      const std::string c = req.get_param_value("cursor");
      const size_t sep = c.find("::");
      const auto ms = sep == std::string::npos ? std::nullopt : ParseInt(c.substr(0, sep));
      if (!ms) return XrpcError(400, "InvalidRequest", "Malformed cursor");
      after = std::make_pair(*ms, c.substr(sep + 2));
    }
    std::lock_guard<std::mutex> lock(mu);
    const std::string did = Resolve(req.get_param_value("actor"));
    if (did.empty()) return XrpcError(400, "InvalidRequest", "Profile not found");
    std::vector<FeedEntry> feed;
    for (const auto& [uri, st] : posts) {
      if (st.post.author.did != did || st.post.hidden) continue;
      const bool reply = !st.post.reply_parent_uri.empty();
      if (reply && filter == "posts_no_replies") continue;
      if (reply && filter == "posts_and_author_threads" && AtUriDid(st.root_uri) != did) continue;
      if (filter == "posts_with_media" || filter == "posts_with_video") continue;
      feed.push_back({st.sort_at_ms, uri, &st, nullptr});
    }
    for (const Repost& rp : reposts) {
      if (rp.by_did != did) continue;
      auto it = posts.find(rp.subject_uri);
      if (it == posts.end() || it->second.post.hidden) continue;
      if (filter == "posts_with_media" || filter == "posts_with_video") continue;
      feed.push_back({rp.at_ms, rp.uri, &it->second, &rp});
    }
    std::sort(feed.begin(), feed.end(), [](const FeedEntry& a, const FeedEntry& b) {
      return std::tie(a.at_ms, a.key) > std::tie(b.at_ms, b.key);
    });
    Reply r;
    r.body = "{\"feed\":[";
    const FeedEntry* last = nullptr;
    int count = 0;
    for (const FeedEntry& e : feed) {
      if (after && std::tie(e.at_ms, e.key) >= std::tie(after->first, after->second)) continue;
      if (count == *limit) break;
      if (count++ > 0) r.body += ',';
      r.body += "{\"post\":";
      AppendPostView(r.body, *e.post);
      if (!e.post->post.reply_parent_uri.empty()) {
        auto ref = [&](const std::string& uri) {
          std::string out;
          auto it = posts.find(uri);
          if (it == posts.end() || it->second.post.hidden) {
            out = "{\"$type\":\"app.bsky.feed.defs#notFoundPost\",\"uri\":";
            AppendJsonString(&out, uri);
            out += ",\"notFound\":true}";
          } else {
            out = "{\"$type\":\"app.bsky.feed.defs#postView\",";
            std::string view;
            AppendPostView(view, it->second);
            out += view.substr(1);
          }
          return out;
        };
        r.body += ",\"reply\":{\"root\":" + ref(e.post->root_uri) +
                  ",\"parent\":" + ref(e.post->post.reply_parent_uri) + "}";
      }
      if (e.repost != nullptr) {
        r.body += ",\"reason\":{\"$type\":\"app.bsky.feed.defs#reasonRepost\",\"by\":";
        AppendProfileBasic(r.body, actors.at(e.repost->by_did));
        r.body += ",\"uri\":";
        AppendJsonString(&r.body, e.repost->uri);
        r.body += ",\"cid\":";
        AppendJsonString(&r.body, "bafyrei" + HashChars(e.repost->uri, 52));
        r.body += ",\"indexedAt\":";
        AppendJsonString(&r.body, FormatRfc3339Ms(e.repost->at_ms));
        r.body += '}';
      }
      r.body += '}';
      r.uris.push_back(e.post->post.uri);
      last = &e;
    }
    r.body += ']';
    if (last != nullptr)
      r.body += ",\"cursor\":\"" + std::to_string(last->at_ms) + "::" + last->key + "\"";
    r.body += '}';
    return r;
  }

  // GET app.bsky.actor.getProfiles: unknown actors are left out.
  Reply GetProfiles(const httplib::Request& req) {
    const size_t n = req.get_param_value_count("actors");
    if (n == 0)
      return XrpcError(400, "InvalidRequest", "Error: Params must have the property \"actors\"");
    if (n > kMaxBatch) {
      return XrpcError(400, "InvalidRequest", "Error: actors must not have more than 25 elements");
    }
    std::lock_guard<std::mutex> lock(mu);
    Reply r;
    r.body = "{\"profiles\":[";
    bool first = true;
    for (size_t i = 0; i < n; ++i) {
      const std::string did = Resolve(req.get_param_value("actors", i));
      if (did.empty()) continue;
      if (!first) r.body += ',';
      first = false;
      AppendProfileDetailed(r.body, actors.at(did));
    }
    r.body += "]}";
    return r;
  }

  // GET app.bsky.actor.getProfile
  Reply GetProfile(const httplib::Request& req) {
    if (!req.has_param("actor")) {
      return XrpcError(400, "InvalidRequest", "Error: Params must have the property \"actor\"");
    }
    std::lock_guard<std::mutex> lock(mu);
    const std::string did = Resolve(req.get_param_value("actor"));
    if (did.empty()) return XrpcError(400, "InvalidRequest", "Profile not found");
    Reply r;
    AppendProfileDetailed(r.body, actors.at(did));
    return r;
  }

  // GET com.atproto.identity.resolveHandle
  Reply ResolveHandle(const httplib::Request& req) {
    if (!req.has_param("handle")) {
      return XrpcError(400, "InvalidRequest", "Error: Params must have the property \"handle\"");
    }
    std::lock_guard<std::mutex> lock(mu);
    const std::string handle = req.get_param_value("handle");
    const std::string did = handle.rfind("did:", 0) == 0 ? "" : Resolve(handle);
    if (did.empty()) return XrpcError(400, "InvalidRequest", "Unable to resolve handle");
    return JsonReply(200, "{\"did\":\"" + did + "\"}");
  }

  enum class Access { kNone, kSession, kSearch };

  // Every request passes here: counting, rate limit, faults, auth, then the method itself.
  void Handle(const httplib::Request& req, httplib::Response& res, Access access,
              const std::function<Reply(const httplib::Request&)>& route) {
    int64_t n = 0;
    int64_t remaining = 0;
    int64_t reset_ms = 0;
    int64_t now = 0;
    bool exhausted = false;
    FaultPlan plan;
    std::optional<Reply> denied;
    {
      std::lock_guard<std::mutex> lock(mu);
      n = ++requests;
      std::string line = req.method + " " + req.path;
      if (req.method == "GET") {
        std::string query;
        for (const auto& [k, v] : req.params) {
          query += query.empty() ? '?' : '&';
          query += k + "=" + v;
        }
        line += query;
      }
      log.push_back(std::move(line));
      now = options.clock->NowMs();
      const int64_t w = now / options.rate_window_ms;
      if (w != window) {
        window = w;
        window_count = 0;
      }
      ++window_count;
      remaining = std::max<int64_t>(0, options.rate_limit - window_count);
      exhausted = window_count > options.rate_limit;
      reset_ms = (w + 1) * options.rate_window_ms;
      plan = faults;
      if (access != Access::kNone) {
        if (!options.identifier.empty()) {
          denied = CheckAccess(req);
        } else if (options.public_host && access == Access::kSearch && BearerOf(req).empty()) {
          Reply html;
          html.status = 403;
          html.body = kForbiddenHtml;
          html.content_type = "text/html";
          denied = std::move(html);
        }
      }
    }
    auto every = [n](int k) { return k > 0 && n % k == 0; };

    Reply r;
    bool truncated = false;
    bool limited = false;
    if (exhausted || every(plan.rate_limit_every)) {
      remaining = 0;
      limited = true;
      r = XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded");
    } else if (every(plan.error_500_every)) {
      r = XrpcError(500, "InternalServerError", "Internal Server Error");
    } else if (every(plan.non_json_every)) {
      r.status = 502;
      r.body = kBadGatewayHtml;
      r.content_type = "text/html";
    } else if (denied) {
      r = std::move(*denied);
    } else {
      const bool truncate = every(plan.truncate_every);
      if (!truncate && every(plan.slow_every) && plan.slow_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(plan.slow_ms));
      }
      try {
        r = route(req);
      } catch (const std::exception&) {
        r = XrpcError(500, "InternalServerError", "Internal Server Error");
      }
      if (truncate && r.status == 200) {
        r.body.resize(r.body.size() / 2);
        truncated = true;
      }
    }

    res.status = r.status;
    res.set_header("RateLimit-Limit", std::to_string(options.rate_limit));
    res.set_header("RateLimit-Remaining", std::to_string(remaining));
    res.set_header("RateLimit-Reset", std::to_string(reset_ms / 1000));
    res.set_header("RateLimit-Policy",
                   std::to_string(options.rate_limit) +
                       ";w=" + std::to_string(std::max<int64_t>(1, options.rate_window_ms / 1000)));
    if (limited) {
      res.set_header("Retry-After",
                     std::to_string(std::max<int64_t>(1, (reset_ms - now + 999) / 1000)));
    }
    res.set_header("Vary", "Accept-Encoding");
    res.set_content(r.body, r.content_type.c_str());

    std::lock_guard<std::mutex> lock(mu);
    ++by_status[r.status];
    if (r.status == 200 && !truncated) served.insert(r.uris.begin(), r.uris.end());
  }
};

BlueskySim::BlueskySim(BlueskySimOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  if (!impl_->account.did.empty()) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->Remember(impl_->account);
  }
}

BlueskySim::~BlueskySim() { Stop(); }

Result<void> BlueskySim::Start(int port) {
  if (impl_->host.running()) return Fail(Error::InvalidArgument("bluesky sim: already started"));
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(8); };
  server->set_keep_alive_timeout(1);
  Impl* impl = impl_.get();
  using Access = Impl::Access;
  auto route = [impl](Access access, Reply (Impl::*fn)(const httplib::Request&)) {
    return [impl, access, fn](const httplib::Request& req, httplib::Response& res) {
      impl->Handle(req, res, access,
                   [impl, fn](const httplib::Request& r) { return (impl->*fn)(r); });
    };
  };
  server->Post("/xrpc/com.atproto.server.createSession",
               route(Access::kNone, &Impl::CreateSession));
  server->Post("/xrpc/com.atproto.server.refreshSession",
               route(Access::kNone, &Impl::RefreshSession));
  server->Get("/xrpc/com.atproto.identity.resolveHandle",
              route(Access::kNone, &Impl::ResolveHandle));
  server->Get("/xrpc/app.bsky.feed.searchPosts", route(Access::kSearch, &Impl::SearchPosts));
  server->Get("/xrpc/app.bsky.feed.getPosts", route(Access::kSession, &Impl::GetPosts));
  server->Get("/xrpc/app.bsky.feed.getAuthorFeed", route(Access::kSession, &Impl::GetAuthorFeed));
  server->Get("/xrpc/app.bsky.actor.getProfiles", route(Access::kSession, &Impl::GetProfiles));
  server->Get("/xrpc/app.bsky.actor.getProfile", route(Access::kSession, &Impl::GetProfile));
  auto not_implemented = [impl](const httplib::Request& req, httplib::Response& res) {
    impl->Handle(req, res, Access::kNone, [](const httplib::Request&) {
      return XrpcError(501, "MethodNotImplemented", "Method Not Implemented");
    });
  };
  server->Get(R"(.*)", not_implemented);
  server->Post(R"(.*)", not_implemented);

  return impl_->host.Start(std::move(server), port, "bluesky sim");
}

void BlueskySim::Stop() { impl_->host.Stop(); }

int BlueskySim::port() const { return impl_->host.port(); }

std::string BlueskySim::base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }

BlueskySimActor BlueskySim::AddActor(BlueskySimActor actor) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->Remember(std::move(actor));
}

BlueskySimPost BlueskySim::AddPost(BlueskySimPost post) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  post.author = m.Remember(post.author);
  for (auto& mention : post.mentions) mention = m.Remember(mention);
  if (post.indexed_at_ms == 0) post.indexed_at_ms = post.created_at_ms + kDefaultIndexLagMs;
  if (post.uri.empty()) {
    if (post.rkey.empty()) {
      do {
        post.rkey = Tid(post.created_at_ms, m.tid_seq++);
      } while (m.posts.count("at://" + post.author.did + "/" + std::string(kPostCollection) + "/" +
                             post.rkey));
    }
    post.uri = "at://" + post.author.did + "/" + std::string(kPostCollection) + "/" + post.rkey;
  } else if (post.rkey.empty()) {
    post.rkey = post.uri.substr(post.uri.rfind('/') + 1);
  }
  Impl::Stored st;
  if (auto it = m.posts.find(post.uri); it != m.posts.end()) st.version = it->second.version + 1;
  st.post = post;
  st.facets = Impl::ComputeFacets(post);
  for (const SimFacet& f : st.facets) {
    if (f.kind == FacetKind::kTag) st.tags_lower.push_back(AsciiLower(f.value));
    if (f.kind == FacetKind::kMention) st.mention_dids.insert(f.value);
  }
  for (const auto& t : post.record_tags) st.tags_lower.push_back(AsciiLower(t));
  st.cid = "bafyrei" + HashChars(post.uri + "#" + std::to_string(st.version) + post.text, 52);
  st.sort_at_ms = std::min(post.created_at_ms, post.indexed_at_ms);
  st.root_uri = post.reply_parent_uri;
  if (auto parent = m.posts.find(post.reply_parent_uri); parent != m.posts.end()) {
    st.root_uri = parent->second.root_uri.empty() ? parent->first : parent->second.root_uri;
  }
  m.posts[post.uri] = std::move(st);
  return post;
}

bool BlueskySim::AddRepost(const BlueskySimActor& by, const std::string& subject_uri,
                           int64_t at_ms) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  auto it = m.posts.find(subject_uri);
  if (it == m.posts.end()) return false;
  const BlueskySimActor& actor = m.Remember(by);
  Impl::Repost rp;
  rp.by_did = actor.did;
  rp.subject_uri = subject_uri;
  rp.at_ms = at_ms;
  rp.uri = "at://" + actor.did + "/app.bsky.feed.repost/" + Tid(at_ms, m.tid_seq++);
  m.reposts.push_back(std::move(rp));
  ++it->second.post.reposts;
  return true;
}

bool BlueskySim::SetEngagement(const std::string& uri, int64_t likes, int64_t reposts,
                               int64_t replies, int64_t quotes) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->posts.find(uri);
  if (it == impl_->posts.end()) return false;
  BlueskySimPost& p = it->second.post;
  p.likes = likes;
  p.reposts = reposts;
  p.replies = replies;
  p.quotes = quotes;
  return true;
}

bool BlueskySim::DeletePost(const std::string& uri) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->posts.erase(uri) > 0;
}

void BlueskySim::SetFaults(const FaultPlan& plan) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults = plan;
}

void BlueskySim::ExpireAccessTokens() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const int64_t now = impl_->options.clock->NowMs();
  for (auto& [token, t] : impl_->tokens) {
    if (!t.refresh) t.expires_ms = std::min(t.expires_ms, now);
  }
}

void BlueskySim::RevokeRefreshTokens() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (auto& [token, t] : impl_->tokens) {
    if (t.refresh) t.revoked = true;
  }
}

int64_t BlueskySim::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}

std::map<int, int64_t> BlueskySim::responses_by_status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->by_status;
}

std::set<std::string> BlueskySim::served_uris() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->served;
}

std::vector<BlueskySimPost> BlueskySim::posts() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<BlueskySimPost> out;
  out.reserve(impl_->posts.size());
  for (const auto& [uri, st] : impl_->posts) out.push_back(st.post);
  return out;
}

int64_t BlueskySim::sessions_created() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sessions_created;
}

int64_t BlueskySim::sessions_refreshed() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sessions_refreshed;
}

std::vector<std::string> BlueskySim::request_log() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->log;
}

}  // namespace chorus::sim
