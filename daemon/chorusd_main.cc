// chorusd: the Chorus daemon (design §3).
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "config/config.h"
#include "core/build_info.h"
#include "core/log.h"
#include "daemon/daemon.h"
#include "daemon/demo.h"
#include "daemon/web_config.h"

namespace {

constexpr const char* kUsage =
    "usage: chorusd --config FILE [--listen ADDR] [--data-dir DIR]\n"
    "       chorusd --demo [--listen ADDR] [--data-dir DIR]\n"
    "       chorusd --check-config --config FILE\n"
    "       chorusd --version | --help\n"
    "\n"
    "  --config FILE     run the daemon with this configuration (SIGTERM/SIGINT drain and exit,\n"
    "                    SIGHUP reloads the file)\n"
    "  --demo            poll built-in simulated platforms on loopback; no network needed\n"
    "  --listen ADDR     serve HTTP on ADDR (host:port) instead of http.listen\n"
    "  --data-dir DIR    keep the store in DIR instead of storage.path\n"
    "  --check-config    validate the configuration, print problems as file:line:col, exit 0 or 1\n"
    "\n"
    "environment: CHORUS_LOG_LEVEL=debug|info|warn|error (default info)\n";

int Usage(const std::string& error) {
  std::cerr << "chorusd: " << error << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* level = std::getenv("CHORUS_LOG_LEVEL")) {
    const std::string l = level;
    if (l == "debug") chorus::SetLogLevel(chorus::LogLevel::kDebug);
    else if (l == "warn") chorus::SetLogLevel(chorus::LogLevel::kWarn);
    else if (l == "error") chorus::SetLogLevel(chorus::LogLevel::kError);
  }
  std::string config_path, listen, data_dir;
  bool demo = false, check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--version") {
      std::cout << "chorusd " << chorus::ChorusVersion() << " (" << chorus::ChorusRevision() << ")\n";
      return 0;
    } else if (arg == "--demo") {
      demo = true;
    } else if (arg == "--check-config") {
      check = true;
    } else if (arg == "--config") {
      if (!value(&config_path)) return Usage("--config needs a file");
    } else if (arg == "--listen") {
      if (!value(&listen)) return Usage("--listen needs an address");
    } else if (arg == "--data-dir") {
      if (!value(&data_dir)) return Usage("--data-dir needs a directory");
    } else {
      return Usage("unknown argument '" + arg + "'");
    }
  }
  if (check) {
    if (config_path.empty()) return Usage("--check-config needs --config FILE");
    const auto loaded = chorus::config::LoadConfigFile(config_path, /*check_env=*/true);
    for (const auto& p : loaded.problems) std::cerr << p.ToString() << "\n";
    if (!loaded.config) return 1;
    // The web config file too: chorusd would refuse to start on it.
    if (auto web = chorus::daemon::LoadWebConfigFor(*loaded.config); !web) {
      std::cerr << web.error().message << "\n";
      return 1;
    }
    std::cout << config_path << ": ok\n";
    return 0;
  }
  if (demo) {
    if (!config_path.empty()) return Usage("--demo and --config exclude each other");
    return chorus::daemon::RunDemo(listen.empty() ? "127.0.0.1:9750" : listen, data_dir);
  }
  if (config_path.empty()) return Usage("--config FILE or --demo is required");
  chorus::daemon::DaemonOptions options;
  options.config_path = config_path;
  options.listen_override = listen;
  options.data_dir_override = data_dir;
  return chorus::daemon::RunDaemon(options);
}
