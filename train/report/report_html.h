// train/report_html.h: the HTML page of `moelab report`: loss curves, routing metrics, expert-load
// heatmaps, final loads, domain x expert matrices and a summary table, as inline SVG with no
// external resources.
#pragma once
#include <string>
#include <vector>

#include "train/report/metrics_log.h"

namespace moelab::train {

std::string render_report_html(const std::vector<RunLog>& runs);

}  // namespace moelab::train
