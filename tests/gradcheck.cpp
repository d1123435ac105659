#include "gradcheck.h"

#include <cmath>
#include <sstream>

namespace moelab::testing {

Tensor randn(const Shape& shape, uint64_t seed, float scale) {
  Tensor t = Tensor::empty(shape);
  Rng(seed).fill_normal(t, 0.f, scale);
  return t;
}

IndexTensor randint(const Shape& shape, int32_t n, uint64_t seed) {
  IndexTensor t = IndexTensor::empty(shape);
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<int32_t>(rng.randint(n));
  return t;
}

namespace {
double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y[i]) * r[i];
  return s;
}
}  // namespace

GradcheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                          GradcheckOptions opts) {
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.clone(), true);
  Var y = f(vars);
  Tensor r = randn(y.shape(), opts.seed);
  autograd::backward(ops::sum(ops::mul(y, Var(r))));

  GradcheckResult res;
  res.ok = true;
  double worst = -1;
  std::ostringstream report;
  for (size_t v = 0; v < vars.size(); ++v) {
    Tensor x = vars[v].value();
    Tensor analytic = vars[v].has_grad() ? vars[v].grad() : Tensor::zeros(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float orig = x[i];
      double lp, lm;
      {
        autograd::NoGrad ng;
        x[i] = orig + opts.eps;
        lp = weighted_sum(f(vars).value(), r);
        x[i] = orig - opts.eps;
        lm = weighted_sum(f(vars).value(), r);
        x[i] = orig;
      }
      const double numeric = (lp - lm) / (2.0 * opts.eps);
      const double err = std::abs(analytic[i] - numeric);
      const double ratio = err / (opts.atol + opts.rtol * std::abs(numeric));
      if (ratio > worst) {
        worst = ratio;
        report.str("");
        report << "worst element: input " << v << " " << shape_str(x.shape()) << " index " << i << ": analytic "
               << analytic[i] << " numeric " << numeric << " (|diff| " << err << ", " << ratio
               << "x the tolerance)";
      }
      if (ratio > 1.0) res.ok = false;
    }
  }
  res.report = report.str();
  return res;
}

}  // namespace moelab::testing
