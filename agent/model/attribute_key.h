// Attribute names without a string copy per span. Span building sets about
// twenty attributes per span, and most semantic-convention names are longer
// than std::string's inline buffer: as std::string each cost an allocation
// and a free per span. An AttributeKey is a view of text that lives forever:
// a string literal, or a name interned once per distinct value.
#pragma once

#include <cstddef>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_set>

namespace weft {

class AttributeKey {
 public:
  // A string literal: kept as a view. consteval, so only constants (static
  // storage) bind here; other character arrays go through string_view.
  template <size_t N>
  consteval AttributeKey(const char (&literal)[N])  // NOLINT(google-explicit-constructor)
      : name_(literal, N - 1) {}
  // Any other text: interned, so each distinct name is stored once for the
  // life of the process (names come from configuration, a bounded set).
  AttributeKey(std::string_view name)  // NOLINT(google-explicit-constructor)
      : name_(Intern(name)) {}
  AttributeKey(const std::string& name)  // NOLINT(google-explicit-constructor)
      : AttributeKey(std::string_view(name)) {}
  AttributeKey() = default;

  std::string_view view() const { return name_; }
  operator std::string_view() const { return name_; }  // NOLINT(google-explicit-constructor)
  std::string str() const { return std::string(name_); }
  bool empty() const { return name_.empty(); }
  size_t size() const { return name_.size(); }

  friend bool operator==(const AttributeKey& a, std::string_view b) { return a.name_ == b; }
  friend std::ostream& operator<<(std::ostream& os, const AttributeKey& key) {
    return os << key.name_;
  }

 private:
  static std::string_view Intern(std::string_view name) {
    static std::mutex mu;
    // Node-based: the strings never move, so views of them stay valid.
    static auto* names = new std::unordered_set<std::string>();
    std::lock_guard<std::mutex> lock(mu);
    return *names->emplace(name).first;
  }

  std::string_view name_;
};

}  // namespace weft
