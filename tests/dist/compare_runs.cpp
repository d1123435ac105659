// compare_runs RUN_A RUN_B [LOSS_RTOL] [WEIGHT_TOL] [--processes N EP]: two runs of one config (e.g.
// one process and mpirun -np N) must log the same steps with training and eval losses within
// LOSS_RTOL (relative, default 1e-5) and end with the same tensors within WEIGHT_TOL (absolute,
// relative to each tensor's largest value when that is above 1; default 1e-5). Prints the worst
// differences; exit 1 if above. With --processes, RUN_B's training rows must also carry what a run
// on N processes with expert_parallel EP logs (docs/metrics.md): `dist` with those counts, an
// all-to-all volume only under expert parallelism, and per MoE layer `recv_per_rank` with N entries
// that add up to the rows the experts kept and (expert parallel) the layer's own all-to-all volume,
// the layers' together no more than the row's; with dist.overlap (the start row's config), every
// row after the first reports gradient all-reduce started during backward (`overlap_mb` > 0), without, none.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "train/io/safetensors.h"

namespace {

// step -> value of `key`, for the rows that have it
std::map<int64_t, double> series(const std::string& run, const std::string& key) {
  std::ifstream in(run + "/metrics.jsonl");
  if (!in) throw moelab::Error("cannot read " + run + "/metrics.jsonl");
  std::map<int64_t, double> out;
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains(key) && j.contains("step") && j[key].is_number()) out[j["step"].get<int64_t>()] = j[key].get<double>();
  }
  return out;
}

