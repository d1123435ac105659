// compare_runs RUN_A RUN_B [LOSS_RTOL] [WEIGHT_TOL]: two runs of one config (e.g. one process and
// mpirun -np N) must log the same steps with training and eval losses within LOSS_RTOL (relative,
// default 1e-5) and end with the same tensors within WEIGHT_TOL (absolute, relative to each tensor's
// largest value when that is above 1; default 1e-5). Prints the worst differences; exit 1 if above.
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: compare_runs RUN_A RUN_B [LOSS_RTOL] [WEIGHT_TOL]\n");
    return 2;
  }
  const std::string a = argv[1], b = argv[2];
  const double loss_rtol = argc > 3 ? std::atof(argv[3]) : 1e-5, weight_tol = argc > 4 ? std::atof(argv[4]) : 1e-5;
  bool ok = true;
  try {
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
