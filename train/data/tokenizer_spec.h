// train/data/tokenizer_spec.h: the tokenizer a `--tokenizer T` names. Each kind is one line of
// tokenizer_from_spec: "char" (built from the data), "byte", or the path of a JSON file holding a
// moelab tokenizer (Tokenizer::to_json, e.g. the tokenizer.json of a prepared folder).
#pragma once
#include <string>
#include <vector>

#include "train/data/corpus.h"
#include "train/data/tokenizer.h"

namespace moelab::train {

// `files` are read one at a time for "char" (under data.format `format`); errors name `what`.
Tokenizer tokenizer_from_spec(const std::string& spec, const std::vector<DataFile>& files, const std::string& format,
                              const std::string& what);

}  // namespace moelab::train
