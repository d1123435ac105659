// moelab report RUN_DIR... [--out report.html] [--csv DIR]
#include <iostream>

#include "train/cli/commands.h"
#include "train/report/report.h"

namespace moelab::cli {

Run add_report(CLI::App& app) {
  auto opts = std::make_shared<train::ReportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "report", "Compare runs' metrics.jsonl in one self-contained HTML page (inline SVG): loss curves, routing "
                "balance, expert-load heatmaps, domain x expert matrices, each expert's tokens, a summary table; "
                "runs that differ only by seed are grouped (mean line, min-max band, mean ± std)");
  cmd->add_option("runs", opts->runs, "Run folders, each with metrics.jsonl; runs are named by folder")->required();
  cmd->add_option("--out", opts->out, "HTML file to write (replaced atomically)")->capture_default_str();
  cmd->add_option("--csv", opts->csv_dir,
                  "Also write train.csv, eval.csv, routing.csv, domain_expert.csv in this folder (docs/metrics.md)");
  cmd->add_flag("!--no-groups", opts->group_seeds,
                "Draw every run on its own even when runs differ only by seed (default: such runs form a group, "
                "drawn as a mean line with a min-max band and summarised as mean ± std)");
  cmd->footer("Unreadable lines of metrics.jsonl are skipped with a warning naming file and line.");
  return [opts] {
    const train::ReportResult r = train::write_report(*opts, std::cerr);
    std::cout << "wrote " << r.html_path;
    for (const std::string& f : r.csv_files) std::cout << ", " << f;
    if (r.skipped_lines > 0) std::cout << " (" << r.skipped_lines << " unreadable line(s) skipped)";
    std::cout << "\n";
    return 0;
  };
}

}  // namespace moelab::cli
