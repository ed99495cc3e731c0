// A counter's identity — metric name plus label pairs — as one byte string.
//
// The ingest path writes counter deltas under these keys; the store persists them opaquely; the
// metrics exporter decodes them back into a Prometheus family and label set. Label values come
// only from configuration (design §7), so the set of keys is bounded.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace chorus {

struct CounterKey {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in the order the metric defines

  std::string Encode() const;
  static std::optional<CounterKey> Decode(std::string_view encoded);
  bool operator==(const CounterKey&) const = default;
};

}  // namespace chorus
