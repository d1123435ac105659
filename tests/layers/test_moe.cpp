// The MoE layer: dispatch plan, grouped experts, every router, capacity, aux losses, gradients.
#include <doctest/doctest.h>

#include <omp.h>

#include <cmath>
#include <set>
#include <cstring>
#include <vector>

#include "gradcheck.h"
#include "layers/gpt.h"
#include "layers/param_check.h"

using moelab::IndexTensor;
using moelab::Rng;
using moelab::Shape;
using moelab::Tensor;
using moelab::autograd::Var;
using moelab::kernels::Assignment;
using moelab::kernels::DispatchPlan;
namespace nn = moelab::nn;
namespace ops = moelab::ops;
namespace ag = moelab::autograd;
namespace kernels = moelab::kernels;
using namespace moelab::testing;

namespace {

nn::ModelConfig moe_config(int E, int k, const std::string& router, int d = 8) {
  nn::ModelConfig cfg;
  cfg.vocab_size = 13;
  cfg.n_layer = 2;
  cfg.n_head = 2;
  cfg.n_embd = d;
  cfg.block_size = 8;
  cfg.ffn.mult = 2;
  cfg.moe.num_experts = E;
  cfg.moe.top_k = k;
  cfg.moe.router.type = router;
  return cfg;
}

Var forward(nn::MoE& moe, const Tensor& x, std::vector<nn::AuxLoss>* aux = nullptr,
            const IndexTensor& ids = IndexTensor()) {
  return moe.forward(Var(x), ids, aux);
}

// One expert's MLP on one row, under NoGrad.
std::vector<float> expert_row(nn::MoE& moe, int e, const Tensor& x, int64_t row) {
  ag::NoGrad ng;
  const int64_t d = x.size(1);
  Tensor xr = Tensor::empty({1, d});
  for (int64_t j = 0; j < d; ++j) xr[j] = x[row * d + j];
  Tensor y = (*moe.experts)[e].forward(Var(xr)).value();
  return std::vector<float>(y.data(), y.data() + d);
}

Tensor& router_weight(nn::MoE& moe) { return const_cast<Tensor&>(moe.find_parameter("router.weight")->var.value()); }

// Scalar the gradchecks differentiate: sum(R * y) + all aux losses, so the router gets gradient
// both through the gate values and through each aux loss.
Var layer_objective(nn::MoE& moe, const Var& x, const IndexTensor& ids, const Tensor& R) {
  std::vector<nn::AuxLoss> aux;
  Var y = moe.forward(x, ids, &aux);
  Var total = ops::sum(ops::mul(y, Var(R)));
  for (const nn::AuxLoss& a : aux) total = ops::add(total, a.value);
  return total;
}

}  // namespace

TEST_CASE("dispatch plan: counting sort by expert, capacity in priority order, per-token rows in gate order") {
  // priority order as given; expert 1 is over capacity 2
  std::vector<Assignment> a = {{0, 1, 0}, {1, 1, 2}, {2, 0, 4}, {3, 1, 6}, {0, 0, 1}, {2, 1, 5}};
  DispatchPlan p = kernels::build_dispatch_plan(a, 4, 3, 2);
  CHECK(p.offsets == std::vector<int64_t>{0, 2, 4, 4});
  CHECK(p.token == std::vector<int32_t>{2, 0, 0, 1});       // expert 0: tokens 2, 0; expert 1: tokens 0, 1
  CHECK(p.gate_index == std::vector<int32_t>{4, 1, 0, 2});
  CHECK(p.routed == std::vector<int64_t>{2, 4, 0});
  CHECK(p.dropped() == 2);                                   // (3, 1) and (2, 1) came after the first two
  CHECK(p.token_offsets == std::vector<int64_t>{0, 2, 3, 4, 4});
  CHECK(p.token_rows == std::vector<int32_t>{2, 1, 3, 0});  // token 0: gate 0 (row 2) before gate 1 (row 1)
  DispatchPlan dropless = kernels::build_dispatch_plan(a, 4, 3, -1);
  CHECK(dropless.rows() == 6);
  CHECK(dropless.dropped() == 0);
  CHECK_THROWS_WITH_AS(kernels::build_dispatch_plan({{0, 3, 0}}, 4, 3, -1),
                       doctest::Contains("out of range"), moelab::Error);
}

