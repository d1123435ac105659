#include "train/data/pretokenize.h"

#include <unicode/uchar.h>

#include <vector>

namespace moelab::train {
namespace {

enum class Kind : unsigned char { letter, number, space, other };

struct Char {
  size_t offset;  // byte offset in the text
  unsigned len;   // bytes
  char32_t cp;    // code point; kNotUtf8 for a byte that is not valid UTF-8
  Kind kind;
};

Kind kind_of(char32_t cp) {
  if (cp == kNotUtf8) return Kind::other;
  if (cp < 0x80) {  // ASCII without a table lookup: most text is ASCII
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return Kind::letter;
    if (cp >= '0' && cp <= '9') return Kind::number;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return Kind::space;
    return Kind::other;
  }
  if (u_isUWhiteSpace(static_cast<UChar32>(cp))) return Kind::space;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return Kind::letter;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return Kind::number;
    default:
      return Kind::other;
  }
}

// Length in characters of a contraction ('s 't 're 've 'm 'll 'd) at chars[i], or 0.
size_t contraction_at(const std::vector<Char>& chars, size_t i) {
  if (chars[i].cp != '\'' || i + 1 >= chars.size()) return 0;
  const char32_t a = chars[i + 1].cp;
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= chars.size()) return 0;
  const char32_t b = chars[i + 2].cp;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

}  // namespace

std::pair<unsigned, char32_t> utf8_char_at(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const unsigned len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return {1, kNotUtf8};
  char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (unsigned k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc >> 6) != 2) return {1, kNotUtf8};
    cp = (cp << 6) | (cc & 0x3F);
  }
  const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return {1, kNotUtf8};
  return {len, cp};
}

void split_gpt2_words(std::string_view text, const std::function<void(std::string_view)>& on_word) {
  std::vector<Char> chars;
  chars.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto [len, cp] = utf8_char_at(text, i);
    chars.push_back({i, len, cp, kind_of(cp)});
    i += len;
  }
  const size_t n = chars.size();
  auto emit = [&](size_t begin, size_t end) {  // characters [begin, end)
    const size_t b = chars[begin].offset, e = end < n ? chars[end].offset : text.size();
    on_word(text.substr(b, e - b));
  };
  size_t i = 0;
  while (i < n) {
    // 's 't 're 've 'm 'll 'd
    if (const size_t c = contraction_at(chars, i)) {
      emit(i, i + c);
      i += c;
      continue;
    }
    // ' ?\p{L}+'  ' ?\p{N}+'  ' ?[^\s\p{L}\p{N}]+': an optional space, then a run of one kind
    const size_t k = chars[i].cp == ' ' && i + 1 < n && chars[i + 1].kind != Kind::space ? i + 1 : i;
    if (chars[k].kind != Kind::space) {
      size_t e = k + 1;
      while (e < n && chars[e].kind == chars[k].kind) ++e;
      emit(i, e);
      i = e;
      continue;
    }
    // '\s+(?!\S)' then '\s+': a run of spaces leaves its last one to the next word unless it ends the text
    size_t e = i + 1;
    while (e < n && chars[e].kind == Kind::space) ++e;
    if (e < n && e - i >= 2) --e;
    emit(i, e);
    i = e;
  }
}

size_t next_safe_cut(std::string_view text, size_t from) {
  auto is_space_byte = [](char c) { return c == ' ' || (c >= 0x09 && c <= 0x0D); };
  // A byte >= 0x80 may start a Unicode space; only ASCII non-space bytes are taken as safe neighbours.
  auto plain = [&](char c) { return static_cast<unsigned char>(c) < 0x80 && !is_space_byte(c); };
  for (size_t i = std::max<size_t>(from, 2); i < text.size(); ++i)
    if (text[i - 1] == '\n' && plain(text[i - 2]) && plain(text[i])) return i;
  return text.size();
}

std::vector<std::string_view> safe_pieces(std::string_view text, size_t piece_bytes) {
  std::vector<std::string_view> pieces;
  while (!text.empty()) {
    const size_t cut = next_safe_cut(text, piece_bytes);
    pieces.push_back(text.substr(0, cut));
    text.remove_prefix(cut);
  }
  return pieces;
}

}  // namespace moelab::train
