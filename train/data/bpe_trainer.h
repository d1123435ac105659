// train/data/bpe_trainer.h: learns a byte-level BPE vocabulary from text (GPT-2 style).
// Each distinct word (pretokenize.h) is counted once, in parallel; then the most frequent adjacent
// pair is merged, again and again, with pair counts updated only for the words that hold the pair
// and the next pair taken from a priority queue. Ties go to the pair of smaller token ids (left,
// then right), so the same text and vocabulary size give the same tokenizer on any thread count.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "train/data/bpe.h"

namespace moelab::train {

struct BpeTrainOptions {
  int vocab_size = 4096;  // including the 256 bytes and the special tokens
  std::vector<std::string> special_tokens = {"<|endoftext|>"};
};

struct BpeTrainStats {
  double bytes = 0;             // text read
  size_t distinct_words = 0;
  double count_seconds = 0;     // splitting and counting words
  double merge_seconds = 0;     // learning the merges
  int merges = 0;               // fewer than asked if the text ran out of pairs
};

// `documents` are split separately (no word crosses two documents).
Bpe train_bpe(const std::vector<std::string_view>& documents, const BpeTrainOptions& opts, BpeTrainStats* stats = nullptr);

}  // namespace moelab::train
