// The tape's contract: reverse accumulation, reuse, no-grad, clearing, errors.
#include <doctest/doctest.h>

#include <string>

#include "autograd/ops.h"
#include "gradcheck.h"

using moelab::Error;
using moelab::IndexTensor;
using moelab::Tensor;
using moelab::autograd::Var;
namespace ag = moelab::autograd;
namespace ops = moelab::ops;

TEST_CASE("a variable used twice receives both contributions") {
  Var x(Tensor::from({3}, {1.f, 2.f, 3.f}), true);
  // y = sum(x * x + 3 x)  ->  dy/dx = 2x + 3
  Var y = ops::sum(ops::add(ops::mul(x, x), ops::scale(x, 3.f)));
  ag::backward(y);
  CHECK(x.grad()[0] == doctest::Approx(5.f));
  CHECK(x.grad()[1] == doctest::Approx(7.f));
  CHECK(x.grad()[2] == doctest::Approx(9.f));
  CHECK(y.item() == doctest::Approx(14.f + 18.f));
}

TEST_CASE("gradients accumulate across backward calls until cleared") {
  Var x(Tensor::from({2}, {1.f, -2.f}), true);
  ag::backward(ops::sum(ops::scale(x, 2.f)));
  ag::backward(ops::sum(ops::scale(x, 2.f)));
  CHECK(x.grad()[0] == doctest::Approx(4.f));
  x.zero_grad();
  CHECK(x.grad()[1] == 0.f);
}

TEST_CASE("backward clears the tape; a second backward is an error, not UB") {
  Var x(Tensor::from({2}, {1.f, 2.f}), true);
  Var y = ops::sum(ops::mul(x, x));
  CHECK(ag::tape_size() == 2);
  ag::backward(y);
  CHECK(ag::tape_size() == 0);
  try {
    ag::backward(y);
    FAIL("second backward did not throw");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("not recorded on the current tape") != std::string::npos);
  }
}

TEST_CASE("no-grad scope records nothing and its results cannot be backpropagated") {
  Var x(Tensor::from({2}, {1.f, 2.f}), true);
  Var y;
  {
    ag::NoGrad ng;
    y = ops::sum(ops::mul(x, x));
  }
  CHECK(ag::tape_size() == 0);
  CHECK_FALSE(y.requires_grad());
  CHECK(y.item() == doctest::Approx(5.f));
  CHECK_THROWS_AS(ag::backward(y), Error);
  CHECK(ag::grad_enabled());
}

TEST_CASE("ops on inputs that need no gradient record nothing") {
  Var a(Tensor::from({2}, {1.f, 2.f})), b(Tensor::from({2}, {3.f, 4.f}));
  Var c = ops::add(a, b);
  CHECK(ag::tape_size() == 0);
  CHECK_FALSE(c.requires_grad());
}

TEST_CASE("only the path to the loss runs; unused branches leave inputs without grad") {
  Var x(Tensor::from({2}, {1.f, 2.f}), true), z(Tensor::from({2}, {5.f, 6.f}), true);
  Var unused = ops::mul(z, z);  // recorded, but never reaches the loss
  ag::backward(ops::sum(x));
  CHECK(x.has_grad());
  CHECK_FALSE(z.has_grad());
}

TEST_CASE("clear_tape drops a forward pass that will not be backpropagated") {
  Var x(Tensor::from({2}, {1.f, 2.f}), true);
  Var y = ops::sum(ops::mul(x, x));
  CHECK(ag::tape_size() == 2);
  ag::clear_tape();
  CHECK(ag::tape_size() == 0);
  CHECK_THROWS_AS(ag::backward(y), Error);
}

TEST_CASE("backward needs a scalar loss") {
  Var x(Tensor::from({2}, {1.f, 2.f}), true);
  Var y = ops::scale(x, 2.f);
  CHECK_THROWS_WITH_AS(ag::backward(y), doctest::Contains("must be a scalar"), Error);
  ag::clear_tape();
}

TEST_CASE("the tape does not leak: activations are released after backward") {
  const auto before = moelab::allocator_stats().live_bytes;
  {
    Var w(moelab::testing::randn({64, 64}, 1), true);
    for (int step = 0; step < 5; ++step) {
      Var h(moelab::testing::randn({32, 64}, 2));
      for (int l = 0; l < 4; ++l) h = ops::gelu(ops::linear(h, w));
      ag::backward(ops::mean(h));
      w.clear_grad();
    }
  }
  CHECK(ag::tape_size() == 0);
  CHECK(moelab::allocator_stats().live_bytes == before);
}
