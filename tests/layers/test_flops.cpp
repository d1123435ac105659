// FLOPs per token (benchmarks' GFLOP/s): 6 x the matmul parameters a token meets + attention.
#include <doctest/doctest.h>

#include "layers/config.h"
#include "layers/flops.h"

namespace nn = moelab::nn;

TEST_CASE("flops_per_token: every gated activation doubles c_fc; MoE counts the k experts a token visits") {
  nn::ModelConfig m;
  m.vocab_size = 65;
  m.n_layer = 2;
  m.n_embd = 16;
  m.block_size = 8;
  const double d = 16, hidden = 4 * d;
  const double plain = 6 * (65 * d + 2 * (4 * d * d + 2 * hidden * d)) + 12.0 * 2 * 8 * d;
  CHECK(nn::flops_per_token(m) == doctest::Approx(plain));
  for (const char* glu : {"swiglu", "geglu", "reglu"}) {
    CAPTURE(glu);
    m.ffn.activation = glu;
    CHECK(nn::flops_per_token(m) - plain == doctest::Approx(6 * 2 * hidden * d));  // c_fc is 2 x hidden wide
  }
  m.ffn.activation = "gelu";
  m.moe.num_experts = 8;
  m.moe.top_k = 2;  // layer 1 is MoE: 2 experts of 2 matrices + the router [E, d]
  CHECK(nn::flops_per_token(m) - plain == doctest::Approx(6 * (2 * hidden * d + 8 * d)));
}
