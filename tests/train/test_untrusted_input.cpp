// Regression tests for what fuzzing the parsers found (fuzz/: libFuzzer targets, fuzz/run.sh;
// reproducers in fuzz/corpus/*/crash_*): configs and safetensors files from outside are rejected
// with a moelab::Error naming the file/key and the problem, never a crash, undefined behaviour,
// a huge allocation or another exception type.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "train/config/run_config.h"
#include "train/io/safetensors.h"

using doctest::Contains;
using moelab::Error;
using nlohmann::json;
namespace train = moelab::train;

namespace {
train::RunConfig parse(const std::string& text) { return train::parse_config(json::parse(text)); }
train::RunConfig parse_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return train::parse_config(json::parse(in));
}

// A safetensors file: 8-byte little-endian header length, the JSON header, the data.
std::string safetensors_bytes(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}
}  // namespace

TEST_CASE("config integers outside their type's range are errors, not undefined conversions") {
  // fuzz/corpus/config/crash_seed_negative.json, crash_seed_1e89.json: -1 and 1.3e89 were cast from double to uint64
  CHECK_THROWS_WITH_AS(parse(R"({"train": {"seed": -1}})"),
                       Contains("train.seed: -1 is out of range (expected an integer in [0, 18446744073709551615])"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"train": {"seed": 1.3e89}})"), Contains("train.seed: 1.3e+89 is out of range"), Error);
  // crash_int_huge_float.json, crash_int_over_int32.json: 1.8e21 and 32147483648 into an int
  CHECK_THROWS_WITH_AS(parse(R"({"train": {"eval_iters": 1844674407370955161520}})"),
                       Contains("train.eval_iters: 1.8446744073709552e+21 is out of range"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"ffn": {"mult": 32147483648}}})"),
                       Contains("model.ffn.mult: 32147483648 is out of range (expected an integer in [-2147483648, 2147483647])"),
                       Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"n_layer": -2147483649}})"), Contains("model.n_layer: -2147483649 is out of range"),
                       Error);
  // lists and experts_by_layer wrapped silently: 4294967296 became layer 0, 4294967298 experts became 2
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "layers": [4294967296]}}})"),
                       Contains("model.moe.layers: 4294967296 is out of range"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "experts_by_layer": {"1": 4294967298}}}})"),
                       Contains("model.moe.experts_by_layer: \"1\": 4294967298"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 4, "experts_by_layer": {"1x": 2}}}})"),
                       Contains("model.moe.experts_by_layer: \"1x\": 2"), Error);
  // what is in range still reads exactly, integral floats included
  CHECK(parse(R"({"train": {"seed": 18446744073709551615}})").train.seed == UINT64_MAX);  // was rounded via double
  CHECK(parse(R"({"train": {"seed": 9007199254740993}})").train.seed == 9007199254740993ULL);
  CHECK(parse(R"({"model": {"n_layer": 2.0}})").model.n_layer == 2);
  CHECK(parse(R"({"train": {"max_iters": 1e3}})").train.max_iters == 1000);
  CHECK(parse(R"({"model": {"moe": {"num_experts": 4, "experts_by_layer": {"3": 6}}}})").model.moe.experts_at(3) == 6);
  // a parsed config survives to_json -> parse_config (the checkpoint sidecar does this)
  const train::RunConfig big = parse(R"({"train": {"seed": 18446744073709551615}})");
  CHECK(train::parse_config(train::to_json(big)).train.seed == UINT64_MAX);
}

TEST_CASE("config floats beyond float32 are errors, not infinities") {
  CHECK_THROWS_WITH_AS(parse(R"({"optim": {"lr": 1e39}})"), Contains("optim.lr: 1e+39 is out of range (too large for a 32-bit float)"),
                       Error);
  CHECK_THROWS_WITH_AS(parse(R"({"optim": {"betas": [1e300, 0.9]}})"), Contains("optim.betas: [1e+300,0.9] is out of range"),
                       Error);
}

