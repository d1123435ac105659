// train/data/corpus.h: the corpus. Files (or every file in a folder) are read, optionally parsed as
// fortune files (entries separated by lines holding only "%"), split into train/val per file,
// tokenized, and concatenated. Each token keeps its source file as its domain.
#pragma once
#include <string>
#include <vector>

#include "train/config/run_config.h"
#include "train/data/tokenizer.h"

namespace moelab::train {

struct Document {
  std::string path;
  std::string text;
};

struct TokenStream {
  std::vector<int32_t> tokens;
  std::vector<uint16_t> domain;  // index into Corpus::domains, per token
};

struct Corpus {
  Tokenizer tokenizer;
  TokenStream train, val;
  std::vector<std::string> domains;  // one per source file
};

// Expands files/folders (folders: regular files, sorted, skipping *.dat and *.u8 index/links),
// reads them; fortunes format drops the "%" separator lines. Errors name the path.
std::vector<Document> read_documents(const std::vector<std::string>& paths, const std::string& format);
// Builds the tokenizer (char: from all text, unless `tokenizer` is given) and the streams.
Corpus build_corpus(const DataConfig& cfg, const Tokenizer* tokenizer = nullptr);

}  // namespace moelab::train
