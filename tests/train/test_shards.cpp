// Token shards (docs/data.md): llm.c's format written and read back in both widths, every bad
// header a clear error, nanoGPT's raw train.bin, prepare -> train with the domain matrix, the same
// batches from memory and from mapped shards, and resume bitwise exact on shards.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/parallel.h"
#include "test_data.h"
#include "train/data/batch.h"
#include "train/data/bpe_trainer.h"
#include "train/data/corpus.h"
#include "train/data/prepare.h"
#include "train/data/shard_meta.h"
#include "train/data/shard_writer.h"
#include "train/data/token_files.h"
#include "train/data/tokenizer_files.h"
#include "run_losses.h"
#include "train/trainer.h"

namespace train = moelab::train;
namespace fs = std::filesystem;
using moelab::testing::logged_losses;
using doctest::Contains;
using moelab::Error;
using moelab::testing::TempDir;

namespace {

// A stream over the given shard files, mapped as training maps them.
train::TokenStream mapped(const std::vector<fs::path>& files) {
  train::TokenStream s;
  for (const fs::path& f : files) {
    auto file = std::make_shared<const train::MappedFile>(f.string(), "test");
    const train::ShardLayout layout = train::read_shard_header(file->data(), file->size(), f.string());
    s.append_mapped(file, layout, {{0, 0}});
  }
  return s;
}

std::string int32_bytes(std::initializer_list<int32_t> values) {
  std::string out;
  for (int32_t v : values) out.append(reinterpret_cast<const char*>(&v), 4);
  return out;
}

// A header of 256 int32 with these first values, then `payload`.
std::string shard_bytes(int32_t magic, int32_t version, int32_t count, const std::string& payload) {
  std::string header = int32_bytes({magic, version, count});
  header.resize(1024, '\0');
  return header + payload;
}

std::string uint16_bytes(const std::vector<uint16_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 2);
}

// Two fortune files (each with its .dat index) holding `entries` entries each.
void write_fortunes(const TempDir& d, int entries) {
  for (const char* name : {"animals", "plants"}) {
    std::string text;
    for (int i = 0; i < entries; ++i) text += std::string("a saying about ") + name + " number " + std::to_string(i) + "\n%\n";
    d.write(std::string("text/") + name, text);
    d.write(std::string("text/") + name + ".dat", "index");
  }
}

