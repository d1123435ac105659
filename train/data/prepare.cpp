#include "train/data/prepare.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "train/data/pretokenize.h"
#include "train/data/corpus.h"
#include "train/data/shard_format.h"
#include "train/data/shard_meta.h"
#include "train/data/shard_writer.h"
#include "train/data/tokenizer_files.h"
#include "train/data/tokenizer_spec.h"
#include "train/io/atomic_file.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"
#include "train/io/progress.h"

namespace moelab::train {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kGroupBytes = 64u << 20;  // text read and tokenised at once (then written out)
constexpr size_t kPieceBytes = 1u << 20;     // the unit of parallel work

bool written_by_prepare(const std::string& file_name) {
  const std::string name = temp_name_target(file_name).value_or(file_name);
  return name == kShardMetaFile || name == kShardTokenizerFile || name == kPrepareUnfinishedFile ||
         shard_split_of(name).has_value();
}

// Makes OUT ready: new, empty, or an earlier prepare's output (its meta.json is removed first, so a
// folder never names shards of two runs). Returns the shards already there.
std::set<std::string> claim_out_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir, ec))) {
    fs::create_directories(dir, ec);
    MOELAB_CHECK(!ec, "prepare --out: cannot create ", dir, ": ", ec.message());
    return {};
  }
  MOELAB_CHECK(fs::is_directory(dir, ec), "prepare --out: ", dir, " exists and is not a folder");
  std::set<std::string> shards;
  std::vector<fs::path> temps;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    MOELAB_CHECK(written_by_prepare(name), "prepare --out: ", dir, " holds ", name,
                 ", which moelab prepare did not write; give a new or empty folder (an earlier prepare's output ",
                 "is replaced)");
    if (temp_name_target(name)) temps.push_back(it->path());
    else if (shard_split_of(name)) shards.insert(name);
  }
  MOELAB_CHECK(!ec, "prepare --out: cannot list ", dir, ": ", ec.message());
  fs::remove(fs::path(dir) / kShardMetaFile, ec);
  for (const fs::path& t : temps) fs::remove(t, ec);  // what a killed prepare left
  return shards;
}

// A stretch of one document: a whole fortune or text file, or a part of a long one.
struct Span {
  std::string_view text;
  size_t offset = 0;           // in its file, for errors
  bool document_start = false;  // an end-of-text id goes before it
};

// Cuts a document into spans of about kPieceBytes (safe_pieces: they tokenise as the whole would).
void add_spans(std::vector<Span>& spans, std::string_view doc, size_t offset) {
  for (std::string_view piece : safe_pieces(doc, kPieceBytes)) {
    const auto at = static_cast<size_t>(piece.data() - doc.data());
    spans.push_back({piece, offset + at, at == 0});
  }
}

// The unit of parallel work: consecutive spans of one file, about kPieceBytes of text.
struct Piece {
  size_t file = 0;  // index in the group
  size_t begin = 0, end = 0;
};

// A group of files cut for tokenising: its spans, and the pieces (ranges of spans) to tokenise.
struct Group {
  std::vector<Span> spans;
  std::vector<Piece> pieces;
};

// texts[k] is files[first + k]: each fortune (or each whole text file) is a document.
Group cut_into_pieces(const std::vector<std::string>& texts, const std::vector<DataFile>& files, size_t first,
                      const std::string& format) {
  Group g;
  for (size_t k = 0; k < texts.size(); ++k) {
    const std::string_view text = texts[k];
    const size_t file_begin = g.spans.size();
    if (is_fortune_file(files[first + k].path, format)) {
      for (std::string_view entry : fortune_entries(text))
        add_spans(g.spans, entry, static_cast<size_t>(entry.data() - text.data()));
    } else {
      add_spans(g.spans, text, 0);
    }
    size_t bytes = 0;
    for (size_t i = file_begin; i < g.spans.size(); ++i) {
      if (g.pieces.empty() || g.pieces.back().file != k || bytes >= kPieceBytes) {
        g.pieces.push_back({k, i, i});
        bytes = 0;
      }
      g.pieces.back().end = i + 1;
      bytes += g.spans[i].text.size();
    }
  }
  return g;
}

