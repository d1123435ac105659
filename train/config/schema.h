// train/config/schema.h: the run config's keys, each declared once in schema.cpp (path, type,
// allowed values, one-line doc, bound to its struct member, whose initial value is the default).
// Parsing, validation, to_json (run_config.cpp) and the reference in docs/config.md
// (reference.cpp, `moelab config reference`) are all derived from these tables.
#pragma once
#include <string>
#include <vector>

#include "train/config/key.h"

namespace moelab::train::schema {

const std::vector<Section>& sections();  // in reference order; the root ("") is not listed
const std::vector<Key>& keys();          // in reference order
const std::vector<Rule>& rules();        // relations between keys, checked after every key was read

// The section a key or section path belongs to ("model.moe.top_k" -> "model.moe"; "model" -> "").
std::string parent_of(const std::string& path);

// The config reference (Markdown): one table per section, then the rules.
std::string reference_markdown();

}  // namespace moelab::train::schema
