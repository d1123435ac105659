// tests/core/test_elementwise.cpp: binary ops with broadcasting, activations and GLU against naive formulas.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/kernels/elementwise.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "test_data.h"

using namespace moelab;
using kernels::Activation;
using kernels::BinaryOp;

using moelab::testing::randvec;

namespace {


// Values in [0.5, 2] with a random sign: safe divisors.
std::vector<float> divisors(int64_t n, uint64_t seed) {
  auto v = randvec(n, seed, 0.5f, 2.f);
  auto s = randvec(n, seed + 7777);
  for (int64_t i = 0; i < n; ++i) if (s[i] < 0) v[i] = -v[i];
  return v;
}

double op_ref(BinaryOp op, double x, double y) {
  switch (op) {
    case BinaryOp::Add: return x + y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div: return x / y;
  }
  return 0;
}
double dx_ref(BinaryOp op, double, double y) {
  switch (op) {
    case BinaryOp::Add: case BinaryOp::Sub: return 1;
    case BinaryOp::Mul: return y;
    case BinaryOp::Div: return 1 / y;
  }
  return 0;
}
double dy_ref(BinaryOp op, double x, double y) {
  switch (op) {
    case BinaryOp::Add: return 1;
    case BinaryOp::Sub: return -1;
    case BinaryOp::Mul: return x;
    case BinaryOp::Div: return -x / (y * y);
  }
  return 0;
}
const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "?";
}

bool close(double got, double want, double rtol, double atol) { return std::abs(got - want) <= atol + rtol * std::abs(want); }

// Reference activations in double.
double act_ref(Activation a, double x) {
  switch (a) {
    case Activation::Relu: return x > 0 ? x : 0;
    case Activation::Gelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case Activation::GeluTanh:
      return 0.5 * x * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case Activation::Silu: return x / (1 + std::exp(-x));
  }
  return 0;
}
double dact_fd(Activation a, double x) {
  const double h = 1e-5;
  return (act_ref(a, x + h) - act_ref(a, x - h)) / (2 * h);
}
const char* act_name(Activation a) {
  switch (a) {
    case Activation::Relu: return "relu";
    case Activation::Gelu: return "gelu";
    case Activation::GeluTanh: return "gelu_tanh";
    case Activation::Silu: return "silu";
  }
  return "?";
}
const Activation kActs[] = {Activation::Relu, Activation::Gelu, Activation::GeluTanh, Activation::Silu};
const BinaryOp kOps[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div};

}  // namespace

