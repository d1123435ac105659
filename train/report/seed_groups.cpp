#include "train/report/seed_groups.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

namespace moelab::train {

namespace {

namespace fs = std::filesystem;

// The config as a string without what differs between seeds of one experiment, and the seed
// (empty key: no config with a train.seed was logged, so the run cannot be grouped).
std::pair<std::string, std::string> group_key(const RunLog& run) {
  const std::string seed = logged_seed(run);
  if (seed.empty()) return {};
  nlohmann::json c = run.start["config"];
  for (const char* k : {"seed", "out_dir", "threads"}) c["train"].erase(k);
  return {c.dump(), seed};
}

// A sweep's point folder "switch=0.01,top_k=2-1a2b3c4d" reads as "switch=0.01,top_k=2" (names that
// then collide are told apart below).
std::string without_sweep_hash(const std::string& name) {
  const size_t n = name.size();
  if (n <= 9 || name[n - 9] != '-') return name;
  for (size_t i = n - 8; i < n; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(name[i])) || std::isupper(static_cast<unsigned char>(name[i])))
      return name;
  return name.substr(0, n - 9);
}

fs::path absolute_dir(const std::string& dir) {
  fs::path p = fs::absolute(fs::path(dir)).lexically_normal();
  return p.has_filename() ? p : p.parent_path();
}

}  // namespace

std::vector<SeedGroup> group_by_seed(const std::vector<RunLog>& runs, const std::vector<std::string>& run_dirs) {
  std::vector<SeedGroup> groups;
  std::vector<std::set<std::string>> seeds;     // per group
  std::map<std::string, std::vector<size_t>> by_key;  // config -> its groups
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto [key, seed] = group_key(runs[i]);
    size_t g = groups.size();
    if (!key.empty())  // the first group of this config without this seed (a repeated seed is another experiment)
      for (size_t k : by_key[key])
        if (!seeds[k].count(seed)) {
          g = k;
          break;
        }
    if (g == groups.size()) {
      groups.push_back({runs[i].name, {}});
      seeds.emplace_back();
      if (!key.empty()) by_key[key].push_back(g);
    }
    groups[g].runs.push_back(i);
    seeds[g].insert(seed);
  }
  for (SeedGroup& g : groups) {
    if (g.runs.size() < 2) continue;
    bool sweep_layout = !run_dirs.empty();
    fs::path parent;
    for (size_t i : g.runs) {
      if (!sweep_layout || i >= run_dirs.size()) {
        sweep_layout = false;
        break;
      }
      const fs::path dir = absolute_dir(run_dirs[i]);
      sweep_layout &= dir.filename().string().rfind("seed", 0) == 0 && (parent.empty() || dir.parent_path() == parent);
      parent = dir.parent_path();
    }
    g.name = sweep_layout && !parent.filename().empty() ? without_sweep_hash(parent.filename().string())
                                                         : runs[g.runs[0]].name + " +" + std::to_string(g.runs.size() - 1);
  }
  // names stay unique, as legends and tables tell groups apart by them: a repeated name gets the
  // first free "-N" (free among every group's name, as run names such as "x-2" are group names too)
  std::set<std::string> all, taken;
  for (const SeedGroup& g : groups) all.insert(g.name);
  for (SeedGroup& g : groups) {
    if (taken.insert(g.name).second) continue;
    for (int n = 2;; ++n) {
      std::string name = g.name;
      name += '-';  // (not + "-" + to_string(): GCC 12 warns falsely of an overlapping memcpy there)
      name += std::to_string(n);
      if (!all.count(name) && !taken.count(name)) {
        g.name = name;
        taken.insert(name);
        break;
      }
    }
  }
  return groups;
}

std::string logged_seed(const RunLog& run) {
  auto c = run.start.find("config");
  if (c == run.start.end() || !c->is_object()) return "";
  auto t = c->find("train");
  if (t == c->end() || !t->is_object() || !t->contains("seed")) return "";
  return (*t)["seed"].dump();
}

bool has_seed_groups(const std::vector<SeedGroup>& groups) {
  return std::any_of(groups.begin(), groups.end(), [](const SeedGroup& g) { return g.runs.size() > 1; });
}

MeanBand mean_band(const std::vector<const std::vector<MetricsRow>*>& members,
                   const std::function<double(const MetricsRow&)>& value) {
  std::map<int64_t, std::vector<double>> at;  // step -> the members' finite values there
  for (const auto* rows : members)
    for (const MetricsRow& row : *rows) {
      auto& v = at[row.step];
      const double y = value(row);
      if (std::isfinite(y)) v.push_back(y);
    }
  MeanBand b;
  for (const auto& [step, v] : at) {
    b.x.push_back(static_cast<double>(step));
    if (v.size() < members.size()) {  // a member without a value here (diverged, or not there yet): no mean
      b.mean.push_back(NAN), b.lo.push_back(NAN), b.hi.push_back(NAN);
      continue;
    }
    double sum = 0;
    for (double y : v) sum += y;
    b.mean.push_back(sum / static_cast<double>(v.size()));
    b.lo.push_back(*std::min_element(v.begin(), v.end()));
    b.hi.push_back(*std::max_element(v.begin(), v.end()));
  }
  return b;
}

}  // namespace moelab::train
