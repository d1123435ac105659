// A Lifelong-MoE stage: frozen old experts and frozen old router rows stay bitwise unchanged
// through training with weight decay on, their optimizer state never moves, new parts train, and
// the KL regulariser toward the previous model is applied and logged.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "train/checkpoint/checkpoint.h"
#include "train/expand.h"
#include "train/io/safetensors.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace train = moelab::train;
namespace fs = std::filesystem;
using moelab::Tensor;

TEST_CASE("lifelong stage: frozen tensors and row slices are bitwise unchanged, new parts learn, KL logged") {
  const fs::path dir = fs::temp_directory_path() / "moelab_lifelong";
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream a(dir / "a.txt"), b(dir / "b.txt");
    for (int i = 0; i < 300; ++i) a << "to be or not to be, that is the question " << i << "\n";
    for (int i = 0; i < 300; ++i) b << "the quick brown fox jumps over the lazy dog " << i << "\n";
  }
  auto write_config = [&](const std::string& name, const std::string& body) {
    std::ofstream(dir / name) << body;
    return train::load_config((dir / name).string());
  };
  // stage A: a small MoE model on a.txt (byte tokenizer: both texts share one vocabulary)
  train::RunConfig a = write_config("a.json", R"({
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16,
              "moe": {"num_experts": 2, "top_k": 1, "every": 2, "router": {"type": "topk", "renorm": true}}},
    "data": {"train": ")" + (dir / "a.txt").string() + R"(", "tokenizer": "byte"},
    "train": {"batch_size": 4, "max_iters": 10, "eval_interval": 10, "eval_iters": 1, "log_interval": 5,
              "out_dir": ")" + (dir / "A").string() + R"("}})");
  std::ostringstream log;
  train::run_training(a, {}, log);
  train::ExpandOptions x;
  x.checkpoint = (dir / "A").string();
  x.out = (dir / "A2").string();
  x.add_experts = 2;
  train::run_expand(x, log);
  // stage B on b.txt: weight decay on, KL toward A
  train::RunConfig b = write_config("b.json", R"({
    "data": {"train": ")" + (dir / "b.txt").string() + R"(", "tokenizer": "byte"},
    "train": {"batch_size": 4, "max_iters": 8, "eval_interval": 8, "eval_iters": 1, "log_interval": 4,
              "out_dir": ")" + (dir / "B").string() + R"("},
    "optim": {"weight_decay": 0.5, "lr": 0.01, "warmup_iters": 0, "lr_decay_iters": 8},
    "lifelong": {"init_from": ")" + (dir / "A2").string() + R"(", "kl_weight": 0.5, "kl_temperature": 2.0}})");
  train::run_training(b, {}, log);
  CHECK(log.str().find("lifelong: froze") != std::string::npos);

  auto before = train::read_safetensors((dir / "A2" / "model.safetensors").string()).tensors;
  auto after = train::read_safetensors((dir / "B" / "model.safetensors").string()).tensors;
  auto same = [&](const std::string& name) {
    const Tensor &p = before.at(name), &q = after.at(name);
    return p.numel() == q.numel() && std::memcmp(p.data(), q.data(), p.numel() * 4) == 0;
  };
  for (const char* n : {"transformer.h.1.moe.experts.0.c_fc.weight", "transformer.h.1.moe.experts.1.c_proj.weight",
                        "transformer.h.1.moe.experts.1.c_fc.bias"})
    CHECK_MESSAGE(same(n), n);
  CHECK_FALSE(same("transformer.h.1.moe.experts.2.c_fc.weight"));  // new experts are trainable (decay moves them before they are routed)
  CHECK_FALSE(same("transformer.h.0.attn.c_attn.weight"));           // non-expert weights are not frozen here
  const Tensor &r0 = before.at("transformer.h.1.moe.router.weight"), &r1 = after.at("transformer.h.1.moe.router.weight");
  REQUIRE(r0.size(0) == 4);
  CHECK(std::memcmp(r0.data(), r1.data(), 2 * 16 * 4) == 0);  // old rows: exact, despite weight decay 0.5
  bool new_rows_moved = false;
  for (int64_t i = 2 * 16; i < 4 * 16; ++i) new_rows_moved = new_rows_moved || r0[i] != r1[i];
  CHECK(new_rows_moved);
  // optimizer state: none for frozen experts; zero moments on the frozen router rows
  auto opt = train::read_safetensors((dir / "B" / "optimizer.safetensors").string()).tensors;
  CHECK(opt.count("exp_avg.transformer.h.1.moe.experts.0.c_fc.weight") == 0);
  CHECK(opt.count("exp_avg.transformer.h.1.moe.experts.2.c_fc.weight") == 1);
  const Tensor& m = opt.at("exp_avg.transformer.h.1.moe.router.weight");
  const Tensor& v = opt.at("exp_avg_sq.transformer.h.1.moe.router.weight");
  for (int64_t i = 0; i < 2 * 16; ++i) CHECK((m[i] == 0.f && v[i] == 0.f));
  // the KL term is logged on training rows
  std::ifstream metrics(dir / "B" / "metrics.jsonl");
  std::string line;
  int kl_rows = 0;
  while (std::getline(metrics, line)) {
    auto j = nlohmann::json::parse(line);
    if (!j.contains("kl")) continue;
    ++kl_rows;
    CHECK(j["kl"].get<double>() >= 0);
  }
  CHECK(kl_rows == 2);
  // forgetting is one command: the stage-B model on both stages' held-out data
  train::EvalOptions eo;
  eo.val_of = {(dir / "A").string(), (dir / "B").string()};
  eo.batch = 2;
  eo.batches = 2;
  std::ostringstream eval_out;
  const std::vector<double> losses = train::run_eval((dir / "B").string(), eo, eval_out);
  REQUIRE(losses.size() == 2);
  CHECK(eval_out.str().find("val split of " + (dir / "A").string()) != std::string::npos);
  CHECK(losses[0] != losses[1]);
  CHECK(losses[0] > 0);
  fs::remove_all(dir);
}
