// The web config file (exporter-toolkit format): parsing, every refusal, TLS file checks, bcrypt
// and the basic-auth cache.
#include "daemon/web_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "config/config.h"
#include "tests/integration/tls_test_util.h"
#include "tests/testlib/test_util.h"

namespace chorus::daemon {
namespace {

using chorus::testing::BasicAuthHeader;
using chorus::testing::MakeBcryptHash;
using chorus::testing::MakeSelfSignedCert;
using chorus::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFile[] = "/etc/chorus/web.yml";

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// The message of a parse that must fail.
std::string ParseError(const std::string& yaml) {
  auto r = ParseWebConfig(yaml, kFile);
  if (r) {
    ADD_FAILURE() << "accepted:\n" << yaml;
    return "";
  }
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << "not one line";
  return r.error().message;
}

TEST(WebConfig, EmptyFileMeansPlainHttpWithoutAuth) {
  for (const char* text : {"", "# nothing\n", "tls_server_config:\nbasic_auth_users: {}\n"}) {
    auto r = ParseWebConfig(text, kFile);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_FALSE(r->tls);
    EXPECT_TRUE(r->basic_auth_users.empty());
    EXPECT_TRUE(r->headers.empty());
    EXPECT_EQ(DescribeWebConfig(&*r), "plain HTTP");
  }
  EXPECT_EQ(DescribeWebConfig(nullptr), "plain HTTP");
}

TEST(WebConfig, ParsesEverySupportedKeyAndResolvesRelativePaths) {
  const std::string hash = MakeBcryptHash("pw", "$2y$");
  const std::string yaml =
      "tls_server_config:\n"
      "  cert_file: tls.crt\n"
      "  key_file: /abs/tls.key\n"
      "  client_auth_type: RequireAndVerifyClientCert\n"
      "  client_ca_file: ca/clients.pem\n"
      "  min_version: TLS13\n"
      "  max_version: TLS13\n"
      "  prefer_server_cipher_suites: false\n"
      "  cipher_suites: []\n"
      "http_server_config:\n"
      "  http2: true\n"
      "  headers:\n"
      "    X-Frame-Options: deny\n"
      "    Strict-Transport-Security: max-age=31536000\n"
      "    Content-Security-Policy: \"\"\n"
      "basic_auth_users:\n"
      "  alice: " +
      hash +
      "\n"
      "  bob: '" +
      MakeBcryptHash("pw2", "$2a$") + "'\n";
  auto r = ParseWebConfig(yaml, kFile);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_TRUE(r->tls);
  EXPECT_EQ(r->tls->cert_file, "/etc/chorus/tls.crt");
  EXPECT_EQ(r->tls->key_file, "/abs/tls.key");
  EXPECT_EQ(r->tls->client_ca_file, "/etc/chorus/ca/clients.pem");
  EXPECT_TRUE(r->tls->require_client_cert);
  EXPECT_EQ(r->tls->min_version, TlsVersion::kTls13);
  EXPECT_EQ(r->tls->max_version, TlsVersion::kTls13);
  EXPECT_FALSE(r->tls->prefer_server_cipher_suites);
  ASSERT_EQ(r->basic_auth_users.size(), 2u);
  EXPECT_EQ(r->basic_auth_users.at("alice"), hash);
  // A blank header is unset, as in exporter-toolkit.
  EXPECT_THAT(r->headers,
              ::testing::ElementsAre(std::pair<std::string, std::string>{"X-Frame-Options", "deny"},
                                     std::pair<std::string, std::string>{
                                         "Strict-Transport-Security", "max-age=31536000"}));
  EXPECT_EQ(DescribeWebConfig(&*r), "TLS, basic auth for 2 users, client certificates required");

  // A web config file given without a directory keeps paths relative to the working directory.
  auto bare = ParseWebConfig("tls_server_config: {cert_file: a.crt, key_file: a.key}\n", "web.yml");
  ASSERT_TRUE(bare) << bare.error().ToString();
  EXPECT_EQ(bare->tls->cert_file, "a.crt");
  EXPECT_EQ(bare->tls->min_version, TlsVersion::kTls12);  // exporter-toolkit's default
  EXPECT_EQ(DescribeWebConfig(&*bare), "TLS");
}

TEST(WebConfig, TheShippedExampleParses) {
  const std::string path = std::string(CHORUS_SOURCE_DIR) + "/config/web-config.example.yml";
  const std::string text = chorus::testing::ReadFile(path);
  ASSERT_FALSE(text.empty()) << path;
  auto r = ParseWebConfig(text, path);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_TRUE(r->tls);
  EXPECT_EQ(r->tls->cert_file, std::string(CHORUS_SOURCE_DIR) + "/config/tls.crt");
  ASSERT_EQ(r->basic_auth_users.count("prometheus"), 1u);
  // The example's hash is of the password its comment names.
  EXPECT_TRUE(BcryptMatches("change-me", r->basic_auth_users.at("prometheus")));
  EXPECT_EQ(r->headers.size(), 2u);
}

TEST(WebConfig, RefusesWhatItDoesNotUnderstandNamingFileLineAndKey) {
  struct Case {
    std::string yaml;
    std::vector<std::string> expected;  // substrings of the message
  };
  const std::string ok_tls = "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n";
  const std::vector<Case> cases = {
      {"tls_server_config: [a]\n",
       {"/etc/chorus/web.yml:1: tls_server_config: expected a mapping"}},
      {"- a\n", {"/etc/chorus/web.yml:1: (top level): expected a mapping"}},
      {"tls_server_config: {cert_file: [x\n", {"/etc/chorus/web.yml", "invalid YAML"}},
      {"basic_auth:\n  alice: x\n", {":1: basic_auth: unknown key"}},
      {"rate_limit: {interval: 1s, burst: 5}\n", {":1: rate_limit: not supported by chorusd"}},
      {ok_tls + "  certfile: b.crt\n", {":4: tls_server_config.certfile: unknown key"}},
      {ok_tls + "  cert: \"-----BEGIN CERTIFICATE-----\"\n",
       {":4: tls_server_config.cert: not supported by chorusd; use cert_file"}},
      {ok_tls + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
       {"tls_server_config.cipher_suites: not supported by chorusd"}},
      {ok_tls + "  curve_preferences: [X25519]\n",
       {"tls_server_config.curve_preferences: not supported"}},
      {ok_tls + "  client_allowed_sans: [a]\n",
       {"tls_server_config.client_allowed_sans: not supported"}},
      {ok_tls + "  client_auth_type: RequireAnyClientCert\n",
       {":4: tls_server_config.client_auth_type: 'RequireAnyClientCert' is not supported by "
        "chorusd"}},
      {ok_tls + "  client_auth_type: Sometimes\n",
       {"tls_server_config.client_auth_type: expected NoClientCert or RequireAndVerifyClientCert"}},
      {ok_tls + "  client_auth_type: RequireAndVerifyClientCert\n",
       {"tls_server_config.client_ca_file: required with client_auth_type "
        "RequireAndVerifyClientCert"}},
      {ok_tls + "  client_ca_file: ca.pem\n", {"tls_server_config.client_ca_file: set without"}},
      {ok_tls + "  min_version: TLS1.2\n", {":4: tls_server_config.min_version: expected TLS10"}},
      {ok_tls + "  min_version: TLS13\n  max_version: TLS12\n",
       {"tls_server_config.max_version: is lower than min_version"}},
      {ok_tls + "  prefer_server_cipher_suites: maybe\n",
       {"tls_server_config.prefer_server_cipher_suites: expected true or false"}},
      {"tls_server_config:\n  cert_file: [a]\n  key_file: a.key\n",
       {":2: tls_server_config.cert_file: expected a string"}},
      {"tls_server_config:\n  key_file: a.key\n",
       {":2: tls_server_config.cert_file: required when tls_server_config is set"}},
      {"tls_server_config:\n  cert_file: a.crt\n", {"tls_server_config.key_file: required"}},
      {"http_server_config:\n  http3: true\n", {":2: http_server_config.http3: unknown key"}},
      {"http_server_config:\n  http2: sometimes\n",
       {"http_server_config.http2: expected true or false"}},
      {"http_server_config:\n  headers:\n    X-Powered-By: chorus\n",
       {":3: http_server_config.headers.X-Powered-By: unknown header"}},
      {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
       {"http_server_config.headers.X-Frame-Options: expected deny or sameorigin"}},
      {"http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n",
       {"X-Content-Type-Options: expected nosniff"}},
      {"basic_auth_users: [alice]\n", {":1: basic_auth_users: expected a mapping"}},
      {"basic_auth_users:\n  \"a:b\": " + MakeBcryptHash("x") + "\n",
       {":2: basic_auth_users: a user name must be non-empty and without ':'"}},
      {"basic_auth_users:\n  alice: [x]\n", {"basic_auth_users.alice: expected a string"}},
  };
  for (const auto& c : cases) {
    const std::string message = ParseError(c.yaml);
    for (const auto& want : c.expected) EXPECT_THAT(message, HasSubstr(want)) << c.yaml;
    EXPECT_THAT(message, HasSubstr(kFile)) << c.yaml;
  }
}

TEST(WebConfig, RefusesPasswordsThatAreNotBcryptWithoutRepeatingThem) {
  const std::string good = MakeBcryptHash("pw");
  for (const std::string& value :
       {std::string("hunter2-plaintext"), std::string("$1$abcdefgh$0123456789abcdefghijkl"),
        std::string("$6$salt$") + std::string(86, 'a'), good.substr(0, 59), good + "x",
        "$2x$" + good.substr(4), "$2b$03$" + good.substr(7), "$2b$1a$" + good.substr(7),
        "$2b$10$" + good.substr(7, 52) + "!", std::string("")}) {
    const std::string message = ParseError("basic_auth_users:\n  carol: '" + value + "'\n");
    EXPECT_THAT(message,
                HasSubstr("/etc/chorus/web.yml:2: basic_auth_users.carol: not a bcrypt hash"))
        << value;
    if (!value.empty()) {
      EXPECT_THAT(message, Not(HasSubstr(value)));
    }
  }
  for (const char* prefix : {"$2a$", "$2b$", "$2y$"}) {
    EXPECT_TRUE(IsBcryptHash(MakeBcryptHash("pw", prefix))) << prefix;
  }
}

TEST(Bcrypt, MatchesOnlyTheRightPasswordForEveryVariant) {
  for (const char* prefix : {"$2a$", "$2b$", "$2y$"}) {
    const std::string hash = MakeBcryptHash("correct horse", prefix);
    ASSERT_EQ(hash.substr(0, 4), prefix);
    EXPECT_TRUE(BcryptMatches("correct horse", hash)) << prefix;
    EXPECT_FALSE(BcryptMatches("correct hors", hash)) << prefix;
    EXPECT_FALSE(BcryptMatches("", hash)) << prefix;
    EXPECT_FALSE(BcryptMatches(std::string("correct horse\0x", 15), hash)) << prefix;
  }
  EXPECT_FALSE(BcryptMatches("x", "not a hash"));
}

TEST(BasicAuth, ChecksHeadersAndCachesOnlySuccesses) {
  BasicAuth auth({{"alice", MakeBcryptHash("s3cret")}, {"bob", MakeBcryptHash("pa:ss")}});
  EXPECT_FALSE(auth.Authorize(""));
  EXPECT_FALSE(auth.Authorize("Bearer abc"));
  EXPECT_FALSE(auth.Authorize("Basic !!!notbase64"));
  EXPECT_FALSE(auth.Authorize("Basic " + chorus::testing::Base64("alice")));  // no colon
  EXPECT_FALSE(auth.Authorize(BasicAuthHeader("alice", "wrong")));
  EXPECT_FALSE(auth.Authorize(BasicAuthHeader("mallory", "s3cret")));
  EXPECT_FALSE(auth.Authorize(BasicAuthHeader("alice", "")));
  EXPECT_EQ(auth.cached_for_test(), 0u);

  EXPECT_TRUE(auth.Authorize(BasicAuthHeader("alice", "s3cret")));
  EXPECT_EQ(auth.cached_for_test(), 1u);
  EXPECT_TRUE(auth.Authorize(BasicAuthHeader("alice", "s3cret")));  // from the cache
  EXPECT_TRUE(auth.Authorize("basic  " + chorus::testing::Base64("alice:s3cret") + " "));
  EXPECT_EQ(auth.cached_for_test(), 1u);
  // The cache is keyed by user and password together.
  EXPECT_FALSE(auth.Check("bob", "s3cret"));
  EXPECT_FALSE(auth.Check("alice", "s3cret2"));
  // A password may contain ':'; the user name ends at the first one.
  EXPECT_TRUE(auth.Authorize(BasicAuthHeader("bob", "pa:ss")));
  EXPECT_EQ(auth.cached_for_test(), 2u);

  BasicAuth nobody({});
  EXPECT_FALSE(nobody.Check("", ""));
}

class WebConfigFiles : public ::testing::Test {
 protected:
  std::string WriteWeb(const std::string& yaml) {
    const std::string path = dir_.path() + "/web.yml";
    Write(path, yaml);
    return path;
  }
  TempDir dir_;
};

TEST_F(WebConfigFiles, LoadsACertificateAndKeyRelativeToTheFile) {
  chorus::testing::MakeSelfSignedCert(dir_.path(), "server");
  const std::string path = WriteWeb(
      "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
      "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: server.crt\n");
  auto r = LoadWebConfigFile(path);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->tls->cert_file, dir_.path() + "/server.crt");
  EXPECT_EQ(r->file, path);

