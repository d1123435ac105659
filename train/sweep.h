// train/sweep.h: a sweep: one base config, points (a grid of `--set` overrides, or a list of them)
// and seeds; every (point, seed) is a run in its own folder. This file says what the runs are and
// which are done; train/cli/sweep.cpp runs them, train/report/aggregate.h summarises them.
//
// SWEEP.json:
//   {"base": "configs/default.json",          relative paths are relative to SWEEP.json's folder
//    "set": ["train.max_iters=300"],          applied to every run (optional)
//    "grid": {"model.moe.top_k": [1, 2], "model.moe.loss.switch": [0, 0.01]},   cartesian product
//    "points": [["model.moe.router.type=soft"], [...]],   or/and an explicit list (optional)
//    "seeds": [1, 2, 3],                      train.seed of each run (default [1337])
//    "out": "runs/sweep",                     the sweep folder (default: beside SWEEP.json, its name)
//    "parallel": 2, "threads_per_run": 1}     runs at once, OpenMP threads each (defaults 2 and 1)
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace moelab::train {

struct SweepSpec {
  std::string base;                             // config file
  std::vector<std::string> sets;                // for every run
  std::vector<std::vector<std::string>> points; // the grid's product, then the listed points
  std::vector<uint64_t> seeds = {1337};
  std::string out;
  int parallel = 2, threads_per_run = 1;
};

struct SweepRun {
  std::string group;               // the point's overrides, "k=v, k=v" ("base" for none): runs that differ by seed only
  std::string group_dir;           // its folder name, from the overrides
  std::vector<std::string> sets;   // spec.sets + the point's + train.seed=S
  uint64_t seed = 0;
  std::string out_dir;             // spec.out/group_dir/seed<S>
  nlohmann::json config;           // the run's whole config (base + sets), as to_json writes it
  int64_t max_iters = 0;           // train.max_iters: a run stopped before it is not done
};

enum class RunState { fresh, interrupted, done };

// Reads SWEEP.json; errors name the file and the key.
SweepSpec read_sweep(const std::string& path);
SweepSpec parse_sweep(const nlohmann::json& j, const std::string& where, const std::string& folder);
// Every (point, seed), points in order, seeds inner.
std::vector<SweepRun> expand_sweep(const SweepSpec& spec);
// Parses every run's config (base + sets) into run.config / max_iters, so a typo in any point fails
// before the first run starts; errors name the point.
void resolve_configs(const SweepSpec& spec, std::vector<SweepRun>& runs, const std::string& where);
// done: the sweep's marker is there and names this config (a marker for another config, e.g. after
// the sweep file changed, is an error naming the folder); interrupted: a checkpoint but no marker
// (continue with --resume); fresh: neither.
RunState run_state(const SweepRun& run);
// The step of the run folder's checkpoint (-1 without one).
int64_t checkpoint_step(const SweepRun& run);
// Written when the run's process exits 0 at its checkpoint step max_iters.
void mark_done(const SweepRun& run);

}  // namespace moelab::train
