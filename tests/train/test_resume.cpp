// --resume continues exactly: model, AdamW moments, step, schedule, sampler, the model's RNG
// streams (dropout, router noise) and router state (balancing bias). Same thread count =>
// the resumed run's losses are bitwise identical to an uninterrupted run's.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "run_losses.h"
#include "train/trainer.h"

namespace train = moelab::train;
namespace fs = std::filesystem;
using moelab::testing::logged_losses;

namespace {
train::RunConfig config(const fs::path& dir, const std::string& router, int steps, const std::string& out) {
  return train::parse_config(nlohmann::json::parse(R"({
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16, "dropout": 0.1,
              "moe": {"num_experts": 4, "top_k": 2, "every": 2, "router": )" + router + R"(}},
    "data": {"train": ")" + (dir / "data.txt").string() + R"("},
    "train": {"batch_size": 3, "max_iters": )" + std::to_string(steps) + R"(, "eval_interval": 4, "eval_iters": 1,
              "log_interval": 1, "out_dir": ")" + (dir / out).string() + R"("},
    "optim": {"warmup_iters": 2, "lr_decay_iters": 12}})"));
}
}  // namespace

TEST_CASE("resume is bitwise exact: dropout, noisy routing, aux-loss-free bias") {
  for (const char* router : {R"({"type": "noisy_topk"})", R"({"type": "topk", "renorm": true, "bias_rate": 0.01})"}) {
    CAPTURE(router);
    const fs::path dir = fs::temp_directory_path() / "moelab_resume";
    fs::remove_all(dir);
    fs::create_directories(dir);
    {
      std::ofstream text(dir / "data.txt");
      for (int i = 0; i < 300; ++i) text << "all the world's a stage, and all the men and women merely players " << i << "\n";
    }
    std::ostringstream log;
    train::run_training(config(dir, router, 12, "full"), {}, log);
    train::run_training(config(dir, router, 6, "split"), {}, log);
    train::run_training(config(dir, router, 12, "split"), {true}, log);  // --resume
    const std::map<int, double> a = logged_losses(dir / "full"), b = logged_losses(dir / "split");
    REQUIRE(a.size() == 12);
    REQUIRE(b.size() == 12);
    for (int s = 1; s <= 12; ++s) {
      CAPTURE(s);
      CHECK(a.at(s) == b.at(s));  // exactly
    }
    fs::remove_all(dir);
  }
}
