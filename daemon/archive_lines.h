// The lines of one archive file, for `chorusctl import`.
//
// A regular file is memory-mapped and each line is handed out where the page cache holds it: no
// copy into a stream buffer and then into a line (the kernel's copy alone was 2% of an import of a
// 1 GB archive, and up to a sixth of it in this VM's slow spells). Pages already read are released
// as the reading moves on, so the process's memory does not grow with the file. Anything else (a
// pipe, /dev/stdin) is read through a stream into one reused buffer.
//
// A mapped file must not shrink while it is read (the kernel would kill the process for reading a
// page that is gone); an archive being written to may grow, and the lines appended after Open are
// not read.
#pragma once

#include <cstddef>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace chorus::daemon {

class ArchiveLines {
 public:
  // `padding`: how many bytes past a line's end its reader needs readable (a parser's padding).
  static Result<std::unique_ptr<ArchiveLines>> Open(const std::string& path, size_t padding);
  ~ArchiveLines();
  ArchiveLines(const ArchiveLines&) = delete;
  ArchiveLines& operator=(const ArchiveLines&) = delete;

  // The next line, without its "\n", and how many bytes at line->data() may be read: at least
  // line->size() + padding, except for a mapped file's last `padding` bytes, whose lines a parser
  // copies. Valid until the next call. False at the end of the file, or when reading failed.
  bool Next(std::string_view* line, size_t* readable);
  // True when Next stopped because reading failed, rather than at the end.
  bool failed() const { return failed_; }
  bool mapped() const { return map_ != nullptr; }

 private:
  ArchiveLines() = default;

  size_t padding_ = 0;
  // Mapped file.
  const char* map_ = nullptr;
  size_t size_ = 0;
  size_t at_ = 0;        // offset of the next line
  size_t released_ = 0;  // pages before this offset were given back
  size_t page_ = 4096;   // the system's page size
  // Stream.
  std::ifstream in_;
  std::vector<char> stream_buffer_;
  std::string line_;
  bool failed_ = false;
};

}  // namespace chorus::daemon
