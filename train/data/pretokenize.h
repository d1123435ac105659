// train/data/pretokenize.h: GPT-2's split of text into "words" before byte-level BPE merges, i.e.
// the regex  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// written as a scanner over code points (Unicode general categories from ICU). No BPE token ever
// spans two words, so words are counted (training) and cached (encoding) as units.
//
// Bytes that are not valid UTF-8 are taken one at a time as "other" characters (neither letter,
// number nor space), so every byte string splits and the pieces concatenate back to the input.
// \s is Unicode White_Space, as in the Rust clients (tiktoken, Hugging Face tokenizers).
#pragma once
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace moelab::train {

// The UTF-8 sequence at s[i]: its length and code point, or (1, kNotUtf8) if it is not valid
// (truncated, a bad continuation byte, overlong, a surrogate or above U+10FFFF).
constexpr char32_t kNotUtf8 = 0xFFFFFFFF;
std::pair<unsigned, char32_t> utf8_char_at(std::string_view s, size_t i);

// Calls on_word for each word of `text`, in order; the words concatenate to `text`.
void split_gpt2_words(std::string_view text, const std::function<void(std::string_view)>& on_word);

// Where `text` may be cut so that splitting the two parts gives the same words as splitting the
// whole: the first offset >= `from` just after a "\n" that follows a non-space character and precedes
// one. Returns text.size() if there is none.
size_t next_safe_cut(std::string_view text, size_t from);
// `text` as consecutive pieces of about `piece_bytes`, each ending at a next_safe_cut (one may be
// longer where no safe cut comes soon): tokenised one by one, or in parallel, they give the whole's ids.
std::vector<std::string_view> safe_pieces(std::string_view text, size_t piece_bytes);

}  // namespace moelab::train