  // From the daemon's config: a relative web_config_file resolves against chorus.yml's directory.
  config::Config c;
  c.file = dir_.path() + "/chorus.yml";
  EXPECT_EQ(LoadWebConfigFor(c).value(), nullptr);
  c.http.web_config_file = "web.yml";
  auto via = LoadWebConfigFor(c);
  ASSERT_TRUE(via) << via.error().ToString();
  ASSERT_NE(*via, nullptr);
  EXPECT_EQ((*via)->file, path);
  c.http.web_config_file = "missing.yml";
  via = LoadWebConfigFor(c);
  ASSERT_FALSE(via);
  EXPECT_THAT(via.error().message,
              AllOf(HasSubstr("http.web_config_file"), HasSubstr(dir_.path() + "/missing.yml"),
                    HasSubstr("No such file")));
}

TEST_F(WebConfigFiles, RefusesUnreadableOrInvalidCertificatesAndKeys) {
  const auto a = chorus::testing::MakeSelfSignedCert(dir_.path(), "a");
  const auto b = chorus::testing::MakeSelfSignedCert(dir_.path(), "b");
  Write(dir_.path() + "/junk.pem", "not PEM at all\n");
  auto load_error = [&](const std::string& cert, const std::string& key,
                        const std::string& extra = "") {
    auto r = LoadWebConfigFile(WriteWeb("tls_server_config:\n  cert_file: " + cert +
                                        "\n  key_file: " + key + "\n" + extra));
    if (r) {
      ADD_FAILURE() << "accepted " << cert << " " << key;
      return std::string();
    }
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    EXPECT_THAT(r.error().message, HasSubstr(dir_.path() + "/web.yml: tls_server_config."));
    return r.error().message;
  };
  EXPECT_THAT(load_error("nope.crt", a.key_path),
              AllOf(HasSubstr("cert_file: cannot read '" + dir_.path() + "/nope.crt'"),
                    HasSubstr("No such file")));
  EXPECT_THAT(load_error(a.cert_path, "nope.key"), HasSubstr("key_file: cannot read"));
  EXPECT_THAT(load_error("junk.pem", a.key_path),
              HasSubstr("cert_file: cannot load a PEM certificate"));
  EXPECT_THAT(load_error(a.cert_path, "junk.pem"), HasSubstr("key_file: cannot load"));
  EXPECT_THAT(load_error(a.cert_path, b.key_path), HasSubstr("key_file:"));
  EXPECT_THAT(
      load_error(a.cert_path, a.key_path,
                 "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: junk.pem\n"),
      HasSubstr("client_ca_file: cannot load PEM CA certificates"));
  // Key material never reaches a message.
  const std::string key_pem = chorus::testing::ReadFile(a.key_path);
  ASSERT_GT(key_pem.size(), 100u);
  const std::string body = key_pem.substr(key_pem.find('\n') + 1, 40);
  EXPECT_THAT(load_error(a.key_path, a.key_path), Not(HasSubstr(body)));
  EXPECT_THAT(load_error(a.cert_path, a.cert_path), Not(HasSubstr(body)));

  if (geteuid() != 0) {  // root reads anything
    chmod(a.key_path.c_str(), 0);
    EXPECT_THAT(load_error(a.cert_path, a.key_path), HasSubstr("Permission denied"));
  }

  auto missing = LoadWebConfigFile(dir_.path() + "/absent.yml");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message,
              HasSubstr("http.web_config_file: cannot read '" + dir_.path() + "/absent.yml'"));
  auto directory = LoadWebConfigFile(dir_.path());
  ASSERT_FALSE(directory);
  EXPECT_THAT(directory.error().message, HasSubstr("cannot read"));
}

}  // namespace
}  // namespace chorus::daemon
