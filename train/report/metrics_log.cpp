#include "train/report/metrics_log.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/error.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"

namespace moelab::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kMaxRowDepth = 16;      // a row nests 4 levels (row, moe, layer, domain_expert)
constexpr int kMaxExperts = 1 << 16;  // per layer: more is not a run moelab wrote, and would size the heatmaps

// A line that breaks the schema; the reader turns it into a warning and skips the line.
struct BadLine : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

const char* type_name(const json& v) {
  if (v.is_string()) return "a string";
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_boolean()) return "a boolean";
  return "not a number";
}

// Numbers as double; null (nlohmann writes NaN and inf as null) as NaN.
double number(const json& v, const std::string& where) {
  if (v.is_null()) return kNaN;
  if (!v.is_number()) throw BadLine(where + " is " + type_name(v) + ", expected a number");
  return v.get<double>();
}

std::vector<double> numbers(const json& v, const std::string& where) {
  if (!v.is_array()) throw BadLine(where + " is " + type_name(v) + ", expected an array of numbers");
  std::vector<double> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.push_back(number(v[i], where + "[" + std::to_string(i) + "]"));
  return out;
}

// "h3" -> 3; anything else is not a layer key.
int layer_index(const std::string& key) {
  const bool ok = key.size() >= 2 && key.size() <= 6 && key[0] == 'h' &&
                  std::all_of(key.begin() + 1, key.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  if (!ok) throw BadLine("moe." + key + ": expected a layer key like \"h1\"");
  return std::stoi(key.substr(1));
}

const std::set<std::string> kPerExpert = {"routed", "kept", "load", "prob", "bias"};
const std::set<std::string> kScalars = {"tokens",       "drop_frac", "cv",        "maxvio",   "dead",     "entropy_token",
                                        "entropy_prob", "entropy_load", "domain_mi", "token_mi", "class_mi"};
constexpr size_t kMaxTopTokens = 1000;   // per expert
constexpr size_t kMaxTokenText = 4096;   // bytes of one token's text
constexpr size_t kMaxTokenClasses = 64;

std::string string_of(const json& v, const std::string& at, size_t max_bytes) {
  if (!v.is_string()) throw BadLine(at + " is " + type_name(v) + ", expected a string");
  std::string s = v.get<std::string>();
  if (s.size() > max_bytes) throw BadLine(at + " is longer than " + std::to_string(max_bytes) + " bytes");
  return s;
}

// [[[text, count, total], ...] per expert]
std::vector<std::vector<LayerWindow::TopToken>> top_tokens_of(const json& v, const std::string& at) {
  if (!v.is_array()) throw BadLine(at + " is " + type_name(v) + ", expected [experts][tokens]");
  std::vector<std::vector<LayerWindow::TopToken>> out;
  for (size_t e = 0; e < v.size(); ++e) {
    const std::string ae = at + "[" + std::to_string(e) + "]";
    if (!v[e].is_array()) throw BadLine(ae + " is " + type_name(v[e]) + ", expected a list of [text, count, total]");
    if (v[e].size() > kMaxTopTokens) throw BadLine(ae + " lists more than " + std::to_string(kMaxTopTokens) + " tokens");
    auto& list = out.emplace_back();
    for (size_t i = 0; i < v[e].size(); ++i) {
      const json& t = v[e][i];
      const std::string ai = ae + "[" + std::to_string(i) + "]";
      if (!t.is_array() || t.size() != 3) throw BadLine(ai + " is not [text, count, total]");
      list.push_back({string_of(t[0], ai + "[0]", kMaxTokenText), number(t[1], ai + "[1]"), number(t[2], ai + "[2]")});
    }
  }
  return out;
}

LayerWindow parse_layer(const json& j, const std::string& where) {
  if (!j.is_object()) throw BadLine(where + " is " + type_name(j) + ", expected an object");
  LayerWindow w;
  for (const auto& [key, v] : j.items()) {
    const std::string at = where + "." + key;
    if (kPerExpert.count(key)) {
      w.per_expert[key] = numbers(v, at);
    } else if (key == "aux") {
      if (!v.is_object()) throw BadLine(at + " is " + type_name(v) + ", expected an object");
      for (const auto& [name, x] : v.items()) w.scalars["aux." + name] = number(x, at + "." + name);
    } else if (key == "recv_per_rank") {
      w.per_rank = numbers(v, at);
      if (w.per_rank.size() > (1u << 20)) throw BadLine(at + " has more than 2^20 processes");
    } else if (key == "domain_expert") {
      if (!v.is_array()) throw BadLine(at + " is " + type_name(v) + ", expected [domains][experts]");
      for (size_t d = 0; d < v.size(); ++d)
        w.domain_expert.push_back(numbers(v[d], at + "[" + std::to_string(d) + "]"));
    } else if (key == "top_tokens") {
      w.top_tokens = top_tokens_of(v, at);
    } else if (key == "token_classes") {
      if (!v.is_array() || v.size() > kMaxTokenClasses)
        throw BadLine(at + " is not a list of at most " + std::to_string(kMaxTokenClasses) + " names");
      for (size_t c = 0; c < v.size(); ++c) w.token_classes.push_back(string_of(v[c], at + "[" + std::to_string(c) + "]", 256));
    } else if (key == "class_expert") {
      if (!v.is_array() || v.size() > kMaxTokenClasses)
        throw BadLine(at + " is not a list of at most " + std::to_string(kMaxTokenClasses) + " rows");
      for (size_t c = 0; c < v.size(); ++c)
        w.class_expert.push_back(numbers(v[c], at + "[" + std::to_string(c) + "]"));
    } else if (v.is_number() || v.is_null()) {
      w.scalars[key] = number(v, at);
    } else if (kScalars.count(key)) {
      throw BadLine(at + " is " + type_name(v) + ", expected a number");
    }  // other keys are newer than this reader: left alone
  }
  // Every per-expert array of a window describes the same experts.
  std::string first;
  size_t experts = 0;
  for (const auto& [key, values] : w.per_expert) {
    if (first.empty()) {
      first = key;
      experts = values.size();
    } else if (values.size() != experts) {
      throw BadLine(where + "." + key + " has " + std::to_string(values.size()) + " entries but " + where + "." +
                    first + " has " + std::to_string(experts));
    }
  }
  if (experts > static_cast<size_t>(kMaxExperts))
    throw BadLine(where + "." + first + " has " + std::to_string(experts) + " entries, more than " +
                  std::to_string(kMaxExperts) + " experts");
  // domain_expert is a rectangle: every row as long as the per-expert arrays (or, without them, row 0)
  if (first.empty() && !w.domain_expert.empty()) {
    first = "domain_expert[0]";
    experts = w.domain_expert[0].size();
    if (experts > static_cast<size_t>(kMaxExperts))
      throw BadLine(where + ".domain_expert[0] has " + std::to_string(experts) + " entries, more than " +
                    std::to_string(kMaxExperts) + " experts");
  }
  for (size_t d = 0; d < w.domain_expert.size(); ++d)
    if (w.domain_expert[d].size() != experts)
      throw BadLine(where + ".domain_expert[" + std::to_string(d) + "] has " +
                    std::to_string(w.domain_expert[d].size()) + " entries but " + where + "." + first + " has " +
                    std::to_string(experts));
  // The token view describes the same experts, and names each class row.
  if (!w.class_expert.empty() || !w.top_tokens.empty()) {
    if (first.empty()) throw BadLine(where + " has a token view but no per-expert arrays");
    if (w.top_tokens.size() != experts)
      throw BadLine(where + ".top_tokens has " + std::to_string(w.top_tokens.size()) + " experts but " + where + "." +
                    first + " has " + std::to_string(experts));
    if (w.class_expert.size() != w.token_classes.size())
      throw BadLine(where + ".class_expert has " + std::to_string(w.class_expert.size()) + " rows but token_classes " +
                    std::to_string(w.token_classes.size()) + " names");
    for (size_t c = 0; c < w.class_expert.size(); ++c)
      if (w.class_expert[c].size() != experts)
        throw BadLine(where + ".class_expert[" + std::to_string(c) + "] has " +
                      std::to_string(w.class_expert[c].size()) + " entries but " + where + "." + first + " has " +
                      std::to_string(experts));
  }
  return w;
}

// An integer in [0, max] (steps, layer indices, expert counts), or the line is bad.
int64_t count_of(const json& v, const std::string& what, int64_t max) {
  if (!v.is_number()) throw BadLine(what + " is " + type_name(v) + ", expected an integer");
  const bool whole = v.is_number_integer() || std::floor(v.get<double>()) == v.get<double>();
  if (!whole) throw BadLine(what + " is not an integer");
  const double d = v.is_number_unsigned() ? static_cast<double>(v.get<uint64_t>()) : v.get<double>();
  if (!(d >= 0 && d <= static_cast<double>(max)))
    throw BadLine(what + " is " + v.dump() + ", expected an integer in [0, " + std::to_string(max) + "]");
  return static_cast<int64_t>(d);
}

int64_t step_of(const json& row) {
  auto it = row.find("step");
  if (it == row.end()) throw BadLine("no \"step\"");
  return count_of(*it, "\"step\"", int64_t{1} << 53);
}

void apply_start(RunLog& run, const json& row) {
  std::vector<std::string> domains;
  if (auto it = row.find("domains"); it != row.end()) {
    if (!it->is_array()) throw BadLine("\"domains\" is " + std::string(type_name(*it)) + ", expected a list of names");
    for (const json& d : *it) {
      if (!d.is_string())
        throw BadLine("\"domains\" has an entry that is " + std::string(type_name(d)) + ", expected a name");
      domains.push_back(d.get<std::string>());
    }
  }
  std::vector<int> layers;
  if (auto it = row.find("moe_layers"); it != row.end()) {
    if (!it->is_array())
      throw BadLine("\"moe_layers\" is " + std::string(type_name(*it)) + ", expected a list of layers");
    for (const json& l : *it) layers.push_back(static_cast<int>(count_of(l, "a \"moe_layers\" entry", 1 << 30)));
  }
  int experts = 0;
  if (auto it = row.find("num_experts"); it != row.end())
    experts = static_cast<int>(count_of(*it, "\"num_experts\"", kMaxExperts));
  // A resume restarts from the checkpoint at `step`: rows logged after it by the interrupted
  // attempt are superseded by the ones that follow, so drop them to keep the series monotone.
  if (row.contains("step")) {
    const int64_t step = step_of(row);
    std::erase_if(run.train, [&](const MetricsRow& r) { return r.step > step; });
    std::erase_if(run.eval, [&](const MetricsRow& r) { return r.step >= step; });
  }
  run.start = row;
  run.start_experts = experts;
  if (!domains.empty()) run.domains = std::move(domains);
  for (int l : layers)
    if (std::find(run.moe_layers.begin(), run.moe_layers.end(), l) == run.moe_layers.end()) run.moe_layers.push_back(l);
}

void apply_row(RunLog& run, const json& row) {
  if (!row.is_object()) throw BadLine("not a JSON object");
  if (auto ev = row.find("event"); ev != row.end()) {
    if (*ev == "start") apply_start(run, row);
    return;  // other events are newer than this reader and carry nothing it plots
  }
  MetricsRow r;
  r.step = step_of(row);
  const bool is_eval = row.contains("val_loss");
  if (!is_eval && !row.contains("loss"))
    throw BadLine("neither a training row (\"loss\") nor an eval row (\"val_loss\")");
  static const std::set<std::string> numeric = {"loss",         "total_loss", "lr",         "grad_norm",
                                                "tokens_per_s", "val_loss",   "train_loss", "val_bpb",
                                                "train_bpb",    "old_val_loss", "old_val_bpb"};
  for (const auto& [key, v] : row.items()) {
    if (key == "step" || key == "moe") continue;
    if (numeric.count(key) || key.rfind("aux.", 0) == 0)
      r.values[key] = number(v, "\"" + key + "\"");
    else if (v.is_number())
      r.values[key] = v.get<double>();
  }
  if (auto it = row.find("moe"); it != row.end()) {
    if (!it->is_object()) throw BadLine("\"moe\" is " + std::string(type_name(*it)) + ", expected an object");
    for (const auto& [key, layer] : it->items()) r.moe[layer_index(key)] = parse_layer(layer, "moe." + key);
  }
  for (const auto& [l, w] : r.moe)
    if (std::find(run.moe_layers.begin(), run.moe_layers.end(), l) == run.moe_layers.end()) run.moe_layers.push_back(l);
  (is_eval ? run.eval : run.train).push_back(std::move(r));
}

// parse_json's message for a line, minus its "line: " and nlohmann's "[json.exception...] parse
// error at line 1, " prefix: the line number there counts within our one line, which would only confuse.
std::string line_problem(const std::string& what) {
  std::string text = what.rfind("line: ", 0) == 0 ? what.substr(6) : what;
  if (text.rfind("invalid JSON: ", 0) == 0)
    if (auto at = text.find("column "); at != std::string::npos) return "invalid JSON at " + text.substr(at);
  return text;
}

}  // namespace

