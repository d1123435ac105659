// test_custom: the example's tests, against the installed moelab only.
//   suite "gradcheck": the two new ops, the bilinear GLU and the cosine router (values, and tape
//                      gradients w.r.t. inputs and parameters vs finite differences)
//   suite "training":  20 steps of custom_layer.json: the loss falls, the new parameters are in the
//                      checkpoint under their dotted names, routing metrics are logged, it reloads
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "autograd/gradcheck.h"
#include "core/rng.h"
#include "layers/gpt.h"
#include "train/checkpoint/checkpoint.h"
#include "train/io/safetensors.h"
#include "train/trainer.h"

#include "bilinear_glu.h"
#include "cosine_ops.h"
#include "cosine_router.h"

namespace nn = moelab::nn;
namespace ops = moelab::ops;
namespace train = moelab::train;
namespace fs = std::filesystem;
using moelab::autograd::gradcheck;
using Wrt = moelab::autograd::NamedVar;
using moelab::Shape;
using moelab::Tensor;
using moelab::autograd::Var;

#define CHECK_GRADCHECK(...)                \
  do {                                      \
    auto gc_ = gradcheck(__VA_ARGS__);      \
    INFO(gc_.report);                       \
    CHECK(gc_.ok);                          \
    CHECK(gc_.checked > 0);                 \
  } while (0)

namespace {

// A module's parameters by their dotted names: what a gradcheck checks.
std::vector<Wrt> parameters_of(nn::Module& m) {
  std::vector<Wrt> out;
  for (const auto& p : m.named_parameters()) out.push_back({p.name, p.param->var});
  return out;
}

// Redraws every parameter from N(0, stddev): tiny initial weights make a gradcheck vacuous.
void randomize(nn::Module& m, float stddev, uint64_t seed) {
  uint64_t stream = 0;
  for (const auto& p : m.named_parameters()) moelab::Rng(seed, stream++).fill_normal(p.param->var.value(), 0.f, stddev);
}

Tensor randn(const Shape& shape, uint64_t seed, float stddev = 1.f) {
  Tensor t = Tensor::empty(shape);
  moelab::Rng(seed).fill_normal(t, 0.f, stddev);
  return t;
}

void register_components() {  // what train_custom's main does; registering again replaces the entry
  nn::register_ffn("bilinear_glu", custom::make_bilinear_glu);
  nn::register_router("cosine", custom::make_cosine_router);
}

std::vector<Wrt> with_input(const Var& x, std::vector<Wrt> params) {
  params.insert(params.begin(), {"x", x});
  return params;
}

double row_norm(const Tensor& t, int64_t r) {
  const int64_t c = t.size(1);
  double s = 0;
  for (int64_t j = 0; j < c; ++j) s += double(t[r * c + j]) * t[r * c + j];
  return std::sqrt(s);
}

nn::MoeConfig router_config(nlohmann::json params) {
  nn::MoeConfig m;
  m.num_experts = 4;
  m.top_k = 2;
  m.router.type = "cosine";
  m.router.renorm = true;
  m.router.params = std::move(params);
  m.loss.switch_aux = 0.5;  // large, so their gradients are not lost in the tolerance
  m.loss.z = 0.1;
  return m;
}

}  // namespace

