// train/cli/options.h: number checks for command-line options. CLI11's stock validators print
// their range as 0 to 1.8e308 for a typo; these say what was expected and what was given.
#pragma once
#include <CLI/CLI.hpp>

namespace moelab::cli {

CLI::Validator number_at_least(double least, bool whole);
extern const CLI::Validator kPositiveInt;
extern const CLI::Validator kNonNegativeInt;
extern const CLI::Validator kNonNegativeNumber;

}  // namespace moelab::cli
