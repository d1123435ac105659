#include "layers/kv_cache.h"

#include <cstring>

#include "core/error.h"

namespace moelab::nn {

KVCache::KVCache(const ModelConfig& cfg, int64_t batch)
    : batch_(batch), capacity_(cfg.block_size), width_(cfg.n_embd) {
  MOELAB_CHECK(batch >= 1 && cfg.block_size >= 1 && cfg.n_embd >= 1 && cfg.n_layer >= 1,
               "kv cache: batch, block_size, n_embd and n_layer must be positive");
  for (int l = 0; l < cfg.n_layer; ++l) {
    keys_.push_back(Tensor::empty({batch_, capacity_, width_}));
    values_.push_back(Tensor::empty({batch_, capacity_, width_}));
  }
}

void KVCache::write(int64_t layer, const Tensor& qkv) {
  MOELAB_CHECK(layer >= 0 && layer < layers(), "kv cache: layer ", layer, " of ", layers());
  MOELAB_CHECK(qkv.dim() == 3 && qkv.size(0) == batch_ && qkv.size(2) == 3 * width_, "kv cache: qkv must be [",
               batch_, ", T, ", 3 * width_, "], got ", shape_str(qkv.shape()));
  const int64_t T = qkv.size(1);
  MOELAB_CHECK(length_ + T <= capacity_, "kv cache: positions ", length_, "..", length_ + T - 1,
               " exceed block_size ", capacity_);
  const size_t row_bytes = static_cast<size_t>(width_) * sizeof(float);
  for (int64_t b = 0; b < batch_; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const float* src = qkv.data() + (b * T + t) * 3 * width_;  // q | k | v
      const int64_t dst = (b * capacity_ + length_ + t) * width_;
      std::memcpy(keys_[layer].data() + dst, src + width_, row_bytes);
      std::memcpy(values_[layer].data() + dst, src + 2 * width_, row_bytes);
    }
}

void KVCache::advance(int64_t T) {
  MOELAB_CHECK(T >= 0 && length_ + T <= capacity_, "kv cache: cannot advance ", length_, " by ", T, " past ",
               capacity_);
  length_ += T;
}

}  // namespace moelab::nn
