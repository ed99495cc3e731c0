#include "daemon/archive_lines.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace chorus::daemon {
namespace {

// Read pages are given back in steps of this many bytes: a few madvise calls per gigabyte.
constexpr size_t kReleaseStep = 64u << 20;

}  // namespace

Result<std::unique_ptr<ArchiveLines>> ArchiveLines::Open(const std::string& path, size_t padding) {
  std::unique_ptr<ArchiveLines> lines(new ArchiveLines());
  lines->padding_ = padding;
  // Checked by name first: opening a pipe only to find it is one would take its data with it.
  struct stat named {};
  const int fd = ::stat(path.c_str(), &named) == 0 && S_ISREG(named.st_mode)
                     ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC)
                     : -1;
  if (fd >= 0) {
    struct stat st {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (regular && st.st_size > 0) {
      void* map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (map != MAP_FAILED) {
        ::madvise(map, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
        lines->map_ = static_cast<const char*>(map);
        lines->size_ = static_cast<size_t>(st.st_size);
        lines->page_ = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
      }
    }
    ::close(fd);  // a mapping outlives its descriptor
    if (lines->map_ || (regular && st.st_size == 0)) return lines;
  }
  // Not mappable (a pipe, a device): a stream with a large buffer, lines can be megabytes.
  lines->stream_buffer_.resize(1 << 20);
  lines->in_.rdbuf()->pubsetbuf(lines->stream_buffer_.data(),
                                static_cast<std::streamsize>(lines->stream_buffer_.size()));
  lines->in_.open(path, std::ios::binary);
  if (!lines->in_) return Fail(Error::NotFound("cannot read " + path));
  return lines;
}

ArchiveLines::~ArchiveLines() {
  if (map_) ::munmap(const_cast<char*>(map_), size_);
}

bool ArchiveLines::Next(std::string_view* line, size_t* readable) {
  if (map_) {
    if (at_ >= size_) return false;
    const char* start = map_ + at_;
    const void* nl = std::memchr(start, '\n', size_ - at_);
    const size_t len = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : size_ - at_;
    *line = std::string_view(start, len);
    *readable = size_ - at_;
    at_ += len + (nl ? 1 : 0);
    // The lines before this one are parsed and copied out: their pages can go (the page cache
    // keeps them; only this process's mapping of them is dropped).
    const size_t done = (static_cast<size_t>(start - map_) / page_) * page_;
    if (done >= released_ + kReleaseStep) {
      ::madvise(const_cast<char*>(map_) + released_, done - released_, MADV_DONTNEED);
      released_ = done;
    }
    return true;
  }
  if (!in_.is_open() || !std::getline(in_, line_)) {
    failed_ = in_.is_open() && in_.bad();
    return false;
  }
  // Room for the padding after the line, so it is parsed where it is; the buffer is reused, so
  // this grows it only for the longest lines.
  line_.reserve(line_.size() + padding_);
  *line = line_;
  *readable = line_.capacity();
  return true;
}

}  // namespace chorus::daemon
