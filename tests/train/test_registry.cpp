// Components registered at run time (an FFN kind, a router, an aux loss, an optimizer) are built
// from the JSON config by name and show up in named parameters, checkpoints and metrics exactly
// like the built-in ones.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "layers/gpt.h"
#include "layers/moe/aux_losses.h"
#include "train/checkpoint/checkpoint.h"
#include "optim/registry.h"
#include "train/io/safetensors.h"
#include "train/trainer.h"

namespace nn = moelab::nn;
namespace ops = moelab::ops;
namespace train = moelab::train;
namespace fs = std::filesystem;
using moelab::Tensor;
using moelab::autograd::Var;

namespace {

// A bilinear GLU FFN (Shazeer 2020): y = W2 ((W1 x) * (W3 x)), no activation.
class BilinearFfn : public nn::FeedForward {
 public:
  explicit BilinearFfn(const nn::FfnArgs& a) {
    const int64_t d = a.model.n_embd, h = a.model.ffn.params.value("hidden", 2 * d);
    w1 = register_module("w1", std::make_shared<nn::Linear>(d, h, false, 0.02f, a.init_rng));
    w3 = register_module("w3", std::make_shared<nn::Linear>(d, h, false, 0.02f, a.init_rng));
    w2 = register_module("w2", std::make_shared<nn::Linear>(h, d, false, 0.02f, a.init_rng));
  }
  Var forward(const Var& x, const nn::FfnContext&) override {
    return w2->forward(ops::mul(w1->forward(x), w3->forward(x)));
  }
  std::shared_ptr<nn::Linear> w1, w2, w3;
};

// Top-1 over softmax(W x / temperature), temperature from model.moe.router.params.
class TemperatureRouter : public nn::LinearRouter {
 public:
  explicit TemperatureRouter(const nn::RouterArgs& a)
      : LinearRouter(a), temperature_(a.moe.router.params.value("temperature", 1.0)) {}
  nn::Routing route(const Var& x, const nn::RouteContext&) override {
    const int64_t N = x.size(0);
    Var logits = ops::scale(ops::linear(x, weight), static_cast<float>(1.0 / temperature_));
    Var probs = ops::softmax(logits);
    ops::TopK top = ops::topk(probs, 1);
    nn::Routing r;
    for (int64_t n = 0; n < N; ++n) r.assignments.push_back({int32_t(n), top.indices[n], int32_t(n)});
    r.gates = ops::reshape(top.values, {N});
    r.probs = probs.value();
    r.logits = logits;
    r.prob = probs;
    return r;
  }

 private:
  double temperature_;
};

// Mean per-token router entropy (a registered aux loss).
Var router_entropy(const nn::AuxLossInput& in) {
  Var p = in.routing.prob;
  return ops::scale(ops::sum(ops::mul(p, ops::log_softmax(in.routing.logits))), -1.f / static_cast<float>(p.size(0)));
}

struct PlainSgd : moelab::optim::Optimizer {
  static inline int steps_taken = 0;  // across instances: the trainer must call this one, not AdamW
  PlainSgd(std::vector<moelab::optim::ParamRef> p, float scale) : Optimizer(std::move(p)), scale_(scale) {}
  void step(float lr, float grad_scale) override {
    ++step_;
    ++steps_taken;
    for (auto& p : params_)
      if (!p.frozen && p.var.has_grad())
        for (int64_t i = 0; i < p.var.numel(); ++i) p.var.data()[i] -= scale_ * lr * grad_scale * p.var.grad().data()[i];
  }
  std::map<std::string, Tensor> state() const override { return {}; }
  void load_state(const std::map<std::string, Tensor>&, int64_t s) override { step_ = s; }
  float scale_;
};

void register_test_components() {
  nn::register_ffn("test_bilinear", [](const nn::FfnArgs& a) { return std::make_shared<BilinearFfn>(a); }, "ffn");
  nn::register_router("test_temperature", [](const nn::RouterArgs& a) { return std::make_shared<TemperatureRouter>(a); });
  nn::register_aux_loss("test_entropy", router_entropy);
  moelab::optim::register_optimizer("test_sgd", [](std::vector<moelab::optim::ParamRef> p, const moelab::optim::OptimConfig& o) {
    return std::make_unique<PlainSgd>(std::move(p), o.params.value("scale", 1.0f));
  });
}

}  // namespace

