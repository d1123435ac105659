// `moelab generate`'s normal path on a small trained model: the prompt is continued by exactly N
// tokens, sampling is reproducible per seed, greedy is top-1, and prompts longer than the context work.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "test_data.h"
#include "train/checkpoint/checkpoint.h"
#include "train/config/run_config.h"
#include "train/data/tokenizer.h"
#include "train/evaluate.h"
#include "train/generate.h"
#include "train/trainer.h"

namespace train = moelab::train;
namespace fs = std::filesystem;
namespace nn = moelab::nn;

TEST_CASE("generate: prompt + exactly N tokens; same seed, same text; greedy = top-1; long prompts are cropped") {
  const moelab::testing::TempDir tmp("moelab_generate");
  const fs::path dir = tmp.path;
  std::string text;
  for (int i = 0; i < 200; ++i) text += "abcabcabc xyz " + std::to_string(i % 10) + "\n";
  tmp.write("data.txt", text);
  nlohmann::json j = nlohmann::json::parse(R"({
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16,
              "moe": {"num_experts": 4, "top_k": 2, "every": 2}},
    "train": {"batch_size": 8, "max_iters": 40, "eval_interval": 40, "eval_iters": 1, "log_interval": 20},
    "optim": {"lr": 0.01, "warmup_iters": 0, "lr_decay_iters": 40}})");
  j["data"]["train"] = (dir / "data.txt").string();
  j["train"]["out_dir"] = (dir / "run").string();
  std::ostringstream log;
  train::run_training(train::parse_config(j), {}, log);
  const std::string run = (dir / "run").string();

  train::GenerateOptions o;
  o.prompt = "abc";
  o.tokens = 25;
  o.temperature = 1.0f;
  o.seed = 7;
  const std::string a = train::generate_text(run, o);
  CHECK(a.rfind("abc", 0) == 0);
  CHECK(a.size() == 3 + 25);  // char tokens of this ASCII corpus: one byte each
  CHECK(train::generate_text(run, o) == a);  // reproducible
  o.seed = 8;
  CHECK(train::generate_text(run, o) != a);  // another seed, another sample (25 draws from a spread distribution)

  o.temperature = 0;  // greedy: no randomness at all
  const std::string greedy = train::generate_text(run, o);
  o.seed = 99;
  CHECK(train::generate_text(run, o) == greedy);
  o.temperature = 1.0f;
  o.top_k = 1;  // sampling among the single most likely token is greedy too
  CHECK(train::generate_text(run, o) == greedy);
  CHECK(greedy.substr(0, 6) == "abcabc");  // 40 steps learn that "abc" is mostly followed by "abc"

  o.prompt = std::string(40, 'a');  // longer than block_size 16: the last 16 tokens are the context
  o.tokens = 5;
  CHECK(train::generate_text(run, o).size() == 45);
  o.tokens = 0;
  CHECK(train::generate_text(run, o) == o.prompt);
}

TEST_CASE("a checkpoint whose outputs are not finite: eval and generate are errors, not -nan and exit 0") {
  const moelab::testing::TempDir tmp("moelab_nonfinite");
  tmp.write("data.txt", moelab::testing::numbered_lines("some text to read", 100));
  nlohmann::json j = nlohmann::json::parse(R"({"model": {"n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 8},
    "train": {"batch_size": 2, "max_iters": 1, "eval_interval": 1, "eval_iters": 1}})");
  j["data"]["train"] = (tmp.path / "data.txt").string();
  j["train"]["out_dir"] = (tmp.path / "run").string();
  std::ostringstream log;
  train::run_training(train::parse_config(j), {}, log);
  // every weight finite but huge: the forward pass overflows (what a diverged run leaves)
  train::LoadedModel lm = train::load_checkpoint((tmp.path / "run").string());
  for (auto& np : lm.model->named_parameters())
    for (int64_t i = 0; i < np.param->var.numel(); ++i) np.param->var.data()[i] *= 1e30f;
  train::save_checkpoint((tmp.path / "huge").string(), *lm.model, nullptr, lm.config, lm.tokenizer, {1, 0, {}});
  std::ostringstream out;
  train::EvalOptions eo;
  eo.batch = 1;
  eo.batches = 1;
  CHECK_THROWS_WITH_AS(train::run_eval((tmp.path / "huge").string(), eo, out),
                       doctest::Contains("gives a non-finite loss"), moelab::Error);
  train::GenerateOptions go;
  go.prompt = "some";
  go.tokens = 3;
  CHECK_THROWS_WITH_AS(train::generate_text((tmp.path / "huge").string(), go), doctest::Contains("non-finite outputs"),
                       moelab::Error);
}

