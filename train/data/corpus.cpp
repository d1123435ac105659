#include "train/data/corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace moelab::train {
namespace fs = std::filesystem;

namespace {

bool has_suffix(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  MOELAB_CHECK(in, "data: cannot read ", p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
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

std::vector<Document> read_documents(const std::vector<std::string>& paths, const std::string& format) {
  std::vector<Document> docs;
  for (const std::string& p : paths) {
    std::error_code ec;
    MOELAB_CHECK(fs::exists(p, ec), "data: ", p, " does not exist");
    std::vector<fs::path> files;
    if (fs::is_directory(p, ec)) {
      for (const auto& e : fs::directory_iterator(p, ec)) {
        const std::string name = e.path().filename().string();
        if (!e.is_regular_file() || e.is_symlink() || has_suffix(name, ".dat") || has_suffix(name, ".u8") ||
            name.starts_with("."))
          continue;
        files.push_back(e.path());
      }
      MOELAB_CHECK(ec.value() == 0, "data: cannot list ", p, ": ", ec.message());
      std::sort(files.begin(), files.end());
      MOELAB_CHECK(!files.empty(), "data: folder ", p, " holds no text files");
    } else {
      files.push_back(p);
    }
    for (const fs::path& f : files) {
      std::string text = read_file(f);
      const bool fortunes = format == "fortunes" || (format == "auto" && fs::exists(f.string() + ".dat", ec));
      if (fortunes) text = strip_fortune_separators(text);
      // a file named on its own must hold text; an empty one inside a folder is just skipped
      MOELAB_CHECK(!text.empty() || fs::is_directory(p, ec), "data: ", f.string(), " is empty");
      docs.push_back({f.string(), std::move(text)});
    }
  }
  return docs;
}

Corpus build_corpus(const DataConfig& cfg, const Tokenizer* tokenizer) {
  std::vector<Document> train_docs = read_documents(cfg.train, cfg.format);
  std::vector<Document> val_docs = cfg.val.empty() ? std::vector<Document>{} : read_documents(cfg.val, cfg.format);
  Corpus c;
  if (tokenizer) {
    c.tokenizer = *tokenizer;
  } else if (cfg.tokenizer == "byte") {
    c.tokenizer = Tokenizer::bytes();
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
    s.tokens.insert(s.tokens.end(), ids.begin() + begin, ids.begin() + end);
    s.domain.insert(s.domain.end(), end - begin, domain);
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
