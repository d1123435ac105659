#include "run_losses.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace moelab::testing {

std::map<int, double> logged_losses(const std::filesystem::path& run) {
  std::map<int, double> out;
  std::ifstream in(run / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out[j["step"].get<int>()] = j["loss"].get<double>();
  }
  return out;
}

}  // namespace moelab::testing
