// Gradcheck for every differentiable op: tape gradients vs central differences.
#include <doctest/doctest.h>

#include "gradcheck.h"

using moelab::IndexTensor;
using moelab::Shape;
using moelab::Tensor;
using moelab::autograd::Var;
using moelab::testing::randint;
using moelab::testing::randn;
namespace ops = moelab::ops;
using VarList = std::vector<Var>;

TEST_CASE("gradcheck: matmul 2-D, every transpose combination") {
  const int64_t m = 3, k = 5, n = 4;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      Tensor a = randn(ta ? Shape{k, m} : Shape{m, k}, 1);
      Tensor b = randn(tb ? Shape{n, k} : Shape{k, n}, 2);
      CHECK_GRADCHECK([=](const VarList& v) { return ops::matmul(v[0], v[1], ta, tb); }, {a, b});
    }
}

TEST_CASE("gradcheck: batched matmul, every transpose combination") {
  const int64_t bsz = 2, m = 3, k = 4, n = 5;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      Tensor a = randn(ta ? Shape{bsz, k, m} : Shape{bsz, m, k}, 3);
      Tensor b = randn(tb ? Shape{bsz, n, k} : Shape{bsz, k, n}, 4);
      CHECK_GRADCHECK([=](const VarList& v) { return ops::matmul(v[0], v[1], ta, tb); }, {a, b});
    }
}

TEST_CASE("gradcheck: matmul N-D x 2-D, and an input used twice (a @ a^T)") {
  CHECK_GRADCHECK([](const VarList& v) { return ops::matmul(v[0], v[1], false, true); },
                  {randn({2, 3, 4}, 5), randn({6, 4}, 6)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::matmul(v[0], v[0], false, true); }, {randn({3, 4}, 7)});
}

TEST_CASE("gradcheck: linear with and without bias") {
  CHECK_GRADCHECK([](const VarList& v) { return ops::linear(v[0], v[1], v[2]); },
                  {randn({2, 3, 5}, 8), randn({4, 5}, 9), randn({4}, 10)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::linear(v[0], v[1]); }, {randn({3, 5}, 11), randn({2, 5}, 12)});
}

TEST_CASE("gradcheck: add/sub/mul/div, same shape and broadcasting either side") {
  using Fn = Var (*)(const Var&, const Var&);
  const std::pair<const char*, Fn> all[] = {{"add", ops::add}, {"sub", ops::sub}, {"mul", ops::mul}, {"div", ops::div}};
  for (auto [name, fn] : all) {
    CAPTURE(name);
    // Keep divisors away from 0: 2 + N(0, 0.3).
    auto away = [](Tensor t) {
      for (int64_t i = 0; i < t.numel(); ++i) t[i] = 2.f + 0.3f * t[i];
      return t;
    };
    CHECK_GRADCHECK([fn](const VarList& v) { return fn(v[0], v[1]); }, {randn({3, 4}, 13), away(randn({3, 4}, 14))});
    CHECK_GRADCHECK([fn](const VarList& v) { return fn(v[0], v[1]); }, {randn({2, 3, 4}, 15), away(randn({4}, 16))});
    CHECK_GRADCHECK([fn](const VarList& v) { return fn(v[0], v[1]); },
                    {randn({3, 4}, 17), away(randn({2, 3, 4}, 18))});
    // the same Var on both sides (x - x and x / x have a zero gradient: both contributions must cancel)
    const bool constant = std::string(name) == "sub" || std::string(name) == "div";
    CHECK_GRADCHECK([fn](const VarList& v) { return fn(v[0], v[0]); }, {away(randn({5}, 19))},
                    {.allow_zero_gradient = constant});
  }
}

TEST_CASE("gradcheck: scale, sum, mean, reshape") {
  CHECK_GRADCHECK([](const VarList& v) { return ops::scale(v[0], -1.7f); }, {randn({3, 4}, 20)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::sum(v[0]); }, {randn({3, 4}, 21)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::mean(v[0]); }, {randn({3, 4}, 22)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::mul(ops::reshape(v[0], {4, -1}), v[1]); },
                  {randn({2, 6}, 23), randn({4, 3}, 24)});
}

TEST_CASE("gradcheck: activations") {
  // ReLU has a kink at 0: shift inputs away from it.
  Tensor x = randn({4, 7}, 25);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] += x[i] >= 0 ? 0.1f : -0.1f;
  CHECK_GRADCHECK([](const VarList& v) { return ops::relu(v[0]); }, {x});
  CHECK_GRADCHECK([](const VarList& v) { return ops::gelu(v[0]); }, {randn({4, 7}, 26, 2.f)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::gelu_tanh(v[0]); }, {randn({4, 7}, 27, 2.f)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::silu(v[0]); }, {randn({4, 7}, 28, 2.f)});
  // gated: swiglu, geglu, reglu (ReLU's kink at 0: gate inputs kept away from it)
  Tensor g = randn({3, 8}, 29);
  for (int64_t i = 0; i < g.numel(); ++i) g[i] += g[i] >= 0 ? 0.1f : -0.1f;
  for (auto act : {moelab::kernels::Activation::Silu, moelab::kernels::Activation::Gelu, moelab::kernels::Activation::Relu})
    CHECK_GRADCHECK([act](const VarList& v) { return ops::glu(v[0], act); }, {g});
}

