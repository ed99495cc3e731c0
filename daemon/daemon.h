// chorusd's life cycle: load the config, open the store, restore counters, poll every source,
// serve HTTP, reload on SIGHUP or POST /-/reload, drain on SIGTERM/SIGINT.
#pragma once

#include <functional>
#include <string>

namespace chorus::daemon {

struct DaemonOptions {
  std::string config_path;
  std::string listen_override;    // --listen; replaces http.listen
  std::string data_dir_override;  // --data-dir; replaces storage.path
  // Called once the store is open and the server listens, with the bound port (tests, demo).
  std::function<void(int port)> on_ready;
};

// Runs until SIGTERM/SIGINT; returns the process exit code (0 after a clean drain, 1 when the
// config, store or listen address is unusable at start-up).
int RunDaemon(const DaemonOptions& options);

}  // namespace chorus::daemon