double LayerWindow::scalar(const std::string& key) const {
  auto it = scalars.find(key);
  return it == scalars.end() ? kNaN : it->second;
}

const std::vector<double>* LayerWindow::expert_values(const std::string& key) const {
  auto it = per_expert.find(key);
  return it == per_expert.end() ? nullptr : &it->second;
}

int LayerWindow::num_experts() const {
  return per_expert.empty() ? 0 : static_cast<int>(per_expert.begin()->second.size());
}

double MetricsRow::value(const std::string& key) const {
  auto it = values.find(key);
  return it == values.end() ? kNaN : it->second;
}

int RunLog::num_experts(int layer) const {
  for (const auto* rows : {&train, &eval})
    for (auto r = rows->rbegin(); r != rows->rend(); ++r)
      if (auto it = r->moe.find(layer); it != r->moe.end() && it->second.num_experts() > 0)
        return it->second.num_experts();
  return start_experts;
}

const MetricsRow* RunLog::last_with_layer(const std::vector<MetricsRow>& rows, int layer) {
  for (auto r = rows.rbegin(); r != rows.rend(); ++r)
    if (r->moe.count(layer)) return &*r;
  return nullptr;
}

RunLog parse_run_log(const std::string& text, const std::string& file, std::ostream& warn) {
  RunLog run;
  run.file = file;
  size_t pos = 0;
  for (int line = 1; pos < text.size(); ++line) {
    const size_t end = text.find('\n', pos);
    const bool unterminated = end == std::string::npos;
    std::string_view content(text.data() + pos, (unterminated ? text.size() : end) - pos);
    pos = unterminated ? text.size() : end + 1;
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    if (content.find_first_not_of(" \t") == std::string_view::npos) continue;
    std::string problem;
    try {
      apply_row(run, parse_json(std::string(content), "line", kMaxRowDepth));
    } catch (const BadLine& e) {
      problem = e.what();
    } catch (const Error& e) {  // syntax, nesting, duplicate keys
      problem = line_problem(e.what());
      if (unterminated && problem.rfind("invalid JSON", 0) == 0)
        problem = "truncated last line (no newline; the run may still be writing): " + problem;
    } catch (const json::exception& e) {
      problem = std::string("unexpected value: ") + e.what();
    }
    if (!problem.empty()) {
      run.warnings.push_back(run.file + ":" + std::to_string(line) + ": " + problem + "; line skipped");
      warn << "moelab report: warning: " << run.warnings.back() << "\n";
    }
  }
  std::sort(run.moe_layers.begin(), run.moe_layers.end());
  return run;
}

RunLog read_run_log(const std::string& run_dir, std::ostream& warn) {
  const fs::path dir(run_dir);
  std::error_code ec;
  const bool is_dir = fs::is_directory(dir, ec);
  MOELAB_CHECK(!ec || ec == std::errc::no_such_file_or_directory, run_dir, ": ", ec.message());
  MOELAB_CHECK(is_dir, run_dir, ": not a run folder (no such directory)");
  const fs::path file = dir / "metrics.jsonl";
  MOELAB_CHECK(fs::exists(file, ec), file.string(), ": no such file (is ", run_dir, " a moelab run folder?)");
  const std::string text =
      read_regular_file(file.string(), "report", static_cast<uint64_t>(machine_memory_bytes() / 8));
  return parse_run_log(text, file.string(), warn);
}

}  // namespace moelab::train
