// TLS and basic auth on the daemon's HTTP server (http.web_config_file): the HttpServer class on
// 127.0.0.1 port 0 with certificates made at test time, then the real chorusd.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>

#include "daemon/http_server.h"
#include "daemon/web_config.h"
#include "tests/integration/daemon_harness.h"
#include "tests/integration/tls_test_util.h"
#include "tests/testlib/process.h"
#include "tests/testlib/test_util.h"

namespace chorus::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kUser[] = "prometheus";
constexpr char kPassword[] = "scrape-me-please";

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// Every wait bounded: a TLS handshake or read that stalls fails the request, not the test run.
std::unique_ptr<httplib::Client> Client(const std::string& url, const std::string& ca_file = "",
                                        const std::string& cert = "", const std::string& key = "") {
  auto c = cert.empty() ? std::make_unique<httplib::Client>(url)
                        : std::make_unique<httplib::Client>(url, cert, key);
  c->set_connection_timeout(2, 0);
  c->set_read_timeout(5, 0);
  c->set_write_timeout(5, 0);
  c->set_keep_alive(false);
  if (!ca_file.empty()) c->set_ca_cert_path(ca_file);
  return c;
}

int Status(const httplib::Result& r) { return r ? r->status : 0; }

class HttpTls : public ::testing::Test {
 protected:
  void SetUp() override { cert_ = MakeSelfSignedCert(dir_.path(), "server"); }
  ~HttpTls() override {
    if (server_) server_->Stop();
  }

  daemon::HttpHandlers Handlers() {
    daemon::HttpHandlers h;
    h.metrics = [] { return std::string("chorus_test_up 1\n"); };
    h.ready = [] { return true; };
    h.status_page = [] { return std::string("<html></html>"); };
    h.campaigns_json = [] { return std::string("{\"campaigns\":[]}"); };
    h.reload = [this]() -> Result<void> {
      ++reloads_;
      return {};
    };
    return h;
  }

  // Loads `yaml` as dir/web.yml the way chorusd does and starts a server with it.
  void Start(const std::string& yaml) {
    const std::string path = dir_.path() + "/web.yml";
    Write(path, yaml);
    auto web = daemon::LoadWebConfigFile(path);
    ASSERT_TRUE(web) << web.error().ToString();
    server_ = std::make_unique<daemon::HttpServer>(Handlers());
    auto started = server_->Start("127.0.0.1:0", std::make_shared<const daemon::WebConfig>(*web));
    ASSERT_TRUE(started) << started.error().ToString();
    ASSERT_GT(server_->port(), 0);
  }
  std::string Https() const { return "https://127.0.0.1:" + std::to_string(server_->port()); }
  std::string Http() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::string TlsYaml() const {
    return "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
  }
  std::string UsersYaml() const {
    return "basic_auth_users:\n  " + std::string(kUser) + ": " + MakeBcryptHash(kPassword, "$2y$") +
           "\n  other: " + MakeBcryptHash("other-password") + "\n";
  }

  TempDir dir_;
  TestCert cert_;
  std::atomic<int> reloads_{0};
  std::unique_ptr<daemon::HttpServer> server_;
};

TEST_F(HttpTls, ServesHttpsWithTheConfiguredCertificateAndRefusesPlainHttp) {
  ASSERT_NO_FATAL_FAILURE(Start(TlsYaml()));
  auto https = Client(Https(), cert_.cert_path);
  auto r = https->Get("/metrics");
  ASSERT_EQ(Status(r), 200) << (r ? r->body : httplib::to_string(r.error()));
  EXPECT_EQ(r->body, "chorus_test_up 1\n");
  EXPECT_EQ(Status(https->Get("/api/v1/campaigns")), 200);
  // Without auth configured, nothing asks for it.
  EXPECT_EQ(Status(https->Post("/-/reload")), 200);
  EXPECT_EQ(reloads_.load(), 1);

  // The certificate is the one from the file: a client trusting only the system CAs refuses it.
  auto untrusting = Client(Https());
  EXPECT_EQ(Status(untrusting->Get("/metrics")), 0);
  // Plain HTTP on the TLS port gets no HTTP answer.
  EXPECT_EQ(Status(Client(Http())->Get("/metrics")), 0);
  // The server still serves after those failed handshakes.
  EXPECT_EQ(Status(Client(Https(), cert_.cert_path)->Get("/healthz")), 200);
}

