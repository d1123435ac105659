#include "train/sweep.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "train/checkpoint/checkpoint.h"
#include "train/config/run_config.h"
#include "train/io/atomic_file.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"

namespace moelab::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDoneMarker = "sweep.done";

// A JSON value as a --set value: strings bare, the rest as JSON.
std::string set_value(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// "k=v" pieces -> a folder name: letters, digits and . _ - = kept, the rest '_'; long names
// shortened with a hash of the whole so two points never share a folder.
std::string folder_name(const std::vector<std::string>& overrides) {
  std::string joined;
  for (const std::string& o : overrides) {
    const size_t eq = o.find('='), dot = o.rfind('.', eq);
    if (!joined.empty()) joined += ',';
    joined.append(o, dot == std::string::npos ? 0 : dot + 1, std::string::npos);  // the key's last part, '=', the value
  }
  if (joined.empty()) return "base";
  std::string name;
  for (char c : joined) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '=' || c == ',') ? c : '_';
  // the readable part drops key prefixes and characters: a hash of the full overrides keeps two
  // points apart (model.moe.router.type=X and optim.type=X read the same)
  uint64_t h = 1469598103934665603ull;
  for (const std::string& o : overrides) {
    for (char c : o) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    h = (h ^ 0xFFu) * 1099511628211ull;
  }
  char buf[12];
  std::snprintf(buf, sizeof buf, "%08llx", static_cast<unsigned long long>(h >> 32));
  return name.substr(0, 100) + "-" + buf;
}

