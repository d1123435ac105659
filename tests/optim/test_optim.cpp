// Optimizers against hand-computed PyTorch values; gradient clipping; the LR schedule; state round trips.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "optim/optimizer.h"

using moelab::Error;
using moelab::Tensor;
using moelab::autograd::Var;
namespace optim = moelab::optim;

namespace {

Var param(std::vector<float> values) {
  return Var(Tensor::from({static_cast<int64_t>(values.size())}, values), true);
}

void set_grad(const Var& v, std::vector<float> g) {
  v.set_grad(Tensor::from({static_cast<int64_t>(g.size())}, g));
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

// PyTorch AdamW (torch.optim.AdamW, amsgrad off), in double, written out from its docs:
//   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t);  p -= lr * m_hat / (sqrt(v_hat) + eps)
struct AdamRef {
  double b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
  std::vector<double> p, m, v;
  int t = 0;
  explicit AdamRef(std::vector<double> p0) : p(p0), m(p0.size(), 0.0), v(p0.size(), 0.0) {}
  void step(double lr, const std::vector<double>& g, bool decay) {
    ++t;
    for (size_t i = 0; i < p.size(); ++i) {
      if (decay) p[i] *= 1.0 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(b1, t)), v_hat = v[i] / (1 - std::pow(b2, t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
};

void check_close(const Var& v, const std::vector<double>& want, double tol = 1e-6) {
  REQUIRE(v.numel() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(static_cast<double>(v.value()[i]) - want[i]) <= tol);
  }
}

}  // namespace

TEST_CASE("AdamW: one and two steps match PyTorch's AdamW by hand") {
  Var w = param({1.f, -2.f});
  optim::AdamW opt({{"w", w, true, false}}, optim::AdamWConfig{0.9f, 0.95f, 1e-8f, 0.1f});
  AdamRef ref({1.0, -2.0});

  set_grad(w, {0.5f, -1.f});
  opt.step(0.1f);
  ref.step(0.1, {0.5, -1.0}, true);
  CHECK(opt.steps() == 1);
  // Step 1: m_hat = g, v_hat = g^2, so p = p (1 - lr wd) - lr sign(g) (up to eps):
  // [1 * 0.99 - 0.1, -2 * 0.99 + 0.1] = [0.89, -1.88].
  check_close(w, {0.89, -1.88});
  check_close(w, ref.p);

  set_grad(w, {-0.25f, 2.f});
  opt.step(0.1f);
  ref.step(0.1, {-0.25, 2.0}, true);
  CHECK(opt.steps() == 2);
  // Step 2 (computed by hand from the formula above): m = [0.02, 0.11], v = [0.015, 0.2475],
  // bias corrections 0.19 and 0.0975.
  check_close(w, {0.8542630578558273, -1.897537395809663});
  check_close(w, ref.p);

  // The moments are the optimizer state.
  auto st = opt.state();
  REQUIRE(st.count("exp_avg.w"));
  REQUIRE(st.count("exp_avg_sq.w"));
  CHECK(st.at("exp_avg.w")[0] == doctest::Approx(0.02).epsilon(1e-5));
  CHECK(st.at("exp_avg.w")[1] == doctest::Approx(0.9 * -0.1 + 0.2).epsilon(1e-5));
  CHECK(st.at("exp_avg_sq.w")[0] == doctest::Approx(0.015).epsilon(1e-5));
  CHECK(st.at("exp_avg_sq.w")[1] == doctest::Approx(0.95 * 0.05 + 0.05 * 4).epsilon(1e-5));
}

TEST_CASE("AdamW: a longer run with changing lr tracks the reference") {
  Var w = param({0.3f, -0.7f, 1.5f});
  optim::AdamW opt({{"w", w, true, false}}, optim::AdamWConfig{0.8f, 0.99f, 1e-6f, 0.05f});
  AdamRef ref({0.3, -0.7, 1.5});
  ref.b1 = 0.8;
  ref.b2 = 0.99;
  ref.eps = 1e-6;
  ref.wd = 0.05;
  for (int t = 0; t < 20; ++t) {
    const std::vector<double> g = {std::sin(t + 1.0), 0.1 * std::cos(3.0 * t), t % 3 == 0 ? 0.0 : -0.5};
    set_grad(w, {static_cast<float>(g[0]), static_cast<float>(g[1]), static_cast<float>(g[2])});
    const double lr = 0.05 / (1 + t);
    opt.step(static_cast<float>(lr));
    ref.step(static_cast<float>(lr), g, true);
  }
  check_close(w, ref.p, 1e-5);
}

TEST_CASE("AdamW: decay = false parameters get no weight decay") {
  Var d = param({1.f, -2.f}), nd = param({1.f, -2.f});
  optim::AdamW opt({{"d", d, true, false}, {"nd", nd, false, false}}, optim::AdamWConfig{});
  AdamRef ref_d({1.0, -2.0}), ref_nd({1.0, -2.0});
  for (const std::vector<double>& g : {std::vector<double>{0.5, -1.0}, std::vector<double>{-0.25, 2.0}}) {
    set_grad(d, {static_cast<float>(g[0]), static_cast<float>(g[1])});
    set_grad(nd, {static_cast<float>(g[0]), static_cast<float>(g[1])});
    opt.step(0.1f);
    ref_d.step(0.1, g, true);
    ref_nd.step(0.1, g, false);
  }
  check_close(d, ref_d.p);
  check_close(nd, ref_nd.p);
  // By hand: without decay step 1 is exactly p - lr sign(g) = [0.9, -1.9]; step 2 as computed above.
  check_close(nd, {0.8731630578758274, -1.936337395819663});
  CHECK(std::abs(d.value()[0] - nd.value()[0]) > 1e-2);
}

TEST_CASE("AdamW: frozen parameters are bitwise unchanged and get no state") {
  Var live = param({1.f, -2.f}), frozen = param({0.123f, -4.56f});
  const Tensor before = frozen.value().clone();
  optim::AdamW opt({{"live", live, true, false}, {"frozen", frozen, true, true}}, optim::AdamWConfig{});
  set_grad(live, {0.5f, -1.f});
  set_grad(frozen, {7.f, -3.f});  // even with a gradient present
  opt.step(0.1f);
  opt.step(0.1f);
  CHECK(bitwise_equal(frozen.value(), before));
  auto st = opt.state();
  CHECK(st.size() == 2);
  CHECK(st.count("exp_avg.live") == 1);
  CHECK(st.count("exp_avg_sq.live") == 1);
  for (const auto& [k, v] : st) CHECK(k.find("frozen") == std::string::npos);
  CHECK(live.value()[0] != 1.f);
  // Frozen gradients are left alone by the step; zero_grad drops every gradient.
  CHECK(frozen.grad()[0] == 7.f);
  opt.zero_grad();
  CHECK_FALSE(live.has_grad());
  CHECK_FALSE(frozen.has_grad());
}

TEST_CASE("AdamW: a parameter without a gradient is stepped with g = 0 (weight decay only)") {
  Var w = param({1.f, -2.f}), nd = param({3.f, 4.f});
  optim::AdamW opt({{"w", w, true, false}, {"nd", nd, false, false}}, optim::AdamWConfig{});
  REQUIRE_FALSE(w.has_grad());
  opt.step(0.1f);
  // p * (1 - 0.1 * 0.1); the Adam term is 0 / (0 + eps) = 0.
  check_close(w, {0.99, -1.98});
  check_close(nd, {3.0, 4.0}, 0.0);
  opt.step(0.1f);
  check_close(w, {0.9801, -1.9602});
  check_close(nd, {3.0, 4.0}, 0.0);
  auto st = opt.state();
  REQUIRE(st.count("exp_avg.w"));
  CHECK(st.at("exp_avg.w")[0] == 0.f);
  CHECK(st.at("exp_avg_sq.w")[1] == 0.f);

  // Then a real gradient: moments start from zero history, bias correction uses the global step (3).
  AdamRef ref({0.9801, -1.9602});
  ref.t = 2;
  set_grad(w, {0.5f, -1.f});
  opt.step(0.1f);
  ref.step(0.1, {0.5, -1.0}, true);
  check_close(w, ref.p);
}

TEST_CASE("SGD with momentum: two steps by hand, with and without weight decay") {
  Var a = param({1.f, -2.f}), b = param({1.f, -2.f}), c = param({1.f, -2.f});
  // a: wd 0; b: wd 0.1 and decays; c: wd 0.1 but decay = false (behaves like a).
  optim::SGD plain({{"a", a, true, false}}, optim::SGDConfig{0.9f, 0.f});
  optim::SGD wd({{"b", b, true, false}, {"c", c, false, false}}, optim::SGDConfig{0.9f, 0.1f});
  for (const Var& v : {a, b, c}) set_grad(v, {0.5f, -1.f});
  plain.step(0.1f);
  wd.step(0.1f);
  // a: buf = g = [0.5, -1]; p = [0.95, -1.9]
  check_close(a, {0.95, -1.9});
  // b: g' = g + 0.1 p = [0.6, -1.2]; buf = g'; p = [0.94, -1.88]
  check_close(b, {0.94, -1.88});
  check_close(c, {0.95, -1.9});
  for (const Var& v : {a, b, c}) set_grad(v, {-0.25f, 2.f});
  plain.step(0.1f);
  wd.step(0.1f);
  // a: buf = 0.9 [0.5, -1] + [-0.25, 2] = [0.2, 1.1]; p = [0.93, -2.01]
  check_close(a, {0.93, -2.01});
  // b: g' = [-0.25 + 0.094, 2 - 0.188] = [-0.156, 1.812]; buf = [0.384, 0.732]; p = [0.9016, -1.9532]
  check_close(b, {0.9016, -1.9532});
  check_close(c, {0.93, -2.01});
  auto st = plain.state();
  REQUIRE(st.count("momentum.a"));
  CHECK(st.at("momentum.a")[0] == doctest::Approx(0.2));
  CHECK(st.at("momentum.a")[1] == doctest::Approx(1.1));
  CHECK(plain.steps() == 2);
}

TEST_CASE("SGD: frozen parameters are untouched and get no momentum buffer") {
  Var live = param({1.f}), frozen = param({2.f});
  optim::SGD opt({{"live", live, true, false}, {"frozen", frozen, true, true}}, optim::SGDConfig{0.9f, 0.1f});
  set_grad(live, {1.f});
  set_grad(frozen, {1.f});
  opt.step(0.5f);
  CHECK(frozen.value()[0] == 2.f);
  CHECK(live.value()[0] == doctest::Approx(1.0 - 0.5 * 1.1));
  auto st = opt.state();
  CHECK(st.size() == 1);
  CHECK(st.count("momentum.live") == 1);
}

TEST_CASE("clip_grad_norm: global L2 norm, PyTorch's coefficient, frozen gradients excluded") {
  Var a = param({3.f}), b = param({4.f}), f = param({100.f}), none = param({5.f});
  set_grad(a, {3.f});
  set_grad(b, {4.f});
  set_grad(f, {100.f});
  std::vector<optim::ParamRef> refs = {
      {"a", a, true, false}, {"b", b, true, false}, {"f", f, true, true}, {"none", none, true, false}};
  const double norm = optim::clip_grad_norm(refs, 1.0);
  CHECK(norm == doctest::Approx(5.0).epsilon(1e-12));
  const double coef = 1.0 / (5.0 + 1e-6);
  CHECK(a.grad()[0] == doctest::Approx(3.0 * coef).epsilon(1e-6));
  CHECK(b.grad()[0] == doctest::Approx(4.0 * coef).epsilon(1e-6));
  CHECK(a.grad()[0] == doctest::Approx(0.6).epsilon(1e-5));
  CHECK(b.grad()[0] == doctest::Approx(0.8).epsilon(1e-5));
  CHECK(f.grad()[0] == 100.f);  // frozen: neither counted nor scaled
  CHECK_FALSE(none.has_grad());

  // Below the threshold nothing changes, and the norm is still returned.
  set_grad(a, {3.f});
  set_grad(b, {4.f});
  CHECK(optim::clip_grad_norm(refs, 10.0) == doctest::Approx(5.0));
  CHECK(a.grad()[0] == 3.f);
  CHECK(b.grad()[0] == 4.f);
  // max_norm <= 0 only measures.
  CHECK(optim::clip_grad_norm(refs, 0.0) == doctest::Approx(5.0));
  CHECK(a.grad()[0] == 3.f);

  // A single multi-element parameter: [3, 4] -> [0.6, 0.8].
  Var v = param({0.f, 0.f});
  set_grad(v, {3.f, 4.f});
  std::vector<optim::ParamRef> one = {{"v", v, true, false}};
  CHECK(optim::clip_grad_norm(one, 1.0) == doctest::Approx(5.0));
  CHECK(v.grad()[0] == doctest::Approx(0.6).epsilon(1e-5));
  CHECK(v.grad()[1] == doctest::Approx(0.8).epsilon(1e-5));
}

TEST_CASE("lr_at: linear warmup, cosine decay to min_lr, then min_lr") {
  optim::ScheduleConfig s;
  s.lr = 1e-3f;
  s.min_lr = 1e-4f;
  s.warmup_iters = 100;
  s.lr_decay_iters = 2000;
  CHECK(optim::lr_at(s, 0) == doctest::Approx(1e-3 / 101).epsilon(1e-6));
  CHECK(optim::lr_at(s, 49) == doctest::Approx(1e-3 * 50 / 101).epsilon(1e-6));
  CHECK(optim::lr_at(s, 99) == doctest::Approx(1e-3 * 100 / 101).epsilon(1e-6));
  CHECK(optim::lr_at(s, 100) == doctest::Approx(1e-3).epsilon(1e-6));  // cosine starts at lr
  // Halfway through the cosine (it = 100 + 1900 / 2 = 1050): coeff 0.5 -> (lr + min_lr) / 2.
  CHECK(optim::lr_at(s, 1050) == doctest::Approx(5.5e-4).epsilon(1e-6));
  // A quarter in: coeff = 0.5 (1 + cos(pi/4)).
  const double q = 1e-4 + 0.5 * (1 + std::cos(M_PI * 0.25)) * 9e-4;
  CHECK(optim::lr_at(s, 100 + 475) == doctest::Approx(q).epsilon(1e-6));
  CHECK(optim::lr_at(s, 2000) == doctest::Approx(1e-4).epsilon(1e-6));
  CHECK(optim::lr_at(s, 2001) == doctest::Approx(1e-4).epsilon(1e-6));
  CHECK(optim::lr_at(s, 100000) == doctest::Approx(1e-4).epsilon(1e-6));
  // Monotone non-increasing after warmup.
  float prev = optim::lr_at(s, 100);
  for (int64_t it = 101; it <= 2100; ++it) {
    const float cur = optim::lr_at(s, it);
    REQUIRE(cur <= prev + 1e-12f);
    REQUIRE(cur >= s.min_lr - 1e-9f);
    prev = cur;
  }

  s.decay = false;
  CHECK(optim::lr_at(s, 0) == doctest::Approx(1e-3 / 101).epsilon(1e-6));
  CHECK(optim::lr_at(s, 1050) == doctest::Approx(1e-3).epsilon(1e-6));
  CHECK(optim::lr_at(s, 5000) == doctest::Approx(1e-3).epsilon(1e-6));

  s.decay = true;
  s.warmup_iters = 0;
  CHECK(optim::lr_at(s, 0) == doctest::Approx(1e-3).epsilon(1e-6));
  CHECK(optim::lr_at(s, 1000) == doctest::Approx(5.5e-4).epsilon(1e-6));
}

TEST_CASE("AdamW: state() / load_state() round trip continues bit for bit") {
  auto grads = [](int t) {
    return std::vector<float>{0.3f * t - 0.5f, std::sin(static_cast<float>(t)), -0.2f};
  };
  Var w = param({0.5f, -0.25f, 2.f}), nd = param({1.f, 1.f, 1.f}), fz = param({9.f, 9.f, 9.f});
  auto refs = [](Var a, Var b, Var c) {
    return std::vector<optim::ParamRef>{{"w", a, true, false}, {"nd", b, false, false}, {"fz", c, true, true}};
  };
  optim::AdamW a(refs(w, nd, fz), optim::AdamWConfig{});
  for (int t = 0; t < 3; ++t) {
    set_grad(w, grads(t));
    set_grad(nd, grads(t + 7));
    a.step(0.01f);
  }
  // A fresh optimizer over copies of the current parameters, loaded from a's state.
  Var w2(w.value().clone(), true), nd2(nd.value().clone(), true), fz2(fz.value().clone(), true);
  optim::AdamW b(refs(w2, nd2, fz2), optim::AdamWConfig{});
  std::map<std::string, Tensor> st = a.state();
  CHECK(st.size() == 4);
  b.load_state(st, a.steps());
  CHECK(b.steps() == 3);
  // The loaded state is a copy: stepping b does not touch a's moments.
  const Tensor m_before = a.state().at("exp_avg.w").clone();
  for (int t = 3; t < 6; ++t) {
    set_grad(w, grads(t));
    set_grad(nd, grads(t + 7));
    set_grad(w2, grads(t));
    set_grad(nd2, grads(t + 7));
    b.step(0.01f);
    if (t == 3) CHECK(bitwise_equal(a.state().at("exp_avg.w"), m_before));
    a.step(0.01f);
  }
  CHECK(bitwise_equal(w.value(), w2.value()));
  CHECK(bitwise_equal(nd.value(), nd2.value()));
  CHECK(bitwise_equal(fz2.value(), fz.value()));
  for (const auto& [k, v] : a.state()) {
    CAPTURE(k);
    CHECK(bitwise_equal(v, b.state().at(k)));
  }

  // Errors: a missing moment after step 0, and a shape mismatch, name the key.
  optim::AdamW c(refs(Var(w.value().clone(), true), Var(nd.value().clone(), true), Var(fz.value().clone(), true)),
                 optim::AdamWConfig{});
  std::map<std::string, Tensor> missing = st;
  missing.erase("exp_avg.nd");
  CHECK_THROWS_AS(c.load_state(missing, 3), Error);
  std::map<std::string, Tensor> wrong = st;
  wrong["exp_avg_sq.w"] = Tensor::zeros({2});
  CHECK_THROWS_AS(c.load_state(wrong, 3), Error);
  // An empty state at step 0 is a fresh start.
  CHECK_NOTHROW(c.load_state({}, 0));
  CHECK(c.steps() == 0);
}

TEST_CASE("SGD: state() / load_state() round trip") {
  Var w = param({1.f, 2.f}), w2 = param({1.f, 2.f});
  optim::SGD a({{"w", w, true, false}}, optim::SGDConfig{0.9f, 0.01f});
  optim::SGD b({{"w", w2, true, false}}, optim::SGDConfig{0.9f, 0.01f});
  set_grad(w, {0.5f, -0.5f});
  a.step(0.1f);
  w2.value().copy_from(w.value());
  b.load_state(a.state(), a.steps());
  CHECK(b.steps() == 1);
  for (const Var& v : {w, w2}) set_grad(v, {0.25f, 1.f});
  a.step(0.1f);
  b.step(0.1f);
  CHECK(bitwise_equal(w.value(), w2.value()));
  std::map<std::string, Tensor> wrong = {{"momentum.w", Tensor::zeros({3})}};
  CHECK_THROWS_AS(b.load_state(wrong, 1), Error);
}

TEST_CASE("grad_norm and clipping leave frozen rows out; the optimizer leaves them bitwise unchanged") {
  // a [3, 2] router-like matrix whose first 2 rows are frozen (Lifelong-MoE's old experts)
  Var w(Tensor::from({3, 2}, {1.f, 2.f, 3.f, 4.f, 5.f, 6.f}), true);
  w.set_grad(Tensor::from({3, 2}, {100.f, 100.f, 100.f, 100.f, 3.f, 4.f}));
  std::vector<optim::ParamRef> refs = {{"w", w, true, false, 2}};
  CHECK(optim::grad_norm(refs) == doctest::Approx(5.0).epsilon(1e-12));  // only row 2: sqrt(9 + 16)
  CHECK(optim::clip_scale(optim::grad_norm(refs), 1.0) == doctest::Approx(1.0 / (5.0 + 1e-6)).epsilon(1e-6));
  optim::SGD sgd(refs, {0.f, 0.f});
  sgd.step(0.5f, optim::clip_scale(optim::grad_norm(refs), 1.0));
  CHECK(w.value()[0] == 1.f);  // frozen rows: exactly as before, whatever their gradient
  CHECK(w.value()[3] == 4.f);
  CHECK(w.value()[4] == doctest::Approx(5.0 - 0.5 * 0.6).epsilon(1e-5));  // clipped by the unfrozen norm only
  CHECK(w.value()[5] == doctest::Approx(6.0 - 0.5 * 0.8).epsilon(1e-5));
}
