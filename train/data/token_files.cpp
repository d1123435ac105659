#include "train/data/token_files.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "train/data/shard_meta.h"
#include "train/data/tokenizer_files.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"

namespace moelab::train {
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const std::string& path) {
  const auto limit = static_cast<uint64_t>(machine_memory_bytes() / 8);
  return parse_json(read_regular_file(path, "data", limit), path, 16);
}

bool is_glob(const std::string& p) { return p.find_first_of("*?[") != std::string::npos; }

// A token file to map, and which split a folder listing put it in.
struct TokenFile {
  std::string path;
  std::string split;  // "train" | "val" | "" (named directly: the split of the key that named it)
};

// The files of one data.train / data.val entry.
std::vector<TokenFile> expand(const std::string& p) {
  std::vector<TokenFile> out;
  if (is_glob(p)) {
    glob_t g{};
    const int rc = ::glob(p.c_str(), 0, nullptr, &g);
    if (rc == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) out.push_back({g.gl_pathv[i], ""});
    ::globfree(&g);
    MOELAB_CHECK(!out.empty(), "data: the pattern ", p, " matches no file");
    std::sort(out.begin(), out.end(), [](const TokenFile& a, const TokenFile& b) { return a.path < b.path; });
    return out;
  }
  std::error_code ec;
  MOELAB_CHECK(fs::exists(p, ec), "data: ", p, " does not exist");
  if (!fs::is_directory(p, ec)) return {{p, ""}};
  MOELAB_CHECK(!fs::exists(fs::path(p) / kPrepareUnfinishedFile, ec), "data: ", p,
               " is an unfinished moelab prepare (interrupted, or still running); run prepare again");
  const fs::path meta = fs::path(p) / kShardMetaFile;
  if (fs::exists(meta, ec)) {  // prepare's folder: its own list, not whatever else lies there
    const ShardMeta m = ShardMeta::from_json(read_json(meta.string()), meta.string());
    for (const ShardInfo& s : m.shards) out.push_back({(fs::path(p) / s.file).string(), s.split});
    return out;
  }
  // a folder of llm.c shards or nanoGPT's train.bin + val.bin: *.bin, "val" names are the val split
  for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.ends_with(".bin") || name.starts_with(".")) continue;
    const std::optional<std::string> split = shard_split_of(name);
    out.push_back({it->path().string(), split ? *split : name == "val.bin" ? "val" : "train"});
  }
  MOELAB_CHECK(!ec, "data: cannot list ", p, ": ", ec.message());
  MOELAB_CHECK(!out.empty(), "data: folder ", p, " holds no meta.json and no .bin token files");
  std::sort(out.begin(), out.end(), [](const TokenFile& a, const TokenFile& b) { return a.path < b.path; });
  return out;
}

// What the folder of some token files says about them: meta.json (domains, runs) and tokenizer.json.
struct FolderInfo {
  std::optional<ShardMeta> meta;
  std::optional<Tokenizer> tokenizer;
  std::string tokenizer_path;
};

class CorpusBuilder {
 public:
  CorpusBuilder(const DataConfig& cfg, const Tokenizer* expected) : cfg_(cfg), expected_(expected) {}

  void add(const TokenFile& f, TokenStream& stream) {
    const FolderInfo& folder = folder_of(f.path);
    choose_tokenizer(folder, f.path);
    auto file = std::make_shared<const MappedFile>(f.path, "data");
    const ShardLayout layout = cfg_.format == "nanogpt" ? raw_uint16_layout(file->size(), f.path)
                                                        : read_shard_header(file->data(), file->size(), f.path);
    std::vector<DomainRun> runs;
    const std::string name = fs::path(f.path).filename().string();
    const ShardInfo* info = nullptr;
    if (folder.meta)
      for (const ShardInfo& s : folder.meta->shards)
        if (s.file == name) info = &s;
    if (info) {
      MOELAB_CHECK(info->tokens == layout.count, "data: ", f.path, " holds ", layout.count, " tokens, its folder's ",
                   kShardMetaFile, " says ", info->tokens);
      for (const DomainRun& r : info->runs) runs.push_back({r.start, domain_index(folder.meta->domains[r.domain])});
    } else {
      runs.push_back({0, domain_index(f.path)});  // no meta.json entry: the file is its own domain
    }
    stream.append_mapped(std::move(file), layout, runs);
  }

  Corpus finish(TokenStream train, TokenStream val) {
    Corpus c;
    if (tokenizer_) {
      c.tokenizer = *tokenizer_;
    } else {
      MOELAB_CHECK(cfg_.tokenizer == "byte" || expected_, "data: no ", kShardTokenizerFile, " beside the token files (",
                   first_file_, "); put the moelab tokenizer JSON that made them there, or set data.tokenizer to "
                   "\"byte\" for byte ids");
      c.tokenizer = expected_ ? *expected_ : Tokenizer::bytes();
    }
    if (expected_)
      MOELAB_CHECK(expected_->to_json() == c.tokenizer.to_json(), "data: the token files' tokenizer (", tokenizer_path_,
                   ", vocab ", c.tokenizer.vocab_size(), ") is not the checkpoint's (vocab ", expected_->vocab_size(),
                   "): the ids would mean other tokens");
    train.set_vocab_size(c.tokenizer.vocab_size());
    val.set_vocab_size(c.tokenizer.vocab_size());
    c.train = std::move(train);
    c.val = std::move(val);
    c.domains = domains_;
    c.from_token_files = true;
    return c;
  }

