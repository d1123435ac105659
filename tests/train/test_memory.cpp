// Memory over a long run: the tape is freed every step, so the tensors alive at each log row are
// exactly the same bytes and the resident set stops growing once the caches are warm.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "test_data.h"
#include "train/memory.h"
#include "train/trainer.h"

namespace train = moelab::train;
namespace fs = std::filesystem;

TEST_CASE("1,000 MoE training steps: tensor bytes constant at every log row, no RSS growth") {
  const moelab::testing::TempDir tmp("moelab_memory_growth");
  const fs::path dir = tmp.path;
  tmp.write("data.txt", moelab::testing::numbered_lines("now is the winter of our discontent made glorious summer", 400));
  const train::RunConfig cfg = train::parse_config(nlohmann::json::parse(R"({
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 16,
              "moe": {"num_experts": 4, "top_k": 2, "every": 2, "router": {"type": "topk", "bias_rate": 0.01}}},
    "data": {"train": ")" + (dir / "data.txt").string() + R"("},
    "train": {"batch_size": 4, "max_iters": 1000, "eval_interval": 250, "eval_iters": 2, "log_interval": 100,
              "out_dir": ")" + (dir / "run").string() + R"("},
    "optim": {"warmup_iters": 10, "lr_decay_iters": 1000}})"));
  std::ostringstream log;
  train::run_training(cfg, {}, log);
  std::vector<double> tensor_mb, rss_mb;
  std::ifstream in(dir / "run" / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("tensor_mb")) continue;
    tensor_mb.push_back(j["tensor_mb"].get<double>());
    rss_mb.push_back(j["rss_mb"].get<double>());
  }
  REQUIRE(tensor_mb.size() == 10);  // steps 100, 200, ..., 1000
  for (size_t i = 1; i < tensor_mb.size(); ++i) {
    CAPTURE(i);
    CHECK(tensor_mb[i] == tensor_mb[0]);  // exactly the same live tensors after every step
  }
  MESSAGE("RSS at step 200: " << rss_mb[1] << " MB, at step 1000: " << rss_mb.back() << " MB");
#ifndef __SANITIZE_ADDRESS__  // ASan's quarantine holds freed memory back on purpose
  CHECK(rss_mb.back() - rss_mb[1] < 0.5);  // the caches are warm by step 200; nothing accumulates
#endif
  CHECK(log.str().find("memory: peak RSS") != std::string::npos);
}
