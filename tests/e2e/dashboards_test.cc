// The Grafana dashboards and the Prometheus rules, checked against the real programs: every
// dashboard is linted (valid JSON, a uid, unique panel ids, every panel and query on the
// ${datasource} variable, no undefined variable); the rules pass promtool's check and unit tests;
// and, end to end, a Debian `prometheus` scrapes `chorusd --demo` with the repository's rules
// loaded, resolves every dashboard variable the way Grafana does (label_values via the series
// API), runs every panel's query and fails naming the ones that return an error or no data, and a
// ChorusCampaignSpike fired by the demo's surge reaches a real `prometheus-alertmanager`.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/testlib/process.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;

const std::string kRepo = CHORUS_SOURCE_DIR;
const std::string kDashboards = kRepo + "/dashboards";
const std::string kRules = kRepo + "/prometheus/chorus-rules.yml";
constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";
constexpr const char* kAmtool = "/usr/bin/amtool";

// Grafana's own variables, with values that make sense for a Prometheus scraped every second and
// data a minute or two old: $__rate_interval must span a few scrapes, $__range the whole run.
const std::map<std::string, std::string> kBuiltins = {
    {"__rate_interval", "30s"}, {"__interval", "5s"},      {"__range", "1h"},
    {"__range_s", "3600"},      {"__range_ms", "3600000"}, {"__interval_ms", "5000"}};

struct Variable {
  std::string name;
  std::string type;   // datasource | query | custom | ...
  std::string query;  // label_values(...) for query variables
  std::string current;
  std::string all_value;
  bool include_all = false;
};

struct PanelQuery {
  std::string panel;  // "12 \"Posts per minute\""
  std::string ref;
  std::string expr;
};

struct Dashboard {
  std::string file;
  std::string uid;
  std::vector<Variable> variables;
  std::vector<PanelQuery> queries;
  std::vector<std::string> problems;  // lint findings
};

std::string Str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  return e[key].get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}

// The uid of an object's `datasource` (Grafana writes either {"type","uid"} or a bare string).
std::string DatasourceUid(simdjson::dom::element e) {
  simdjson::dom::element ds;
  if (e["datasource"].get(ds) != simdjson::SUCCESS) return "";
  std::string_view v;
  if (ds.get(v) == simdjson::SUCCESS) return std::string(v);
  return Str(ds, "uid");
}

// Names used as `$name` or `${name...}` in `text`.
std::set<std::string> VariablesUsed(const std::string& text) {
  std::set<std::string> out;
  for (size_t i = text.find('$'); i != std::string::npos; i = text.find('$', i + 1)) {
    size_t j = i + 1;
    const bool braced = j < text.size() && text[j] == '{';
    if (braced) ++j;
    size_t k = j;
    while (k < text.size() && (std::isalnum(static_cast<unsigned char>(text[k])) || text[k] == '_'))
      ++k;
    if (k > j) out.insert(text.substr(j, k - j));
  }
  return out;
}

// Replaces `$name` and `${name}` by their values; names without a value stay as they are.
std::string Substitute(const std::string& text, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      out += text[i++];
      continue;
    }
    size_t j = i + 1;
    const bool braced = j < text.size() && text[j] == '{';
    if (braced) ++j;
    size_t k = j;
    while (k < text.size() && (std::isalnum(static_cast<unsigned char>(text[k])) || text[k] == '_'))
      ++k;
    const std::string name = text.substr(j, k - j);
    const bool closed = !braced || (k < text.size() && text[k] == '}');
    auto it = values.find(name);
    if (name.empty() || !closed || it == values.end()) {
      out += text[i++];
      continue;
    }
    out += it->second;
    i = braced ? k + 1 : k;
  }
  return out;
}

