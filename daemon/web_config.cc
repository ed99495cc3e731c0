// Web config file (exporter-toolkit format): parsing, TLS context set-up, bcrypt basic auth.
//
// yaml-cpp's exceptions are caught here and become one-line errors; OpenSSL's error queue is read
// here and only its reason strings (never file contents) reach a message.
#include "daemon/web_config.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include "config/config.h"
#include "core/base64.h"
#include "core/file_read.h"
#include "core/strings.h"

namespace chorus::daemon {
namespace {

constexpr size_t kMaxFileBytes = 1u << 20;
// Only successes are cached, so this bounds what a holder of a valid password could add (bcrypt
// ignores bytes past the 72nd, so one password has many spellings).
constexpr size_t kMaxCachedLogins = 1024;

constexpr std::string_view kTlsKeys[] = {
    "cert_file",   "key_file",    "client_auth_type",           "client_ca_file",
    "min_version", "max_version", "prefer_server_cipher_suites"};
constexpr std::string_view kHttpServerKeys[] = {"http2", "headers"};
constexpr std::string_view kHeaderNames[] = {"Content-Security-Policy", "X-Frame-Options",
                                             "X-Content-Type-Options", "X-XSS-Protection",
                                             "Strict-Transport-Security"};

// Keys exporter-toolkit defines that chorusd does not implement, with what to do instead.
struct Unsupported {
  std::string_view key;
  std::string_view advice;
};
constexpr Unsupported kUnsupportedTop[] = {
    {"rate_limit", "remove it (put a reverse proxy in front of chorusd to rate-limit)"}};
constexpr Unsupported kUnsupportedTls[] = {
    {"cert", "use cert_file with a PEM file"},
    {"key", "use key_file with a PEM file"},
    {"client_ca", "use client_ca_file with a PEM file"},
    {"cipher_suites", "remove it (OpenSSL's defaults apply)"},
    {"curve_preferences", "remove it (OpenSSL's defaults apply)"},
    {"client_allowed_sans", "remove it"}};

template <size_t N>
bool Contains(const std::string_view (&list)[N], std::string_view s) {
  for (auto k : list) {
    if (k == s) return true;
  }
  return false;
}

template <size_t N>
const Unsupported* FindUnsupported(const Unsupported (&list)[N], std::string_view key) {
  for (const auto& u : list) {
    if (u.key == key) return &u;
  }
  return nullptr;
}

// Builds "FILE:LINE: KEY: message" errors for one file.
class Reporter {
 public:
  explicit Reporter(const std::string& file) : file_(file) {}
  Error Bad(const YAML::Node& at, std::string_view key, std::string_view message) const {
    std::string out = file_;
    if (at.IsDefined() && at.Mark().line >= 0) out += ":" + std::to_string(at.Mark().line + 1);
    out += ": ";
    out += key;
    out += ": ";
    out += message;
    return Error::InvalidArgument(std::move(out));
  }

 private:
  const std::string& file_;
};

std::string Join(std::string_view a, std::string_view b) {
  std::string out(a);
  out += '.';
  out += b;
  return out;
}

// A mapping node's entries as (key text, key node, value node); a key must be a plain scalar.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};
Result<std::vector<Entry>> Entries(const Reporter& r, const YAML::Node& node,
                                   std::string_view path) {
  std::vector<Entry> out;
  if (node.IsNull()) return out;
  if (!node.IsMap()) return Fail(r.Bad(node, path, "expected a mapping"));
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) return Fail(r.Bad(it->first, path, "keys must be plain strings"));
    out.push_back({it->first.Scalar(), it->first, it->second});
  }
  return out;
}

Result<std::string> Scalar(const Reporter& r, const Entry& e, std::string_view path) {
  if (e.value.IsNull()) return std::string();
  if (!e.value.IsScalar()) return Fail(r.Bad(e.key_node, path, "expected a string"));
  return e.value.Scalar();
}

Result<bool> Bool(const Reporter& r, const Entry& e, std::string_view path) {
  bool b = false;
  if (!e.value.IsScalar() || !YAML::convert<bool>::decode(e.value, b)) {
    return Fail(r.Bad(e.key_node, path, "expected true or false"));
  }
  return b;
}

// An empty list (or null) is fine for a list-valued key chorusd does not implement: it means the
// default anyway.
bool IsEmptyValue(const YAML::Node& n) {
  if (n.IsNull()) return true;
  if (n.IsSequence() || n.IsMap()) return n.size() == 0;
  return n.IsScalar() && n.Scalar().empty();
}

