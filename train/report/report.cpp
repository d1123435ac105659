#include "train/report/report.h"

#include <filesystem>
#include <set>

#include "core/error.h"
#include "train/report/report_csv.h"
#include "train/report/report_html.h"
#include "train/io/atomic_file.h"

namespace moelab::train {

namespace {

namespace fs = std::filesystem;

// "runs/a/" and "runs/a" are both "a"; "." is the current folder's name.
std::string folder_name(const std::string& dir) {
  fs::path p = fs::absolute(fs::path(dir)).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p.filename().empty() ? p.string() : p.filename().string();
}

}  // namespace

std::vector<RunLog> read_runs(const std::vector<std::string>& run_dirs, std::ostream& log) {
  MOELAB_CHECK(!run_dirs.empty(), "report: no run folders given");
  std::vector<RunLog> runs;
  std::set<std::string> taken;
  for (const std::string& dir : run_dirs) {
    RunLog run = read_run_log(dir, log);
    // Runs are told apart by name in legends and CSV: runs/x/seed1 and runs/y/seed1 become seed1, seed1-2.
    const std::string base = folder_name(dir);
    run.name = base;
    for (int k = 2; taken.count(run.name); ++k) run.name = base + "-" + std::to_string(k);
    taken.insert(run.name);
    runs.push_back(std::move(run));
  }
  return runs;
}

ReportResult write_report(const ReportOptions& opts, std::ostream& log) {
  output_file(opts.out, "report --out");  // a device or FIFO there is an error before any work
  std::vector<RunLog> runs = read_runs(opts.runs, log);
  const std::vector<SeedGroup> groups = opts.group_seeds ? group_by_seed(runs, opts.runs) : std::vector<SeedGroup>{};
  if (has_seed_groups(groups)) {  // "seed1", "seed1-2" say little: a group's runs are GROUP/FOLDER
    std::set<std::string> taken;
    for (const RunLog& r : runs) taken.insert(r.name);
    for (const SeedGroup& g : groups)
      if (g.runs.size() > 1)
        for (size_t i : g.runs) {
          const std::string base = g.name + "/" + folder_name(opts.runs[i]);
          std::string name = base;
          for (int k = 2; taken.count(name); ++k) name = base + "-" + std::to_string(k);
          taken.insert(name);
          runs[i].name = name;
        }
  }
  ReportResult result;
  for (const RunLog& r : runs) result.skipped_lines += r.warnings.size();

  const std::string html = render_report_html(runs, groups);
  const fs::path out(opts.out);
  MOELAB_CHECK(!out.filename().empty(), "--out ", opts.out, ": expected a file name");
  if (out.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
    MOELAB_CHECK(fs::is_directory(out.parent_path(), ec), "--out ", opts.out, ": cannot create ",
                 out.parent_path().string(), ": ", ec.message());
  }
  write_file_atomic(opts.out, html);  // temp file + rename: a failure never leaves half a report
  result.html_path = opts.out;
  if (!opts.csv_dir.empty()) result.csv_files = write_report_csv(runs, opts.csv_dir);
  return result;
}

}  // namespace moelab::train
