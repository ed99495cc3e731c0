// The lines of an archive, mapped (a regular file) or streamed (a pipe): the same lines either
// way, each with at least its padding readable after it except where the file ends.
#include "daemon/archive_lines.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/testlib/test_util.h"

namespace chorus::daemon {
namespace {

constexpr size_t kPadding = 64;

struct Read {
  std::vector<std::string> lines;
  bool mapped = false;
  bool failed = false;
};

Read ReadAll(const std::string& path) {
  Read out;
  auto lines = ArchiveLines::Open(path, kPadding);
  EXPECT_TRUE(lines) << lines.error().ToString();
  if (!lines) return out;
  out.mapped = (*lines)->mapped();
  std::string_view line;
  size_t readable = 0;
  while ((*lines)->Next(&line, &readable)) {
    EXPECT_GE(readable, line.size());
    // Every byte said to be readable is (a page past the mapping would crash the test here).
    volatile char sink = 0;
    for (size_t i = 0; i < readable; ++i) sink = sink ^ line.data()[i];
    out.lines.emplace_back(line);
  }
  out.failed = (*lines)->failed();
  return out;
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(ArchiveLines, ARegularFileIsMappedAndSplitIntoItsLines) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/a.jsonl";
  Write(path, "[1]\n\n[2]\r\n[3]");  // a blank line, CRLF, no newline at the end
  const Read r = ReadAll(path);
  EXPECT_TRUE(r.mapped);
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(r.lines, (std::vector<std::string>{"[1]", "", "[2]\r", "[3]"}));
}

TEST(ArchiveLines, LinesFarFromTheEndHaveTheirPaddingReadableInPlace) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/a.jsonl";
  std::string bytes;
  for (int i = 0; i < 200'000; ++i) bytes += "[" + std::to_string(i) + "]\n";  // many pages
  Write(path, bytes);
  auto lines = ArchiveLines::Open(path, kPadding);
  ASSERT_TRUE(lines);
  std::string_view line;
  size_t readable = 0, n = 0, padded = 0;
  while ((*lines)->Next(&line, &readable)) {
    ++n;
    if (readable >= line.size() + kPadding) ++padded;
  }
  EXPECT_EQ(n, 200'000u);
  EXPECT_GE(padded, n - kPadding / 3);  // only the lines in the file's last 64 bytes fall short
}

TEST(ArchiveLines, AFileLargerThanAReleaseStepIsReadWhole) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/big.jsonl";
  const std::string line(1000, 'x');
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 150'000; ++i) out << line << i << '\n';  // ~150 MB: pages are given back twice
  }
  auto lines = ArchiveLines::Open(path, kPadding);
  ASSERT_TRUE(lines);
  std::string_view got;
  size_t readable = 0;
  int n = 0;
  while ((*lines)->Next(&got, &readable)) {
    ASSERT_EQ(got, line + std::to_string(n)) << n;
    ++n;
  }
  EXPECT_EQ(n, 150'000);
  EXPECT_FALSE((*lines)->failed());
}

TEST(ArchiveLines, APipeIsStreamedToTheSameLines) {
  testing::TempDir dir;
  const std::string fifo = dir.path() + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { Write(fifo, "[1]\n\n[2]\r\n[3]"); });
  const Read r = ReadAll(fifo);
  writer.join();
  EXPECT_FALSE(r.mapped);
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(r.lines, (std::vector<std::string>{"[1]", "", "[2]\r", "[3]"}));
}

TEST(ArchiveLines, AnEmptyFileHasNoLinesAndAMissingOneIsAnError) {
  testing::TempDir dir;
  Write(dir.path() + "/empty", "");
  EXPECT_TRUE(ReadAll(dir.path() + "/empty").lines.empty());
  auto missing = ArchiveLines::Open(dir.path() + "/missing", kPadding);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace chorus::daemon
