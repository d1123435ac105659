#include "bench/model_bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "autograd/tape.h"
#include "core/error.h"
#include "core/parallel.h"
#include "layers/flops.h"
#include "layers/gpt.h"
#include "train/data/batch.h"
#include "train/memory.h"
#include "train/trainer.h"

namespace moelab::bench {

using clock = std::chrono::steady_clock;

void run_model_bench(const train::RunConfig& cfg_in, const ModelBenchOptions& o, std::ostream& out) {
  train::RunConfig cfg = cfg_in;
  cfg.model.vocab_size = o.vocab;
  MOELAB_CHECK(o.steps <= 1000000, "bench model: --steps ", o.steps, " is more than 1000000 (each is timed and kept)");
  MOELAB_CHECK(o.warmup <= 1000000, "bench model: --warmup ", o.warmup, " is more than 1000000");
  train::check_fits_in_memory(cfg.model, cfg.train.batch_size, 0);  // --vocab 2e9 or n_embd 1e6: an error, not bad_alloc
  nn::GPT model(cfg.model, cfg.train.seed);
  auto opt = train::make_optimizer(model, cfg.optim);
  const int64_t B = cfg.train.batch_size, T = cfg.model.block_size;
  Rng data_rng(cfg.train.seed, 9);
  std::vector<int32_t> random_tokens;
  for (int64_t i = 0; i < 100000; ++i) random_tokens.push_back(static_cast<int32_t>(data_rng.randint(o.vocab)));
  const train::TokenStream s(std::move(random_tokens));
  std::vector<double> ms, ms_fwd, ms_bwd, ms_opt;
  auto since = [](clock::time_point t) { return std::chrono::duration<double, std::milli>(clock::now() - t).count(); };
  for (int64_t i = 0; i < int64_t{o.warmup} + o.steps; ++i) {
    const auto t0 = clock::now();
    train::Batch b = train::sample_batch(s, B, T, data_rng);
    nn::ModelOutput r = model.forward(b.ids, b.targets);
    const double f = since(t0);
    autograd::backward(r.total);
    const double fb = since(t0);
    opt->step(1e-4f, optim::clip_scale(optim::grad_norm(opt->params()), cfg.optim.grad_clip));
    opt->zero_grad();
    if (i >= o.warmup) {
      ms.push_back(since(t0));
      ms_fwd.push_back(f);
      ms_bwd.push_back(fb - f);
      ms_opt.push_back(ms.back() - fb);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double med = median(ms);
  const double tps = B * T / (med / 1000.0);
  const double gflops = nn::flops_per_token(cfg.model) * tps * 1e-9;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  char line[512];
  std::snprintf(line, sizeof line,
                "{\"threads\": %d, \"params\": %lld, \"batch\": %lld, \"block\": %lld, \"steps\": %d, "
                "\"median_ms\": %.2f, \"fwd_ms\": %.2f, \"bwd_ms\": %.2f, \"opt_ms\": %.2f, \"tokens_per_s\": %.0f, "
                "\"gflops\": %.1f, \"peak_rss_mb\": %.1f}\n",
                num_threads(), static_cast<long long>(model.num_parameters()), static_cast<long long>(B),
                static_cast<long long>(T), o.steps, med, median(ms_fwd), median(ms_bwd), median(ms_opt), tps, gflops,
                ru.ru_maxrss / 1024.0);
  out << line;
}

}  // namespace moelab::bench
