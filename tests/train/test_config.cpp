// Config errors name the key path and what was expected; a valid config round-trips.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <algorithm>
#include <iterator>

#include "layers/ffn.h"
#include "layers/mlp.h"
#include "layers/moe/aux_losses.h"
#include "layers/moe/router.h"
#include "optim/registry.h"
#include "train/config/run_config.h"
#include "train/config/schema.h"

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
  CHECK_THROWS_WITH_AS(parse(R"({"data": {"tokenizer": "wordpiece"}})"),
                       Contains("data.tokenizer: unknown \"wordpiece\""), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"data": {"tokenizer": "bpe"}})"),
                       Contains("data.tokenizer: bpe needs data.tokenizer_path (a tokenizer.json) or data.vocab_size"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"data": {"tokenizer": "char", "tokenizer_path": "t.json"}})"),
                       Contains("data.tokenizer_path is set but data.tokenizer is char"), Error);
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

namespace {
// The value at "a.b.c" of a JSON object (null when absent).
json at_path(const json& j, const std::string& path) {
  const json* node = &j;
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(key)) return nullptr;
    node = &node->at(key);
    if (dot == std::string::npos) return *node;
    start = dot + 1;
  }
}

moelab::autograd::Var zero_loss(const moelab::nn::AuxLossInput& in) {
  return moelab::ops::scale(moelab::ops::sum(in.routing.logits), 0.f);
}

// Two configs that between them set every key of the schema to a value other than its default
// (model.moe.layers and .pattern, and router.renorm and .topk_softmax, exclude each other).
const char* kAllKeysA = R"({
  "model": {"n_layer": 5, "n_head": 2, "n_embd": 24, "block_size": 48, "dropout": 0.25, "bias": false, "norm": "rmsnorm",
            "ffn": {"type": "test_roundtrip", "activation": "swiglu", "mult": 3, "params": {"x": 1}},
            "moe": {"num_experts": 6, "experts_by_layer": {"3": 9}, "top_k": 2, "every": 3, "offset": 0, "layers": [0, 3],
                    "expert_hidden": 40, "shared_experts": 1, "shared_hidden": 20,
                    "router": {"type": "topk", "renorm": true, "random_second": 0.4, "bias_rate": 0.001,
                               "noise_eps": 0.05, "ec_factor": 1.5, "params": {"y": 2}},
                    "capacity": {"factor": 1.1, "eval_factor": 2.5, "convention": "times_k", "priority": "token", "groups": 7},
                    "loss": {"switch": 0.02, "z": 0.003, "importance": 0.2, "load": 0.3, "test_roundtrip": 0.7}}},
  "data": {"train": ["a.txt", "b"], "val": "v.txt", "val_fraction": 0.2, "tokenizer": "gpt2",
           "tokenizer_path": "ranks/gpt2.js", "format": "text"},
  "train": {"batch_size": 7, "max_iters": 123, "eval_interval": 11, "eval_iters": 3, "log_interval": 5, "seed": 18446744073709551615,
            "threads": 2, "checkpoint_interval": 50, "keep_checkpoints": 0, "routing_metrics": false, "max_bad_steps": 9,
            "batch_offsets": "off.bin", "out_dir": "runs/x"},
  "optim": {"type": "sgd", "lr": 0.003, "min_lr": 0.0002, "warmup_iters": 7, "lr_decay_iters": 99, "decay_lr": false,
            "betas": [0.8, 0.9], "eps": 1e-6, "weight_decay": 0.05, "momentum": 0.5, "grad_clip": 0.7, "params": {"z": 3}},
  "lifelong": {"init_from": "runs/a", "freeze_old_experts": false, "freeze_old_router_rows": false,
               "freeze_non_expert": true, "kl_weight": 0.3, "kl_temperature": 2.0, "teacher": "runs/t",
               "old_val": ["a_val.txt", "b_val.txt"]},
  "dist": {"expert_parallel": 2, "overlap": false}})";
