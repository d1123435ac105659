// train/gradient_buckets.h on one process (a Local communicator: the sums are the identity, so the
// bookkeeping is what is checked; tests/dist runs the real exchanges): gradients become views into
// the buffers, a block's bucket is taken when backward reaches the block's first node, the first
// step catches a gradient that changes after its block finished, and missing gradients count as 0.
#include <doctest/doctest.h>

#include <vector>

#include "core/comm/communicator.h"
#include "core/error.h"
#include "train/gradient_buckets.h"

namespace moelab {
namespace {

optim::ParamRef param(const std::string& name, int64_t n) {
  return {name, autograd::Var(Tensor::zeros({n}), true)};
}

// A fake backward over a tape of 10 nodes where block 0 starts at node 2 and block 1 at node 6:
// `touch(node)` adds to gradients as the node's backward would, then the hook runs.
void fake_backward(const std::function<void(size_t)>& hook, const std::function<void(size_t)>& touch) {
  for (size_t node = 10; node-- > 0;) {
    touch(node);
    if (hook) hook(node);
  }
}

}  // namespace

TEST_CASE("gradient buckets: views into the buffers, averaged, missing gradients zero") {
  comm::Communicator& world = comm::world();
  std::vector<optim::ParamRef> params = {param("transformer.wte.weight", 3), param("transformer.h.0.mlp.w", 2),
                                         param("transformer.h.1.mlp.w", 2), param("transformer.h.1.moe.experts.0.w", 2)};
  train::GradientBuckets buckets(world, world, /*processes=*/2, /*overlap=*/true);
  for (int step = 0; step < 2; ++step) {
    buckets.prepare(params);
    for (size_t i = 1; i < params.size(); ++i) REQUIRE(params[i].var.has_grad());
    fake_backward(buckets.hook({2, 6}), [&](size_t node) {
      if (node == 7) params[2].var.grad_accum()[0] += 4.f, params[3].var.grad_accum()[1] += 6.f;
      if (node == 3) params[1].var.grad_accum()[1] += 8.f;
    });
    params[0].var.clear_grad();  // e.g. an embedding no token used: counts as 0
    buckets.finish(params);
    CHECK(params[0].var.grad().data()[0] == 0.f);
    CHECK(params[1].var.grad().data()[1] == 4.f);  // the sum (itself, on one process) over 2 processes
    CHECK(params[2].var.grad().data()[0] == 2.f);
    CHECK(params[3].var.grad().data()[1] == 3.f);
    int64_t overlapped = -1;
    buckets.take_stats(&overlapped);
    CHECK(overlapped == 0);  // a one-process group exchanges nothing, early or late
  }
}

TEST_CASE("gradient buckets: the first step catches a gradient that changes after its block finished") {
  comm::Communicator& world = comm::world();
  std::vector<optim::ParamRef> params = {param("transformer.h.0.mlp.w", 2), param("transformer.h.1.attn.w", 2)};
  train::GradientBuckets buckets(world, world, 1, /*overlap=*/true);
  buckets.prepare(params);
  // node 1 is outside block 1's nodes (6..9) but adds to its parameter: a weight shared with block 0
  fake_backward(buckets.hook({2, 6}), [&](size_t node) {
    if (node == 8 || node == 1) params[1].var.grad_accum()[0] += 1.f;
  });
  CHECK_THROWS_WITH_AS(buckets.finish(params),
                       doctest::Contains("the gradient of transformer.h.1.attn.w changed after backward had finished "
                                         "block 1"),
                       Error);

  // without overlap nothing starts early, so the same model is fine
  train::GradientBuckets late(world, world, 1, /*overlap=*/false);
  late.prepare(params);
  fake_backward(late.hook({2, 6}), [&](size_t node) {
    if (node == 8 || node == 1) params[1].var.grad_accum()[0] += 1.f;
  });
  late.finish(params);
  CHECK(params[1].var.grad().data()[0] == 2.f);
}

TEST_CASE("gradient buckets: zero-size parameters keep their own bucket; a new parameter set is checked again") {
  comm::Communicator& world = comm::world();
  std::vector<optim::ParamRef> params = {param("transformer.h.0.empty", 0), param("transformer.h.1.attn.w", 2)};
  train::GradientBuckets buckets(world, world, 1, /*overlap=*/true);
  for (int step = 0; step < 2; ++step) {  // the check step, then one that starts early
    buckets.prepare(params);
    fake_backward(buckets.hook({2, 6}), [&](size_t node) {
      if (node == 8) params[1].var.grad_accum()[1] += 3.f;
    });
    buckets.finish(params);
    CHECK(params[0].var.grad().numel() == 0);
    CHECK(params[1].var.grad().data()[1] == 3.f);
  }
  // a parameter appears (e.g. lifelong expansion) and is used outside its block: caught again
  params.push_back(param("transformer.h.1.mlp.w", 2));
  buckets.prepare(params);
  fake_backward(buckets.hook({2, 6}), [&](size_t node) {
    if (node == 7 || node == 0) params[2].var.grad_accum()[0] += 1.f;
  });
  CHECK_THROWS_WITH_AS(buckets.finish(params), doctest::Contains("the gradient of transformer.h.1.mlp.w changed"),
                       Error);
}

}  // namespace moelab