 private:
  const FolderInfo& folder_of(const std::string& file) {
    const std::string dir = fs::path(file).parent_path().string();
    auto it = folders_.find(dir);
    if (it != folders_.end()) return it->second;
    FolderInfo info;
    std::error_code ec;
    const fs::path base = dir.empty() ? fs::path(".") : fs::path(dir);
    if (fs::exists(base / kShardMetaFile, ec))
      info.meta = ShardMeta::from_json(read_json((base / kShardMetaFile).string()),
                                       (base / kShardMetaFile).string());
    if (fs::exists(base / kShardTokenizerFile, ec)) {
      info.tokenizer_path = (base / kShardTokenizerFile).string();
      try {
        info.tokenizer = read_tokenizer_file(info.tokenizer_path);
      } catch (const Error& e) {
        throw Error("data: " + info.tokenizer_path + ": " + e.what());
      }
      if (info.meta)
        MOELAB_CHECK(info.meta->vocab_size == info.tokenizer->vocab_size(), "data: ", info.tokenizer_path, " has ",
                     info.tokenizer->vocab_size(), " tokens, ", kShardMetaFile, " beside it says ",
                     info.meta->vocab_size);
    }
    return folders_.emplace(dir, std::move(info)).first->second;
  }

  // Every folder's tokenizer must be the same: the ids of all files mean the same tokens.
  void choose_tokenizer(const FolderInfo& folder, const std::string& file) {
    if (first_file_.empty()) first_file_ = file;
    if (!folder.tokenizer) return;
    if (!tokenizer_) {
      tokenizer_ = folder.tokenizer;
      tokenizer_path_ = folder.tokenizer_path;
      return;
    }
    MOELAB_CHECK(tokenizer_->to_json() == folder.tokenizer->to_json(), "data: ", folder.tokenizer_path, " differs from ",
                 tokenizer_path_, ": token files made with different tokenizers cannot be mixed");
  }

  uint16_t domain_index(const std::string& name) {
    auto it = domain_ids_.find(name);
    if (it != domain_ids_.end()) return it->second;
    MOELAB_CHECK(domains_.size() < kMaxDomains, "data: more than ", kMaxDomains,
                 " source files across the token files (each is a domain, numbered in 16 bits in every batch)");
    domains_.push_back(name);
    return domain_ids_[name] = static_cast<uint16_t>(domains_.size() - 1);
  }

  const DataConfig& cfg_;
  const Tokenizer* expected_;
  std::map<std::string, FolderInfo> folders_;
  std::optional<Tokenizer> tokenizer_;
  std::string tokenizer_path_, first_file_;
  std::vector<std::string> domains_;
  std::map<std::string, uint16_t> domain_ids_;
};

bool starts_with_shard_magic(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec) || ec) return false;  // never opens a FIFO
  unsigned char head[4] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(head), sizeof head);
  return in.gcount() == sizeof head && looks_like_shard(head, sizeof head);
}

}  // namespace

bool is_token_data(const DataConfig& cfg) {
  if (cfg.format == "shards" || cfg.format == "nanogpt") return true;
  if (cfg.format != "auto" || cfg.train.empty()) return false;
  const std::string& p = cfg.train.front();
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    if (fs::exists(fs::path(p) / kShardMetaFile, ec)) return true;
    std::vector<std::string> bins;  // or a folder of llm.c shards: its first *.bin has a shard magic
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".bin") bins.push_back(it->path().string());
    return !bins.empty() && starts_with_shard_magic(*std::min_element(bins.begin(), bins.end()));
  }
  if (fs::exists(p, ec)) return p.ends_with(".bin") && starts_with_shard_magic(p);
  return is_glob(p);
}

Corpus open_token_corpus(const DataConfig& cfg, const Tokenizer* expected) {
  CorpusBuilder builder(cfg, expected);
  TokenStream train, val;
  for (const std::string& p : cfg.train)
    for (const TokenFile& f : expand(p)) {
      if (f.split == "val" && !cfg.val.empty()) continue;  // data.val replaces the folder's own val split
      builder.add(f, f.split == "val" ? val : train);
    }
  for (const std::string& p : cfg.val) {
    std::vector<TokenFile> files = expand(p);
    // a folder given as data.val: its val split, when it has one
    const bool has_val = std::any_of(files.begin(), files.end(), [](const TokenFile& f) { return f.split == "val"; });
    for (const TokenFile& f : files)
      if (!has_val || f.split != "train") builder.add(f, val);
  }
  MOELAB_CHECK(train.size() > 0, "data: the token files of data.train hold no training tokens");
  return builder.finish(std::move(train), std::move(val));
}

}  // namespace moelab::train
