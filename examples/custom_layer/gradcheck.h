// gradcheck.h: the tape's gradients against central finite differences, for the example's tests.
// (moelab's tests/gradcheck.h is not installed; this one also checks Vars a function captures,
// such as a module's parameters.)
//
// L = sum(R * f()) with a fixed random R, so every output element matters. The tape gives dL/dv
// for every Var v in `wrt`; then each element of each v is moved by +-eps in place and L is
// re-evaluated under NoGrad (summed in double). float32 forwards limit the agreement to ~1e-3.
#pragma once
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/rng.h"
#include "layers/module.h"

namespace custom::testing {

using moelab::Tensor;
using moelab::autograd::Var;

struct Wrt {
  std::string name;
  Var var;
};

// A module's parameters by their dotted names.
inline std::vector<Wrt> parameters_of(moelab::nn::Module& m) {
  std::vector<Wrt> out;
  for (const auto& p : m.named_parameters()) out.push_back({p.name, p.param->var});
  return out;
}

// Redraws every parameter from N(0, stddev): tiny initial weights make a gradcheck vacuous.
inline void randomize(moelab::nn::Module& m, float stddev, uint64_t seed) {
  uint64_t stream = 0;
  for (const auto& p : m.named_parameters()) moelab::Rng(seed, stream++).fill_normal(p.param->var.value(), 0.f, stddev);
}

inline Tensor randn(const moelab::Shape& shape, uint64_t seed, float stddev = 1.f) {
  Tensor t = Tensor::empty(shape);
  moelab::Rng(seed).fill_normal(t, 0.f, stddev);
  return t;
}

struct GradcheckOptions {
  float eps = 1e-3f;
  double atol = 1e-3;
  double rtol = 1e-2;
  uint64_t seed = 4242;
};

struct GradcheckResult {
  bool ok = true;
  int64_t elements = 0;  // how many were checked
  std::string report;    // the worst element: which Var, index, analytic vs numeric
};

inline GradcheckResult gradcheck(const std::function<Var()>& f, const std::vector<Wrt>& wrt,
                                 GradcheckOptions opts = {}) {
  for (const Wrt& w : wrt) {
    w.var.set_requires_grad(true);
    w.var.clear_grad();
  }
  Var y = f();
  const Tensor r = randn(y.shape(), opts.seed);
  moelab::autograd::backward(moelab::ops::sum(moelab::ops::mul(y, Var(r))));
  auto weighted = [&r](const Tensor& v) {
    double s = 0;
    for (int64_t i = 0; i < v.numel(); ++i) s += static_cast<double>(v[i]) * r[i];
    return s;
  };

  GradcheckResult res;
  double worst = -1;
  for (const Wrt& w : wrt) {
    const Tensor x = w.var.value();
    const Tensor analytic = w.var.has_grad() ? w.var.grad().clone() : Tensor::zeros(x.shape());
    w.var.clear_grad();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float orig = x[i];
      double lp, lm;
      {
        moelab::autograd::NoGrad no_grad;
        x[i] = orig + opts.eps;
        lp = weighted(f().value());
        x[i] = orig - opts.eps;
        lm = weighted(f().value());
        x[i] = orig;
      }
      const double numeric = (lp - lm) / (2.0 * opts.eps);
      const double err = std::abs(analytic[i] - numeric);
      const double ratio = err / (opts.atol + opts.rtol * std::abs(numeric));
      ++res.elements;
      if (ratio > 1.0) res.ok = false;
      if (ratio > worst) {
        worst = ratio;
        std::ostringstream os;
        os << "worst element: " << w.name << " " << moelab::shape_str(x.shape()) << " [" << i << "]: analytic "
           << analytic[i] << ", numeric " << numeric << " (" << ratio << "x the tolerance)";
        res.report = os.str();
      }
    }
  }
  return res;
}

}  // namespace custom::testing
