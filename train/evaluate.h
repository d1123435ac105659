// train/evaluate.h: `moelab eval`: a checkpoint's mean cross-entropy (and aux losses) on datasets,
// in the PyTorch reference's batch layout, optionally with the gradients, to compare frameworks.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "train/config/run_config.h"
#include "train/data/token_stream.h"
#include "train/data/tokenizer.h"

namespace moelab::train {

struct EvalOptions {
  std::vector<std::string> data;    // text files/folders, one loss each
  std::vector<std::string> val_of;  // run folders: the val split of each one's data config, one loss each
  // neither: the checkpoint config's own val split
  int batch = 12;
  int batches = 10;
  std::string dump_tokens;          // write the evaluated tokens here (uint16 LE) for the PyTorch reference
  std::string grads_out;            // write d(mean total loss)/d(parameter) on the first dataset (safetensors)
};

// The held-out split of another run's data, tokenized with `tokenizer`: the val split its
// checkpoint's saved config defines (RUN: a run folder or checkpoint). An expanded checkpoint keeps
// the config of the one it was expanded from, so this is the source run's data. Errors name the
// model.json or the data file. `moelab eval --val-of` and a lifelong stage's old_val_loss.
TokenStream val_split_of(const std::string& run, const Tokenizer& tokenizer);
// Text files or folders read whole (no split) with `data`'s format and `tokenizer`: `moelab eval
// --data` and lifelong.old_val.
TokenStream whole_files(const std::vector<std::string>& paths, DataConfig data, const Tokenizer& tokenizer);

// Prints the mean cross-entropy per dataset; returns them.
std::vector<double> run_eval(const std::string& ckpt, const EvalOptions& opts, std::ostream& out);

}  // namespace moelab::train
