// simdjson On-Demand helpers shared by the platform parsers (collectors only; pitfalls.md
// explains the rules they encode). Each thread reuses one parser, sized for the largest body a
// collector accepts; string views are copied out before the next iterate().
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

#include "core/error.h"

namespace chorus::collectors {

// The largest body a parser accepts: bounds what one broken or hostile response can make a
// thread's parser allocate and keep.
inline constexpr size_t kMaxJsonBodyBytes = size_t{32} << 20;

inline simdjson::ondemand::parser& ThreadParser() {
  thread_local simdjson::ondemand::parser parser(kMaxJsonBodyBytes);
  return parser;
}

// Starts iterating `padded` with this thread's parser; `what` names the document in errors.
inline Result<simdjson::ondemand::document> Iterate(const simdjson::padded_string& padded,
                                                    std::string_view what) {
  simdjson::ondemand::document doc;
  if (auto ec = ThreadParser().iterate(padded).get(doc)) {
    return Fail(Error::Parse(std::string(what) + ": " + simdjson::error_message(ec)));
  }
  return doc;
}

// simdjson 3.0.1 has no document::at_end(); current_location() is OUT_OF_BOUNDS exactly when
// every token was consumed, so this rejects a truncated document and trailing content alike.
inline bool AtDocumentEnd(simdjson::ondemand::document& doc) {
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

// Copies a string value out of the parser's buffer.
inline simdjson::error_code ReadString(simdjson::ondemand::value& v, std::string& out) {
  std::string_view s;
  if (auto ec = v.get_string().get(s)) return ec;
  out.assign(s);
  return simdjson::SUCCESS;
}

// Like ReadString, but JSON null reads as "".
inline simdjson::error_code ReadNullableString(simdjson::ondemand::value& v, std::string& out) {
  bool is_null = false;
  if (auto ec = v.is_null().get(is_null)) return ec;
  if (is_null) {
    out.clear();
    return simdjson::SUCCESS;
  }
  return ReadString(v, out);
}

}  // namespace chorus::collectors
