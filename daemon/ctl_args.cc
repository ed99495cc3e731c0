#include "daemon/ctl_args.h"

namespace chorus::daemon {

Result<CtlArgs> ParseCtlArgs(const std::vector<std::string>& args,
                             const std::set<std::string>& value_flags,
                             const std::set<std::string>& switch_flags) {
  CtlArgs out;
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positional || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name = a;
    std::string value;
    bool inline_value = false;
    if (const size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    if (switch_flags.count(name)) {
      if (inline_value) return Fail(Error::InvalidArgument(name + " takes no value"));
      out.switches.insert(name);
      continue;
    }
    if (!value_flags.count(name)) return Fail(Error::InvalidArgument("unknown flag '" + name + "'"));
    if (!inline_value) {
      if (i + 1 >= args.size()) return Fail(Error::InvalidArgument(name + " needs a value"));
      value = args[++i];
    }
    if (value.empty()) return Fail(Error::InvalidArgument(name + " needs a non-empty value"));
    if (!out.values.emplace(name, value).second) {
      return Fail(Error::InvalidArgument(name + " is given more than once"));
    }
  }
  return out;
}

}  // namespace chorus::daemon
