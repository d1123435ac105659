#include "train/report/aggregate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace moelab::train {
namespace {

const std::vector<std::string> kLayerMetrics = {"cv", "maxvio", "dead", "drop_frac", "entropy_load"};
const std::vector<std::string> kTableMetrics = {"val_loss", "val_bpb", "max_mean", "cv", "dead", "drop_frac"};

std::string fmt(double v, const char* f = "%.4f") {
  if (!std::isfinite(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

double forgetting(const RunLog& log) {
  // how much the loss on the previous distribution rose since the stage's first eval (step 0)
  if (log.eval.empty()) return NAN;
  return log.eval.back().value("old_val_loss") - log.eval.front().value("old_val_loss");  // NaN if either lacks it
}

std::map<std::string, double> final_metrics(const RunLog& log) {
  std::map<std::string, double> m;
  if (!log.eval.empty())
    for (const char* k : {"val_loss", "val_bpb", "train_loss", "old_val_loss"})
      if (std::isfinite(log.eval.back().value(k))) m[k] = log.eval.back().value(k);
  if (const double f = forgetting(log); std::isfinite(f)) m["forgetting"] = f;
  std::map<std::string, std::pair<double, int>> sums;
  for (int layer : log.moe_layers) {
    const MetricsRow* row = RunLog::last_with_layer(log.train, layer);
    if (!row) continue;
    const LayerWindow& w = row->moe.at(layer);
    for (const std::string& k : kLayerMetrics)
      if (std::isfinite(w.scalar(k))) {
        sums[k].first += w.scalar(k);
        ++sums[k].second;
      }
  }
  for (int layer : log.moe_layers) {  // what experts learn: the eval windows' view
    const MetricsRow* row = RunLog::last_with_layer(log.eval, layer);
    if (!row) continue;
    for (const char* k : {"domain_mi", "token_mi", "class_mi"})
      if (const double v = row->moe.at(layer).scalar(k); std::isfinite(v)) {
        sums[k].first += v;
        ++sums[k].second;
      }
  }
  for (const auto& [k, s] : sums) m[k] = s.first / s.second;
  if (m.count("maxvio")) m["max_mean"] = m["maxvio"] + 1;
  return m;
}

double t_quantile_975(double df) {
  // two-sided 95% quantiles of Student's t for df = 1..30; beyond, the normal's with a 1/df term
  static const double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                 2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (!(df >= 1)) return NAN;
  if (df >= 30) return 1.95996 + 2.4 / df;
  // Welch's df is fractional: interpolate between the neighbouring whole numbers
  const int lo = static_cast<int>(std::floor(df));
  const double frac = df - lo;
  return table[lo - 1] + (lo < 30 ? frac * (table[lo] - table[lo - 1]) : 0);
}

SeedStat describe(const std::vector<double>& values) {
  SeedStat s;
  s.n = static_cast<int>(values.size());
  if (s.n == 0) return s;
  for (double v : values) s.mean += v;
  s.mean /= s.n;
  if (s.n < 2) {
    s.std = s.ci_low = s.ci_high = NAN;
    return s;
  }
  double ss = 0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(ss / (s.n - 1));
  const double half = t_quantile_975(s.n - 1) * s.std / std::sqrt(static_cast<double>(s.n));
  s.ci_low = s.mean - half;
  s.ci_high = s.mean + half;
  return s;
}

std::vector<GroupSummary> aggregate_runs(const std::vector<RunFinal>& runs) {
  std::vector<GroupSummary> groups;
  std::vector<std::map<std::string, std::vector<double>>> values;
  for (const RunFinal& r : runs) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const GroupSummary& g) { return g.group == r.group; });
    if (it == groups.end()) {
      groups.push_back({r.group, {}, {}});
      values.emplace_back();
      it = groups.end() - 1;
    }
    it->runs.push_back(r.dir);
    for (const auto& [k, v] : r.metrics) values[it - groups.begin()][k].push_back(v);
    if (!r.seed.empty() && r.metrics.count("val_loss")) it->val_by_seed[r.seed] = r.metrics.at("val_loss");
  }
  for (size_t g = 0; g < groups.size(); ++g)
    for (const auto& [k, v] : values[g]) groups[g].metrics[k] = describe(v);
  return groups;
}

bool difference_resolved(const SeedStat& a, const SeedStat& b) {
  if (a.n < 2 || b.n < 2) return false;
  const double va = a.std * a.std / a.n, vb = b.std * b.std / b.n;
  if (va + vb == 0) return a.mean != b.mean;
  const double df = (va + vb) * (va + vb) / (va * va / (a.n - 1) + vb * vb / (b.n - 1));
  return std::abs(a.mean - b.mean) > t_quantile_975(df) * std::sqrt(va + vb);
}

int paired_val_difference(const GroupSummary& a, const GroupSummary& b, bool* resolved) {
  std::vector<double> d;
  for (const auto& [seed, v] : a.val_by_seed)
    if (auto it = b.val_by_seed.find(seed); it != b.val_by_seed.end()) d.push_back(v - it->second);
  *resolved = false;
  if (d.size() < 2) return static_cast<int>(d.size());
  const SeedStat s = describe(d);
  *resolved = std::abs(s.mean) > t_quantile_975(s.n - 1) * s.std / std::sqrt(static_cast<double>(s.n));
  return s.n;
}

std::string aggregate_csv(const std::vector<GroupSummary>& groups) {
  std::string s = "group,metric,n,mean,std,ci95_low,ci95_high\n";
  for (const GroupSummary& g : groups)
    for (const auto& [k, st] : g.metrics)
      s += csv_field(g.group) + "," + k + "," + std::to_string(st.n) + "," + fmt(st.mean, "%.6g") + "," +
           fmt(st.std, "%.6g") + "," + fmt(st.ci_low, "%.6g") + "," + fmt(st.ci_high, "%.6g") + "\n";
  return s;
}

const GroupSummary* best_group(const std::vector<GroupSummary>& groups) {
  const GroupSummary* best = nullptr;
  for (const GroupSummary& g : groups)
    if (g.metrics.count("val_loss") && g.metrics.at("val_loss").n >= 2 &&
        (!best || g.metrics.at("val_loss").mean < best->metrics.at("val_loss").mean))
      best = &g;
  return best;
}

std::string versus_best(const GroupSummary& g, const GroupSummary* best) {
  if (best && &g == best) return "best";
  if (!g.metrics.count("val_loss")) return "-";
  if (g.metrics.at("val_loss").n < 2) return "n/a (1 seed)";  // no spread, nothing to test
  if (!best) return "-";
  bool resolved = false;
  if (paired_val_difference(g, *best, &resolved) >= 2)
    return resolved ? "worse (resolved, paired by seed)" : "not resolved (paired by seed)";
  return difference_resolved(g.metrics.at("val_loss"), best->metrics.at("val_loss")) ? "worse (resolved)"
                                                                                     : "not resolved";
}

std::string aggregate_markdown(const std::vector<GroupSummary>& groups) {
  const GroupSummary* best = best_group(groups);
  std::string s = "| group | seeds |";
  std::string rule = "|---|---|";
  for (const std::string& k : kTableMetrics) {
    s += " " + k + " |";
    rule += "---|";
  }
  s += " val_loss vs the best |\n" + rule + "---|\n";
  for (const GroupSummary& g : groups) {
    int n = 0;
    for (const auto& [k, st] : g.metrics) n = std::max(n, st.n);
    s += "| " + g.group + " | " + std::to_string(n) + " |";
    for (const std::string& k : kTableMetrics) {
      auto it = g.metrics.find(k);
      s += " " + (it == g.metrics.end() ? std::string("-")
                  : it->second.n < 2 ? fmt(it->second.mean)
                                     : fmt(it->second.mean) + " ± " + fmt(it->second.std)) + " |";
    }
    s += " " + versus_best(g, best) + " |\n";
  }
  return s;
}

}  // namespace moelab::train
