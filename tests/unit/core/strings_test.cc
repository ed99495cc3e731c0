#include "core/strings.h"

#include <gtest/gtest.h>

#include <string>

namespace chorus {
namespace {

// Every byte value: only A-Z change; UTF-8 bytes (0x80 and up) and the neighbours of the letters
// ('@', '[', '`', '{') are kept.
TEST(AsciiLower, LowersExactlyTheAsciiCapitalsOfEveryByteValue) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string lowered = "prefix:";
  AppendAsciiLower(lowered, all);
  ASSERT_EQ(lowered.size(), 7 + all.size());
  EXPECT_EQ(lowered.substr(0, 7), "prefix:");
  for (int c = 0; c < 256; ++c) {
    const int want = c >= 'A' && c <= 'Z' ? c + 32 : c;
    EXPECT_EQ(static_cast<unsigned char>(lowered[7 + c]), want) << "byte " << c;
    EXPECT_EQ(static_cast<unsigned char>(AsciiLower(static_cast<char>(c))), want) << "byte " << c;
  }
  EXPECT_EQ(AsciiLower("École #FundOurSchools"), "École #fundourschools");
}

}  // namespace
}  // namespace chorus
