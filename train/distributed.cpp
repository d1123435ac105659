#include "train/distributed.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "train/gradient_buckets.h"

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
  ep_ = cfg.dist.expert_parallel;
  const nn::MoeConfig& m = cfg.model.moe;
  MOELAB_CHECK(size_ % ep_ == 0, "dist.expert_parallel ", ep_, " does not divide the ", size_, " processes of this run");
  if (ep_ > 1) {
    MOELAB_CHECK(m.enabled(), "dist.expert_parallel ", ep_, ": this model has no MoE layer to split");
    MOELAB_CHECK(m.router.type != "soft" && m.router.type != "expert_choice", "dist.expert_parallel ", ep_,
                 ": model.moe.router.type \"", m.router.type,
                 "\" needs every token at every expert (or ranks the whole batch per expert); under expert "
                 "parallelism only token-choice routers (topk, noisy_topk, hash) are available");
    for (int l = 0; l < cfg.model.n_layer; ++l)
      if (m.is_moe_layer(l, cfg.model.n_layer))
        MOELAB_CHECK(m.experts_at(l) % ep_ == 0, "dist.expert_parallel ", ep_, " does not divide layer ", l, "'s ",
                     m.experts_at(l), " experts (model.moe.num_experts / experts_by_layer)");
  }
  // Capacity and expert choice are computed per group of rows; each data-parallel replica (an
  // expert-parallel group of ep processes) holds whole groups.
  const int dp = size_ / ep_;
  if (groups_matter(m))
    MOELAB_CHECK(m.capacity.groups % dp == 0, "model.moe.capacity.groups ", m.capacity.groups,
                 " must be a multiple of the ", dp, " data-parallel replicas: this model's ",
                 m.router.type == "expert_choice" ? "expert-choice selection" : "capacity",
                 " is computed per group of rows and each replica holds whole groups (set it to ", dp,
                 "; a one-process run with the same value trains the same model)");
  expert_group_ = world_->split(rank_ / ep_, rank_);
  replica_group_ = world_->split(rank_ % ep_, rank_);
  expert_parallel_ = {expert_group_.get(), rank_ % ep_, ep_};
  grads_ = std::make_unique<GradientBuckets>(*world_, *replica_group_, size_, cfg.dist.overlap);
}

Distributed::~Distributed() = default;

bool is_expert_tensor(const std::string& name) {
  return name.rfind("transformer.h.", 0) == 0 && name.find(".moe.experts.") != std::string::npos;
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

void Distributed::prepare_gradients(const std::vector<optim::ParamRef>& params) const {
  if (grads_) grads_->prepare(params);
}

std::function<void(size_t)> Distributed::gradient_hook(const std::vector<size_t>& block_starts) const {
  return grads_ ? grads_->hook(block_starts) : std::function<void(size_t)>();
}

void Distributed::average_gradients(const std::vector<optim::ParamRef>& params) const {
  if (grads_) grads_->finish(params);
}

double Distributed::grad_norm(const std::vector<optim::ParamRef>& params) const {
  if (ep_ == 1) return optim::grad_norm(params);  // every process holds every gradient
  std::vector<optim::ParamRef> replicated, experts;
  for (const optim::ParamRef& p : params) (is_expert_tensor(p.name) ? experts : replicated).push_back(p);
  const double r = optim::grad_norm(replicated);
  double e = optim::grad_norm(experts);
  e *= e;
  expert_group_->allreduce_sum(&e, 1);  // each expert once: its owner in this group
  return std::sqrt(r * r + e);
}

nlohmann::json Distributed::take_comm_stats() const {
  comm::CommStats sum;
  for (comm::Communicator* c : {world_, expert_group_.get(), replica_group_.get()}) {
    if (!c) continue;
    sum += c->stats();
    c->stats() = comm::CommStats{};
  }
  int64_t overlapped = 0;
  if (grads_) sum += grads_->take_stats(&overlapped);
  return {{"alltoall_s", sum.alltoall_seconds},   {"alltoall_mb", sum.alltoall_bytes / 1048576.0},
          {"allreduce_s", sum.allreduce_seconds}, {"allreduce_mb", sum.allreduce_bytes / 1048576.0},
          {"overlap_mb", overlapped / 1048576.0}, {"other_s", sum.other_seconds}};
}

namespace {
// name, shape and float32 data of each tensor, back to back (a gather's payload)
std::string pack(const std::map<std::string, Tensor>& tensors) {
  std::string out;
  auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  for (const auto& [name, t] : tensors) {
    const uint64_t len = name.size(), dims = t.shape().size();
    put(&len, 8);
    put(name.data(), name.size());
    put(&dims, 8);
    for (int64_t d : t.shape()) put(&d, 8);
    put(t.data(), static_cast<size_t>(t.numel()) * 4);
  }
  return out;
}

void unpack(const std::string& bytes, std::map<std::string, Tensor>& into) {
  size_t at = 0;
  auto get = [&](void* p, size_t n) {
    MOELAB_CHECK(at + n <= bytes.size(), "dist: a gathered tensor list is truncated");
    std::memcpy(p, bytes.data() + at, n);
    at += n;
  };
  while (at < bytes.size()) {
    uint64_t len = 0, dims = 0;
    get(&len, 8);
    std::string name(len, '\0');
    get(name.data(), len);
    get(&dims, 8);
    Shape shape(dims);
    for (int64_t& d : shape) get(&d, 8);
    Tensor t = Tensor::empty(shape);
    get(t.data(), static_cast<size_t>(t.numel()) * 4);
    into[name] = t;
  }
}
}  // namespace

std::map<std::string, Tensor> Distributed::gather_experts(const std::map<std::string, Tensor>& local) const {
  std::map<std::string, Tensor> mine;
  if (ep_ > 1 && rank_ < ep_ && rank_ != 0)  // expert group 0 holds one copy of every expert; rank 0 has its own
    for (const auto& [name, t] : local)
      if (name.find(".moe.experts.") != std::string::npos) mine[name] = t;
  std::map<std::string, Tensor> all;
  if (ep_ == 1) return all;
  for (const std::string& part : world_->gather(pack(mine), 0)) unpack(part, all);
  return all;
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
  // replicated parameters across every process; experts across their replicas
  for (const bool experts : {false, true}) {
    comm::Communicator* comm = experts ? replica_group_.get() : world_;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const auto& np : model.named_parameters())
      if (is_expert_tensor(np.name) == experts)
        h = fnv1a(np.param->var.data(), static_cast<size_t>(np.param->var.numel()) * 4, h);
    const std::vector<std::string> all = comm->allgather(std::to_string(h));
    for (int r = 1; r < comm->size(); ++r)
      MOELAB_CHECK(all[r] == all[0], "dist: the ", experts ? "expert" : "replicated", " parameters of rank ", rank_,
                   "'s ", experts ? "expert replicas" : "processes", " differ (member ", r, " vs 0): the replicas diverged");
  }
}

}  // namespace moelab::train