TEST_CASE("deeply nested config JSON is an error, not a stack overflow") {
  const int n = 200000;  // ~50k levels overflowed the 8 MB stack in json's recursive copy
  const std::string deep = std::string(n, '[') + std::string(n, ']');
  CHECK_THROWS_WITH_AS(train::parse_config(json::parse(deep)), Contains("config: nested deeper than 64 levels"), Error);
  const std::string deep_key = R"({"model": {"ffn": {"params": )" + deep + "}}}";
  CHECK_THROWS_WITH_AS(train::parse_config(json::parse(deep_key)), Contains("nested deeper than 64 levels"), Error);
  json j = json::object();
  CHECK_THROWS_WITH_AS(train::apply_override(j, "model.ffn.params=" + deep), Contains("--set model.ffn.params: nested deeper"),
                       Error);
  const std::string path = (std::filesystem::temp_directory_path() / "moelab_deep_config.json").string();
  std::ofstream(path) << R"({"base": "x.json", "a": )" << deep << "}";
  CHECK_THROWS_WITH_AS(train::load_config(path), Contains(("config: " + path + ": nested deeper").c_str()), Error);
  std::filesystem::remove(path);
}

TEST_CASE("config files and --set: every failure is a moelab::Error") {
  // 1e400 made nlohmann throw json::out_of_range (not parse_error), which escaped load_config
  const std::string path = (std::filesystem::temp_directory_path() / "moelab_overflow_config.json").string();
  std::ofstream(path) << R"({"optim": {"lr": 1e400}})";
  CHECK_THROWS_WITH_AS(train::load_config(path), Contains(("config: " + path + ": invalid JSON").c_str()), Error);
  std::filesystem::remove(path);
  // fuzz/corpus/config/crash_set_invalid_utf8.txt: a bare string with invalid UTF-8 made every later
  // dump() (error messages, the checkpoint sidecar) throw json::type_error
  json j = json::parse(R"({"model": {}})");
  CHECK_THROWS_WITH_AS(train::apply_override(j, "model.n_layer=\xff"), Contains("not valid UTF-8"), Error);
  CHECK_THROWS_WITH_AS(train::apply_override(j, "model.\xfe=1"), Contains("not valid UTF-8"), Error);
  train::apply_override(j, "data.train=caf\xc3\xa9.txt");  // valid UTF-8 is fine
  CHECK(train::parse_config(j).data.train == std::vector<std::string>{"caf\xc3\xa9.txt"});
}

TEST_CASE("MoE placement with a huge n_layer is checked without a loop over the layers") {
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"n_layer": 2000000000, "moe": {"num_experts": 2, "every": 2147483647}}})"),
                       Contains("no layer is an MoE layer"), Error);
  CHECK(parse(R"({"model": {"n_layer": 2147483647, "moe": {"num_experts": 2, "every": 2147483647}}})")
            .model.moe.is_moe_layer(2147483646, 2147483647));
  CHECK_THROWS_WITH_AS(parse(R"({"model": {"moe": {"num_experts": 2, "pattern": "DDDD"}}})"), Contains("no layer is an MoE layer"),
                       Error);
  CHECK(parse(R"({"model": {"moe": {"num_experts": 2, "layers": [3, 1]}}})").model.moe.is_moe_layer(1, 4));
}

TEST_CASE("safetensors: shapes whose element count overflows are errors, not tiny buffers") {
  // fuzz/corpus/safetensors/crash_shape_overflow: (2^62 + 1) * 4 bytes wrapped to 4, so 4 bytes were
  // allocated for a tensor claiming 2^62 + 1 elements (signed overflow, then out-of-bounds reads)
  CHECK_THROWS_WITH_AS(
      train::parse_safetensors(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4611686018427387905],"data_offsets":[0,4]}})",
                                                 std::string(4, '\0')),
                               "lying.safetensors"),
      Contains("lying.safetensors: tensor w: shape [4611686018427387905] is too large"), Error);
  // crash_shape_overflow_zero: numel_of overflowed (UB) before reaching the 0
  CHECK_THROWS_WITH_AS(
      train::parse_safetensors(
          safetensors_bytes(R"({"w":{"dtype":"F16","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})"), "z.safetensors"),
      Contains("z.safetensors: tensor w: shape [4294967296,4294967296,0] is too large"), Error);
  // empty tensors and ordinary shapes still load
  const train::SafeTensors ok = train::parse_safetensors(
      safetensors_bytes(R"({"e":{"dtype":"F32","shape":[0,1000000],"data_offsets":[0,0]},)"
                        R"("h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})",
                        std::string("\x00\x3c\x00\xc0", 4)),
      "ok.safetensors");
  CHECK(ok.tensors.at("e").numel() == 0);
  CHECK(ok.tensors.at("h")[0] == 1.0f);
  CHECK(ok.tensors.at("h")[1] == -2.0f);
}

