// chorusctl: operator commands beside the daemon (design §3).
#include <iostream>
#include <string>

#include "config/config.h"
#include "core/build_info.h"

namespace {

constexpr const char* kUsage =
    "usage: chorusctl check-config FILE\n"
    "       chorusctl --version | --help\n"
    "\n"
    "  check-config FILE   validate a configuration file; problems as file:line:col; exit 0 or 1\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "chorusctl: a command is required\n" << kUsage;
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd == "--version") {
    std::cout << "chorusctl " << chorus::ChorusVersion() << " (" << chorus::ChorusRevision() << ")\n";
    return 0;
  }
  if (cmd == "check-config") {
    if (argc != 3) {
      std::cerr << "chorusctl: check-config takes exactly one FILE\n";
      return 2;
    }
    const auto loaded = chorus::config::LoadConfigFile(argv[2], /*check_env=*/true);
    for (const auto& p : loaded.problems) std::cerr << p.ToString() << "\n";
    if (!loaded.config) return 1;
    std::cout << argv[2] << ": ok\n";
    return 0;
  }
  std::cerr << "chorusctl: unknown command '" << cmd << "' (this version has: check-config)\n" << kUsage;
  return 2;
}
