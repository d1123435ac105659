// train/config/run_config.h: the JSON run configuration, parsed into typed structs in one place.
// Every key is documented in docs/config.md. Errors name the key path ("model.n_head: ...").
// Relative paths are resolved against the working directory (like nanoGPT), not the config's folder.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "layers/config.h"
#include "optim/config.h"

namespace moelab::train {

struct DataConfig {
  std::vector<std::string> train = {"/usr/share/games/fortunes"};  // files or folders
  std::vector<std::string> val;     // empty: split off the last val_fraction of each train file
  double val_fraction = 0.1;
  std::string tokenizer = "char";   // char | byte | bpe | gpt2
  std::string tokenizer_path;       // bpe: a tokenizer.json to load; gpt2: js-tiktoken's ranks (optional)
  int vocab_size = 0;               // bpe without tokenizer_path: learn this many tokens from the training text
  std::string format = "auto";      // auto | text | fortunes (auto: fortunes if FILE.dat exists beside FILE)
};

struct LoopConfig {
  int batch_size = 12;
  int max_iters = 2000;
  int eval_interval = 250;
  int eval_iters = 20;
  int log_interval = 10;
  uint64_t seed = 1337;
  int threads = 0;                  // 0: OMP_NUM_THREADS or all cores
  int checkpoint_interval = 0;      // 0: only at the end
  int keep_checkpoints = 3;         // checkpoint folders kept in out_dir/checkpoints; 0: all
  bool routing_metrics = true;      // per-layer routing metrics in metrics.jsonl (docs/metrics.md)
  int max_bad_steps = 5;            // abort after this many consecutive steps with a non-finite loss or gradient
  std::string batch_offsets;        // replay: int32 file of batch_size start offsets per step (cross-framework checks)
  std::string out_dir = "runs/default";
};

using optim::OptimConfig;

// A Lifelong-MoE stage (docs/lifelong.md): continue from an expanded checkpoint, freeze what the
// previous stage learned, and keep the outputs close to the previous model's.
struct LifelongConfig {
  std::string init_from;                // checkpoint to start from (its model config and tokenizer are used)
  bool freeze_old_experts = true;       // experts that existed before `moelab expand`
  bool freeze_old_router_rows = true;   // their router rows (a slice of router.weight)
  bool freeze_non_expert = false;       // attention, embeddings, norms, dense FFNs
  double kl_weight = 0;                 // lambda of T^2 KL(teacher || student) on the new data
  double kl_temperature = 1;
  std::string teacher;                  // previous-stage model; default: the checkpoint expand started from
  std::vector<std::string> old_val;     // the previous stage's held-out data (old_val_loss); default: init_from's val split
};

// Training across processes (docs/distributed.md): `mpirun -np N moelab train ...`.
struct DistConfig {
  int expert_parallel = 1;  // processes that share one copy of the experts (EP); DP = N / EP replicas of each
  bool overlap = true;      // start each block's gradient all-reduce while backward goes on with the blocks below
};

struct RunConfig {
  nn::ModelConfig model;
  DataConfig data;
  LoopConfig train;
  OptimConfig optim;
  LifelongConfig lifelong;
  DistConfig dist;
  nlohmann::json source;            // the JSON as given (after --set), for the checkpoint sidecar
};

// Parses and validates; throws moelab::Error naming the key path and what was expected.
RunConfig parse_config(const nlohmann::json& j);
// Reads a file (error names the path), applies "--set a.b.c=value" overrides (value parsed as
// JSON, else taken as a string), then parses.
RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});
void apply_override(nlohmann::json& j, const std::string& assignment);
nlohmann::json to_json(const RunConfig& c);

}  // namespace moelab::train
