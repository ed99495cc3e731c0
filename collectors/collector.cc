#include "collectors/collector.h"

#include "collectors/bluesky_collector.h"
#include "collectors/mastodon_collector.h"
#include "collectors/reddit_collector.h"
#include "collectors/x_collector.h"

namespace chorus::collectors {

void CollectorRegistry::Register(Platform platform, CollectorFactory factory) {
  factories_[platform] = std::move(factory);
}

Result<std::unique_ptr<Collector>> CollectorRegistry::Create(
    const config::Source& source, const config::Config& config,
    std::unique_ptr<HttpTransport> transport) const {
  auto it = factories_.find(source.platform);
  if (it == factories_.end()) {
    return Fail(Error::InvalidArgument("source '" + source.name + "': no collector for platform '" +
                                       std::string(PlatformName(source.platform)) +
                                       "' in this build of chorus"));
  }
  return it->second(source, config, std::move(transport));
}

void RegisterBuiltinCollectors(CollectorRegistry& registry) {
  registry.Register(Platform::kMastodon, MakeMastodonCollector);
  registry.Register(Platform::kBluesky, MakeBlueskyCollector);
  registry.Register(Platform::kX, MakeXCollector);
  registry.Register(Platform::kReddit, MakeRedditCollector);
}

}  // namespace chorus::collectors