Result<TlsVersion> ParseTlsVersion(const Reporter& r, const Entry& e, std::string_view path) {
  auto s = Scalar(r, e, path);
  if (!s) return Fail(s.error());
  if (*s == "TLS10") return TlsVersion::kTls10;
  if (*s == "TLS11") return TlsVersion::kTls11;
  if (*s == "TLS12") return TlsVersion::kTls12;
  if (*s == "TLS13") return TlsVersion::kTls13;
  return Fail(r.Bad(e.value, path, "expected TLS10, TLS11, TLS12 or TLS13"));
}

// exporter-toolkit resolves paths against the directory of the web config file.
std::string Resolve(const std::string& path, const std::string& base_file) {
  if (path.empty() || path.front() == '/') return path;
  const std::filesystem::path dir = std::filesystem::path(base_file).parent_path();
  if (dir.empty()) return path;
  return (dir / path).string();
}

Result<std::optional<TlsServerConfig>> ParseTls(const Reporter& r, const YAML::Node& node,
                                                const std::string& file) {
  const std::string_view section = "tls_server_config";
  auto entries = Entries(r, node, section);
  if (!entries) return Fail(entries.error());
  // An empty section means no TLS, as in exporter-toolkit.
  if (entries->empty()) return std::optional<TlsServerConfig>();
  TlsServerConfig tls;
  std::string client_auth_type = "NoClientCert";
  const YAML::Node* client_auth_node = nullptr;
  bool has_max = false;
  for (const Entry& e : *entries) {
    const std::string path = Join(section, e.key);
    if (const Unsupported* u = FindUnsupported(kUnsupportedTls, e.key)) {
      if (IsEmptyValue(e.value)) continue;
      return Fail(r.Bad(e.key_node, path, "not supported by chorusd; " + std::string(u->advice)));
    }
    if (!Contains(kTlsKeys, e.key)) return Fail(r.Bad(e.key_node, path, "unknown key"));
    if (e.key == "min_version" || e.key == "max_version") {
      auto v = ParseTlsVersion(r, e, path);
      if (!v) return Fail(v.error());
      (e.key == "min_version" ? tls.min_version : tls.max_version) = *v;
      has_max = has_max || e.key == "max_version";
      continue;
    }
    if (e.key == "prefer_server_cipher_suites") {
      auto b = Bool(r, e, path);
      if (!b) return Fail(b.error());
      tls.prefer_server_cipher_suites = *b;
      continue;
    }
    auto s = Scalar(r, e, path);
    if (!s) return Fail(s.error());
    if (e.key == "cert_file") tls.cert_file = Resolve(*s, file);
    if (e.key == "key_file") tls.key_file = Resolve(*s, file);
    if (e.key == "client_ca_file") tls.client_ca_file = Resolve(*s, file);
    if (e.key == "client_auth_type" && !s->empty()) {
      client_auth_type = *s;
      client_auth_node = &e.value;
    }
  }
  auto missing = [&](std::string_view key) {
    return r.Bad(node, Join(section, key), "required when tls_server_config is set");
  };
  if (tls.cert_file.empty()) return Fail(missing("cert_file"));
  if (tls.key_file.empty()) return Fail(missing("key_file"));
  const std::string auth_path = Join(section, "client_auth_type");
  if (client_auth_type == "RequireAndVerifyClientCert") {
    tls.require_client_cert = true;
    if (tls.client_ca_file.empty()) {
      return Fail(r.Bad(node, Join(section, "client_ca_file"),
                        "required with client_auth_type RequireAndVerifyClientCert"));
    }
  } else if (client_auth_type == "NoClientCert") {
    if (!tls.client_ca_file.empty()) {
      return Fail(r.Bad(node, Join(section, "client_ca_file"),
                        "set without a client_auth_type that checks client certificates "
                        "(use RequireAndVerifyClientCert)"));
    }
  } else if (client_auth_type == "RequestClientCert" ||
             client_auth_type == "RequireAnyClientCert" ||
             client_auth_type == "VerifyClientCertIfGiven") {
    return Fail(r.Bad(*client_auth_node, auth_path,
                      "'" + client_auth_type +
                          "' is not supported by chorusd; use NoClientCert or "
                          "RequireAndVerifyClientCert"));
  } else {
    return Fail(
        r.Bad(*client_auth_node, auth_path, "expected NoClientCert or RequireAndVerifyClientCert"));
  }
  if (has_max && tls.max_version < tls.min_version) {
    return Fail(r.Bad(node, Join(section, "max_version"), "is lower than min_version"));
  }
  return std::optional<TlsServerConfig>(std::move(tls));
}

