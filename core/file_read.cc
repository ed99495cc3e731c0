#include "core/file_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace chorus {

FileRead ReadWholeFile(const std::string& path, size_t max_bytes) {
  FileRead out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.error = errno;
    return out;
  }
  out.opened = true;
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.error = errno;
      ::close(fd);
      return out;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      out.too_large = true;
      ::close(fd);
      return out;
    }
  }
  ::close(fd);
  out.text = std::move(text);
  return out;
}

}  // namespace chorus
