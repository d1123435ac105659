// train/data/prepare.h: `moelab prepare`: text files -> token shards in llm.c's format, read by
// training through memory maps (train/data/token_files.h). Files are read a group at a time and
// tokenised in parallel (OpenMP over pieces of documents); the output is the same for any thread
// count. docs/data.md describes the folder.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace moelab::train {

struct PrepareOptions {
  std::vector<std::string> inputs;       // text files or folders (as data.train)
  std::string tokenizer = "char";        // char | byte | gpt2 | a tokenizer file (tokenizer_spec.h)
  std::string out_dir;
  std::string format = "auto";           // auto | text | fortunes (as data.format)
  std::string name;                      // the shards' name prefix; default: the first input's file name
  double val_fraction = 0.1;             // the last fraction of each file's tokens goes to the val shard
  int64_t shard_tokens = 100'000'000;    // tokens per train shard (llm.c's default)
};

struct PrepareResult {
  int64_t input_bytes = 0, train_tokens = 0, val_tokens = 0;
  int shards = 0;
  double seconds = 0;
};

// Writes OUT/<name>_val_000000.bin, OUT/<name>_train_000001.bin..., OUT/tokenizer.json and
// OUT/meta.json (last: a folder without it is not a finished prepare). OUT must be new, empty, or an
// earlier prepare's output (whose shards are then replaced). Progress goes to `log`.
PrepareResult prepare_shards(const PrepareOptions& opts, std::ostream& log, bool tty);

}  // namespace moelab::train
