// Loader for chorus.yml (design §4).
//
// The walk over the YAML tree never stops at the first problem: each reader reports what is wrong
// with its key and leaves the default in place, so one run lists everything an operator has to
// fix. yaml-cpp is used here (and in daemon/web_config.cc); its exceptions are caught in this
// file and become Problems.
#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <span>
#include <tuple>
#include <utility>

#include "core/file_read.h"
#include "core/time.h"
#include "core/strings.h"

namespace chorus::config {
namespace {

using Keys = std::span<const std::string_view>;

constexpr std::string_view kPlatformList = "mastodon, bluesky, x or reddit";
constexpr std::string_view kDefaultRedditAuthUrl = "https://www.reddit.com";
// Longer than any retention or window anyone means; also keeps durations far from int64 overflow.
constexpr int64_t kMaxDurationMs = 36'500LL * 86'400'000;
constexpr size_t kMaxFileBytes = 16u << 20;
constexpr int kMastodonMaxPageLimit = 40;  // servers silently cap `limit` at 40

constexpr std::string_view kTopKeys[] = {"storage",   "http",   "shard",  "sources",
                                         "campaigns", "people", "alerts"};
constexpr std::string_view kShardKeys[] = {"index", "total"};
constexpr std::string_view kStorageKeys[] = {"path", "retention"};
constexpr std::string_view kRetentionKeys[] = {"posts", "minute", "hour", "day"};
constexpr std::string_view kHttpKeys[] = {"listen", "web_config_file"};
constexpr std::string_view kSourceKeys[] = {
    "name",          "platform",      "base_url",          "token_env",  "identifier_env",
    "password_env",  "client_id_env", "client_secret_env", "user_agent", "auth_url",
    "poll_interval", "backfill",      "overlap",           "timeout",    "page_limit"};
constexpr std::string_view kCampaignKeys[] = {"name", "hashtags", "keywords"};
constexpr std::string_view kPeopleKeys[] = {"policymakers", "coalition"};
constexpr std::string_view kPersonKeys[] = {"id", "name", "accounts"};
constexpr std::string_view kAlertsKeys[] = {"receivers", "rules"};
constexpr std::string_view kReceiverKeys[] = {"name", "format", "url_env"};
constexpr std::string_view kRuleKeys[] = {"name",   "kind",      "receivers", "campaign",
                                          "window", "threshold", "max_age"};
constexpr std::string_view kReceiverFormats[] = {"slack", "json", "alertmanager"};
constexpr std::string_view kRuleKinds[] = {"policymaker_mention", "policymaker_response", "spike"};

std::string Join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string Index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 60;
  if (s.size() > kMax) return "'" + std::string(s.substr(0, kMax)) + "...'";
  return "'" + std::string(s) + "'";
}

// "a list", "a mapping", "'text'": what was found where something else was expected.
std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return Quote(n.Scalar());
    default:
      return "nothing";
  }
}

// "a, b or c"
std::string OrList(Keys items) {
  std::string out;
  size_t i = 0;
  for (std::string_view item : items) {
    if (i > 0) out += (i + 1 == items.size()) ? " or " : ", ";
    out += item;
    ++i;
  }
  return out;
}

bool Contains(Keys set, std::string_view s) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool HasSpace(std::string_view s) { return std::any_of(s.begin(), s.end(), IsSpace); }

bool IsBlank(std::string_view s) { return std::all_of(s.begin(), s.end(), IsSpace); }

bool IsEnvName(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// core's ParseDurationMs multiplies without an overflow check, so very long day/week counts are
// refused before it sees them.
Result<int64_t> ParseDurationChecked(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string_view unit = text.substr(digits);
  const bool too_long = digits > 7 && (unit == "d" || unit == "w");
  if (!too_long) {
    auto ms = ParseDurationMs(text);
    if (!ms || *ms <= kMaxDurationMs) return ms;
  }
  return Fail(Error::InvalidArgument("duration " + Quote(text) + " is too large (at most 36500d)"));
}

// yaml-cpp's messages name the grammar rule; these add the usual cause in a config like ours.
std::string SyntaxHint(std::string_view text, int error_line) {
  bool tab_indent = false;
  bool hash_comment = false;
  int line = 0;
  size_t start = 0;
  while (start <= text.size() && line <= error_line) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view l = text.substr(start, end - start);
    const size_t indent_end = l.find_first_not_of(" \t");
    if (l.substr(0, indent_end).find('\t') != std::string_view::npos) tab_indent = true;
    if (l.find("[#") != std::string_view::npos || l.find(", #") != std::string_view::npos) {
      hash_comment = true;
    }
    start = end + 1;
    ++line;
  }
  if (tab_indent) return " (tabs cannot indent YAML; use spaces)";
  if (hash_comment)
    return " (an unquoted '#' starts a comment: quote hashtags, e.g. [\"#EdEquity\"])";
  return "";
}

