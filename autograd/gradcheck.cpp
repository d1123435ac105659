#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "core/rng.h"

namespace moelab::autograd {

namespace {
double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y[i]) * r[i];
  return s;
}
}  // namespace

GradcheckResult gradcheck(const std::function<Var()>& f, const std::vector<NamedVar>& wrt, GradcheckOptions opts) {
  for (const NamedVar& w : wrt) {
    w.var.set_requires_grad(true);
    w.var.clear_grad();
  }
  Var y = f();
  Tensor r = y.numel() == 1 ? Tensor::full(y.shape(), 1.f) : Tensor::empty(y.shape());
  if (y.numel() != 1) Rng(opts.seed).fill_normal(r, 0.f, 1.f);
  backward(ops::sum(ops::mul(y, Var(r))));

  GradcheckResult res;
  res.ok = true;
  double worst = -1;
  for (const NamedVar& w : wrt) {
    const Tensor x = w.var.value();
    const Tensor analytic = w.var.has_grad() ? w.var.grad().clone() : Tensor::zeros(x.shape());
    w.var.clear_grad();
    const int64_t n = x.numel();
    const int64_t stride = opts.samples <= 0 || n <= opts.samples ? 1 : (n / opts.samples) | 1;
    for (int64_t i = 0; i < n; i += stride) {
      const float orig = x[i];
      double lp, lm;
      {
        NoGrad no_grad;
        x[i] = orig + opts.eps;
        lp = weighted_sum(f().value(), r);
        x[i] = orig - opts.eps;
        lm = weighted_sum(f().value(), r);
        x[i] = orig;
      }
      const double numeric = (lp - lm) / (2.0 * opts.eps);
      const double err = std::abs(analytic[i] - numeric);
      const double ratio = err / (opts.atol + opts.rtol * std::abs(numeric));
      ++res.checked;
      res.max_abs_numeric = std::max(res.max_abs_numeric, std::abs(numeric));
      if (ratio > 1.0) res.ok = false;
      if (ratio > worst) {
        worst = ratio;
        std::ostringstream os;
        os << "worst element: " << w.name << " " << shape_str(x.shape()) << " [" << i << "]: analytic " << analytic[i]
           << ", numeric " << numeric << " (|diff| " << err << ", " << ratio << "x the tolerance)";
        res.report = os.str();
      }
    }
  }
  if (res.checked == 0) {
    res.ok = false;
    res.report = "no element was checked";
  } else if (!opts.allow_zero_gradient && !(res.max_abs_numeric > opts.min_abs_gradient)) {
    res.ok = false;
    std::ostringstream os;
    os << "every numeric gradient is ~0 (largest " << res.max_abs_numeric << " <= " << opts.min_abs_gradient
       << "): the check proves nothing at this point; " << res.report;
    res.report = os.str();
  }
  return res;
}

GradcheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                          GradcheckOptions opts) {
  std::vector<Var> vars;
  std::vector<NamedVar> wrt;
  for (size_t i = 0; i < inputs.size(); ++i) {
    vars.emplace_back(inputs[i].clone(), true);
    wrt.push_back({"input " + std::to_string(i), vars.back()});
  }
  return gradcheck([&] { return f(vars); }, wrt, opts);
}

}  // namespace moelab::autograd
