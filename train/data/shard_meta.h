// train/data/shard_meta.h: meta.json, written by `moelab prepare` beside its shards: which shards
// there are (file, split, token count), the source files (domains) and, per shard, the runs of
// tokens from each source, so the domain x expert matrix works on prepared data. docs/data.md.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "train/data/token_stream.h"

namespace moelab::train {

constexpr const char* kShardMetaFile = "meta.json";
constexpr const char* kShardTokenizerFile = "tokenizer.json";
// Present while prepare writes a folder (removed after meta.json): readers refuse such a folder.
constexpr const char* kPrepareUnfinishedFile = "prepare.unfinished";

struct ShardInfo {
  std::string file;                // name within the folder
  std::string split;               // "train" | "val"
  int64_t tokens = 0;
  std::vector<DomainRun> runs;     // strictly increasing starts, the first at 0
};

struct ShardMeta {
  std::string name;
  int64_t vocab_size = 0;
  int token_bytes = 2;
  std::optional<int32_t> end_of_text;
  std::vector<std::string> domains;  // source file paths, as given to prepare
  std::vector<ShardInfo> shards;     // in name order (val first, as llm.c numbers them)

  nlohmann::json to_json() const;
  // Validates everything (types, splits, runs, domain indices); errors name `where` and the key.
  static ShardMeta from_json(const nlohmann::json& j, const std::string& where);
};

// llm.c's shard names: "<name>_<split>_<index, 6 digits>.bin".
std::string shard_file_name(const std::string& name, const std::string& split, int index);
// "val" or "train" when `file_name` is such a name, else nothing.
std::optional<std::string> shard_split_of(const std::string& file_name);

}  // namespace moelab::train