void LintPanels(simdjson::dom::array panels, Dashboard& d, std::set<int64_t>& ids) {
  for (simdjson::dom::element p : panels) {
    int64_t id = 0;
    const std::string title = Str(p, "title");
    const std::string type = Str(p, "type");
    if (p["id"].get(id) != simdjson::SUCCESS) {
      d.problems.push_back("panel \"" + title + "\" has no numeric id");
    } else if (!ids.insert(id).second) {
      d.problems.push_back("panel id " + std::to_string(id) + " is used twice");
    }
    const std::string where = std::to_string(id) + " \"" + title + "\"";
    if (title.empty()) d.problems.push_back("panel " + where + " has no title");
    simdjson::dom::element grid;
    if (p["gridPos"].get(grid) != simdjson::SUCCESS) {
      d.problems.push_back("panel " + where + " has no gridPos");
    }
    if (type == "row") {
      simdjson::dom::array nested;
      if (p["panels"].get(nested) == simdjson::SUCCESS) LintPanels(nested, d, ids);
      continue;
    }
    if (DatasourceUid(p) != "${datasource}") {
      d.problems.push_back("panel " + where + " does not use the ${datasource} variable");
    }
    simdjson::dom::array targets;
    if (p["targets"].get(targets) != simdjson::SUCCESS || targets.size() == 0) {
      d.problems.push_back("panel " + where + " has no query");
      continue;
    }
    for (simdjson::dom::element t : targets) {
      const std::string ref = Str(t, "refId");
      const std::string expr = Str(t, "expr");
      if (DatasourceUid(t) != "${datasource}") {
        d.problems.push_back("panel " + where + " query " + ref + " does not use ${datasource}");
      }
      if (expr.empty()) {
        d.problems.push_back("panel " + where + " query " + ref + " has no expr");
        continue;
      }
      d.queries.push_back({where, ref, expr});
    }
  }
}

Dashboard LoadDashboard(const std::string& path) {
  Dashboard d;
  d.file = std::filesystem::path(path).filename().string();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text) != simdjson::SUCCESS) {
    d.problems.push_back("cannot read the file");
    return d;
  }
  if (auto error = parser.parse(text).get(root); error != simdjson::SUCCESS) {
    d.problems.push_back(std::string("not valid JSON: ") + simdjson::error_message(error));
    return d;
  }
  d.uid = Str(root, "uid");
  if (d.uid.empty()) d.problems.push_back("no uid");
  if (Str(root, "title").empty()) d.problems.push_back("no title");
  int64_t schema = 0;
  if (root["schemaVersion"].get(schema) != simdjson::SUCCESS || schema < 36) {
    d.problems.push_back("schemaVersion missing or older than 36");
  }
  simdjson::dom::array vars;
  if (root["templating"]["list"].get(vars) == simdjson::SUCCESS) {
    for (simdjson::dom::element v : vars) {
      Variable var;
      var.name = Str(v, "name");
      var.type = Str(v, "type");
      var.all_value = Str(v, "allValue");
      bool include_all = false;
      var.include_all = v["includeAll"].get(include_all) == simdjson::SUCCESS && include_all;
      var.current = Str(v["current"], "value");
      simdjson::dom::element q;
      if (v["query"].get(q) == simdjson::SUCCESS) {
        std::string_view s;
        var.query = q.get(s) == simdjson::SUCCESS ? std::string(s) : Str(q, "query");
      }
      if (var.type == "query" && DatasourceUid(v) != "${datasource}") {
        d.problems.push_back("variable " + var.name + " does not use ${datasource}");
      }
      d.variables.push_back(var);
    }
  }
  const bool has_ds = std::any_of(d.variables.begin(), d.variables.end(), [](const Variable& v) {
    return v.name == "datasource" && v.type == "datasource" && v.query == "prometheus";
  });
  if (!has_ds) d.problems.push_back("no `datasource` variable of type datasource (prometheus)");

  simdjson::dom::array panels;
  if (root["panels"].get(panels) != simdjson::SUCCESS || panels.size() == 0) {
    d.problems.push_back("no panels");
    return d;
  }
  std::set<int64_t> ids;
  LintPanels(panels, d, ids);

  std::set<std::string> defined;
  for (const auto& v : d.variables) defined.insert(v.name);
  for (const auto& [name, value] : kBuiltins) defined.insert(name);
  auto check_used = [&](const std::string& text, const std::string& where) {
    for (const auto& name : VariablesUsed(text)) {
      if (!defined.count(name)) d.problems.push_back(where + " uses undefined variable $" + name);
    }
  };
  for (const auto& q : d.queries) check_used(q.expr, "panel " + q.panel);
  for (const auto& v : d.variables) check_used(v.query, "variable " + v.name);
  return d;
}

