#include "analytics/matcher.h"
#include "core/strings.h"

#include <algorithm>

namespace chorus::analytics {
namespace {

// Bytes of a word: ASCII letters and digits, '_' and any non-ASCII byte (so "école" is one word).
bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

bool ContainsPhrase(std::string_view text, std::string_view phrase) {
  if (phrase.empty()) return false;
  for (size_t pos = text.find(phrase); pos != std::string_view::npos;
       pos = text.find(phrase, pos + 1)) {
    const bool left_ok = pos == 0 || !IsWordByte(static_cast<unsigned char>(text[pos - 1])) ||
                         !IsWordByte(static_cast<unsigned char>(phrase.front()));
    const size_t end = pos + phrase.size();
    const bool right_ok = end == text.size() ||
                          !IsWordByte(static_cast<unsigned char>(text[end])) ||
                          !IsWordByte(static_cast<unsigned char>(phrase.back()));
    if (left_ok && right_ok) return true;
  }
  return false;
}

Matcher::Matcher(const config::Config& config) {
  for (const auto& c : config.campaigns) {
    CampaignTerms t{c.name, c.hashtags, c.keywords, {}};
    for (const auto& k : c.keywords) t.keywords_lower.push_back(AsciiLower(k));
    max_terms_ += c.hashtags.size() + c.keywords.size();
    campaigns_.push_back(std::move(t));
  }
  auto people = [](const std::vector<config::Person>& in, std::vector<PersonAccounts>* out) {
    for (const auto& p : in) {
      PersonAccounts pa{p.id, {}};
      for (const auto& [platform, account] : p.accounts) pa.accounts.emplace_back(platform, account);
      out->push_back(std::move(pa));
    }
  };
  people(config.policymakers, &policymakers_);
  people(config.coalition, &coalition_);
}

const std::string* Matcher::AccountOn(const PersonAccounts& p, Platform platform) {
  for (const auto& [pl, account] : p.accounts) {
    if (pl == platform) return &account;
  }
  return nullptr;
}

Match Matcher::Evaluate(const Post& post) const {
  Match m;
  auto add_term = [&](std::string_view campaign, std::string_view term) {
    if (m.terms.empty()) m.terms.reserve(max_terms_);  // one allocation, however many match
    m.terms.emplace_back(campaign, term);
  };
  // Lower-cased once, only if a campaign has keywords, into this thread's reused buffer: posts
  // are matched by the million in an import, and a fresh copy of each text was an allocation each.
  thread_local std::string text_lower;
  bool lowered = false;
  for (const auto& c : campaigns_) {
    bool matched = false;
    for (const auto& tag : c.hashtags) {
      if (Contains(post.hashtags, tag)) {
        add_term(c.name, tag);
        matched = true;
      }
    }
    if (!c.keywords.empty() && !lowered) {
      text_lower.clear();
      AppendAsciiLower(text_lower, post.text);
      lowered = true;
    }
    for (size_t i = 0; i < c.keywords.size(); ++i) {
      if (ContainsPhrase(text_lower, c.keywords_lower[i])) {
        add_term(c.name, c.keywords[i]);
        matched = true;
      }
    }
    if (matched) {
      if (m.campaigns.empty()) m.campaigns.reserve(campaigns_.size());
      m.campaigns.push_back(c.name);
    }
  }
  for (const auto& p : policymakers_) {
    const std::string* account = AccountOn(p, post.platform);
    if (account == nullptr) continue;
    if (Contains(post.mentions, *account)) m.mentioned_policymakers.push_back(p.id);
    if (m.author_policymaker.empty() && post.author == *account) m.author_policymaker = p.id;
  }
  for (const auto& c : coalition_) {
    const std::string* account = AccountOn(c, post.platform);
    if (account != nullptr && post.author == *account) {
      m.coalition_member = c.id;
      break;
    }
  }
  return m;
}

}  // namespace chorus::analytics
