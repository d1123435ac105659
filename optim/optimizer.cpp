#include "optim/optimizer.h"

#include <cmath>

#include "core/error.h"
#include "core/parallel.h"

namespace moelab::optim {

namespace {
// Elementwise optimizer work as fixed chunks of every trainable parameter, run in one parallel region
// (one fork/join per step, not one per tensor). Chunks are disjoint, so results do not depend on the
// thread count.
struct Chunk {
  size_t param;
  int64_t begin, end;
};

std::vector<Chunk> chunks_of(const std::vector<ParamRef>& params, bool with_grad_only) {
  constexpr int64_t kChunk = 16384;
  std::vector<Chunk> out;
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].frozen || (with_grad_only && !params[i].var.has_grad())) continue;
    const int64_t n = params[i].var.numel();
    const int64_t first = params[i].frozen_rows > 0 ? params[i].frozen_rows * (n / params[i].var.size(0)) : 0;
    for (int64_t b = first; b < n; b += kChunk) out.push_back({i, b, std::min(n, b + kChunk)});
  }
  return out;
}

template <class Fn>
void run_chunks(const std::vector<Chunk>& chunks, Fn&& fn) {
  const int64_t n = static_cast<int64_t>(chunks.size());
  parallel_for(n, 4, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) fn(chunks[c]);
  });
}
}  // namespace

void Optimizer::zero_grad() {
  for (ParamRef& p : params_) p.var.clear_grad();
}

namespace {
void check_state(const std::map<std::string, Tensor>& state, const std::string& key, const Var& v) {
  auto it = state.find(key);
  MOELAB_CHECK(it != state.end(), "optimizer state: missing ", key);
  MOELAB_CHECK(it->second.shape() == v.shape(), "optimizer state: ", key, " has shape ",
               shape_str(it->second.shape()), ", parameter has ", shape_str(v.shape()));
}
}  // namespace

AdamW::AdamW(std::vector<ParamRef> params, AdamWConfig cfg)
    : Optimizer(std::move(params)), cfg_(cfg), m_(params_.size()), v_(params_.size()) {}

void AdamW::step(float lr, float grad_scale) {
  ++step_;
  const float bc1 = 1.f - std::pow(cfg_.beta1, static_cast<float>(step_));
  const float inv_bc2_sqrt = 1.f / std::sqrt(1.f - std::pow(cfg_.beta2, static_cast<float>(step_)));
  const float step_size = lr / bc1;
  for (size_t i = 0; i < params_.size(); ++i)
    if (!params_[i].frozen && !m_[i].defined()) {
      m_[i] = Tensor::zeros(params_[i].var.shape());
      v_[i] = Tensor::zeros(params_[i].var.shape());
    }
  const float b1 = cfg_.beta1, b2 = cfg_.beta2, eps = cfg_.eps;
  run_chunks(chunks_of(params_, false), [&](const Chunk& c) {
    const ParamRef& p = params_[c.param];
    float* w = p.var.data();
    float* m = m_[c.param].data();
    float* v = v_[c.param].data();
    // A parameter that got no gradient this step (e.g. an unused expert) is updated with g = 0,
    // as PyTorch does when its grad is a zero tensor.
    const float* g = p.var.has_grad() ? p.var.grad().data() : nullptr;
    const float decay = p.decay ? 1.f - lr * cfg_.weight_decay : 1.f;
    if (g) {
#pragma omp simd
      for (int64_t j = c.begin; j < c.end; ++j) {
        w[j] *= decay;
        const float gj = g[j] * grad_scale;
        m[j] = b1 * m[j] + (1.f - b1) * gj;
        v[j] = b2 * v[j] + (1.f - b2) * gj * gj;
        w[j] -= step_size * m[j] / (std::sqrt(v[j]) * inv_bc2_sqrt + eps);
      }
    } else {
#pragma omp simd
      for (int64_t j = c.begin; j < c.end; ++j) {
        w[j] *= decay;
        m[j] = b1 * m[j];
        v[j] = b2 * v[j];
        w[j] -= step_size * m[j] / (std::sqrt(v[j]) * inv_bc2_sqrt + eps);
      }
    }
  });
}

