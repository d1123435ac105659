// train/report_html.h: the HTML page of `moelab report`: loss curves, routing metrics, expert-load
// heatmaps, final loads, domain x expert matrices, each expert's tokens and a summary table, as inline SVG with no
// external resources.
#pragma once
#include <string>
#include <vector>

#include "train/report/metrics_log.h"
#include "train/report/seed_groups.h"

namespace moelab::train {

// groups: runs that differ only by seed (seed_groups.h). When some group has several runs, curves
// are drawn per group (mean line, min-max band), the summary has mean ± std per group, and the
// per-run views (heatmaps, matrices, token view) show each group's first run.
std::string render_report_html(const std::vector<RunLog>& runs, const std::vector<SeedGroup>& groups = {});

}  // namespace moelab::train
