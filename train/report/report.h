// train/report.h: `moelab report RUN_DIR... [--out report.html] [--csv DIR]`: one self-contained
// HTML page comparing runs (inline SVG, no network), and optionally their metrics as CSV tables.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "train/report/metrics_log.h"

namespace moelab::train {

struct ReportOptions {
  std::vector<std::string> runs;  // run folders, each holding metrics.jsonl
  std::string out = "report.html";
  std::string csv_dir;  // empty: no CSV
  bool group_seeds = true;  // runs that differ only by seed drawn as one group (seed_groups.h)
};

struct ReportResult {
  std::string html_path;
  std::vector<std::string> csv_files;
  size_t skipped_lines = 0;
};

// Reads the runs (names: folder basenames, made unique), writes the HTML atomically and the CSV
// tables. Skipped lines are warned about on `log`; a missing folder or metrics.jsonl throws
// moelab::Error before anything is written.
ReportResult write_report(const ReportOptions& opts, std::ostream& log);

// The reading step alone, for tests and other tools.
std::vector<RunLog> read_runs(const std::vector<std::string>& run_dirs, std::ostream& log);

}  // namespace moelab::train