std::vector<Dashboard> LoadDashboards() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(kDashboards)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<Dashboard> out;
  for (const auto& f : files) out.push_back(LoadDashboard(f));
  return out;
}

TEST(Dashboards, AreGrafanaJsonOnTheDatasourceVariableWithUniqueIds) {
  const auto dashboards = LoadDashboards();
  std::set<std::string> names;
  for (const auto& d : dashboards) names.insert(d.file);
  for (const char* want :
       {"campaign-overview.json", "policymakers.json", "coalition.json", "chorus-health.json"}) {
    EXPECT_TRUE(names.count(want)) << want << " is missing from dashboards/";
  }
  std::set<std::string> uids;
  for (const auto& d : dashboards) {
    for (const auto& p : d.problems) ADD_FAILURE() << d.file << ": " << p;
    EXPECT_FALSE(d.queries.empty()) << d.file;
    if (!d.uid.empty()) {
      EXPECT_TRUE(uids.insert(d.uid).second) << d.file << ": uid " << d.uid << " used twice";
    }
  }
  for (const char* f :
       {"provisioning/dashboards.yml", "provisioning/datasources.yml", "README.md"}) {
    EXPECT_FALSE(ReadFile(kDashboards + "/" + f).empty()) << "dashboards/" << f;
  }
}

TEST(PrometheusRules, PassPromtoolCheckAndUnitTests) {
  ASSERT_EQ(access(kPromtool, X_OK), 0)
      << kPromtool << " is missing: scripts/install-deps.sh installs `prometheus`";
  const RunResult check = RunCommand({kPromtool, "check", "rules", kRules}, seconds(60));
  EXPECT_EQ(check.exit_code, 0) << check.output;
  // rule_files in the test file are resolved from the test file's directory.
  const RunResult unit = RunCommand(
      {kPromtool, "test", "rules", kRepo + "/prometheus/chorus-rules.test.yml"}, seconds(120));
  EXPECT_EQ(unit.exit_code, 0) << unit.output;
  const RunResult config = RunCommand(
      {kPromtool, "check", "config", kRepo + "/prometheus/prometheus.example.yml"}, seconds(60));
  EXPECT_EQ(config.exit_code, 0) << config.output;
  ASSERT_EQ(access(kAmtool, X_OK), 0)
      << kAmtool << " is missing: scripts/install-deps.sh installs `prometheus-alertmanager`";
  const RunResult am = RunCommand(
      {kAmtool, "check-config", kRepo + "/prometheus/alertmanager.example.yml"}, seconds(60));
  EXPECT_EQ(am.exit_code, 0) << am.output;
}

// ------------------------------------------------------------------ end to end

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// GET against Prometheus' HTTP API; "" and the parsed `data` on success, else the error.
struct ApiReply {
  std::string error;
  std::vector<std::string> strings;  // /api/v1/label/.../values
  size_t results = 0;                // /api/v1/query: number of series (or 1 for a scalar)
};

ApiReply PrometheusGet(int port, const std::string& path) {
  ApiReply reply;
  const HttpResult r = HttpGet(port, path, /*timeout_s=*/10);
  if (r.status == 0) {
    reply.error = "no answer from Prometheus";
    return reply;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(r.body).get(root) != simdjson::SUCCESS) {
    reply.error = "HTTP " + std::to_string(r.status) + ", not JSON: " + r.body.substr(0, 200);
    return reply;
  }
  if (Str(root, "status") != "success") {
    reply.error = Str(root, "errorType") + ": " + Str(root, "error");
    return reply;
  }
  simdjson::dom::element data;
  if (root["data"].get(data) != simdjson::SUCCESS) {
    reply.error = "no data in the reply";
    return reply;
  }
  simdjson::dom::array arr;
  if (data.get(arr) == simdjson::SUCCESS) {  // label values
    for (simdjson::dom::element v : arr) {
      std::string_view s;
      if (v.get(s) == simdjson::SUCCESS) reply.strings.emplace_back(s);
    }
    return reply;
  }
  const std::string type = Str(data, "resultType");
  simdjson::dom::array result;
  if (type == "vector" || type == "matrix") {
    if (data["result"].get(result) == simdjson::SUCCESS) reply.results = result.size();
  } else if (type == "scalar" || type == "string") {
    reply.results = 1;
  }
  return reply;
}