struct Entry {
  YAML::Node key;
  YAML::Node value;
};

// A mapping node, its key path ("sources[0]") and its entries by key.
struct Map {
  std::string path;
  YAML::Node node;
  std::map<std::string, Entry, std::less<>> entries;

  // The value under `key`; nullptr when the key is absent or its value is null ("key:" or "~").
  const YAML::Node* Get(std::string_view key) const {
    auto it = entries.find(key);
    if (it == entries.end() || it->second.value.IsNull()) return nullptr;
    return &it->second.value;
  }
  // The section under `key`, or a null node (which readers treat as empty) when there is none.
  YAML::Node Section(std::string_view key) const {
    const YAML::Node* v = Get(key);
    return v ? *v : YAML::Node();
  }
  // Where a problem about `key` points: its value, else the key, else the mapping itself.
  YAML::Mark MarkOf(std::string_view key) const {
    auto it = entries.find(key);
    if (it == entries.end()) return node.Mark();
    if (!it->second.value.IsNull()) return it->second.value.Mark();
    return it->second.key.Mark();
  }
  std::string Path(std::string_view key) const { return Join(path, key); }
  // True when `key` holds something other than null or an empty string: "set", even if invalid.
  bool Present(std::string_view key) const {
    const YAML::Node* v = Get(key);
    return v && !(v->IsScalar() && v->Scalar().empty());
  }
};

// A string from a list, with where it came from.
struct Item {
  std::string value;
  YAML::Mark mark;
  std::string path;
};

// Names defined in one list ("source name"), to report duplicates with the first definition.
class NameSet {
 public:
  explicit NameSet(std::string what) : what_(std::move(what)) {}
  // Returns an empty string when `name` is new, else the problem message.
  std::string Add(const std::string& name, int line) {
    auto [it, inserted] = lines_.emplace(name, line);
    if (inserted) return "";
    std::string msg = "duplicate " + what_ + " " + Quote(name);
    if (it->second > 0) msg += " (first defined at line " + std::to_string(it->second) + ")";
    return msg;
  }
  bool Has(const std::string& name) const { return lines_.count(name) > 0; }

 private:
  std::string what_;
  std::map<std::string, int> lines_;
};

int Line(const YAML::Mark& mark) { return mark.line >= 0 ? mark.line + 1 : 0; }
int Col(const YAML::Mark& mark) { return mark.line >= 0 ? mark.column + 1 : 0; }

// A reference from a rule to a receiver or campaign, resolved once everything is read.
struct Reference {
  std::string name;
  YAML::Mark mark;
  std::string path;
};

class Loader {
 public:
  Loader(std::string file, bool check_env) : file_(std::move(file)), check_env_(check_env) {}

  LoadResult Run(const std::string& text);

 private:
  void Report(const YAML::Mark& mark, std::string_view path, std::string_view message) {
    std::string full = path.empty() ? std::string(message) : std::string(path) + ": ";
    if (!path.empty()) full += message;
    problems_.push_back(Problem{file_, Line(mark), Col(mark), std::move(full)});
  }

  std::optional<Map> ReadMap(const YAML::Node& node, std::string path, Keys keys, bool null_ok);
  std::optional<YAML::Node> ReadList(const Map& m, std::string_view key);
  bool ReadString(const Map& m, std::string_view key, std::string* out);
  bool RequireString(const Map& m, std::string_view key, std::string* out);
  bool ReadUniqueName(const Map& m, std::string_view key, NameSet* names, std::string* out);
  bool ReadDuration(const Map& m, std::string_view key, int64_t min_ms, std::string_view min_text,
                    int64_t* out);
  bool ReadInt(const Map& m, std::string_view key, int64_t* out);
  bool ReadNumber(const Map& m, std::string_view key, double* out);
  bool ReadEnvName(const Map& m, std::string_view key, std::string* out);
  bool ReadUrl(const Map& m, std::string_view key, std::string* out);
  std::vector<Item> ReadStringList(const Map& m, std::string_view key);