TEST_CASE("moe_experts op: gradcheck w.r.t. input, gates and every expert weight, with a dropped and an idle expert") {
  for (const char* act : {"gelu", "swiglu"}) {
    CAPTURE(act);
    auto [a, glu] = nn::parse_activation(act);
    const int64_t N = 5, d = 4, h = 6, E = 3;
    kernels::ExpertMlpShape shape{d, h, a, glu};
    std::vector<Assignment> as = {{0, 0, 0}, {1, 0, 1}, {2, 1, 2}, {3, 0, 3}, {4, 1, 4}, {0, 1, 5}};
    DispatchPlan plan = kernels::build_dispatch_plan(as, N, E, 2);  // token 3 dropped from expert 0; expert 2 idle
    REQUIRE(plan.dropped() == 2);
    std::vector<Tensor> inputs = {randn({N, d}, 1), randn({6}, 2)};
    for (int64_t e = 0; e < E; ++e) {
      inputs.push_back(randn({shape.fc_out(), d}, 10 + e, 0.5f));
      inputs.push_back(randn({shape.fc_out()}, 20 + e, 0.5f));
      inputs.push_back(randn({d, h}, 30 + e, 0.5f));
      inputs.push_back(randn({d}, 40 + e, 0.5f));
    }
    CHECK_GRADCHECK(
        [&](const std::vector<Var>& v) {
          std::vector<ops::ExpertVars> ev;
          for (int64_t e = 0; e < E; ++e) ev.push_back({v[2 + 4 * e], v[3 + 4 * e], v[4 + 4 * e], v[5 + 4 * e]});
          return ops::moe_experts(v[0], std::make_shared<const DispatchPlan>(plan), v[1], ev, shape);
        },
        inputs);
  }
}

TEST_CASE("MoE with one expert and top-1 equals the dense MLP with the same weights") {
  nn::ModelConfig cfg = moe_config(1, 1, "topk");
  Rng rng(3);
  nn::MoE moe(cfg, 1, 5, rng);
  randomize(moe, 100, 0.5f);
  Tensor x = randn({2, 5, 8}, 4);
  Tensor y = forward(moe, x).value();
  ag::NoGrad ng;
  Tensor ref = (*moe.experts)[0].forward(Var(x)).value();
  REQUIRE(y.shape() == ref.shape());
  double worst = 0;
  for (int64_t i = 0; i < y.numel(); ++i) worst = std::max(worst, double(std::abs(y[i] - ref[i])));
  CHECK(worst < 1e-6);
}

TEST_CASE("dropless top-k equals a naive per-token loop (plain, renormalised, Mixtral softmax over the top-k)") {
  struct Case { int k; bool renorm, topk_softmax; };
  for (Case c : {Case{1, false, false}, Case{2, false, false}, Case{2, true, false}, Case{3, false, true}}) {
    CAPTURE(c.k);
    CAPTURE(c.renorm);
    CAPTURE(c.topk_softmax);
    nn::ModelConfig cfg = moe_config(5, c.k, "topk");
    cfg.moe.router.renorm = c.renorm;
    cfg.moe.router.topk_softmax = c.topk_softmax;
    Rng rng(7);
    nn::MoE moe(cfg, 1, 5, rng);
    randomize(moe, 200, 0.5f);
    const int64_t N = 16, d = 8, E = 5;
    Tensor x = randn({N, d}, 8);
    Tensor y = forward(moe, x).value();
    const Tensor& W = router_weight(moe);
    double worst = 0;
    for (int64_t n = 0; n < N; ++n) {
      std::vector<double> logit(E), p(E);
      double mx = -1e30, z = 0;
      for (int64_t e = 0; e < E; ++e) {
        for (int64_t j = 0; j < d; ++j) logit[e] += double(W[e * d + j]) * x[n * d + j];
        mx = std::max(mx, logit[e]);
      }
      for (int64_t e = 0; e < E; ++e) z += std::exp(logit[e] - mx);
      for (int64_t e = 0; e < E; ++e) p[e] = std::exp(logit[e] - mx) / z;
      std::vector<int> order(E);
      for (int e = 0; e < E; ++e) order[e] = e;
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
      double kept = 0;
      for (int j = 0; j < c.k; ++j) kept += p[order[j]];
      std::vector<double> ref(d, 0.0);
      for (int j = 0; j < c.k; ++j) {
        const double g = (c.renorm || c.topk_softmax) ? p[order[j]] / kept : p[order[j]];
        std::vector<float> ye = expert_row(moe, order[j], x, n);
        for (int64_t i = 0; i < d; ++i) ref[i] += g * ye[i];
      }
      for (int64_t i = 0; i < d; ++i) worst = std::max(worst, std::abs(ref[i] - y[n * d + i]));
    }
    CHECK(worst < 2e-6);
  }
}

