// Checkpoints: save -> load is bitwise; the eval loss is reproduced exactly; bad files are clear errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

#include "autograd/tape.h"
#include "train/checkpoint/checkpoint.h"
#include "train/io/atomic_file.h"
#include "train/io/safetensors.h"

using moelab::Error;
using moelab::IndexTensor;
using moelab::Tensor;
using doctest::Contains;
namespace fs = std::filesystem;
namespace train = moelab::train;

static std::string temp_dir(const char* name) {
  fs::path p = fs::temp_directory_path() / name;
  fs::remove_all(p);
  return p.string();
}

// A one-layer GPT, its config (plus `extra` JSON merged in) and a char tokenizer over `text`.
struct TinyModel {
  train::RunConfig cfg;
  train::Tokenizer tok;
  std::unique_ptr<moelab::nn::GPT> model;
};
static TinyModel tiny_model(std::string text, const char* extra = "{}") {
  nlohmann::json j = nlohmann::json::parse(R"({"model": {"n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 4}})");
  j.merge_patch(nlohmann::json::parse(extra));
  TinyModel t{train::parse_config(j), train::Tokenizer::chars_of({&text}), nullptr};
  t.cfg.model.vocab_size = t.tok.vocab_size();
  t.model = std::make_unique<moelab::nn::GPT>(t.cfg.model, 1);
  return t;
}

TEST_CASE("save -> load round-trips parameters bitwise and the eval loss exactly") {
  const std::string dir = temp_dir("moelab_ckpt_roundtrip");
  train::RunConfig cfg = train::parse_config(nlohmann::json::parse(
      R"({"model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 8}})"));
  std::string text = "hello world, hello moe";
  train::Tokenizer tok = train::Tokenizer::chars_of({&text});
  cfg.model.vocab_size = tok.vocab_size();
  moelab::nn::GPT model(cfg.model, 42);
  IndexTensor ids = IndexTensor::from({1, 8}, {1, 2, 3, 4, 5, 6, 7, 0});
  IndexTensor tgt = IndexTensor::from({1, 8}, {2, 3, 4, 5, 6, 7, 0, 1});
  float before;
  {
    moelab::autograd::NoGrad ng;
    before = model.forward(ids, tgt).loss.item();
  }
  train::save_checkpoint(dir, model, nullptr, cfg, tok, {17, 99, {}});
  train::LoadedModel lm = train::load_checkpoint(dir);
  CHECK(lm.state.step == 17);
  CHECK(lm.state.sampler_counter == 99);
  CHECK(lm.tokenizer.decode(lm.tokenizer.encode("hello", "t")) == "hello");
  auto a = model.named_parameters(), b = lm.model->named_parameters();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].name == b[i].name);
    const auto& va = a[i].param->var.value();
    const auto& vb = b[i].param->var.value();
    REQUIRE(va.numel() == vb.numel());
    CHECK(std::memcmp(va.data(), vb.data(), va.numel() * 4) == 0);
  }
  moelab::autograd::NoGrad ng;
  CHECK(lm.model->forward(ids, tgt).loss.item() == before);  // exactly
  fs::remove_all(dir);
}

TEST_CASE("corrupt or truncated safetensors files give errors naming the file") {
  const std::string dir = temp_dir("moelab_ckpt_bad");
  fs::create_directories(dir);
  const std::string path = dir + "/m.safetensors";
  train::SafeTensors st;
  st.tensors["w"] = moelab::Tensor::full({4, 3}, 1.5f);
  train::write_safetensors(path, st);
  CHECK(train::read_safetensors(path).tensors.at("w")[11] == 1.5f);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string flipped = bytes;
  flipped[flipped.size() - 3] ^= 0x10;  // one bit of tensor data
  std::ofstream(path, std::ios::binary) << flipped;
  CHECK_THROWS_WITH_AS(train::read_safetensors(path),
                       Contains((path + ": tensor data checksum").c_str()), Error);
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() - 5);  // truncated data
  CHECK_THROWS_WITH_AS(train::read_safetensors(path), Contains((path + ": tensor w: data_offsets").c_str()), Error);
  std::ofstream(path, std::ios::binary) << bytes.substr(0, 6);
  CHECK_THROWS_WITH_AS(train::read_safetensors(path), Contains("too short"), Error);
  std::string huge = bytes;
  huge[5] = 0x7f;  // header length far beyond the file
  std::ofstream(path, std::ios::binary) << huge;
  CHECK_THROWS_WITH_AS(train::read_safetensors(path), Contains("exceeds the file size"), Error);
  CHECK_THROWS_WITH_AS(train::read_safetensors(dir + "/missing.safetensors"), Contains("cannot open"), Error);
  fs::remove_all(dir);
}