// label_values(metric{selector}, label) or label_values(label) -> the values Grafana would offer.
ApiReply LabelValues(int port, const std::string& query) {
  ApiReply bad;
  const std::string prefix = "label_values(";
  if (query.rfind(prefix, 0) != 0 || query.back() != ')') {
    bad.error = "not a label_values() query: " + query;
    return bad;
  }
  const std::string inner = query.substr(prefix.size(), query.size() - prefix.size() - 1);
  const size_t comma = inner.rfind(',');
  auto trim = [](std::string s) {
    s.erase(0, s.find_first_not_of(' '));
    s.erase(s.find_last_not_of(' ') + 1);
    return s;
  };
  const std::string label = trim(comma == std::string::npos ? inner : inner.substr(comma + 1));
  std::string path = "/api/v1/label/" + label + "/values";
  if (comma != std::string::npos) path += "?match[]=" + UrlEncode(trim(inner.substr(0, comma)));
  return PrometheusGet(port, path);
}

// Values for every variable of `d`: the first offered value (as Grafana preselects it) or, with
// `all`, the "All" value of variables that have one. Problems are appended to `problems`.
std::map<std::string, std::string> ResolveVariables(int port, const Dashboard& d, bool all,
                                                    std::vector<std::string>& problems) {
  std::map<std::string, std::string> values(kBuiltins.begin(), kBuiltins.end());
  values["datasource"] = "prometheus";
  for (const auto& v : d.variables) {
    if (v.type == "datasource") continue;
    if (all && v.include_all) {
      values[v.name] = v.all_value.empty() ? ".*" : v.all_value;
      continue;
    }
    if (v.type == "query") {
      const ApiReply r = LabelValues(port, Substitute(v.query, values));
      if (!r.error.empty()) {
        problems.push_back("variable " + v.name + ": " + r.error);
      } else if (r.strings.empty()) {
        problems.push_back("variable " + v.name + " (" + v.query + ") offers no value");
      } else {
        std::vector<std::string> sorted = r.strings;
        std::sort(sorted.begin(), sorted.end());
        values[v.name] = sorted.front();
        continue;
      }
      values[v.name] = ".*";
    } else {
      values[v.name] = v.current;
    }
  }
  return values;
}

// Every query of every dashboard, with specific variable values and with "All"; the failures.
std::vector<std::string> RunAllQueries(int port, const std::vector<Dashboard>& dashboards) {
  std::vector<std::string> failures;
  for (const auto& d : dashboards) {
    for (const bool all : {false, true}) {
      std::vector<std::string> problems;
      const auto values = ResolveVariables(port, d, all, problems);
      for (const auto& p : problems) failures.push_back(d.file + ": " + p);
      for (const auto& q : d.queries) {
        const std::string expr = Substitute(q.expr, values);
        const ApiReply r = PrometheusGet(port, "/api/v1/query?query=" + UrlEncode(expr));
        if (!r.error.empty() || r.results == 0) {
          failures.push_back(d.file + ": panel " + q.panel + " query " + q.ref +
                             (all ? " (All)" : "") + ": " +
                             (r.error.empty() ? "no data" : r.error) + "\n    " + expr);
        }
      }
    }
  }
  return failures;
}

bool Ready(int port) { return HttpGet(port, "/-/ready", 2).status == 200; }