TEST_CASE("capacity drops exactly the predicted tokens: token order within an expert, dropped output exactly 0") {
  nn::ModelConfig cfg = moe_config(4, 1, "topk");
  cfg.moe.capacity.factor = 1.0;  // google: floor(8 * 1.0 / 4) = 2 slots per expert
  Rng rng(9);
  nn::MoE moe(cfg, 1, 5, rng);
  randomize(moe, 300, 0.5f);
  Tensor& W = router_weight(moe);
  for (int64_t i = 0; i < W.numel(); ++i) W[i] = 0.f;
  for (int64_t j = 0; j < 8; ++j) W[2 * 8 + j] = 1.f;  // expert 2 wins every token with a positive sum
  Tensor x = randn({8, 8}, 10);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = std::abs(x[i]) + 0.1f;
  Tensor y = forward(moe, x).value();
  const nn::MoeStats& st = moe.last_stats();
  CHECK(st.capacity == 2);
  CHECK(st.routed == std::vector<int64_t>{0, 0, 8, 0});
  CHECK(st.kept == std::vector<int64_t>{0, 0, 2, 0});
  for (int64_t n = 0; n < 8; ++n) {
    CAPTURE(n);
    double norm = 0;
    for (int64_t j = 0; j < 8; ++j) norm += std::abs(y[n * 8 + j]);
    if (n < 2) CHECK(norm > 1e-3);
    else CHECK(norm == 0.0);  // exactly zero: the residual alone carries a dropped token
  }
  // DeepSpeed/Megatron convention: ceil(T * k * CF / E) = ceil(8 * 1 * 1.0 / 4) = 2; CF 1.5 -> 3
  cfg.moe.capacity.convention = "times_k";
  cfg.moe.capacity.factor = 1.5;
  nn::MoE moe2(cfg, 1, 5, rng);
  CHECK(moe2.capacity_for(8, true) == 3);
  cfg.moe.capacity.eval_factor = 0;  // dropless at eval
  nn::MoE moe3(cfg, 1, 5, rng);
  CHECK(moe3.capacity_for(8, false) == -1);
}

TEST_CASE("capacity priority: first choices of all tokens before any second choice, or token order") {
  // d = 2; tokens 0,1 prefer expert 0 then 1; tokens 2,3 prefer expert 1 then 0; 2 slots per expert.
  for (const char* priority : {"slot", "token"}) {
    CAPTURE(priority);
    nn::ModelConfig cfg = moe_config(2, 2, "topk", 2);
    cfg.moe.capacity.factor = 1.0;
    cfg.moe.capacity.priority = priority;
    Rng rng(11);
    nn::MoE moe(cfg, 1, 5, rng);
    Tensor& W = router_weight(moe);
    W[0] = 1, W[1] = 0, W[2] = 0, W[3] = 1;
    Tensor x = Tensor::from({4, 2}, {1, 0, 1, 0, 0, 1, 0, 1});
    nn::Routing r = moe.router->route(Var(x), nn::RouteContext{nullptr, false, &moe.route_rng(), 1});
    DispatchPlan p = kernels::build_dispatch_plan(r.assignments, 4, 2, moe.capacity_for(4, false));
    if (std::string(priority) == "slot") {
      CHECK(p.token == std::vector<int32_t>{0, 1, 2, 3});  // each expert keeps its two first choices
    } else {
      CHECK(p.token == std::vector<int32_t>{0, 1, 0, 1});  // tokens 0, 1 fill both experts; 2, 3 lose both
    }
  }
}

