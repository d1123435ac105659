// train/gradient_buckets.h: a distributed run's gradients, summed over processes in place.
// Before the backward pass every trainable parameter's gradient becomes a view into one of two flat
// buffers (replicated parameters, all-reduced over every process; routed experts, over their
// replicas), laid out block by block, last block first: each (block, kind) range is a bucket.
// With overlap, a block's buckets start a non-blocking all-reduce as soon as backward has run the
// block's first node (its parameters are used by its own nodes only, so their gradients are
// complete), while backward goes on with the blocks below; the rest start at the end. The first
// step checks that assumption instead of trusting it: it only copies each bucket where it would
// start, and compares at the end. (A use outside the block that adds exactly 0 on that step
// escapes the check; moelab's layers have none, a custom layer that shares a parameter across
// blocks should say dist.overlap=false.)
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "optim/optimizer.h"

namespace moelab::train {

class GradientBuckets {
 public:
  // replicated: every process; experts: the processes holding the same experts. `processes`: N,
  // the divisor that makes the sum the one-process gradient.
  GradientBuckets(comm::Communicator& replicated, comm::Communicator& experts, int processes, bool overlap);

  // Before backward: gradients become zeroed views into the buffers.
  void prepare(const std::vector<optim::ParamRef>& params);
  // For autograd::backward: starts the buckets of each block backward has finished (block_starts:
  // nn::GPT::block_tape_starts) and lets the started ones progress. Empty without overlap.
  std::function<void(size_t)> hook(const std::vector<size_t>& block_starts);
  // After backward: starts what is left, waits for everything, divides by N. Gradients missing or
  // replaced since prepare() are taken in (as 0, or copied) if their bucket had not started yet.
  void finish(const std::vector<optim::ParamRef>& params);
  // Time and bytes of these all-reduces since the last call; `overlapped_bytes`: the part started
  // while backward was still running.
  comm::CommStats take_stats(int64_t* overlapped_bytes);

 private:
  struct Bucket {
    int kind;   // 0 replicated, 1 experts
    int block;  // -1: parameters outside the blocks (embeddings, final norm)
    int64_t begin, end;
    std::vector<size_t> params;  // indices into the params of prepare()
  };
  bool laid_out_for(const std::vector<optim::ParamRef>& params) const;
  void layout(const std::vector<optim::ParamRef>& params);
  Tensor view(const std::vector<optim::ParamRef>& params, size_t i) const;  // params[i]'s gradient in a buffer
  void start(size_t bucket, bool during_backward);
  void check_unchanged(const std::vector<optim::ParamRef>& params) const;

  std::unique_ptr<comm::Communicator> comms_[2];  // own duplicates: gradient sums never interleave with other collectives
  int processes_;
  bool overlap_;
  bool checked_ = false;  // the first step with overlap checks instead of starting early
  struct ParamKey {
    std::string name;
    int64_t numel;
    bool frozen;
  };
  std::vector<ParamKey> laid_out_;  // the parameters the layout is for
  Tensor flat_[2];        // kept between steps: a fresh buffer would be page-faulted in every step
  std::vector<Bucket> buckets_;  // in start order
  std::vector<int64_t> param_offset_;  // per parameter of prepare(): where its gradient sits in its buffer
  std::vector<size_t> param_bucket_;   // and in which bucket (SIZE_MAX: frozen, none)
  size_t next_ = 0;     // buckets_[0, next_) are complete (started, or on the checking step copied)
  size_t started_ = 0;  // buckets_[0, started_) have started their all-reduce
  int64_t overlapped_bytes_ = 0;
  std::vector<std::unique_ptr<comm::Pending>> pending_;
  std::vector<Tensor> copies_;  // the checking step's copies, per bucket
};

}  // namespace moelab::train