const char* kAllKeysB = R"({"data": {"tokenizer": "bpe", "vocab_size": 512},"model": {"moe": {"num_experts": 4, "top_k": 1, "pattern": "DMDM",
                                          "router": {"topk_softmax": true}}}})";
}  // namespace

TEST_CASE("every key of the schema round-trips: JSON -> struct member -> to_json -> the same value") {
  moelab::nn::register_aux_loss("test_roundtrip", zero_loss);  // a registered loss is a key too (model.moe.loss.<name>)
  moelab::nn::register_ffn("test_roundtrip", [](const moelab::nn::FfnArgs& a) -> std::shared_ptr<moelab::nn::FeedForward> {
    return std::make_shared<moelab::nn::MLP>(a);
  });  // the only built-in dense kind is the default
  const json given[] = {json::parse(kAllKeysA), json::parse(kAllKeysB)};
  const json defaults = train::to_json(train::RunConfig{});
  std::set<std::string> covered;
  for (const json& g : given) {
    const train::RunConfig c = train::parse_config(g);
    const json out = train::to_json(c);
    CHECK(train::to_json(train::parse_config(out)) == out);  // stable
    for (const auto& k : train::schema::keys()) {
      const std::string path = k.is_family() ? train::schema::parent_of(k.path) + ".test_roundtrip" : k.path;
      const json in = at_path(g, path);
      if (in.is_null()) continue;
      CAPTURE(path);
      json want = in;
      if (path == "data.val") want = json::array({in});  // a single path is a list of one
      CHECK(at_path(out, path) == want);                 // the value reached its member and came back
      CHECK(at_path(out, path) != at_path(defaults, path));  // ... and is not the default (a key bound to nothing fails)
      covered.insert(k.path);
    }
  }
  for (const auto& k : train::schema::keys()) {
    CAPTURE(k.path);
    CHECK(covered.count(k.path) == 1);  // a new key must be added to the configs above
  }
  CHECK(covered.size() == train::schema::keys().size());
}

TEST_CASE("docs/config.md's key tables are the schema's reference (regenerate: moelab config reference)") {
  std::ifstream in(std::string(MOELAB_SOURCE_DIR) + "/docs/config.md");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "<!-- BEGIN moelab config reference -->\n", end = "<!-- END moelab config reference -->";
  const size_t b = doc.find(begin), e = doc.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  const std::string in_doc = doc.substr(b + begin.size(), e - b - begin.size());
  INFO("docs/config.md is stale: replace the text between the BEGIN/END markers with the output of "
       "`./build/moelab config reference` (bash scripts/update_config_reference.sh does it)");
  CHECK(in_doc == train::schema::reference_markdown());
}

TEST_CASE("keys naming a registry list its built-in names in their doc line") {
  using Names = std::vector<std::string> (*)();
  const std::pair<const char*, Names> registries[] = {{"model.ffn.type", moelab::nn::ffn_kinds},
                                                      {"model.ffn.activation", moelab::nn::activation_names},
                                                      {"model.moe.router.type", moelab::nn::router_names},
                                                      {"optim.type", moelab::optim::optimizer_names}};
  for (const auto& [path, names] : registries) {
    CAPTURE(path);
    const auto& keys = train::schema::keys();
    const auto key = std::find_if(keys.begin(), keys.end(), [&](const auto& k) { return k.path == path; });
    REQUIRE(key != keys.end());
    for (const std::string& name : names()) {
      if (name.rfind("test_", 0) == 0 || name == "moe") continue;  // registered by other tests; moe is model.moe's
      CAPTURE(name);
      CHECK(key->doc.find(name) != std::string::npos);
    }
  }
}

TEST_CASE("defaults come from the structs: an empty config is RunConfig{}") {
  CHECK(train::to_json(parse("{}")) == train::to_json(train::RunConfig{}));
  const train::RunConfig c = parse("{}");
  CHECK(c.model.n_layer == 4);
  CHECK(c.optim.beta2 == doctest::Approx(0.95f));
  CHECK(train::to_json(c)["optim"]["betas"] == json::parse("[0.9, 0.95]"));  // floats written as they read
  CHECK(train::to_json(c)["model"]["moe"].is_null());                        // dense
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