TEST_CASE("binary_forward/backward: equal sizes and broadcasting either way, vs naive") {
  struct Case { int64_t na, nb; };
  // small and parallel-sized (> 1<<15 elements) problems; the smaller count divides the larger
  const Case cases[] = {{1, 1},      {7, 7},       {100000, 100000}, {12, 3},   {3, 12},   {17, 1},
                        {1, 17},     {129 * 5, 129}, {129, 129 * 5}, {70000, 7}, {7, 70000}, {65536, 4096},
                        {4096, 65536}};
  uint64_t seed = 1;
  for (BinaryOp op : kOps)
    for (Case cs : cases) {
      const int64_t na = cs.na, nb = cs.nb, n = std::max(na, nb);
      auto a = randvec(na, seed++, -2.f, 2.f);
      auto b = op == BinaryOp::Div ? divisors(nb, seed++) : randvec(nb, seed++, -2.f, 2.f);
      std::vector<float> out(n, -12345.f);
      kernels::binary_forward(op, a.data(), na, b.data(), nb, out.data());
      int bad = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double want = op_ref(op, a[i % na], b[i % nb]);
        if (!close(out[i], want, 1e-6, 1e-7) && bad++ < 3)
          FAIL_CHECK(op_name(op), " na=", na, " nb=", nb, " i=", i, " got ", out[i], " want ", want);
      }
      CHECK_MESSAGE(bad == 0, op_name(op), " forward na=", na, " nb=", nb);

      // backward accumulates into pre-filled gradients, reduced over the repeats of the smaller operand
      auto g = randvec(n, seed++);
      auto da0 = randvec(na, seed++, 3.f, 4.f), db0 = randvec(nb, seed++, -4.f, -3.f);
      auto da = da0, db = db0;
      kernels::binary_backward(op, a.data(), na, b.data(), nb, g.data(), da.data(), db.data());
      std::vector<double> da_ref(da0.begin(), da0.end()), db_ref(db0.begin(), db0.end());
      std::vector<double> da_mag(na, 0.0), db_mag(nb, 0.0);
      for (int64_t i = 0; i < n; ++i) {
        const double x = a[i % na], y = b[i % nb];
        da_ref[i % na] += dx_ref(op, x, y) * g[i];
        db_ref[i % nb] += dy_ref(op, x, y) * g[i];
        da_mag[i % na] += std::abs(dx_ref(op, x, y) * g[i]);
        db_mag[i % nb] += std::abs(dy_ref(op, x, y) * g[i]);
      }
      bad = 0;
      for (int64_t i = 0; i < na; ++i) {
        const double tol = 1e-6 * (n / na + 1) * (da_mag[i] + std::abs(da0[i])) + 1e-6;
        if (!(std::abs(da[i] - da_ref[i]) <= tol) && bad++ < 3)
          FAIL_CHECK(op_name(op), " da na=", na, " nb=", nb, " i=", i, " got ", da[i], " want ", da_ref[i]);
      }
      for (int64_t i = 0; i < nb; ++i) {
        const double tol = 1e-6 * (n / nb + 1) * (db_mag[i] + std::abs(db0[i])) + 1e-6;
        if (!(std::abs(db[i] - db_ref[i]) <= tol) && bad++ < 3)
          FAIL_CHECK(op_name(op), " db na=", na, " nb=", nb, " i=", i, " got ", db[i], " want ", db_ref[i]);
      }
      CHECK_MESSAGE(bad == 0, op_name(op), " backward na=", na, " nb=", nb);

      // a null gradient pointer is skipped, the other still accumulates
      auto db_only = db0;
      kernels::binary_backward(op, a.data(), na, b.data(), nb, g.data(), nullptr, db_only.data());
      CHECK(db_only == db);
      auto da_only = da0;
      kernels::binary_backward(op, a.data(), na, b.data(), nb, g.data(), da_only.data(), nullptr);
      CHECK(da_only == da);
    }
}

TEST_CASE("binary: exact small broadcasting example") {
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {10, 20, 30}, out(6);
  kernels::binary_forward(BinaryOp::Sub, a.data(), 6, b.data(), 3, out.data());
  CHECK(out == std::vector<float>{-9, -18, -27, -6, -15, -24});
  kernels::binary_forward(BinaryOp::Sub, b.data(), 3, a.data(), 6, out.data());
  CHECK(out == std::vector<float>{9, 18, 27, 6, 15, 24});
  std::vector<float> g = {1, 1, 1, 2, 2, 2}, da(6, 1.f), db(3, 100.f);
  kernels::binary_backward(BinaryOp::Mul, a.data(), 6, b.data(), 3, g.data(), da.data(), db.data());
  CHECK(da == std::vector<float>{11, 21, 31, 21, 41, 61});
  CHECK(db == std::vector<float>{100 + 1 + 8, 100 + 2 + 10, 100 + 3 + 12});
}

TEST_CASE("scale_forward and axpy") {
  auto x = randvec(100003, 5), y0 = randvec(100003, 6);
  std::vector<float> out(x.size()), y = y0;
  kernels::scale_forward(out.data(), x.data(), -2.5f, int64_t(x.size()));
  kernels::axpy(y.data(), x.data(), 0.25f, int64_t(x.size()));
  for (size_t i = 0; i < x.size(); i += 101) {
    CHECK(out[i] == -2.5f * x[i]);
    CHECK(y[i] == doctest::Approx(y0[i] + 0.25 * x[i]).epsilon(1e-6));
  }
}