TEST_CASE("a checkpoint from another architecture names the tensor that differs") {
  const std::string dir = temp_dir("moelab_ckpt_arch");
  auto [cfg, tok, small] = tiny_model("abcdef");
  train::save_checkpoint(dir, *small, nullptr, cfg, tok, {0, 0, {}});
  cfg.model.n_embd = 16;
  moelab::nn::GPT wider(cfg.model, 1);
  auto tensors = train::read_safetensors(dir + "/model.safetensors").tensors;
  CHECK_THROWS_WITH_AS(train::load_parameters(wider, tensors, "x"), Contains("transformer.h.0.attn.c_attn.bias has shape [24], the model expects [48]"), Error);
  cfg.model.n_embd = 8;
  cfg.model.n_layer = 2;
  moelab::nn::GPT deeper(cfg.model, 1);
  CHECK_THROWS_WITH_AS(train::load_parameters(deeper, tensors, "x"), Contains("missing tensor transformer.h.1."), Error);
  fs::remove_all(dir);
}

TEST_CASE("an MoE checkpoint (bias balancing buffer included) round-trips bitwise, names in PyTorch layout") {
  const std::string dir = temp_dir("moelab_ckpt_moe");
  train::RunConfig cfg = train::parse_config(nlohmann::json::parse(
      R"({"model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 8,
                    "moe": {"num_experts": 3, "top_k": 2, "shared_experts": 1,
                            "router": {"type": "topk", "bias_rate": 0.01}}}})"));
  std::string text = "hello world, hello moe";
  train::Tokenizer tok = train::Tokenizer::chars_of({&text});
  cfg.model.vocab_size = tok.vocab_size();
  moelab::nn::GPT model(cfg.model, 42);
  CHECK(model.moe_layers() == std::vector<int>{1});
  CHECK(model.find_parameter("transformer.h.1.moe.router.weight")->var.shape() == moelab::Shape{3, 16});
  CHECK(model.find_parameter("transformer.h.1.moe.experts.2.c_fc.weight")->var.shape() == moelab::Shape{64, 16});
  CHECK(model.find_parameter("transformer.h.1.moe.experts.2.c_proj.bias")->var.shape() == moelab::Shape{16});
  CHECK(model.find_parameter("transformer.h.1.moe.shared.0.c_fc.weight") != nullptr);
  CHECK(model.find_parameter("transformer.h.0.mlp.c_fc.weight") != nullptr);
  IndexTensor ids = IndexTensor::from({1, 8}, {1, 2, 3, 4, 5, 6, 7, 0});
  IndexTensor tgt = IndexTensor::from({1, 8}, {2, 3, 4, 5, 6, 7, 0, 1});
  model.forward(ids, tgt);  // training forward: moves the balancing bias
  moelab::autograd::clear_tape();
  auto buffers = model.named_buffers();
  REQUIRE(buffers.size() == 1);
  CHECK(buffers[0].name == "transformer.h.1.moe.router.bias_balance");
  const Tensor bias = buffers[0].tensor->clone();
  double moved = 0;
  for (int64_t i = 0; i < bias.numel(); ++i) moved += std::abs(bias[i]);
  CHECK(moved > 0);
  float before;
  {
    moelab::autograd::NoGrad ng;
    model.set_training(false);
    before = model.forward(ids, tgt).total.item();
  }
  train::save_checkpoint(dir, model, nullptr, cfg, tok, {3, 4, {}});
  train::LoadedModel lm = train::load_checkpoint(dir);
  const Tensor loaded = *lm.model->named_buffers()[0].tensor;
  CHECK(std::memcmp(loaded.data(), bias.data(), bias.numel() * 4) == 0);
  moelab::autograd::NoGrad ng;
  lm.model->set_training(false);
  CHECK(lm.model->forward(ids, tgt).total.item() == before);
  fs::remove_all(dir);
}