train::PrepareOptions prepare_options(const fs::path& input, const fs::path& out, const std::string& tokenizer) {
  train::PrepareOptions o;
  o.inputs = {input.string()};
  o.out_dir = out.string();
  o.tokenizer = tokenizer;
  return o;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("shards round trip in both widths; a window may span two shards") {
  TempDir d("moelab_shard_roundtrip");
  for (int width : {2, 4}) {
    CAPTURE(width);
    std::vector<int32_t> ids;
    for (int i = 0; i < 25; ++i) ids.push_back(width == 2 ? 65535 - i : 70000 + i);  // the full range of each width
    std::vector<train::ShardInfo> written;
    train::ShardWriter w(d.path.string(), "w" + std::to_string(width), "train", 1, 10, width, false);
    w.append(ids.data(), 12, 0, written);
    w.append(ids.data() + 12, 13, 1, written);
    w.finish(written);
    REQUIRE(written.size() == 3);  // 10 + 10 + 5
    CHECK(written[0].file == "w" + std::to_string(width) + "_train_000001.bin");
    CHECK(written[1].runs.size() == 2);  // the domain changes at token 12, i.e. 2 into the second shard
    CHECK(written[1].runs[1].start == 2);
    std::vector<fs::path> files;
    for (const auto& s : written) files.push_back(d.path / s.file);
    const std::string first = file_bytes(files[0]);
    CHECK(first.size() == 1024 + 10 * static_cast<size_t>(width));
    int32_t header[3];
    std::memcpy(header, first.data(), sizeof header);
    CHECK(header[0] == (width == 2 ? 20240520 : 20240801));
    CHECK(header[1] == (width == 2 ? 1 : 7));
    CHECK(header[2] == 10);
    const train::TokenStream s = mapped(files);
    REQUIRE(s.size() == 25);
    std::vector<int32_t> back(25);
    s.read(0, 25, back.data());
    CHECK(back == ids);
    std::vector<int32_t> window(6);
    s.read(7, 6, window.data());  // 7..12: across the first boundary
    CHECK(window == std::vector<int32_t>(ids.begin() + 7, ids.begin() + 13));
  }
}

TEST_CASE("bad shards are clear errors naming the file and what is wrong") {
  TempDir d("moelab_shard_errors");
  const std::string tokens = uint16_bytes({1, 2, 3, 4});
  auto open = [&](const std::string& name, const std::string& bytes) {
    const fs::path p = d.write(name, bytes);
    return mapped({p});
  };
  CHECK_THROWS_WITH_AS(open("magic.bin", shard_bytes(12345, 1, 4, tokens)),
                       Contains("magic.bin is not a token shard: magic 12345 at byte 0"), Error);
  CHECK_THROWS_WITH_AS(open("version.bin", shard_bytes(20240520, 3, 4, tokens)),
                       Contains("version.bin: version 3 at byte 4, expected 1 for magic 20240520"), Error);
  CHECK_THROWS_WITH_AS(open("short.bin", shard_bytes(20240520, 1, 5, tokens)),
                       Contains("short.bin is truncated: the header says 5 tokens (1034 bytes), the file has 1032"),
                       Error);
  CHECK_THROWS_WITH_AS(open("header.bin", std::string(100, '\0')),
                       Contains("header.bin is truncated: 100 bytes, shorter than the 1024-byte header"), Error);
  CHECK_THROWS_WITH_AS(open("long.bin", shard_bytes(20240520, 1, 3, tokens)),
                       Contains("long.bin has 2 bytes after the 3 tokens"), Error);
  // an id at or above the vocabulary is found when its window is read, naming the shard and byte
  train::TokenStream s = open("vocab.bin", shard_bytes(20240520, 1, 4, uint16_bytes({1, 2, 300, 4})));
  s.set_vocab_size(256);
  int32_t out[4];
  CHECK_NOTHROW(s.read(0, 2, out));
  const std::string expected =
      "token 300 in " + (d.path / "vocab.bin").string() + " at byte 1028 is not below the vocabulary size 256";
  CHECK_THROWS_WITH_AS(s.read(1, 3, out), Contains(expected.c_str()), Error);
  // through the config: data.format shards, a tokenizer.json beside the shard sets the vocabulary
  d.write("tokenizer.json", R"({"type": "byte"})");
  train::DataConfig cfg;
  cfg.train = {(d.path / "vocab.bin").string()};
  cfg.val = {(d.path / "vocab.bin").string()};
  const train::Corpus c = train::build_corpus(cfg);
  CHECK(c.from_token_files);
  moelab::Rng rng(1, 2);
  CHECK_THROWS_WITH_AS(train::sample_batch(c.train, 1, 3, rng), Contains("token 300 in"), Error);
}

TEST_CASE("nanoGPT's raw uint16 train.bin and val.bin (data.format nanogpt)") {
  TempDir d("moelab_shard_nanogpt");
  d.write("train.bin", uint16_bytes({10, 11, 12, 13, 14, 15, 16, 17}));
  d.write("val.bin", uint16_bytes({20, 21, 22, 23}));
  train::DataConfig cfg;
  cfg.train = {d.path.string()};
  cfg.format = "nanogpt";
  cfg.tokenizer = "byte";
  const train::Corpus c = train::build_corpus(cfg);
  REQUIRE(c.train.size() == 8);
  REQUIRE(c.val.size() == 4);
  CHECK(c.train.at(3) == 13);
  CHECK(c.val.at(0) == 20);
  CHECK(c.tokenizer.byte_level());
  cfg.tokenizer = "char";  // no text to build a char vocabulary from, and no tokenizer.json
  CHECK_THROWS_WITH_AS(train::build_corpus(cfg), Contains("no tokenizer.json beside the token files"), Error);
  d.write("odd.bin", "abc");
  cfg.tokenizer = "byte";
  cfg.train = {(d.path / "odd.bin").string()};
  CHECK_THROWS_WITH_AS(train::build_corpus(cfg), Contains("odd.bin has an odd size (3 bytes)"), Error);
}

TEST_CASE("prepare writes llm.c shards, tokenizer.json and meta.json; the same for 1 and 2 threads") {
  TempDir d("moelab_prepare");
  write_fortunes(d, 40);
  train::PrepareOptions o = prepare_options(d.path / "text", d.path / "one", "char");
  o.shard_tokens = 500;
  std::ostringstream log;
  moelab::set_num_threads(1);
  const train::PrepareResult r = train::prepare_shards(o, log, false);
  CHECK(r.shards >= 3);
  CHECK(fs::exists(d.path / "one" / "text_val_000000.bin"));
  CHECK(fs::exists(d.path / "one" / "text_train_000001.bin"));
  CHECK(fs::exists(d.path / "one" / "tokenizer.json"));
  const auto meta = train::ShardMeta::from_json(nlohmann::json::parse(file_bytes(d.path / "one" / "meta.json")), "m");
  CHECK(meta.domains.size() == 2);
  CHECK(meta.end_of_text == std::nullopt);  // char: no separator
  CHECK(meta.shards.front().split == "val");
  CHECK(meta.shards.front().runs.size() == 2);  // the val shard holds the end of both files
  o.out_dir = (d.path / "two").string();
  moelab::set_num_threads(2);
  train::prepare_shards(o, log, false);
  moelab::set_num_threads(1);
  for (const auto& s : meta.shards) CHECK(file_bytes(d.path / "one" / s.file) == file_bytes(d.path / "two" / s.file));
  CHECK(log.str().find("prepare 100.0%") != std::string::npos);

  // an earlier output is replaced (its extra shards removed); a folder with other files is refused
  o.shard_tokens = 100000;
  train::prepare_shards(o, log, false);
  CHECK(!fs::exists(d.path / "two" / "text_train_000002.bin"));
  CHECK(!fs::exists(d.path / "two" / "prepare.unfinished"));
  d.write("two/prepare.unfinished", "");  // as an interrupted prepare leaves it
  train::DataConfig unfinished;
  unfinished.train = {(d.path / "two").string()};
  CHECK_THROWS_WITH_AS(train::build_corpus(unfinished), Contains("two is an unfinished moelab prepare"), Error);
  d.write("mine/notes.txt", "keep me");
  o.out_dir = (d.path / "mine").string();
  CHECK_THROWS_WITH_AS(train::prepare_shards(o, log, false), Contains("holds notes.txt, which moelab prepare did not write"),
                       Error);
  CHECK(file_bytes(d.path / "mine" / "notes.txt") == "keep me");
  // --tokenizer: a JSON file (here the one just written), or a clear error
  o = prepare_options(d.path / "text", d.path / "again", (d.path / "one" / "tokenizer.json").string());
  CHECK_NOTHROW(train::prepare_shards(o, log, false));
  o.tokenizer = "bpe-someday";
  CHECK_THROWS_WITH_AS(train::prepare_shards(o, log, false),
                       Contains("\"bpe-someday\" is neither char, byte, gpt2 nor an existing tokenizer file"), Error);
}

TEST_CASE("text in memory and the same text prepared into shards give the same batches for the same seed") {
  TempDir d("moelab_same_batches");
  write_fortunes(d, 30);
  train::DataConfig text;
  text.train = {(d.path / "text").string()};
  text.tokenizer = "byte";  // no end-of-text id: the token sequences are equal
  const train::Corpus memory = train::build_corpus(text);
  train::PrepareOptions o = prepare_options(d.path / "text", d.path / "shards", "byte");
  o.shard_tokens = 300;  // many shards: windows cross their boundaries
  std::ostringstream log;
  train::prepare_shards(o, log, false);
  train::DataConfig shards;
  shards.train = {(d.path / "shards").string()};
  const train::Corpus disk = train::build_corpus(shards);
  REQUIRE(disk.from_token_files);
  REQUIRE(memory.train.size() == disk.train.size());
  REQUIRE(memory.val.size() == disk.val.size());
  CHECK(disk.domains == memory.domains);
  moelab::Rng a(7, 2), b(7, 2);
  for (int step = 0; step < 20; ++step) {
    const train::Batch x = train::sample_batch(memory.train, 4, 32, a), y = train::sample_batch(disk.train, 4, 32, b);
    for (int64_t i = 0; i < 4 * 32; ++i) {
      REQUIRE(x.ids[i] == y.ids[i]);
      REQUIRE(x.targets[i] == y.targets[i]);
    }
    REQUIRE(x.domains == y.domains);
  }
}

namespace {
train::RunConfig shard_run(const fs::path& data, int steps, const fs::path& out) {
  return train::parse_config(nlohmann::json::parse(R"({
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16, "dropout": 0.1,
              "moe": {"num_experts": 4, "top_k": 2, "every": 2, "router": {"type": "noisy_topk"}}},
    "data": {"train": ")" + data.string() + R"("},
    "train": {"batch_size": 3, "max_iters": )" + std::to_string(steps) + R"(, "eval_interval": 4, "eval_iters": 1,
              "log_interval": 1, "out_dir": ")" + out.string() + R"("},
    "optim": {"warmup_iters": 2, "lr_decay_iters": 12}})"));
}
}  // namespace

