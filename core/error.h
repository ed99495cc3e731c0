// Error vocabulary shared by every Chorus module.
//
// Errors are values: fallible functions return Result<T>, an expected-like type holding either a
// T or an Error. ErrorCode is coarse on purpose: callers branch on it (retry, back off, give up),
// while the message is for people and never contains secrets.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace chorus {

enum class ErrorCode {
  kInvalidArgument,  // bad input from a user: config, query parameter, command line
  kParse,            // a response or file that is not what the format promises
  kRateLimited,      // the platform asked us to wait (429 or an exhausted budget)
  kUnavailable,      // network failure, timeout, 5xx: transient, retry later
  kUnauthenticated,  // 401/403: credentials missing or rejected
  kNotFound,         // the thing asked for does not exist
  kStorage,          // the store failed to read or write
  kCancelled,        // the operation was stopped because the daemon is draining
  kInternal,         // a bug: an invariant did not hold
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  static Error InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
  static Error Parse(std::string m) { return {ErrorCode::kParse, std::move(m)}; }
  static Error RateLimited(std::string m) { return {ErrorCode::kRateLimited, std::move(m)}; }
  static Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
  static Error Unauthenticated(std::string m) { return {ErrorCode::kUnauthenticated, std::move(m)}; }
  static Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Error Storage(std::string m) { return {ErrorCode::kStorage, std::move(m)}; }
  static Error Cancelled(std::string m) { return {ErrorCode::kCancelled, std::move(m)}; }
  static Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

  // "parse: expected an array" — the form used in logs.
  std::string ToString() const;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Shorthand for returning an error from a function returning Result<T>.
inline tl::unexpected<Error> Fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

}  // namespace chorus
