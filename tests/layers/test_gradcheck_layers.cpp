// Gradients through the layers: w.r.t. the input with gradcheck, and w.r.t. the module's own
// parameters (the Vars the module holds) by central finite differences on their values in place.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "layers/param_check.h"
#include "layers/gpt.h"

using moelab::IndexTensor;
using moelab::Rng;
using moelab::Shape;
using moelab::shape_str;
using moelab::Tensor;
using moelab::autograd::Var;
using moelab::testing::randint;
using moelab::testing::randn;
namespace nn = moelab::nn;
namespace ops = moelab::ops;
using namespace moelab::testing;
namespace ag = moelab::autograd;
using VarList = std::vector<Var>;

TEST_CASE("layers gradcheck: Linear (with and without bias) w.r.t. input, weight and bias") {
  Rng rng(1);
  nn::Linear lin(8, 5, true, 0.5f, rng);
  randomize(lin, 10, 0.5f);
  Tensor x = randn({2, 3, 8}, 11);
  // The op on clones of the layer's parameters (the layer forwards to exactly this op).
  CHECK_GRADCHECK([](const VarList& v) { return ops::linear(v[0], v[1], v[2]); },
                  {x, lin.weight.value().clone(), lin.bias.value().clone()});
  Var direct = lin.forward(Var(x));
  Var via_op = ops::linear(Var(x), Var(lin.weight.value()), Var(lin.bias.value()));
  for (int64_t i = 0; i < direct.numel(); ++i) REQUIRE(direct.value()[i] == via_op.value()[i]);
  // The module itself: input, then its own parameter Vars.
  CHECK_GRADCHECK([&lin](const VarList& v) { return lin.forward(v[0]); }, {x});
  check_all_params(lin, [&] { return lin.forward(Var(x)); });

  nn::Linear nobias(8, 3, false, 0.5f, rng);
  CHECK_FALSE(nobias.bias.defined());
  CHECK(nobias.named_parameters().size() == 1);
  CHECK_GRADCHECK([&nobias](const VarList& v) { return nobias.forward(v[0]); }, {randn({4, 8}, 12)});
  Tensor x2 = randn({4, 8}, 13);
  check_all_params(nobias, [&] { return nobias.forward(Var(x2)); });
}

TEST_CASE("layers gradcheck: Norm layernorm and rmsnorm (with and without bias)") {
  struct Case {
    const char* kind;
    bool bias;
    size_t n_params;
  };
  for (Case c : {Case{"layernorm", true, 2}, Case{"layernorm", false, 1}, Case{"rmsnorm", true, 1},
                 Case{"rmsnorm", false, 1}}) {
    const std::string kind = c.kind;
    CAPTURE(kind);
    CAPTURE(c.bias);
    nn::Norm norm(c.kind, 8, c.bias);
    REQUIRE(norm.named_parameters().size() == c.n_params);

    // At init (weight 1, bias 0): layernorm rows have mean 0 and variance 1, rmsnorm rows have rms 1.
    Tensor x0 = randn({3, 8}, 20, 2.f);
    for (int64_t i = 0; i < x0.numel(); ++i) x0[i] += 0.7f;
    Var y0 = norm.forward(Var(x0));
    for (int64_t row = 0; row < 3; ++row) {
      double s = 0, s2 = 0;
      for (int j = 0; j < 8; ++j) {
        s += y0.value()[row * 8 + j];
        s2 += static_cast<double>(y0.value()[row * 8 + j]) * y0.value()[row * 8 + j];
      }
      if (std::string(c.kind) == "layernorm") CHECK(std::abs(s / 8) < 1e-5);
      CHECK(s2 / 8 - (std::string(c.kind) == "layernorm" ? (s / 8) * (s / 8) : 0.0) ==
            doctest::Approx(1.0).epsilon(1e-3));
    }

    randomize(norm, 21, 0.5f);
    Tensor x = randn({2, 3, 8}, 22);
    CHECK_GRADCHECK([&norm](const VarList& v) { return norm.forward(v[0]); }, {x});
    check_all_params(norm, [&] { return norm.forward(Var(x)); });
  }
}

TEST_CASE("layers gradcheck: CausalSelfAttention w.r.t. input and c_attn / c_proj") {
  nn::ModelConfig cfg = tiny_gpt_config();
  Rng rng(2);
  nn::CausalSelfAttention attn(cfg, rng);
  randomize(attn, 30, 0.4f);
  Tensor x = randn({2, 5, 8}, 31);
  CHECK_GRADCHECK([&attn](const VarList& v) { return attn.forward(v[0]); }, {x});
  check_all_params(attn, [&] { return attn.forward(Var(x)); });
  // Causality survives the projections: output 0..2 ignore token 3.
  Tensor x2 = x.clone();
  for (int j = 0; j < 8; ++j) x2[3 * 8 + j] += 1.f;
  Var a = attn.forward(Var(x)), b = attn.forward(Var(x2));
  ag::clear_tape();
  for (int64_t i = 0; i < 3 * 8; ++i) CHECK(a.value()[i] == b.value()[i]);
}

