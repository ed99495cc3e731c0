// Test helpers for TLS and basic auth: a self-signed EC P-256 certificate for 127.0.0.1/localhost
// made with the OpenSSL C API at test time, bcrypt hashes made with libxcrypt, and base64 for
// Authorization headers. Header-only so both the unit and the integration tests can use it.
#pragma once

#include <crypt.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace chorus::testing {

struct TestCert {
  std::string cert_path;  // PEM certificate; also usable as the CA that signed it
  std::string key_path;   // PEM private key, unencrypted
};

// Writes `name`.crt and `name`.key into `dir`: a self-signed CA:TRUE certificate valid for an
// hour with subjectAltName DNS:localhost, IP:127.0.0.1. Fails the test (ADD_FAILURE) on error.
inline TestCert MakeSelfSignedCert(const std::string& dir, const std::string& name) {
  TestCert out{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> x509(X509_new(), X509_free);
  if (!key || !x509) {
    ADD_FAILURE() << "cannot make a key or certificate";
    return out;
  }
  X509_set_version(x509.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x509.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x509.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x509.get()), 3600);
  X509_set_pubkey(x509.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(x509.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(x509.get(), subject);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x509.get(), x509.get(), nullptr, nullptr, 0);
  for (auto [nid, value] :
       {std::pair<int, const char*>{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
        std::pair<int, const char*>{NID_basic_constraints, "critical,CA:TRUE"},
        std::pair<int, const char*>{NID_key_usage, "critical,digitalSignature,keyCertSign"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) {
      ADD_FAILURE() << "cannot make extension " << nid;
      return out;
    }
    X509_add_ext(x509.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(x509.get(), key.get(), EVP_sha256()) == 0) {
    ADD_FAILURE() << "cannot sign the certificate";
    return out;
  }
  FILE* f = std::fopen(out.cert_path.c_str(), "w");
  if (!f || PEM_write_X509(f, x509.get()) != 1) ADD_FAILURE() << "cannot write " << out.cert_path;
  if (f) std::fclose(f);
  f = std::fopen(out.key_path.c_str(), "w");
  if (!f || PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ADD_FAILURE() << "cannot write " << out.key_path;
  }
  if (f) std::fclose(f);
  return out;
}

// A bcrypt hash of `password` with the given prefix ("$2b$", "$2a$" or "$2y$") and cost. Cost 4,
// the minimum, keeps tests fast; production hashes use 10 or more.
inline std::string MakeBcryptHash(const std::string& password, const std::string& prefix = "$2b$",
                                  unsigned long cost = 4) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$2b$", cost, nullptr, 0, setting, sizeof setting)) {
    ADD_FAILURE() << "crypt_gensalt_rn failed";
    return "";
  }
  std::string salt(setting);
  salt.replace(0, 4, prefix);  // the variants differ only in their name for new hashes
  auto data = std::make_unique<crypt_data>();
  const char* hash = crypt_r(password.c_str(), salt.c_str(), data.get());
  if (!hash || hash[0] == '*') {
    ADD_FAILURE() << "crypt_r failed for " << prefix;
    return "";
  }
  return hash;
}

inline std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

inline std::string BasicAuthHeader(const std::string& user, const std::string& password) {
  return "Basic " + Base64(user + ":" + password);
}

}  // namespace chorus::testing
