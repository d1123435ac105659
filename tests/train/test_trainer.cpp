// What docs/ says the training loop does, checked on the weights it writes: global-norm clipping
// scales the update (step(lr, scale)), the lifelong KL term enters the gradient with its weight,
// a resume past max_iters changes nothing, and a non-causal router is warned about.
// One SGD step without momentum or decay makes the update exactly -lr * scale * gradient.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "test_data.h"
#include "train/config/run_config.h"
#include "train/io/safetensors.h"
#include "train/trainer.h"

namespace train = moelab::train;
namespace fs = std::filesystem;
using moelab::Tensor;
using Weights = std::map<std::string, Tensor>;

namespace {

struct Fixture {
  moelab::testing::TempDir tmp{"moelab_trainer_claims"};
  fs::path dir = tmp.path;
  Fixture() { tmp.write("data.txt", moelab::testing::numbered_lines("a rose by any other name would smell as sweet", 300)); }

  // A small MoE model trained with plain SGD (no momentum, no decay, constant lr 0.1).
  train::RunConfig config(const std::string& out, int steps, const std::string& extra = "{}") const {
    nlohmann::json j = nlohmann::json::parse(R"({
      "model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16,
                "moe": {"num_experts": 4, "top_k": 2, "every": 2, "router": {"type": "topk", "renorm": true}}},
      "train": {"batch_size": 4, "eval_interval": 100, "eval_iters": 1, "log_interval": 1},
      "optim": {"type": "sgd", "momentum": 0, "weight_decay": 0, "lr": 0.1, "warmup_iters": 0, "decay_lr": false,
                "grad_clip": 0}})");
    j["data"]["train"] = (dir / "data.txt").string();
    j["train"]["out_dir"] = (dir / out).string();
    j["train"]["max_iters"] = steps;
    j.merge_patch(nlohmann::json::parse(extra));
    return train::parse_config(j);
  }
  Weights train_and_read(const train::RunConfig& cfg, std::ostream& log) const {
    train::run_training(cfg, {}, log);
    return train::read_safetensors(cfg.train.out_dir + "/model.safetensors").tensors;
  }
  double logged(const std::string& out, const std::string& key) const {
    std::ifstream in(dir / out / "metrics.jsonl");
    std::string line;
    double v = NAN;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);
      if (j.contains(key)) v = j[key].get<double>();
    }
    return v;
  }
};

// after - before, tensor by tensor
Weights delta(const Weights& after, const Weights& before) {
  Weights d;
  for (const auto& [name, t] : after) {
    Tensor x = t.clone();
    for (int64_t i = 0; i < x.numel(); ++i) x[i] -= before.at(name)[i];
    d[name] = x;
  }
  return d;
}

// |a - b| within float rounding of weights of size |w| (the deltas are differences of two
// rounded weights) plus a relative tolerance.
bool close(double a, double b, float w, double rel) {
  const float m = std::abs(w) + 1e-3f;
  return std::abs(a - b) <= 4.0 * (std::nextafter(m, INFINITY) - m) + rel * std::abs(b);
}

double norm(const Weights& w) {
  double s = 0;
  for (const auto& [name, t] : w)
    for (int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(t[i]) * t[i];
  return std::sqrt(s);
}

}  // namespace

