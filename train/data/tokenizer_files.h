// train/data/tokenizer_files.h: tokenizers from files. A Hugging Face tokenizer.json (byte-level
// BPE), moelab's own tokenizer JSON (the checkpoint sidecar's "tokenizer" object), or js-tiktoken's
// GPT-2 ranks module (npm: js-tiktoken/dist/ranks/gpt2.js), told apart by their content.
#pragma once
#include <string>

#include "train/data/tokenizer.h"

namespace moelab::train {

Tokenizer read_tokenizer_file(const std::string& path);
// Writes the tokenizer atomically: BPE as a Hugging Face tokenizer.json, char/byte as moelab JSON.
void write_tokenizer_file(const std::string& path, const Tokenizer& tok);

// GPT-2's tokenizer (vocab 50257) from js-tiktoken's ranks: `ranks_path` if given, else
// $MOELAB_GPT2_RANKS, else node_modules/js-tiktoken/dist/ranks/gpt2.js in the working folder or
// npm's global folders. The error says how to get it when none is found.
Tokenizer gpt2_tokenizer(const std::string& ranks_path = "");

}  // namespace moelab::train
