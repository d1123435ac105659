// moelab expand CKPT (--add-experts N | --to-moe E) [--layers L...] --out DIR [...]
#include <iostream>

#include "train/cli/commands.h"
#include "train/cli/options.h"
#include "train/expand.h"

namespace moelab::cli {

Run add_expand(CLI::App& app) {
  auto o = std::make_shared<train::ExpandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "expand", "Grow an MoE checkpoint's experts (Lifelong-MoE) or turn dense FFN layers into MoE (sparse upcycling)");
  cmd->add_option("checkpoint", o->checkpoint, "Run folder or its model.safetensors")->required();
  cmd->add_option("--out", o->out, "New run folder (checkpoint at step 0)")->required();
  cmd->add_option("--add-experts", o->add_experts, "Experts (and router rows) to add to each chosen MoE layer")
      ->check(kPositiveInt);
  cmd->add_option("--to-moe", o->to_moe, "Upcycle: E experts, each a copy of the layer's dense MLP")->check(kPositiveInt);
  cmd->add_option("--layers", o->layers, "Layers to change (default: every MoE layer / every dense layer)")
      ->check(kNonNegativeInt);
  cmd->add_option("--expert-init", o->expert_init, "New experts: copy (expert e mod E_old, + noise) or fresh")
      ->capture_default_str();
  cmd->add_option("--noise", o->noise, "Relative noise on copied tensors (default 0.01 growing, 0 upcycling)")
      ->check(kNonNegativeNumber);
  cmd->add_option("--router-init", o->router_init,
                  "New router rows: unrouted (never chosen at step 0; admitted by bias balancing), copy, fresh")
      ->capture_default_str();
  cmd->add_option("--admit-rate", o->admit_rate, "unrouted: bias balancing rate that admits new experts")
      ->capture_default_str()
      ->check(kNonNegativeNumber);
  cmd->add_option("--topk", o->top_k, "Upcycle: experts per token (gates renormalised)")
      ->capture_default_str()
      ->check(kPositiveInt);
  cmd->add_option("--router-std", o->router_std, "Upcycle: router init std")->capture_default_str()->check(kNonNegativeNumber);
  cmd->add_option("--seed", o->seed, "Noise and init seed")->capture_default_str()->check(kNonNegativeInt);
  return [o] {
    train::run_expand(*o, std::cout);
    return 0;
  };
}

}  // namespace moelab::cli
