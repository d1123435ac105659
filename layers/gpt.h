// layers/gpt.h: the pre-LN GPT: wte + wpe, blocks (ln_1, attn, ln_2, ffn), ln_f, lm_head tied to wte.
#pragma once
#include <vector>

#include "layers/attention.h"
#include "layers/mlp.h"

namespace moelab::nn {

class Block : public Module {
 public:
  Block(const ModelConfig& cfg, Rng& rng);
  Var forward(const Var& x, Rng& dropout_rng) const;
  std::shared_ptr<Norm> ln_1, ln_2;
  std::shared_ptr<CausalSelfAttention> attn;
  std::shared_ptr<MLP> mlp;

 private:
  float dropout_;
};

// A list of modules named "0", "1", ... like torch.nn.ModuleList.
template <class M>
class ModuleList : public Module {
 public:
  void push_back(std::shared_ptr<M> m) { items_.push_back(register_module(std::to_string(items_.size()), m)); }
  size_t size() const { return items_.size(); }
  M& operator[](size_t i) const { return *items_[i]; }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

class Transformer : public Module {
 public:
  Transformer(const ModelConfig& cfg, Rng& rng);
  std::shared_ptr<Embedding> wte, wpe;
  std::shared_ptr<ModuleList<Block>> h;
  std::shared_ptr<Norm> ln_f;
};

struct ModelOutput {
  Var logits;  // [B, T, V]
  Var loss;    // cross-entropy (mean), when targets were given
};

class GPT : public Module {
 public:
  GPT(const ModelConfig& cfg, uint64_t seed);
  // ids [B, T] with T <= block_size; targets [B, T] optional (an undefined IndexTensor = none).
  ModelOutput forward(const IndexTensor& ids, const IndexTensor& targets = IndexTensor());
  const ModelConfig& config() const { return cfg_; }
  std::shared_ptr<Transformer> transformer;
  Rng& dropout_rng() { return dropout_rng_; }

 private:
  ModelConfig cfg_;
  Rng dropout_rng_;
};

}  // namespace moelab::nn
