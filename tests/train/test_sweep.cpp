// The sweep's plan (train/sweep.h): grid expansion in order, explicit points, seeds, folder names,
// errors naming the key; which runs are done, interrupted or fresh.
#include <doctest/doctest.h>

#include <filesystem>

#include "core/error.h"
#include "test_data.h"
#include "train/config/run_config.h"
#include "train/sweep.h"

namespace train = moelab::train;
using doctest::Contains;
using moelab::Error;

TEST_CASE("a sweep's grid is the cartesian product, seeds inner; points follow; each run has its folder") {
  const auto spec = train::parse_sweep(nlohmann::json::parse(R"({
    "base": "configs/default.json", "set": ["train.max_iters=10"],
    "grid": {"model.moe.top_k": [1, 2], "model.moe.router.type": ["topk", "noisy_topk"]},
    "points": [["model.moe.num_experts=16"]],
    "seeds": [1, 2], "out": "/tmp/sw", "parallel": 3})"),
                                       "s.json", "/proj");
  CHECK(spec.base == "/proj/configs/default.json");
  CHECK(spec.parallel == 3);
  CHECK(spec.threads_per_run == 1);
  const auto runs = train::expand_sweep(spec);
  REQUIRE(runs.size() == (4 + 1) * 2);
  // nlohmann orders an object's keys: model.moe.router.type before model.moe.top_k
  CHECK(runs[0].group == "model.moe.router.type=topk, model.moe.top_k=1");
  CHECK(runs[0].seed == 1);
  CHECK(runs[1].seed == 2);
  CHECK(runs[1].group == runs[0].group);
  CHECK(runs[2].group == "model.moe.router.type=topk, model.moe.top_k=2");
  CHECK(runs[6].group == "model.moe.router.type=noisy_topk, model.moe.top_k=2");
  CHECK(runs[8].group == "model.moe.num_experts=16");
  CHECK(runs[0].sets == std::vector<std::string>{"train.max_iters=10", "model.moe.router.type=topk",
                                                 "model.moe.top_k=1", "train.seed=1"});
  // readable part + a hash of the full overrides
  CHECK(runs[0].out_dir.starts_with("/tmp/sw/type=topk,top_k=1-"));
  CHECK(runs[0].out_dir.ends_with("/seed1"));
  CHECK(runs[9].out_dir.starts_with("/tmp/sw/num_experts=16-"));
  // points whose readable names agree still get their own folders
  const auto alike = train::expand_sweep(train::parse_sweep(
      nlohmann::json::parse(R"({"base": "c", "points": [["model.moe.router.type=sgd"], ["optim.type=sgd"], ["data.train=a/b"], ["data.train=a_b"]]})"),
      "s", "."));
  REQUIRE(alike.size() == 4);
  for (size_t i = 0; i < 4; ++i)
    for (size_t k = i + 1; k < 4; ++k) CHECK(alike[i].out_dir != alike[k].out_dir);
  // no grid, no points: one group, the base config
  const auto single = train::expand_sweep(train::parse_sweep(nlohmann::json::parse(R"({"base": "c.json"})"), "s", "."));
  REQUIRE(single.size() == 1);
  CHECK(single[0].group == "base");
  CHECK(single[0].seed == 1337);
}

TEST_CASE("a bad sweep file names the key") {
  auto fails = [](const char* text, const char* msg) {
    CHECK_THROWS_WITH_AS(train::parse_sweep(nlohmann::json::parse(text), "s.json", "."), Contains(msg), Error);
  };
  fails(R"({"grid": {"a": [1]}})", "s.json: \"base\" (the config file) is required");
  fails(R"({"base": "c", "grid": {"a": []}})", "s.json: grid.a: expected a non-empty list of values");
  fails(R"({"base": "c", "seeds": [-1]})", "s.json: seeds: expected integers >= 0");
  fails(R"({"base": "c", "points": [["no equals sign"]]})", "s.json: points[0]: expected \"key.path=value\"");
  fails(R"({"base": "c", "parallel": 0})", "s.json: parallel: expected an integer in [1, 256]");
  fails(R"({"base": "c", "sed": [1]})", "s.json: unknown key \"sed\"");
  CHECK_THROWS_WITH_AS(
      train::expand_sweep(train::parse_sweep(nlohmann::json::parse(R"({"base": "c", "points": [["a=1"], ["a=1"]]})"), "s", ".")),
      Contains("two points are the same (a=1)"), Error);
}

TEST_CASE("run states: fresh, interrupted (a checkpoint, no marker), done (the marker)") {
  moelab::testing::TempDir d("moelab_sweep_state");
  train::SweepRun r;
  r.out_dir = (d.path / "g" / "seed1").string();
  r.seed = 1;
  CHECK(train::run_state(r) == train::RunState::fresh);
  d.write("g/seed1/model.json", "{}");
  CHECK(train::run_state(r) == train::RunState::interrupted);
  r.config = {{"train", {{"max_iters", 30}}}};
  train::mark_done(r);
  CHECK(train::run_state(r) == train::RunState::done);
  // the sweep file changed since: the finished run is not silently taken for the new config
  r.config = {{"train", {{"max_iters", 60}}}};
  CHECK_THROWS_WITH_AS(train::run_state(r), Contains("finished with another config than the sweep now gives this run"),
                       Error);

  // a newer moelab whose configs have a key more (at its default) still knows the finished run
  moelab::train::RunConfig cfg;
  cfg.train.max_iters = 30;
  nlohmann::json full = moelab::train::to_json(cfg), older = full;
  older["lifelong"].erase("old_val");  // as a run written before lifelong.old_val existed
  r.config = older;
  train::mark_done(r);
  r.config = full;
  CHECK(train::run_state(r) == train::RunState::done);
  full["lifelong"]["kl_weight"] = 0.5;  // but a value that differs is still a change
  r.config = full;
  CHECK_THROWS_AS(train::run_state(r), Error);
}
