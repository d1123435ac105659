// train/expand.h: grow a trained model (Lifelong-MoE, Chen et al. 2023) or turn dense FFN layers
// into MoE layers (sparse upcycling, Komatsuzaki et al. 2022). docs/lifelong.md.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace moelab::train {

struct ExpandOptions {
  std::string checkpoint;           // run folder or its model.safetensors
  std::string out;                  // new run folder
  std::vector<int> layers;          // empty: every MoE layer (grow) / every layer (upcycle)
  // grow: add this many experts (and router rows) to each chosen MoE layer
  int add_experts = 0;
  std::string expert_init = "copy";  // copy: expert (e mod E_old) + noise | fresh: new random init
  float noise = -1;                  // copies get N(0, noise * std of the copied tensor); < 0: 0.01 (grow), 0 (upcycle)
  // new router rows: "unrouted" = zero rows and a selection bias of -1 (never chosen at step 0, so
  // the old model's outputs are unchanged; admitted gradually by bias balancing at admit_rate),
  // "copy" = the copied expert's row + noise, "fresh" = N(0, 0.02)
  std::string router_init = "unrouted";
  double admit_rate = 0.01;
  // upcycle: dense layers -> MoE with this many copies of the dense MLP
  int to_moe = 0;
  int top_k = 1;                    // upcycle: routing, gates renormalised over the k kept experts
  float router_std = 0.002f;        // upcycle: router init (small: near-uniform routing at first)
  uint64_t seed = 1;
};

void run_expand(const ExpandOptions& opts, std::ostream& log);

// "transformer.h.3.moe.experts.7.c_fc.weight" -> layer 3, expert 7, "c_fc.weight"; false otherwise.
bool parse_expert_name(const std::string& name, int* layer, int* expert, std::string* rest);

}  // namespace moelab::train
