// train/evaluate.h: `moelab eval`: a checkpoint's mean cross-entropy (and aux losses) on datasets,
// in the PyTorch reference's batch layout, optionally with the gradients, to compare frameworks.
#pragma once
#include <ostream>
#include <string>
#include <vector>

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

// Prints the mean cross-entropy per dataset; returns them.
std::vector<double> run_eval(const std::string& ckpt, const EvalOptions& opts, std::ostream& out);

}  // namespace moelab::train