TEST_CASE("registered FFN kind, router, aux loss and optimizer: config, names, checkpoint, metrics") {
  register_test_components();
  const fs::path dir = fs::temp_directory_path() / "moelab_registry";
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream text(dir / "data.txt");
    for (int i = 0; i < 200; ++i) text << "the quick brown fox jumps over the lazy dog " << i << "\n";
  }
  const std::string config = R"({
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16,
              "ffn": {"type": "test_bilinear", "params": {"hidden": 24}},
              "moe": {"num_experts": 3, "top_k": 1, "every": 2,
                      "router": {"type": "test_temperature", "params": {"temperature": 2.0}},
                      "loss": {"switch": 0, "z": 0, "test_entropy": 0.05}}},
    "data": {"train": ")" + (dir / "data.txt").string() + R"("},
    "train": {"batch_size": 4, "max_iters": 20, "eval_interval": 10, "eval_iters": 2, "log_interval": 10,
              "out_dir": ")" + (dir / "run").string() + R"("},
    "optim": {"type": "test_sgd", "lr": 0.05, "warmup_iters": 0, "lr_decay_iters": 20, "params": {"scale": 2.0}}})";
  std::ofstream(dir / "cfg.json") << config;
  train::RunConfig cfg = train::load_config((dir / "cfg.json").string());
  CHECK(cfg.model.ffn.type == "test_bilinear");
  CHECK(cfg.model.moe.loss.extra.at("test_entropy") == doctest::Approx(0.05));

  cfg.model.vocab_size = 20;
  nn::GPT model(cfg.model, 1);
  CHECK(model.find_parameter("transformer.h.0.ffn.w1.weight")->var.shape() == moelab::Shape{24, 16});
  CHECK(model.find_parameter("transformer.h.1.moe.router.weight")->var.shape() == moelab::Shape{3, 16});
  CHECK(model.find_parameter("transformer.h.1.moe.experts.2.c_fc.weight") != nullptr);
  CHECK(model.find_parameter("transformer.h.0.mlp.c_fc.weight") == nullptr);

  std::ostringstream log;
  PlainSgd::steps_taken = 0;
  train::run_training(cfg, {}, log);
  CHECK(PlainSgd::steps_taken == 20);  // the registered optimizer made every update
  const train::SafeTensors opt_state = train::read_safetensors((dir / "run" / "optimizer.safetensors").string());
  CHECK(opt_state.tensors.empty());  // its state (none), not AdamW's moments
  CHECK(opt_state.metadata.at("step") == "20");
  // checkpoint: the custom layer's tensors under their dotted names, and it loads back
  train::SafeTensors st = train::read_safetensors((dir / "run" / "model.safetensors").string());
  CHECK(st.tensors.count("transformer.h.0.ffn.w3.weight") == 1);
  CHECK(st.tensors.count("transformer.h.1.moe.router.weight") == 1);
  train::LoadedModel lm = train::load_checkpoint((dir / "run").string());
  CHECK(lm.config.model.moe.router.params.value("temperature", 0.0) == doctest::Approx(2.0));
  // metrics: the registered loss per layer and the custom router's routing metrics
  std::ifstream metrics(dir / "run" / "metrics.jsonl");
  std::string line;
  int train_rows = 0, eval_rows = 0;
  while (std::getline(metrics, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) {
      ++train_rows;
      CHECK(j.contains("aux.test_entropy.h1"));
      CHECK(j["aux.test_entropy.h1"].get<double>() > 0);
      CHECK(j["moe"]["h1"]["routed"].size() == 3);
      CHECK(j["moe"]["h1"].contains("entropy_token"));
    }
    if (j.contains("val_loss")) {
      ++eval_rows;
      CHECK(j["moe"]["h1"]["tokens"].get<int64_t>() == 2 * 4 * 16);  // eval_iters x batch x block
    }
  }
  CHECK(train_rows == 2);
  CHECK(eval_rows == 3);
  fs::remove_all(dir);
}