Result<void> ParseHttpServer(const Reporter& r, const YAML::Node& node, WebConfig& web) {
  const std::string_view section = "http_server_config";
  auto entries = Entries(r, node, section);
  if (!entries) return Fail(entries.error());
  for (const Entry& e : *entries) {
    const std::string path = Join(section, e.key);
    if (!Contains(kHttpServerKeys, e.key)) return Fail(r.Bad(e.key_node, path, "unknown key"));
    if (e.key == "http2") {
      // Accepted for compatibility and ignored: chorusd speaks HTTP/1.1 only.
      if (auto b = Bool(r, e, path); !b) return Fail(b.error());
      continue;
    }
    auto headers = Entries(r, e.value, path);
    if (!headers) return Fail(headers.error());
    for (const Entry& h : *headers) {
      const std::string hpath = Join(path, h.key);
      if (!Contains(kHeaderNames, h.key)) {
        return Fail(r.Bad(h.key_node, hpath,
                          "unknown header (allowed: Content-Security-Policy, X-Frame-Options, "
                          "X-Content-Type-Options, X-XSS-Protection, Strict-Transport-Security)"));
      }
      auto value = Scalar(r, h, hpath);
      if (!value) return Fail(value.error());
      if (value->find_first_of("\r\n") != std::string::npos) {
        return Fail(r.Bad(h.value, hpath, "must be one line"));
      }
      const std::string lower = AsciiLower(*value);
      if (value->empty()) continue;  // unset if blank, as in exporter-toolkit
      if (h.key == "X-Frame-Options" && lower != "deny" && lower != "sameorigin") {
        return Fail(r.Bad(h.value, hpath, "expected deny or sameorigin"));
      }
      if (h.key == "X-Content-Type-Options" && lower != "nosniff") {
        return Fail(r.Bad(h.value, hpath, "expected nosniff"));
      }
      web.headers.emplace_back(h.key, *value);
    }
  }
  return {};
}

Result<void> ParseUsers(const Reporter& r, const YAML::Node& node, WebConfig& web) {
  const std::string_view section = "basic_auth_users";
  auto entries = Entries(r, node, section);
  if (!entries) return Fail(entries.error());
  for (const Entry& e : *entries) {
    const std::string path = Join(section, e.key);
    if (e.key.empty() || e.key.find(':') != std::string::npos) {
      return Fail(r.Bad(e.key_node, section, "a user name must be non-empty and without ':'"));
    }
    auto hash = Scalar(r, e, path);
    if (!hash) return Fail(hash.error());
    // The message never repeats the value: it may be a password pasted in by mistake.
    if (!IsBcryptHash(*hash)) {
      return Fail(r.Bad(e.key_node, path,
                        "not a bcrypt hash ($2a$, $2b$ or $2y$); make one with "
                        "htpasswd -nBC 10 \"\" | tr -d ':\\n'"));
    }
    web.basic_auth_users[e.key] = *hash;
  }
  return {};
}

Result<std::string> ReadSmallFile(const std::string& path, std::string_view what) {
  FileRead read = ReadWholeFile(path, kMaxFileBytes);
  if (read.too_large) {
    return Fail(Error::InvalidArgument(std::string(what) + ": '" + path + "' is larger than 1 MiB"));
  }
  if (!read.text) {
    return Fail(Error::InvalidArgument(std::string(what) + ": cannot read '" + path +
                                       "': " + std::strerror(read.error)));
  }
  return std::move(*read.text);
}

// The reason of the oldest error in OpenSSL's queue, which it then empties. Reason strings name
// what failed ("no start line", "key values mismatch"), never file contents.
std::string OpenSslReason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : "OpenSSL error " + std::to_string(e);
}

