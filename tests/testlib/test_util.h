// Helpers shared by Chorus tests: fixture files and temporary directories.
#pragma once

#include <cstdint>
#include <string>

namespace chorus::testing {

// Reads ../shared/fixtures/<relative>; fails the test (ADD_FAILURE) and returns "" when missing.
std::string ReadFixture(const std::string& relative);

// A fixture body on one line (newlines in the JSON bodies are only whitespace): an archive line as
// `chorusctl import` reads it. Fails the test when the fixture is missing or empty.
std::string FixtureOnOneLine(const std::string& relative);

// Milliseconds since the epoch of an RFC 3339 time; fails the test (and returns 0) when it does not
// parse.
int64_t TimeMs(const char* rfc3339);

// Reads any file whole; returns "" when missing.
std::string ReadFile(const std::string& path);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace chorus::testing
