// layers/ffn.h: the feed-forward slot of a transformer block. Built-in kinds: "mlp" (the dense FFN)
// and "moe" (layers/moe/moe.h). A new kind is a FeedForward subclass plus one register_ffn() call;
// blocks pick it by name (model.ffn.type for dense layers; MoE layers use "moe").
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "core/kernels/elementwise.h"
#include "core/rng.h"
#include "layers/config.h"
#include "layers/module.h"

namespace moelab::nn {

struct AuxLoss {
  std::string name;  // "switch", "z", "importance", "load", or a registered loss
  Var value;         // already multiplied by its coefficient (a scalar)
};

// Where this process's rows sit in the global batch of a distributed run (docs/distributed.md), so
// that layers compute what one process computes on the whole batch: batch statistics are summed
// over `comm`, and random draws are taken at the global rows' positions of their streams.
struct BatchPartition {
  comm::Communicator* comm = nullptr;  // the processes that share the batch; null: this process has all of it
  int64_t row_offset = 0;              // global index of this process's first row
  int64_t global_rows = 0;             // rows of the whole batch; 0: the local rows are the whole batch
};

// Expert parallelism (docs/distributed.md): each MoE layer's experts are split evenly over the
// processes of `group`; this one holds share `rank`, and tokens travel to their experts' owners and
// back with an all-to-all.
struct ExpertParallel {
  comm::Communicator* group = nullptr;
  int rank = 0, size = 1;
};

struct FfnContext {
  const IndexTensor* ids = nullptr;     // the model's input token ids, x's leading shape (hash routing)
  std::vector<AuxLoss>* aux = nullptr;  // where to append weighted aux losses
  const BatchPartition* partition = nullptr;  // null: one process
};

class FeedForward : public Module {
 public:
  virtual Var forward(const Var& x, const FfnContext& ctx) = 0;
  // In eval mode: "" when each row's output depends on that row (and its token id) alone, else why
  // not. One-token steps with a KV cache (layers/kv_cache.h) need the former; a kind that does not
  // say is taken to mix its rows.
  virtual std::string cross_row_dependency() const { return "its FFN kind does not declare its rows independent"; }
};

struct FfnArgs {
  const ModelConfig& model;
  int layer;       // block index
  uint64_t seed;   // the model seed (for the layer's own RNG streams)
  Rng& init_rng;   // parameter initialisation, in construction order
  const ExpertParallel* expert_parallel = nullptr;  // null: this process holds every expert
};
using FfnFactory = std::function<std::shared_ptr<FeedForward>(const FfnArgs&)>;

// module_name is the block's child name, i.e. the checkpoint prefix (transformer.h.0.<module_name>.*).
void register_ffn(const std::string& kind, FfnFactory factory, const std::string& module_name = "mlp");
std::shared_ptr<FeedForward> make_ffn(const std::string& kind, const FfnArgs& args);
std::string ffn_module_name(const std::string& kind);
std::vector<std::string> ffn_kinds();
bool has_ffn(const std::string& kind);

// Activations by name: which kernel and whether the FFN is gated (GLU: c_fc is 2x wide).
struct ActivationKind {
  kernels::Activation act;
  bool glu;
};
void register_activation(const std::string& name, ActivationKind kind);
ActivationKind activation_kind(const std::string& name);  // throws naming the known ones
std::vector<std::string> activation_names();

}  // namespace moelab::nn
