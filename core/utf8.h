// UTF-8 checks for text Chorus writes out (JSON, CSV): posts come from platforms as bytes, and a
// malformed sequence must not make an export or an API answer invalid.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace chorus {

// U+FFFD, which replaces each byte that does not start a well-formed sequence.
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when the byte there does not
// start one (RFC 3629 table 3-7: no overlongs, surrogates or code points past U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i);

bool IsValidUtf8(std::string_view s);

// Appends `s` with every malformed byte replaced by U+FFFD.
void AppendUtf8(std::string* out, std::string_view s);

}  // namespace chorus
