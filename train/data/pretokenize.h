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

namespace moelab::train {

// Calls on_word for each word of `text`, in order; the words concatenate to `text`.
void split_gpt2_words(std::string_view text, const std::function<void(std::string_view)>& on_word);

// Where `text` may be cut so that splitting the two parts gives the same words as splitting the
// whole: the first offset >= `from` just after a "\n" that follows a non-space character and precedes
// one. Returns text.size() if there is none.
size_t next_safe_cut(std::string_view text, size_t from);

}  // namespace moelab::train