TEST_CASE("a model holding NaN is never written; the previous checkpoint stays loadable") {
  const std::string dir = temp_dir("moelab_ckpt_nan");
  auto [cfg, tok, owned] = tiny_model("abcdefg");
  moelab::nn::GPT& model = *owned;
  train::save_checkpoint(dir, model, nullptr, cfg, tok, {1, 0, {}});
  model.find_parameter("transformer.h.0.attn.c_proj.weight")->var.value()[5] = std::nanf("");
  CHECK_THROWS_WITH_AS(train::save_checkpoint(dir, model, nullptr, cfg, tok, {2, 0, {}}),
                       Contains("transformer.h.0.attn.c_proj.weight holds a non-finite value at index 5"), Error);
  train::LoadedModel lm = train::load_checkpoint(dir);
  CHECK(lm.state.step == 1);
  fs::remove_all(dir);
}

TEST_CASE("checkpoint folders: latest moves atomically, the oldest beyond keep_checkpoints go, mixes are refused") {
  const std::string dir = temp_dir("moelab_ckpt_folders");
  auto [cfg, tok, owned] = tiny_model("abcd", R"({"train": {"keep_checkpoints": 2}})");
  moelab::nn::GPT& model = *owned;
  Tensor wte = model.named_parameters().front().param->var.value();
  for (int step : {10, 20, 30}) {
    wte[0] = static_cast<float>(step);  // each checkpoint holds its own step in one weight
    train::save_checkpoint(dir, model, nullptr, cfg, tok, {step, 0, {}});
  }
  CHECK(fs::read_symlink(dir + "/latest") == "checkpoints/step_00000030");
  CHECK(!fs::exists(dir + "/checkpoints/step_00000010"));  // pruned: keep 2
  CHECK(fs::exists(dir + "/checkpoints/step_00000020"));
  CHECK(!fs::exists(dir + "/optimizer.safetensors"));     // no optimizer state saved: no link either
  train::LoadedModel lm = train::load_checkpoint(dir);
  CHECK(lm.state.step == 30);
  CHECK(lm.model->named_parameters().front().param->var.value()[0] == 30.0f);
  CHECK(train::checkpoint_dir(dir + "/model.safetensors") == fs::canonical(dir + "/checkpoints/step_00000030").string());
  // an older checkpoint folder loads by its path
  lm = train::load_checkpoint(dir + "/checkpoints/step_00000020");
  CHECK(lm.model->named_parameters().front().param->var.value()[0] == 20.0f);
  // files from two checkpoints side by side (the pre-folder layout could be left so by a kill)
  const std::string mixed = temp_dir("moelab_ckpt_mixed");
  fs::create_directories(mixed);
  fs::copy_file(dir + "/checkpoints/step_00000020/model.safetensors", mixed + "/model.safetensors");
  fs::copy_file(dir + "/checkpoints/step_00000030/model.json", mixed + "/model.json");
  const std::string want = "model.safetensors is from step 20 but " + mixed + "/model.json is from step 30";
  CHECK_THROWS_WITH_AS(train::load_checkpoint(mixed), Contains(want.c_str()), Error);
  // saving a step that already has a folder keeps both (the older copy is never overwritten)
  fs::create_directories(dir + "/checkpoints/step_00000001_best");  // a user's folder: never pruned
  train::save_checkpoint(dir, model, nullptr, cfg, tok, {30, 0, {}});
  CHECK(fs::read_symlink(dir + "/latest") == "checkpoints/step_00000030.2");
  // a re-run from step 5 in the same folder: its folders are newer than the old run's higher
  // steps, so pruning (keep 2) removes the old run's, not the new run's
  train::save_checkpoint(dir, model, nullptr, cfg, tok, {5, 0, {}});
  CHECK(fs::read_symlink(dir + "/latest") == "checkpoints/step_00000005");
  CHECK(fs::exists(dir + "/checkpoints/step_00000030.2"));
  CHECK(!fs::exists(dir + "/checkpoints/step_00000030"));
  CHECK(fs::exists(dir + "/checkpoints/step_00000001_best"));
  fs::remove_all(dir);
  fs::remove_all(mixed);
}

