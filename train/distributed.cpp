#include "train/distributed.h"

#include <cstring>

#include "core/error.h"

namespace moelab::train {

namespace {

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

// A router or capacity whose result depends on which tokens share a batch.
bool groups_matter(const nn::MoeConfig& m) {
  return m.enabled() && (m.capacity.factor > 0 || m.capacity.eval_factor > 0 || m.router.type == "expert_choice");
}

}  // namespace

Distributed::Distributed(comm::Communicator* world, const RunConfig& cfg) : world_(world) {
  if (!world_ || world_->size() == 1) return;
  rank_ = world_->rank();
  size_ = world_->size();
  const int64_t B = cfg.train.batch_size;
  MOELAB_CHECK(B % size_ == 0, "train.batch_size ", B, " is not divisible by the ", size_,
               " processes of this run: each process takes an equal share of the global batch's rows");
  const int ep = cfg.dist.expert_parallel;
  MOELAB_CHECK(size_ % ep == 0, "dist.expert_parallel ", ep, " does not divide the ", size_, " processes of this run");
  MOELAB_CHECK(ep == 1, "dist.expert_parallel ", ep,
               ": expert parallelism is not available yet (docs/distributed.md); this run can be data parallel "
               "(dist.expert_parallel 1)");
  const nn::MoeConfig& m = cfg.model.moe;
  if (groups_matter(m))
    MOELAB_CHECK(m.capacity.groups % size_ == 0, "model.moe.capacity.groups ", m.capacity.groups,
                 " must be a multiple of the ", size_, " data-parallel processes: this model's ",
                 m.router.type == "expert_choice" ? "expert-choice selection" : "capacity",
                 " is computed per group of rows and each process holds whole groups (set it to ", size_,
                 "; a one-process run with the same value trains the same model)");
}

Batch Distributed::local_rows(const Batch& global) const {
  if (single()) return global;
  const int64_t B = global.ids.size(0), T = global.ids.size(1), b = B / size_, first = row_offset(B);
  Batch local{IndexTensor::empty({b, T}), IndexTensor::empty({b, T}), {}};
  std::memcpy(local.ids.data(), global.ids.data() + first * T, static_cast<size_t>(b * T) * sizeof(int32_t));
  std::memcpy(local.targets.data(), global.targets.data() + first * T, static_cast<size_t>(b * T) * sizeof(int32_t));
  if (!global.domains.empty())
    local.domains.assign(global.domains.begin() + first * T, global.domains.begin() + (first + b) * T);
  return local;
}

nn::BatchPartition Distributed::partition(int64_t rows) const {
  if (single()) return {};
  return {world_, row_offset(rows), rows};
}

double Distributed::mean(double local) const {
  if (single()) return local;
  world_->allreduce_sum(&local, 1);
  return local / size_;
}

bool Distributed::any(bool local) const {
  if (single()) return local;
  int64_t v = local ? 1 : 0;
  world_->allreduce_max(&v, 1);
  return v != 0;
}

void Distributed::average_gradients(const std::vector<optim::ParamRef>& params) const {
  if (single()) return;
  int64_t total = 0;
  for (const optim::ParamRef& p : params)
    if (!p.frozen) total += p.var.numel();
  std::vector<float> flat(static_cast<size_t>(total), 0.f);
  int64_t at = 0;
  for (const optim::ParamRef& p : params) {
    if (p.frozen) continue;
    if (p.var.has_grad()) std::memcpy(flat.data() + at, p.var.grad().data(), static_cast<size_t>(p.var.numel()) * 4);
    at += p.var.numel();
  }
  world_->allreduce_sum(flat.data(), total);
  const float inv = 1.f / static_cast<float>(size_);
  at = 0;
  for (const optim::ParamRef& p : params) {
    if (p.frozen) continue;
    Tensor g = p.var.has_grad() ? p.var.grad() : Tensor::empty(p.var.shape());
    float* dst = g.data();
    for (int64_t i = 0; i < p.var.numel(); ++i) dst[i] = flat[static_cast<size_t>(at + i)] * inv;
    if (!p.var.has_grad()) p.var.set_grad(g);
    at += p.var.numel();
  }
}

void Distributed::check_same_run(const RunConfig& cfg, const std::string& tokenizer_json) const {
  if (single()) return;
  const std::string config = to_json(cfg).dump();
  uint64_t h = fnv1a(config.data(), config.size());
  h = fnv1a(tokenizer_json.data(), tokenizer_json.size(), h);
  const std::vector<std::string> all = world_->allgather(std::to_string(h));
  for (int r = 1; r < size_; ++r)
    MOELAB_CHECK(all[r] == all[0], "dist: rank ", r, "'s config or data differs from rank 0's (hash ", all[r], " vs ",
                 all[0], "): every process must run the same config file, --set overrides and data");
}

void Distributed::check_replicas_equal(nn::GPT& model) const {
  if (single()) return;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto& np : model.named_parameters())
    h = fnv1a(np.param->var.data(), static_cast<size_t>(np.param->var.numel()) * 4, h);
  const std::vector<std::string> all = world_->allgather(std::to_string(h));
  for (int r = 1; r < size_; ++r)
    MOELAB_CHECK(all[r] == all[0], "dist: the parameters on rank ", r, " differ from rank 0's: the replicas diverged");
}

}  // namespace moelab::train
