// A Lifelong-MoE stage: frozen old experts and frozen old router rows stay bitwise unchanged
// through training with weight decay on, their optimizer state never moves, new parts train, and
// the KL regulariser toward the previous model is applied and logged.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"

#include "train/checkpoint/checkpoint.h"
#include "train/expand.h"
#include "train/io/safetensors.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace train = moelab::train;
namespace fs = std::filesystem;
using moelab::Tensor;

namespace {

// A new empty folder in the temp folder.
fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// `text` + " " + i + "\n" for i in [0, n)
void write_lines(const fs::path& file, const std::string& text, int n) {
  std::ofstream f(file);
  for (int i = 0; i < n; ++i) f << text << " " << i << "\n";
}

train::RunConfig config_file(const fs::path& path, const std::string& body) {
  std::ofstream(path) << body;
  return train::load_config(path.string());
}

// `moelab expand FROM --add-experts 2 --out TO`
void add_two_experts(const fs::path& from, const fs::path& to, std::ostream& log) {
  train::ExpandOptions x;
  x.checkpoint = from.string();
  x.out = to.string();
  x.add_experts = 2;
  train::run_expand(x, log);
}

}  // namespace

TEST_CASE("lifelong stage: frozen tensors and row slices are bitwise unchanged, new parts learn, KL logged") {
  const fs::path dir = fresh_dir("moelab_lifelong");
  write_lines(dir / "a.txt", "to be or not to be, that is the question", 300);
  write_lines(dir / "b.txt", "the quick brown fox jumps over the lazy dog", 300);
  auto write_config = [&](const std::string& name, const std::string& body) { return config_file(dir / name, body); };
  // stage A: a small MoE model on a.txt (byte tokenizer: both texts share one vocabulary)
  train::RunConfig a = write_config("a.json", R"({
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16,
              "moe": {"num_experts": 2, "top_k": 1, "every": 2, "router": {"type": "topk", "renorm": true}}},
    "data": {"train": ")" + (dir / "a.txt").string() + R"(", "tokenizer": "byte"},
    "train": {"batch_size": 4, "max_iters": 10, "eval_interval": 10, "eval_iters": 1, "log_interval": 5,
              "out_dir": ")" + (dir / "A").string() + R"("}})");
  std::ostringstream log;
  train::run_training(a, {}, log);
  add_two_experts(dir / "A", dir / "A2", log);
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

namespace {

// The eval rows of a run's metrics.jsonl.
std::vector<nlohmann::json> eval_rows(const fs::path& run) {
  std::ifstream metrics(run / "metrics.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(metrics, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("val_loss")) rows.push_back(j);
  }
  return rows;
}

// `moelab eval CKPT --val-of RUN --batch 1 --batches 1`: the loss on the first window of RUN's val split.
double eval_loss_on_val_of(const fs::path& ckpt, const fs::path& run) {
  train::EvalOptions eo;
  eo.val_of = {run.string()};
  eo.batch = 1;
  eo.batches = 1;
  std::ostringstream out;
  return train::run_eval(ckpt.string(), eo, out).at(0);
}

}  // namespace

