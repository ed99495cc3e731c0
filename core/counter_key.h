// A counter's identity — metric name plus label pairs — as one byte string.
//
// The ingest path writes counter deltas under these keys; the store persists them opaquely; the
// metrics exporter decodes them back into a Prometheus family and label set. Label values come
// only from configuration (design §7), so the set of keys is bounded.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chorus {

struct CounterKey {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in the order the metric defines

  std::string Encode() const;
  // The same encoding written into `out` (replacing its contents) from views, for hot paths that
  // encode the same few keys over and over without building a CounterKey.
  static void EncodeTo(std::string* out, std::string_view name,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> labels);
  static std::optional<CounterKey> Decode(std::string_view encoded);
  bool operator==(const CounterKey&) const = default;
};

}  // namespace chorus
