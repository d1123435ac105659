// train/data.h: the corpus. Files (or every file in a folder) are read, optionally parsed as
// fortune files (entries separated by lines holding only "%"), split into train/val per file,
// tokenized, and concatenated. Each token keeps its source file as its domain.
#pragma once
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "train/config.h"
#include "train/tokenizer.h"

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

struct Batch {
  IndexTensor ids, targets;         // [B, T]
  std::vector<uint16_t> domains;    // [B * T]: source domain of each input token (empty if unknown)
};
// B random windows of T + 1 tokens (seeded, uniform over start positions).
Batch sample_batch(const TokenStream& s, int64_t B, int64_t T, Rng& rng);
// Row b = the window starting at starts[b] (replaying another framework's batch sequence).
Batch batch_at(const TokenStream& s, const int32_t* starts, int64_t B, int64_t T);
// Batch i, row b = the window starting at (i*B + b)*T (the PyTorch reference's eval layout).
Batch sequential_batch(const TokenStream& s, int64_t B, int64_t T, int64_t i);

}  // namespace moelab::train
