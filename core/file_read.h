// Reads a whole (small) file, for the configuration and the web configuration: the caller words
// the error, since each names its own file and limit.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace chorus {

struct FileRead {
  std::optional<std::string> text;  // the contents, when read whole
  bool opened = false;              // open() succeeded (else `error` is its errno)
  bool too_large = false;           // longer than the limit: not read
  int error = 0;                    // errno of the failed open() or read()
};

FileRead ReadWholeFile(const std::string& path, size_t max_bytes);

}  // namespace chorus