  void ParseStorage(const YAML::Node& node);
  void ParseHttp(const YAML::Node& node);
  void ParseShard(const Map& top);
  void ParseSources(const YAML::Node& node);
  void ParseSource(const Map& m, NameSet* names);
  void ParseCampaigns(const YAML::Node& node);
  void ParsePeople(const YAML::Node& node);
  void ParsePersonList(const Map& people, std::string_view key, std::vector<Person>* out);
  void ParseAccounts(const YAML::Node& node, const std::string& path, Person* person);
  void ParseAlerts(const YAML::Node& node);
  void ParseRule(const Map& m, NameSet* names);
  void CheckReferences();

  std::string file_;
  bool check_env_;
  Config config_;
  std::vector<Problem> problems_;
  NameSet campaign_names_{"campaign name"};
  NameSet receiver_names_{"receiver name"};
  std::vector<Reference> receiver_refs_;
  std::vector<Reference> campaign_refs_;
};

std::optional<Map> Loader::ReadMap(const YAML::Node& node, std::string path, Keys keys,
                                   bool null_ok) {
  Map m{std::move(path), node, {}};
  if (node.IsNull() && null_ok) return m;
  if (!node.IsMap()) {
    Report(node.Mark(), m.path, "expected a mapping, got " + Describe(node));
    return std::nullopt;
  }
  for (const auto& kv : node) {
    const YAML::Node& key = kv.first;
    if (!key.IsScalar()) {
      Report(key.Mark(), m.path, "keys must be plain strings, got " + Describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    if (!Contains(keys, name)) {
      std::string msg = "unknown key " + Quote(name);
      std::string_view best;
      size_t best_distance = 3;
      for (std::string_view k : keys) {
        const size_t d = EditDistance(name, k);
        if (d < best_distance) best = k, best_distance = d;
      }
      if (!best.empty()) {
        msg += " (did you mean '" + std::string(best) + "'?)";
      } else {
        msg += " (expected " + OrList(keys) + ")";
      }
      Report(key.Mark(), m.path, msg);
      continue;
    }
    auto [it, inserted] = m.entries.emplace(name, Entry{key, kv.second});
    if (!inserted) {
      Report(key.Mark(), m.path,
             "duplicate key " + Quote(name) + " (first at line " +
                 std::to_string(Line(it->second.key.Mark())) + ")");
    }
  }
  return m;
}

std::optional<YAML::Node> Loader::ReadList(const Map& m, std::string_view key) {
  const YAML::Node* v = m.Get(key);
  if (!v) return std::nullopt;
  if (!v->IsSequence()) {
    Report(v->Mark(), m.Path(key), "expected a list, got " + Describe(*v));
    return std::nullopt;
  }
  return *v;
}

bool Loader::ReadString(const Map& m, std::string_view key, std::string* out) {
  const YAML::Node* v = m.Get(key);
  if (!v) return false;
  if (!v->IsScalar()) {
    Report(v->Mark(), m.Path(key), "expected a string, got " + Describe(*v));
    return false;
  }
  *out = v->Scalar();
  return true;
}

bool Loader::RequireString(const Map& m, std::string_view key, std::string* out) {
  if (!m.Get(key)) {
    Report(m.MarkOf(key), m.Path(key), "is required");
    return false;
  }
  std::string value;
  if (!ReadString(m, key, &value)) return false;
  if (IsBlank(value)) {
    Report(m.MarkOf(key), m.Path(key), "must not be empty");
    return false;
  }
  *out = std::move(value);
  return true;
}

bool Loader::ReadUniqueName(const Map& m, std::string_view key, NameSet* names, std::string* out) {
  if (!RequireString(m, key, out)) return false;
  const YAML::Mark mark = m.MarkOf(key);
  std::string dup = names->Add(*out, Line(mark));
  if (!dup.empty()) {
    Report(mark, m.Path(key), dup);
    return false;
  }
  return true;
}

bool Loader::ReadDuration(const Map& m, std::string_view key, int64_t min_ms,
                          std::string_view min_text, int64_t* out) {
  std::string text;
  if (!ReadString(m, key, &text)) return false;
  auto ms = ParseDurationChecked(text);
  if (!ms) {
    Report(m.MarkOf(key), m.Path(key), ms.error().message);
    return false;
  }
  if (*ms < min_ms) {
    Report(m.MarkOf(key), m.Path(key),
           "must be at least " + std::string(min_text) + ", got " + Quote(text));
    return false;
  }
  *out = *ms;
  return true;
}

bool Loader::ReadInt(const Map& m, std::string_view key, int64_t* out) {
  const YAML::Node* v = m.Get(key);
  if (v && !v->IsScalar()) {
    Report(v->Mark(), m.Path(key), "expected an integer, got " + Describe(*v));
    return false;
  }
  std::string text;
  if (!ReadString(m, key, &text)) return false;
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    Report(m.MarkOf(key), m.Path(key), "expected an integer, got " + Quote(text));
    return false;
  }
  *out = value;
  return true;
}

bool Loader::ReadNumber(const Map& m, std::string_view key, double* out) {
  std::string text;
  if (!ReadString(m, key, &text)) return false;
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    Report(m.MarkOf(key), m.Path(key), "expected a number, got " + Quote(text));
    return false;
  }
  *out = value;
  return true;
}

