#include "tests/testlib/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/time.h"

namespace chorus::testing {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReadFixture(const std::string& relative) {
  const std::string path = std::string(CHORUS_FIXTURES_DIR) + "/" + relative;
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "fixture missing: " << path;
    return "";
  }
  return ReadFile(path);
}

std::string FixtureOnOneLine(const std::string& relative) {
  std::string body = ReadFixture(relative);
  EXPECT_FALSE(body.empty()) << relative;
  body.erase(std::remove(body.begin(), body.end(), '\n'), body.end());
  body.erase(std::remove(body.begin(), body.end(), '\r'), body.end());
  return body;
}

int64_t TimeMs(const char* rfc3339) {
  auto t = ParseRfc3339Ms(rfc3339);
  EXPECT_TRUE(t) << rfc3339;
  return t ? *t : 0;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/chorus-test-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << tmpl;
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace chorus::testing
