#include "train/gradient_buckets.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/kernels/elementwise.h"
#include "train/distributed.h"

namespace moelab::train {

namespace {

// transformer.h.L.* -> L; -1 for parameters outside the blocks
int block_of(const std::string& name) {
  const std::string prefix = "transformer.h.";
  if (name.rfind(prefix, 0) != 0) return -1;
  char* end = nullptr;
  const long l = std::strtol(name.c_str() + prefix.size(), &end, 10);
  return end && *end == '.' ? static_cast<int>(l) : -1;
}

}  // namespace

GradientBuckets::GradientBuckets(comm::Communicator& replicated, comm::Communicator& experts, int processes,
                                 bool overlap)
    : processes_(processes), overlap_(overlap) {
  comms_[0] = replicated.split(0, replicated.rank());
  comms_[1] = experts.split(0, experts.rank());
}

bool GradientBuckets::laid_out_for(const std::vector<optim::ParamRef>& params) const {
  if (params.size() != laid_out_.size()) return false;
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].name != laid_out_[i].name || params[i].var.numel() != laid_out_[i].numel ||
        params[i].frozen != laid_out_[i].frozen)
      return false;
  return true;
}

void GradientBuckets::layout(const std::vector<optim::ParamRef>& params) {
  checked_ = false;  // a new set of parameters is checked again on its first step
  laid_out_.clear();
  for (const optim::ParamRef& p : params) laid_out_.push_back({p.name, p.var.numel(), p.frozen});
  std::vector<int> block(params.size());
  int last = -1;
  for (size_t i = 0; i < params.size(); ++i) last = std::max(last, block[i] = block_of(params[i].name));
  buckets_.clear();
  param_offset_.assign(params.size(), -1);
  param_bucket_.assign(params.size(), SIZE_MAX);
  int64_t at[2] = {0, 0};
  for (int b = last; b >= -1; --b)  // the order backward finishes them in; then the rest
    for (int kind = 0; kind < 2; ++kind) {
      Bucket k{kind, b, at[kind], at[kind], {}};
      for (size_t i = 0; i < params.size(); ++i) {
        if (params[i].frozen || block[i] != b || is_expert_tensor(params[i].name) != (kind == 1)) continue;
        param_offset_[i] = at[kind];
        param_bucket_[i] = buckets_.size();
        at[kind] += params[i].var.numel();
        k.params.push_back(i);
      }
      k.end = at[kind];
      if (!k.params.empty()) buckets_.push_back(std::move(k));  // (zero-size parameters too: they hold an index)
    }
  for (int kind = 0; kind < 2; ++kind)
    if (!flat_[kind].defined() || flat_[kind].numel() != at[kind]) flat_[kind] = Tensor::empty({at[kind]});
}

Tensor GradientBuckets::view(const std::vector<optim::ParamRef>& params, size_t i) const {
  const Bucket& b = buckets_[param_bucket_[i]];
  return flat_[b.kind].slice_rows(param_offset_[i], param_offset_[i] + params[i].var.numel()).reshape(params[i].var.shape());
}

void GradientBuckets::prepare(const std::vector<optim::ParamRef>& params) {
  MOELAB_CHECK(pending_.empty(), "gradient buckets: prepare() while an all-reduce is still running");
  if (!laid_out_for(params)) layout(params);  // once, unless the parameters change
  for (Tensor& f : flat_) f.fill(0.f);
  for (size_t i = 0; i < params.size(); ++i)
    if (param_bucket_[i] != SIZE_MAX) params[i].var.set_grad(view(params, i));  // backward adds into it
  next_ = started_ = 0;
  copies_.assign(buckets_.size(), Tensor());
}

std::function<void(size_t)> GradientBuckets::hook(const std::vector<size_t>& block_starts) {
  if (!overlap_) return {};
  return [this, block_starts](size_t node) {
    while (next_ < buckets_.size() && buckets_[next_].block >= 0 &&
           static_cast<size_t>(buckets_[next_].block) < block_starts.size() &&
           node <= block_starts[static_cast<size_t>(buckets_[next_].block)]) {
      const Bucket& b = buckets_[next_];
      if (checked_)
        start(next_, true);
      else  // the checking step: remember what the bucket held when it would have started
        copies_[next_] = flat_[b.kind].slice_rows(b.begin, b.end).clone();
      ++next_;
    }
    for (auto& p : pending_)  // let MPI move the started ones on, oldest first
      if (!p->test()) break;
  };
}

void GradientBuckets::start(size_t bucket, bool during_backward) {
  const Bucket& b = buckets_[bucket];
  comm::Communicator& comm = *comms_[b.kind];
  if (comm.size() > 1) {
    pending_.push_back(comm.start_allreduce_sum(flat_[b.kind].data() + b.begin, b.end - b.begin));
    if (during_backward) overlapped_bytes_ += (b.end - b.begin) * static_cast<int64_t>(sizeof(float));
  }
  started_ = bucket + 1;
}

void GradientBuckets::check_unchanged(const std::vector<optim::ParamRef>& params) const {
  for (size_t k = 0; k < next_; ++k) {
    const Bucket& b = buckets_[k];
    if (b.end == b.begin) continue;  // zero-size parameters only
    const float* then = copies_[k].data();
    const float* now = flat_[b.kind].data() + b.begin;
    if (std::memcmp(then, now, static_cast<size_t>(b.end - b.begin) * sizeof(float)) == 0) continue;
    std::string name = "?";
    for (size_t i : b.params)
      if (std::memcmp(then + (param_offset_[i] - b.begin), now + (param_offset_[i] - b.begin),
                      static_cast<size_t>(params[i].var.numel()) * sizeof(float)) != 0)
        name = params[i].name;
    throw Error("dist.overlap: the gradient of " + name + " changed after backward had finished block " +
                std::to_string(b.block) +
                " (the parameter is used outside its block's forward pass), so its all-reduce cannot start early; "
                "set dist.overlap=false for this model");
  }
}

void GradientBuckets::finish(const std::vector<optim::ParamRef>& params) {
  MOELAB_CHECK(param_offset_.size() == params.size(), "gradient buckets: finish() without prepare() before backward");
  for (size_t i = 0; i < params.size(); ++i) {  // gradients missing or replaced since prepare()
    if (param_bucket_[i] == SIZE_MAX) continue;
    const Tensor v = view(params, i);
    if (params[i].var.has_grad() && params[i].var.grad().data() == v.data()) continue;
    MOELAB_CHECK(param_bucket_[i] >= started_, "gradient buckets: the gradient of ", params[i].name,
                 " was replaced after its all-reduce started");
    if (params[i].var.has_grad())
      v.copy_from(params[i].var.grad());
    else
      v.fill(0.f);
    params[i].var.set_grad(v);
  }
  if (overlap_ && !checked_) {
    check_unchanged(params);
    checked_ = true;
    copies_.clear();
  }
  for (size_t b = started_; b < buckets_.size(); ++b) start(b, false);
  for (auto& p : pending_) p->wait();
  pending_.clear();
  for (Tensor& f : flat_) kernels::scale_forward(f.data(), f.data(), 1.f / static_cast<float>(processes_), f.numel());
}

comm::CommStats GradientBuckets::take_stats(int64_t* overlapped_bytes) {
  *overlapped_bytes = overlapped_bytes_;
  overlapped_bytes_ = 0;
  comm::CommStats s;
  for (auto& c : comms_) {
    s += c->stats();
    c->stats() = comm::CommStats{};
  }
  return s;
}

}  // namespace moelab::train
