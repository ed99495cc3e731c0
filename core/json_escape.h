// Escaping for the JSON and HTML Chorus writes by hand (small, fixed shapes; no DOM needed).
#pragma once

#include <string>
#include <string_view>

namespace chorus {

// Appends `s` as a JSON string literal, quotes included. Well-formed UTF-8 passes through, each
// malformed byte becomes U+FFFD (so the output is always valid JSON); control characters become
// \u00XX.
void AppendJsonString(std::string* out, std::string_view s);
std::string JsonString(std::string_view s);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string HtmlEscape(std::string_view s);

}  // namespace chorus
