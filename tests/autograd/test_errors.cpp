// Bad input raises a moelab::Error naming the op and the shapes involved.
#include <doctest/doctest.h>

#include "autograd/ops.h"
#include "gradcheck.h"

using moelab::Error;
using moelab::IndexTensor;
using moelab::Tensor;
using moelab::autograd::Var;
using doctest::Contains;
namespace ops = moelab::ops;

static Var zeros(moelab::Shape s) { return Var(Tensor::zeros(s)); }

TEST_CASE("shape mismatches name the op and both shapes") {
  CHECK_THROWS_WITH_AS(ops::matmul(zeros({2, 3}), zeros({4, 5})), Contains("matmul: inner dimensions differ (3 vs 4): a [2,3], b [4,5]"), Error);
  CHECK_THROWS_WITH_AS(ops::matmul(zeros({2, 3, 4}), zeros({3, 4, 5})), Contains("batch sizes differ"), Error);
  CHECK_THROWS_WITH_AS(ops::matmul(zeros({3}), zeros({3, 4})), Contains("unsupported ranks"), Error);
  CHECK_THROWS_WITH_AS(ops::add(zeros({2, 3}), zeros({2})), Contains("add: shapes [2,3] and [2] do not broadcast"), Error);
  CHECK_THROWS_WITH_AS(ops::mul(zeros({4}), zeros({3, 5})), Contains("mul: shapes [4] and [3,5]"), Error);
  CHECK_THROWS_WITH_AS(ops::linear(zeros({2, 3}), zeros({4, 5})), Contains("linear: input [2,3] does not match weight [4,5]"), Error);
  CHECK_THROWS_WITH_AS(ops::linear(zeros({2, 5}), zeros({4, 5}), zeros({3})), Contains("linear: bias [3]"), Error);
  CHECK_THROWS_WITH_AS(ops::layernorm(zeros({2, 5}), zeros({4}), Var()), Contains("layernorm: weight [4] does not match input [2,5]"), Error);
  CHECK_THROWS_WITH_AS(ops::rmsnorm(zeros({2, 5}), zeros({6})), Contains("rmsnorm: weight [6]"), Error);
  CHECK_THROWS_WITH_AS(ops::reshape(zeros({2, 5}), {3, 3}), Contains("reshape: cannot view [2,5]"), Error);
  CHECK_THROWS_WITH_AS(ops::glu(zeros({2, 5}), moelab::kernels::Activation::Silu), Contains("glu: last dim of [2,5]"), Error);
}

TEST_CASE("invalid arguments name the culprit") {
  CHECK_THROWS_WITH_AS(ops::cross_entropy(zeros({2, 4}), IndexTensor::from({2}, {1, 4})),
                       Contains("cross_entropy: target 4 at row 1 is outside [0, 4)"), Error);
  CHECK_THROWS_WITH_AS(ops::cross_entropy(zeros({2, 4}), IndexTensor::from({3}, {0, 0, 0})),
                       Contains("targets [3] do not match logits [2,4]"), Error);
  CHECK_THROWS_WITH_AS(ops::embedding(zeros({5, 3}), IndexTensor::from({2}, {0, -1})),
                       Contains("embedding: id -1 at position 1 is outside [0, 5)"), Error);
  CHECK_THROWS_WITH_AS(ops::gather_rows(zeros({4, 3}), IndexTensor::from({1}, {7})),
                       Contains("gather_rows: index 7 at position 0 is outside [0, 4)"), Error);
  CHECK_THROWS_WITH_AS(ops::scatter_add_rows(zeros({2, 3}), IndexTensor::from({2}, {0, 1}), 4, zeros({3})),
                       Contains("scatter_add_rows: weights [3] do not match source [2,3]"), Error);
  CHECK_THROWS_WITH_AS(ops::topk(zeros({2, 3}), 4), Contains("topk: k = 4 must be in [1, 3]"), Error);
  CHECK_THROWS_WITH_AS(ops::mean(zeros({0})), Contains("mean: empty input [0]"), Error);
}

TEST_CASE("degenerate shapes work") {
  Var y = ops::matmul(zeros({0, 3}), zeros({3, 4}));
  CHECK(y.shape() == moelab::Shape{0, 4});
  Var z = ops::matmul(zeros({2, 0}), zeros({0, 4}));  // k = 0: defined as zeros
  CHECK(z.shape() == moelab::Shape{2, 4});
  for (int64_t i = 0; i < z.numel(); ++i) CHECK(z.value()[i] == 0.f);
  CHECK(ops::softmax(zeros({0, 5})).numel() == 0);
  CHECK(ops::sum(zeros({0})).item() == 0.f);
}
