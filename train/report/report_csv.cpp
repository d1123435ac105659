#include "train/report/report_csv.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "train/io/atomic_file.h"

namespace moelab::train {

namespace {

namespace fs = std::filesystem;

// RFC 4180 quoting, only where needed (run and domain names may hold commas or quotes).
std::string field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string q = "\"";
  for (char c : text) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// Shortest text that reads back as the same double; NaN (JSON null) is an empty cell.
std::string number(double v) {
  if (!std::isfinite(v)) return "";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "";
}

struct Split {
  const char* name;
  const std::vector<MetricsRow>& (*rows)(const RunLog&);
};
const Split kSplits[] = {{"train", [](const RunLog& r) -> const std::vector<MetricsRow>& { return r.train; }},
                         {"eval", [](const RunLog& r) -> const std::vector<MetricsRow>& { return r.eval; }}};

std::string train_table(const std::vector<RunLog>& runs) {
  std::vector<std::string> columns = {"loss", "lr", "grad_norm", "tokens_per_s", "total_loss"};
  std::set<std::string> aux;  // summed and per-layer aux losses, whichever the runs logged
  for (const RunLog& r : runs)
    for (const MetricsRow& row : r.train)
      for (const auto& [key, v] : row.values)
        if (key.rfind("aux.", 0) == 0) aux.insert(key);
  columns.insert(columns.end(), aux.begin(), aux.end());
  std::string s = "run,step";
  for (const auto& c : columns) s.append(",").append(field(c));
  s += "\n";
  for (const RunLog& r : runs)
    for (const MetricsRow& row : r.train) {
      s += field(r.name) + "," + std::to_string(row.step);
      for (const auto& c : columns) s.append(",").append(number(row.value(c)));
      s += "\n";
    }
  return s;
}

std::string eval_table(const std::vector<RunLog>& runs) {
  std::string s = "run,step,val_loss,train_loss,val_bpb,train_bpb\n";
  for (const RunLog& r : runs)
    for (const MetricsRow& row : r.eval)
      s += field(r.name) + "," + std::to_string(row.step) + "," + number(row.value("val_loss")) + "," +
           number(row.value("train_loss")) + "," + number(row.value("val_bpb")) + "," +
           number(row.value("train_bpb")) + "\n";
  return s;
}

// Long format: one row per (window, layer, metric[, expert]); scalars have an empty expert.
std::string routing_table(const std::vector<RunLog>& runs) {
  std::string s = "run,split,step,layer,metric,expert,value\n";
  for (const RunLog& r : runs)
    for (const Split& split : kSplits)
      for (const MetricsRow& row : split.rows(r))
        for (const auto& [layer, w] : row.moe) {
          const std::string prefix =
              field(r.name) + "," + split.name + "," + std::to_string(row.step) + "," + std::to_string(layer) + ",";
          for (const auto& [metric, v] : w.scalars) s += prefix + field(metric) + ",," + number(v) + "\n";
          for (const auto& [metric, values] : w.per_expert)
            for (size_t e = 0; e < values.size(); ++e)
              s += prefix + field(metric) + "," + std::to_string(e) + "," + number(values[e]) + "\n";
        }
  return s;
}

std::string domain_expert_table(const std::vector<RunLog>& runs) {
  std::string s = "run,split,step,layer,domain,expert,count\n";
  for (const RunLog& r : runs)
    for (const Split& split : kSplits)
      for (const MetricsRow& row : split.rows(r))
        for (const auto& [layer, w] : row.moe)
          for (size_t d = 0; d < w.domain_expert.size(); ++d) {
            const std::string domain = d < r.domains.size() ? r.domains[d] : std::to_string(d);
            for (size_t e = 0; e < w.domain_expert[d].size(); ++e)
              s += field(r.name) + "," + split.name + "," + std::to_string(row.step) + "," + std::to_string(layer) +
                   "," + field(domain) + "," + std::to_string(e) + "," + number(w.domain_expert[d][e]) + "\n";
          }
  return s;
}

}  // namespace

std::vector<std::string> write_report_csv(const std::vector<RunLog>& runs, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  MOELAB_CHECK(fs::is_directory(dir, ec), "--csv ", dir, ": cannot create the folder: ", ec.message());
  const std::pair<const char*, std::string> tables[] = {{"train.csv", train_table(runs)},
                                                        {"eval.csv", eval_table(runs)},
                                                        {"routing.csv", routing_table(runs)},
                                                        {"domain_expert.csv", domain_expert_table(runs)}};
  std::vector<std::string> written;
  for (const auto& [name, text] : tables) {
    written.push_back((fs::path(dir) / name).string());
    write_file_atomic(written.back(), text);
  }
  return written;
}

}  // namespace moelab::train
