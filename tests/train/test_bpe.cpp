// Byte-level BPE: the GPT-2 split (expected words from JavaScript's own regex engine running GPT-2's
// pattern), training (hand-checked merges, determinism across thread counts), round trips on any
// bytes, tokenizer.json round trips and errors, special tokens. Equality with the real clients
// (tokenizers.js, js-tiktoken) is tests/tokenizer/oracle.sh.
#include <doctest/doctest.h>
#include <omp.h>

#include <random>

#include "core/error.h"
#include "train/data/bpe_trainer.h"
#include "train/data/pretokenize.h"
#include "train/data/tokenizer.h"

namespace train = moelab::train;
using doctest::Contains;

namespace {
std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> out;
  train::split_gpt2_words(s, [&](std::string_view w) { out.emplace_back(w); });
  return out;
}
using W = std::vector<std::string>;

train::Bpe trained_on(const std::vector<std::string>& docs, int vocab) {
  std::vector<std::string_view> views(docs.begin(), docs.end());
  return train::train_bpe(views, train::BpeTrainOptions{vocab});
}
}  // namespace

TEST_CASE("the GPT-2 split gives the words JavaScript's regex engine gives for GPT-2's pattern") {
  // node: "<text>".match(/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu)
  CHECK(words_of("Hello world") == W{"Hello", " world"});
  CHECK(words_of("it's I'LL they're") == W{"it", "'s", " I", "'", "LL", " they", "'re"});
  CHECK(words_of("a  \n\nb") == W{"a", "  \n", "\n", "b"});
  CHECK(words_of("  a") == W{" ", " a"});
  CHECK(words_of("x  ") == W{"x", "  "});
  CHECK(words_of("3.14 is pi!") == W{"3", ".", "14", " is", " pi", "!"});
  CHECK(words_of(" ' s") == W{" '", " s"});
  CHECK(words_of("caf\u00e9 \u65e5\u672c\u8a9e") == W{"caf\u00e9", " \u65e5\u672c\u8a9e"});
  CHECK(words_of("e\u0301t\u00e9") == W{"e", "\u0301", "t\u00e9"});  // a combining mark is neither letter nor number
  CHECK(words_of("a\tb") == W{"a", "\t", "b"});
  CHECK(words_of("!!'s") == W{"!!'", "s"});
  CHECK(words_of("hi \u00a0 there") == W{"hi", " \u00a0", " there"});  // no-break space is White_Space
}

TEST_CASE("the split takes bytes that are not UTF-8 one at a time, and every split concatenates back") {
  CHECK(words_of("ab\xff\xfe cd") == W{"ab", "\xff\xfe", " cd"});
  CHECK(words_of("\xe6\x97") == W{"\xe6\x97"});  // a truncated sequence: two "other" bytes, one word
  std::mt19937 gen(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string s(static_cast<size_t>(gen() % 64), '\0');
    for (char& c : s) c = static_cast<char>(gen() % 4 == 0 ? gen() % 256 : " a'\n1\xc3\xa9"[gen() % 8]);
    std::string joined;
    for (const std::string& w : words_of(s)) {
      CHECK(!w.empty());
      joined += w;
    }
    CHECK(joined == s);
  }
}

TEST_CASE("a cut from next_safe_cut splits into the same words as the whole text") {
  const std::string text = "one line\nTwo  lines\n\nthree\nfour's\n  five\nsix";
  std::vector<std::string> whole = words_of(text), pieces;
  size_t begin = 0, cuts = 0;
  while (begin < text.size()) {
    const size_t end = train::next_safe_cut(text, begin + 1);
    for (const std::string& w : words_of(text.substr(begin, end - begin))) pieces.push_back(w);
    cuts += end < text.size();
    begin = end;
  }
  CHECK(cuts >= 3);
  CHECK(pieces == whole);
}