TEST_CASE("clipping: the update is scaled by grad_clip / norm when the global norm exceeds it") {
  Fixture f;
  std::ostringstream log;
  const Weights w0 = f.train_and_read(f.config("init", 0), log);
  const Weights free = delta(f.train_and_read(f.config("free", 1), log), w0);
  const double g = f.logged("free", "grad_norm");
  REQUIRE(g > 0);
  CHECK(norm(free) == doctest::Approx(0.1 * g).epsilon(1e-4));  // unclipped: |lr * gradient|
  const train::RunConfig clip_cfg =
      f.config("clipped", 1, R"({"optim": {"grad_clip": )" + std::to_string(g / 4) + "}}");
  const double clip = clip_cfg.optim.grad_clip;  // as parsed (a float)
  const Weights clipped = delta(f.train_and_read(clip_cfg, log), w0);
  CHECK(f.logged("clipped", "grad_norm") == doctest::Approx(g).epsilon(1e-6));  // logged before clipping
  const double scale = clip / (g + 1e-6);
  CHECK(norm(clipped) == doctest::Approx(0.1 * clip).epsilon(1e-4));
  int64_t off = 0;
  for (const auto& [name, d] : clipped)
    for (int64_t i = 0; i < d.numel(); ++i) off += !close(d[i], scale * free.at(name)[i], w0.at(name)[i], 1e-3);
  CHECK(off == 0);  // every element: the same update, scaled
  // a clip above the norm changes nothing
  const Weights loose = delta(f.train_and_read(f.config("loose", 1, R"({"optim": {"grad_clip": 1e6}})"), log), w0);
  for (const auto& [name, d] : loose)
    for (int64_t i = 0; i < d.numel(); ++i) REQUIRE(d[i] == free.at(name)[i]);
}

TEST_CASE("lifelong KL: the term reaches the student's gradient, linearly in kl_weight") {
  Fixture f;
  std::ostringstream log;
  f.train_and_read(f.config("teacher", 3, R"({"train": {"seed": 1}})"), log);
  const Weights student = f.train_and_read(f.config("student", 3, R"({"train": {"seed": 2}})"), log);
  auto stage = [&](const std::string& out, double kl_weight) {
    const std::string extra = R"({"lifelong": {"init_from": ")" + (f.dir / "student").string() + R"(", "teacher": ")" +
                              (f.dir / "teacher").string() +
                              R"(", "freeze_old_experts": false, "freeze_old_router_rows": false, "kl_weight": )" +
                              std::to_string(kl_weight) + "}}";
    return delta(f.train_and_read(f.config(out, 1, extra), log), student);
  };
  const Weights d0 = stage("kl0", 0), d1 = stage("kl1", 1), d2 = stage("kl2", 2);
  CHECK(f.logged("kl1", "kl") > 1e-3);  // the teacher is another model: the KL is not zero
  double kl_part = 0;
  int64_t off = 0;
  for (const auto& [name, t] : d1)
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double one = t[i] - d0.at(name)[i], two = d2.at(name)[i] - d0.at(name)[i];
      kl_part = std::max(kl_part, std::abs(one));
      // lr * w * dKL/dparam, up to the float rounding of backpropagating CE + w KL together
      const bool ok = close(two, 2 * one, student.at(name)[i], 1e-2) ||
                      std::abs(two - 2 * one) <= 1e-5 * std::max(std::abs(d0.at(name)[i]), std::abs(d2.at(name)[i]));
      if (!ok && off < 5) MESSAGE(name << "[" << i << "]: d0 " << d0.at(name)[i] << " d1 " << t[i] << " d2 " << d2.at(name)[i]);
      off += !ok;
    }
  CHECK(off == 0);
  CHECK(kl_part > 1e-4);  // and it is not negligible
  CHECK(log.str().find("lifelong: output regularisation toward") != std::string::npos);
}

