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

// Bodies up to this size are copied into a padded buffer the thread keeps and reuses; a larger one
// gets a buffer of its own, freed with it, so one huge page does not pin its size in every thread
// that ever parsed one.
inline constexpr size_t kMaxReusedPaddedBytes = size_t{1} << 20;

// A copy of `body` followed by the SIMDJSON_PADDING readable bytes simdjson needs. Unlike a
// padded_string per call it reuses this thread's buffer, so a warm thread parses without
// allocating for the input. The buffer is shared: at most one PaddedBody may be alive per thread,
// which the one document per ThreadParser() already implies.
class PaddedBody {
 public:
  // `readable`: how many bytes at body.data() may be read. When they include simdjson's padding
  // after the body (a line buffer reserved for it), the body is parsed where it is, uncopied.
  explicit PaddedBody(std::string_view body, size_t readable = 0) {
    if (readable >= body.size() + simdjson::SIMDJSON_PADDING) {
      view_ = simdjson::padded_string_view(body.data(), body.size(), readable);
      return;
    }
    if (body.size() > kMaxReusedPaddedBytes) {
      owned_ = simdjson::padded_string(body);
      view_ = owned_;
      return;
    }
    thread_local std::string buffer;
    buffer.assign(body);
    buffer.append(simdjson::SIMDJSON_PADDING, '\0');  // zeroed, as in a padded_string
    view_ = simdjson::padded_string_view(buffer.data(), body.size(), buffer.size());
  }
  PaddedBody(const PaddedBody&) = delete;
  PaddedBody& operator=(const PaddedBody&) = delete;

  // Valid while this PaddedBody is alive.
  simdjson::padded_string_view view() const { return view_; }

 private:
  simdjson::padded_string owned_;  // only for bodies over kMaxReusedPaddedBytes
  simdjson::padded_string_view view_;
};

// Starts iterating `padded` (a PaddedBody's view, or a padded_string) with this thread's parser;
// `padded` must outlive the document. `what` names the document in errors.
inline Result<simdjson::ondemand::document> Iterate(simdjson::padded_string_view padded,
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

// A string value as a view into the parser's buffer, valid until the thread's parser iterates
// another document.
inline simdjson::error_code ReadView(simdjson::ondemand::value& v, std::string_view& out) {
  return v.get_string().get(out);
}

// Like ReadView, but JSON null reads as "".
inline simdjson::error_code ReadNullableView(simdjson::ondemand::value& v, std::string_view& out) {
  bool is_null = false;
  if (auto ec = v.is_null().get(is_null)) return ec;
  if (is_null) {
    out = {};
    return simdjson::SUCCESS;
  }
  return ReadView(v, out);
}

// Copies a string value out of the parser's buffer.
inline simdjson::error_code ReadString(simdjson::ondemand::value& v, std::string& out) {
  std::string_view s;
  if (auto ec = ReadView(v, s)) return ec;
  out.assign(s);
  return simdjson::SUCCESS;
}

// Like ReadString, but JSON null reads as "".
inline simdjson::error_code ReadNullableString(simdjson::ondemand::value& v, std::string& out) {
  std::string_view s;
  if (auto ec = ReadNullableView(v, s)) return ec;
  out.assign(s);
  return simdjson::SUCCESS;
}

}  // namespace chorus::collectors