TEST_CASE("training merges the most frequent pair first, ties to the smaller ids; the same on 1 and 2 threads") {
  // words: "ab" x3, "abc" x1, "cd" x2 -> (a,b) 4 first; then (c,d) 2 beats (ab,c) 1
  train::Bpe bpe = trained_on({"ab ab ab abc cd cd"}, 256 + 3 + 1);
  CHECK(bpe.vocab_size() == 260);
  CHECK(bpe.token_bytes(256) == "ab");
  // after "ab": pairs (' ',ab) x3, (' ',c) x2, (c,d) x2, (ab,c) x1 -> (' ', ab) = (32, 256)
  CHECK(bpe.token_bytes(257) == " ab");
  // then (' ',c) and (c,d) tie at 2: the smaller left id wins: ' ' (32) < 'c' (99)
  CHECK(bpe.token_bytes(258) == " c");
  CHECK(bpe.special_id("<|endoftext|>") == 259);

  std::string text;
  std::mt19937 gen(3);
  const char* words[] = {"the", " cat", " sat", " on", " mat", ",", "\n", " the", " dog's", " 42"};
  for (int i = 0; i < 20000; ++i) text += words[gen() % 10];
  omp_set_num_threads(1);
  const nlohmann::json one = trained_on({text, text.substr(0, 5000)}, 300).to_hf_json();
  omp_set_num_threads(2);
  const nlohmann::json two = trained_on({text, text.substr(0, 5000)}, 300).to_hf_json();
  omp_set_num_threads(1);
  CHECK(one == two);
}

TEST_CASE("decode(encode(x)) == x for any bytes: invalid UTF-8, long words, specials' text") {
  train::Bpe bpe = trained_on({"hello hello world wonderful world, it's a test\n\n of the tokenizer \xe6\x97\xa5"}, 320);
  std::mt19937 gen(11);
  for (int trial = 0; trial < 300; ++trial) {
    std::string s(static_cast<size_t>(gen() % 200), '\0');
    for (char& c : s) c = static_cast<char>(gen() % 3 == 0 ? gen() % 256 : "hello world'\n "[gen() % 14]);
    CHECK(bpe.decode(bpe.encode(s)) == s);
  }
  const std::string long_word(1 << 20, 'l');  // one 1 MB word: the heap-based merge stays O(n log n)
  CHECK(bpe.decode(bpe.encode(long_word)) == long_word);
  // "<|endoftext|>" in a document is text, never the special id: no document can forge a boundary
  const std::vector<int32_t> ids = bpe.encode("a<|endoftext|>b");
  CHECK(std::find(ids.begin(), ids.end(), bpe.special_id("<|endoftext|>")) == ids.end());
  CHECK(bpe.decode(ids) == "a<|endoftext|>b");
}

TEST_CASE("encode_parallel gives encode's ids") {
  train::Bpe bpe = trained_on({"the quick brown fox jumps over the lazy dog\n"}, 300);
  std::string text;
  for (int i = 0; i < 60000; ++i) text += i % 7 ? "the quick brown fox\n" : "Jumps over the lazy dog.\n";
  omp_set_num_threads(2);
  CHECK(bpe.encode_parallel(text) == bpe.encode(text));
  omp_set_num_threads(1);
}

TEST_CASE("tokenizer.json round trip; the checkpoint form; bytes per token") {
  train::Bpe bpe = trained_on({"low lower lowest newer newest wider widest"}, 280);
  const nlohmann::json j = bpe.to_hf_json();
  CHECK(j.at("model").at("type") == "BPE");
  CHECK(j.at("pre_tokenizer").at("type") == "ByteLevel");
  const int32_t low = bpe.encode(" low").at(0);
  REQUIRE(bpe.token_bytes(low).size() >= 2);  // a merged token that starts with the space byte...
  std::string printable = "\u0120";            // ...which tokenizer.json writes as Ġ
  printable += bpe.token_bytes(low).substr(1);
  CHECK(j.at("model").at("vocab").at(printable) == low);
  train::Bpe back = train::Bpe::from_hf_json(j, "t.json");
  const std::string s = "the lowest and the widest, newer";
  CHECK(back.encode(s) == bpe.encode(s));
  CHECK(back.to_hf_json() == j);
  const train::Tokenizer tok = train::Tokenizer::bpe(bpe);
  const train::Tokenizer again = train::Tokenizer::from_json(tok.to_json());
  CHECK(again.kind() == "bpe");
  CHECK(again.encode(s, "x") == tok.encode(s, "x"));
  CHECK(again.end_of_text() == bpe.vocab_size() - 1);
  const std::vector<int> bytes = tok.bytes_per_token();
  CHECK(bytes[' '] == 1);
  CHECK(bytes[static_cast<size_t>(bpe.vocab_size() - 1)] == 0);
  CHECK(bytes[static_cast<size_t>(low)] == static_cast<int>(bpe.token_bytes(low).size()));
}