// RUN's training rows log what a distributed run logs (see the header); false with the reason printed
bool check_dist_rows(const std::string& run, int64_t processes, int64_t expert_parallel) {
  std::ifstream in(run + "/metrics.jsonl");
  std::string line;
  int64_t rows = 0, layers = 0;
  double alltoall_mb = 0;
  bool overlap = true;  // dist.overlap, from the start row's config
  int64_t attempt_rows = 0;  // training rows since the last start row
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("config")) {  // a start row: a resumed run's first step checks again
      overlap = j["config"]["dist"].value("overlap", true);
      attempt_rows = 0;
    }
    if (!j.contains("loss")) continue;  // training rows only
    ++rows;
    ++attempt_rows;
    const std::string at = "step " + std::to_string(j.value("step", -1));
    // with overlap every step after the first (which checks the buckets) starts gradient sums during backward
    const double overlap_mb = j.contains("dist") ? j["dist"].value("overlap_mb", -1.0) : -1.0;
    if (attempt_rows > 1 && (overlap ? !(overlap_mb > 0) : overlap_mb != 0)) {
      std::printf("dist rows: %s: overlap_mb %g with dist.overlap %s\n", at.c_str(), overlap_mb,
                  overlap ? "true" : "false");
      return false;
    }
    if (!j.contains("dist") || j["dist"].value("processes", -1) != processes ||
        j["dist"].value("expert_parallel", -1) != expert_parallel) {
      std::printf("dist rows: %s has no dist.processes=%lld, dist.expert_parallel=%lld\n", at.c_str(),
                  static_cast<long long>(processes), static_cast<long long>(expert_parallel));
      return false;
    }
    const double row_mb = j["dist"].value("alltoall_mb", 0.0);
    alltoall_mb += row_mb;
    if (!j.contains("moe")) continue;
    double layers_mb = 0;
    for (const auto& [layer, m] : j["moe"].items()) {
      ++layers;
      const double layer_mb = m.value("alltoall_mb", 0.0);
      layers_mb += layer_mb;
      if ((layer_mb > 0) != (expert_parallel > 1) || m.contains("alltoall_s") != (expert_parallel > 1)) {
        std::printf("dist rows: %s layer %s: all-to-all %g MB with expert_parallel %lld\n", at.c_str(), layer.c_str(),
                    layer_mb, static_cast<long long>(expert_parallel));
        return false;
      }
      double kept = 0, received = 0;
      for (const auto& k : m.at("kept")) kept += k.get<double>();
      if (!m.contains("recv_per_rank") || static_cast<int64_t>(m["recv_per_rank"].size()) != processes) {
        std::printf("dist rows: %s layer %s has no recv_per_rank with %lld entries\n", at.c_str(), layer.c_str(),
                    static_cast<long long>(processes));
        return false;
      }
      for (const auto& r : m["recv_per_rank"]) received += r.get<double>();
      if (received != kept) {
        std::printf("dist rows: %s layer %s: recv_per_rank adds up to %g, kept to %g\n", at.c_str(), layer.c_str(),
                    received, kept);
        return false;
      }
    }
    if (layers_mb > row_mb * (1 + 1e-9)) {
      std::printf("dist rows: %s: the layers' all-to-all (%g MB) exceeds the row's (%g MB)\n", at.c_str(), layers_mb,
                  row_mb);
      return false;
    }
  }
  if (rows == 0 || (alltoall_mb > 0) != (expert_parallel > 1)) {
    std::printf("dist rows: %lld training rows, all-to-all %.3f MB with expert_parallel %lld\n",
                static_cast<long long>(rows), alltoall_mb, static_cast<long long>(expert_parallel));
    return false;
  }
  std::printf("dist rows: %lld training rows, %lld layer windows consistent; all-to-all %.3f MB\n",
              static_cast<long long>(rows), static_cast<long long>(layers), alltoall_mb);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t processes = 0, expert_parallel = 0;
  if (argc >= 6 && std::string(argv[argc - 3]) == "--processes") {
    processes = std::atoll(argv[argc - 2]), expert_parallel = std::atoll(argv[argc - 1]);
    argc -= 3;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: compare_runs RUN_A RUN_B [LOSS_RTOL] [WEIGHT_TOL] [--processes N EP]\n");
    return 2;
  }
  const std::string a = argv[1], b = argv[2];
  const double loss_rtol = argc > 3 ? std::atof(argv[3]) : 1e-5, weight_tol = argc > 4 ? std::atof(argv[4]) : 1e-5;
  bool ok = true;
  try {
    if (processes > 0 && !check_dist_rows(b, processes, expert_parallel)) ok = false;
    for (const char* key : {"loss", "val_loss", "grad_norm"}) {
      const auto sa = series(a, key), sb = series(b, key);
      if (sa.size() != sb.size() || sa.empty()) {
        std::printf("%s: %zu rows vs %zu\n", key, sa.size(), sb.size());
        ok = false;
        continue;
      }
      double worst = 0;
      int64_t at = -1;
      for (const auto& [step, va] : sa) {
        if (!sb.count(step)) {
          std::printf("%s: step %lld missing in %s\n", key, static_cast<long long>(step), b.c_str());
          ok = false;
          continue;
        }
        const double rel = std::abs(va - sb.at(step)) / std::max(std::abs(sb.at(step)), 1e-30);
        if (rel > worst) worst = rel, at = step;
      }
      std::printf("%s: %zu rows, worst relative difference %.2e (step %lld)\n", key, sa.size(), worst,
                  static_cast<long long>(at));
      const double tol = std::string(key) == "grad_norm" ? 1e3 * loss_rtol : loss_rtol;  // a norm of small differences
      if (worst > tol) ok = false;
    }
    const auto wa = moelab::train::read_safetensors(a + "/model.safetensors").tensors;
    const auto wb = moelab::train::read_safetensors(b + "/model.safetensors").tensors;
    double worst = 0;
    std::string where;
    for (const auto& [name, t] : wb) {
      if (!wa.count(name) || wa.at(name).shape() != t.shape()) {
        std::printf("weights: %s missing or of another shape in %s\n", name.c_str(), a.c_str());
        ok = false;
        continue;
      }
      double scale = 1, diff = 0;
      for (int64_t i = 0; i < t.numel(); ++i) scale = std::max(scale, static_cast<double>(std::abs(t[i])));
      for (int64_t i = 0; i < t.numel(); ++i) diff = std::max(diff, static_cast<double>(std::abs(wa.at(name)[i] - t[i])));
      if (diff / scale > worst) worst = diff / scale, where = name;
    }
    std::printf("weights: %zu tensors, worst difference %.2e (%s)\n", wb.size(), worst, where.c_str());
    if (wa.size() != wb.size() || worst > weight_tol) ok = false;
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
  return ok ? 0 : 1;
}