TEST_CASE("aux losses equal hand-computed values; uniform router gives switch = alpha and z = beta log(E)^2") {
  nn::ModelConfig cfg = moe_config(4, 2, "topk");
  cfg.moe.loss.switch_aux = 0.01;
  cfg.moe.loss.z = 0.001;
  Rng rng(13);
  nn::MoE moe(cfg, 1, 5, rng);
  Tensor& W = router_weight(moe);
  for (int64_t i = 0; i < W.numel(); ++i) W[i] = 0.f;
  Tensor x = randn({6, 8}, 14);
  std::vector<nn::AuxLoss> aux;
  forward(moe, x, &aux);
  REQUIRE(aux.size() == 2);
  CHECK(aux[0].name == "switch");
  CHECK(aux[0].value.item() == doctest::Approx(0.01).epsilon(1e-6));
  CHECK(aux[1].name == "z");
  CHECK(aux[1].value.item() == doctest::Approx(0.001 * std::log(4.0) * std::log(4.0)).epsilon(1e-6));
  // ties: all probabilities equal, so every token takes experts 0 and 1 (lower index wins)
  CHECK(moe.last_stats().routed == std::vector<int64_t>{6, 6, 0, 0});

  // a non-uniform case by hand, in double
  randomize(moe, 400, 1.0f);
  aux.clear();
  forward(moe, x, &aux);
  const int64_t N = 6, d = 8, E = 4, k = 2;
  std::vector<double> P(E, 0.0), f(E, 0.0);
  double z = 0;
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> l(E, 0.0), p(E);
    for (int64_t e = 0; e < E; ++e)
      for (int64_t j = 0; j < d; ++j) l[e] += double(W[e * d + j]) * x[n * d + j];
    const double mx = *std::max_element(l.begin(), l.end());
    double s = 0;
    for (int64_t e = 0; e < E; ++e) s += std::exp(l[e] - mx);
    const double lse = mx + std::log(s);
    z += lse * lse / N;
    std::vector<int> order = {0, 1, 2, 3};
    for (int64_t e = 0; e < E; ++e) p[e] = std::exp(l[e] - lse), P[e] += p[e] / N;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
    for (int j = 0; j < k; ++j) f[order[j]] += 1.0 / (N * k);
  }
  double sw = 0;
  for (int64_t e = 0; e < E; ++e) sw += f[e] * P[e];
  sw *= 0.01 * E;
  CHECK(aux[0].value.item() == doctest::Approx(sw).epsilon(1e-5));
  CHECK(aux[1].value.item() == doctest::Approx(0.001 * z).epsilon(1e-5));
}

TEST_CASE("expert choice gives every expert exactly C tokens; hash routing is fixed by the token id") {
  nn::ModelConfig cfg = moe_config(4, 1, "expert_choice");
  cfg.moe.router.ec_factor = 2.0;
  Rng rng(15);
  nn::MoE moe(cfg, 1, 5, rng);
  randomize(moe, 500, 0.5f);
  forward(moe, randn({12, 8}, 16));
  CHECK(moe.router->causal() == false);
  CHECK(moe.last_stats().kept == std::vector<int64_t>{6, 6, 6, 6});  // floor(12 * 2 / 4)

  nn::ModelConfig hc = moe_config(4, 1, "hash");
  nn::MoE hash(hc, 1, 5, rng);
  IndexTensor ids = IndexTensor::from({6}, {3, 5, 3, 7, 5, 3});
  forward(hash, randn({6, 8}, 17), nullptr, ids);
  nn::Routing r = hash.router->route(Var(randn({6, 8}, 18)), nn::RouteContext{&ids, true, &hash.route_rng(), 1});
  CHECK(r.assignments[0].expert == r.assignments[2].expert);  // same token id, same expert
  CHECK(r.assignments[0].expert == r.assignments[5].expert);
  CHECK(r.assignments[1].expert == r.assignments[4].expert);
  CHECK(hash.named_parameters().size() == 4 * 4);  // experts only: no router parameters
}

TEST_CASE("aux-loss-free bias balancing: selection only, bias moves against the load, never a gradient") {
  nn::ModelConfig cfg = moe_config(4, 1, "topk");
  cfg.moe.router.bias_rate = 0.01;
  Rng rng(19);
  nn::MoE moe(cfg, 1, 5, rng);
  randomize(moe, 600, 0.5f);
  Tensor& W = router_weight(moe);
  for (int64_t i = 0; i < W.numel(); ++i) W[i] = 0.f;
  for (int64_t j = 0; j < 8; ++j) W[1 * 8 + j] = 1.f;
  Tensor x = randn({8, 8}, 20);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = std::abs(x[i]);
  auto buffers = moe.named_buffers();
  REQUIRE(buffers.size() == 1);
  CHECK(buffers[0].name == "router.bias_balance");
  Tensor bias = *buffers[0].tensor;
  forward(moe, x);  // training: all 8 tokens on expert 1 -> b1 -= rate, others += rate
  CHECK(moe.last_stats().routed == std::vector<int64_t>{0, 8, 0, 0});
  CHECK(bias[0] == doctest::Approx(0.01));
  CHECK(bias[1] == doctest::Approx(-0.01));
  // a large bias redirects the selection, but the gate stays the unbiased probability
  bias[1] = -10.f;
  bias[3] = 10.f;
  moe.set_training(false);
  nn::Routing r = moe.router->route(Var(x), nn::RouteContext{nullptr, false, &moe.route_rng(), 1});
  for (const Assignment& a : r.assignments) CHECK(a.expert == 3);
  for (int64_t n = 0; n < 8; ++n) CHECK(r.gates.data()[n] == doctest::Approx(r.probs[n * 4 + 3]));
  CHECK(moe.named_parameters().size() == 1 + 4 * 4);  // the bias is a buffer, not a parameter
}