// Tokenises a piece's spans in order, an end-of-text id before each document when there is one;
// returns them as shard bytes (`width` each), so narrowing runs in parallel too.
std::string encode_piece(const Tokenizer& tokenizer, std::optional<int32_t> eot, int width,
                         const std::vector<Span>& spans, const Piece& piece, const std::string& path) {
  size_t text_bytes = 0;
  for (size_t i = piece.begin; i < piece.end; ++i) text_bytes += spans[i].text.size();
  std::string out;
  out.reserve((text_bytes + piece.end - piece.begin) * width);  // no tokenizer makes more ids than bytes
  for (size_t i = piece.begin; i < piece.end; ++i) {
    if (spans[i].document_start && eot) append_token_bytes(out, &*eot, 1, width);
    try {
      const std::vector<int32_t> ids = tokenizer.encode(std::string(spans[i].text), path);
      append_token_bytes(out, ids.data(), static_cast<int64_t>(ids.size()), width);
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + " (counted from byte " + std::to_string(spans[i].offset) + " of the file)");
    }
  }
  return out;
}

std::string default_name(const std::string& input) {
  const fs::path p = fs::path(input).lexically_normal();
  const std::string name = (p.has_filename() ? p : p.parent_path()).stem().string();
  return name.empty() || name.starts_with(".") ? "data" : name;  // "." or "..": no name to take
}

}  // namespace

