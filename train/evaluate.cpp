#include "train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "autograd/tape.h"
#include "core/error.h"
#include "train/checkpoint/checkpoint.h"
#include "train/data/batch.h"
#include "train/data/corpus.h"
#include "train/io/atomic_file.h"
#include "train/io/safetensors.h"

namespace moelab::train {

TokenStream val_split_of(const std::string& run, const Tokenizer& tokenizer) {
  const std::string side = checkpoint_dir(run) + "/model.json";
  RunConfig other;
  try {
    other = parse_config(read_sidecar(side).at("config"));
  } catch (const std::exception& e) {
    throw Error(side + ": " + e.what());
  }
  return build_corpus(other.data, &tokenizer).val;
}

TokenStream whole_files(const std::vector<std::string>& paths, DataConfig data, const Tokenizer& tokenizer) {
  data.train = paths;
  data.val.clear();
  data.val_fraction = 0;
  return build_corpus(data, &tokenizer).train;
}

std::vector<double> run_eval(const std::string& ckpt, const EvalOptions& opts, std::ostream& out) {
  // outputs first: a path that cannot be written is an error before any work
  if (!opts.grads_out.empty()) output_file(opts.grads_out, "eval --grads-out");
  if (!opts.dump_tokens.empty()) output_file(opts.dump_tokens, "eval --dump-tokens");
  LoadedModel lm = load_checkpoint(ckpt);
  std::vector<std::pair<std::string, TokenStream>> sets;
  if (opts.data.empty() && opts.val_of.empty()) {
    Corpus c = build_corpus(lm.config.data, &lm.tokenizer);
    sets.emplace_back("val split of the run's data", std::move(c.val));
  }
  for (const std::string& p : opts.data) sets.emplace_back(p, whole_files({p}, lm.config.data, lm.tokenizer));
  for (const std::string& run : opts.val_of) {  // another run's held-out data (e.g. an earlier stage's)
    try {
      sets.emplace_back("val split of " + run, val_split_of(run, lm.tokenizer));
    } catch (const std::exception& e) {
      throw Error(std::string("eval --val-of: ") + e.what());
    }
  }
  const int64_t T = lm.config.model.block_size;
  std::vector<double> losses;
  std::optional<autograd::NoGrad> no_grad;
  if (opts.grads_out.empty()) no_grad.emplace();
  lm.model->set_training(false);
  for (auto& [name, s] : sets) {
    const int64_t available = (s.size() - 1) / (int64_t{opts.batch} * T);
    MOELAB_CHECK(available >= 1, "eval: ", name, " has ", s.size(), " tokens, fewer than one batch of ",
                 opts.batch, "x", T, " + 1");
    const int64_t n = std::min<int64_t>(opts.batches, available);
    const bool grads = !opts.grads_out.empty() && &name == &sets.front().first;
    double ce = 0, total = 0;
    std::vector<Batch> evaluated;  // kept only for their targets' bytes
    int64_t routed = 0, kept = 0;  // assignments before and after capacity, over all MoE layers
    std::set<int64_t> capacities;  // per expert, of each MoE layer (-1: dropless)
    std::map<std::string, double> aux;
    for (int64_t i = 0; i < n; ++i) {
      Batch b = sequential_batch(s, opts.batch, T, i);
      evaluated.push_back(Batch{IndexTensor(), b.targets, {}});
      nn::ModelOutput r = lm.model->forward(b.ids, b.targets);
      ce += r.loss.item();
      total += r.total.item();
      for (const nn::LayerAuxLoss& a : r.aux) aux[a.name] += a.value.item();
      for (int l : lm.model->moe_layers()) {
        const nn::MoeStats& st = lm.model->moe(l).last_stats();
        for (size_t e = 0; e < st.routed.size(); ++e) routed += st.routed[e], kept += st.kept[e];
        capacities.insert(st.capacity);
      }
      if (grads) autograd::backward(ops::scale(r.total, 1.f / static_cast<float>(n)));
      else autograd::clear_tape();
    }
    MOELAB_CHECK(std::isfinite(ce) && std::isfinite(total), "eval: ", ckpt, " gives a non-finite loss on ", name, " (",
                 ce / n, "): the model's outputs are not finite");
    losses.push_back(ce / n);
    char line[64];
    std::snprintf(line, sizeof line, "%.6f", losses.back());
    out << name << ": loss " << line;
    std::snprintf(line, sizeof line, "%.6f",
                  losses.back() / std::log(2.0) * targets_per_byte(evaluated, lm.tokenizer.bytes_per_token()));
    out << " bpb " << line << " (" << n << " batches of " << opts.batch << "x" << T << ")";
    if (!aux.empty()) {
      std::snprintf(line, sizeof line, "%.6f", total / n);
      out << " total " << line;
      for (const auto& [k, v] : aux) {
        std::snprintf(line, sizeof line, "%.6f", v / n);
        out << " " << k << " " << line;
      }
    }
    if (routed > 0) {
      std::snprintf(line, sizeof line, "%.6f", 1.0 - static_cast<double>(kept) / static_cast<double>(routed));
      out << " drop_frac " << line;
    }
    if (!capacities.empty() && *capacities.rbegin() > 0) {
      out << " capacity ";
      for (int64_t c : capacities) out << (c == *capacities.begin() ? "" : ",") << c;
    }
    out << "\n";
    if (grads) {
      SafeTensors g;
      for (auto& np : lm.model->named_parameters())
        g.tensors[np.name] = np.param->var.has_grad() ? np.param->var.grad() : Tensor::zeros(np.param->var.shape());
      write_safetensors(opts.grads_out, g);
    }
    if (!opts.dump_tokens.empty() && &name == &sets.front().first) {
      std::string bytes;
      const int64_t count = n * opts.batch * T + 1;
      std::vector<int32_t> ids(count);
      s.read(0, count, ids.data());
      for (int64_t i = 0; i < count; ++i) {
        const auto v = static_cast<uint16_t>(ids[i]);
        bytes += static_cast<char>(v & 0xFF);
        bytes += static_cast<char>(v >> 8);
      }
      write_file_atomic(opts.dump_tokens, bytes);  // checked to the end (a full disk is an error)
    }
  }
  return losses;
}

}  // namespace moelab::train
