// train/report/seed_groups.h: runs that differ only by seed, found from their logged configs, and
// their curves summarised as a mean line with a min-max band (the grouped `moelab report`).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "train/report/metrics_log.h"

namespace moelab::train {

struct SeedGroup {
  std::string name;
  std::vector<size_t> runs;  // indices into the runs, in the order given
};

// Groups runs whose start-row configs are equal once train.seed, train.out_dir and train.threads
// are set aside, each seed at most once per group (a repeated seed starts another group); groups
// keep the order of their first run. A run without a logged config and train.seed is a group of
// its own. Names: the common parent folder when every member sits in a "seed*" folder of the
// same parent (a sweep's OUT/<point>/seed<S>, without the point's "-hash8" suffix), else the first
// member's name with "+N".
std::vector<SeedGroup> group_by_seed(const std::vector<RunLog>& runs, const std::vector<std::string>& run_dirs);

// The run's train.seed as its start row logged it (JSON text), "" when absent.
std::string logged_seed(const RunLog& run);

// Whether any group has more than one run.
bool has_seed_groups(const std::vector<SeedGroup>& groups);

// One curve over the members' rows: at each step that some member logged, the mean of the members'
// values and their min and max, where every member has a finite value there (else NaN: a gap, so a
// diverged or unfinished seed never leaves a healthy-looking mean of the others).
struct MeanBand {
  std::vector<double> x, mean, lo, hi;
};
MeanBand mean_band(const std::vector<const std::vector<MetricsRow>*>& members,
                   const std::function<double(const MetricsRow&)>& value);

}  // namespace moelab::train
