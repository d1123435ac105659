// Config errors name the key path and what was expected; a valid config round-trips.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "train/config/run_config.h"

using moelab::Error;
using doctest::Contains;
using nlohmann::json;
namespace train = moelab::train;

static train::RunConfig parse(const std::string& text) { return train::parse_config(json::parse(text)); }

TEST_CASE("shipped configs parse") {
  for (const char* path : {"configs/default.json", "configs/shakespeare_char.json"}) {
    CAPTURE(path);
    const std::string full = std::string(MOELAB_SOURCE_DIR) + "/" + path;
    train::RunConfig c = train::load_config(full);
    CHECK(c.model.n_layer == 4);
    CHECK(c.model.n_embd == 128);
    CHECK(c.optim.beta2 == doctest::Approx(0.99f));
  }
  train::RunConfig s = train::load_config(std::string(MOELAB_SOURCE_DIR) + "/configs/shakespeare_char.json");
  CHECK(s.train.max_iters == 2000);
  CHECK(s.train.batch_size == 12);
  CHECK(s.model.block_size == 64);
  CHECK(s.optim.schedule.lr_decay_iters == 2000);
  CHECK(s.optim.schedule.min_lr == doctest::Approx(1e-4f));
}

TEST_CASE("unknown keys are errors with a did-you-mean hint") {
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"n_layr": 2}})"),
                       Contains("model.n_layr: unknown key; did you mean \"n_layer\"?"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"optim": {"learning_rate": 2}})"), Contains("optim.learning_rate: unknown key"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"modle": {}})"), Contains("modle: unknown key; did you mean \"model\"?"), Error);
}

TEST_CASE("wrong types name the key path and the expected type") {
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"n_head": "four"}})"), Contains("model.n_head: expected an integer, got \"four\""), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"n_head": 2.5}})"), Contains("model.n_head: expected an integer"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"bias": 1}})"), Contains("model.bias: expected true or false"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"optim": {"lr": "fast"}})"), Contains("optim.lr: expected a number"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"optim": {"betas": [0.9]}})"), Contains("optim.betas: expected [beta1, beta2]"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"data": {"train": 3}})"), Contains("data.train: expected a path or a list of paths"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": 3})"), Contains("model: expected an object"), Error);
}

TEST_CASE("out-of-range values name the key and the allowed range") {
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"n_layer": 0}})"), Contains("model.n_layer: 0 is out of range (expected >= 1)"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"n_embd": 130, "n_head": 4}})"),
                       Contains("model.n_embd: 130 is not divisible by model.n_head 4"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"optim": {"lr": 0}})"), Contains("optim.lr: 0 is out of range (expected > 0)"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"optim": {"lr": -1}})"), Contains("optim.lr"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"dropout": 1.5}})"), Contains("model.dropout: 1.5 is out of range"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"data": {"val_fraction": 1}})"), Contains("data.val_fraction"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"train": {"batch_size": 0}})"), Contains("train.batch_size: 0 is out of range"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"optim": {"warmup_iters": 500, "lr_decay_iters": 100}})"),
                       Contains("optim.lr_decay_iters: 100 is out of range (expected >= optim.warmup_iters)"), Error);
}

TEST_CASE("unknown names list the known ones") {
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"ffn": {"activation": "gelu2"}}})"),
                       Contains("model.ffn.activation: unknown \"gelu2\"; known: geglu, gelu, gelu_tanh, reglu, relu, silu, swiglu"),
                       Error);
  CHECK_THROWS_WITH_AS(parse(R"({"optim": {"type": "adam"}})"), Contains("optim.type: unknown \"adam\"; known: adamw, sgd"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"ffn": {"type": "glu"}}})"), Contains("model.ffn.type: unknown \"glu\"; known: mlp, moe"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"ffn": {"type": "moe"}}})"), Contains("model.ffn.type: MoE layers are configured by model.moe"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"data": {"tokenizer": "bpe"}})"), Contains("data.tokenizer: unknown \"bpe\""), Error);
}

TEST_CASE("--set overrides: JSON values, bare strings, nested creation, bad forms") {
  json j = json::parse(R"({"model": {"n_layer": 2}})");
  train::apply_override(j, "model.n_layer=6");
  train::apply_override(j, "data.train=some/file.txt");
  train::apply_override(j, "optim.betas=[0.8,0.9]");
  train::RunConfig c = train::parse_config(j);
  CHECK(c.model.n_layer == 6);
  CHECK(c.data.train == std::vector<std::string>{"some/file.txt"});
  CHECK(c.optim.beta1 == doctest::Approx(0.8f));
  CHECK_THROWS_WITH_AS(train::apply_override(j, "model.n_layer"), Contains("expected key.path=value"), Error);
  CHECK_THROWS_WITH_AS(train::apply_override(j, "model..x=1"), Contains("empty key"), Error);
}

TEST_CASE("missing and malformed files name the path") {
  CHECK_THROWS_WITH_AS(train::load_config("/nonexistent/x.json"), Contains("config: cannot open /nonexistent/x.json"), Error);
  const std::string bad = (std::filesystem::temp_directory_path() / "moelab_bad_config.json").string();
  std::ofstream(bad) << "{\"model\": {";
  CHECK_THROWS_WITH_AS(train::load_config(bad), Contains("invalid JSON"), Error);
  std::ofstream(bad) << R"({"model": {"n_head": 0}})";
  CHECK_THROWS_WITH_AS(train::load_config(bad), Contains(("model.n_head: 0 is out of range (expected >= 1) (in " + bad + ")").c_str()), Error);
  std::filesystem::remove(bad);
}