namespace {
// A run folder trained for a few steps on a repetitive corpus with this "model" section.
std::string train_small_run(const moelab::testing::TempDir& tmp, const std::string& name, const char* model_json) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "abcabcabc xyz " + std::to_string(i % 10) + "\n";
  tmp.write(name + ".txt", text);
  nlohmann::json j = nlohmann::json::parse(R"({
    "train": {"batch_size": 8, "max_iters": 30, "eval_interval": 30, "eval_iters": 1, "log_interval": 30},
    "optim": {"lr": 0.01, "warmup_iters": 0, "lr_decay_iters": 30}})");
  j["model"] = nlohmann::json::parse(model_json);
  j["data"]["train"] = (tmp.path / (name + ".txt")).string();
  j["train"]["out_dir"] = (tmp.path / name).string();
  std::ostringstream log;
  train::run_training(train::parse_config(j), {}, log);
  return (tmp.path / name).string();
}
}  // namespace

TEST_CASE("generate: the KV cache gives the tokens of the full recompute, past block_size and with long prompts") {
  const moelab::testing::TempDir tmp("moelab_generate_kv");
  const char* dense = R"({"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16})";
  const char* moe = R"({"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16, "norm": "rmsnorm", "bias": false,
                        "moe": {"num_experts": 4, "top_k": 2, "every": 2, "router": {"renorm": true}}})";
  for (const char* model : {dense, moe}) {
    CAPTURE(model);
    const std::string run = train_small_run(tmp, model == dense ? "dense" : "moe", model);
    train::GenerateOptions greedy, top1, sampled;
    greedy.temperature = 0;
    top1.temperature = 0.8f;
    top1.top_k = 1;
    top1.seed = 5;
    sampled.temperature = 1.0f;
    sampled.seed = 7;
    for (train::GenerateOptions o : {greedy, top1, sampled})
      for (const std::string& prompt : {std::string("abc"), std::string(40, 'a') + "bc"}) {  // 42 > block_size
        CAPTURE(o.temperature);
        CAPTURE(prompt);
        o.prompt = prompt;
        o.tokens = 30;  // "abc" + 30 > block_size 16: the window slides for the last 17 tokens
        std::ostringstream notes;
        o.kv_cache = true;
        const std::string cached = train::generate_text(run, o, notes);
        o.kv_cache = false;
        const std::string recomputed = train::generate_text(run, o, notes);
        CHECK(cached.size() == prompt.size() + 30);
        CHECK(cached == recomputed);
        CHECK(notes.str().empty());  // these models use the cache
      }
  }
}

TEST_CASE("generate: a model the cache would change recomputes, saying why on the notes stream") {
  nn::ModelConfig cfg;
  cfg.vocab_size = 7;
  cfg.n_layer = 2;
  cfg.n_embd = 8;
  cfg.n_head = 2;
  cfg.block_size = 8;
  cfg.moe.num_experts = 4;
  cfg.moe.top_k = 1;
  cfg.moe.capacity.factor = 1.0;  // at eval too: a token may be dropped because of the tokens before it
  nn::GPT model(cfg, 3);
  train::GenerateOptions o;
  o.tokens = 12;
  o.temperature = 0;
  std::vector<int32_t> with_switch, without;
  std::ostringstream notes;
  train::generate_tokens(model, {1, 2}, o, [&](int32_t t) { with_switch.push_back(t); }, "test", notes);
  CHECK(notes.str() ==
        "generate: no KV cache (each token recomputes the whole context), as it would change the output: layer 1's "
        "FFN: its eval capacity factor 1 drops a token depending on the other tokens routed to its experts\n");
  o.kv_cache = false;
  std::ostringstream quiet;
  train::generate_tokens(model, {1, 2}, o, [&](int32_t t) { without.push_back(t); }, "test", quiet);
  CHECK(quiet.str().empty());
  CHECK(with_switch.size() == 12);
  CHECK(with_switch == without);
}
