// train/metrics_log.h: reading a run folder's metrics.jsonl (docs/metrics.md is the schema) into
// rows a report can plot. Bad lines are skipped with a warning naming file and line, never fatal:
// a run that is still writing, or that crashed mid-line, must still be reportable.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace moelab::train {

// One MoE layer's routing metrics over one window: a training or eval row's `moe.hL`.
struct LayerWindow {
  std::map<std::string, double> scalars;                  // tokens, cv, maxvio, ..., and "aux.NAME"
  std::map<std::string, std::vector<double>> per_expert;  // routed, kept, load, prob, bias
  std::vector<std::vector<double>> domain_expert;         // [domain][expert]; empty when absent
  std::vector<double> per_rank;                           // a distributed run's rows received per process
  // The token view of eval windows (empty when absent): per expert its most frequent input tokens,
  // and the routing split by token class ([class][expert], classes named by token_classes).
  struct TopToken {
    std::string text;
    double count = 0, total = 0;  // assignments of the token to this expert; of the token overall
  };
  std::vector<std::vector<TopToken>> top_tokens;
  std::vector<std::string> token_classes;
  std::vector<std::vector<double>> class_expert;

  double scalar(const std::string& key) const;                             // NaN when absent
  const std::vector<double>* expert_values(const std::string& key) const;  // nullptr when absent
  int num_experts() const;                                                 // 0 when no per-expert array
};

// A training or eval row. JSON null (how NaN is written) reads as NaN.
struct MetricsRow {
  int64_t step = 0;
  std::map<std::string, double> values;  // loss, lr, val_loss, aux.NAME, ...
  std::map<int, LayerWindow> moe;        // by layer index L of "hL"

  double value(const std::string& key) const;  // NaN when absent
};

struct RunLog {
  std::string name;                                 // the run folder's basename (made unique by the report)
  std::string file;                                 // path of metrics.jsonl
  nlohmann::json start = nlohmann::json::object();  // the last start row
  int start_experts = 0;                            // its num_experts, checked (0 when absent)
  std::vector<std::string> domains;
  std::vector<int> moe_layers;  // from start rows and from the rows themselves, sorted
  std::vector<MetricsRow> train, eval;
  std::vector<std::string> warnings;  // "FILE:LINE: what", also written to the warning stream

  bool dense() const { return moe_layers.empty(); }
  // Experts of `layer`, from its per-expert arrays (the start row's num_experts as fallback).
  int num_experts(int layer) const;
  // Last row of `rows` that has routing metrics for `layer`, or nullptr.
  static const MetricsRow* last_with_layer(const std::vector<MetricsRow>& rows, int layer);
};

// Reads RUN_DIR/metrics.jsonl. Throws moelab::Error when the folder or the file is missing or
// unreadable (or is not a regular file); writes one warning line per skipped line to `warn`.
RunLog read_run_log(const std::string& run_dir, std::ostream& warn);
// The same from the file's text (`file` names it in warnings). Never throws on bad content: every
// line that breaks the schema (wrong types, numbers out of range, too deep, duplicate keys) is
// skipped with a warning (fuzzed: fuzz/fuzz_metrics.cpp).
RunLog parse_run_log(const std::string& text, const std::string& file, std::ostream& warn);

}  // namespace moelab::train