int ProtoVersion(TlsVersion v) {
  switch (v) {
    case TlsVersion::kTls10:
      return TLS1_VERSION;
    case TlsVersion::kTls11:
      return TLS1_1_VERSION;
    case TlsVersion::kTls12:
      return TLS1_2_VERSION;
    case TlsVersion::kTls13:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// An encrypted key would make OpenSSL ask for a passphrase on the terminal: refuse instead.
int NoPassphrase(char*, int, int, void*) { return 0; }

}  // namespace

Result<WebConfig> ParseWebConfig(std::string_view text, const std::string& file) {
  const Reporter r(file);
  WebConfig web;
  web.file = file;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    auto entries = Entries(r, root, "(top level)");
    if (!entries) return Fail(entries.error());
    for (const Entry& e : *entries) {
      if (e.key == "tls_server_config") {
        auto tls = ParseTls(r, e.value, file);
        if (!tls) return Fail(tls.error());
        web.tls = std::move(*tls);
      } else if (e.key == "http_server_config") {
        if (auto h = ParseHttpServer(r, e.value, web); !h) return Fail(h.error());
      } else if (e.key == "basic_auth_users") {
        if (auto u = ParseUsers(r, e.value, web); !u) return Fail(u.error());
      } else if (const Unsupported* u = FindUnsupported(kUnsupportedTop, e.key)) {
        return Fail(
            r.Bad(e.key_node, e.key, "not supported by chorusd; " + std::string(u->advice)));
      } else {
        return Fail(r.Bad(e.key_node, e.key,
                          "unknown key (expected tls_server_config, http_server_config or "
                          "basic_auth_users)"));
      }
    }
  } catch (const YAML::Exception& e) {
    std::string where = file;
    if (e.mark.line >= 0) where += ":" + std::to_string(e.mark.line + 1);
    return Fail(Error::InvalidArgument(where + ": invalid YAML: " + e.msg));
  }
  return web;
}

Result<WebConfig> LoadWebConfigFile(const std::string& path) {
  auto text = ReadSmallFile(path, "http.web_config_file");
  if (!text) return Fail(text.error());
  auto web = ParseWebConfig(*text, path);
  if (!web) return Fail(web.error());
  if (web->tls) {
    // Say which file cannot be read before OpenSSL says something vaguer about it.
    const TlsServerConfig& tls = *web->tls;
    const std::pair<std::string_view, const std::string*> files[] = {
        {"cert_file", &tls.cert_file},
        {"key_file", &tls.key_file},
        {"client_ca_file", &tls.client_ca_file}};
    for (const auto& [key, file] : files) {
      if (file->empty()) continue;
      if (::access(file->c_str(), R_OK) != 0) {
        return Fail(Error::InvalidArgument(path + ": tls_server_config." + std::string(key) +
                                           ": cannot read '" + *file +
                                           "': " + std::strerror(errno)));
      }
    }
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return Fail(Error::Internal("cannot create an SSL context: " + OpenSslReason()));
    auto configured = ConfigureTlsContext(*ctx, tls, path);
    SSL_CTX_free(ctx);
    if (!configured) return Fail(configured.error());
  }
  return web;
}

Result<std::shared_ptr<const WebConfig>> LoadWebConfigFor(const config::Config& config) {
  if (config.http.web_config_file.empty()) return std::shared_ptr<const WebConfig>();
  auto web = LoadWebConfigFile(Resolve(config.http.web_config_file, config.file));
  if (!web) return Fail(web.error());
  return std::make_shared<const WebConfig>(std::move(*web));
}