TEST_SUITE("gradcheck") {

TEST_CASE("ops: l2_normalize_rows and clamped_exp") {
  Var x(randn({5, 7}, 1, 2.f), true);
  Tensor y;
  {
    moelab::autograd::NoGrad no_grad;  // values only: record nothing
    y = custom::l2_normalize_rows(x).value();
  }
  for (int64_t r = 0; r < 5; ++r) CHECK(row_norm(y, r) == doctest::Approx(1.0).epsilon(1e-6));
  CHECK_GRADCHECK([&] { return custom::l2_normalize_rows(x); }, {{"x", x}});

  // a zero row stays zero, with a finite gradient (the norm is floored at eps)
  Var z(Tensor::zeros({1, 3}), true);
  Var zn = custom::l2_normalize_rows(z, 1e-6f);
  CHECK(zn.value()[0] == 0.f);
  moelab::autograd::backward(ops::sum(zn));
  CHECK(z.grad()[0] == doctest::Approx(1e6));  // below eps, y = x / eps

  Var s(Tensor::from({4}, {-1.f, 0.3f, 1.2f, 2.5f}), true);
  CHECK_GRADCHECK([&] { return custom::clamped_exp(s, 2.f); }, {{"s", s}});
  Var e = custom::clamped_exp(s, 2.f);
  CHECK(e.value()[1] == doctest::Approx(std::exp(0.3)));
  CHECK(e.value()[3] == doctest::Approx(std::exp(2.0)));  // clamped: 2.5 -> 2
  moelab::autograd::backward(ops::sum(e));
  CHECK(s.grad()[3] == 0.f);
  CHECK(s.grad()[1] == doctest::Approx(std::exp(0.3)));
}

TEST_CASE("bilinear_glu: W2((W1 x) * (W3 x)), parameter names, gradients") {
  register_components();
  nn::ModelConfig model;
  model.n_embd = 8;
  model.n_layer = 2;
  moelab::Rng init(1);
  CHECK(nn::ffn_module_name("bilinear_glu") == "mlp");
  CHECK(std::dynamic_pointer_cast<custom::BilinearGLU>(nn::make_ffn("bilinear_glu", {model, 0, 1, init})));
  CHECK(custom::BilinearGLU({model, 0, 1, init}).w1->weight.size(0) == 2 * 4 * 8 / 3);  // default hidden
  model.ffn.params = {{"hiden", 6}};
  CHECK_THROWS_WITH_AS(custom::BilinearGLU({model, 0, 1, init}), doctest::Contains("unknown key \"hiden\""),
                       moelab::Error);
  model.ffn.params = {{"hidden", 6}};
  custom::BilinearGLU ffn({model, 0, 1, init});
  std::vector<std::string> names;
  for (const auto& p : ffn.named_parameters()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"w1.weight", "w3.weight", "w2.weight"});
  randomize(ffn, 0.5f, 2);

  Var x(randn({2, 3, 8}, 3), true);  // [B, T, d], as a block calls it
  Tensor y = ffn.forward(x, {}).value();
  REQUIRE(y.shape() == Shape{2, 3, 8});
  // row 4 by hand
  const Tensor w1 = ffn.w1->weight.value(), w3 = ffn.w3->weight.value(), w2 = ffn.w2->weight.value();
  const float* xr = x.data() + 4 * 8;
  for (int64_t o = 0; o < 8; ++o) {
    double acc = 0;
    for (int64_t h = 0; h < 6; ++h) {
      double a = 0, b = 0;
      for (int64_t i = 0; i < 8; ++i) {
        a += double(w1[h * 8 + i]) * xr[i];
        b += double(w3[h * 8 + i]) * xr[i];
      }
      acc += double(w2[o * 6 + h]) * a * b;
    }
    CHECK(y[4 * 8 + o] == doctest::Approx(acc).epsilon(1e-4));
  }
  CHECK_GRADCHECK([&] { return ffn.forward(x, {}); }, with_input(x, parameters_of(ffn)));
}

