// Helpers shared by Chorus tests: fixture files and temporary directories.
#pragma once

#include <string>

namespace chorus::testing {

// Reads ../shared/fixtures/<relative>; fails the test (ADD_FAILURE) and returns "" when missing.
std::string ReadFixture(const std::string& relative);

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
