// moelab sweep SWEEP.json [--parallel N] [--threads-per-run T] [--dry-run]
// Runs every (point, seed) of the sweep (train/sweep.h) as a `moelab train` process of its own,
// N at once with T OpenMP threads each; skips finished runs and resumes interrupted ones, so
// running the same command again continues a stopped sweep. Ends with OUT/aggregate.csv and
// OUT/aggregate.md (train/report/aggregate.h): per group of seeds, mean, std and 95% intervals.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "train/cli/commands.h"
#include "train/cli/options.h"
#include "train/cli/process.h"
#include "train/config/run_config.h"
#include "train/io/atomic_file.h"
#include "train/report/aggregate.h"
#include "train/sweep.h"

extern char** environ;

namespace moelab::cli {
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

std::string self_exe() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  MOELAB_CHECK(!ec, "sweep: cannot find this program (/proc/self/exe): ", ec.message());
  return p.string();
}

// Starts `moelab --threads T train BASE --set ... --out DIR [--resume]`, output to DIR/train.log.
pid_t start_run(const std::string& exe, const train::SweepSpec& spec, const train::SweepRun& run, bool resume) {
  std::vector<std::string> args = {exe, "--threads", std::to_string(spec.threads_per_run), "train", spec.base};
  for (const std::string& s : run.sets) args.insert(args.end(), {"--set", s});
  args.insert(args.end(), {"--out", run.out_dir});
  if (resume) args.push_back("--resume");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = run.out_dir + "/train.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  MOELAB_CHECK(rc == 0, "sweep: cannot start ", exe, " for ", run.out_dir, ": ", std::strerror(rc));
  return pid;
}

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

void write_aggregate(const train::SweepSpec& spec, const std::vector<train::SweepRun>& runs) {
  std::vector<train::RunFinal> finals;
  for (const train::SweepRun& r : runs) {
    if (train::run_state(r) != train::RunState::done) continue;
    std::ostringstream warn;
    finals.push_back({r.group, r.out_dir, train::final_metrics(train::read_run_log(r.out_dir, warn)),
                      std::to_string(r.seed)});
  }
  const auto groups = train::aggregate_runs(finals);
  const std::string md = train::aggregate_markdown(groups);
  train::write_file_atomic(spec.out + "/aggregate.csv", train::aggregate_csv(groups));
  train::write_file_atomic(spec.out + "/aggregate.md", md);
  std::cout << "\n" << md << "\nwrote " << spec.out << "/aggregate.csv and aggregate.md (" << finals.size()
            << " finished runs)\n";
}

}  // namespace