TEST_CASE("activations: known values, including exact-erf GELU") {
  const float xs[] = {1.f, -1.f, 0.f, 2.f, -3.f};
  std::vector<float> out(5);
  kernels::activation_forward(Activation::Gelu, out.data(), xs, 5);
  CHECK(out[0] == doctest::Approx(0.8413447460685429).epsilon(1e-6));
  CHECK(out[1] == doctest::Approx(-0.15865525393145707).epsilon(1e-6));
  CHECK(out[2] == 0.f);
  CHECK(out[3] == doctest::Approx(1.9544997361036416).epsilon(1e-6));
  CHECK(out[4] == doctest::Approx(-0.0040496940948900).epsilon(1e-4));

  kernels::activation_forward(Activation::Relu, out.data(), xs, 5);
  CHECK(out == std::vector<float>{1.f, 0.f, 0.f, 2.f, 0.f});

  kernels::activation_forward(Activation::Silu, out.data(), xs, 5);
  CHECK(out[0] == doctest::Approx(0.7310585786300049).epsilon(1e-6));
  CHECK(out[1] == doctest::Approx(-0.2689414213699951).epsilon(1e-6));
  CHECK(out[2] == 0.f);

  kernels::activation_forward(Activation::GeluTanh, out.data(), xs, 5);
  CHECK(out[0] == doctest::Approx(0.8411919906082768).epsilon(1e-6));  // differs from exact GELU in 4th digit
  CHECK(out[1] == doctest::Approx(-0.15880800939172324).epsilon(1e-6));
}

TEST_CASE("activations: forward vs formula, backward vs analytic and finite differences") {
  const int64_t n = 100000;  // above the parallel grain
  auto x = randvec(n, 42, -6.f, 6.f);
  x[0] = 0.5f;
  x[1] = -0.5f;
  for (Activation act : kActs) {
    std::vector<float> y(n);
    kernels::activation_forward(act, y.data(), x.data(), n);
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double want = act_ref(act, x[i]);
      if (!close(y[i], want, 2e-6, 2e-7) && bad++ < 3)
        FAIL_CHECK(act_name(act), " forward x=", x[i], " got ", y[i], " want ", want);
    }
    CHECK_MESSAGE(bad == 0, act_name(act), " forward");

    auto dout = randvec(n, 43);
    auto din0 = randvec(n, 44, 1.f, 2.f);  // pre-filled: backward accumulates
    auto din = din0;
    kernels::activation_backward(act, din.data(), x.data(), dout.data(), n);
    bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (act == Activation::Relu && std::abs(x[i]) < 1e-4f) continue;  // kink
      const double d = dact_fd(act, x[i]);
      const double want = din0[i] + d * dout[i];
      if (!close(din[i], want, 1e-5, 1e-5) && bad++ < 3)
        FAIL_CHECK(act_name(act), " backward x=", x[i], " got ", din[i], " want ", want, " (f'=", d, ")");
    }
    CHECK_MESSAGE(bad == 0, act_name(act), " backward");
  }
}

TEST_CASE("activations: derivatives at specific points") {
  // d/dx gelu(x) at 1 = Phi(1) + phi(1) = 0.8413447460685429 + 0.24197072451914337
  const float x[] = {1.f, 0.f, -2.f};
  const float ones[] = {1.f, 1.f, 1.f};
  std::vector<float> d(3, 0.f);
  kernels::activation_backward(Activation::Gelu, d.data(), x, ones, 3);
  CHECK(d[0] == doctest::Approx(1.0833154705876864).epsilon(1e-6));
  CHECK(d[1] == doctest::Approx(0.5).epsilon(1e-6));
  std::fill(d.begin(), d.end(), 0.f);
  kernels::activation_backward(Activation::Silu, d.data(), x, ones, 3);
  // s(1) (1 + 1 (1 - s(1)))
  CHECK(d[0] == doctest::Approx(0.9276705118714869).epsilon(1e-6));
  CHECK(d[1] == doctest::Approx(0.5).epsilon(1e-6));
  std::fill(d.begin(), d.end(), 0.f);
  kernels::activation_backward(Activation::Relu, d.data(), x, ones, 3);
  CHECK(d == std::vector<float>{1.f, 0.f, 0.f});
}