TEST_CASE("cosine router: logits = cos(P x, w_e) / temperature, routing, gradients") {
  register_components();
  const int64_t d = 8, N = 6;
  moelab::Rng init(5);
  nn::MoeConfig moe = router_config({{"proj_dim", 6}, {"temperature", 0.5}});
  auto made = nn::make_router("cosine", {moe, d, init});
  auto router = std::dynamic_pointer_cast<custom::CosineRouter>(made);
  REQUIRE(router);
  std::vector<std::string> names;
  for (const auto& p : router->named_parameters()) names.push_back(p.name);
  // a module's own parameters first, then its children's (depth first), in registration order
  CHECK(names == std::vector<std::string>{"expert_embed", "log_scale", "proj.weight", "proj.bias"});
  CHECK(router->log_scale.item() == doctest::Approx(std::log(2.0)));

  Var x(randn({N, d}, 6), true);
  {  // values: cos * 2 by hand at the initial temperature 0.5
    moelab::autograd::NoGrad no_grad;
    Tensor h = ops::linear(x, router->proj->weight, router->proj->bias).value();
    Tensor w = router->expert_embed.value();
    Tensor logits = router->logits(x).value();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t e = 0; e < 4; ++e) {
        double dot = 0;
        for (int64_t j = 0; j < 6; ++j) dot += double(h[n * 6 + j]) * w[e * 6 + j];
        CHECK(logits[n * 4 + e] == doctest::Approx(2.0 * dot / row_norm(h, n) / row_norm(w, e)).epsilon(1e-4));
      }
  }
  {  // routing: k = 2 assignments per token, slot priority, renormalised gates, both losses
    nn::Routing r = router->route(x, {});
    REQUIRE(r.assignments.size() == size_t(N * 2));
    for (int64_t a = 0; a < N * 2; ++a) {
      CHECK(r.assignments[a].token == a % N);  // slot order: all first choices, then second ones
      CHECK(r.assignments[a].gate_index == (a % N) * 2 + a / N);
    }
    for (int64_t n = 0; n < N; ++n) {
      CHECK(r.assignments[n].expert != r.assignments[N + n].expert);
      CHECK(r.gates.value()[2 * n] + r.gates.value()[2 * n + 1] == doctest::Approx(1.0));
      CHECK(r.gates.value()[2 * n] >= r.gates.value()[2 * n + 1]);
    }
    REQUIRE(r.losses.size() == 2);
    CHECK(r.losses[0].name == "switch");
    CHECK(r.losses[1].name == "z");
    CHECK(r.probs.shape() == Shape{N, 4});
    moelab::autograd::clear_tape();
  }

  randomize(*router, 0.5f, 7);
  router->log_scale.data()[0] = 0.9f;
  const auto wrt = with_input(x, parameters_of(*router));
  SUBCASE("logits") { CHECK_GRADCHECK([&] { return router->logits(x); }, wrt); }
  SUBCASE("gates") { CHECK_GRADCHECK([&] { return router->route(x, {}).gates; }, wrt); }
  SUBCASE("switch + z losses") {
    CHECK_GRADCHECK(
        [&] {
          nn::Routing r = router->route(x, {});
          return ops::add(r.losses[0].value, r.losses[1].value);
        },
        wrt);
  }
  SUBCASE("above the temperature floor, log_scale gets no gradient") {
    router->log_scale.data()[0] = 5.f;  // > log(1 / 0.01): the scale is clamped at 100
    CHECK_GRADCHECK([&] { return router->logits(x); }, {{"log_scale", router->log_scale}},
                    {.allow_zero_gradient = true});  // zero is the expected value here
    moelab::autograd::backward(ops::sum(router->logits(x)));
    CHECK(router->log_scale.grad()[0] == 0.f);
    CHECK(router->expert_embed.has_grad());
  }
}

TEST_CASE("cosine router: fixed temperature, bad params") {
  register_components();
  moelab::Rng init(8);
  auto fixed = std::dynamic_pointer_cast<custom::CosineRouter>(
      nn::make_router("cosine", {router_config({{"proj_dim", 5}, {"temperature", 0.25}, {"learn_temperature", false}}), 8, init}));
  CHECK(!fixed->log_scale.defined());
  CHECK(fixed->named_parameters().size() == 3);
  randomize(*fixed, 0.5f, 10);
  Var x(randn({3, 8}, 9), true);
  Tensor logits;
  {
    moelab::autograd::NoGrad no_grad;
    logits = fixed->logits(x).value();
  }
  for (int64_t i = 0; i < logits.numel(); ++i) CHECK(std::abs(logits[i]) <= 4.f + 1e-5f);  // |cos| / 0.25
  CHECK_GRADCHECK([&] { return fixed->logits(x); }, with_input(x, parameters_of(*fixed)));

  CHECK_THROWS_WITH_AS(nn::make_router("cosine", {router_config({{"temp", 1}}), 8, init}),
                       doctest::Contains("unknown key \"temp\""), moelab::Error);
  CHECK_THROWS_AS(nn::make_router("cosine", {router_config({{"temperature", 0.001}}), 8, init}), moelab::Error);
}

}  // TEST_SUITE("gradcheck")