TEST_CASE("safetensors: tensors sharing data bytes are refused before anything is allocated") {
  // fuzz/corpus/safetensors/crash_aliased_tensors: 40 tensors over the same 64 bytes. Each entry
  // costs ~60 header bytes but allocated the whole data section (x2 for F16): a small file could
  // ask for terabytes (std::bad_alloc escaped, or the OOM killer).
  std::string header = "{";
  for (int i = 0; i < 40; ++i) {
    if (i) header += ",";
    header += "\"t" + std::to_string(i) + R"(":{"dtype":"F16","shape":[32],"data_offsets":[0,64]})";
  }
  header += "}";
  CHECK_THROWS_WITH_AS(train::parse_safetensors(safetensors_bytes(header, std::string(64, '\0')), "alias.safetensors"),
                       Contains("alias.safetensors: tensors t0 [0, 64) and t1 [0, 64) overlap in the data section"), Error);
  CHECK_THROWS_WITH_AS(
      train::parse_safetensors(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                                 std::string(12, '\0')),
                               "partial.safetensors"),
      Contains("overlap"), Error);
  // adjacent and empty tensors do not overlap
  const train::SafeTensors ok = train::parse_safetensors(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        std::string(8, '\0')),
      "adjacent.safetensors");
  CHECK(ok.tensors.size() == 3);
}

TEST_CASE("safetensors: a deeply nested header is an error, not a stack overflow") {
  // fuzz/corpus/safetensors/crash_deep_shape (smaller than the real crash, which needed ~100k levels:
  // the "bad shape" message dumped the shape recursively)
  const int n = 200000;
  const std::string deep = std::string(n, '[') + std::string(n, ']');
  CHECK_THROWS_WITH_AS(
      train::parse_safetensors(safetensors_bytes(R"({"t":{"dtype":"F32","shape":)" + deep + R"(,"data_offsets":[0,0]}})"),
                               "deep.safetensors"),
      Contains("deep.safetensors: header nests deeper than 8 levels"), Error);
  CHECK_THROWS_WITH_AS(train::parse_safetensors(safetensors_bytes(R"({"t":{"dtype":)" + deep + "}}"), "deep.safetensors"),
                       Contains("header nests deeper"), Error);
}

TEST_CASE("safetensors parsed from bytes: checksum verified, errors name the given path") {
  // st_f32_one in fuzz/corpus/safetensors, as moelab writes it (with the data checksum)
  const std::string dir = (std::filesystem::temp_directory_path() / "moelab_parse_bytes").string();
  std::filesystem::create_directories(dir);
  train::SafeTensors st;
  st.tensors["w"] = moelab::Tensor::full({2, 3}, 0.5f);
  train::write_safetensors(dir + "/m.safetensors", st);
  std::ifstream in(dir + "/m.safetensors", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(train::parse_safetensors(bytes, "mem").tensors.at("w")[5] == 0.5f);
  bytes[bytes.size() - 1] ^= 0x01;
  CHECK_THROWS_WITH_AS(train::parse_safetensors(bytes, "mem/model.safetensors"),
                       Contains("checkpoint: mem/model.safetensors: tensor data checksum"), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("the fuzz corpus replays: valid seeds load, every crash reproducer is a moelab::Error") {
  namespace fs = std::filesystem;
  const fs::path corpus = fs::path(MOELAB_SOURCE_DIR) / "fuzz" / "corpus";
  int valid = 0, rejected = 0;
  for (const auto& entry : fs::directory_iterator(corpus / "safetensors")) {
    const std::string name = entry.path().filename().string();
    CAPTURE(name);
    if (name.rfind("st_", 0) == 0) {
      CHECK_NOTHROW(train::read_safetensors(entry.path().string()));
      ++valid;
    } else if (name.rfind("crash_", 0) == 0) {
      CHECK_THROWS_WITH_AS(train::read_safetensors(entry.path().string()), Contains(entry.path().string().c_str()), Error);
      ++rejected;
    }
  }
  for (const auto& entry : fs::directory_iterator(corpus / "config")) {
    const std::string name = entry.path().filename().string();
    CAPTURE(name);
    if (name.rfind("cfg_", 0) == 0) {
      CHECK_NOTHROW(parse_file(entry.path()));
      ++valid;
    } else if (name.rfind("crash_", 0) == 0 && entry.path().extension() == ".json") {
      CHECK_THROWS_AS(parse_file(entry.path()), Error);
      ++rejected;
    }
  }
  CHECK(valid >= 30);
  CHECK(rejected >= 9);
}
