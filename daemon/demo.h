// chorusd --demo (design §8): simulated platforms on loopback playing a campaign, polled by the
// daemon through its real collectors, store and HTTP server. Needs no network and no credentials.
#pragma once

#include <string>

namespace chorus::daemon {

// Writes the demo config into `data_dir` (a fresh directory under $TMPDIR when empty), starts the
// simulator and the campaign player, then runs the daemon until SIGTERM/SIGINT. Returns the exit
// code.
int RunDemo(const std::string& listen, const std::string& data_dir);

// Base URLs of the simulated platforms.
struct DemoUrls {
  std::string mastodon, bluesky, x, reddit;
};

// The demo's configuration, pointing at the simulated platforms.
std::string DemoConfigYaml(const DemoUrls& urls, const std::string& store_path,
                           const std::string& listen);

}  // namespace chorus::daemon