TEST_CASE("lifelong stage: eval rows carry old_val_loss, at step 0 moelab eval's loss of init_from on A's val split") {
  const fs::path dir = fresh_dir("moelab_lifelong_old_val");
  write_lines(dir / "a.txt", "to be or not to be, that is the question", 300);
  write_lines(dir / "b.txt", "ZZQX QQZX XXZQ ZQQX", 300);
  // A's held-out split: one block of 16 + 1 bytes, so every sampled window (the trainer's eval batch
  // rows) is window 0, the one `moelab eval --batch 1 --batches 1` evaluates
  std::ofstream(dir / "a_val.txt") << "whether 'tis nobl";
  REQUIRE(fs::file_size(dir / "a_val.txt") == 17);
  auto write_config = [&](const std::string& name, const std::string& body) { return config_file(dir / name, body); };
  const std::string model = R"("model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16,
      "moe": {"num_experts": 2, "top_k": 1, "every": 2, "router": {"type": "topk", "renorm": true}}})";
  train::RunConfig a = write_config("a.json", "{" + model + R"(,
    "data": {"train": ")" + (dir / "a.txt").string() + R"(", "val": ")" + (dir / "a_val.txt").string() +
                                                  R"(", "tokenizer": "byte"},
    "optim": {"lr": 0.01, "warmup_iters": 0, "lr_decay_iters": 40},
    "train": {"batch_size": 4, "max_iters": 40, "eval_interval": 40, "eval_iters": 1, "log_interval": 20,
              "out_dir": ")" + (dir / "A").string() + R"("}})");
  std::ostringstream log;
  train::run_training(a, {}, log);

  // naive fine-tuning of A on B (one row per batch: the old val batch is window 0, as moelab eval's)
  train::RunConfig n = write_config("n.json", R"({
    "data": {"train": ")" + (dir / "b.txt").string() + R"(", "tokenizer": "byte"},
    "optim": {"lr": 0.01, "warmup_iters": 0, "lr_decay_iters": 30},
    "train": {"batch_size": 1, "max_iters": 30, "eval_interval": 10, "eval_iters": 2, "log_interval": 10,
              "out_dir": ")" + (dir / "N").string() + R"("},
    "lifelong": {"init_from": ")" + (dir / "A").string() + R"(", "freeze_old_experts": false,
                 "freeze_old_router_rows": false}})");
  std::ostringstream nlog;
  train::run_training(n, {}, nlog);
  CHECK(nlog.str().find("lifelong: old_val_loss on the val split of " + (dir / "A").string() + "'s data (17 tokens)") !=
        std::string::npos);
  CHECK(nlog.str().find("old val loss ") != std::string::npos);  // on the eval log line
  const std::vector<nlohmann::json> rows = eval_rows(dir / "N");
  REQUIRE(rows.size() == 4);  // steps 0, 10, 20, 30
  for (const auto& r : rows) {
    REQUIRE(r.contains("old_val_loss"));
    CHECK(r.contains("old_val_bpb"));
    CHECK(r["old_val_bpb"].get<double>() == doctest::Approx(r["old_val_loss"].get<double>() / std::log(2.0)));  // bytes
  }
  CHECK(rows[0]["step"] == 0);
  const double at_start = rows[0]["old_val_loss"].get<double>();
  CHECK(std::abs(at_start - eval_loss_on_val_of(dir / "A", dir / "A")) < 1e-6);
  CHECK(rows.back()["old_val_loss"].get<double>() > at_start);  // fine-tuning on B forgets A
  CHECK(rows.back()["old_val_loss"].get<double>() != rows.back()["val_loss"].get<double>());

  // a stage from an expanded checkpoint: A's data is found through the copy of A's config expand wrote
  add_two_experts(dir / "A", dir / "A2", log);
  train::RunConfig f = write_config("f.json", R"({
    "data": {"train": ")" + (dir / "b.txt").string() + R"(", "tokenizer": "byte"},
    "train": {"batch_size": 1, "max_iters": 2, "eval_interval": 2, "eval_iters": 2, "log_interval": 2,
              "out_dir": ")" + (dir / "F").string() + R"("},
    "lifelong": {"init_from": ")" + (dir / "A2").string() + R"("}})");
  train::run_training(f, {}, log);
  const std::vector<nlohmann::json> frows = eval_rows(dir / "F");
  REQUIRE(frows.size() == 2);
  const double grown_start = frows[0]["old_val_loss"].get<double>();
  CHECK(std::abs(grown_start - eval_loss_on_val_of(dir / "A2", dir / "A")) < 1e-6);
  // unrouted new experts with renormalised gates: the grown model computes A's outputs
  CHECK(grown_start == doctest::Approx(at_start).epsilon(1e-5));
  fs::remove_all(dir);
}

TEST_CASE("lifelong stage: A's held-out data that cannot be read is an error at start naming the key") {
  const fs::path dir = fresh_dir("moelab_lifelong_old_val_bad");
  write_lines(dir / "a.txt", "to be or not to be, that is the question", 100);
  std::ofstream(dir / "a_val.txt") << "whether 'tis nobler in the mind to suffer\n";
  auto write_config = [&](const std::string& name, const std::string& body) { return config_file(dir / name, body); };
  train::RunConfig a = write_config("a.json", R"({
    "model": {"n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 8},
    "data": {"train": ")" + (dir / "a.txt").string() + R"(", "val": ")" + (dir / "a_val.txt").string() +
                                                  R"(", "tokenizer": "byte"},
    "train": {"batch_size": 2, "max_iters": 0, "eval_iters": 1, "out_dir": ")" + (dir / "A").string() + R"("}})");
  std::ostringstream log;
  train::run_training(a, {}, log);
  auto stage_error = [&](const std::string& lifelong) {
    train::RunConfig b = write_config("b.json", R"({
      "data": {"train": ")" + (dir / "a.txt").string() + R"(", "tokenizer": "byte"},
      "train": {"batch_size": 2, "max_iters": 1, "eval_iters": 1, "out_dir": ")" + (dir / "B").string() + R"("},
      "lifelong": {"init_from": ")" + (dir / "A").string() +
                                  R"(", "freeze_old_experts": false, "freeze_old_router_rows": false)" + lifelong + "}}");
    try {
      train::run_training(b, {}, log);
    } catch (const moelab::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string named = stage_error(R"(, "old_val": [")" + (dir / "missing.txt").string() + R"("])");
  CHECK(named.rfind("lifelong.old_val: ", 0) == 0);
  CHECK(named.find("missing.txt") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "B"));  // before the run folder is made
  fs::remove(dir / "a_val.txt");  // A's own val file gone: the derived data names init_from, the file and the key to set
  const std::string derived = stage_error("");
  CHECK(derived.rfind("lifelong.init_from: ", 0) == 0);
  CHECK(derived.find("a_val.txt") != std::string::npos);
  CHECK(derived.find("lifelong.old_val") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "B"));
  fs::remove_all(dir);
}