TEST_F(HttpTls, MinVersionIsEnforced) {
  ASSERT_NO_FATAL_FAILURE(Start(TlsYaml() + "  min_version: TLS13\n"));
  auto old_client = Client(Https(), cert_.cert_path);
  ASSERT_NE(old_client->ssl_context(), nullptr);
  SSL_CTX_set_max_proto_version(old_client->ssl_context(), TLS1_2_VERSION);
  EXPECT_EQ(Status(old_client->Get("/metrics")), 0);
  EXPECT_EQ(Status(Client(Https(), cert_.cert_path)->Get("/metrics")), 200);
}

TEST_F(HttpTls, BasicAuthProtectsEveryEndpoint) {
  ASSERT_NO_FATAL_FAILURE(Start(UsersYaml() + "http_server_config:\n  http2: true\n"
                                              "  headers:\n    X-Frame-Options: deny\n"));
  auto anonymous = Client(Http());
  for (const char* path : {"/metrics", "/", "/healthz", "/readyz", "/api/v1/campaigns",
                           "/api/v1/posts", "/api/v1/no-such", "/no-such"}) {
    auto r = anonymous->Get(path);
    ASSERT_EQ(Status(r), 401) << path;
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Basic realm=\"chorus\"") << path;
    EXPECT_THAT(r->body, HasSubstr("unauthorized")) << path;
    EXPECT_THAT(r->body, Not(HasSubstr("chorus_test_up"))) << path;
    EXPECT_EQ(r->get_header_value("X-Frame-Options"), "deny") << path;
  }
  EXPECT_EQ(Status(anonymous->Post("/-/reload")), 401);
  EXPECT_EQ(reloads_.load(), 0) << "an unauthenticated reload reached the handler";

  auto wrong = Client(Http());
  wrong->set_basic_auth(kUser, "not-the-password");
  EXPECT_EQ(Status(wrong->Get("/metrics")), 401);
  auto swapped = Client(Http());
  swapped->set_basic_auth("other", kPassword);  // a password is only good for its own user
  EXPECT_EQ(Status(swapped->Get("/metrics")), 401);
  auto stranger = Client(Http());
  stranger->set_basic_auth("mallory", kPassword);
  EXPECT_EQ(Status(stranger->Get("/metrics")), 401);

  auto right = Client(Http());
  right->set_basic_auth(kUser, kPassword);
  auto r = right->Get("/metrics");
  ASSERT_EQ(Status(r), 200);
  EXPECT_EQ(r->body, "chorus_test_up 1\n");
  EXPECT_EQ(r->get_header_value("X-Frame-Options"), "deny");
  EXPECT_EQ(Status(right->Get("/api/v1/campaigns")), 200);
  EXPECT_EQ(Status(right->Get("/healthz")), 200);
  EXPECT_EQ(Status(right->Post("/-/reload")), 200);
  EXPECT_EQ(reloads_.load(), 1);
  auto other = Client(Http());
  other->set_basic_auth("other", "other-password");
  EXPECT_EQ(Status(other->Get("/metrics")), 200);
}

TEST_F(HttpTls, TlsAndBasicAuthTogether) {
  ASSERT_NO_FATAL_FAILURE(Start(TlsYaml() + UsersYaml()));
  auto anonymous = Client(Https(), cert_.cert_path);
  auto r = anonymous->Get("/metrics");
  ASSERT_EQ(Status(r), 401);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Basic realm=\"chorus\"");
  auto right = Client(Https(), cert_.cert_path);
  right->set_basic_auth(kUser, kPassword);
  EXPECT_EQ(Status(right->Get("/metrics")), 200);
  EXPECT_EQ(Status(right->Get("/api/v1/campaigns")), 200);
  auto plain = Client(Http());
  plain->set_basic_auth(kUser, kPassword);
  EXPECT_EQ(Status(plain->Get("/metrics")), 0);
}

TEST_F(HttpTls, ClientCertificatesAreRequiredAndVerified) {
  const TestCert client = MakeSelfSignedCert(dir_.path(), "client");
  const TestCert stranger = MakeSelfSignedCert(dir_.path(), "stranger");
  ASSERT_NO_FATAL_FAILURE(Start(TlsYaml() + "  client_auth_type: RequireAndVerifyClientCert\n"
                                            "  client_ca_file: client.crt\n"));
  EXPECT_EQ(Status(Client(Https(), cert_.cert_path)->Get("/metrics")), 0);
  EXPECT_EQ(
      Status(
          Client(Https(), cert_.cert_path, stranger.cert_path, stranger.key_path)->Get("/metrics")),
      0);
  EXPECT_EQ(
      Status(Client(Https(), cert_.cert_path, client.cert_path, client.key_path)->Get("/metrics")),
      200);
}

