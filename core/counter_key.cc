#include "core/counter_key.h"

namespace chorus {
namespace {
// Unit and record separators cannot appear in config names (they are rejected as control
// characters by YAML in plain scalars, and metric names never contain them).
constexpr char kFieldSep = '\x1f';
constexpr char kPairSep = '\x1e';
}  // namespace

namespace {
void AppendLabel(std::string* out, std::string_view k, std::string_view v) {
  out->push_back(kFieldSep);
  out->append(k);
  out->push_back(kPairSep);
  out->append(v);
}
}  // namespace

std::string CounterKey::Encode() const {
  std::string out = name;
  for (const auto& [k, v] : labels) AppendLabel(&out, k, v);
  return out;
}

void CounterKey::EncodeTo(std::string* out, std::string_view name,
                          std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  out->assign(name);
  for (const auto& [k, v] : labels) AppendLabel(out, k, v);
}

std::optional<CounterKey> CounterKey::Decode(std::string_view s) {
  CounterKey key;
  size_t pos = s.find(kFieldSep);
  key.name = std::string(s.substr(0, pos));
  if (key.name.empty()) return std::nullopt;
  while (pos != std::string_view::npos) {
    const size_t start = pos + 1;
    pos = s.find(kFieldSep, start);
    const std::string_view field = s.substr(start, pos == std::string_view::npos ? pos : pos - start);
    const size_t eq = field.find(kPairSep);
    if (eq == std::string_view::npos) return std::nullopt;
    key.labels.emplace_back(std::string(field.substr(0, eq)), std::string(field.substr(eq + 1)));
  }
  return key;
}

}  // namespace chorus
