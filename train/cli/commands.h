// train/cli/commands.h: the `moelab` program's commands, one file each in this folder. Each adds
// its subcommand (options, help) to the app and returns what runs it once the arguments are parsed;
// main.cpp runs the chosen one and turns any error into a message and an exit code.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace moelab::cli {

using Run = std::function<int()>;  // the command's exit code

Run add_prepare(CLI::App& app);
Run add_train(CLI::App& app);
Run add_eval(CLI::App& app);
Run add_generate(CLI::App& app);
Run add_report(CLI::App& app);
Run add_expand(CLI::App& app);
Run add_bench(CLI::App& app);
Run add_config(CLI::App& app);
Run add_info(CLI::App& app);
Run add_tokenizer(CLI::App& app);
Run add_sweep(CLI::App& app);

// `moelab info` / `moelab --version`: version, BLAS library, kernels, self-check, threads.
void print_info();

}  // namespace moelab::cli