TEST_CASE("prepare -> train: the domain x expert matrix is there; resume on shards is bitwise exact") {
  TempDir d("moelab_shard_train");
  write_fortunes(d, 60);
  std::ostringstream log;
  train::PrepareOptions o = prepare_options(d.path / "text", d.path / "shards", "char");
  o.shard_tokens = 700;
  train::prepare_shards(o, log, false);
  train::run_training(shard_run(d.path / "shards", 8, d.path / "full"), {}, log);
  train::run_training(shard_run(d.path / "shards", 4, d.path / "split"), {}, log);
  train::run_training(shard_run(d.path / "shards", 8, d.path / "split"), {true}, log);  // --resume
  const std::map<int, double> a = logged_losses(d.path / "full"), b = logged_losses(d.path / "split");
  REQUIRE(a.size() == 8);
  REQUIRE(b.size() == 8);
  for (int s = 1; s <= 8; ++s) {
    CAPTURE(s);
    CHECK(a.at(s) == b.at(s));  // exactly
  }
  std::ifstream in(d.path / "full" / "metrics.jsonl");
  std::string line;
  bool matrix = false;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("domains")) CHECK(j["domains"] == nlohmann::json{"animals", "plants"});
    if (j.contains("moe") && j["moe"]["h1"].contains("domain_expert")) {
      CHECK(j["moe"]["h1"]["domain_expert"].size() == 2);
      matrix = true;
    }
  }
  CHECK(matrix);
  // resuming on shards made with another tokenizer is refused
  o = prepare_options(d.path / "text", d.path / "bytes", "byte");
  train::prepare_shards(o, log, false);
  CHECK_THROWS_WITH_AS(train::run_training(shard_run(d.path / "bytes", 9, d.path / "split"), {true}, log),
                       Contains("is not the checkpoint's"), Error);
  // one train shard alone has no val split (eval can read it; training says what to give)
  const fs::path one_shard = d.path / "bytes" / "text_train_000001.bin";
  train::DataConfig single;
  single.train = {one_shard.string()};
  CHECK(train::build_corpus(single).val.size() == 0);
  CHECK_THROWS_WITH_AS(train::run_training(shard_run(one_shard, 2, d.path / "one"), {}, log),
                       Contains("token files are not split by data.val_fraction"), Error);
}

