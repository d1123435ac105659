#include "train/data/corpus.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "train/data/bpe_trainer.h"
#include "train/data/tokenizer_files.h"
#include "train/data/token_files.h"
#include "train/io/files.h"

namespace moelab::train {
namespace fs = std::filesystem;

namespace {

bool has_suffix(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string strip_fortune_separators(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line != "%") out += line + "\n";
  return out;
}

}  // namespace

std::vector<DataFile> list_data_files(const std::vector<std::string>& paths) {
  // a named file, or a folder's regular files (links, sub-folders, FIFOs, devices and anything
  // unreadable in it are skipped; a named FIFO or device is an error when it is read)
  std::vector<DataFile> sources;
  for (const std::string& p : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (ec) throw Error("data: " + p + (ec == std::errc::no_such_file_or_directory ? std::string(" does not exist")
                                                                                    : ": " + ec.message()));
    if (!fs::is_directory(st)) {
      sources.push_back({p, false});
      continue;
    }
    std::vector<fs::path> files;
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (has_suffix(name, ".dat") || has_suffix(name, ".u8") || name.starts_with(".")) continue;
      std::error_code entry_ec;
      if (it->is_symlink(entry_ec) || !it->is_regular_file(entry_ec) || entry_ec) continue;
      files.push_back(it->path());
    }
    MOELAB_CHECK(!ec, "data: cannot list ", p, ": ", ec.message());
    std::sort(files.begin(), files.end());
    MOELAB_CHECK(!files.empty(), "data: folder ", p, " holds no text files");
    for (const fs::path& f : files) sources.push_back({f.string(), true});
  }
  return sources;
}

bool is_fortune_file(const std::string& path, const std::string& format) {
  std::error_code ec;
  return format == "fortunes" || (format == "auto" && fs::exists(path + ".dat", ec));
}

std::vector<std::string_view> fortune_entries(std::string_view text) {
  std::vector<std::string_view> entries;
  size_t begin = 0, pos = 0;
  while (pos <= text.size()) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, eol - pos);
    const bool last = eol >= text.size();
    if (line == "%" || last) {
      const size_t entry_end = line == "%" ? pos : text.size();
      if (entry_end > begin) entries.push_back(text.substr(begin, entry_end - begin));
      begin = eol + 1;
    }
    if (last) break;
    pos = eol + 1;
  }
  return entries;
}

std::vector<Document> read_documents(const std::vector<std::string>& paths, const std::string& format) {
  const std::vector<DataFile> sources = list_data_files(paths);
  // the corpus is held in memory (text, then tokens: about 8 bytes per byte of text at the peak),
  // so the sizes are checked before anything is read
  double total = 0;
  for (const DataFile& s : sources) total += static_cast<double>(regular_file_size(s.path, "data"));
  const double ram = machine_memory_bytes(), needed = 12 * total;
  MOELAB_CHECK(ram <= 0 || needed <= ram, "data: the ", sources.size(), " file(s) hold ", human_bytes(total),
               " of text, which take about ", human_bytes(needed), " in memory once tokenised; this machine has ",
               human_bytes(ram), " (moelab prepare makes shards that are read from disk)");
  std::vector<Document> docs;
  for (const DataFile& s : sources) {
    std::string text = read_regular_file(s.path, "data", static_cast<uint64_t>(total) + 1);
    if (is_fortune_file(s.path, format)) text = strip_fortune_separators(text);
    // a file named on its own must hold text; an empty one inside a folder adds nothing
    MOELAB_CHECK(!text.empty() || s.in_folder, "data: ", s.path, " is empty");
    docs.push_back({s.path, std::move(text)});
  }
  return docs;
}

Corpus build_corpus(const DataConfig& cfg, const Tokenizer* tokenizer) {
  if (is_token_data(cfg)) return open_token_corpus(cfg, tokenizer);
  std::vector<Document> train_docs = read_documents(cfg.train, cfg.format);
  std::vector<Document> val_docs = cfg.val.empty() ? std::vector<Document>{} : read_documents(cfg.val, cfg.format);
  const size_t files = train_docs.size() + val_docs.size();
  MOELAB_CHECK(files <= kMaxDomains, "data: ", files, " files; at most ", kMaxDomains,
               " (each file is a domain, numbered in 16 bits in every batch)");
  Corpus c;
  if (tokenizer) {
    c.tokenizer = *tokenizer;
  } else if (cfg.tokenizer == "byte") {
    c.tokenizer = Tokenizer::bytes();
  } else if (cfg.tokenizer == "gpt2") {
    c.tokenizer = gpt2_tokenizer(cfg.tokenizer_path);
  } else if (cfg.tokenizer == "bpe" && !cfg.tokenizer_path.empty()) {
    c.tokenizer = read_tokenizer_file(cfg.tokenizer_path);
    MOELAB_CHECK(c.tokenizer.bpe_model(), "data.tokenizer_path: ", cfg.tokenizer_path, " holds a ",
                 c.tokenizer.kind(), " tokenizer, not BPE");
  } else if (cfg.tokenizer == "bpe") {
    // learned from the training text only, so validation text stays unseen
    std::vector<std::string_view> texts;
    for (const Document& d : train_docs)
      texts.push_back(std::string_view(d.text).substr(
          0, cfg.val.empty() ? static_cast<size_t>(d.text.size() * (1 - cfg.val_fraction)) : d.text.size()));
    c.tokenizer = Tokenizer::bpe(train_bpe(texts, BpeTrainOptions{cfg.vocab_size}));
  } else {
    std::vector<const std::string*> texts;
    std::vector<std::string> names;
    for (const auto* docs : {&train_docs, &val_docs})
      for (const Document& d : *docs) {
        texts.push_back(&d.text);
        names.push_back(d.path);
      }
    c.tokenizer = Tokenizer::chars_of(texts, names);
  }
  auto append = [](TokenStream& s, const std::vector<int32_t>& ids, size_t begin, size_t end, uint16_t domain) {
    s.append(ids.data() + begin, static_cast<int64_t>(end - begin), domain);
  };
  for (const Document& d : train_docs) {
    const auto domain = static_cast<uint16_t>(c.domains.size());
    c.domains.push_back(d.path);
    const std::vector<int32_t> ids = c.tokenizer.encode(d.text, d.path);
    // Without a separate val set, the last val_fraction of each file is held out.
    const size_t n_val = cfg.val.empty() ? static_cast<size_t>(ids.size() * cfg.val_fraction) : 0;
    append(c.train, ids, 0, ids.size() - n_val, domain);
    append(c.val, ids, ids.size() - n_val, ids.size(), domain);
  }
  for (const Document& d : val_docs) {
    const auto domain = static_cast<uint16_t>(c.domains.size());
    c.domains.push_back(d.path);
    const std::vector<int32_t> ids = c.tokenizer.encode(d.text, d.path);
    append(c.val, ids, 0, ids.size(), domain);
  }
  return c;
}

}  // namespace moelab::train
