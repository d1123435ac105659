// autograd/gradcheck.h: the tape's gradients against central finite differences, for every op,
// layer and extension (tests/, examples/custom_layer). L = sum(R * f()) with a fixed random R (R = 1
// for a scalar f), so every output element matters. The tape gives dL/dv for each Var v in `wrt`;
// then elements of v are moved by +-eps in place and L is re-evaluated under NoGrad, summed in
// double. float32 forwards limit the agreement to about 1e-3, which the default tolerances reflect.
// A check whose numeric gradients are all ~0 proves nothing and fails (unless allowed): at a
// trivial point (zero weights, inputs where an op is flat) a wrong backward would pass too.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace moelab::autograd {

struct GradcheckOptions {
  float eps = 5e-3f;
  double atol = 1e-3;
  double rtol = 1e-2;
  uint64_t seed = 1234;               // of R
  int64_t samples = 0;                // elements checked per Var: 0 = all, else about this many (odd stride)
  double min_abs_gradient = 1e-3;     // the largest |numeric gradient| must exceed this ...
  bool allow_zero_gradient = false;   // ... unless a zero gradient is what the test expects
};

struct GradcheckResult {
  bool ok = false;
  int64_t checked = 0;           // elements compared
  double max_abs_numeric = 0;    // over all of them
  std::string report;            // the worst element (which Var, index, analytic vs numeric), or why it failed
};

struct NamedVar {
  std::string name;
  Var var;
};

// f() must read the Vars of `wrt` (e.g. a module's parameters, or inputs it captured); their
// gradients are cleared before and after.
GradcheckResult gradcheck(const std::function<Var()>& f, const std::vector<NamedVar>& wrt, GradcheckOptions opts = {});

// The common case for an op: f over fresh leaf Vars holding copies of `inputs` ("input 0", ...).
GradcheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                          GradcheckOptions opts = {});

}  // namespace moelab::autograd