// The value itself is never quoted back when it is not a valid name: someone who pasted the
// secret instead of the variable's name must not find it in logs.
bool Loader::ReadEnvName(const Map& m, std::string_view key, std::string* out) {
  std::string name;
  if (!ReadString(m, key, &name) || name.empty()) return false;
  if (name.size() > 1 && name[0] == '$') {
    std::string bare = name.substr(name[1] == '{' ? 2 : 1);
    if (!bare.empty() && bare.back() == '}') bare.pop_back();
    if (IsEnvName(bare)) {
      Report(m.MarkOf(key), m.Path(key), "write the variable's name without '$', e.g. " + bare);
      return false;
    }
  }
  if (!IsEnvName(name)) {
    Report(m.MarkOf(key), m.Path(key),
           "must be the NAME of an environment variable (letters, digits and '_'), not its value");
    return false;
  }
  if (check_env_) {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      Report(m.MarkOf(key), m.Path(key), "environment variable " + name + " is not set");
    } else if (*value == '\0') {
      Report(m.MarkOf(key), m.Path(key), "environment variable " + name + " is empty");
    }
  }
  *out = std::move(name);
  return true;
}

// Accepts https:// and http:// for any host: plain http is meant for loopback fakes in tests and
// local proxies, and the operator who writes it is the one who decides.
bool Loader::ReadUrl(const Map& m, std::string_view key, std::string* out) {
  std::string url;
  if (!ReadString(m, key, &url)) return false;
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    rest = std::string_view(url).substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = std::string_view(url).substr(7);
  } else {
    Report(m.MarkOf(key), m.Path(key), "must start with https:// or http://, got " + Quote(url));
    return false;
  }
  if (rest.empty() || rest[0] == '/' || HasSpace(url)) {
    Report(m.MarkOf(key), m.Path(key), "not a valid URL: " + Quote(url));
    return false;
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  *out = std::move(url);
  return true;
}

std::vector<Item> Loader::ReadStringList(const Map& m, std::string_view key) {
  std::vector<Item> items;
  auto list = ReadList(m, key);
  if (!list) return items;
  const std::string path = m.Path(key);
  for (size_t i = 0; i < list->size(); ++i) {
    const YAML::Node item = (*list)[i];
    if (!item.IsScalar()) {
      Report(item.Mark(), Index(path, i), "expected a string, got " + Describe(item));
      continue;
    }
    items.push_back(Item{item.Scalar(), item.Mark(), Index(path, i)});
  }
  return items;
}

void Loader::ParseStorage(const YAML::Node& node) {
  auto m = ReadMap(node, "storage", kStorageKeys, true);
  if (!m) return;
  Storage& s = config_.storage;
  std::string path;
  if (ReadString(*m, "path", &path)) {
    if (IsBlank(path)) {
      Report(m->MarkOf("path"), m->Path("path"), "must not be empty");
    } else {
      s.path = path;
    }
  }
  auto r = ReadMap(m->Section("retention"), m->Path("retention"), kRetentionKeys, true);
  if (!r) return;
  ReadDuration(*r, "posts", 0, "0", &s.retention.posts_ms);
  ReadDuration(*r, "minute", 0, "0", &s.retention.minute_ms);
  ReadDuration(*r, "hour", 0, "0", &s.retention.hour_ms);
  ReadDuration(*r, "day", 0, "0", &s.retention.day_ms);
}

void Loader::ParseHttp(const YAML::Node& node) {
  auto m = ReadMap(node, "http", kHttpKeys, true);
  if (!m) return;
  std::string listen;
  if (ReadString(*m, "listen", &listen)) {
    auto hp = ParseHostPort(listen);
    if (!hp) {
      Report(m->MarkOf("listen"), m->Path("listen"), hp.error().message);
    } else {
      config_.http.listen = listen;
    }
  }
  ReadString(*m, "web_config_file", &config_.http.web_config_file);
}

