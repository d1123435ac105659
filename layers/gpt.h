// layers/gpt.h: the pre-LN GPT: wte + wpe, blocks (ln_1, attn, ln_2, ffn), ln_f, lm_head tied to wte.
#pragma once
#include <vector>

#include "layers/attention.h"
#include "layers/kv_cache.h"
#include "layers/mlp.h"
#include "layers/moe/moe.h"

namespace moelab::nn {

// The FFN slot holds a FeedForward of the configured kind: the dense MLP (`mlp`, or model.ffn.type)
// or, on MoE layers, an MoE layer (`moe`). `mlp` / `moe` are typed views of it when it is one.
class Block : public Module {
 public:
  Block(const ModelConfig& cfg, int layer, uint64_t seed, Rng& rng, const ExpertParallel* ep = nullptr);
  // `part`: where these rows sit in a distributed run's batch (null: one process)
  Var forward(const Var& x, const IndexTensor& ids, Rng& dropout_rng, std::vector<AuxLoss>* aux,
              const BatchPartition* part = nullptr) const;
  // Inference: x [B, T, d] are the new positions after those `cache` holds (layers/kv_cache.h).
  Var forward_cached(const Var& x, const IndexTensor& ids, KVCache& cache, int64_t layer) const;
  std::shared_ptr<Norm> ln_1, ln_2;
  std::shared_ptr<CausalSelfAttention> attn;
  std::shared_ptr<FeedForward> ffn;
  std::shared_ptr<MLP> mlp;  // null unless the FFN is the built-in dense MLP
  std::shared_ptr<MoE> moe;  // null on dense layers

 private:
  float dropout_;
};

class Transformer : public Module {
 public:
  Transformer(const ModelConfig& cfg, uint64_t seed, Rng& rng, const ExpertParallel* ep = nullptr);
  std::shared_ptr<Embedding> wte, wpe;
  std::shared_ptr<ModuleList<Block>> h;
  std::shared_ptr<Norm> ln_f;
};

struct LayerAuxLoss {
  int layer;
  std::string name;  // switch | z | importance | load | ...
  Var value;         // weighted by its coefficient
};

struct ModelOutput {
  Var logits;  // [B, T, V]
  Var loss;    // cross-entropy (mean), when targets were given
  std::vector<LayerAuxLoss> aux;
  Var total;   // loss + sum of aux values (what training minimises); = loss for a dense model
};

class GPT : public Module {
 public:
  // ep: the expert-parallel group this process belongs to (null: it holds every expert).
  GPT(const ModelConfig& cfg, uint64_t seed, const ExpertParallel* ep = nullptr);
  // ids [B, T] with T <= block_size; targets [B, T] optional (an undefined IndexTensor = none).
  ModelOutput forward(const IndexTensor& ids, const IndexTensor& targets = IndexTensor());
  // Inference with a KV cache (layers/kv_cache.h): ids [B, T] are positions cache.length() ..
  // cache.length()+T-1 of sequences whose earlier positions the cache holds (an empty cache: a
  // prompt). Returns their logits [B, T, V], what forward gives at those rows up to float rounding,
  // and appends their keys and values to the cache. Under NoGrad and in eval mode, for a model whose
  // cached_forward_blocker() is empty.
  Tensor forward_cached(const IndexTensor& ids, KVCache& cache);
  // "" when forward_cached is forward's function for this model, else why not (the first layer's reason).
  std::string cached_forward_blocker() const;
  const ModelConfig& config() const { return cfg_; }
  std::vector<int> moe_layers() const;
  MoE& moe(int layer) const;
  std::shared_ptr<Transformer> transformer;
  Rng& dropout_rng() { return dropout_rng_; }
  // A distributed run's forward passes see only this process's rows of each batch: this says where
  // they sit, so batch statistics and random draws equal those of one process (docs/distributed.md).
  void set_partition(const BatchPartition& p) { partition_ = p; }
  const BatchPartition& partition() const { return partition_; }
  // Where each block's nodes start on the tape, from the last forward pass that recorded: block l's
  // parameters are used only by its nodes, so their gradients are complete once backward has run
  // node block_tape_starts()[l] (distributed training starts their all-reduce then).
  const std::vector<size_t>& block_tape_starts() const { return block_tape_starts_; }

 private:
  // wte(ids) + wpe(first_position ..) for ids [B, T]; the tied lm_head after ln_f.
  Var embed(const IndexTensor& ids, int64_t first_position) const;
  Var lm_head(const Var& x) const;

  ModelConfig cfg_;
  Rng dropout_rng_;
  BatchPartition partition_;
  std::vector<size_t> block_tape_starts_;
};

}  // namespace moelab::nn
