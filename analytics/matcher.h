// Campaign, term, policymaker and coalition matching (design §5). Pure computation: a Post and
// the configuration in, a Match out. Immutable after construction, so one Matcher is shared by
// every thread; a config reload builds a new one.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/model.h"
#include "core/strings.h"

namespace chorus::analytics {

struct Match {
  std::vector<std::string> campaigns;                         // names, config order
  // (campaign, term) pairs, as views of the Matcher's configuration: valid while it lives.
  std::vector<std::pair<std::string_view, std::string_view>> terms;
  std::vector<std::string> mentioned_policymakers;            // policymaker ids, config order
  std::string coalition_member;                               // member id when the author is one
  std::string author_policymaker;                             // policymaker id when the author is one

  // True when the post concerns the configuration at all and is worth storing.
  bool relevant() const {
    return !campaigns.empty() || !mentioned_policymakers.empty() || !author_policymaker.empty() ||
           !coalition_member.empty();
  }
};

class Matcher {
 public:
  explicit Matcher(const config::Config& config);
  Match Evaluate(const Post& post) const;

 private:
  struct CampaignTerms {
    std::string name;
    std::vector<std::string> hashtags;        // normalized
    std::vector<std::string> keywords;        // as configured (the term label)
    std::vector<std::string> keywords_lower;  // for matching
  };
  struct PersonAccounts {
    std::string id;
    std::vector<std::pair<Platform, std::string>> accounts;
  };
  static const std::string* AccountOn(const PersonAccounts& p, Platform platform);

  std::vector<CampaignTerms> campaigns_;
  std::vector<PersonAccounts> policymakers_;
  std::vector<PersonAccounts> coalition_;
  size_t max_terms_ = 0;  // hashtags and keywords of all campaigns: the most a post can match
};

using chorus::AsciiLower;  // hashtags and handles are compared ASCII-lower-cased

// True when `phrase_lower` occurs in `text_lower` with word boundaries on both sides.
bool ContainsPhrase(std::string_view text_lower, std::string_view phrase_lower);

}  // namespace chorus::analytics