TEST_CASE("a damaged sidecar: a huge config, a bad vocab_size, deep nesting are errors naming model.json") {
  const std::string dir = temp_dir("moelab_ckpt_sidecar");
  auto [cfg, tok, model] = tiny_model("abcd");
  train::save_checkpoint(dir, *model, nullptr, cfg, tok, {1, 0, {}});
  const std::string side_path = dir + "/latest/model.json";
  nlohmann::json side;
  {
    std::ifstream in(side_path);
    side = nlohmann::json::parse(in);
  }
  auto write_side = [&](const std::string& body) {
    fs::remove(side_path);  // replace the file behind the link
    std::ofstream(side_path) << body;
  };
  const std::string good = side.dump();
  nlohmann::json huge = side;
  huge["config"]["model"]["n_embd"] = 1 << 20;  // 2^40 values: would be 4 TB of float32
  huge["config"]["model"]["n_head"] = 1;
  write_side(huge.dump());
  CHECK_THROWS_WITH_AS(train::load_checkpoint(dir), Contains("describes a model of at least"), Error);
  nlohmann::json bad_vocab = side;
  bad_vocab["vocab_size"] = "four";
  write_side(bad_vocab.dump());
  CHECK_THROWS_WITH_AS(train::load_checkpoint(dir), Contains("vocab_size \"four\" does not match"), Error);
  write_side(std::string(100000, '[') + std::string(100000, ']'));
  CHECK_THROWS_WITH_AS(train::load_checkpoint(dir), Contains("nested deeper than 64 levels"), Error);
  write_side(good);
  CHECK(train::load_checkpoint(dir).state.step == 1);
  fs::remove_all(dir);
}

#include "train/checkpoint/run_dir.h"

TEST_CASE("resume trims metrics.jsonl: rows after the checkpoint, its step's eval row, a half line") {
  const std::string dir = temp_dir("moelab_trim_metrics");
  fs::create_directories(dir);
  const std::string path = dir + "/metrics.jsonl";
  std::ofstream(path) << R"({"event":"start","step":0})" "\n"
                      << R"({"step":0,"val_loss":4.0})" "\n"
                      << R"({"step":2,"loss":3.0})" "\n"
                      << R"({"step":4,"loss":2.5})" "\n"
                      << R"({"step":4,"val_loss":2.6})" "\n"
                      << R"({"step":6,"loss":2.2})" "\n"
                      << R"({"step":8,"lo)";  // killed mid-line
  train::drop_metrics_after(path, 4);
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(all == R"({"event":"start","step":0})" "\n" R"({"step":0,"val_loss":4.0})" "\n" R"({"step":2,"loss":3.0})" "\n"
               R"({"step":4,"loss":2.5})" "\n");
  fs::remove_all(dir);
}

TEST_CASE("__metadata__ describes the forward pass: the reference's fields and moelab's whole model section") {
  const std::string dir = temp_dir("moelab_ckpt_metadata");
  TinyModel t = tiny_model("abcdefgh", R"({"model": {"n_layer": 2, "moe": {"num_experts": 4, "top_k": 2, "every": 2,
      "router": {"type": "topk", "topk_softmax": true, "bias_rate": 0.01},
      "capacity": {"factor": 1.25, "eval_factor": 2.0, "convention": "times_k", "priority": "token"}}}})");
  train::save_checkpoint(dir, *t.model, nullptr, t.cfg, t.tok, {3, 0, {}});
  const train::SafeTensors st = train::read_safetensors(dir + "/model.safetensors");
  const nlohmann::json ref = nlohmann::json::parse(st.metadata.at("config"));
  CHECK(ref["experts"] == 4);
  CHECK(ref["topk"] == 2);
  CHECK(ref["moe_layers"] == nlohmann::json::array({1}));
  CHECK(ref["renorm"] == true);  // topk_softmax is the same function
  CHECK(ref["capacity_factor"] == 2.0);  // the reference evaluates: the eval factor
  CHECK(ref["capacity_convention"] == "times_k");
  CHECK(ref["capacity_priority"] == "token");
  const nlohmann::json model = nlohmann::json::parse(st.metadata.at("moelab_model"));
  CHECK(model["vocab_size"] == t.tok.vocab_size());
  CHECK(model["moe"]["router"]["topk_softmax"] == true);
  CHECK(model["moe"]["router"]["bias_rate"] == 0.01);
  CHECK(model["moe"]["capacity"]["factor"] == 1.25);
  CHECK(model["ffn"]["activation"] == "gelu");
  CHECK(st.tensors.count("transformer.h.1.moe.router.bias_balance") == 1);  // router state is a tensor
  // the model section alone rebuilds the same model config
  nlohmann::json back = train::to_json(t.cfg);
  back["model"] = model;
  back["model"].erase("vocab_size");
  CHECK(train::to_json(train::parse_config(back)) == train::to_json(t.cfg));
  fs::remove_all(dir);
}

