// train/data/token_files.h: data.train / data.val given as token files rather than text: shards of
// `moelab prepare` (a folder with meta.json, one shard, or a glob), llm.c shards, or nanoGPT's raw
// uint16 train.bin (data.format "nanogpt"). Files are memory-mapped and validated at open (header,
// size); token ids are checked against the vocabulary as windows are read. docs/data.md.
#pragma once
#include "train/config/run_config.h"
#include "train/data/corpus.h"
#include "train/data/tokenizer.h"

namespace moelab::train {

// data.format "shards" or "nanogpt", or "auto" with data.train[0] a folder holding meta.json (or
// whose first *.bin starts with a shard magic), a glob pattern, or a *.bin starting with a magic.
bool is_token_data(const DataConfig& cfg);

// Maps the files. A folder contributes its train shards to data.train and, when data.val is not
// given, its val shards to the val split. The tokenizer is the tokenizer.json beside the files
// (else data.tokenizer "byte"); when `expected` is given (a resumed run) it must be the same.
Corpus open_token_corpus(const DataConfig& cfg, const Tokenizer* expected);

}  // namespace moelab::train
