// train/report/aggregate.h: runs that differ only by seed, summarised: per group and metric the
// seed count, mean, sample standard deviation and a 95% interval for the mean (Student's t), and
// whether two groups' difference is resolved by the seeds (Welch's 95% interval of the difference
// excludes 0). The metrics of a run are its final values: val/train loss and bits per byte from the
// last eval row; balance metrics from the last training window, averaged over the MoE layers.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "train/report/metrics_log.h"

namespace moelab::train {

struct SeedStat {
  int n = 0;
  double mean = 0, std = 0, ci_low = 0, ci_high = 0;  // std and the interval: NaN for n < 2
};

struct GroupSummary {
  std::string group;
  std::map<std::string, SeedStat> metrics;
  std::vector<std::string> runs;           // run folders
  std::map<std::string, double> val_by_seed;  // final val_loss per seed (runs whose seed is known)
};

// val_loss, val_bpb, train_loss; a lifelong stage's old_val_loss and forgetting (its last eval row's
// old_val_loss minus its first's); per MoE layer averaged: cv, maxvio, max_mean (= maxvio + 1), dead,
// drop_frac, entropy_load (last training window), and domain_mi, token_mi, class_mi (last eval row
// that has them). Absent values are left out.
std::map<std::string, double> final_metrics(const RunLog& log);
// A lifelong stage's last eval row's old_val_loss minus its first's (NaN when either lacks it).
double forgetting(const RunLog& log);
// t such that P(|T| < t) = 0.95 for `df` degrees of freedom (df >= 1).
double t_quantile_975(double df);
SeedStat describe(const std::vector<double>& values);
// Groups in first-seen order; `runs` are (group, run folder, its final metrics).
struct RunFinal {
  std::string group, dir;
  std::map<std::string, double> metrics;
  std::string seed;  // empty: unknown (no paired comparison)
};
std::vector<GroupSummary> aggregate_runs(const std::vector<RunFinal>& runs);
// Welch: is the difference of the means resolved at 95%? (false when either has n < 2)
bool difference_resolved(const SeedStat& a, const SeedStat& b);
// Paired by seed: the per-seed differences of val_loss over the seeds both groups ran (a seed fixes
// the initial weights and the batch order of every group, so its own luck cancels); their Student-t
// 95% interval. Returns the number of common seeds (no test below 2) and sets *resolved.
int paired_val_difference(const GroupSummary& a, const GroupSummary& b, bool* resolved);
// The group of at least 2 seeds with the lowest mean val_loss (nullptr when there is none), and how
// another group's val_loss compares with it: "best", "n/a (1 seed)", "-" (no val_loss or no best),
// else "worse (resolved)" or "not resolved", paired by seed when the two share at least 2 seeds
// ("..., paired by seed") and by Welch's unpaired test otherwise.
const GroupSummary* best_group(const std::vector<GroupSummary>& groups);
std::string versus_best(const GroupSummary& g, const GroupSummary* best);
// group,metric,n,mean,std,ci95_low,ci95_high
std::string aggregate_csv(const std::vector<GroupSummary>& groups);
// A table "mean ± std" per metric, and per group whether its val_loss differs from the best
// group's by more than the seeds resolve.
std::string aggregate_markdown(const std::vector<GroupSummary>& groups);

}  // namespace moelab::train
