// layers/config.h: the typed model configuration (parsed and validated in train/config.cpp;
// defaults live here only).
#pragma once
#include <cstdint>
#include <string>

namespace moelab::nn {

struct FfnConfig {
  std::string activation = "gelu";  // gelu | gelu_tanh | relu | silu | swiglu
  int mult = 4;                     // hidden width = mult * n_embd
};

struct ModelConfig {
  int vocab_size = 0;  // from the tokenizer
  int n_layer = 4;
  int n_head = 4;
  int n_embd = 128;
  int block_size = 64;
  float dropout = 0.f;
  bool bias = true;
  std::string norm = "layernorm";  // layernorm | rmsnorm
  FfnConfig ffn;
};

}  // namespace moelab::nn