TEST_CASE("to_json round-trips through the parser") {
  train::RunConfig a = parse(R"({"model": {"n_layer": 3, "norm": "rmsnorm", "ffn": {"activation": "swiglu"}},
                                 "optim": {"betas": [0.85, 0.97], "lr": 5e-4, "min_lr": 1e-5}})");
  train::RunConfig b = train::parse_config(train::to_json(a));
  CHECK(b.model.n_layer == 3);
  CHECK(b.model.norm == "rmsnorm");
  CHECK(b.model.ffn.activation == "swiglu");
  CHECK(b.optim.beta1 == doctest::Approx(0.85f));
  CHECK(b.optim.schedule.lr == doctest::Approx(5e-4f));
}

TEST_CASE("every shipped MoE config loads (base inheritance applied) and builds its router") {
  namespace fs = std::filesystem;
  int n = 0;
  std::set<std::string> routers;
  for (const auto& entry : fs::directory_iterator(std::string(MOELAB_SOURCE_DIR) + "/configs/moe")) {
    CAPTURE(entry.path().string());
    train::RunConfig c = train::load_config(entry.path().string());
    CHECK(c.model.moe.num_experts >= 4);
    CHECK(c.data.train == std::vector<std::string>{"/usr/share/games/fortunes"});  // from the base
    CHECK(c.train.out_dir.rfind("runs/moe_", 0) == 0);
    routers.insert(c.model.moe.router.type);
    ++n;
  }
  CHECK(n == 10);
  CHECK(routers == std::set<std::string>{"soft", "topk", "noisy_topk", "expert_choice", "hash"});
  train::RunConfig d = train::load_config(std::string(MOELAB_SOURCE_DIR) + "/configs/default.json");
  CHECK(d.model.moe.num_experts == 8);
  CHECK(d.model.moe.top_k == 2);
  CHECK(d.model.moe.router.renorm);
  train::RunConfig sw = train::load_config(std::string(MOELAB_SOURCE_DIR) + "/configs/moe/switch.json");
  CHECK(sw.model.moe.top_k == 1);
  CHECK_FALSE(sw.model.moe.router.renorm);  // overridden, not inherited from the base's top-2 renorm
  CHECK(sw.model.moe.capacity.factor == doctest::Approx(1.25));
}

TEST_CASE("MoE config errors name the key path") {
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "top_k": 5}}})"),
                       Contains("model.moe.top_k: 5 is out of range (expected in [1, model.moe.num_experts])"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "router": {"type": "topkk"}}}})"),
                       Contains("model.moe.router.type: unknown \"topkk\"; known: expert_choice, hash, noisy_topk, soft, topk"),
                       Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "pattern": "DMD"}}})"),
                       Contains("model.moe.pattern: \"DMD\" has 3 letters for 4 layers"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "pattern": "DXDM"}}})"),
                       Contains("may only hold D (dense) and M (MoE)"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "layers": [1, 7]}}})"),
                       Contains("model.moe.layers: 7 is out of range"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "capacity": {"factor": -1}}}})"),
                       Contains("model.moe.capacity.factor: -1 is out of range"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "capacity": {"convention": "ds"}}}})"),
                       Contains("model.moe.capacity.convention: unknown \"ds\" (known: google, times_k)"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "router": {"type": "hash"}, "top_k": 2}}})"),
                       Contains("model.moe.top_k: the hash router picks one expert"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "top_k": 1, "router": {"random_second": 0.5}}}})"),
                       Contains("model.moe.router.random_second: GShard random routing needs"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "routr": {}}}})"),
                       Contains("model.moe.routr: unknown key; did you mean \"router\"?"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "every": 8}}})"),
                       Contains("no layer is an MoE layer"), Error);
  // placement: every/offset, list, pattern
  CHECK(parse(R"({"model": {"moe": {"num_experts": 2, "every": 2}}})").model.moe.is_moe_layer(1, 4));
  CHECK_FALSE(parse(R"({"model": {"moe": {"num_experts": 2, "every": 2}}})").model.moe.is_moe_layer(2, 4));
  CHECK(parse(R"({"model": {"moe": {"num_experts": 2, "every": 2, "offset": 0}}})").model.moe.is_moe_layer(2, 4));
  CHECK(parse(R"({"model": {"moe": {"num_experts": 2, "pattern": "MDDM"}}})").model.moe.is_moe_layer(3, 4));
  CHECK(parse(R"({"model": {"moe": {"num_experts": 2, "layers": [2]}}})").model.moe.is_moe_layer(2, 4));
  // "_comment" keys are ignored; a null moe is a dense model
  CHECK(parse(R"({"_comment": "x", "model": {"_note": 1, "moe": null}})").model.moe.num_experts == 0);
}

TEST_CASE("config base chains merge, and a base loop is an error naming the file") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "moelab_cfg_base";
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "a.json") << R"({"model": {"n_layer": 3, "moe": {"num_experts": 4, "top_k": 2}}, "train": {"seed": 5}})";
  std::ofstream(dir / "sub" / "b.json") << R"({"base": "../a.json", "model": {"moe": {"top_k": 1}}})";
  train::RunConfig b = train::load_config((dir / "sub" / "b.json").string());
  CHECK(b.model.n_layer == 3);
  CHECK(b.model.moe.num_experts == 4);
  CHECK(b.model.moe.top_k == 1);
  CHECK(b.train.seed == 5);
  std::ofstream(dir / "loop1.json") << R"({"base": "loop2.json"})";
  std::ofstream(dir / "loop2.json") << R"({"base": "loop1.json"})";
  CHECK_THROWS_WITH_AS(train::load_config((dir / "loop1.json").string()), Contains("chain loops back"), Error);
  std::ofstream(dir / "missing.json") << R"({"base": "nope.json"})";
  CHECK_THROWS_WITH_AS(train::load_config((dir / "missing.json").string()), Contains("cannot open"), Error);
  fs::remove_all(dir);
}
