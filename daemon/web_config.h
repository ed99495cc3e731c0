// The web configuration file named by http.web_config_file (design §4): TLS and basic auth for the
// daemon's HTTP server, in the Prometheus exporter-toolkit format
// (exporter-toolkit docs/web-configuration.md), so one file can serve chorusd and exporters alike.
//
// Supported:
//   tls_server_config: cert_file, key_file (PEM), client_auth_type (NoClientCert |
//     RequireAndVerifyClientCert), client_ca_file, min_version / max_version (TLS10..TLS13),
//     prefer_server_cipher_suites
//   basic_auth_users: user -> bcrypt hash ($2a$, $2b$, $2y$)
//   http_server_config: headers (the five exporter-toolkit allows) are added to every response;
//     http2 is accepted and ignored (chorusd speaks HTTP/1.1 only)
// Keys exporter-toolkit knows but chorusd does not implement (inline cert/key/client_ca,
// cipher_suites, curve_preferences, client_allowed_sans, rate_limit, other client_auth_types) and
// unknown keys are errors: a security setting must never be ignored silently. Relative paths
// resolve against the web config file's directory, as in exporter-toolkit.
//
// The file is read once at start-up. Errors name the file, the line and the key, and never contain
// a hash, a password or key material.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace chorus::config {
struct Config;
}

namespace chorus::daemon {

enum class TlsVersion { kTls10, kTls11, kTls12, kTls13 };

struct TlsServerConfig {
  std::string cert_file;  // resolved: absolute, or relative to the working directory
  std::string key_file;
  bool require_client_cert = false;  // client_auth_type: RequireAndVerifyClientCert
  std::string client_ca_file;        // set exactly when require_client_cert
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
  bool prefer_server_cipher_suites = true;
};

struct WebConfig {
  std::string file;  // where it was read from, for messages
  std::optional<TlsServerConfig> tls;
  std::map<std::string, std::string> basic_auth_users;       // user -> bcrypt hash; empty = no auth
  std::vector<std::pair<std::string, std::string>> headers;  // added to every response
};

// Parses and validates the text of a web config file; `file` names it in messages and is the base
// for relative paths. Does not touch the files it names. kInvalidArgument on any problem, with a
// one-line message "FILE:LINE: KEY: what is wrong".
Result<WebConfig> ParseWebConfig(std::string_view text, const std::string& file);

// Reads `path`, parses it, and checks that the certificate, key and client CA load and match, so
// that a bad file stops start-up rather than the first handshake.
Result<WebConfig> LoadWebConfigFile(const std::string& path);

// The daemon's web config: none (nullptr) when http.web_config_file is empty, else the loaded
// file. A relative http.web_config_file resolves against the directory of the config file.
Result<std::shared_ptr<const WebConfig>> LoadWebConfigFor(const config::Config& config);

// Sets up a server SSL_CTX from `tls`: protocol versions, certificate chain, key, client CA.
// Errors name `web_file` and the key concerned, with OpenSSL's reason.
Result<void> ConfigureTlsContext(ssl_ctx_st& ctx, const TlsServerConfig& tls,
                                 const std::string& web_file);

// "TLS, basic auth for 2 users" / "TLS, client certificates required" / "plain HTTP": for the
// start-up log line; never contains secrets.
std::string DescribeWebConfig(const WebConfig* web);

// True when `hash` looks like a bcrypt hash crypt(3) can check: $2a$, $2b$ or $2y$, a two-digit
// cost 04..31 and 53 characters of bcrypt base64.
bool IsBcryptHash(std::string_view hash);

// Checks `password` against a bcrypt `hash` with libxcrypt, comparing in constant time. False for
// a malformed hash or a password with a NUL byte. Costs what the hash's cost says (~70 ms at 10).
bool BcryptMatches(std::string_view password, const std::string& hash);

// Basic auth against basic_auth_users. Thread-safe. Successful (user, password) checks are cached
// in memory as a salted SHA-256 of the pair (never the password itself), so a scrape every 15 s
// does not pay for bcrypt each time; failures are not cached. bcrypt runs one check at a time so
// a flood of wrong passwords costs at most one core, and an unknown user is checked against a
// real hash too, so timing does not tell which users exist.
class BasicAuth {
 public:
  explicit BasicAuth(std::map<std::string, std::string> users);
  ~BasicAuth();
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  // `authorization` is the Authorization header's value ("" when absent): true when it is
  // "Basic <base64 of user:password>" for a listed user whose hash matches.
  bool Authorize(std::string_view authorization);
  bool Check(std::string_view user, std::string_view password);
  size_t cached_for_test() const;

 private:
  using Digest = std::array<unsigned char, 32>;
  Digest CacheKey(std::string_view user, std::string_view password) const;

  std::map<std::string, std::string, std::less<>> users_;
  std::string dummy_hash_;  // checked for unknown users
  std::array<unsigned char, 16> salt_{};
  mutable std::mutex cache_mu_;
  std::set<Digest> verified_;
  std::mutex bcrypt_mu_;
};

}  // namespace chorus::daemon