std::map<std::string, Tensor> AdamW::state() const {
  std::map<std::string, Tensor> s;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!m_[i].defined()) continue;
    s["exp_avg." + params_[i].name] = m_[i];
    s["exp_avg_sq." + params_[i].name] = v_[i];
  }
  return s;
}

void AdamW::load_state(const std::map<std::string, Tensor>& state, int64_t step) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string a = "exp_avg." + params_[i].name, b = "exp_avg_sq." + params_[i].name;
    if (!state.count(a) && params_[i].frozen) continue;
    if (step == 0 && !state.count(a)) continue;
    check_state(state, a, params_[i].var);
    check_state(state, b, params_[i].var);
    m_[i] = state.at(a).clone();
    v_[i] = state.at(b).clone();
  }
  step_ = step;
}

SGD::SGD(std::vector<ParamRef> params, SGDConfig cfg) : Optimizer(std::move(params)), cfg_(cfg), buf_(params_.size()) {}

void SGD::step(float lr, float grad_scale) {
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    ParamRef& p = params_[i];
    if (p.frozen) continue;
    if (!buf_[i].defined()) buf_[i] = Tensor::zeros(p.var.shape());
    float* w = p.var.data();
    float* b = buf_[i].data();
    const float* g = p.var.has_grad() ? p.var.grad().data() : nullptr;
    const float wd = p.decay ? cfg_.weight_decay : 0.f, mu = cfg_.momentum;
    const int64_t first = p.frozen_rows > 0 ? p.frozen_rows * (p.var.numel() / p.var.size(0)) : 0;
    for (int64_t j = first; j < p.var.numel(); ++j) {
      const float gj = (g ? g[j] * grad_scale : 0.f) + wd * w[j];
      b[j] = mu * b[j] + gj;
      w[j] -= lr * b[j];
    }
  }
}

std::map<std::string, Tensor> SGD::state() const {
  std::map<std::string, Tensor> s;
  for (size_t i = 0; i < params_.size(); ++i)
    if (buf_[i].defined()) s["momentum." + params_[i].name] = buf_[i];
  return s;
}

void SGD::load_state(const std::map<std::string, Tensor>& state, int64_t step) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string a = "momentum." + params_[i].name;
    if (!state.count(a)) continue;
    check_state(state, a, params_[i].var);
    buf_[i] = state.at(a).clone();
  }
  step_ = step;
}

double grad_norm(const std::vector<ParamRef>& params) {
  // per-chunk partial sums (float lanes inside a chunk, double across chunks, summed in chunk order)
  const std::vector<Chunk> chunks = chunks_of(params, true);
  std::vector<double> partial(chunks.size());
  run_chunks(chunks, [&](const Chunk& c) {
    const float* g = params[c.param].var.grad().data();
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = c.begin; j < c.end; ++j) s += g[j] * g[j];
    partial[&c - chunks.data()] = s;
  });
  double total = 0.0;
  for (double s : partial) total += s;
  return std::sqrt(total);
}

float clip_scale(double norm, double max_norm) {
  return max_norm > 0 && norm > max_norm ? static_cast<float>(max_norm / (norm + 1e-6)) : 1.f;
}

double clip_grad_norm(std::vector<ParamRef>& params, double max_norm) {
  const double norm = grad_norm(params);
  const float coef = clip_scale(norm, max_norm);
  if (coef != 1.f)
    run_chunks(chunks_of(params, true), [&](const Chunk& c) {
      float* g = params[c.param].var.grad().data();
#pragma omp simd
      for (int64_t j = c.begin; j < c.end; ++j) g[j] *= coef;
    });
  return norm;
}

float lr_at(const ScheduleConfig& s, int64_t it) {
  if (it < s.warmup_iters) return s.lr * static_cast<float>(it + 1) / static_cast<float>(s.warmup_iters + 1);
  if (!s.decay) return s.lr;
  if (it > s.lr_decay_iters) return s.min_lr;
  const double ratio = static_cast<double>(it - s.warmup_iters) / std::max(1, s.lr_decay_iters - s.warmup_iters);
  const double coeff = 0.5 * (1.0 + std::cos(M_PI * ratio));
  return static_cast<float>(s.min_lr + coeff * (s.lr - s.min_lr));
}

}  // namespace moelab::optim
