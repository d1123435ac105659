// train/distributed.h: a training run on several processes (mpirun -np N moelab train ...; docs/
// distributed.md). One config means one model whatever N is: train.batch_size is the global batch,
// every process samples the same batches and takes its own rows, gradients are summed over the
// processes that hold a parameter and divided by N (each process's loss is the mean over its
// rows), and logged values are reduced so that rank 0's log equals a one-process run's.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "layers/gpt.h"
#include "optim/optimizer.h"
#include "train/config/run_config.h"
#include "train/data/batch.h"

namespace moelab::train {

class GradientBuckets;

class Distributed {
 public:
  // world = null: one process. Checks what the run needs of N (batch rows, capacity groups,
  // expert_parallel); errors name the key.
  Distributed(comm::Communicator* world, const RunConfig& cfg);
  ~Distributed();

  bool single() const { return size_ == 1; }
  int expert_parallel_size() const { return ep_; }
  int data_parallel_size() const { return size_ / ep_; }
  // How this process's model splits the experts (null when it holds all of them).
  const nn::ExpertParallel* expert_parallel() const { return ep_ > 1 ? &expert_parallel_ : nullptr; }
  bool root() const { return rank_ == 0; }  // writes the run folder and the log
  int rank() const { return rank_; }
  int size() const { return size_; }
  comm::Communicator* world() const { return single() ? nullptr : world_; }

  // This process's rows of a batch of `rows` rows, and how the model sees them.
  int64_t row_offset(int64_t rows) const { return rows / size_ * rank_; }
  Batch local_rows(const Batch& global) const;
  nn::BatchPartition partition(int64_t rows) const;

  // The mean over processes of a per-process value (each the mean over equal numbers of rows).
  double mean(double local) const;
  // True on every process if it is true on any (e.g. a stop signal that reached one first).
  bool any(bool local) const;
  // Gradients summed over the processes that hold the parameter (all of them, or an expert's
  // replicas) and divided by N, in place in flat buffers (train/gradient_buckets.h):
  // prepare_gradients before the backward pass, gradient_hook for autograd::backward (with
  // dist.overlap, each block's all-reduce starts as soon as backward has finished it; block_starts:
  // nn::GPT::block_tape_starts), average_gradients after it. Missing gradients count as 0.
  void prepare_gradients(const std::vector<optim::ParamRef>& params) const;
  std::function<void(size_t)> gradient_hook(const std::vector<size_t>& block_starts) const;
  void average_gradients(const std::vector<optim::ParamRef>& params) const;
  // The global L2 norm of the gradients (an expert's counted once, by its owners).
  double grad_norm(const std::vector<optim::ParamRef>& params) const;
  // This process's communication since the last call, for a metrics row: all-to-all (expert
  // parallel dispatch and return) and allreduce (gradients, losses, statistics) seconds and MB.
  nlohmann::json take_comm_stats() const;
  // Expert parallelism: the experts the other processes hold (parameters and optimizer state),
  // gathered on rank 0 for a checkpoint; empty elsewhere. A collective.
  std::map<std::string, Tensor> gather_experts(const std::map<std::string, Tensor>& local) const;
  // Every process must run the same config on the same data: compared by hash, the first process
  // that differs from rank 0 named.
  void check_same_run(const RunConfig& cfg, const std::string& tokenizer_json) const;
  // Replicated parameters must hold the same bits on every process.
  void check_replicas_equal(nn::GPT& model) const;

 private:
  comm::Communicator* world_;
  int rank_ = 0, size_ = 1, ep_ = 1;
  std::unique_ptr<comm::Communicator> expert_group_;   // ranks that share one copy of the experts
  std::unique_ptr<comm::Communicator> replica_group_;  // ranks that hold the same experts
  nn::ExpertParallel expert_parallel_;
  std::unique_ptr<GradientBuckets> grads_;  // null in one process
};

// True for a routed expert's tensors (transformer.h.L.moe.experts.E.*), which expert parallelism splits.
bool is_expert_tensor(const std::string& name);

}  // namespace moelab::train