TEST(DashboardsEndToEnd, EveryPanelQueryHasDataAndTheDemoSpikeReachesAlertmanager) {
  for (const char* bin : {kPrometheus, kAlertmanager}) {
    ASSERT_EQ(access(bin, X_OK), 0) << bin
                                    << " is missing: scripts/install-deps.sh installs `prometheus` "
                                       "and `prometheus-alertmanager`";
  }
  const auto dashboards = LoadDashboards();
  ASSERT_FALSE(dashboards.empty());
  TempDir dir;

  // The demo, with its history stored before Prometheus first scrapes it: the rules see the live
  // play, not the backfill arriving.
  const int chorus_port = FreePort();
  Process demo({BinPath("chorusd"), "--demo", "--listen",
                "127.0.0.1:" + std::to_string(chorus_port), "--data-dir", dir.path() + "/demo"},
               dir.path() + "/demo.log");
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto m = ParseMetrics(HttpGet(chorus_port, "/metrics").body);
        int polled = 0;
        for (const auto& [key, value] : m) {
          polled += key.rfind("chorus_source_last_success_timestamp_seconds{", 0) == 0;
        }
        return polled >= 4;
      },
      seconds(60)))
      << ReadFile(dir.path() + "/demo.log");

  const int am_port = FreePort();
  std::ofstream(dir.path() + "/alertmanager.yml")
      << "route: {receiver: test, group_wait: 1s, group_interval: 1s, repeat_interval: 1h}\n"
         "receivers: [{name: test}]\n";
  Process alertmanager(
      {kAlertmanager, "--config.file=" + dir.path() + "/alertmanager.yml",
       "--storage.path=" + dir.path() + "/alertmanager",
       "--web.listen-address=127.0.0.1:" + std::to_string(am_port), "--cluster.listen-address="},
      dir.path() + "/alertmanager.log");

  const int prom_port = FreePort();
  // The repository's rules file, as an operator loads it; scrape and evaluate every second.
  const std::string prom_config =
      Substitute(R"(global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ['${rules}']
alerting:
  alertmanagers:
    - static_configs: [{targets: ['127.0.0.1:${am_port}']}]
scrape_configs:
  - job_name: chorus
    static_configs: [{targets: ['127.0.0.1:${chorus_port}']}]
)",
                 {{"rules", kRules},
                  {"am_port", std::to_string(am_port)},
                  {"chorus_port", std::to_string(chorus_port)}});
  std::ofstream(dir.path() + "/prometheus.yml") << prom_config;
  Process prometheus({kPrometheus, "--config.file=" + dir.path() + "/prometheus.yml",
                      "--storage.tsdb.path=" + dir.path() + "/tsdb",
                      "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
                     dir.path() + "/prometheus.log");
  const auto prometheus_started = steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return Ready(am_port); }, seconds(30)))
      << ReadFile(dir.path() + "/alertmanager.log");
  ASSERT_TRUE(WaitFor([&] { return Ready(prom_port); }, seconds(30)))
      << ReadFile(dir.path() + "/prometheus.log");

  // (a) Every panel's query, once the demo has had time to fill them.
  std::vector<std::string> failures;
  WaitFor(
      [&] {
        failures = RunAllQueries(prom_port, dashboards);
        return failures.empty();
      },
      seconds(90));
  for (const auto& f : failures) ADD_FAILURE() << f;
  size_t queries = 0;
  for (const auto& d : dashboards) queries += d.queries.size();
  RecordProperty("panel_queries", static_cast<int>(queries));

  // (b) The demo's surge, seen by ChorusCampaignSpike, at the real Alertmanager. The player's first
  // surge comes 75 s after the demo starts and the rule holds 30 s: give it until 3 minutes after
  // Prometheus started.
  std::string alert_labels;
  const auto deadline = prometheus_started + seconds(180);
  const bool spiked = WaitFor(
      [&] {
        const HttpResult r = HttpGet(am_port, "/api/v2/alerts", 5);
        if (r.status != 200) return false;
        simdjson::dom::parser parser;
        simdjson::dom::array alerts;
        if (parser.parse(r.body).get(alerts) != simdjson::SUCCESS) return false;
        for (simdjson::dom::element a : alerts) {
          simdjson::dom::element labels, annotations;
          if (a["labels"].get(labels) != simdjson::SUCCESS ||
              a["annotations"].get(annotations) != simdjson::SUCCESS ||
              Str(labels, "alertname") != "ChorusCampaignSpike") {
            continue;
          }
          if (Str(labels, "campaign").empty() || Str(labels, "severity").empty() ||
              Str(annotations, "summary").empty()) {
            continue;
          }
          alert_labels = Str(labels, "campaign") + " on " + Str(labels, "platform") + " (window " +
                         Str(labels, "window") + ")";
          return true;
        }
        return false;
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now()));
  EXPECT_TRUE(spiked) << "no ChorusCampaignSpike reached Alertmanager; Prometheus' alerts:\n"
                      << HttpGet(prom_port, "/api/v1/alerts").body;
  if (spiked) RecordProperty("spike_alert", alert_labels);

  for (Process* p : {&prometheus, &alertmanager, &demo}) {
    p->Signal(SIGTERM);
    p->Wait(seconds(20));
  }
}

}  // namespace
}  // namespace chorus::testing
