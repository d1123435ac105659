// train/trainer.h: the training loop and the other CLI jobs (eval, generate, bench).
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "train/config.h"

namespace moelab::train {

struct TrainOptions {
  bool resume = false;
};
// Trains per the config; writes metrics.jsonl and checkpoints into cfg.train.out_dir. Returns the
// last val loss.
double run_training(const RunConfig& cfg, const TrainOptions& opts, std::ostream& log);

struct EvalOptions {
  std::vector<std::string> data;  // text files/folders, one loss each
  std::vector<std::string> val_of;  // run folders: the val split of each one's data config, one loss each
  // neither: the checkpoint config's own val split
  int batch = 12;
  int batches = 10;
  std::string dump_tokens;        // write the evaluated tokens here (uint16 LE) for the PyTorch reference
  std::string grads_out;          // write d(mean total loss)/d(parameter) on the first dataset (safetensors)
};
// Prints the mean cross-entropy per dataset; returns them.
std::vector<double> run_eval(const std::string& ckpt, const EvalOptions& opts, std::ostream& out);

struct GenerateOptions {
  std::string prompt = "\n";
  int tokens = 200;
  float temperature = 0.8f;
  int top_k = 0;  // 0: no top-k filter
  uint64_t seed = 0;
};
std::string run_generate(const std::string& ckpt, const GenerateOptions& opts);

struct BenchOptions {
  int steps = 20;
  int warmup = 5;
  int vocab = 65;
};
// Times full training steps (forward, backward, clip, AdamW) on random tokens.
void run_bench(const RunConfig& cfg, const BenchOptions& opts, std::ostream& out);

// FLOPs per token of a training step: 6 x active matmul parameters (no position embeddings; an MoE layer
// counts the experts a token visits, its shared experts and the router) + 12 x layers x block x d.
double flops_per_token(const RunConfig& cfg, int vocab);

}  // namespace moelab::train
