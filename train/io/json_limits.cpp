#include "train/io/json_limits.h"

#include "core/error.h"

namespace moelab::train {
bool json_deeper_than(const nlohmann::json& j, int levels) {
  if (!j.is_structured()) return false;
  if (levels == 0) return true;
  for (const nlohmann::json& e : j)
    if (json_deeper_than(e, levels - 1)) return true;
  return false;
}

void check_json_depth(const nlohmann::json& j, int max_levels, const std::string& where) {
  MOELAB_CHECK(!json_deeper_than(j, max_levels), where, ": nested deeper than ", max_levels, " levels");
}

}  // namespace moelab::train
