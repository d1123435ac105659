// libFuzzer target: the run-config parser (train/config/) on untrusted text.
// Input: JSON text, optionally followed by lines "--set key.path=value" (the CLI's overrides),
// which are applied in order before parsing, as `moelab train CONFIG --set ...` does:
//   {"model": {"n_layer": 2}}
//   --set model.moe.num_experts=4
// Text that is not JSON is not a finding (nlohmann's parser reports it); from there on only
// moelab::Error may come out. A config that parses must survive to_json -> parse_config (the
// checkpoint sidecar stores to_json and load_checkpoint parses it back) and give the same JSON.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/error.h"
#include "train/config/run_config.h"

namespace {
[[noreturn]] void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_config: %s: %s\n", what, detail.c_str());
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string text;
  std::vector<std::string> overrides;
  {
    const std::string marker = "\n--set ";
    size_t pos = input.find(marker);
    text = input.substr(0, pos);
    while (pos != std::string::npos) {
      const size_t start = pos + marker.size();
      pos = input.find(marker, start);
      std::string line = input.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
      if (!line.empty() && line.back() == '\n') line.pop_back();
      overrides.push_back(line);
    }
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return 0;  // not JSON: load_config reports it as "invalid JSON"
  }
  try {
    for (const std::string& o : overrides) moelab::train::apply_override(j, o);
    const moelab::train::RunConfig c = moelab::train::parse_config(j);
    const nlohmann::json once = moelab::train::to_json(c);
    moelab::train::RunConfig again;
    try {
      again = moelab::train::parse_config(once);
    } catch (const moelab::Error& e) {
      finding("to_json of a valid config does not parse back", std::string(e.what()) + "\n" + once.dump());
    }
    if (moelab::train::to_json(again) != once)
      finding("to_json -> parse_config -> to_json changed the config", once.dump() + "\n" + moelab::train::to_json(again).dump());
  } catch (const moelab::Error&) {
    // the expected way to reject a config
  } catch (const std::exception& e) {
    finding((std::string("exception other than moelab::Error: ") + typeid(e).name()).c_str(), e.what());
  }
  return 0;
}
