// The store options a configuration implies (retention per resolution), for every program that
// opens the store as its writer: chorusd and `chorusctl import`.
#pragma once

#include "config/config.h"
#include "store/store.h"

namespace chorus::daemon {

inline store::OpenOptions StoreOptionsFor(const config::Config& config) {
  store::OpenOptions options;
  const auto& r = config.storage.retention;
  options.retention = {r.posts_ms / 1000, r.minute_ms / 1000, r.hour_ms / 1000, r.day_ms / 1000};
  return options;
}

}  // namespace chorus::daemon
