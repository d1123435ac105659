// train_custom: moelab's training loop with two components moelab does not ship, registered by name
// before the config is read (config validation checks names against the registries).
//
//   train_custom CONFIG [--set key.path=value]...
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "layers/moe/router.h"
#include "train/trainer.h"

#include "bilinear_glu.h"
#include "cosine_router.h"

int main(int argc, char** argv) {
  moelab::nn::register_ffn("bilinear_glu", custom::make_bilinear_glu);  // model.ffn.type
  moelab::nn::register_router("cosine", custom::make_cosine_router);   // model.moe.router.type

  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::cerr << "usage: " << argv[0] << " CONFIG [--set key.path=value]...\n";
    return argc < 2 ? 2 : 0;
  }
  std::vector<std::string> overrides;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
      overrides.push_back(argv[++i]);
    } else {
      std::cerr << "train_custom: unexpected argument \"" << argv[i] << "\"\n";
      return 2;
    }
  }
  try {
    const moelab::train::RunConfig cfg = moelab::train::load_config(argv[1], overrides);
    moelab::train::run_training(cfg, {}, std::cout);
  } catch (const std::exception& e) {
    std::cerr << "train_custom: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
