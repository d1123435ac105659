// libFuzzer target: the byte-level BPE on untrusted bytes. Three paths, chosen by the first byte:
//   '{'  a tokenizer.json document (Bpe::from_hf_json): may only throw moelab::Error (or be rejected
//        by nlohmann's parser); a tokenizer that loads must round-trip text and its own JSON;
//   'm'  js-tiktoken's ranks module text (Bpe::from_tiktoken_js): the same contract;
//   else the bytes are a document for a small fixed BPE: the GPT-2 split must cover it exactly and
//        decode(encode(x)) == x, whatever the bytes (invalid UTF-8 included).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "train/data/bpe.h"
#include "train/data/bpe_trainer.h"
#include "train/data/pretokenize.h"

namespace {
[[noreturn]] void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_tokenizer: %s: %s\n", what, detail.c_str());
  std::abort();
}

const moelab::train::Bpe& fixed_bpe() {
  static const moelab::train::Bpe bpe = moelab::train::train_bpe(
      {"the cat's hat, the dog's bone\n\n  \xe6\x97\xa5\xe6\x9c\xac caf\xc3\xa9 123 456!!"}, {320, {"<|endoftext|>"}});
  return bpe;
}

void round_trips(const moelab::train::Bpe& bpe, const std::string& text) {
  const std::string back = bpe.decode(bpe.encode(text));
  if (back != text) finding("decode(encode(x)) != x", std::to_string(text.size()) + " bytes");
}

void loaded(const moelab::train::Bpe& bpe, const std::string& input) {
  round_trips(bpe, input);
  round_trips(bpe, "hello world, it's 42 \xff\xfe");
  const moelab::train::Bpe again = moelab::train::Bpe::from_hf_json(bpe.to_hf_json(), "round trip");
  if (again.encode(input) != bpe.encode(input)) finding("tokenizer.json round trip changes the ids", "");
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (input[0] == '{' || input[0] == 'm')) {
    try {
      if (input[0] == '{') {
        const nlohmann::json j = nlohmann::json::parse(input, nullptr, false);
        if (j.is_discarded()) return 0;
        loaded(moelab::train::Bpe::from_hf_json(j, "fuzz"), input);
      } else {
        loaded(moelab::train::Bpe::from_tiktoken_js(input, "fuzz"), input);
      }
    } catch (const moelab::Error&) {
    } catch (const std::exception& e) {
      finding("unexpected exception", e.what());
    }
    return 0;
  }
  std::string joined;
  moelab::train::split_gpt2_words(input, [&](std::string_view w) {
    if (w.empty()) finding("empty word", "");
    joined += w;
  });
  if (joined != input) finding("the words do not concatenate to the input", "");
  round_trips(fixed_bpe(), input);
  return 0;
}
