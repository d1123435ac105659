// train/data/tokenizer_spec.h: the tokenizer a `--tokenizer T` names. Each kind is one line of
// tokenizer_from_spec: "char" (built from the data), "byte", "gpt2" (tokenizer_files.h), or the
// path of a tokenizer file: a Hugging Face tokenizer.json (`moelab tokenizer train`, a prepared
// folder's), a moelab tokenizer JSON, or js-tiktoken's ranks.
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
