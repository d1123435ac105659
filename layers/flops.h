// layers/flops.h: the training FLOPs of one token, the figure benchmarks turn into GFLOP/s.
#pragma once
#include "layers/config.h"

namespace moelab::nn {

// 6 x the matmul parameters a token is multiplied by (wte as the tied lm_head, attention, the dense
// MLPs, and in an MoE layer the experts it visits, the shared experts and the router; gated
// activations count c_fc twice as wide; no position embeddings, biases or norms) + 12 x layers x
// block x d for attention's scores and weighted sums. A registered FFN kind counts as an MLP.
double flops_per_token(const ModelConfig& m);

}  // namespace moelab::nn
