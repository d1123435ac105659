#include "train/io/json_limits.h"

#include <set>
#include <vector>

#include "core/error.h"

namespace moelab::train {

nlohmann::json parse_json(const std::string& text, const std::string& where, int max_levels) {
  using json = nlohmann::json;
  std::vector<std::set<std::string>> open;  // keys seen in each open object (arrays hold an empty set)
  auto check = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        MOELAB_CHECK(depth < max_levels, where, ": nested deeper than ", max_levels, " levels");
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second)
          throw Error(where + ": duplicate key \"" + parsed.get<std::string>() +
                      "\" in one object (its first value would be silently ignored)");
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text, check);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e400
    throw Error(where + ": invalid JSON: " + e.what());
  }
}

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

std::string dump_json(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace moelab::train
