// optim/config.h: the typed optimizer settings (the `optim` section of a run config; parsed and
// validated by train/config, defaults live here only).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "optim/optimizer.h"

namespace moelab::optim {

struct OptimConfig {
  std::string type = "adamw";       // adamw | sgd | a registered optimizer (optim/registry.h)
  ScheduleConfig schedule;          // lr, min_lr, warmup_iters, lr_decay_iters, decay_lr
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
  float weight_decay = 0.1f;
  float momentum = 0.9f;            // sgd
  float grad_clip = 1.0f;           // 0: off
  nlohmann::json params = nlohmann::json::object();  // free-form settings for a registered optimizer
};

}  // namespace moelab::optim
