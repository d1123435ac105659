// Config errors name the key path and what was expected; a valid config round-trips.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "train/config.h"

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
                       Contains("model.ffn.activation: unknown \"gelu2\" (known: gelu, gelu_tanh, relu, silu, swiglu)"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"optim": {"type": "adam"}})"), Contains("optim.type: unknown \"adam\" (known: adamw, sgd)"), Error);
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
