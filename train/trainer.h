// train/trainer.h: the training loop (train/trainer.cpp reads top to bottom: set up, then per step
// evaluate, train, log, checkpoint). Process-wide settings (threads, malloc tuning, signal handlers)
// are the calling program's: train/cli/process.h.
#pragma once
#include <csignal>
#include <memory>
#include <ostream>

#include "core/comm/communicator.h"
#include "layers/gpt.h"
#include "optim/optimizer.h"
#include "train/config/run_config.h"

namespace moelab::train {

struct TrainOptions {
  bool resume = false;  // continue from the checkpoint in cfg.train.out_dir
  // When it becomes non-zero (a signal number, set by a handler the program installs), the loop
  // finishes the current step, saves a checkpoint and returns.
  const volatile std::sig_atomic_t* stop_signal = nullptr;
  // The processes of a distributed run (train/distributed.h); null or one process: a local run.
  comm::Communicator* world = nullptr;
};

// Trains per the config; writes metrics.jsonl and checkpoints into cfg.train.out_dir. Returns the
// last val loss.
double run_training(const RunConfig& cfg, const TrainOptions& opts, std::ostream& log);

// The configured optimizer over the model's parameters as optim/ sees them: dotted names, weight
// decay by role, frozen tensors and frozen rows.
std::unique_ptr<optim::Optimizer> make_optimizer(nn::GPT& model, const OptimConfig& cfg);

}  // namespace moelab::train