// Unlike the other sections, a `shard:` left empty is refused rather than read as the default:
// whoever wrote it meant to split the watch list, and a daemon silently polling everything would
// duplicate the other daemons' work.
void Loader::ParseShard(const Map& top) {
  if (top.entries.count("shard") == 0) return;
  const YAML::Node* node = top.Get("shard");
  if (node == nullptr) {
    Report(top.MarkOf("shard"), "shard",
           "expected a mapping {index: I, total: N}, e.g. {index: 0, total: 3}");
    return;
  }
  auto m = ReadMap(*node, "shard", kShardKeys, false);
  if (!m) return;
  Shard shard;
  auto read = [&](std::string_view key, int64_t* out) {
    if (m->Get(key)) return ReadInt(*m, key, out);
    Report(m->MarkOf(key), m->Path(key), "is required");
    return false;
  };
  bool has_index = read("index", &shard.index);
  bool has_total = read("total", &shard.total);
  if (has_total && shard.total < 1) {
    Report(m->MarkOf("total"), m->Path("total"),
           "must be at least 1, got " + std::to_string(shard.total));
    has_total = false;
  }
  if (has_index && shard.index < 0) {
    Report(m->MarkOf("index"), m->Path("index"),
           "must be at least 0, got " + std::to_string(shard.index));
    has_index = false;
  } else if (has_index && has_total && shard.index >= shard.total) {
    Report(m->MarkOf("index"), m->Path("index"),
           "must be less than shard.total: shards are numbered 0 to " +
               std::to_string(shard.total - 1) + ", got " + std::to_string(shard.index));
    has_index = false;
  }
  if (has_index && has_total) config_.shard = shard;
}

void Loader::ParseSources(const YAML::Node& node) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    Report(node.Mark(), "sources", "expected a list, got " + Describe(node));
    return;
  }
  NameSet names("source name");
  for (size_t i = 0; i < node.size(); ++i) {
    auto m = ReadMap(node[i], Index("sources", i), kSourceKeys, false);
    if (m) ParseSource(*m, &names);
  }
}

void Loader::ParseSource(const Map& m, NameSet* names) {
  Source s;
  s.line = Line(m.node.Mark());
  ReadUniqueName(m, "name", names, &s.name);

  std::optional<Platform> platform;
  std::string platform_name;
  if (RequireString(m, "platform", &platform_name)) {
    platform = ParsePlatform(platform_name);
    if (!platform) {
      Report(m.MarkOf("platform"), m.Path("platform"),
             "unknown platform " + Quote(platform_name) + " (expected " +
                 std::string(kPlatformList) + ")");
    } else {
      s.platform = *platform;
    }
  }

  if (!m.Get("base_url")) {
    Report(m.MarkOf("base_url"), m.Path("base_url"), "is required");
  } else {
    ReadUrl(m, "base_url", &s.base_url);
  }
  ReadEnvName(m, "token_env", &s.token_env);
  ReadEnvName(m, "identifier_env", &s.identifier_env);
  ReadEnvName(m, "password_env", &s.password_env);
  ReadEnvName(m, "client_id_env", &s.client_id_env);
  ReadEnvName(m, "client_secret_env", &s.client_secret_env);
  if (ReadString(m, "user_agent", &s.user_agent) && IsBlank(s.user_agent)) {
    Report(m.MarkOf("user_agent"), m.Path("user_agent"), "must not be empty");
  }
  const bool has_auth_url = ReadUrl(m, "auth_url", &s.auth_url);

  ReadDuration(m, "poll_interval", 100, "100ms", &s.poll_interval_ms);
  ReadDuration(m, "backfill", 0, "0", &s.backfill_ms);
  ReadDuration(m, "overlap", 0, "0", &s.overlap_ms);
  ReadDuration(m, "timeout", 100, "100ms", &s.timeout_ms);
  int64_t page_limit = 0;
  const bool has_page_limit = ReadInt(m, "page_limit", &page_limit);

  if (platform) {
    const std::string who = std::string(PlatformName(*platform)) + " sources";
    auto require = [&](std::string_view key) {
      if (!m.Present(key)) Report(m.MarkOf(key), m.Path(key), "is required for " + who);
    };
    // Keys meant for another platform would be silently ignored; say so instead.
    auto only = [&](std::string_view key, std::initializer_list<Platform> platforms,
                    std::string_view which) {
      if (m.Get(key) &&
          std::find(platforms.begin(), platforms.end(), *platform) == platforms.end()) {
        Report(m.MarkOf(key), m.Path(key), "is used only by " + std::string(which) + " sources");
      }
    };
    only("token_env", {Platform::kMastodon, Platform::kX}, "mastodon and x");
    only("identifier_env", {Platform::kBluesky}, "bluesky");
    only("password_env", {Platform::kBluesky}, "bluesky");
    only("client_id_env", {Platform::kReddit}, "reddit");
    only("client_secret_env", {Platform::kReddit}, "reddit");
    only("auth_url", {Platform::kReddit}, "reddit");

    int64_t lo = 1, hi = 100;
    switch (*platform) {
      case Platform::kMastodon:
        hi = kMastodonMaxPageLimit;
        s.page_limit = kMastodonMaxPageLimit;
        break;
      case Platform::kBluesky:
        require("identifier_env");
        require("password_env");
        s.page_limit = 100;
        break;
      case Platform::kX:
        require("token_env");
        lo = 10;  // the API answers 400 to max_results below 10
        s.page_limit = 100;
        break;
      case Platform::kReddit:
        require("client_id_env");
        require("client_secret_env");
        require("user_agent");
        if (!has_auth_url) s.auth_url = std::string(kDefaultRedditAuthUrl);
        s.page_limit = 100;
        break;
    }
    if (has_page_limit) {
      if (page_limit < lo || page_limit > hi) {
        Report(m.MarkOf("page_limit"), m.Path("page_limit"),
               "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " for " +
                   who + ", got " + std::to_string(page_limit));
      } else {
        s.page_limit = static_cast<int>(page_limit);
      }
    }
  } else if (has_page_limit && (page_limit < 1 || page_limit > 100)) {
    Report(m.MarkOf("page_limit"), m.Path("page_limit"),
           "must be between 1 and 100, got " + std::to_string(page_limit));
  }
  config_.sources.push_back(std::move(s));
}

