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
  out.append(s);
  for (size_t i = start; i < out.size(); ++i) out[i] = AsciiLower(out[i]);
}

inline std::string AsciiLower(std::string_view s) {
  std::string out;
  AppendAsciiLower(out, s);
  return out;
}

}  // namespace chorus