PrepareResult prepare_shards(const PrepareOptions& o, std::ostream& log, bool tty) {
  const auto start = std::chrono::steady_clock::now();  // the whole job: the char vocabulary pass too
  MOELAB_CHECK(!o.inputs.empty(), "prepare: no input files");
  MOELAB_CHECK(o.val_fraction >= 0 && o.val_fraction < 1, "prepare --val-fraction: ", o.val_fraction,
               " is out of range (expected in [0, 1))");
  MOELAB_CHECK(o.shard_tokens >= 1 && o.shard_tokens <= kShardMaxTokens, "prepare --shard-tokens: ", o.shard_tokens,
               " is out of range (expected 1 to ", kShardMaxTokens, ", the header's int32 count)");
  MOELAB_CHECK(o.format == "auto" || o.format == "text" || o.format == "fortunes", "prepare --format: \"", o.format,
               "\" (expected auto, text or fortunes)");
  const std::string name = o.name.empty() ? default_name(o.inputs.front()) : o.name;
  MOELAB_CHECK(name.find('/') == std::string::npos && !name.starts_with("."), "prepare --name: \"", name,
               "\" must be a plain file name prefix");
  const std::vector<DataFile> files = list_data_files(o.inputs);
  MOELAB_CHECK(files.size() <= kMaxDomains, "prepare: ", files.size(), " files; at most ", kMaxDomains,
               " (each file is a domain, numbered in 16 bits in every batch)");
  PrepareResult result;
  for (const DataFile& f : files) result.input_bytes += static_cast<int64_t>(regular_file_size(f.path, "prepare"));
  const auto max_file = static_cast<uint64_t>(machine_memory_bytes() / 8);

  const Tokenizer tokenizer = tokenizer_from_spec(o.tokenizer, files, o.format, "prepare --tokenizer");
  const std::optional<int32_t> eot = tokenizer.end_of_text();
  const int width = token_width(tokenizer.vocab_size());
  const std::set<std::string> old_shards = claim_out_dir(o.out_dir);
  const std::string unfinished = (fs::path(o.out_dir) / kPrepareUnfinishedFile).string();
  write_file_atomic(unfinished, "moelab prepare is writing this folder (or was interrupted): run it again\n");

  ShardMeta meta;
  meta.name = name;
  meta.vocab_size = tokenizer.vocab_size();
  meta.token_bytes = width;
  meta.end_of_text = eot;
  for (const DataFile& f : files) meta.domains.push_back(f.path);
  // llm.c numbers shards in one sequence, the val shard first: val is one shard, written at the end
  ShardWriter val(o.out_dir, name, "val", 0, kShardMaxTokens, width, true);
  ShardWriter train(o.out_dir, name, "train", 1, o.shard_tokens, width, false);

  Progress progress(log, tty, "prepare", static_cast<double>(result.input_bytes));
  double done_bytes = 0;
  for (size_t first = 0; first < files.size();) {
    // 1. read a group of files
    std::vector<std::string> texts;
    uint64_t group_bytes = 0;
    for (size_t i = first; i < files.size() && (texts.empty() || group_bytes < kGroupBytes); ++i) {
      texts.push_back(read_regular_file(files[i].path, "prepare", max_file));
      group_bytes += texts.back().size();
      MOELAB_CHECK(!texts.back().empty() || files[i].in_folder, "prepare: ", files[i].path, " is empty");
    }
    // 2. cut into pieces: each fortune (or each whole text file) is a document
    const Group group = cut_into_pieces(texts, files, first, o.format);
    const std::vector<Span>& spans = group.spans;
    const std::vector<Piece>& pieces = group.pieces;
    // 3. tokenise in parallel; the first error (in input order) is reported, as one thread would
    std::vector<std::string> piece_bytes(pieces.size());
    std::vector<std::string> errors(pieces.size());
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t p = 0; p < static_cast<int64_t>(pieces.size()); ++p) {
      try {
        piece_bytes[p] = encode_piece(tokenizer, eot, width, spans, pieces[p], files[first + pieces[p].file].path);
      } catch (const std::exception& e) {
        errors[p] = e.what();
      }
    }
    for (const std::string& e : errors) MOELAB_CHECK(e.empty(), e);
    // 4. per file: the last val_fraction of its tokens to the val shard, the rest to train shards
    size_t p = 0;
    for (size_t k = 0; k < texts.size(); ++k) {
      const size_t end = std::find_if(pieces.begin() + p, pieces.end(), [&](const Piece& x) { return x.file != k; }) -
                         pieces.begin();
      int64_t n = 0;
      for (size_t q = p; q < end; ++q) n += static_cast<int64_t>(piece_bytes[q].size()) / width;
      const auto n_val = static_cast<int64_t>(static_cast<double>(n) * o.val_fraction);
      const auto domain = static_cast<uint16_t>(first + k);
      int64_t emitted = 0;
      for (; p < end; ++p) {
        const char* bytes = piece_bytes[p].data();
        const auto count = static_cast<int64_t>(piece_bytes[p].size()) / width;
        const int64_t to_train = std::clamp(n - n_val - emitted, int64_t{0}, count);
        train.append_bytes(bytes, to_train, domain, meta.shards);
        val.append_bytes(bytes + to_train * width, count - to_train, domain, meta.shards);
        emitted += count;
        std::string().swap(piece_bytes[p]);  // written: its memory goes back now
      }
      result.train_tokens += n - n_val;
      result.val_tokens += n_val;
    }
    done_bytes += static_cast<double>(group_bytes);
    progress.update(done_bytes);
    first += texts.size();
  }
  train.finish(meta.shards);
  val.finish(meta.shards);
  auto number = [](const ShardInfo& s) { return s.file.substr(s.file.size() - 10); };  // "000001.bin"
  std::sort(meta.shards.begin(), meta.shards.end(),
            [&](const ShardInfo& a, const ShardInfo& b) { return number(a) < number(b); });
  write_tokenizer_file((fs::path(o.out_dir) / kShardTokenizerFile).string(), tokenizer);
  write_file_atomic((fs::path(o.out_dir) / kShardMetaFile).string(), dump_json(meta.to_json(), 1) + "\n");
  std::error_code ec;
  fs::remove(unfinished, ec);
  // shards of an earlier prepare that this one did not write again
  for (const std::string& old : old_shards)
    if (std::none_of(meta.shards.begin(), meta.shards.end(), [&](const ShardInfo& s) { return s.file == old; }))
      fs::remove(fs::path(o.out_dir) / old, ec);
  result.shards = static_cast<int>(meta.shards.size());
  progress.finish();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace moelab::train
