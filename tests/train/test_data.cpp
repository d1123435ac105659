// The corpus and the tokenizers do what docs/config.md says: which files a folder contributes, the
// per-file train/val split, fortune separators, one domain per file; char and byte tokenizers.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "train/data/corpus.h"
#include "test_data.h"
#include "train/data/tokenizer.h"

namespace train = moelab::train;
namespace fs = std::filesystem;
using doctest::Contains;
using moelab::Error;

using moelab::testing::TempDir;

TEST_CASE("a data folder: its regular files, sorted; *.dat, *.u8, dotfiles and sub-folders skipped") {
  TempDir d("moelab_data_folder");
  d.write("b.txt", "bbb");
  d.write("a.txt", "aaa");
  d.write(".hidden", "hidden");
  d.write("a.txt.dat", "index");
  d.write("c.u8", "link");
  d.write("sub/deep.txt", "deep");
  const auto docs = train::read_documents({d.path.string()}, "text");
  REQUIRE(docs.size() == 2);
  CHECK(fs::path(docs[0].path).filename() == "a.txt");
  CHECK(fs::path(docs[1].path).filename() == "b.txt");
  CHECK(docs[0].text == "aaa");
}

TEST_CASE("fortune files: % separator lines dropped (fortunes, or auto with FILE.dat beside); text keeps them") {
  TempDir d("moelab_data_fortunes");
  const std::string text = "one\n%\ntwo lines\n100% sure\n%\nthree\n";
  d.write("f", text);
  CHECK(train::read_documents({(d.path / "f").string()}, "fortunes")[0].text == "one\ntwo lines\n100% sure\nthree\n");
  CHECK(train::read_documents({(d.path / "f").string()}, "text")[0].text == text);
  CHECK(train::read_documents({(d.path / "f").string()}, "auto")[0].text == text);  // no f.dat yet
  d.write("f.dat", "index");
  CHECK(train::read_documents({(d.path / "f").string()}, "auto")[0].text == "one\ntwo lines\n100% sure\nthree\n");
}

TEST_CASE("without data.val, the last val_fraction of EACH file is held out; every token keeps its file as domain") {
  TempDir d("moelab_data_split");
  d.write("a.txt", std::string(100, 'a'));
  d.write("b.txt", std::string(50, 'b'));
  train::DataConfig cfg;
  cfg.train = {(d.path / "a.txt").string(), (d.path / "b.txt").string()};
  cfg.val_fraction = 0.2;
  cfg.format = "text";
  const train::Corpus c = train::build_corpus(cfg);
  REQUIRE(c.domains.size() == 2);
  REQUIRE(c.train.size() == 80 + 40);
  REQUIRE(c.val.size() == 20 + 10);
  const int32_t a = c.tokenizer.encode("a", "t")[0], b = c.tokenizer.encode("b", "t")[0];
  std::vector<uint16_t> domains(120);
  c.train.read_domains(0, 120, domains.data());
  for (int64_t i = 0; i < 120; ++i) {
    CHECK(c.train.at(i) == (i < 80 ? a : b));
    CHECK(domains[i] == (i < 80 ? 0 : 1));
  }
  c.val.read_domains(0, 30, domains.data());
  for (int64_t i = 0; i < 30; ++i) {
    CHECK(c.val.at(i) == (i < 20 ? a : b));  // both files are in the val split
    CHECK(domains[i] == (i < 20 ? 0 : 1));
  }
  // with data.val, the training files are used whole and the val files get domains after them
  d.write("v.txt", "ab");
  cfg.val = {(d.path / "v.txt").string()};
  const train::Corpus w = train::build_corpus(cfg);
  CHECK(w.train.size() == 150);
  CHECK(w.val.size() == 2);
  std::vector<uint16_t> val_domains(2);
  w.val.read_domains(0, 2, val_domains.data());
  CHECK(val_domains == std::vector<uint16_t>{2, 2});
  CHECK(w.domains.size() == 3);
}

TEST_CASE("char tokenizer: the sorted distinct code points of all text; round trip; clear errors") {
  const std::string text = "héllo wörld 日本", more = "zebra";
  const train::Tokenizer tok = train::Tokenizer::chars_of({&text, &more});
  // distinct code points: ' ', 'a', 'b', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'z', 'é', 'ö', '日', '本'
  CHECK(tok.vocab_size() == 15);
  CHECK(tok.encode(" ", "t")[0] == 0);  // sorted by code point: space first
  CHECK(tok.encode("本", "t")[0] == 14);
  const std::vector<int32_t> ids = tok.encode(text, "t");
  CHECK(ids.size() == 14);  // one token per code point, not per byte
  CHECK(tok.decode(ids) == text);
  CHECK_THROWS_WITH_AS(tok.encode("hello!", "--prompt"),
                       Contains("--prompt: character '!' (U+0021) at character 6 is not in the model's vocabulary"), Error);
  const std::string bad = "ok\nline two \xff here";
  CHECK_THROWS_WITH_AS(train::Tokenizer::chars_of({&bad}, {"file.txt"}),
                       Contains("tokenizer: file.txt: invalid UTF-8 at byte 12 (line 2"), Error);
  // saved in the checkpoint sidecar and read back identically
  const train::Tokenizer back = train::Tokenizer::from_json(tok.to_json());
  CHECK(back.vocab_size() == 15);
  CHECK(back.encode(text, "t") == ids);
}

TEST_CASE("byte tokenizer: 256 ids, any bytes (invalid UTF-8 too) round-trip") {
  const train::Tokenizer tok = train::Tokenizer::bytes();
  CHECK(tok.vocab_size() == 256);
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  const std::vector<int32_t> ids = tok.encode(all, "t");
  CHECK(ids.size() == 256);
  for (int c = 0; c < 256; ++c) CHECK(ids[c] == c);
  CHECK(tok.decode(ids) == all);
  CHECK(train::Tokenizer::from_json(tok.to_json()).byte_level());
}
