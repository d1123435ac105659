// train/io/json_limits.h: reading untrusted JSON (configs, --set values, checkpoint sidecars,
// safetensors headers, metrics.jsonl). nlohmann::json copies, compares, dumps and prints
// recursively, so JSON nested 100k levels deep would overflow the stack: depth is bounded. A key
// given twice in one object would silently keep the last value: that is an error here.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace moelab::train {

// Parses `text`; throws moelab::Error "WHERE: invalid JSON: ...", "WHERE: nested deeper than N
// levels" or "WHERE: duplicate key "k" in one object (its first value would be silently ignored)".
nlohmann::json parse_json(const std::string& text, const std::string& where, int max_levels);

// True if `j` nests more than `levels` deep (its own recursion is bounded by `levels`).
bool json_deeper_than(const nlohmann::json& j, int levels);
// Throws Error("WHERE: nested deeper than MAX levels").
void check_json_depth(const nlohmann::json& j, int max_levels, const std::string& where);

// Dumps JSON that may hold strings from the file system (names that are not valid UTF-8 become
// U+FFFD instead of an exception).
std::string dump_json(const nlohmann::json& j, int indent = -1);

}  // namespace moelab::train