void Loader::ParseCampaigns(const YAML::Node& node) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    Report(node.Mark(), "campaigns", "expected a list, got " + Describe(node));
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    auto m = ReadMap(node[i], Index("campaigns", i), kCampaignKeys, false);
    if (!m) continue;
    Campaign c;
    ReadUniqueName(*m, "name", &campaign_names_, &c.name);
    const std::vector<Item> hashtags = ReadStringList(*m, "hashtags");
    for (const Item& tag : hashtags) {
      const std::string normalized = NormalizeHashtag(tag.value);
      if (normalized.empty()) {
        Report(tag.mark, tag.path, "empty hashtag");
      } else if (HasSpace(normalized)) {
        Report(tag.mark, tag.path,
               "hashtag " + Quote(tag.value) + " contains a space (use keywords for phrases)");
      } else if (normalized.find('#') != std::string::npos) {
        Report(tag.mark, tag.path, "hashtag " + Quote(tag.value) + " contains '#' inside it");
      } else if (std::find(c.hashtags.begin(), c.hashtags.end(), normalized) == c.hashtags.end()) {
        c.hashtags.push_back(normalized);
      }
    }
    const std::vector<Item> keywords = ReadStringList(*m, "keywords");
    for (const Item& keyword : keywords) {
      if (IsBlank(keyword.value)) {
        Report(keyword.mark, keyword.path, "empty keyword");
      } else {
        c.keywords.push_back(keyword.value);
      }
    }
    // Counted as written, so a campaign whose only hashtag is invalid gets one problem, not two.
    auto written = [&](std::string_view key) {
      const YAML::Node* v = m->Get(key);
      return v && (!v->IsSequence() || v->size() > 0);
    };
    if (!written("hashtags") && !written("keywords")) {
      Report(m->node.Mark(), m->path, "a campaign needs at least one hashtag or keyword");
    }
    config_.campaigns.push_back(std::move(c));
  }
}

void Loader::ParsePeople(const YAML::Node& node) {
  auto m = ReadMap(node, "people", kPeopleKeys, true);
  if (!m) return;
  ParsePersonList(*m, "policymakers", &config_.policymakers);
  ParsePersonList(*m, "coalition", &config_.coalition);
}

void Loader::ParsePersonList(const Map& people, std::string_view key, std::vector<Person>* out) {
  auto list = ReadList(people, key);
  if (!list) return;
  const std::string path = people.Path(key);
  NameSet ids("id");
  for (size_t i = 0; i < list->size(); ++i) {
    auto m = ReadMap((*list)[i], Index(path, i), kPersonKeys, false);
    if (!m) continue;
    Person p;
    ReadUniqueName(*m, "id", &ids, &p.id);
    ReadString(*m, "name", &p.name);
    ParseAccounts(m->Section("accounts"), m->Path("accounts"), &p);
    out->push_back(std::move(p));
  }
}

