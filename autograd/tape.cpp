#include "autograd/tape.h"

#include "core/error.h"

namespace moelab::autograd {
namespace {

struct Node {
  const char* op;
  Var output;
  std::function<void()> backward;
  bool collective = false;  // runs even without an output gradient (other processes wait for it)
};

struct Tape {
  std::vector<Node> nodes;
  int64_t epoch = 0;  // bumped whenever the tape is cleared: Vars from older epochs are stale
  bool grad_mode = true;
};

Tape& tape() {
  thread_local Tape t;
  return t;
}

}  // namespace

bool grad_enabled() { return tape().grad_mode; }

bool needs_grad(std::initializer_list<Var> inputs) {
  if (!tape().grad_mode) return false;
  for (const Var& v : inputs)
    if (v.defined() && v.requires_grad()) return true;
  return false;
}

void record(const char* op, const Var& output, std::function<void()> backward) {
  Tape& t = tape();
  output.set_requires_grad(true);
  output.set_tape_epoch(t.epoch);
  t.nodes.push_back(Node{op, output, std::move(backward), false});
}

void record_collective(const char* op, const Var& output, std::function<void()> backward) {
  record(op, output, std::move(backward));
  tape().nodes.back().collective = true;
}

void backward(const Var& loss) { backward(loss, {}); }

void backward(const Var& loss, const std::function<void(size_t node)>& after_node) {
  Tape& t = tape();
  MOELAB_CHECK(loss.defined(), "backward: undefined loss");
  MOELAB_CHECK(loss.numel() == 1, "backward: loss must be a scalar, got shape ", shape_str(loss.shape()));
  MOELAB_CHECK(loss.requires_grad(), "backward: the loss does not require grad (computed under NoGrad, or from "
                                     "inputs that need no gradient)");
  MOELAB_CHECK(loss.tape_epoch() == t.epoch && !t.nodes.empty(),
               "backward: the loss was not recorded on the current tape (the tape was already consumed by an "
               "earlier backward or cleared); run the forward pass again");
  loss.grad_accum()[0] += 1.f;
  // Run nodes newest first; free each closure (and the activations it saved) as soon as it ran,
  // and the output's gradient with it: as in PyTorch, only leaves (parameters, inputs) keep a
  // gradient after backward, so the peak holds the gradients of one frontier, not of the whole tape.
  for (auto it = t.nodes.rbegin(); it != t.nodes.rend(); ++it) {
    if (it->collective || it->output.has_grad()) it->backward();
    it->backward = nullptr;
    it->output.clear_grad();
    it->output = Var();
    if (after_node) after_node(static_cast<size_t>(t.nodes.rend() - it) - 1);
  }
  clear_tape();
}

void clear_tape() {
  Tape& t = tape();
  t.nodes.clear();
  ++t.epoch;
}

size_t tape_size() { return tape().nodes.size(); }

NoGrad::NoGrad() : previous_(tape().grad_mode) { tape().grad_mode = false; }
NoGrad::~NoGrad() { tape().grad_mode = previous_; }

}  // namespace moelab::autograd