TEST_SUITE("training") {

TEST_CASE("20 steps of custom_layer.json: loss falls, checkpoint names, metrics, reload") {
  register_components();
  const std::string out = "runs/test_custom";  // under the test's working directory (the build folder)
  fs::remove_all(out);
  train::RunConfig cfg = train::load_config(
      CUSTOM_LAYER_CONFIG, {"train.max_iters=20", "train.log_interval=1", "train.eval_interval=20",
                            "train.eval_iters=2", "train.checkpoint_interval=0", "train.out_dir=" + out});
  REQUIRE(cfg.model.ffn.type == "bilinear_glu");
  REQUIRE(cfg.model.moe.router.type == "cosine");
  const int E = cfg.model.moe.num_experts;
  const int64_t d = cfg.model.n_embd, hidden = cfg.model.ffn.params.at("hidden").get<int64_t>();
  const int64_t P = cfg.model.moe.router.params.at("proj_dim").get<int64_t>();
  train::run_training(cfg, {}, std::cout);

  // the loss falls
  std::vector<double> losses;
  bool logged_routing = false, logged_switch = false;
  std::ifstream metrics(out + "/metrics.jsonl");
  REQUIRE(metrics);
  for (std::string line; std::getline(metrics, line);) {
    const auto row = nlohmann::json::parse(line);
    if (!row.contains("loss")) continue;
    losses.push_back(row.at("loss").get<double>());
    logged_routing = row.contains("moe") && row["moe"].contains("h1") && row["moe"]["h1"]["routed"].size() == size_t(E);
    logged_switch = row.contains("aux.switch.h1");
  }
  REQUIRE(losses.size() == 20);
  double last5 = 0;
  for (size_t i = 15; i < 20; ++i) last5 += losses[i] / 5;
  MESSAGE("loss: first " << losses.front() << ", mean of the last 5 " << last5 << ", last " << losses.back());
  CHECK(last5 < losses.front());
  CHECK(logged_routing);  // moe.h1: the cosine router's layer, like any built-in router's
  CHECK(logged_switch);   // aux.switch.h1: the router's Switch loss

  // the new layers' parameters under their dotted names, with their shapes
  const auto st = train::read_safetensors(out + "/model.safetensors");
  auto shape_of = [&](const std::string& name) {
    INFO(name);
    REQUIRE(st.tensors.count(name) == 1);
    return st.tensors.at(name).shape();
  };
  for (int layer : {0, 2}) {
    const std::string p = "transformer.h." + std::to_string(layer) + ".mlp.";
    CHECK(shape_of(p + "w1.weight") == Shape{hidden, d});
    CHECK(shape_of(p + "w3.weight") == Shape{hidden, d});
    CHECK(shape_of(p + "w2.weight") == Shape{d, hidden});
    CHECK(st.tensors.count(p + "c_fc.weight") == 0);
  }
  for (int layer : {1, 3}) {
    const std::string p = "transformer.h." + std::to_string(layer) + ".moe.";
    CHECK(shape_of(p + "router.proj.weight") == Shape{P, d});
    CHECK(shape_of(p + "router.proj.bias") == Shape{P});
    CHECK(shape_of(p + "router.expert_embed") == Shape{E, P});
    CHECK(shape_of(p + "router.log_scale") == Shape{1});
    CHECK(st.tensors.count(p + "experts." + std::to_string(E - 1) + ".c_fc.weight") == 1);
  }
  // the temperature is learned
  const double init_log_scale = std::log(1.0 / cfg.model.moe.router.params.at("temperature").get<double>());
  CHECK(st.tensors.at("transformer.h.1.moe.router.log_scale")[0] != doctest::Approx(init_log_scale).epsilon(1e-7));

  // and the checkpoint loads back into a model built from the registered kinds
  train::LoadedModel lm = train::load_checkpoint(out);
  CHECK(lm.config.model.moe.router.type == "cosine");
  CHECK(lm.model->moe_layers() == std::vector<int>{1, 3});
  auto* w1 = lm.model->find_parameter("transformer.h.2.mlp.w1.weight");
  REQUIRE(w1);
  CHECK(w1->var.value()[3] == st.tensors.at("transformer.h.2.mlp.w1.weight")[3]);
}

}  // TEST_SUITE("training")
