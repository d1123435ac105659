// Non-finite losses: a bad step is skipped and logged with the step and the first non-finite
// gradient's parameter; too many in a row abort with a clear message and write no checkpoint.
// The NaN is injected through a registered aux loss that returns NaN on chosen training steps.
#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "autograd/tape.h"
#include "layers/moe/aux_losses.h"
#include "train/data/batch.h"
#include "train/io/safetensors.h"
#include "train/trainer.h"

namespace train = moelab::train;
namespace ops = moelab::ops;
namespace fs = std::filesystem;

namespace {
std::set<int> g_nan_calls;  // 1-based training forward calls that produce NaN
int g_calls = 0;

moelab::autograd::Var nan_injector(const moelab::nn::AuxLossInput& in) {
  moelab::autograd::Var zero = ops::scale(ops::sum(in.routing.logits), 0.f);  // 0, on the tape
  if (!moelab::autograd::grad_enabled()) return zero;                         // eval passes stay finite
  ++g_calls;
  return g_nan_calls.count(g_calls) ? ops::scale(zero, NAN) : zero;
}

train::RunConfig config(const fs::path& dir, int steps, int max_bad) {
  std::ofstream(dir / "data.txt") << std::string(4000, 'a') + "the quick brown fox jumps over the lazy dog\n";
  return train::parse_config(nlohmann::json::parse(R"({
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16,
              "moe": {"num_experts": 2, "top_k": 1, "every": 2, "loss": {"test_nan": 1.0}}},
    "data": {"train": ")" + (dir / "data.txt").string() + R"("},
    "train": {"batch_size": 2, "max_iters": )" + std::to_string(steps) + R"(, "eval_interval": 100, "eval_iters": 1,
              "log_interval": 1, "max_bad_steps": )" + std::to_string(max_bad) + R"(,
              "out_dir": ")" + (dir / "run").string() + R"("}})"));
}
}  // namespace

TEST_CASE("non-finite loss: steps skipped and logged, training goes on, the checkpoint stays finite") {
  moelab::nn::register_aux_loss("test_nan", nan_injector);
  const fs::path dir = fs::temp_directory_path() / "moelab_nan";
  fs::remove_all(dir);
  fs::create_directories(dir);
  g_calls = 0;
  g_nan_calls = {3, 4};
  std::ostringstream log;
  train::run_training(config(dir, 8, 3), {}, log);
  CHECK(log.str().find("step 3: non-finite loss (first non-finite gradient: transformer.") != std::string::npos);
  CHECK(log.str().find("step 4: non-finite loss") != std::string::npos);
  std::ifstream metrics(dir / "run" / "metrics.jsonl");
  std::string line;
  std::vector<int> skipped, done;
  while (std::getline(metrics, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.value("skipped", false)) skipped.push_back(j["step"].get<int>());
    if (!j.contains("loss")) continue;
    done.push_back(j["step"].get<int>());
    CHECK(std::isfinite(j["loss"].get<double>()));
  }
  CHECK(skipped == std::vector<int>{3, 4});
  CHECK(done == std::vector<int>{1, 2, 5, 6, 7, 8});
  for (const auto& [name, t] : train::read_safetensors((dir / "run" / "model.safetensors").string()).tensors)
    for (int64_t i = 0; i < t.numel(); ++i) REQUIRE(std::isfinite(t[i]));
  fs::remove_all(dir);
}

TEST_CASE("non-finite loss on every step: abort after max_bad_steps with the step and parameter; no checkpoint") {
  moelab::nn::register_aux_loss("test_nan", nan_injector);
  const fs::path dir = fs::temp_directory_path() / "moelab_nan_abort";
  fs::remove_all(dir);
  fs::create_directories(dir);
  g_calls = 0;
  g_nan_calls.clear();
  for (int i = 1; i <= 100; ++i) g_nan_calls.insert(i);
  std::ostringstream log;
  CHECK_THROWS_WITH_AS(train::run_training(config(dir, 8, 3), {}, log),
                       doctest::Contains("3 consecutive steps with a non-finite loss or gradient (last at step 3, "
                                         "first non-finite gradient: transformer."),
                       moelab::Error);
  CHECK_FALSE(fs::exists(dir / "run" / "model.safetensors"));
  fs::remove_all(dir);
}

namespace {
int g_signal_at = 0;
volatile std::sig_atomic_t g_stop = 0;  // what the program's SIGINT/SIGTERM handler sets (train/cli/process.cpp)
moelab::autograd::Var signal_injector(const moelab::nn::AuxLossInput& in) {
  if (moelab::autograd::grad_enabled() && ++g_calls == g_signal_at) g_stop = SIGINT;
  return ops::scale(ops::sum(in.routing.logits), 0.f);
}
}  // namespace

TEST_CASE("a stop request during training: the step finishes, a checkpoint is saved at that step, the run returns") {
  moelab::nn::register_aux_loss("test_nan", signal_injector);
  const fs::path dir = fs::temp_directory_path() / "moelab_sigint";
  fs::remove_all(dir);
  fs::create_directories(dir);
  g_calls = 0;
  g_signal_at = 4;
  g_stop = 0;
  std::ostringstream log;
  train::TrainOptions opts;
  opts.stop_signal = &g_stop;
  train::run_training(config(dir, 20, 3), opts, log);
  CHECK(log.str().find("interrupted by signal 2 after step 4") != std::string::npos);
  nlohmann::json side = nlohmann::json::parse(std::ifstream(dir / "run" / "model.json"));
  CHECK(side["step"] == 4);
  CHECK(fs::exists(dir / "run" / "optimizer.safetensors"));
  // the run can be continued to the end
  opts = {};
  opts.resume = true;
  std::ostringstream log2;
  train::run_training(config(dir, 6, 3), opts, log2);
  CHECK(nlohmann::json::parse(std::ifstream(dir / "run" / "model.json"))["step"] == 6);
  fs::remove_all(dir);
}

TEST_CASE("train.batch_offsets replays given windows; a short file is an error naming it") {
  std::vector<int32_t> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(i);
  const moelab::train::TokenStream s(std::move(ids));
  const int32_t starts[2] = {3, 40};
  train::Batch b = train::batch_at(s, starts, 2, 5);
  CHECK(b.ids[0] == 3);
  CHECK(b.targets[4] == 8);
  CHECK(b.ids[5] == 40);
  const int32_t bad[1] = {46};
  CHECK_THROWS_WITH_AS(train::batch_at(s, bad, 1, 5), doctest::Contains("replayed offset 46"), moelab::Error);
  moelab::nn::register_aux_loss("test_nan", nan_injector);
  g_nan_calls.clear();
  const fs::path dir = fs::temp_directory_path() / "moelab_replay";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "offsets.bin", std::ios::binary).write(reinterpret_cast<const char*>(starts), sizeof starts);
  train::RunConfig cfg = config(dir, 4, 3);
  cfg.train.batch_offsets = (dir / "offsets.bin").string();
  std::ostringstream log;
  CHECK_THROWS_WITH_AS(train::run_training(cfg, {}, log), doctest::Contains("holds 2 offsets, 4 steps of 2 need 8"),
                       moelab::Error);
  fs::remove_all(dir);
}
