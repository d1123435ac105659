// Causal self-attention's forward values against a naive double-precision reference written from the
// definition (nanoGPT / the PyTorch reference): qkv = x W^T + b split as [q | k | v], head h owns
// columns h*hd .. (h+1)*hd of each, scores q.k / sqrt(hd), causal mask (key position <= query
// position), softmax over keys, heads concatenated in order, then c_proj. Shapes with several heads,
// batch > 1, T = 1, and inputs large enough that a missing scale or mask shows.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "autograd/tape.h"
#include "layers/attention.h"
#include "param_check.h"

namespace nn = moelab::nn;
namespace ag = moelab::autograd;
using moelab::Tensor;
using moelab::testing::randn;
using moelab::testing::randomize;

namespace {
// out[b, t, :] for x [B, T, d] with the module's weights, in double.
std::vector<double> naive_attention(const nn::CausalSelfAttention& a, const Tensor& x, int64_t B, int64_t T, int64_t d,
                                    int64_t H) {
  const Tensor& wa = a.c_attn->weight.value();  // [3d, d]
  const Tensor& ba = a.c_attn->bias.value();    // [3d]
  const Tensor& wp = a.c_proj->weight.value();  // [d, d]
  const Tensor& bp = a.c_proj->bias.value();
  const int64_t hd = d / H;
  std::vector<double> out(B * T * d);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> qkv(T * 3 * d);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t o = 0; o < 3 * d; ++o) {
        double s = ba[o];
        for (int64_t i = 0; i < d; ++i) s += static_cast<double>(wa[o * d + i]) * x[(b * T + t) * d + i];
        qkv[t * 3 * d + o] = s;
      }
    std::vector<double> y(T * d, 0.0);  // heads concatenated
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> w(t + 1);
        double mx = -1e300, sum = 0;
        for (int64_t s = 0; s <= t; ++s) {  // causal: keys at positions <= t only
          double dot = 0;
          for (int64_t j = 0; j < hd; ++j) dot += qkv[t * 3 * d + h * hd + j] * qkv[s * 3 * d + d + h * hd + j];
          w[s] = dot / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, w[s]);
        }
        for (int64_t s = 0; s <= t; ++s) sum += (w[s] = std::exp(w[s] - mx));
        for (int64_t s = 0; s <= t; ++s)
          for (int64_t j = 0; j < hd; ++j) y[t * d + h * hd + j] += w[s] / sum * qkv[s * 3 * d + 2 * d + h * hd + j];
      }
    for (int64_t t = 0; t < T; ++t)
      for (int64_t o = 0; o < d; ++o) {
        double s = bp[o];
        for (int64_t i = 0; i < d; ++i) s += static_cast<double>(wp[o * d + i]) * y[t * d + i];
        out[(b * T + t) * d + o] = s;
      }
  }
  return out;
}
}  // namespace

TEST_CASE("causal attention: forward values equal a naive double-precision reference") {
  struct Case {
    int64_t B, T, d, H;
  };
  for (const Case c : {Case{2, 7, 12, 3}, Case{1, 1, 8, 2}, Case{3, 16, 16, 4}, Case{1, 5, 6, 1}}) {
    CAPTURE(c.B);
    CAPTURE(c.T);
    CAPTURE(c.d);
    CAPTURE(c.H);
    nn::ModelConfig cfg;
    cfg.n_embd = static_cast<int>(c.d);
    cfg.n_head = static_cast<int>(c.H);
    cfg.n_layer = 1;
    moelab::Rng rng(5);
    nn::CausalSelfAttention attn(cfg, rng);
    randomize(attn, 11, 0.5f);  // O(1) scores: a wrong scale, mask or head split changes the result visibly
    const Tensor x = randn({c.B, c.T, c.d}, 12);
    Tensor got;
    {
      ag::NoGrad no_grad;
      got = attn.forward(ag::Var(x)).value();
    }
    const std::vector<double> want = naive_attention(attn, x, c.B, c.T, c.d, c.H);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      worst = std::max(worst, std::abs(got[static_cast<int64_t>(i)] - want[i]));
      scale = std::max(scale, std::abs(want[i]));
    }
    CHECK(scale > 0.5);
    CHECK(worst < 1e-5 * scale + 1e-6);
  }
}

TEST_CASE("causal attention: a token's output does not depend on later tokens") {
  nn::ModelConfig cfg;
  cfg.n_embd = 8;
  cfg.n_head = 2;
  moelab::Rng rng(6);
  nn::CausalSelfAttention attn(cfg, rng);
  randomize(attn, 13, 0.5f);
  Tensor x = randn({1, 6, 8}, 14);
  ag::NoGrad no_grad;
  const Tensor a = attn.forward(ag::Var(x)).value().clone();
  for (int64_t i = 3 * 8; i < 6 * 8; ++i) x[i] += 5.f;  // change positions 3..5
  const Tensor b = attn.forward(ag::Var(x)).value();
  for (int64_t i = 0; i < 3 * 8; ++i) CHECK(a[i] == b[i]);  // positions 0..2 exactly unchanged
  bool later_changed = false;
  for (int64_t i = 3 * 8; i < 6 * 8; ++i) later_changed = later_changed || a[i] != b[i];
  CHECK(later_changed);
}
