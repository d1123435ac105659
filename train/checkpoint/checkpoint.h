// train/checkpoint.h: a run folder's checkpoints (docs/checkpoints.md). Each is a folder
// OUT/checkpoints/step_N/ holding model.safetensors (nanoGPT/PyTorch names and layouts;
// __metadata__ carries the config in the PyTorch reference's field names), model.json (run
// config, tokenizer, step, RNG positions) and optimizer.safetensors. OUT/latest links to the
// newest; OUT/model.safetensors, model.json and optimizer.safetensors link through it.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "layers/gpt.h"
#include "optim/optimizer.h"
#include "train/config/run_config.h"
#include "train/data/tokenizer.h"

namespace moelab::train {

struct TrainState {
  int64_t step = 0;
  uint64_t sampler_counter = 0;  // position of the training batch RNG
  std::map<std::string, uint64_t> rng_counters;  // the model's own streams: "dropout", "route.h1", ...
};

// Publishes a new checkpoint folder atomically, re-points OUT/latest, then removes the oldest
// beyond cfg.train.keep_checkpoints. On failure (e.g. a full disk) the previous checkpoint stays
// current and intact. `extra` is merged into the model.json sidecar (e.g. moelab expand's record).
void save_checkpoint(const std::string& dir, nn::GPT& model, const optim::Optimizer* opt, const RunConfig& cfg,
                     const Tokenizer& tok, const TrainState& state,
                     const nlohmann::json& extra = nlohmann::json::object());

// The same from tensors gathered by name (a model spread over processes: expert parallelism).
struct CheckpointTensors {
  std::map<std::string, Tensor> model;      // parameters and buffers
  std::map<std::string, Tensor> optimizer;  // optimizer state by "<slot>.<parameter>"
  int64_t optimizer_step = -1;              // < 0: no optimizer state
};
void save_checkpoint(const std::string& dir, const CheckpointTensors& tensors, const nn::ModelConfig& model_cfg,
                     const RunConfig& cfg, const Tokenizer& tok, const TrainState& state,
                     const nlohmann::json& extra = nlohmann::json::object());

// Removes what a killed moelab run left in run folder `out_dir`: temp files and links of the names
// moelab writes there (.moelab-tmp.<pid>.model.json, ... latest, metrics.jsonl), and half-written
// or half-pruned checkpoint folders (only moelab's files in them; a folder holding anything else
// stays). Anything else, even with a similar name, is left alone. Call it with the folder's RunLock
// held, once the run is known to start.
void remove_stale_temps(const std::string& out_dir);

struct LoadedModel {
  RunConfig config;
  nlohmann::json sidecar;  // model.json as written
  Tokenizer tokenizer;
  std::unique_ptr<nn::GPT> model;
  TrainState state;
  std::string dir;
};

// The folder to read a checkpoint from: RUN/latest's target, a checkpoint folder itself, or the
// folder of a given model.safetensors (links followed).
std::string checkpoint_dir(const std::string& path);

// `path` is a run folder, a checkpoint folder or a model.safetensors. Errors name the file and
// what differs. `dir` of the result is the checkpoint folder actually read.
LoadedModel load_checkpoint(const std::string& path);
// `checkpoint_step` >= 0: refuse optimizer state saved at another step than the model's.
void load_optimizer_state(const std::string& dir, optim::Optimizer& opt, int64_t checkpoint_step = -1);
// model.json parsed, its nesting bounded; errors name the file.
nlohmann::json read_sidecar(const std::string& side_path);
// The model's parameters and buffers by name (handles sharing the model's storage).
std::map<std::string, Tensor> model_tensors(nn::GPT& model);
// Copies tensors into the model's parameters, checking names and shapes both ways. `shard`: the
// model holds a share of the experts (expert parallelism): the other experts' tensors are skipped.
void load_parameters(nn::GPT& model, const std::map<std::string, Tensor>& tensors, const std::string& where,
                     bool shard = false);

}  // namespace moelab::train
