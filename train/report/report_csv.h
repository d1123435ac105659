// train/report_csv.h: `moelab report --csv DIR`: the runs' metrics as flat tables that
// pandas.read_csv reads as they are (docs/metrics.md lists the columns).
#pragma once
#include <string>
#include <vector>

#include "train/report/metrics_log.h"

namespace moelab::train {

// Writes DIR/train.csv, eval.csv, routing.csv and domain_expert.csv (each atomically); returns
// their paths. DIR is created if needed.
std::vector<std::string> write_report_csv(const std::vector<RunLog>& runs, const std::string& dir);

}  // namespace moelab::train
