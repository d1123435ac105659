// train/checkpoint.h: a run folder's checkpoint: model.safetensors (nanoGPT/PyTorch names and
// layouts; __metadata__ carries the config in the PyTorch reference's field names),
// model.json (run config, tokenizer, step, sampler position) and optimizer.safetensors.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "layers/gpt.h"
#include "optim/optimizer.h"
#include "train/config.h"
#include "train/tokenizer.h"

namespace moelab::train {

struct TrainState {
  int64_t step = 0;
  uint64_t sampler_counter = 0;  // position of the training batch RNG
  std::map<std::string, uint64_t> rng_counters;  // the model's own streams: "dropout", "route.h1", ...
};

// `extra` is merged into the model.json sidecar (e.g. the "expanded" record of moelab expand).
void save_checkpoint(const std::string& dir, nn::GPT& model, const optim::Optimizer* opt, const RunConfig& cfg,
                     const Tokenizer& tok, const TrainState& state,
                     const nlohmann::json& extra = nlohmann::json::object());

struct LoadedModel {
  RunConfig config;
  nlohmann::json sidecar;  // model.json as written
  Tokenizer tokenizer;
  std::unique_ptr<nn::GPT> model;
  TrainState state;
  std::string dir;
};

// `path` is a run folder or its model.safetensors. Errors name the file and what differs.
LoadedModel load_checkpoint(const std::string& path);
void load_optimizer_state(const std::string& dir, optim::Optimizer& opt);
// Copies tensors into the model's parameters, checking names and shapes both ways.
void load_parameters(nn::GPT& model, const std::map<std::string, Tensor>& tensors, const std::string& where);

}  // namespace moelab::train
