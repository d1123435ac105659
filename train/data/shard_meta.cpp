#include "train/data/shard_meta.h"

#include <cstdio>

#include "core/error.h"

namespace moelab::train {

namespace {
constexpr const char* kFormatTag = "moelab-shards";
constexpr int kFormatVersion = 1;
}  // namespace

nlohmann::json ShardMeta::to_json() const {
  nlohmann::json shard_list = nlohmann::json::array();
  for (const ShardInfo& s : shards) {
    nlohmann::json runs = nlohmann::json::array();
    for (const DomainRun& r : s.runs) runs.push_back({r.start, r.domain});
    shard_list.push_back({{"file", s.file}, {"split", s.split}, {"tokens", s.tokens}, {"domain_runs", runs}});
  }
  return {{"format", kFormatTag},
          {"version", kFormatVersion},
          {"name", name},
          {"tokenizer", kShardTokenizerFile},
          {"vocab_size", vocab_size},
          {"token_bytes", token_bytes},
          {"end_of_text", end_of_text ? nlohmann::json(*end_of_text) : nlohmann::json()},
          {"domains", domains},
          {"shards", shard_list}};
}

ShardMeta ShardMeta::from_json(const nlohmann::json& j, const std::string& where) {
  auto need = [&](bool ok, const std::string& key, const std::string& what) {
    MOELAB_CHECK(ok, where, ": ", key, ": expected ", what);
  };
  need(j.is_object() && j.value("format", "") == kFormatTag, "format", std::string("\"") + kFormatTag + "\"");
  need(j.value("version", 0) == kFormatVersion, "version", std::to_string(kFormatVersion));
  ShardMeta m;
  need(j.contains("name") && j["name"].is_string(), "name", "a string");
  m.name = j["name"];
  need(j.contains("vocab_size") && j["vocab_size"].is_number_integer() && j["vocab_size"] > 0, "vocab_size",
       "a positive integer");
  m.vocab_size = j["vocab_size"];
  need(j.contains("token_bytes") && (j["token_bytes"] == 2 || j["token_bytes"] == 4), "token_bytes", "2 or 4");
  m.token_bytes = j["token_bytes"];
  if (j.contains("end_of_text") && !j["end_of_text"].is_null()) {
    need(j["end_of_text"].is_number_integer(), "end_of_text", "an integer or null");
    m.end_of_text = j["end_of_text"].get<int32_t>();
  }
  need(j.contains("domains") && j["domains"].is_array() && j["domains"].size() <= 65535, "domains",
       "an array of at most 65535 file names");
  for (const auto& d : j["domains"]) {
    need(d.is_string(), "domains[]", "strings");
    m.domains.push_back(d);
  }
  need(j.contains("shards") && j["shards"].is_array(), "shards", "an array");
  for (size_t i = 0; i < j["shards"].size(); ++i) {
    const nlohmann::json& s = j["shards"][i];
    const std::string at = "shards[" + std::to_string(i) + "]";
    need(s.is_object() && s.contains("file") && s["file"].is_string(), at + ".file", "a file name");
    ShardInfo info;
    info.file = s["file"];
    need(info.file.find('/') == std::string::npos && !info.file.starts_with("."), at + ".file",
         "a file name in the same folder");
    need(s.contains("split") && (s["split"] == "train" || s["split"] == "val"), at + ".split", "\"train\" or \"val\"");
    info.split = s["split"];
    need(s.contains("tokens") && s["tokens"].is_number_integer() && s["tokens"] >= 0, at + ".tokens", "a count");
    info.tokens = s["tokens"];
    need(s.contains("domain_runs") && s["domain_runs"].is_array(), at + ".domain_runs", "an array of [start, domain]");
    for (const auto& r : s["domain_runs"]) {
      need(r.is_array() && r.size() == 2 && r[0].is_number_integer() && r[1].is_number_integer(),
           at + ".domain_runs[]", "[start, domain] pairs");
      const int64_t start = r[0], domain = r[1];
      const int64_t previous = info.runs.empty() ? -1 : info.runs.back().start;
      need(start > previous && start < std::max<int64_t>(info.tokens, 1) && (!info.runs.empty() || start == 0),
           at + ".domain_runs[]", "starts increasing from 0 and below the shard's token count");
      need(domain >= 0 && domain < static_cast<int64_t>(m.domains.size()), at + ".domain_runs[]",
           "domain indices below " + std::to_string(m.domains.size()));
      info.runs.push_back({start, static_cast<uint16_t>(domain)});
    }
    m.shards.push_back(std::move(info));
  }
  return m;
}

std::string shard_file_name(const std::string& name, const std::string& split, int index) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%06d", index);
  return name + "_" + split + "_" + digits + ".bin";
}

std::optional<std::string> shard_split_of(const std::string& file_name) {
  // <name>_<split>_dddddd.bin
  const size_t n = file_name.size();
  if (n < 12 || file_name.compare(n - 4, 4, ".bin") != 0 || file_name[n - 11] != '_') return std::nullopt;
  for (size_t i = n - 10; i < n - 4; ++i)
    if (file_name[i] < '0' || file_name[i] > '9') return std::nullopt;
  for (const char* split : {"train", "val"}) {
    const std::string tail = std::string("_") + split;
    if (n - 11 >= tail.size() + 1 && file_name.compare(n - 11 - tail.size(), tail.size(), tail) == 0) return split;
  }
  return std::nullopt;
}

}  // namespace moelab::train
