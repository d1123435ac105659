// Every key of the run config, once. Defaults are the members' initial values (layers/config.h,
// optim/config.h, train/config/run_config.h); the reference in docs/config.md is generated from
// these tables (`moelab config reference`), and a test fails when it is stale.
#include "train/config/schema.h"

#include <algorithm>

#include "core/error.h"
#include "layers/ffn.h"
#include "layers/moe/aux_losses.h"
#include "layers/moe/router.h"
#include "optim/registry.h"
#include "train/config/run_config.h"

namespace moelab::train::schema {

namespace {

bool moe_enabled(const RunConfig& c) { return c.model.moe.enabled(); }

int fewest_experts(const nn::MoeConfig& m) {
  int fewest = m.num_experts;
  for (const auto& [layer, e] : m.experts_by_layer) fewest = std::min(fewest, e);
  return fewest;
}

std::vector<Section> make_sections() {
  return {
      {"model", "The network. The vocabulary size comes from the tokenizer. Parameters are named as in nanoGPT "
                "(`transformer.h.0.attn.c_attn.weight`, [out, in] layouts) and initialised as nanoGPT does: "
                "N(0, 0.02), `c_proj` weights N(0, 0.02/sqrt(2 n_layer)), zero biases, norm weights 1; the "
                "language-model head is tied to `transformer.wte.weight`.",
       false},
      {"model.ffn", "The feed-forward block of dense layers (and the experts' activation and width).", false},
      {"model.moe", "Mixture-of-Experts layers. Absent, null or `num_experts` 0: a dense model. Formulas: docs/moe.md.",
       true},
      {"model.moe.router", "How tokens pick experts.", false},
      {"model.moe.capacity", "Expert capacity: how many assignments an expert keeps per forward pass.", false},
      {"model.moe.loss", "Coefficients of the auxiliary losses (each logged per layer as `aux.NAME.hL`).", false},
      {"data", "The corpus. Each source file is a domain; every token keeps its file's index.", false},
      {"train", "The training loop and the run folder.", false},
      {"optim", "The optimizer and the learning-rate schedule.", false},
      {"lifelong", "A Lifelong-MoE stage (docs/lifelong.md). Absent: an ordinary run.", false},
      {"dist", "Training on several processes with mpirun (docs/distributed.md); one process ignores it.", false},
  };
}

std::vector<Key> make_keys() {
  return {
      // model
      number("model.n_layer", FIELD(model.n_layer), "transformer blocks").min(1),
      number("model.n_head", FIELD(model.n_head), "attention heads; must divide n_embd").min(1),
      number("model.n_embd", FIELD(model.n_embd), "model width d").min(1),
      number("model.block_size", FIELD(model.block_size), "context length T").min(1),
      number("model.dropout", FIELD(model.dropout), "dropout on embeddings, attention and FFN outputs while training")
          .min(0).below(1),
      boolean("model.bias", FIELD(model.bias), "biases in Linear layers and LayerNorm"),
      string("model.norm", FIELD(model.norm), "`layernorm` (eps 1e-5) or `rmsnorm`").one_of({"layernorm", "rmsnorm"}),
      // model.ffn
      string("model.ffn.type", FIELD(model.ffn.type), "FFN kind of dense layers: mlp, or a registered kind (docs/extending.md)")
          .registered(nn::ffn_kinds, "a registered FFN kind")
          .check([](const std::string& v) { return v != "moe"; },
                 [](const std::string&) { return std::string("MoE layers are configured by model.moe (num_experts, every ...)"); },
                 "not moe"),
      string("model.ffn.activation", FIELD(model.ffn.activation),
             "gelu (exact erf), gelu_tanh, relu, silu; gated (c_fc 2x wide, act(gate) x value): swiglu, geglu, reglu")
          .registered(nn::activation_names, "a registered activation"),
      number("model.ffn.mult", FIELD(model.ffn.mult), "hidden width = mult x n_embd").min(1),
      object("model.ffn.params", FIELD(model.ffn.params), "free-form settings for a registered FFN kind"),
      // model.moe
      number("model.moe.num_experts", FIELD(model.moe.num_experts), "routed experts E per MoE layer").min(0)
          .note("0 = dense"),
      int_map("model.moe.experts_by_layer", FIELD(model.moe.experts_by_layer),
              "per-layer overrides of num_experts, e.g. {\"3\": 12} (written by `moelab expand --layers`)"),
      number("model.moe.top_k", FIELD(model.moe.top_k), "experts per token for token-choice routers").min(1),
      number("model.moe.every", FIELD(model.moe.every), "MoE on layers offset, offset + every, ...").min(1),
      number("model.moe.offset", FIELD(model.moe.offset), "the first MoE layer").min(-1)
          .note("-1 = every - 1: layers 1, 3, 5 ... for every 2, like GLaM"),
      int_list("model.moe.layers", FIELD(model.moe.layers), "explicit MoE layers instead of every/offset, e.g. [0, 2]", 0),
      string("model.moe.pattern", FIELD(model.moe.pattern), "or one letter per layer, D dense / M MoE, e.g. \"DMDM\"")
          .check([](const std::string& v) { return v.find_first_not_of("DM") == std::string::npos; },
                 [](const std::string& v) { return "\"" + v + "\" may only hold D (dense) and M (MoE)"; },
                 "letters D and M"),
      number("model.moe.expert_hidden", FIELD(model.moe.expert_hidden), "hidden width of each routed expert").min(0)
          .note("0 = ffn.mult x n_embd"),
      number("model.moe.shared_experts", FIELD(model.moe.shared_experts),
             "always-on experts every token passes through (DeepSeekMoE)").min(0),
      number("model.moe.shared_hidden", FIELD(model.moe.shared_hidden), "their hidden width").min(0)
          .note("0 = expert width"),
      // model.moe.router
      string("model.moe.router.type", FIELD(model.moe.router.type),
             "soft, topk (Switch, GShard, GLaM, Mixtral), noisy_topk (Shazeer 2017), expert_choice, hash")
          .registered(nn::router_names, "a registered router"),
      boolean("model.moe.router.renorm", FIELD(model.moe.router.renorm), "topk: renormalise the kept k gates to sum 1"),
      boolean("model.moe.router.topk_softmax", FIELD(model.moe.router.topk_softmax),
              "topk: softmax over the kept k logits (Mixtral); exclusive with renorm"),
      number("model.moe.router.random_second", FIELD(model.moe.router.random_second),
             "topk with k 2: GShard random routing threshold theta").min(0).note("0 = off"),
      number("model.moe.router.bias_rate", FIELD(model.moe.router.bias_rate),
             "topk: aux-loss-free bias balancing rate gamma (DeepSeek-V3)").min(0).note("0 = off"),
      number("model.moe.router.noise_eps", FIELD(model.moe.router.noise_eps),
             "noisy_topk: floor added to the noise stddev").above(0),
      number("model.moe.router.ec_factor", FIELD(model.moe.router.ec_factor),
             "expert_choice: tokens per expert = floor(T x ec_factor / E)").above(0),
      object("model.moe.router.params", FIELD(model.moe.router.params), "free-form settings for a registered router"),
      // model.moe.capacity
      number("model.moe.capacity.factor", FIELD(model.moe.capacity.factor), "capacity factor CF while training")
          .min(0).note("0 = dropless"),
      number("model.moe.capacity.eval_factor", FIELD(model.moe.capacity.eval_factor), "capacity factor at eval")
          .min(-1).note("< 0 = same as factor, 0 = dropless"),
      string("model.moe.capacity.convention", FIELD(model.moe.capacity.convention),
             "google: max(1, floor(T x CF / E)) (Switch, mesh-tf); times_k: ceil(T x k x CF / E) (DeepSpeed, Megatron); "
             "computed on the exact value of CF as written (docs/moe.md)")
          .one_of({"google", "times_k"}),
      string("model.moe.capacity.priority", FIELD(model.moe.capacity.priority),
             "which assignments an expert keeps: slot = every first choice before any second one; token = token order")
          .one_of({"slot", "token"}),
      number("model.moe.capacity.groups", FIELD(model.moe.capacity.groups),
             "the batch's rows form this many equal groups, each with its own capacity and expert-choice "
             "selection (GShard's groups; a data-parallel run needs a multiple of its processes)")
          .min(1),
      // model.moe.loss
      number("model.moe.loss.switch", FIELD(model.moe.loss.switch_aux),
             "Switch load balancing alpha (the loss equals alpha under uniform routing, any k)").min(0),
      number("model.moe.loss.z", FIELD(model.moe.loss.z), "router z-loss beta").min(0),
      number("model.moe.loss.importance", FIELD(model.moe.loss.importance), "noisy_topk: CV(importance)^2 weight").min(0),
      number("model.moe.loss.load", FIELD(model.moe.loss.load), "noisy_topk: CV(smooth load)^2 weight").min(0),
      number_family("model.moe.loss", FIELD(model.moe.loss.extra),
                    "coefficient of a registered aux loss <name> (on when > 0)", nn::aux_loss_names, 0),
      // data
      paths("data.train", FIELD(data.train),
            "text files or folders (a folder: every regular file in it, sorted; *.dat, *.u8 and dotfiles skipped); "
            "or token files: a `moelab prepare` folder (its train shards), shard files, a glob of them "
            "(docs/data.md)", true),
      paths("data.val", FIELD(data.val),
            "separate validation files; when absent the last val_fraction of each training file is held out (a "
            "prepared folder in data.train brings its val shards)", false),
      number("data.val_fraction", FIELD(data.val_fraction),
             "held out of each training text file when data.val is absent (token files are split by prepare)")
          .min(0).below(1),
      string("data.tokenizer", FIELD(data.tokenizer),
             "char: the sorted distinct Unicode characters of all loaded text (valid UTF-8); byte: 256 byte ids; "
             "bpe: byte-level BPE, loaded from data.tokenizer_path or learned from the training text with "
             "data.vocab_size tokens; gpt2: GPT-2's tokenizer (50257 tokens, from npm's js-tiktoken); "
             "token files use the tokenizer.json beside them instead")
          .one_of({"char", "byte", "bpe", "gpt2"}),
      string("data.tokenizer_path", FIELD(data.tokenizer_path),
             "bpe: a Hugging Face tokenizer.json (e.g. from `moelab tokenizer train`); gpt2: js-tiktoken's "
             "dist/ranks/gpt2.js (default: found in node_modules or $MOELAB_GPT2_RANKS)"),
      number("data.vocab_size", FIELD(data.vocab_size),
             "bpe without tokenizer_path: tokens to learn from the training files (256 bytes + merges + <|endoftext|>)")
          .min(0),
      string("data.format", FIELD(data.format),
             "fortunes: drop the % separator lines of fortune files; text: as is; shards: llm.c token shards "
             "(`moelab prepare`); nanogpt: raw uint16 tokens (nanoGPT's train.bin); auto: shards for a folder with "
             "meta.json or llm.c shards, a glob or a *.bin file starting with a shard magic, else fortunes when "
             "FILE.dat exists, else text")
          .one_of({"auto", "text", "fortunes", "shards", "nanogpt"}),
      // train
      number("train.batch_size", FIELD(train.batch_size), "sequences per step").min(1),
      number("train.max_iters", FIELD(train.max_iters), "optimizer steps").min(0),
      number("train.eval_interval", FIELD(train.eval_interval), "evaluate every N steps (and at the end)").min(1),
      number("train.eval_iters", FIELD(train.eval_iters),
             "fixed batches (drawn once, seeded) for the train and val loss estimates").min(1),
      number("train.log_interval", FIELD(train.log_interval), "a metrics row every N steps").min(1),
      number("train.seed", FIELD(train.seed), "initialisation, batch sampling, dropout and routing noise"),
      number("train.threads", FIELD(train.threads), "threads for OpenMP loops and BLAS (moelab --threads wins)").min(0)
          .note("0 = OMP_NUM_THREADS or all cores"),
      number("train.checkpoint_interval", FIELD(train.checkpoint_interval),
             "save every N steps (also on SIGINT/SIGTERM and at the end)").min(0).note("0 = only at the end"),
      number("train.keep_checkpoints", FIELD(train.keep_checkpoints),
             "checkpoint folders kept in OUT/checkpoints (oldest removed first, never the latest; docs/checkpoints.md)")
          .min(0).note("0 keeps all"),
      boolean("train.routing_metrics", FIELD(train.routing_metrics),
              "per-MoE-layer routing metrics in metrics.jsonl (docs/metrics.md); false keeps only the loss rows"),
      number("train.max_bad_steps", FIELD(train.max_bad_steps),
             "consecutive steps with a non-finite loss or gradient (each skipped and logged) before training aborts")
          .min(1),
      string("train.batch_offsets", FIELD(train.batch_offsets),
             "replay: a little-endian int32 file of batch_size window starts per step, instead of sampling "
             "(docs/parity.md)"),
      string("train.out_dir", FIELD(train.out_dir), "run folder (`moelab train --out DIR` overrides)").not_empty(),
      // optim
      string("optim.type", FIELD(optim.type), "adamw, sgd (momentum) or a registered optimizer")
          .registered(optim::optimizer_names, "a registered optimizer"),
      number("optim.lr", FIELD(optim.schedule.lr), "peak learning rate").above(0),
      number("optim.min_lr", FIELD(optim.schedule.min_lr), "final learning rate (<= lr)").min(0),
      number("optim.warmup_iters", FIELD(optim.schedule.warmup_iters), "linear warmup lr x (it + 1) / (warmup + 1)").min(0),
      number("optim.lr_decay_iters", FIELD(optim.schedule.lr_decay_iters),
             "cosine decay to min_lr at this step, then min_lr (>= warmup_iters)").min(0),
      boolean("optim.decay_lr", FIELD(optim.schedule.decay), "false: constant lr after warmup"),
      float_pair("optim.betas", FIELD(optim.beta1), FIELD(optim.beta2), "[beta1, beta2]", "AdamW moments", 0, 1),
      number("optim.eps", FIELD(optim.eps), "AdamW epsilon").above(0),
      number("optim.weight_decay", FIELD(optim.weight_decay),
             "decoupled (AdamW) on matmul, embedding and expert weights; none on biases, norms and routers").min(0),
      number("optim.momentum", FIELD(optim.momentum), "SGD momentum").min(0).below(1),
      number("optim.grad_clip", FIELD(optim.grad_clip), "global L2 norm clip").min(0).note("0 = off"),
      object("optim.params", FIELD(optim.params), "free-form settings for a registered optimizer"),
      // lifelong
      string("lifelong.init_from", FIELD(lifelong.init_from),
             "checkpoint to continue; its model config, tokenizer and weights are used (this config's model is ignored)"),
      boolean("lifelong.freeze_old_experts", FIELD(lifelong.freeze_old_experts),
              "experts that existed before `moelab expand` get no update, decay or optimizer state"),
      boolean("lifelong.freeze_old_router_rows", FIELD(lifelong.freeze_old_router_rows),
              "the same for their rows of each router matrix (a slice of the tensor)"),
      boolean("lifelong.freeze_non_expert", FIELD(lifelong.freeze_non_expert),
              "also freeze attention, embeddings, norms and dense FFNs"),
      number("lifelong.kl_weight", FIELD(lifelong.kl_weight),
             "lambda of the output regulariser T^2 KL(teacher || student) on the new data").min(0),
      number("lifelong.kl_temperature", FIELD(lifelong.kl_temperature), "T").above(0),
      string("lifelong.teacher", FIELD(lifelong.teacher),
             "the previous-stage model; default: the checkpoint `moelab expand` started from, else init_from"),
      paths("lifelong.old_val", FIELD(lifelong.old_val),
            "the previous stage's held-out data, text files or folders read whole (like `moelab eval --data`), for "
            "the eval rows' old_val_loss (forgetting as it happens); default: the val split of init_from's saved data "
            "config (an expanded checkpoint keeps the config of the one it grew from)", false),
      // dist
      number("dist.expert_parallel", FIELD(dist.expert_parallel),
             "processes that share one copy of the experts (EP); must divide the process count and every MoE "
             "layer's experts; DP = processes / EP")
          .min(1),
      boolean("dist.overlap", FIELD(dist.overlap),
              "start each block's gradient all-reduce as soon as backward has finished the block, while it goes on "
              "with the blocks below (false: all at the end of backward)"),
  };
}

std::vector<Rule> make_rules() {
  return {
      {"model.n_embd", "n_embd is divisible by n_head",
       [](const RunConfig& c, const std::string& w) {
         MOELAB_CHECK(c.model.n_embd % c.model.n_head == 0, w, ": ", c.model.n_embd, " is not divisible by model.n_head ",
                      c.model.n_head);
       }},
      {"model.moe.top_k", "MoE: top_k is at most the fewest experts of any MoE layer",
       [](const RunConfig& c, const std::string& w) {
         const int k = c.model.moe.top_k;
         MOELAB_CHECK(k <= fewest_experts(c.model.moe), w, ": ", k,
                      " is out of range (expected in [1, model.moe.num_experts])");
       },
       moe_enabled},
      {"model.moe.top_k", "MoE: the hash router picks one expert (top_k 1)",
       [](const RunConfig& c, const std::string& w) {
         MOELAB_CHECK(c.model.moe.router.type != "hash" || c.model.moe.top_k == 1, w,
                      ": the hash router picks one expert (top_k 1), got ", c.model.moe.top_k);
       },
       moe_enabled},
      {"model.moe.pattern", "MoE: layers and pattern are not both given",
       [](const RunConfig& c, const std::string& w) {
         MOELAB_CHECK(c.model.moe.layers.empty() || c.model.moe.pattern.empty(), w,
                      ": give model.moe.layers or model.moe.pattern, not both");
       },
       moe_enabled},
      {"model.moe.layers", "MoE: listed layers are below n_layer",
       [](const RunConfig& c, const std::string& w) {
         for (int l : c.model.moe.layers)
           MOELAB_CHECK(l < c.model.n_layer, w, ": ", l, " is out of range (expected layer indices in [0, model.n_layer))");
       },
       moe_enabled},
      {"model.moe.pattern", "MoE: a pattern has one letter per layer",
       [](const RunConfig& c, const std::string& w) {
         const std::string& p = c.model.moe.pattern;
         MOELAB_CHECK(p.empty() || static_cast<int64_t>(p.size()) == c.model.n_layer, w, ": \"", p, "\" has ", p.size(),
                      " letters for ", c.model.n_layer, " layers");
       },
       moe_enabled},
      {"model.moe.offset", "MoE: offset is below n_layer",
       [](const RunConfig& c, const std::string& w) {
         MOELAB_CHECK(c.model.moe.offset < c.model.n_layer, w, ": ", c.model.moe.offset,
                      " is out of range (expected in [-1, model.n_layer))");
       },
       moe_enabled},
      {"model.moe.experts_by_layer", "MoE: experts_by_layer names MoE layers",
       [](const RunConfig& c, const std::string& w) {
         for (const auto& [layer, e] : c.model.moe.experts_by_layer)
           MOELAB_CHECK(layer < c.model.n_layer && c.model.moe.is_moe_layer(layer, c.model.n_layer), w, ": layer ", layer,
                        " is not an MoE layer of this model");
       },
       moe_enabled},
      {"model.moe.layers", "MoE: at least one layer is an MoE layer",
       [](const RunConfig& c, const std::string& w) {
         // Only the first candidate is tried (a loop over n_layer, which may be 2^31 - 1, took
         // seconds): the lowest listed layer, the first 'M', or where every/offset start.
         const nn::MoeConfig& m = c.model.moe;
         int first = m.offset < 0 ? m.every - 1 : m.offset;
         if (!m.layers.empty()) first = *std::min_element(m.layers.begin(), m.layers.end());
         if (!m.pattern.empty()) first = static_cast<int>(std::min(m.pattern.find('M'), m.pattern.size()));
         const bool any = first >= 0 && first < c.model.n_layer && m.is_moe_layer(first, c.model.n_layer);
         MOELAB_CHECK(any, w, ": no layer is an MoE layer with these settings");
       },
       moe_enabled},
      {"model.moe.router.random_second", "MoE: GShard random routing needs router.type topk with top_k 2",
       [](const RunConfig& c, const std::string& w) {
         const nn::MoeConfig& m = c.model.moe;
         MOELAB_CHECK(m.router.random_second == 0 || (m.router.type == "topk" && m.top_k == 2), w,
                      ": GShard random routing needs router.type topk with top_k 2");
       },
       moe_enabled},
      {"model.moe.router.bias_rate", "MoE: bias balancing needs router.type topk",
       [](const RunConfig& c, const std::string& w) {
         MOELAB_CHECK(c.model.moe.router.bias_rate == 0 || c.model.moe.router.type == "topk", w,
                      ": bias balancing works on router.type topk");
       },
       moe_enabled},
      {"model.moe.router.topk_softmax", "MoE: renorm and topk_softmax are not both on (they are the same function)",
       [](const RunConfig& c, const std::string& w) {
         MOELAB_CHECK(!(c.model.moe.router.renorm && c.model.moe.router.topk_softmax), w,
                      ": choose renorm or topk_softmax (they are the same function)");
       },
       moe_enabled},
      {"model.moe.capacity.groups", "MoE: the batch's rows split into capacity.groups equal groups",
       [](const RunConfig& c, const std::string& w) {
         MOELAB_CHECK(c.train.batch_size % c.model.moe.capacity.groups == 0, w, ": ", c.model.moe.capacity.groups,
                      " groups do not split train.batch_size ", c.train.batch_size, " rows evenly");
       },
       moe_enabled},
      {"data.val_fraction", "val_fraction > 0 when data.val is not given",
       [](const RunConfig& c, const std::string& w) {
         MOELAB_CHECK(!c.data.val.empty() || c.data.val_fraction > 0, w, ": must be > 0 when data.val is not given");
       }},
      {"data.tokenizer", "bpe needs data.tokenizer_path or data.vocab_size; the path only with bpe or gpt2",
       [](const RunConfig& c, const std::string& w) {
         const DataConfig& d = c.data;
         MOELAB_CHECK(d.tokenizer != "bpe" || !d.tokenizer_path.empty() || d.vocab_size >= 257, w,
                      ": bpe needs data.tokenizer_path (a tokenizer.json) or data.vocab_size >= 257 to learn one");
         MOELAB_CHECK(d.tokenizer_path.empty() || d.tokenizer == "bpe" || d.tokenizer == "gpt2", w,
                      ": data.tokenizer_path is set but data.tokenizer is ", d.tokenizer, " (bpe or gpt2 read it)");
         MOELAB_CHECK(d.vocab_size == 0 || (d.tokenizer == "bpe" && d.tokenizer_path.empty()), w,
                      ": data.vocab_size is used only to learn a bpe tokenizer (data.tokenizer bpe without a path)");
       }},
      {"optim.min_lr", "min_lr <= lr",
       [](const RunConfig& c, const std::string& w) {
         MOELAB_CHECK(c.optim.schedule.min_lr <= c.optim.schedule.lr, w, ": ", c.optim.schedule.min_lr,
                      " is out of range (expected in [0, optim.lr])");
       }},
      {"optim.lr_decay_iters", "lr_decay_iters >= warmup_iters",
       [](const RunConfig& c, const std::string& w) {
         MOELAB_CHECK(c.optim.schedule.lr_decay_iters >= c.optim.schedule.warmup_iters, w, ": ",
                      c.optim.schedule.lr_decay_iters, " is out of range (expected >= optim.warmup_iters)");
       }},
      {"lifelong.init_from", "a lifelong stage with kl_weight, teacher or old_val needs init_from",
       [](const RunConfig& c, const std::string& w) {
         const LifelongConfig& l = c.lifelong;
         MOELAB_CHECK(!l.init_from.empty() || (l.kl_weight == 0 && l.teacher.empty() && l.old_val.empty()), w,
                      ": a lifelong stage (kl_weight, teacher, old_val) needs init_from");
       }},
  };
}

}  // namespace

const std::vector<Section>& sections() {
  static const std::vector<Section> s = make_sections();
  return s;
}
const std::vector<Key>& keys() {
  static const std::vector<Key> k = make_keys();
  return k;
}
const std::vector<Rule>& rules() {
  static const std::vector<Rule> r = make_rules();
  return r;
}

std::string parent_of(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? "" : path.substr(0, dot);
}

}  // namespace moelab::train::schema
