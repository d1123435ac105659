#include "layers/gpt.h"

#include <cmath>

#include "autograd/tape.h"

namespace moelab::nn {

namespace {
// Dropout on [rows, ...] activations whose rows are rows row_offset.. of a distributed batch: the
// mask values are those one process draws for these rows (the stream then moves past the whole batch).
Var dropout_rows(const Var& x, float p, Rng& rng, const BatchPartition* part) {
  if (p == 0.f || !part || part->global_rows == 0) return ops::dropout(x, p, rng);
  const int64_t per_row = x.numel() / x.size(0);
  const uint64_t start = rng.counter();
  rng.set_counter(start + static_cast<uint64_t>(part->row_offset * per_row));
  Var y = ops::dropout(x, p, rng);
  rng.set_counter(start + static_cast<uint64_t>(part->global_rows * per_row));
  return y;
}
}  // namespace

Block::Block(const ModelConfig& cfg, int layer, uint64_t seed, Rng& rng, const ExpertParallel* ep)
    : dropout_(cfg.dropout) {
  ln_1 = register_module("ln_1", std::make_shared<Norm>(cfg.norm, cfg.n_embd, cfg.bias));
  attn = register_module("attn", std::make_shared<CausalSelfAttention>(cfg, rng));
  ln_2 = register_module("ln_2", std::make_shared<Norm>(cfg.norm, cfg.n_embd, cfg.bias));
  const std::string kind = cfg.moe.is_moe_layer(layer, cfg.n_layer) ? "moe" : cfg.ffn.type;
  ffn = register_module(ffn_module_name(kind), make_ffn(kind, FfnArgs{cfg, layer, seed, rng, ep}));
  mlp = std::dynamic_pointer_cast<MLP>(ffn);
  moe = std::dynamic_pointer_cast<MoE>(ffn);
}

Var Block::forward(const Var& x, const IndexTensor& ids, Rng& dropout_rng, std::vector<AuxLoss>* aux,
                   const BatchPartition* part) const {
  const float p = training() ? dropout_ : 0.f;
  Var h = ops::add(x, dropout_rows(attn->forward(ln_1->forward(x)), p, dropout_rng, part));
  Var f = ffn->forward(ln_2->forward(h), FfnContext{ids.defined() ? &ids : nullptr, aux, part});
  return ops::add(h, dropout_rows(f, p, dropout_rng, part));
}

Var Block::forward_cached(const Var& x, const IndexTensor& ids, KVCache& cache, int64_t layer) const {
  Var h = ops::add(x, attn->forward_cached(ln_1->forward(x), cache, layer));
  return ops::add(h, ffn->forward(ln_2->forward(h), FfnContext{&ids, nullptr, nullptr}));
}

Transformer::Transformer(const ModelConfig& cfg, uint64_t seed, Rng& rng, const ExpertParallel* ep) {
  wte = register_module("wte", std::make_shared<Embedding>(cfg.vocab_size, cfg.n_embd, 0.02f, rng));
  wpe = register_module("wpe", std::make_shared<Embedding>(cfg.block_size, cfg.n_embd, 0.02f, rng));
  h = register_module("h", std::make_shared<ModuleList<Block>>());
  for (int l = 0; l < cfg.n_layer; ++l) h->push_back(std::make_shared<Block>(cfg, l, seed, rng, ep));
  ln_f = register_module("ln_f", std::make_shared<Norm>(cfg.norm, cfg.n_embd, cfg.bias));
}

GPT::GPT(const ModelConfig& cfg, uint64_t seed, const ExpertParallel* ep) : cfg_(cfg), dropout_rng_(seed, 1) {
  MOELAB_CHECK(cfg.vocab_size > 0 && cfg.n_layer > 0 && cfg.n_embd > 0 && cfg.block_size > 0 && cfg.n_head > 0,
               "gpt: vocab_size, n_layer, n_head, n_embd and block_size must be positive");
  Rng rng(seed, 0);
  transformer = register_module("transformer", std::make_shared<Transformer>(cfg, seed, rng, ep));
}

std::vector<int> GPT::moe_layers() const {
  std::vector<int> out;
  for (size_t l = 0; l < transformer->h->size(); ++l)
    if ((*transformer->h)[l].moe) out.push_back(static_cast<int>(l));
  return out;
}

MoE& GPT::moe(int layer) const {
  MOELAB_CHECK(layer >= 0 && layer < static_cast<int>(transformer->h->size()) && (*transformer->h)[layer].moe,
               "gpt: layer ", layer, " is not an MoE layer");
  return *(*transformer->h)[layer].moe;
}

Var GPT::embed(const IndexTensor& ids, int64_t first_position) const {
  MOELAB_CHECK(ids.dim() == 2, "gpt: ids must be [batch, time], got ", shape_str(ids.shape()));
  const int64_t T = ids.size(1);
  MOELAB_CHECK(first_position + T <= cfg_.block_size, "gpt: ", T, " tokens from position ", first_position,
               " exceed block_size ", cfg_.block_size);
  IndexTensor pos = IndexTensor::empty({T});
  for (int64_t t = 0; t < T; ++t) pos[t] = static_cast<int32_t>(first_position + t);
  return ops::add(transformer->wte->forward(ids), transformer->wpe->forward(pos));
}

Var GPT::lm_head(const Var& x) const {
  return ops::matmul(transformer->ln_f->forward(x), transformer->wte->weight, false, true);  // tied to wte
}

ModelOutput GPT::forward(const IndexTensor& ids, const IndexTensor& targets) {
  const float p = training() ? cfg_.dropout : 0.f;
  const BatchPartition* part = partition_.global_rows > 0 ? &partition_ : nullptr;
  Var x = dropout_rows(embed(ids, 0), p, dropout_rng_, part);
  ModelOutput out;
  std::vector<AuxLoss> layer_aux;
  const bool recording = autograd::grad_enabled();
  if (recording) block_tape_starts_.assign(transformer->h->size(), 0);
  for (size_t l = 0; l < transformer->h->size(); ++l) {
    if (recording) block_tape_starts_[l] = autograd::tape_size();
    layer_aux.clear();
    x = (*transformer->h)[l].forward(x, ids, dropout_rng_, &layer_aux, part);
    for (AuxLoss& a : layer_aux) out.aux.push_back({static_cast<int>(l), a.name, a.value});
  }
  out.logits = lm_head(x);
  if (targets.defined()) {
    MOELAB_CHECK(targets.shape() == ids.shape(), "gpt: targets ", shape_str(targets.shape()), " do not match ids ",
                 shape_str(ids.shape()));
    out.loss = ops::cross_entropy(out.logits, targets);
    out.total = out.loss;
    for (const LayerAuxLoss& a : out.aux) out.total = ops::add(out.total, a.value);
  }
  return out;
}

std::string GPT::cached_forward_blocker() const {
  for (size_t l = 0; l < transformer->h->size(); ++l) {
    const std::string why = (*transformer->h)[l].ffn->cross_row_dependency();
    if (!why.empty()) return detail::concat("layer ", l, "'s FFN: ", why);
  }
  return "";
}

Tensor GPT::forward_cached(const IndexTensor& ids, KVCache& cache) {
  MOELAB_CHECK(!autograd::grad_enabled() && !training(), "gpt: forward_cached is for inference (NoGrad, eval mode)");
  const std::string blocker = cached_forward_blocker();
  MOELAB_CHECK(blocker.empty(), "gpt: a KV cache would change this model's outputs: ", blocker);
  MOELAB_CHECK(cache.layers() == static_cast<int64_t>(transformer->h->size()) && cache.capacity() == cfg_.block_size,
               "gpt: the KV cache was made for another model shape");
  MOELAB_CHECK(ids.dim() == 2 && ids.size(0) == cache.batch() && ids.size(1) >= 1, "gpt: ids must be [",
               cache.batch(), ", time >= 1] for this cache, got ", shape_str(ids.shape()));
  Var x = embed(ids, cache.length());
  for (size_t l = 0; l < transformer->h->size(); ++l)
    x = (*transformer->h)[l].forward_cached(x, ids, cache, static_cast<int64_t>(l));
  cache.advance(ids.size(1));
  return lm_head(x).value();
}

}  // namespace moelab::nn