TEST_CASE("MoE layer gradcheck for every router: input, router and expert parameters, through gates and aux losses") {
  struct Case {
    const char* router;
    int k;
    bool renorm;
    bool training;
    bool topk_softmax = false;
    double random_second = 0;
  };
  for (Case c : {Case{"soft", 1, false, false}, Case{"topk", 1, false, false}, Case{"topk", 2, true, false},
                 Case{"topk", 2, false, false}, Case{"topk", 2, false, false, true},  // Mixtral: softmax of the top-k
                 Case{"topk", 2, true, true, false, 0.2},  // GShard random routing (training), gates renormalised
                 Case{"noisy_topk", 2, false, true}, Case{"expert_choice", 1, false, false}, Case{"hash", 1, false, false}}) {
    CAPTURE(c.router);
    CAPTURE(c.k);
    CAPTURE(c.renorm);
    CAPTURE(c.topk_softmax);
    CAPTURE(c.random_second);
    nn::ModelConfig cfg = moe_config(3, c.k, c.router, 4);
    cfg.moe.router.renorm = c.renorm;
    cfg.moe.router.topk_softmax = c.topk_softmax;
    cfg.moe.router.random_second = c.random_second;
    cfg.moe.loss.switch_aux = 0.5;  // large coefficients so the aux gradients matter numerically
    cfg.moe.loss.z = 0.1;
    cfg.moe.loss.importance = 0.5;
    cfg.moe.loss.load = 0.5;
    Rng rng(21);
    nn::MoE moe(cfg, 1, 5, rng);
    randomize(moe, 700, 0.8f);
    moe.set_training(c.training);
    const int64_t N = 6, d = 4;
    IndexTensor ids = randint({N}, 13, 22);
    Tensor R = randn({N, d}, 23);
    // the same noise every evaluation (noisy_topk draws from the layer's stream)
    auto f = [&](const Var& x) {
      moe.route_rng().set_counter(0);
      return layer_objective(moe, x, ids, R);
    };
    CHECK_GRADCHECK([&](const std::vector<Var>& v) { return f(v[0]); }, {randn({N, d}, 24)});
    Tensor x = randn({N, d}, 24);
    f(Var(x));
    ag::clear_tape();
    const std::vector<int64_t> kept = moe.last_stats().kept;
    if (c.random_second > 0) {  // some second choices were really dropped: the random path was taken
      int64_t assigned = 0;
      for (int64_t e : moe.last_stats().routed) assigned += e;
      CHECK(assigned > N);
      CHECK(assigned < N * c.k);
    }
    for (const auto& np : moe.named_parameters()) {
      CAPTURE(np.name);
      // an expert that got no token has an exactly zero gradient; every other parameter a real one
      const bool idle = np.name.rfind("experts.", 0) == 0 && kept[std::stoi(np.name.substr(8))] == 0;
      GradcheckResult r = param_fd(moe, [&] { return f(Var(x)); }, np.param->var, 12, 99, kAtol, kRtol, idle ? -1 : 1e-4);
      INFO(r.report);
      CHECK(r.ok);
      if (idle) CHECK(r.max_abs_numeric == 0.0);
      else CHECK(r.max_abs_numeric > 1e-4);
    }
  }
}