TEST_CASE("layers gradcheck: MLP for every activation") {
  for (const char* act : {"gelu", "gelu_tanh", "relu", "silu", "swiglu", "geglu", "reglu"}) {
    const std::string act_name = act;
    CAPTURE(act_name);
    Rng rng(3);
    nn::MLP mlp(8, 16, act, true, 0.02f, rng);
    const bool glu = act_name.size() > 3 && act_name.compare(act_name.size() - 3, 3, "glu") == 0;
    CHECK(mlp.c_fc->weight.shape() == Shape{glu ? 32 : 16, 8});
    CHECK(mlp.c_proj->weight.shape() == Shape{8, 16});
    randomize(mlp, 40, 0.5f);
    Tensor x = randn({2, 4, 8}, 41);
    CHECK_GRADCHECK([&mlp](const VarList& v) { return mlp.forward(v[0]); }, {x});
    check_all_params(mlp, [&] { return mlp.forward(Var(x)); });
  }
  Rng rng(3);
  CHECK_THROWS_AS(nn::MLP(8, 16, "tanh", true, 0.02f, rng), moelab::Error);
}

TEST_CASE("layers gradcheck: MLP activations compute the named function") {
  // With selector weights the MLP output is act(x) elementwise (or act(gate) * up for the gated ones).
  auto ref = [](const std::string& a, double v) {
    if (a == "relu") return v > 0 ? v : 0.0;
    if (a == "gelu") return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    if (a == "gelu_tanh") return 0.5 * v * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    return v / (1 + std::exp(-v));  // silu
  };
  for (const char* act : {"gelu", "gelu_tanh", "relu", "silu", "swiglu", "geglu", "reglu"}) {
    const std::string act_name = act;
    CAPTURE(act_name);
    const bool glu = act_name.size() > 3 && act_name.compare(act_name.size() - 3, 3, "glu") == 0;
    const std::string gate = act_name == "swiglu" ? "silu" : act_name == "geglu" ? "gelu" : "relu";  // of a gated one
    Rng rng(4);
    nn::MLP mlp(2, 2, act, false, 0.02f, rng);
    {
      ag::NoGrad ng;
      // c_fc picks inputs: plain h = (x0, x1); swiglu h = (gate x0, gate x1 | up x1, up x0). c_proj = identity.
      Tensor w = mlp.c_fc->weight.value();
      w.fill(0.f);
      if (!glu) {
        w[0] = 1.f;  // h0 = x0
        w[3] = 1.f;  // h1 = x1
      } else {
        // rows 0,1 = gate (x0, x1); rows 2,3 = up (x1, x0)
        w[0 * 2 + 0] = 1.f;
        w[1 * 2 + 1] = 1.f;
        w[2 * 2 + 1] = 1.f;
        w[3 * 2 + 0] = 1.f;
      }
      Tensor p = mlp.c_proj->weight.value();
      p.fill(0.f);
      p[0] = 1.f;  // out0 = h0
      p[3] = 1.f;  // out1 = h1
    }
    const float x0 = 0.8f, x1 = -1.3f;
    Var y = mlp.forward(Var(Tensor::from({1, 2}, {x0, x1})));
    if (!glu) {
      CHECK(y.value()[0] == doctest::Approx(ref(act, x0)).epsilon(1e-4));
      CHECK(y.value()[1] == doctest::Approx(ref(act, x1)).epsilon(1e-4));
    } else {
      CHECK(y.value()[0] == doctest::Approx(ref(gate, x0) * x1).epsilon(1e-4));
      CHECK(y.value()[1] == doctest::Approx(ref(gate, x1) * x0).epsilon(1e-4));
    }
  }
}

TEST_CASE("layers gradcheck: Block w.r.t. input and every parameter (layernorm and rmsnorm)") {
  for (const char* norm : {"layernorm", "rmsnorm"}) {
    const std::string norm_name = norm;
    CAPTURE(norm_name);
    nn::ModelConfig cfg = tiny_gpt_config();
    cfg.norm = norm;
    Rng rng(5), drop(6);
    nn::Block block(cfg, 0, 1, rng);
    randomize(block, 50, 0.4f);
    Tensor x = randn({2, 4, 8}, 51);
    CHECK_GRADCHECK([&](const VarList& v) { return block.forward(v[0], IndexTensor(), drop, nullptr); }, {x});
    check_all_params(block, [&] { return block.forward(Var(x), IndexTensor(), drop, nullptr); });
  }
}

TEST_CASE("layers gradcheck: whole tiny GPT cross-entropy w.r.t. wte (tied), wpe, attention, MLP and norms") {
  nn::GPT model(tiny_gpt_config(), 7);
  randomize(model, 60, 0.3f);
  IndexTensor ids = randint({2, 5}, 11, 61), targets = randint({2, 5}, 11, 62);
  auto loss = [&] { return model.forward(ids, targets).loss; };
  // The loss is a mean over 10 rows, so gradients are ~10x smaller than above: tighter atol.
  const double atol = 2e-4;
  for (const char* name :
       {"transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight",
        "transformer.h.0.ln_1.bias", "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
        "transformer.h.0.attn.c_proj.weight", "transformer.h.1.ln_2.weight", "transformer.h.1.mlp.c_fc.weight",
        "transformer.h.1.mlp.c_fc.bias", "transformer.h.1.mlp.c_proj.weight", "transformer.h.1.mlp.c_proj.bias",
        "transformer.ln_f.weight", "transformer.ln_f.bias"}) {
    const std::string param_name = name;
    CAPTURE(param_name);
    nn::Parameter* p = model.find_parameter(name);
    REQUIRE(p != nullptr);
    GradcheckResult r = param_fd(model, loss, p->var, 12, 99, atol, kRtol, 10 * atol);
    INFO(r.report);
    CHECK(r.ok);
  }
  // wpe rows beyond T = 5 are unused: exactly zero gradient.
  clear_grads(model);
  ag::backward(loss());
  const Tensor& gpe = model.transformer->wpe->weight.grad();
  for (int j = 0; j < 8; ++j) CHECK(gpe[5 * 8 + j] == 0.f);
  clear_grads(model);
}