void Loader::ParseAccounts(const YAML::Node& node, const std::string& path, Person* person) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    Report(node.Mark(), path, "expected a mapping of platform to account, got " + Describe(node));
    return;
  }
  for (const auto& kv : node) {
    const YAML::Node& key = kv.first;
    const YAML::Node& value = kv.second;
    if (!key.IsScalar()) {
      Report(key.Mark(), path, "keys must be platform names, got " + Describe(key));
      continue;
    }
    const auto platform = ParsePlatform(key.Scalar());
    if (!platform) {
      Report(key.Mark(), path,
             "unknown platform " + Quote(key.Scalar()) + " (expected " +
                 std::string(kPlatformList) + ")");
      continue;
    }
    const std::string value_path = Join(path, key.Scalar());
    if (!value.IsScalar()) {
      Report(value.IsNull() ? key.Mark() : value.Mark(), value_path,
             "expected an account name, got " + Describe(value));
      continue;
    }
    std::string_view raw = value.Scalar();
    if (!raw.empty() && raw[0] == '@') raw.remove_prefix(1);
    // Reddit names users as u/name (the form mentions take in text); the account is the name.
    if (*platform == Platform::kReddit) {
      if (raw.starts_with("/u/"))
        raw.remove_prefix(3);
      else if (raw.starts_with("u/"))
        raw.remove_prefix(2);
    }
    const std::string account = AsciiLower(raw);
    if (IsBlank(account)) {
      Report(value.Mark(), value_path, "must not be empty");
    } else if (HasSpace(account)) {
      Report(value.Mark(), value_path, "account " + Quote(value.Scalar()) + " contains a space");
    } else if (*platform == Platform::kMastodon && account.find('@') == std::string::npos) {
      // Posts carry fully qualified authors (design §5); a bare name would never match.
      Report(
          value.Mark(), value_path,
          "mastodon account " + Quote(value.Scalar()) + " must be fully qualified, as user@server");
    } else if (!person->accounts.emplace(*platform, account).second) {
      Report(key.Mark(), path, "duplicate platform " + Quote(key.Scalar()));
    }
  }
}

void Loader::ParseAlerts(const YAML::Node& node) {
  auto m = ReadMap(node, "alerts", kAlertsKeys, true);
  if (!m) return;
  if (auto list = ReadList(*m, "receivers")) {
    for (size_t i = 0; i < list->size(); ++i) {
      auto r = ReadMap((*list)[i], Index("alerts.receivers", i), kReceiverKeys, false);
      if (!r) continue;
      Receiver receiver;
      ReadUniqueName(*r, "name", &receiver_names_, &receiver.name);
      if (RequireString(*r, "format", &receiver.format) &&
          !Contains(kReceiverFormats, receiver.format)) {
        Report(r->MarkOf("format"), r->Path("format"),
               "unknown format " + Quote(receiver.format) + " (expected " +
                   OrList(kReceiverFormats) + ")");
      }
      if (!r->Present("url_env")) {
        Report(r->MarkOf("url_env"), r->Path("url_env"), "is required");
      } else {
        ReadEnvName(*r, "url_env", &receiver.url_env);
      }
      config_.receivers.push_back(std::move(receiver));
    }
  }
  if (auto list = ReadList(*m, "rules")) {
    NameSet names("rule name");
    for (size_t i = 0; i < list->size(); ++i) {
      auto r = ReadMap((*list)[i], Index("alerts.rules", i), kRuleKeys, false);
      if (r) ParseRule(*r, &names);
    }
  }
}

void Loader::ParseRule(const Map& m, NameSet* names) {
  Rule rule;
  ReadUniqueName(m, "name", names, &rule.name);
  bool known_kind = false;
  if (RequireString(m, "kind", &rule.kind)) {
    known_kind = Contains(kRuleKinds, rule.kind);
    if (!known_kind) {
      Report(m.MarkOf("kind"), m.Path("kind"),
             "unknown kind " + Quote(rule.kind) + " (expected " + OrList(kRuleKinds) + ")");
    }
  }
  const bool spike = rule.kind == "spike";
  for (const Item& item : ReadStringList(m, "receivers")) {
    if (std::find(rule.receivers.begin(), rule.receivers.end(), item.value) ==
        rule.receivers.end()) {
      rule.receivers.push_back(item.value);
    }
    receiver_refs_.push_back(Reference{item.value, item.mark, item.path});
  }
  if (!m.Present("campaign")) {
    if (spike) Report(m.MarkOf("campaign"), m.Path("campaign"), "is required for spike rules");
  } else if (ReadString(m, "campaign", &rule.campaign)) {
    campaign_refs_.push_back(Reference{rule.campaign, m.MarkOf("campaign"), m.Path("campaign")});
  }
  if (ReadDuration(m, "window", 1, "1ms", &rule.window_ms) && known_kind && !spike) {
    Report(m.MarkOf("window"), m.Path("window"), "is used only by spike rules");
  }
  if (ReadNumber(m, "threshold", &rule.threshold)) {
    if (rule.threshold <= 0) {
      Report(m.MarkOf("threshold"), m.Path("threshold"), "must be greater than 0");
    } else if (known_kind && !spike) {
      Report(m.MarkOf("threshold"), m.Path("threshold"), "is used only by spike rules");
    }
  }
  ReadDuration(m, "max_age", 1, "1ms", &rule.max_age_ms);
  config_.rules.push_back(std::move(rule));
}