TEST_CASE("GShard random routing keeps the 2nd expert iff U < g2 / theta (training only)") {
  nn::ModelConfig cfg = moe_config(4, 2, "topk");
  Rng rng(25);
  const int64_t N = 1000;
  Tensor x = randn({N, 8}, 26);
  for (double theta : {0.5, 1.0}) {
    CAPTURE(theta);
    cfg.moe.router.random_second = theta;
    nn::MoE moe(cfg, 1, 5, rng);
    Tensor& W = router_weight(moe);
    for (int64_t i = 0; i < W.numel(); ++i) W[i] = 0.f;  // p uniform: g2 = p2 / (p1 + p2) = 0.5 exactly
    nn::Routing r = moe.router->route(Var(x), nn::RouteContext{nullptr, true, &moe.route_rng(), 1});
    int64_t second = 0;
    for (const Assignment& a : r.assignments) second += a.gate_index % 2;
    if (theta == 0.5) CHECK(second == N);  // 0.5 / 0.5 = 1 > any U in [0, 1)
    else CHECK(std::abs(second - N / 2) < 60);  // kept with probability 0.5 (N = 1000, 4 sigma ~ 63)
    nn::Routing ev = moe.router->route(Var(x), nn::RouteContext{nullptr, false, &moe.route_rng(), 1});
    CHECK(static_cast<int64_t>(ev.assignments.size()) == 2 * N);  // never at eval
  }
}

TEST_CASE("MoE forward and backward are bitwise identical with 1 and 2 threads") {
  nn::ModelConfig cfg = moe_config(6, 2, "topk", 16);
  cfg.moe.capacity.factor = 1.0;
  Rng rng(27);
  nn::MoE moe(cfg, 1, 5, rng);
  randomize(moe, 800, 0.5f);
  Tensor x = randn({64, 16}, 28), R = randn({64, 16}, 29);
  auto run = [&](int threads) {
    omp_set_num_threads(threads);
    for (const auto& np : moe.named_parameters()) np.param->var.clear_grad();
    Var xv(x.clone(), true);
    ag::backward(layer_objective(moe, xv, IndexTensor(), R));
    std::vector<float> out(xv.grad().data(), xv.grad().data() + xv.numel());
    for (const auto& np : moe.named_parameters())
      if (np.param->var.has_grad()) out.insert(out.end(), np.param->var.grad().data(), np.param->var.grad().data() + np.param->var.numel());
    return out;
  };
  const std::vector<float> one = run(1), two = run(2);
  omp_set_num_threads(1);
  REQUIRE(one.size() == two.size());
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
}

TEST_CASE("routing stats: the one-log-per-token entropy equals -sum p log p") {
  nn::ModelConfig cfg = moe_config(6, 2, "topk");
  Rng rng(31);
  nn::MoE moe(cfg, 1, 5, rng);
  randomize(moe, 900, 1.5f);
  Tensor x = randn({20, 8}, 32);
  forward(moe, x);
  nn::Routing r = moe.router->route(Var(x), nn::RouteContext{nullptr, false, &moe.route_rng(), 1});
  double h = 0;
  for (int64_t i = 0; i < r.probs.numel(); ++i)
    if (r.probs[i] > 0) h -= r.probs[i] * std::log(double(r.probs[i]));
  CHECK(moe.last_stats().mean_token_entropy == doctest::Approx(h / 20).epsilon(1e-5));
}

TEST_CASE("noisy top-k starts at zero (Shazeer 2017): W_g and W_noise are 0, so only the noise routes at first") {
  nn::ModelConfig cfg = moe_config(4, 2, "noisy_topk");
  Rng rng(31);
  nn::MoE moe(cfg, 1, 5, rng);
  int found = 0;
  for (const auto& np : moe.named_parameters()) {
    if (np.name != "router.weight" && np.name != "router.w_noise") continue;
    ++found;
    CAPTURE(np.name);
    const Tensor& w = np.param->var.value();
    for (int64_t i = 0; i < w.numel(); ++i) REQUIRE(w[i] == 0.f);
  }
  CHECK(found == 2);
  // at eval (no noise) every score is 0: all tie, so every token takes the lowest indices, gates 1/2 each
  moe.set_training(false);
  nn::Routing r = moe.router->route(Var(randn({8, 8}, 32)), nn::RouteContext{nullptr, false, &moe.route_rng(), 1});
  REQUIRE(r.assignments.size() == 16);
  for (const Assignment& a : r.assignments) CHECK(a.expert < 2);
  for (int64_t i = 0; i < 16; ++i) CHECK(r.gates.value()[i] == doctest::Approx(0.5));
  // training: the noise alone spreads tokens over every expert
  moe.set_training(true);
  nn::Routing t = moe.router->route(Var(randn({64, 8}, 33)), nn::RouteContext{nullptr, true, &moe.route_rng(), 1});
  std::set<int32_t> used;
  for (const Assignment& a : t.assignments) used.insert(a.expert);
  CHECK(used.size() == 4);
}
