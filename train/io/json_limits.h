// train/json_depth.h: nlohmann::json copies, compares, dumps and (in error messages) prints
// recursively, so untrusted JSON nested 100k levels deep would overflow the stack. Every reader
// of untrusted JSON (configs, --set values, checkpoint sidecars, safetensors headers) checks the
// depth right after parsing with this one function.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace moelab::train {

// True if `j` nests more than `levels` deep (its own recursion is bounded by `levels`).
bool json_deeper_than(const nlohmann::json& j, int levels);
// Throws Error("WHERE: nested deeper than MAX levels").
void check_json_depth(const nlohmann::json& j, int max_levels, const std::string& where);

}  // namespace moelab::train
