// Small string helpers every module needs.
#pragma once

#include <string>
#include <string_view>

namespace chorus {

// ASCII lower-casing: hashtags, handles and header names are compared this way; bytes outside
// ASCII (UTF-8 sequences) are kept as they are.
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace chorus