Result<void> ConfigureTlsContext(ssl_ctx_st& ctx, const TlsServerConfig& tls,
                                 const std::string& web_file) {
  auto bad = [&](std::string_view key, std::string message) {
    return Error::InvalidArgument(web_file + ": tls_server_config." + std::string(key) + ": " +
                                  std::move(message));
  };
  ERR_clear_error();
  uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION;
  if (tls.prefer_server_cipher_suites) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  SSL_CTX_set_options(&ctx, options);
  if (SSL_CTX_set_min_proto_version(&ctx, ProtoVersion(tls.min_version)) != 1) {
    return Fail(bad("min_version", "rejected by OpenSSL: " + OpenSslReason()));
  }
  if (SSL_CTX_set_max_proto_version(&ctx, ProtoVersion(tls.max_version)) != 1) {
    return Fail(bad("max_version", "rejected by OpenSSL: " + OpenSslReason()));
  }
  SSL_CTX_set_default_passwd_cb(&ctx, NoPassphrase);
  if (SSL_CTX_use_certificate_chain_file(&ctx, tls.cert_file.c_str()) != 1) {
    return Fail(bad("cert_file", "cannot load a PEM certificate from '" + tls.cert_file +
                                     "': " + OpenSslReason()));
  }
  if (SSL_CTX_use_PrivateKey_file(&ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Fail(bad("key_file", "cannot load an unencrypted PEM private key from '" + tls.key_file +
                                    "': " + OpenSslReason()));
  }
  if (SSL_CTX_check_private_key(&ctx) != 1) {
    return Fail(
        bad("key_file", "the key in '" + tls.key_file +
                            "' does not match the certificate in cert_file: " + OpenSslReason()));
  }
  if (tls.require_client_cert) {
    if (SSL_CTX_load_verify_locations(&ctx, tls.client_ca_file.c_str(), nullptr) != 1) {
      return Fail(bad("client_ca_file", "cannot load PEM CA certificates from '" +
                                            tls.client_ca_file + "': " + OpenSslReason()));
    }
    // Tells clients which CAs are accepted, so they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(&ctx, names);
    }
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  ERR_clear_error();
  return {};
}

std::string DescribeWebConfig(const WebConfig* web) {
  if (!web) return "plain HTTP";
  std::string out = web->tls ? "TLS" : "plain HTTP";
  if (!web->basic_auth_users.empty()) {
    const size_t n = web->basic_auth_users.size();
    out += ", basic auth for " + std::to_string(n) + (n == 1 ? " user" : " users");
  }
  if (web->tls && web->tls->require_client_cert) out += ", client certificates required";
  return out;
}

bool IsBcryptHash(std::string_view hash) {
  // $2b$10$ + 22 characters of salt + 31 of hash.
  if (hash.size() != 60) return false;
  if (hash.substr(0, 2) != "$2" || (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') ||
      hash[3] != '$' || hash[6] != '$') {
    return false;
  }
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return false;
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (char c : hash.substr(7)) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '/';
    if (!ok) return false;
  }
  return true;
}

bool BcryptMatches(std::string_view password, const std::string& hash) {
  if (!IsBcryptHash(hash) || password.find('\0') != std::string_view::npos) return false;
  std::string phrase(password);
  auto data = std::make_unique<crypt_data>();  // value-initialised: zeroed, as crypt_rn wants
  const char* out = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  const bool ok = out != nullptr && std::strlen(out) == hash.size() &&
                  CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(phrase.data(), phrase.size());
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users) {
  for (auto& [user, hash] : users) users_.emplace(user, std::move(hash));
  if (!users_.empty()) dummy_hash_ = users_.begin()->second;
  if (RAND_bytes(salt_.data(), static_cast<int>(salt_.size())) != 1) {
    // Without randomness the cache keys are unsalted SHA-256: still never the password.
    ERR_clear_error();
  }
}

BasicAuth::~BasicAuth() { OPENSSL_cleanse(salt_.data(), salt_.size()); }

BasicAuth::Digest BasicAuth::CacheKey(std::string_view user, std::string_view password) const {
  std::string buf(reinterpret_cast<const char*>(salt_.data()), salt_.size());
  const uint64_t user_len = user.size();
  buf.append(reinterpret_cast<const char*>(&user_len), sizeof user_len);
  buf.append(user);
  buf.append(password);
  Digest d{};
  unsigned int len = 0;
  EVP_Digest(buf.data(), buf.size(), d.data(), &len, EVP_sha256(), nullptr);
  OPENSSL_cleanse(buf.data(), buf.size());
  return d;
}

bool BasicAuth::Check(std::string_view user, std::string_view password) {
  if (users_.empty()) return false;
  const auto it = users_.find(user);
  const bool known = it != users_.end();
  const Digest key = CacheKey(user, password);
  auto cached = [&] {
    std::lock_guard lock(cache_mu_);
    return verified_.count(key) > 0;
  };
  if (known && cached()) return true;
  bool match = false;
  {
    std::lock_guard lock(bcrypt_mu_);
    // Concurrent first scrapes with the same login wait here; the first one fills the cache.
    if (known && cached()) return true;
    match = BcryptMatches(password, known ? it->second : dummy_hash_);
  }
  if (!known || !match) return false;
  std::lock_guard lock(cache_mu_);
  if (verified_.size() >= kMaxCachedLogins) verified_.clear();
  verified_.insert(key);
  return true;
}

bool BasicAuth::Authorize(std::string_view authorization) {
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  if (authorization.size() < 6 || AsciiLower(authorization.substr(0, 5)) != "basic" ||
      authorization[5] != ' ') {
    return false;
  }
  std::string_view encoded = authorization.substr(6);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  auto decoded = Base64Decode(encoded);
  if (!decoded) return false;
  const size_t colon = decoded->find(':');
  bool ok = false;
  if (colon != std::string::npos) {
    const std::string_view all(*decoded);
    ok = Check(all.substr(0, colon), all.substr(colon + 1));
  }
  OPENSSL_cleanse(decoded->data(), decoded->size());
  return ok;
}

size_t BasicAuth::cached_for_test() const {
  std::lock_guard lock(cache_mu_);
  return verified_.size();
}

}  // namespace chorus::daemon
