// chorusctl: operator commands beside the daemon (design §3). Each command lives in its own
// daemon/ctl_<command>.cc; this file only dispatches.
#include <iostream>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/build_info.h"
#include "daemon/ctl_export.h"
#include "daemon/ctl_import.h"
#include "daemon/web_config.h"

namespace {

constexpr const char* kUsage =
    "usage: chorusctl import --config FILE --platform P FILE...\n"
    "       chorusctl export --config FILE --dataset posts|series --format csv|ndjson\n"
    "                        [--campaign C] [--platform P] [--from T] [--to T] [--step 1m|1h|1d]\n"
    "                        [--out FILE]\n"
    "       chorusctl check-config FILE\n"
    "       chorusctl --version | --help\n"
    "\n"
    "  import        ingest archived API pages (one JSON response body a line); chorusd stopped\n"
    "  export        posts or series as CSV or NDJSON; works while chorusd runs\n"
    "  check-config  validate a configuration file; problems as file:line:col; exit 0 or 1\n"
    "\n"
    "`chorusctl COMMAND --help` describes a command's options and exit status.\n";

int CheckConfig(const std::vector<std::string>& args) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << "usage: chorusctl check-config FILE\n";
    return 0;
  }
  if (args.size() != 1) {
    std::cerr << "chorusctl: check-config takes exactly one FILE\n";
    return 2;
  }
  const auto loaded = chorus::config::LoadConfigFile(args[0], /*check_env=*/true);
  for (const auto& p : loaded.problems) std::cerr << p.ToString() << "\n";
  if (!loaded.config) return 1;
  // The web config file too: chorusd would refuse to start on it.
  if (auto web = chorus::daemon::LoadWebConfigFor(*loaded.config); !web) {
    std::cerr << web.error().message << "\n";
    return 1;
  }
  std::cout << args[0] << ": ok\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "chorusctl: a command is required\n" << kUsage;
    return 2;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << kUsage;
      return 0;
    }
    if (cmd == "--version") {
      std::cout << "chorusctl " << chorus::ChorusVersion() << " (" << chorus::ChorusRevision() << ")\n";
      return 0;
    }
    if (cmd == "check-config") return CheckConfig(args);
    if (cmd == "import") return chorus::daemon::RunImportCommand(args);
    if (cmd == "export") return chorus::daemon::RunExportCommand(args);
  } catch (const std::exception& e) {
    // Library exceptions stop here (style.md): one line, non-zero.
    std::cerr << "chorusctl " << cmd << ": internal error: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "chorusctl: unknown command '" << cmd << "' (commands: import, export, check-config)\n"
            << kUsage;
  return 2;
}
