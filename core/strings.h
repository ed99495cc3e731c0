// Small string helpers every module needs.
#pragma once

#include <string>
#include <string_view>

namespace chorus {

// ASCII lower-casing: hashtags, handles and header names are compared this way; bytes outside
// ASCII (UTF-8 sequences) are kept as they are.
constexpr char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline void AppendAsciiLower(std::string& out, std::string_view s) {
  const size_t start = out.size();
  out.resize(start + s.size());
  // Without a branch, over plain pointers: the compiler vectorizes it (a post's text is
  // lower-cased for keyword matching, a million times in an import).
  char* to = out.data() + start;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    to[i] = static_cast<char>(c + (static_cast<unsigned char>(c - 'A') < 26 ? 32 : 0));
  }
}

inline std::string AsciiLower(std::string_view s) {
  std::string out;
  AppendAsciiLower(out, s);
  return out;
}

}  // namespace chorus