TEST_F(HttpTls, ABadTlsContextFailsStart) {
  // A file that loaded once but changed before the server started: Start says why.
  daemon::WebConfig web;
  web.file = dir_.path() + "/web.yml";
  web.tls = daemon::TlsServerConfig{};
  web.tls->cert_file = cert_.key_path;
  web.tls->key_file = cert_.key_path;
  daemon::HttpServer server(Handlers());
  auto r = server.Start("127.0.0.1:0", std::make_shared<const daemon::WebConfig>(web));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message,
              HasSubstr("tls_server_config.cert_file: cannot load a PEM certificate"));
}

// The real chorusd, its web config next to chorus.yml (a relative web_config_file).
class HttpTlsChorusd : public ::testing::Test {
 protected:
  void UseWebConfig(const std::string& web_yaml) {
    std::string yaml = h_.ConfigYaml(/*extra_campaign=*/false);
    const size_t at = yaml.find("\nsources:");
    ASSERT_NE(at, std::string::npos);
    yaml.insert(at, "\n  web_config_file: web.yml");
    h_.WriteConfig(yaml);
    Write(h_.dir() + "/web.yml", web_yaml);
  }
  RunResult RunChorusd() {
    return RunCommand({BinPath("chorusd"), "--config", h_.config_path()}, seconds(30));
  }

  DaemonHarness h_;
};

TEST_F(HttpTlsChorusd, ABrokenWebConfigStopsStartUpWithOneClearLine) {
  const std::string plaintext = "plaintext-password-123";
  ASSERT_NO_FATAL_FAILURE(UseWebConfig("basic_auth_users:\n  alice: " + plaintext + "\n"));
  RunResult r = RunChorusd();
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, -1) << "chorusd did not exit";
  EXPECT_THAT(r.output,
              HasSubstr(h_.dir() + "/web.yml:2: basic_auth_users.alice: not a bcrypt hash"));
  EXPECT_THAT(r.output, Not(HasSubstr(plaintext)));
  EXPECT_THAT(r.output, Not(HasSubstr("listening on")));

  ASSERT_NO_FATAL_FAILURE(
      UseWebConfig("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n"));
  r = RunChorusd();
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("tls_server_config.cert_file: cannot read '" + h_.dir() + "/missing.crt'"));

  ASSERT_NO_FATAL_FAILURE(
      UseWebConfig("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  http2: true\n"));
  r = RunChorusd();
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("web.yml:4: tls_server_config.http2: unknown key"));

  std::string yaml = h_.ConfigYaml(false);
  yaml.insert(yaml.find("\nsources:"), "\n  web_config_file: /nonexistent/web.yml");
  h_.WriteConfig(yaml);
  r = RunChorusd();
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("http.web_config_file: cannot read '/nonexistent/web.yml'"));
}

TEST_F(HttpTlsChorusd, ServesTlsWithBasicAuth) {
  const TestCert cert = MakeSelfSignedCert(h_.dir(), "tls");
  const std::string hash = MakeBcryptHash(kPassword);
  ASSERT_NO_FATAL_FAILURE(
      UseWebConfig("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
                   "basic_auth_users:\n  " +
                   std::string(kUser) + ": " + hash + "\n"));
  Process chorusd({BinPath("chorusd"), "--config", h_.config_path()}, h_.log_path());
  const std::string url = "https://127.0.0.1:" + std::to_string(h_.port());
  auto authed = [&] {
    auto c = Client(url, cert.cert_path);
    c->set_basic_auth(kUser, kPassword);
    return c;
  };
  ASSERT_TRUE(WaitFor([&] { return Status(authed()->Get("/readyz")) == 200; }, seconds(20)))
      << "chorusd did not become ready over TLS; log:\n"
      << h_.log();
  auto r = authed()->Get("/metrics");
  ASSERT_EQ(Status(r), 200);
  EXPECT_THAT(r->body, HasSubstr("chorus_"));
  EXPECT_EQ(Status(authed()->Get("/api/v1/campaigns")), 200);
  auto anonymous = Client(url, cert.cert_path)->Get("/metrics");
  ASSERT_EQ(Status(anonymous), 401);
  EXPECT_EQ(anonymous->get_header_value("WWW-Authenticate"), "Basic realm=\"chorus\"");
  EXPECT_EQ(HttpGet(h_.port(), "/healthz", 2).status, 0) << "plain HTTP answered on the TLS port";

  chorusd.Signal(SIGTERM);
  EXPECT_EQ(chorusd.Wait(seconds(30)), 0);
  const std::string log = h_.log();
  EXPECT_THAT(log, HasSubstr("TLS, basic auth for 1 user"));
  EXPECT_THAT(log, Not(HasSubstr(hash)));
  EXPECT_THAT(log, Not(HasSubstr(kPassword)));
}

}  // namespace
}  // namespace chorus::testing
