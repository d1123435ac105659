// moelab expand: growing experts keeps the old model's outputs (new experts start unrouted);
// upcycling a dense model gives the dense model's outputs at step 0; both round-trip on disk.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <iostream>
#include <sstream>

#include "autograd/tape.h"
#include "train/checkpoint/checkpoint.h"
#include "train/expand.h"

namespace train = moelab::train;
namespace fs = std::filesystem;
using moelab::IndexTensor;
using moelab::Tensor;

namespace {

std::string fresh_dir(const char* name) {
  fs::path p = fs::temp_directory_path() / name;
  fs::remove_all(p);
  return p.string();
}

// A saved model with random weights (no training needed for equivalence tests).
void save_model(const std::string& dir, const char* model_json, train::Tokenizer& tok) {
  train::RunConfig cfg = train::parse_config(nlohmann::json::parse(std::string(R"({"model": )") + model_json + "}"));
  cfg.model.vocab_size = tok.vocab_size();
  moelab::nn::GPT model(cfg.model, 7);
  moelab::Rng rng(9);
  for (auto& np : model.named_parameters()) rng.fill_normal(np.param->var.value(), 0.f, 0.3f);
  train::save_checkpoint(dir, model, nullptr, cfg, tok, {5, 0, {}});
}

Tensor logits_of(train::LoadedModel& lm, const IndexTensor& ids) {
  moelab::autograd::NoGrad ng;
  lm.model->set_training(false);
  return lm.model->forward(ids).logits.value().clone();
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, double(std::abs(a[i] - b[i])));
  return m;
}

}  // namespace

TEST_CASE("expand --add-experts: unrouted new experts leave the outputs unchanged; old tensors copied exactly") {
  std::string text = "abcdefghijklmnopqrstuvwxyz ,.";
  train::Tokenizer tok = train::Tokenizer::chars_of({&text});
  const std::string a = fresh_dir("moelab_expand_a"), b = fresh_dir("moelab_expand_b");
  save_model(a, R"({"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 12,
                    "moe": {"num_experts": 3, "top_k": 2, "every": 2, "router": {"type": "topk", "renorm": true}}})",
             tok);
  std::ostringstream log;
  train::ExpandOptions o;
  o.checkpoint = a;
  o.out = b;
  o.add_experts = 2;
  train::run_expand(o, log);
  train::LoadedModel old = train::load_checkpoint(a), grown = train::load_checkpoint(b);
  CHECK(grown.model->moe(1).num_experts() == 5);
  CHECK(grown.config.model.moe.experts_by_layer.at(1) == 5);
  CHECK(grown.sidecar["expanded"]["old_experts"]["1"] == 3);
  CHECK(grown.model->find_parameter("transformer.h.1.moe.router.weight")->var.shape() == moelab::Shape{5, 16});
  // old router rows and old experts bitwise equal; new experts are noisy copies of experts 0 and 1
  const Tensor& w_old = old.model->find_parameter("transformer.h.1.moe.router.weight")->var.value();
  const Tensor& w_new = grown.model->find_parameter("transformer.h.1.moe.router.weight")->var.value();
  CHECK(std::memcmp(w_old.data(), w_new.data(), 3 * 16 * 4) == 0);
  for (int64_t i = 3 * 16; i < 5 * 16; ++i) CHECK(w_new[i] == 0.f);
  const Tensor& e0 = grown.model->find_parameter("transformer.h.1.moe.experts.0.c_fc.weight")->var.value();
  const Tensor& e3 = grown.model->find_parameter("transformer.h.1.moe.experts.3.c_fc.weight")->var.value();
  const double d = max_abs_diff(e0, e3);
  CHECK(d > 0);
  CHECK(d < 0.05);  // noise 0.01 x std 0.3
  // same outputs on old data at step 0
  IndexTensor ids = IndexTensor::from({2, 12}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
  CHECK(max_abs_diff(logits_of(old, ids), logits_of(grown, ids)) < 1e-5);
  // the selection bias holds new experts out: never routed at step 0
  grown.model->set_training(false);
  {
    moelab::autograd::NoGrad ng;
    grown.model->forward(ids);
  }
  const auto& st = grown.model->moe(1).last_stats();
  CHECK(st.routed[3] == 0);
  CHECK(st.routed[4] == 0);
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST_CASE("expand --to-moe: sparse upcycling equals the dense model at step 0 (top-1 and top-2, renormalised)") {
  std::string text = "abcdefghijklmnopqrstuvwxyz ,.";
  train::Tokenizer tok = train::Tokenizer::chars_of({&text});
  const std::string a = fresh_dir("moelab_upcycle_a");
  save_model(a, R"({"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 12})", tok);
  train::LoadedModel dense = train::load_checkpoint(a);
  IndexTensor ids = IndexTensor::from({1, 12}, {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8});
  const Tensor ref = logits_of(dense, ids);
  for (int k : {1, 2}) {
    CAPTURE(k);
    const std::string b = fresh_dir("moelab_upcycle_b");
    train::ExpandOptions o;
    o.checkpoint = a;
    o.out = b;
    o.to_moe = 4;
    o.top_k = k;
    o.layers = {1};
    std::ostringstream log;
    train::run_expand(o, log);
    train::LoadedModel up = train::load_checkpoint(b);
    CHECK(up.model->moe_layers() == std::vector<int>{1});
    CHECK(up.model->find_parameter("transformer.h.1.moe.experts.3.c_proj.weight") != nullptr);
    CHECK(up.model->find_parameter("transformer.h.0.mlp.c_fc.weight") != nullptr);
    CHECK(max_abs_diff(ref, logits_of(up, ids)) < 1e-5);
    fs::remove_all(b);
  }
  train::ExpandOptions bad;
  bad.checkpoint = a;
  bad.out = fresh_dir("moelab_upcycle_bad");
  bad.add_experts = 2;
  CHECK_THROWS_WITH_AS(train::run_expand(bad, std::cerr), doctest::Contains("has no MoE layer"), moelab::Error);
  fs::remove_all(a);
}

TEST_CASE("expand errors: a dense layer, and a checkpoint whose config does not match its tensors") {
  std::string text = "abcdefghijklmnopqrstuvwxyz ,.";
  train::Tokenizer tok = train::Tokenizer::chars_of({&text});
  const std::string a = fresh_dir("moelab_expand_err");
  save_model(a, R"({"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 12,
                    "moe": {"num_experts": 3, "top_k": 1, "every": 2}})", tok);
  train::ExpandOptions o;
  o.checkpoint = a;
  o.out = fresh_dir("moelab_expand_err_out");
  o.add_experts = 1;
  o.layers = {0};
  CHECK_THROWS_WITH_AS(train::run_expand(o, std::cerr), doctest::Contains("layer 0 is not an MoE layer"), moelab::Error);
  CHECK_FALSE(fs::exists(o.out));  // nothing written
  // the sidecar claims 4 experts, the tensors hold 3
  nlohmann::json side = nlohmann::json::parse(std::ifstream(a + "/model.json"));
  side["config"]["model"]["moe"]["num_experts"] = 4;
  std::ofstream(a + "/model.json") << side.dump();
  o.layers.clear();
  CHECK_THROWS_WITH_AS(train::run_expand(o, std::cerr),
                       doctest::Contains("model.safetensors: missing tensor transformer.h.1.moe.experts.3.c_fc.bias (the "
                                         "checkpoint is from another architecture)"),
                       moelab::Error);
  fs::remove_all(a);
}