TEST_CASE("prepare with a BPE tokenizer.json: <|endoftext|> before each document, the file read back as the same BPE") {
  TempDir d("moelab_prepare_bpe");
  write_fortunes(d, 25);
  std::string all;
  for (const char* name : {"animals", "plants"}) all += file_bytes(d.path / "text" / name);
  const train::Tokenizer bpe = train::Tokenizer::bpe(train::train_bpe({all}, train::BpeTrainOptions{300}));
  train::write_tokenizer_file((d.path / "bpe.json").string(), bpe);
  train::PrepareOptions o = prepare_options(d.path / "text", d.path / "shards", (d.path / "bpe.json").string());
  std::ostringstream log;
  train::prepare_shards(o, log, false);
  const auto meta = train::ShardMeta::from_json(nlohmann::json::parse(file_bytes(d.path / "shards" / "meta.json")), "m");
  REQUIRE(meta.end_of_text.has_value());
  CHECK(*meta.end_of_text == 299);
  train::DataConfig cfg;
  cfg.train = {(d.path / "shards").string()};
  const train::Corpus c = train::build_corpus(cfg);
  CHECK(c.tokenizer.to_json() == bpe.to_json());  // the folder's tokenizer.json is the same BPE
  int64_t separators = 0;
  std::string text;
  for (const train::TokenStream* s : {&c.train, &c.val})
    for (int64_t i = 0; i < s->size(); ++i) {
      const int32_t id = s->at(i);
      if (id == 299) ++separators;
      else text += c.tokenizer.decode({id});
    }
  CHECK(separators == 2 * 25);  // one per fortune
  size_t entry_bytes = 0;  // the text is every fortune's, without the "%" lines (train and val parts)
  for (const char* name : {"animals", "plants"})
    for (int i = 0; i < 25; ++i) entry_bytes += (std::string("a saying about ") + name + " number " + std::to_string(i) + "\n").size();
  CHECK(text.size() == entry_bytes);
  CHECK(text.find("a saying about plants number 24\n") != std::string::npos);
}
