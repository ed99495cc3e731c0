// Base64 (RFC 4648, standard alphabet) decoding, for HTTP Basic credentials: chorusd's basic auth
// and the Reddit simulator's OAuth client credentials.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chorus {

// Decodes `in` (trailing '=' padding optional); nullopt when it holds a character outside the
// alphabet or cannot be the encoding of whole bytes.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace chorus