std::vector<std::string> string_list(const nlohmann::json& v, const std::string& where) {
  MOELAB_CHECK(v.is_array(), where, ": expected a list of \"key.path=value\" strings, got ", v.dump());
  std::vector<std::string> out;
  for (const auto& e : v) {
    MOELAB_CHECK(e.is_string() && e.get<std::string>().find('=') != std::string::npos, where,
                 ": expected \"key.path=value\", got ", e.dump());
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace

SweepSpec parse_sweep(const nlohmann::json& j, const std::string& where, const std::string& folder) {
  MOELAB_CHECK(j.is_object(), where, ": expected a JSON object");
  for (const auto& [k, v] : j.items())  // "_comment" etc. are comments, as in configs
    MOELAB_CHECK(k.rfind('_', 0) == 0 || k == "base" || k == "set" || k == "grid" || k == "points" || k == "seeds" ||
                     k == "out" || k == "parallel" || k == "threads_per_run",
                 where, ": unknown key \"", k, "\" (known: base, set, grid, points, seeds, out, parallel, threads_per_run; keys starting with _ are comments)");
  auto relative = [&](const std::string& p) { return fs::path(p).is_absolute() ? p : (fs::path(folder) / p).string(); };
  SweepSpec s;
  MOELAB_CHECK(j.contains("base") && j["base"].is_string(), where, ": \"base\" (the config file) is required");
  s.base = relative(j["base"].get<std::string>());
  if (j.contains("set")) s.sets = string_list(j["set"], where + ": set");
  if (j.contains("grid")) {
    const nlohmann::json& g = j["grid"];
    MOELAB_CHECK(g.is_object() && !g.empty(), where, ": grid: expected an object of key.path: [values]");
    std::vector<std::vector<std::string>> product = {{}};
    for (const auto& [key, values] : g.items()) {
      MOELAB_CHECK(values.is_array() && !values.empty(), where, ": grid.", key, ": expected a non-empty list of values");
      std::vector<std::vector<std::string>> next;
      for (const auto& partial : product)
        for (const auto& v : values) {
          next.push_back(partial);
          next.back().push_back(key + "=" + set_value(v));
        }
      product = std::move(next);
    }
    s.points = std::move(product);
  }
  if (j.contains("points")) {
    MOELAB_CHECK(j["points"].is_array(), where, ": points: expected a list of lists of \"key.path=value\"");
    for (size_t i = 0; i < j["points"].size(); ++i)
      s.points.push_back(string_list(j["points"][i], where + ": points[" + std::to_string(i) + "]"));
  }
  if (s.points.empty()) s.points = {{}};
  if (j.contains("seeds")) {
    MOELAB_CHECK(j["seeds"].is_array() && !j["seeds"].empty(), where, ": seeds: expected a non-empty list of integers");
    s.seeds.clear();
    for (const auto& v : j["seeds"]) {
      MOELAB_CHECK(v.is_number_unsigned(), where, ": seeds: expected integers >= 0, got ", v.dump());
      s.seeds.push_back(v.get<uint64_t>());
    }
  }
  s.out = j.contains("out") && j["out"].is_string() ? relative(j["out"].get<std::string>()) : "";
  for (const char* k : {"parallel", "threads_per_run"})
    if (j.contains(k))
      MOELAB_CHECK(j[k].is_number_integer() && j[k].get<int64_t>() >= 1 && j[k].get<int64_t>() <= 256, where, ": ", k,
                   ": expected an integer in [1, 256], got ", j[k].dump());
  s.parallel = j.value("parallel", 2);
  s.threads_per_run = j.value("threads_per_run", 1);
  return s;
}

SweepSpec read_sweep(const std::string& path) {
  const nlohmann::json j = parse_json(read_regular_file(path, "sweep", 1 << 24), path, 16);
  SweepSpec s = parse_sweep(j, path, fs::path(path).parent_path().string());
  if (s.out.empty()) s.out = (fs::path(path).parent_path() / fs::path(path).stem()).string();
  return s;
}

std::vector<SweepRun> expand_sweep(const SweepSpec& spec) {
  std::vector<SweepRun> runs;
  std::vector<std::string> dirs;
  for (const auto& point : spec.points) {
    std::string group;
    for (const std::string& o : point) group += (group.empty() ? "" : ", ") + o;
    const std::string dir = folder_name(point);
    MOELAB_CHECK(std::find(dirs.begin(), dirs.end(), dir) == dirs.end(), "sweep: two points are the same (", group, ")");
    dirs.push_back(dir);
    for (uint64_t seed : spec.seeds) {
      SweepRun r;
      r.group = group.empty() ? "base" : group;
      r.group_dir = dir;
      r.sets = spec.sets;
      r.sets.insert(r.sets.end(), point.begin(), point.end());
      r.sets.push_back("train.seed=" + std::to_string(seed));
      r.seed = seed;
      r.out_dir = (fs::path(spec.out) / dir / ("seed" + std::to_string(seed))).string();
      runs.push_back(std::move(r));
    }
  }
  return runs;
}

void resolve_configs(const SweepSpec& spec, std::vector<SweepRun>& runs, const std::string& where) {
  for (SweepRun& r : runs) {
    try {
      const RunConfig cfg = load_config(spec.base, r.sets);
      r.config = to_json(cfg);
      r.max_iters = cfg.train.max_iters;
    } catch (const Error& e) {
      throw Error("sweep: " + where + ": point " + r.group + ": " + e.what());
    }
  }
}

// The finished run's config, read through today's schema (keys added since get their defaults, so a
// newer moelab does not take every finished run for a changed one), equals the run's config now.
bool same_config(const nlohmann::json& finished, const nlohmann::json& now) {
  if (finished == now) return true;
  try {
    return to_json(parse_config(finished)) == now;
  } catch (const Error&) {
    return false;  // a key that is gone, or a value no longer allowed: the config did change
  }
}

RunState run_state(const SweepRun& run) {
  std::error_code ec;
  const fs::path marker = fs::path(run.out_dir) / kDoneMarker;
  if (fs::exists(marker, ec)) {
    const nlohmann::json j = parse_json(read_regular_file(marker.string(), "sweep", 1 << 24), marker.string(), 64);
    MOELAB_CHECK(j.is_object() && same_config(j.value("config", nlohmann::json()), run.config), "sweep: ", run.out_dir,
                 " finished with another config than the sweep now gives this run (the sweep file or its base "
                 "config changed); move that folder away, or give the sweep another \"out\"");
    return RunState::done;
  }
  if (fs::exists(fs::path(run.out_dir) / "model.json", ec)) return RunState::interrupted;
  return RunState::fresh;
}

int64_t checkpoint_step(const SweepRun& run) {
  const fs::path side = fs::path(run.out_dir) / "model.json";
  std::error_code ec;
  if (!fs::exists(side, ec)) return -1;
  const nlohmann::json j = parse_json(read_regular_file(side.string(), "sweep", 1 << 28), side.string(), 64);
  MOELAB_CHECK(j.is_object() && j.contains("step") && j["step"].is_number_integer(), "sweep: ", side.string(),
               " has no integer \"step\"");
  return j["step"].get<int64_t>();
}

void mark_done(const SweepRun& run) {
  nlohmann::json j = {{"group", run.group}, {"seed", run.seed}, {"sets", run.sets}, {"config", run.config}};
  write_file_atomic((fs::path(run.out_dir) / kDoneMarker).string(), dump_json(j) + "\n");
}

}  // namespace moelab::train
