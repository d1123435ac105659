// layers/kv_cache.h: every block's attention keys and values for the positions a sequence has seen,
// so generation runs each new token as one position through the model (GPT::forward_cached)
// instead of recomputing the whole context. Inference only: under NoGrad, in eval mode.
//
// When forward_cached is GPT::forward's function (the same logits up to float rounding):
//  - Positions are learned absolute embeddings, so the cache holds one window, positions
//    0 .. block_size-1. Once a sequence outgrows block_size the window slides, every position
//    shifts and no cached key is valid any more: the caller recomputes the last block_size tokens
//    instead (train/generate.cpp does, from then on).
//  - Every FFN must compute a token from that token alone. The dense MLP and MoE layers with a
//    per-token router (topk, noisy_topk at eval, soft, hash) do. Expert-choice routing ranks the
//    tokens of the sequence against each other, and an eval-time capacity factor drops a token
//    depending on which other tokens reached its experts first; both make a token's output depend on
//    the rest of the sequence (later tokens included), so one-token steps would be another function.
//    GPT::cached_forward_blocker() names the reason and forward_cached refuses such a model.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "layers/config.h"

namespace moelab::nn {

class KVCache {
 public:
  // For `batch` sequences of up to cfg.block_size positions through cfg's blocks.
  explicit KVCache(const ModelConfig& cfg, int64_t batch = 1);
  int64_t length() const { return length_; }  // positions cached (the next one's index)
  int64_t capacity() const { return capacity_; }
  int64_t batch() const { return batch_; }
  int64_t layers() const { return static_cast<int64_t>(keys_.size()); }
  // [batch, capacity, n_embd]; rows 0 .. length()-1 of each sequence are valid.
  const Tensor& keys(int64_t layer) const { return keys_.at(layer); }
  const Tensor& values(int64_t layer) const { return values_.at(layer); }
  // Stores the keys and values of qkv [batch, T, 3 n_embd] (c_attn's output for T new positions)
  // at positions length() .. length()+T-1 of `layer`.
  void write(int64_t layer, const Tensor& qkv);
  // Once every layer has written the T new positions: they count as cached.
  void advance(int64_t T);
  void clear() { length_ = 0; }

 private:
  int64_t batch_, capacity_, width_, length_ = 0;
  std::vector<Tensor> keys_, values_;
};

}  // namespace moelab::nn