TEST_CASE("stale temp entries: a killed run's temps are removed at the next start; nothing else is touched") {
  const fs::path dir = temp_dir("moelab_ckpt_stale");
  fs::create_directories(dir / "checkpoints");
  auto write = [](const fs::path& p, const std::string& text) { std::ofstream(p) << text; };
  // what moelab leaves when killed mid-save or mid-prune
  fs::create_directories(dir / "checkpoints" / ".moelab-tmp.4242.step_00000010");
  write(dir / "checkpoints" / ".moelab-tmp.4242.step_00000010" / "model.safetensors", "partial");
  write(dir / "checkpoints" / ".moelab-tmp.4242.step_00000010" / ".moelab-tmp.4242.model.json", "partial");
  fs::create_directories(dir / "checkpoints" / ".moelab-pruned.4242.step_00000004");
  write(dir / "checkpoints" / ".moelab-pruned.4242.step_00000004" / "model.json", "{}");
  write(dir / ".moelab-tmp.4242.metrics.jsonl", "half");
  fs::create_symlink("checkpoints/step_00000010", dir / ".moelab-tmp.4242.latest");
  // the user's: similar names, and a file of theirs inside a folder with a temp name
  fs::create_directories(dir / "checkpoints" / ".moelab-tmp.4243.step_00000011");
  write(dir / "checkpoints" / ".moelab-tmp.4243.step_00000011" / "notes.txt", "mine");
  write(dir / "checkpoints" / ".moelab-tmp.4243.step_00000011" / "model.json", "{}");
  write(dir / "data.tmp.123", "mine");
  write(dir / ".tmp-important", "mine");
  write(dir / ".moelab-tmp.4242.my_results.csv", "mine");  // a name moelab never writes there
  fs::create_directories(dir / ".moelab-tmp.4242.model.json");  // a folder, not a file moelab writes
  write(dir / "checkpoints" / "step_00000003_best", "mine");

  train::remove_stale_temps(dir.string());
  CHECK_FALSE(fs::exists(dir / "checkpoints" / ".moelab-tmp.4242.step_00000010"));
  CHECK_FALSE(fs::exists(dir / "checkpoints" / ".moelab-pruned.4242.step_00000004"));
  CHECK_FALSE(fs::exists(dir / ".moelab-tmp.4242.metrics.jsonl"));
  CHECK_FALSE(fs::exists(fs::symlink_status(dir / ".moelab-tmp.4242.latest")));
  CHECK(fs::exists(dir / "checkpoints" / ".moelab-tmp.4243.step_00000011" / "notes.txt"));
  CHECK_FALSE(fs::exists(dir / "checkpoints" / ".moelab-tmp.4243.step_00000011" / "model.json"));
  CHECK(fs::exists(dir / "data.tmp.123"));
  CHECK(fs::exists(dir / ".tmp-important"));
  CHECK(fs::exists(dir / ".moelab-tmp.4242.my_results.csv"));
  CHECK(fs::is_directory(dir / ".moelab-tmp.4242.model.json"));
  CHECK(fs::exists(dir / "checkpoints" / "step_00000003_best"));
  fs::remove_all(dir);
}

TEST_CASE("atomic writes follow a symlink to the file it names and refuse devices and folders") {
  const fs::path dir = temp_dir("moelab_atomic_links");
  fs::create_directories(dir / "real");
  std::ofstream(dir / "real" / "out.txt") << "old";
  fs::create_symlink("real/out.txt", dir / "link.txt");
  train::write_file_atomic((dir / "link.txt").string(), "new");
  CHECK(fs::is_symlink(dir / "link.txt"));  // still a link
  std::ifstream in(dir / "real" / "out.txt");
  std::string text;
  in >> text;
  CHECK(text == "new");
  CHECK_THROWS_WITH_AS(train::write_file_atomic("/dev/null", "x"), Contains("/dev/null is a character device"), Error);
  CHECK(fs::is_character_file("/dev/null"));
  CHECK_THROWS_WITH_AS(train::write_file_atomic((dir / "real").string(), "x"), Contains("is a folder"), Error);
  fs::create_symlink("/dev/null", dir / "to_null");
  CHECK_THROWS_WITH_AS(train::write_file_atomic((dir / "to_null").string(), "x"), Contains("(-> /dev/null)"), Error);
  fs::remove_all(dir);
}