TEST_CASE("gradcheck: softmax and log_softmax") {
  CHECK_GRADCHECK([](const VarList& v) { return ops::softmax(v[0]); }, {randn({3, 5}, 30, 2.f)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::log_softmax(v[0]); }, {randn({2, 3, 5}, 31, 2.f)});
  // one column: softmax is constantly 1, its gradient exactly 0
  CHECK_GRADCHECK([](const VarList& v) { return ops::softmax(v[0]); }, {randn({4, 1}, 32)}, {.allow_zero_gradient = true});
}

TEST_CASE("gradcheck: cross_entropy") {
  IndexTensor t = randint({2, 3}, 7, 33);
  CHECK_GRADCHECK([t](const VarList& v) { return ops::cross_entropy(v[0], t); }, {randn({2, 3, 7}, 34, 2.f)});
}

TEST_CASE("gradcheck: layernorm and rmsnorm") {
  CHECK_GRADCHECK([](const VarList& v) { return ops::layernorm(v[0], v[1], v[2]); },
                  {randn({3, 6}, 35), randn({6}, 36), randn({6}, 37)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::layernorm(v[0], Var(), Var()); }, {randn({2, 2, 5}, 38)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::rmsnorm(v[0], v[1]); }, {randn({3, 6}, 39), randn({6}, 40)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::rmsnorm(v[0], Var()); }, {randn({4, 3}, 41)});
}

TEST_CASE("gradcheck: embedding with repeated ids") {
  IndexTensor ids = IndexTensor::from({2, 3}, {1, 4, 1, 0, 4, 4});
  CHECK_GRADCHECK([ids](const VarList& v) { return ops::embedding(v[0], ids); }, {randn({5, 3}, 42)});
}

TEST_CASE("gradcheck: gather_rows and weighted scatter_add_rows") {
  IndexTensor idx = IndexTensor::from({5}, {2, 0, 2, 3, 1});
  CHECK_GRADCHECK([idx](const VarList& v) { return ops::gather_rows(v[0], idx); }, {randn({4, 3}, 43)});
  CHECK_GRADCHECK([idx](const VarList& v) { return ops::scatter_add_rows(v[0], idx, 4, v[1]); },
                  {randn({5, 3}, 44), randn({5}, 45)});
  CHECK_GRADCHECK([idx](const VarList& v) { return ops::scatter_add_rows(v[0], idx, 6); }, {randn({5, 3}, 46)});
}

TEST_CASE("gradcheck: topk values") {
  // Distinct values so a small perturbation never changes the selection.
  Tensor x = Tensor::from({2, 5}, {0.1f, 0.9f, -0.5f, 0.4f, 0.7f, -1.0f, 0.3f, 0.8f, -0.2f, 0.6f});
  CHECK_GRADCHECK([](const VarList& v) { return ops::topk(v[0], 2).values; }, {x});
}

TEST_CASE("gradcheck: a composite (attention-like score path) exercises accumulation across ops") {
  // softmax(q k^T / sqrt(d)) v with q, k, v from one input through separate weights.
  CHECK_GRADCHECK(
      [](const VarList& v) {
        Var q = ops::linear(v[0], v[1]), k = ops::linear(v[0], v[2]), val = ops::linear(v[0], v[3]);
        Var s = ops::softmax(ops::scale(ops::matmul(q, k, false, true), 0.5f));
        return ops::layernorm(ops::add(ops::matmul(s, val), v[0]), Var(), Var());
      },
      {randn({3, 4}, 47), randn({4, 4}, 48, 0.5f), randn({4, 4}, 49, 0.5f), randn({4, 4}, 50, 0.5f)});
}

TEST_CASE("gradcheck: causal attention (multi-head, fused qkv)") {
  CHECK_GRADCHECK([](const VarList& v) { return ops::causal_attention(v[0], 2); }, {randn({2, 5, 12}, 51)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::causal_attention(v[0], 1); }, {randn({1, 3, 6}, 52)});
}

TEST_CASE("causal attention: the first position attends only to itself, later ones ignore the future") {
  Tensor qkv = randn({1, 4, 6}, 53);
  Var out = ops::causal_attention(Var(qkv), 1);
  // position 0 output = v_0
  for (int j = 0; j < 2; ++j) CHECK(out.value()[j] == doctest::Approx(qkv[4 + j]));
  // changing token 3 does not change outputs 0..2
  Tensor qkv2 = qkv.clone();
  for (int j = 0; j < 6; ++j) qkv2[3 * 6 + j] += 1.f;
  Var out2 = ops::causal_attention(Var(qkv2), 1);
  for (int i = 0; i < 3 * 2; ++i) CHECK(out2.value()[i] == out.value()[i]);
  CHECK(out2.value()[3 * 2] != out.value()[3 * 2]);
}

TEST_CASE("gradcheck: dropout with a fixed mask") {
  moelab::Rng rng(7);
  // The same rng state for every evaluation so the mask is fixed.
  CHECK_GRADCHECK([](const VarList& v) { moelab::Rng r(7); return ops::dropout(v[0], 0.3f, r); }, {randn({4, 5}, 54)});
  Var x(Tensor::full({1000}, 1.f));
  Var y = ops::dropout(x, 0.25f, rng);
  int zeros = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    if (y.value()[i] == 0.f) ++zeros;
    else CHECK(y.value()[i] == doctest::Approx(1.f / 0.75f));
  }
  CHECK(zeros > 200);
  CHECK(zeros < 300);
}
