// Small string helpers every module needs.
#pragma once

#include <string>
#include <string_view>

namespace chorus {

// ASCII lower-casing: hashtags, handles and header names are compared this way; bytes outside
// ASCII (UTF-8 sequences) are kept as they are.
// Branchless, so a loop of it over plain pointers vectorizes (AppendAsciiLower).
constexpr char AsciiLower(char c) {
  const auto u = static_cast<unsigned char>(c);
  return static_cast<char>(u + (static_cast<unsigned char>(u - 'A') < 26 ? 32 : 0));
}

inline void AppendAsciiLower(std::string& out, std::string_view s) {
  const size_t start = out.size();
  out.resize(start + s.size());
  // Over plain pointers, so the compiler vectorizes it (a post's text is lower-cased for keyword
  // matching, a million times in an import).
  char* to = out.data() + start;
  for (size_t i = 0; i < s.size(); ++i) to[i] = AsciiLower(s[i]);
}

inline std::string AsciiLower(std::string_view s) {
  std::string out;
  AppendAsciiLower(out, s);
  return out;
}

}  // namespace chorus