Run add_sweep(CLI::App& app) {
  struct Args {
    std::string file;
    int parallel = 0, threads = 0;
    bool dry_run = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("sweep", "Run a grid of configs over seeds, several at once; skip finished "
                                              "runs, resume interrupted ones; write mean/std/95% tables");
  cmd->add_option("sweep", a->file, "SWEEP.json (base, set, grid, points, seeds, out, parallel, threads_per_run)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--parallel", a->parallel, "Runs at once (default: the file's, else 2)")->check(kPositiveInt);
  cmd->add_option("--threads-per-run", a->threads, "OpenMP threads of each run (default: the file's, else 1)")
      ->check(kPositiveInt);
  cmd->add_flag("--dry-run", a->dry_run, "List the runs and their state; run nothing");
  return [a] {
    train::SweepSpec spec = train::read_sweep(a->file);
    if (a->parallel > 0) spec.parallel = a->parallel;
    if (a->threads > 0) spec.threads_per_run = a->threads;
    std::vector<train::SweepRun> runs = train::expand_sweep(spec);
    train::resolve_configs(spec, runs, a->file);  // a typo fails now, not in run 37
    std::vector<const train::SweepRun*> pending;
    int done = 0, resumable = 0;
    for (const train::SweepRun& r : runs) {
      const train::RunState st = train::run_state(r);
      if (a->dry_run)
        std::cout << (st == train::RunState::done ? "done        " : st == train::RunState::interrupted ? "interrupted " : "to run      ")
                  << r.out_dir << "   " << r.group << ", seed " << r.seed << "\n";
      if (st == train::RunState::done) ++done;
      else pending.push_back(&r);
      resumable += st == train::RunState::interrupted;
    }
    std::cout << "sweep: " << runs.size() << " runs (" << done << " done, " << resumable << " to resume, "
              << pending.size() - resumable << " to start), " << spec.parallel << " at once x " << spec.threads_per_run
              << " thread(s) -> " << spec.out << "\n" << std::flush;
    if (a->dry_run) return 0;
    const std::string exe = self_exe();
    std::signal(SIGCHLD, SIG_DFL);  // an inherited "ignore" would reap the runs before waitpid sees them
    const volatile std::sig_atomic_t* stop = catch_stop_signals();
    struct Running {
      pid_t pid;
      const train::SweepRun* run;
      clock_type::time_point started;
    };
    std::vector<Running> running;
    const auto t0 = clock_type::now();
    double run_seconds = 0;
    int finished = 0, failed = 0, stopped = 0;
    size_t next = 0;
    // on any error, the runs are stopped (they save a checkpoint) and waited for, never left behind
    auto stop_all = [&] {
      for (const Running& r : running) kill(r.pid, SIGTERM);
      for (const Running& r : running) waitpid(r.pid, nullptr, 0);
    };
    try {
    while (next < pending.size() || !running.empty()) {
      while (!*stop && running.size() < static_cast<size_t>(spec.parallel) && next < pending.size()) {
        const train::SweepRun& r = *pending[next++];
        fs::create_directories(r.out_dir);
        const bool resume = train::run_state(r) == train::RunState::interrupted;
        running.push_back({start_run(exe, spec, r, resume), &r, clock_type::now()});
      }
      if (*stop) {  // pass it on: each run saves a checkpoint and stops; the next sweep resumes them
        stop_all();
        std::cout << "sweep: stopped by signal " << *stop << "; " << running.size()
                  << " run(s) saved a checkpoint; run the same command to continue\n";
        return 128 + static_cast<int>(*stop);
      }
      for (size_t i = 0; i < running.size();) {
        int status = 0;
        const pid_t got = waitpid(running[i].pid, &status, WNOHANG);
        MOELAB_CHECK(got >= 0, "sweep: waiting for run ", running[i].run->out_dir, ": ", std::strerror(errno));
        if (got != running[i].pid) {
          ++i;
          continue;
        }
        const train::SweepRun& r = *running[i].run;
        const double secs = std::chrono::duration<double>(clock_type::now() - running[i].started).count();
        running.erase(running.begin() + static_cast<long>(i));
        const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        // a run stopped by a signal of its own saves a checkpoint and exits 0 before max_iters: not done
        const int64_t step = exited_ok ? train::checkpoint_step(r) : -1;
        std::string outcome;
        if (exited_ok && step >= r.max_iters) {
          train::mark_done(r);
          ++finished;
          run_seconds += secs;
          outcome = "finished in " + clock_text(secs);
        } else if (exited_ok) {
          ++stopped;
          outcome = "stopped at step " + std::to_string(step) + " of " + std::to_string(r.max_iters) +
                    " (the next call resumes it)";
        } else {
          ++failed;
          outcome = "FAILED (see " + r.out_dir + "/train.log)";
        }
        const size_t left = pending.size() - next + running.size();
        const double eta = finished ? run_seconds / finished * static_cast<double>(left) / spec.parallel : NAN;
        std::cout << "[" << done + finished << "/" << runs.size() << " done" << (failed ? ", " + std::to_string(failed) + " failed" : "")
                  << ", " << running.size() << " running, " << clock_text(std::chrono::duration<double>(clock_type::now() - t0).count())
                  << " elapsed" << (std::isfinite(eta) ? ", ETA " + clock_text(eta) : "") << "] " << r.group << ", seed "
                  << r.seed << ": " << outcome << "\n" << std::flush;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    } catch (...) {
      stop_all();
      throw;
    }
    write_aggregate(spec, runs);
    return failed || stopped ? 1 : 0;
  };
}

}  // namespace moelab::cli