TEST_CASE("a bad tokenizer.json is an error naming the file and what is wrong") {
  const nlohmann::json good = trained_on({"aaa bbb"}, 260).to_hf_json();
  auto fails = [&](nlohmann::json j, const char* msg) {
    CHECK_THROWS_WITH_AS(train::Bpe::from_hf_json(j, "bad.json"), Contains(msg), moelab::Error);
  };
  nlohmann::json j = good;
  j.erase("model");
  fails(j, "bad.json: missing \"model\"");
  j = good;
  j["model"]["type"] = "WordPiece";
  fails(j, "moelab reads byte-level BPE tokenizers only");
  j = good;
  j["pre_tokenizer"]["add_prefix_space"] = true;
  fails(j, "add_prefix_space false");
  j = good;
  j["model"]["merges"].push_back("zz qq");
  fails(j, "merge \"zz qq\"");
  j = good;
  j["model"]["vocab"]["\u0120extra"] = 3;
  fails(j, "out of range or repeated");
  j = good;
  j["model"]["vocab"]["\u4e2d"] = 260;
  fails(j, "outside the byte-level alphabet");
}

TEST_CASE("a hostile ranks module or tokenizer.json: only clear errors") {
  auto ranks = [](const std::string& lines, const std::string& specials) {
    return std::string("module.exports = {\"pat_str\": \"'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+\", "
                       "\"special_tokens\": ") + specials + ", \"bpe_ranks\": \"" + lines + "\"};";
  };
  std::string bytes = "x 0";
  const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int b = 0; b < 256; ++b) {  // base64 of one byte: two characters and "=="
    bytes += " ";
    bytes += b64[b >> 2];
    bytes += b64[(b & 3) << 4];
    bytes += "==";
  }
  const std::string aa = bytes + " YWE=";  // rank 256: "aa"
  CHECK(train::Bpe::from_tiktoken_js(ranks(aa, "{\"<|endoftext|>\": 257}"), "r.js").vocab_size() == 258);
  // a special id on an ordinary rank would make the text "aa" encode to the end-of-text id
  CHECK_THROWS_WITH_AS(train::Bpe::from_tiktoken_js(ranks(aa, "{\"<|endoftext|>\": 256}"), "r.js"),
                       Contains("special ids follow the 257 ranks"), moelab::Error);
  // ranks that jump ahead would allocate up to the jump before failing
  CHECK_THROWS_WITH_AS(train::Bpe::from_tiktoken_js(ranks("x 16777200 QQ==", "{}"), "r.js"),
                       Contains("bpe_ranks line starts at rank 16777200; expected 0"), moelab::Error);
  // a field of the wrong type is moelab's error, not the JSON library's
  CHECK_THROWS_WITH_AS(train::Bpe::from_tiktoken_js(ranks(aa, "{}, \"explicit_n_vocab\": \"x\""), "r.js"),
                       Contains("r.js: "), moelab::Error);
  nlohmann::json j = trained_on({"aaa bbb"}, 260).to_hf_json();
  j["pre_tokenizer"]["use_regex"] = "yes";
  CHECK_THROWS_WITH_AS(train::Bpe::from_hf_json(j, "t.json"), Contains("t.json: "), moelab::Error);
}
