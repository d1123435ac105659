// moelab: the command-line program. Each command is one file in this folder (commands.h);
// process-wide settings are made by the commands through process.h, nowhere else.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <new>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "core/comm/communicator.h"
#include "core/error.h"
#include "train/cli/commands.h"
#include "train/cli/options.h"
#include "train/cli/process.h"

int main(int argc, char** argv) {
  using namespace moelab::cli;
  moelab::comm::init(&argc, &argv);  // under mpirun: join the run's processes (docs/distributed.md)
  CLI::App app{"moelab: train and study Mixture-of-Experts language models on CPU"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "Print version, BLAS library, kernels and threads");
  int threads = 0;
  app.add_option("--threads", threads,
                 "Threads for OpenMP loops and BLAS (default: train.threads, else OMP_NUM_THREADS or all cores)")
      ->check(kPositiveInt);
  app.footer(
      "Examples:\n  moelab train configs/default.json\n"
      "  moelab prepare /usr/share/games/fortunes --tokenizer char --out data/fortunes\n"
      "  moelab train configs/shakespeare_char.json --set data.train=data/tinyshakespeare.txt\n"
      "  moelab eval runs/default\n  moelab generate runs/default --prompt \"Q: \" --tokens 200\n"
      "  moelab report runs/switch runs/aux_free --out report.html\n"
      "  moelab bench model configs/shakespeare_char.json --threads 2");
  const std::vector<std::pair<std::string, Run>> commands = {
      {"prepare", add_prepare(app)}, {"train", add_train(app)},   {"eval", add_eval(app)},     {"generate", add_generate(app)},
      {"report", add_report(app)}, {"expand", add_expand(app)}, {"bench", add_bench(app)},
      {"config", add_config(app)}, {"info", add_info(app)}, {"tokenizer", add_tokenizer(app)}, {"sweep", add_sweep(app)}};

  CLI11_PARSE(app, argc, argv);
  // A closed pipe (moelab generate | head) is a write error below, not death by SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  // Whatever a command throws ends as one line on stderr and exit code 1, never an abort. In a
  // distributed run the failing process names itself and ends every process (MPI_Abort), so none
  // is left waiting in a collective.
  auto fail = [](const std::string& message) {
    moelab::comm::Communicator& world = moelab::comm::world();
    if (world.size() > 1) {
      std::fprintf(stderr, "moelab: error (rank %d of %d): %s\n", world.rank(), world.size(), message.c_str());
      std::fflush(stderr);
      world.abort(1);
    }
    std::fprintf(stderr, "moelab: error: %s\n", message.c_str());
    return 1;
  };
  int rc = 0;
  try {
    set_threads(threads);
    if (version || app.get_subcommands().empty()) {
      print_info();
      if (!version) std::printf("\n%s", app.help().c_str());
    } else {
      for (const auto& [name, run] : commands)
        if (app.got_subcommand(name)) rc = run();
    }
  } catch (const moelab::Error& e) {
    return fail(e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    std::string paths = e.path1().string();
    if (!e.path2().empty()) paths += ", " + e.path2().string();
    return fail(paths + ": " + e.code().message());
  } catch (const std::bad_alloc&) {
    return fail("out of memory: an input asked for more memory than this process could get");
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("unexpected JSON content: ") + e.what());
  } catch (const std::exception& e) {
    return fail(std::string("unexpected failure: ") + e.what());
  } catch (...) {
    return fail("unexpected failure (unknown exception)");
  }
  std::fflush(stdout);
  std::cout.flush();
  if (std::ferror(stdout) || std::cout.fail()) return fail("cannot write to standard output");
  moelab::comm::finalize();
  return rc;
}
