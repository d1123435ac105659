#include "train/config/run_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <utility>

#include "core/error.h"
#include "train/config/schema.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"

namespace moelab::train {
namespace {

using nlohmann::json;

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

// Configs nest a few levels (train/io/json_limits.h says why deeper ones are refused) and are small.
constexpr int kMaxDepth = 64;
constexpr uint64_t kMaxConfigBytes = 16 << 20;
void check_depth(const json& j, const std::string& where) { check_json_depth(j, kMaxDepth, where); }

// The schema as lookup tables: keys by path, families and child names by section.
struct Index {
  std::map<std::string, const schema::Key*> keys;
  std::map<std::string, const schema::Key*> families;  // section -> its family of keys
  std::map<std::string, const schema::Section*> sections;
  std::map<std::string, std::set<std::string>> children;  // section -> names of its keys and sub-sections
  Index() {
    for (const schema::Section& s : schema::sections()) {
      sections[s.path] = &s;
      children[schema::parent_of(s.path)].insert(s.path.substr(s.path.rfind('.') + 1));
    }
    for (const schema::Key& k : schema::keys()) {
      const std::string section = schema::parent_of(k.path);
      if (k.is_family()) {
        families[section] = &k;
        continue;
      }
      keys[k.path] = &k;
      children[section].insert(k.path.substr(k.path.rfind('.') + 1));
    }
  }
};
const Index& index() {
  static const Index i;
  return i;
}

[[noreturn]] void unknown_key(const std::string& section, const std::string& name) {
  std::set<std::string> known = index().children.count(section) ? index().children.at(section) : std::set<std::string>{};
  if (auto f = index().families.find(section); f != index().families.end())
    for (const std::string& n : f->second->family()) known.insert(n);
  std::string best, known_list;
  size_t best_d = 3;
  for (const std::string& k : known) {
    if (size_t d = edit_distance(name, k); d < best_d) best_d = d, best = k;
    known_list += (known_list.empty() ? "" : ", ") + k;
  }
  throw Error("config: " + join(section, name) + ": unknown key" +
              (best.empty() ? "" : "; did you mean \"" + best + "\"?") + " (known: " + known_list + ")");
}

// Reads the keys of one section object (and its sub-sections), in the JSON's key order.
void read_section(const json& j, const std::string& path, RunConfig& c) {
  MOELAB_CHECK(j.is_object(), path.empty() ? "config" : "config: " + path, ": expected an object, got ", j.type_name());
  const Index& ix = index();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    if (name.rfind('_', 0) == 0) continue;  // "_comment" etc.
    const std::string full = join(path, name);
    const json& v = it.value();
    if (ix.sections.count(full)) {
      if (!v.is_null()) read_section(v, full, c);  // null: the defaults (for model.moe: a dense model)
    } else if (auto k = ix.keys.find(full); k != ix.keys.end()) {
      if (!v.is_null()) k->second->read(v, name, c, "config: " + full);  // null: keep the default
    } else if (auto f = ix.families.find(path); f != ix.families.end() && [&] {
                 const std::vector<std::string> names = f->second->family();
                 return std::find(names.begin(), names.end(), name) != names.end();
               }()) {
      if (!v.is_null()) f->second->read(v, name, c, "config: " + full);
    } else {
      unknown_key(path, name);
    }
  }
}

// Sets j[a][b][c] for the path "a.b.c".
void put(json& j, const std::string& path, json value) {
  json* node = &j;
  size_t start = 0;
  for (size_t dot; (dot = path.find('.', start)) != std::string::npos; start = dot + 1)
    node = &(*node)[path.substr(start, dot - start)];
  (*node)[path.substr(start)] = std::move(value);
}

}  // namespace

RunConfig parse_config(const json& j) {
  check_depth(j, "config");
  RunConfig c;
  c.source = j;
  read_section(j, "", c);
  for (const schema::Rule& r : schema::rules())
    if (!r.applies || r.applies(c)) r.check(c, "config: " + r.key);
  return c;
}

json to_json(const RunConfig& c) {
  json j = json::object();
  for (const schema::Section& s : schema::sections()) put(j, s.path, json::object());
  for (const schema::Key& k : schema::keys()) {
    if (k.is_family()) {
      const json members = k.write(c);
      for (const auto& [name, v] : members.items()) put(j, join(schema::parent_of(k.path), name), v);
      continue;
    }
    put(j, k.path, k.write(c));
  }
  if (!c.model.moe.enabled()) j["model"]["moe"] = nullptr;  // a dense model: its MoE settings mean nothing
  return j;
}

void apply_override(json& j, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  MOELAB_CHECK(eq != std::string::npos && eq > 0, "--set ", assignment, ": expected key.path=value");
  try {  // keys and bare strings end up in the JSON, which must stay printable (checkpoint sidecar, errors)
    (void)json(assignment).dump();
  } catch (const json::exception&) {
    throw Error("--set " + assignment + ": not valid UTF-8");
  }
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  // JSON if it is JSON (duplicate keys and deep nesting are errors), else a bare string, which needs
  // no quotes: --set data.train=/path/file.txt
  const json value = json::accept(text) ? parse_json(text, "--set " + path, kMaxDepth) : json(text);
  json* node = &j;
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    MOELAB_CHECK(!key.empty(), "--set ", assignment, ": empty key in path");
    MOELAB_CHECK(node->is_object() || node->is_null(), "--set ", assignment, ": ", path.substr(0, start ? start - 1 : 0),
                 " is not an object");
    if (dot == std::string::npos) {
      (*node)[key] = std::move(value);
      return;
    }
    node = &(*node)[key];
    start = dot + 1;
  }
}

namespace {
// Reads a config file; a "base" key names another config (relative to this file's folder) whose
// values this file overrides key by key (JSON merge patch). Chains are allowed, cycles are errors.
json read_config_file(const std::filesystem::path& path, std::vector<std::string>& chain) {
  const std::string shown = path.string();
  std::error_code ec;
  const std::string id = std::filesystem::weakly_canonical(path, ec).string();  // ./a.json and a.json are one file
  for (size_t i = 0; i < chain.size(); ++i)
    MOELAB_CHECK(chain[i] != id, "config: ", shown, ": the \"base\" chain loops back to a file already in it (after ",
                 chain.size(), " files)");
  MOELAB_CHECK(chain.size() < 64, "config: ", shown, ": \"base\" chains more than 64 files");
  chain.push_back(ec ? shown : id);
  json j = parse_json(read_regular_file(shown, "config", kMaxConfigBytes), "config: " + shown, kMaxDepth);
  if (!j.is_object() || !j.contains("base")) return j;
  MOELAB_CHECK(j.at("base").is_string(), "config: ", shown, ": base: expected a path string, got ", j.at("base").dump());
  const std::filesystem::path base_path = path.parent_path() / j.at("base").get<std::string>();
  json merged = read_config_file(base_path, chain);
  j.erase("base");
  merged.merge_patch(j);
  return merged;
}
}  // namespace

RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<std::string> chain;
  json j = read_config_file(path, chain);
  for (const std::string& o : overrides) apply_override(j, o);
  try {
    return parse_config(j);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (in " + path + ")");
  }
}

}  // namespace moelab::train
