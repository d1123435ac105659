// train/data/corpus.h: the corpus. Text: files (or every file in a folder) are read, optionally
// parsed as fortune files (entries separated by lines holding only "%"), split into train/val per
// file, tokenized, and concatenated. Token files (shards made by `moelab prepare`, llm.c shards,
// nanoGPT's train.bin) are memory-mapped instead (train/data/token_files.h). Each token keeps its
// source file as its domain.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "train/config/run_config.h"
#include "train/data/token_stream.h"
#include "train/data/tokenizer.h"

namespace moelab::train {

struct Document {
  std::string path;
  std::string text;
};

struct Corpus {
  Tokenizer tokenizer;
  TokenStream train, val;
  std::vector<std::string> domains;  // one per source file
  bool from_token_files = false;     // mapped shards: the tokenizer came with them
};

// A file to read: named by the user, or found in a folder the user named.
struct DataFile {
  std::string path;
  bool in_folder = false;
};

// Most domains a corpus can have (domains are numbered in 16 bits in every batch).
constexpr size_t kMaxDomains = 65535;

// Expands files/folders (folders: regular files, sorted, skipping *.dat and *.u8 index/links and
// dotfiles). A missing path, a FIFO or a device named directly, an empty folder: errors naming it.
std::vector<DataFile> list_data_files(const std::vector<std::string>& paths);
// Whether `path` is read as a fortune file under data.format `format` (auto: FILE.dat exists).
bool is_fortune_file(const std::string& path, const std::string& format);
// The entries of a fortune file's text (separated by lines holding only "%"), empty ones skipped.
std::vector<std::string_view> fortune_entries(std::string_view text);
// Expands and reads the files; fortunes format drops the "%" separator lines. Errors name the path.
std::vector<Document> read_documents(const std::vector<std::string>& paths, const std::string& format);
// Builds the tokenizer (char: from all text, unless `tokenizer` is given) and the streams; token
// files are mapped instead (their tokenizer must equal `tokenizer` when one is given).
Corpus build_corpus(const DataConfig& cfg, const Tokenizer* tokenizer = nullptr);

}  // namespace moelab::train
