#include "train/data/bpe.h"

#include <algorithm>
#include <atomic>
#include <queue>

#include "core/error.h"
#include "train/data/pretokenize.h"
#include "train/data/tokenizer.h"
#include "train/io/json_limits.h"

namespace moelab::train {
namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes for
// U+0100.. in byte order, so every token is a printable string without spaces.
const std::vector<char32_t>& byte_alphabet() {
  static const std::vector<char32_t> table = [] {
    std::vector<char32_t> t(256);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

std::string encode_cp(char32_t c) { return utf8_encode(std::u32string(1, c)); }

// tokenizer.json's printable form -> bytes; throws if a character is outside the byte alphabet.
std::string unicode_to_bytes(const std::string& s, const std::string& where) {
  static const std::unordered_map<std::string, unsigned char> inverse = [] {
    std::unordered_map<std::string, unsigned char> m;
    for (int b = 0; b < 256; ++b) m[encode_cp(byte_alphabet()[b])] = static_cast<unsigned char>(b);
    return m;
  }();
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    auto it = inverse.find(s.substr(i, len));
    MOELAB_CHECK(it != inverse.end(), where, ": token \"", s, "\" holds a character outside the byte-level alphabet");
    out += static_cast<char>(it->second);
    i += len;
  }
  return out;
}

std::string base64_decode(std::string_view s, const std::string& where) {
  auto value = [&](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    throw Error(where + ": invalid base64 token \"" + std::string(s) + "\"");
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<uint32_t>(value(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::atomic<uint64_t> next_instance{1};

constexpr size_t kMaxVocab = size_t{1} << 24;
constexpr size_t kPieceBytes = size_t{1} << 20;  // encode's unit of work

constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace

std::string byte_to_unicode(unsigned char b) { return encode_cp(byte_alphabet()[b]); }

std::vector<bool> Bpe::special_mask() const {
  std::vector<bool> mask(tokens_.size(), false);
  for (const auto& [text, id] : specials_)
    if (id >= 0 && static_cast<size_t>(id) < mask.size()) mask[static_cast<size_t>(id)] = true;
  return mask;
}

void Bpe::add_merge(int32_t a, int32_t b, int32_t rank, int32_t id) {
  merges_.emplace(key(a, b), Merge{rank, id});
  merge_list_.emplace_back(a, b);
}

void Bpe::index_tokens() {
  ids_.clear();
  const std::vector<bool> special = special_mask();
  for (size_t i = 0; i < tokens_.size(); ++i)
    if (!special[i]) ids_.emplace(tokens_[i], static_cast<int32_t>(i));
  for (int b = 0; b < 256; ++b) {
    auto it = ids_.find(std::string(1, static_cast<char>(b)));
    MOELAB_CHECK(it != ids_.end(), "bpe: the vocabulary has no token for byte ", b);
    byte_id_[b] = it->second;
  }
  instance_ = next_instance++;
}

Bpe Bpe::from_merges(const std::vector<std::pair<int32_t, int32_t>>& merges,
                     const std::vector<std::string>& special_tokens) {
  Bpe bpe;
  for (int b = 0; b < 256; ++b) bpe.tokens_.push_back(std::string(1, static_cast<char>(b)));
  for (const auto& [a, b] : merges) {
    const auto id = static_cast<int32_t>(bpe.tokens_.size());
    MOELAB_CHECK(a >= 0 && b >= 0 && a < id && b < id, "bpe: merge (", a, ", ", b, ") names a token not yet made");
    bpe.add_merge(a, b, id - 256, id);
    bpe.tokens_.push_back(bpe.tokens_[a] + bpe.tokens_[b]);
  }
  for (const std::string& s : special_tokens) {
    bpe.specials_[s] = static_cast<int32_t>(bpe.tokens_.size());
    bpe.tokens_.push_back(s);
  }
  bpe.index_tokens();
  return bpe;
}

int32_t Bpe::special_id(const std::string& name) const {
  auto it = specials_.find(name);
  return it == specials_.end() ? -1 : it->second;
}

void Bpe::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  // Words repeat (Zipf), so each thread keeps the recent ones' tokens.
  struct Cache {
    uint64_t owner = 0;
    std::unordered_map<std::string, std::vector<int32_t>> words;
  };
  thread_local Cache cache;
  if (cache.owner != instance_ || cache.words.size() > (1u << 18)) {
    cache.words.clear();
    cache.owner = instance_;
  }
  const bool cacheable = word.size() <= 64;
  if (cacheable) {
    auto it = cache.words.find(std::string(word));
    if (it != cache.words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  // Symbols in a linked list; a min-heap of (rank, position) picks the lowest-ranked pair, leftmost first.
  const auto n = static_cast<int32_t>(word.size());
  std::vector<int32_t> sym(n), next(n), prev(n);
  for (int32_t i = 0; i < n; ++i) {
    sym[i] = byte_id_[static_cast<unsigned char>(word[i])];
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  struct Candidate {
    int32_t rank, pos, left, right;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto consider = [&](int32_t pos) {
    if (pos < 0 || next[pos] >= n) return;
    auto it = merges_.find(key(sym[pos], sym[next[pos]]));
    if (it != merges_.end()) heap.push({it->second.rank, pos, sym[pos], sym[next[pos]]});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    // stale: a symbol of this pair was merged away or changed since it was pushed
    if (sym[c.pos] != c.left || next[c.pos] >= n || sym[next[c.pos]] != c.right) continue;
    const int32_t right = next[c.pos];
    sym[c.pos] = merges_.at(key(c.left, c.right)).id;
    sym[right] = -1;
    next[c.pos] = next[right];
    if (next[right] < n) prev[next[right]] = c.pos;
    consider(prev[c.pos]);
    consider(c.pos);
  }
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < n; i = next[i]) ids.push_back(sym[i]);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) cache.words.emplace(std::string(word), std::move(ids));
}

std::vector<int32_t> Bpe::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  // in pieces cut where the split is unchanged: the splitter's per-byte working memory stays
  // bounded by a piece, not by the document
  for (std::string_view piece : safe_pieces(text, kPieceBytes))
    split_gpt2_words(piece, [&](std::string_view w) { encode_word(w, out); });
  return out;
}

std::vector<int32_t> Bpe::encode_parallel(std::string_view text) const {
  const std::vector<std::string_view> pieces = safe_pieces(text, kPieceBytes);
  std::vector<std::vector<int32_t>> ids(pieces.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < static_cast<int64_t>(pieces.size()); ++i) ids[i] = encode(pieces[i]);
  std::vector<int32_t> out;
  for (auto& v : ids) out.insert(out.end(), v.begin(), v.end());
  return out;
}

std::string Bpe::decode(const std::vector<int32_t>& ids) const {
  std::string s;
  for (int32_t id : ids) {
    MOELAB_CHECK(id >= 0 && id < vocab_size(), "bpe: token id ", id, " is outside the vocabulary of ", vocab_size());
    s += tokens_[static_cast<size_t>(id)];
  }
  return s;
}

nlohmann::json Bpe::to_hf_json() const {
  nlohmann::json vocab = nlohmann::json::object(), merges = nlohmann::json::array(), added = nlohmann::json::array();
  auto printable = [](const std::string& bytes) {
    std::string s;
    for (char c : bytes) s += byte_to_unicode(static_cast<unsigned char>(c));
    return s;
  };
  const std::vector<bool> is_special = special_mask();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const int32_t id = static_cast<int32_t>(i);
    const bool special = is_special[i];
    vocab[special ? tokens_[i] : printable(tokens_[i])] = id;
    if (special)
      added.push_back({{"id", id}, {"content", tokens_[i]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", true}, {"special", true}});
  }
  for (const auto& [a, b] : merge_list_) merges.push_back(printable(tokens_[a]) + " " + printable(tokens_[b]));
  const nlohmann::json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level},
          {"post_processor", nullptr},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
            {"vocab", vocab}, {"merges", merges}}},
          {"moelab", {{"name", name_}}}};
}

Bpe Bpe::from_hf_json(const nlohmann::json& j, const std::string& where) {
  try {
    return read_hf_json(j, where);
  } catch (const nlohmann::json::exception& e) {  // a field of the wrong type, read by value()
    throw Error(where + ": " + e.what());
  }
}

Bpe Bpe::read_hf_json(const nlohmann::json& j, const std::string& where) {
  auto at = [&](const nlohmann::json& obj, const char* k, const std::string& path) -> const nlohmann::json& {
    MOELAB_CHECK(obj.is_object() && obj.contains(k), where, ": missing \"", path, "\"");
    return obj.at(k);
  };
  const nlohmann::json& model = at(j, "model", "model");
  MOELAB_CHECK(at(model, "type", "model.type") == "BPE", where, ": model.type is ", model.at("type").dump(),
               "; moelab reads byte-level BPE tokenizers only");
  const nlohmann::json& pre = at(j, "pre_tokenizer", "pre_tokenizer");
  MOELAB_CHECK(pre.is_object() && pre.value("type", "") == "ByteLevel" && pre.value("use_regex", true) &&
                   !pre.value("add_prefix_space", false),
               where, ": pre_tokenizer is ", pre.dump(),
               "; moelab reads the GPT-2 byte-level pre-tokenizer (ByteLevel, use_regex true, add_prefix_space false)");
  MOELAB_CHECK(!j.contains("normalizer") || j.at("normalizer").is_null(), where,
               ": a normalizer is set; moelab reads tokenizers without one");
  MOELAB_CHECK(!model.value("ignore_merges", false), where, ": model.ignore_merges true is not supported");
  const nlohmann::json& vocab = at(model, "vocab", "model.vocab");
  const nlohmann::json& merges = at(model, "merges", "model.merges");
  MOELAB_CHECK(vocab.is_object() && merges.is_array(), where, ": model.vocab must be an object and model.merges an array");
  Bpe bpe;
  std::map<std::string, bool> special_text;
  if (j.contains("added_tokens") && j.at("added_tokens").is_array())
    for (const auto& t : j.at("added_tokens")) {
      MOELAB_CHECK(t.is_object() && t.contains("id") && t.at("id").is_number_integer() && t.contains("content") &&
                       t.at("content").is_string(),
                   where, ": added_tokens entry ", t.dump(), " needs an integer id and a content string");
      bpe.specials_[t.at("content").get<std::string>()] = t.at("id").get<int32_t>();
      special_text[t.at("content").get<std::string>()] = true;
    }
  const size_t n = vocab.size();
  MOELAB_CHECK(n >= 256 && n <= kMaxVocab, where, ": model.vocab has ", n, " tokens; expected 256 .. 16777216");
  bpe.tokens_.assign(n, std::string());
  std::vector<bool> seen(n, false);
  for (const auto& [text, id_json] : vocab.items()) {
    MOELAB_CHECK(id_json.is_number_integer(), where, ": model.vocab[\"", text, "\"] is not an integer");
    const auto id = id_json.get<int64_t>();
    MOELAB_CHECK(id >= 0 && id < int64_t(n) && !seen[id], where, ": model.vocab[\"", text, "\"] = ", id,
                 " is out of range or repeated; ids must be 0..", n - 1, " once each");
    seen[id] = true;
    bpe.tokens_[id] = special_text.count(text) ? text : unicode_to_bytes(text, where + ": model.vocab");
  }
  for (const auto& [text, id] : bpe.specials_)
    MOELAB_CHECK(id >= 0 && id < int32_t(n) && bpe.tokens_[id] == text, where, ": added token \"", text, "\" (id ", id,
                 ") is not in model.vocab with that id");
  bpe.index_tokens();
  int32_t rank = 0;
  for (const auto& m : merges) {
    std::string left, right;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      MOELAB_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos, where, ": merge \"", s,
                   "\" is not two tokens separated by one space");
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else {
      MOELAB_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), where, ": merge ", m.dump(),
                   " is neither \"a b\" nor [\"a\", \"b\"]");
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    }
    const std::string a = unicode_to_bytes(left, where + ": merge"), b = unicode_to_bytes(right, where + ": merge");
    auto ia = bpe.ids_.find(a), ib = bpe.ids_.find(b), iab = bpe.ids_.find(a + b);
    MOELAB_CHECK(ia != bpe.ids_.end() && ib != bpe.ids_.end() && iab != bpe.ids_.end(), where, ": merge \"", left, " ",
                 right, "\" (number ", rank, ") names a token missing from model.vocab");
    bpe.add_merge(ia->second, ib->second, rank++, iab->second);
  }
  if (j.contains("moelab") && j.at("moelab").is_object()) bpe.name_ = j.at("moelab").value("name", "");
  return bpe;
}

Bpe Bpe::from_tiktoken_js(const std::string& js, const std::string& where) {
  try {
    return read_tiktoken_js(js, where);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": " + e.what());
  }
}

