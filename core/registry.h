// core/registry.h: a name -> factory table. Routers, FFN kinds, activations, aux losses and
// optimizers are looked up by the name used in the JSON config; adding one is one registration
// line. An unknown name is an error listing the known ones, prefixed with the config key.
#pragma once
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"

namespace moelab {

template <class Entry>
class Registry {
 public:
  // `what` names the config key in errors, e.g. "model.moe.router.type".
  explicit Registry(std::string what) : what_(std::move(what)) {}

  void add(const std::string& name, Entry entry) {
    MOELAB_CHECK(!name.empty(), what_, ": cannot register an empty name");
    std::lock_guard<std::mutex> lock(mu_);
    entries_[name] = std::move(entry);
  }
  bool contains(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.count(name) > 0;
  }
  const Entry& at(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) throw Error(unknown_message(name));
    return it->second;
  }
  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [n, e] : entries_) out.push_back(n);
    return out;
  }
  // "<what>: unknown "x"; known: a, b, c"
  std::string unknown_message(const std::string& name) const {
    std::string known;
    for (const auto& [n, e] : entries_) known += (known.empty() ? "" : ", ") + n;
    return what_ + ": unknown \"" + name + "\"; known: " + known;
  }

 private:
  std::string what_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace moelab