TEST_CASE("resume past max_iters: nothing trains, the checkpoint keeps its step, the log reads as one run") {
  Fixture f;
  std::ostringstream log;
  train::RunConfig cfg = f.config("run", 6, R"({"train": {"eval_interval": 4, "checkpoint_interval": 3}})");
  train::run_training(cfg, {}, log);
  const size_t folders = std::distance(fs::directory_iterator(f.dir / "run" / "checkpoints"), fs::directory_iterator{});
  cfg.train.max_iters = 4;
  train::TrainOptions resume;
  resume.resume = true;
  train::run_training(cfg, resume, log);
  CHECK(nlohmann::json::parse(std::ifstream(f.dir / "run" / "model.json"))["step"] == 6);
  CHECK(std::distance(fs::directory_iterator(f.dir / "run" / "checkpoints"), fs::directory_iterator{}) ==
        static_cast<std::ptrdiff_t>(folders));
  std::ifstream in(f.dir / "run" / "metrics.jsonl");
  std::string line;
  std::vector<int> eval_steps, train_steps;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("val_loss")) eval_steps.push_back(j["step"].get<int>());
    if (j.contains("loss")) train_steps.push_back(j["step"].get<int>());
  }
  CHECK(eval_steps == std::vector<int>{0, 4, 6});  // the final eval is there once, not dropped
  CHECK(train_steps == std::vector<int>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("a router that is not causal (expert choice) is warned about; causal ones are not") {
  Fixture f;
  std::ostringstream ec, topk;
  train::run_training(f.config("ec", 1, R"({"model": {"moe": {"router": {"type": "expert_choice", "renorm": false}}}})"), {},
                      ec);
  CHECK(ec.str().find("warning: layer 1's router (expert_choice) is not causal") != std::string::npos);
  train::run_training(f.config("topk", 1), {}, topk);
  CHECK(topk.str().find("not causal") == std::string::npos);
}

TEST_CASE("top-1 with renormalised gates is warned about: its gate is always 1") {
  Fixture f;
  std::ostringstream renorm, plain;
  train::run_training(f.config("renorm1", 1, R"({"model": {"moe": {"top_k": 1, "router": {"renorm": true}}}})"), {},
                      renorm);
  CHECK(renorm.str().find("warning: top_k 1 with model.moe.router.renorm: the one kept gate is always 1") !=
        std::string::npos);
  train::run_training(f.config("plain1", 1, R"({"model": {"moe": {"top_k": 1, "router": {"renorm": false}}}})"), {},
                      plain);
  CHECK(plain.str().find("gate is always 1") == std::string::npos);
}

TEST_CASE("bits per byte: = val loss / ln 2 for bytes; below it for BPE, whose tokens hold several bytes") {
  Fixture f;
  std::ostringstream log;
  train::run_training(f.config("bytes", 2, R"({"data": {"tokenizer": "byte"}})"), {}, log);
  const double loss = f.logged("bytes", "val_loss"), bpb = f.logged("bytes", "val_bpb");
  CHECK(bpb == doctest::Approx(loss / std::log(2.0)).epsilon(1e-12));
  CHECK(log.str().find("val bpb") != std::string::npos);
  // a BPE learned on the fly: the vocabulary is 256 + merges + <|endoftext|>, and bpb < loss / ln 2
  train::run_training(f.config("bpe", 2, R"({"data": {"tokenizer": "bpe", "vocab_size": 300}})"), {}, log);
  const double bpe_loss = f.logged("bpe", "val_loss"), bpe_bpb = f.logged("bpe", "val_bpb");
  CHECK(bpe_bpb > 0);
  CHECK(bpe_bpb < 0.8 * bpe_loss / std::log(2.0));  // the numbered lines' words merge into tokens of >= 2 bytes
  // the tokenizer travels in the checkpoint: eval, generate and resume need no extra file
  std::ifstream side_file(f.dir / "bpe" / "model.json");
  const nlohmann::json side = nlohmann::json::parse(side_file);
  CHECK(side.at("tokenizer").at("type") == "bpe");
  CHECK(side.at("tokenizer").at("tokenizer_json").at("model").at("vocab").size() == 300);
  // and --resume continues it with that tokenizer (it is not learned again)
  train::TrainOptions resume;
  resume.resume = true;
  CHECK_NOTHROW(train::run_training(f.config("bpe", 4, R"({"data": {"tokenizer": "bpe", "vocab_size": 300}})"), resume, log));
  CHECK_THROWS_WITH_AS(train::run_training(f.config("bpe", 5, R"({"data": {"tokenizer": "char"}})"), resume, log),
                       doctest::Contains("--resume: data.tokenizer is \"bpe\" in the checkpoint but \"char\""),
                       moelab::Error);
}