void Loader::CheckReferences() {
  for (const Reference& ref : receiver_refs_) {
    if (!receiver_names_.Has(ref.name)) {
      Report(ref.mark, ref.path, "no receiver named " + Quote(ref.name) + " in alerts.receivers");
    }
  }
  for (const Reference& ref : campaign_refs_) {
    if (!campaign_names_.Has(ref.name)) {
      Report(ref.mark, ref.path, "no campaign named " + Quote(ref.name) + " in campaigns");
    }
  }
}

LoadResult Loader::Run(const std::string& text) {
  LoadResult result;
  config_.file = file_;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    // The rest of the tree is unknown after a syntax error, so it is the only problem reported.
    Report(e.mark, "", "YAML syntax error: " + e.msg + SyntaxHint(text, e.mark.line));
    result.problems = std::move(problems_);
    return result;
  }
  try {
    if (docs.size() > 1) {
      Report(docs[1].Mark(), "",
             "expected one YAML document, found " + std::to_string(docs.size()));
    }
    const YAML::Node root = docs.empty() ? YAML::Node() : docs[0];
    if (auto top = ReadMap(root, "", kTopKeys, true)) {
      ParseStorage(top->Section("storage"));
      ParseHttp(top->Section("http"));
      ParseShard(*top);
      ParseSources(top->Section("sources"));
      ParseCampaigns(top->Section("campaigns"));
      ParsePeople(top->Section("people"));
      ParseAlerts(top->Section("alerts"));
      CheckReferences();
    }
  } catch (const YAML::Exception& e) {
    // Not expected: every access above checks the node type first.
    Report(e.mark, "", std::string("internal error reading the config: ") + e.what());
  }
  std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.line, a.col) < std::tie(b.line, b.col);
  });
  result.problems = std::move(problems_);
  if (result.problems.empty()) result.config = std::move(config_);
  return result;
}

}  // namespace

std::string Problem::ToString() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + message;
}

std::string NormalizeHashtag(std::string_view tag) {
  while (!tag.empty() && tag.front() == '#') tag.remove_prefix(1);
  return AsciiLower(tag);
}

Result<HostPort> ParseHostPort(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Fail(Error::InvalidArgument(why + ", got " + Quote(text)));
  };
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in address");
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return bad("expected host:port, e.g. [::1]:9750");
    port = rest.substr(1);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port, e.g. 127.0.0.1:9750");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return bad("an IPv6 address needs brackets, e.g. [::1]:9750");
    }
  }
  if (host.empty()) return bad("host is missing (use 0.0.0.0:PORT to listen on all interfaces)");
  if (HasSpace(host)) return bad("host contains a space");
  int value = 0;
  const char* end = port.data() + port.size();
  auto [ptr, ec] = std::from_chars(port.data(), end, value);
  if (port.empty() || ec != std::errc() || ptr != end || value < 0 || value > 65535) {
    return bad("port must be a number from 1 to 65535 (or 0 for any free port)");
  }
  return HostPort{std::string(host), value};
}

LoadResult LoadConfigText(const std::string& text, const std::string& file, bool check_env) {
  return Loader(file, check_env).Run(text);
}

LoadResult LoadConfigFile(const std::string& path, bool check_env) {
  auto fail = [&](std::string message) {
    LoadResult result;
    result.problems.push_back(Problem{path, 0, 0, std::move(message)});
    return result;
  };
  FileRead read = ReadWholeFile(path, kMaxFileBytes);
  if (read.too_large) return fail("config file is larger than 16 MiB");
  if (!read.text) {
    return fail(std::string(read.opened ? "cannot read config file: " : "cannot open config file: ") +
                std::strerror(read.error));
  }
  const std::string& text = *read.text;
  return LoadConfigText(text, path, check_env);
}

}  // namespace chorus::config