Bpe Bpe::read_tiktoken_js(const std::string& js, const std::string& where) {
  const size_t open = js.find('{'), close = js.rfind('}');
  MOELAB_CHECK(open != std::string::npos && close != std::string::npos && open < close, where,
               ": no object literal found (expected js-tiktoken's ranks module, e.g. dist/ranks/gpt2.js)");
  const nlohmann::json j = parse_json(js.substr(open, close + 1 - open), where, 16);
  MOELAB_CHECK(j.is_object() && j.contains("bpe_ranks") && j.at("bpe_ranks").is_string() &&
                   j.contains("pat_str"),
               where, ": not a js-tiktoken ranks module (needs pat_str and a bpe_ranks string)");
  MOELAB_CHECK(j.at("pat_str") == kGpt2Pattern, where, ": its split pattern is ", j.at("pat_str").dump(),
               "; moelab implements GPT-2's pattern only");
  // bpe_ranks: lines "<name> <first rank> <base64 token> <base64 token> ...", ranks consecutive
  std::vector<std::string> by_rank;
  const std::string ranks = j.at("bpe_ranks").get<std::string>();
  for (size_t line_start = 0; line_start < ranks.size();) {
    size_t line_end = ranks.find('\n', line_start);
    if (line_end == std::string::npos) line_end = ranks.size();
    std::vector<std::string_view> fields;
    std::string_view line(ranks.data() + line_start, line_end - line_start);
    for (size_t p = 0; p < line.size();) {
      size_t q = line.find(' ', p);
      if (q == std::string_view::npos) q = line.size();
      if (q > p) fields.push_back(line.substr(p, q - p));
      p = q + 1;
    }
    line_start = line_end + 1;
    if (fields.empty()) continue;
    MOELAB_CHECK(fields.size() >= 2, where, ": bpe_ranks line without a first rank");
    size_t first = 0;
    for (char c : fields[1]) {
      MOELAB_CHECK(c >= '0' && c <= '9' && first < kMaxVocab, where, ": bpe_ranks first rank \"", fields[1],
                   "\" is not a number below ", kMaxVocab);
      first = first * 10 + static_cast<size_t>(c - '0');
    }
    MOELAB_CHECK(first == by_rank.size(), where, ": bpe_ranks line starts at rank ", first, "; expected ",
                 by_rank.size(), " (ranks are consecutive from 0)");
    MOELAB_CHECK(first + fields.size() - 2 <= kMaxVocab, where, ": bpe_ranks reach rank ", first + fields.size() - 2,
                 "; at most ", kMaxVocab, " tokens");
    if (by_rank.size() < first + fields.size() - 2) by_rank.resize(first + fields.size() - 2);
    for (size_t k = 2; k < fields.size(); ++k) by_rank[first + k - 2] = base64_decode(fields[k], where);
  }
  MOELAB_CHECK(by_rank.size() >= 256, where, ": ", by_rank.size(), " ranks; expected at least the 256 bytes");
  Bpe bpe;
  bpe.tokens_ = by_rank;
  const nlohmann::json specials = j.value("special_tokens", nlohmann::json::object());
  for (const auto& [text, id] : specials.items()) {
    MOELAB_CHECK(id.is_number_integer() && id.get<int64_t>() >= static_cast<int64_t>(by_rank.size()) &&
                     id.get<int64_t>() < static_cast<int64_t>(by_rank.size() + specials.size()),
                 where, ": special token ", text, " has id ", id.dump(), "; special ids follow the ", by_rank.size(),
                 " ranks");
    const auto sid = id.get<int32_t>();
    MOELAB_CHECK(bpe.tokens_.size() <= size_t(sid) || bpe.tokens_[sid].empty(), where, ": special id ", sid,
                 " is given twice");
    if (bpe.tokens_.size() <= size_t(sid)) bpe.tokens_.resize(sid + 1);
    bpe.tokens_[sid] = text;
    bpe.specials_[text] = sid;
  }
  for (size_t i = 0; i < bpe.tokens_.size(); ++i)
    MOELAB_CHECK(!bpe.tokens_[i].empty(), where, ": rank ", i, " has no token");
  bpe.index_tokens();
  // tiktoken merges the adjacent pair whose concatenation has the lowest rank. As a merge list: each
  // token of rank r >= 256 is the merge of the two parts its own bytes encode to with ranks below r.
  for (size_t r = 0; r < by_rank.size(); ++r) {
    if (by_rank[r].size() < 2) continue;
    std::vector<int32_t> parts;
    bpe.instance_ = next_instance++;  // the merges changed: no cached word may be reused
    bpe.encode_word(by_rank[r], parts);
    MOELAB_CHECK(parts.size() == 2, where, ": token of rank ", r, " is not the merge of two lower-ranked tokens");
    bpe.add_merge(parts[0], parts[1], static_cast<int32_t>(r), static_cast<int32_t>(r));
  }
  bpe.instance_ = next_instance++;
  const int64_t declared = j.value("explicit_n_vocab", int64_t{0});
  MOELAB_CHECK(declared == 0 || declared == bpe.vocab_size(), where, ": explicit_n_vocab ", declared, " but ",
               bpe.vocab_size(), " tokens read");
  return bpe;
}

}  // namespace moelab::train
