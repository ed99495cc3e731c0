// Command-line flags of chorusctl's commands: `--name VALUE`, `--name=VALUE`, boolean `--name`
// switches and positional arguments (after `--`, everything is positional).
//
// Pure; errors are one-line kInvalidArgument messages naming the flag, for the usage error an
// operator sees.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace chorus::daemon {

struct CtlArgs {
  std::map<std::string, std::string> values;  // "--config" -> "/etc/chorus/chorus.yml"
  std::set<std::string> switches;             // "--strict"
  std::vector<std::string> positional;

  const std::string* Value(const std::string& flag) const {
    auto it = values.find(flag);
    return it == values.end() ? nullptr : &it->second;
  }
  bool Has(const std::string& flag) const { return switches.count(flag) > 0; }
};

// Parses `args` against the flags a command knows: `value_flags` take a value, `switch_flags`
// none. An unknown flag, a missing value, an empty value or a flag given twice is an error.
Result<CtlArgs> ParseCtlArgs(const std::vector<std::string>& args,
                             const std::set<std::string>& value_flags,
                             const std::set<std::string>& switch_flags);

}  // namespace chorus::daemon
