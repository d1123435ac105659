// moelab config show CONFIG [--set key.path=value]...   the full config after "base" and --set
// moelab config reference                                every key: type, default, allowed values
#include <iostream>

#include "train/cli/commands.h"
#include "train/config/run_config.h"
#include "train/config/schema.h"

namespace moelab::cli {

Run add_config(CLI::App& app) {
  struct Args {
    std::string config;
    std::vector<std::string> sets;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("config", "Show a config as moelab reads it, or the reference of every key");
  cmd->require_subcommand(1);
  CLI::App* show = cmd->add_subcommand("show", "Print the full config (every key, defaults filled in) after its "
                                               "\"base\" chain and --set overrides, or the error");
  show->add_option("config", a->config, "JSON config")->required()->check(CLI::ExistingFile);
  show->add_option("--set", a->sets, "Override a config key: key.path=value");
  cmd->add_subcommand("reference", "Print the config reference (Markdown; docs/config.md holds the same)");
  return [a, show] {
    if (*show) std::cout << train::to_json(train::load_config(a->config, a->sets)).dump(2) << "\n";
    else std::cout << train::schema::reference_markdown();
    return 0;
  };
}

}  // namespace moelab::cli