TEST_CASE("glu forward/backward vs naive and finite differences") {
  const int64_t n = 50000;
  auto g = randvec(n, 50, -5.f, 5.f), u = randvec(n, 51, -2.f, 2.f), dout = randvec(n, 52);
  for (Activation act : kActs) {
    std::vector<float> out(n);
    kernels::glu_forward(act, out.data(), g.data(), u.data(), n);
    auto dg0 = randvec(n, 53, -1.f, 0.f), du0 = randvec(n, 54, 0.f, 1.f);
    auto dg = dg0, du = du0;
    kernels::glu_backward(act, dg.data(), du.data(), g.data(), u.data(), dout.data(), n);
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double f = act_ref(act, g[i]);
      if (!close(out[i], f * u[i], 2e-6, 2e-7) && bad++ < 3)
        FAIL_CHECK(act_name(act), " glu forward g=", g[i], " u=", u[i], " got ", out[i]);
      if (act == Activation::Relu && std::abs(g[i]) < 1e-4f) continue;
      const double want_dg = dg0[i] + dact_fd(act, g[i]) * u[i] * dout[i];
      const double want_du = du0[i] + f * dout[i];
      if (!close(dg[i], want_dg, 1e-5, 1e-5) && bad++ < 3)
        FAIL_CHECK(act_name(act), " glu dg g=", g[i], " got ", dg[i], " want ", want_dg);
      if (!close(du[i], want_du, 1e-5, 1e-5) && bad++ < 3)
        FAIL_CHECK(act_name(act), " glu du g=", g[i], " got ", du[i], " want ", want_du);
    }
    CHECK_MESSAGE(bad == 0, act_name(act), " glu");

    // null gradient pointers are skipped
    auto du_only = du0;
    kernels::glu_backward(act, nullptr, du_only.data(), g.data(), u.data(), dout.data(), n);
    CHECK(du_only == du);
    auto dg_only = dg0;
    kernels::glu_backward(act, dg_only.data(), nullptr, g.data(), u.data(), dout.data(), n);
    CHECK(dg_only == dg);
  }
}

TEST_CASE("activations: large inputs (+-1e4) stay finite") {
  const float x[] = {1e4f, -1e4f, 100.f, -100.f, 88.8f, -88.8f};
  const int64_t n = 6;
  const float ones[n] = {1, 1, 1, 1, 1, 1};
  for (Activation act : kActs) {
    std::vector<float> y(n), d(n, 0.f), gl(n), dg(n, 0.f), du(n, 0.f);
    kernels::activation_forward(act, y.data(), x, n);
    kernels::activation_backward(act, d.data(), x, ones, n);
    kernels::glu_forward(act, gl.data(), x, ones, n);
    kernels::glu_backward(act, dg.data(), du.data(), x, ones, ones, n);
    for (int64_t i = 0; i < n; ++i) {
      INFO(act_name(act), " x=", x[i]);
      CHECK(std::isfinite(y[i]));
      CHECK(std::isfinite(d[i]));
      CHECK(std::isfinite(gl[i]));
      CHECK(std::isfinite(dg[i]));
      CHECK(std::isfinite(du[i]));
    }
    // f(x) ~ x for large positive x, ~ 0 for large negative x; f' ~ 1 and ~ 0
    CHECK(y[0] == doctest::Approx(1e4));
    CHECK(std::abs(y[1]) < 1e-3f);
    CHECK(d[0] == doctest::Approx(1.0));
    CHECK(std::abs(d[1]) < 1e-3f);
    CHECK(y[2] == doctest::Approx(100.0));
    CHECK(std::abs(y[3]) < 1e-3f);
  }
}
