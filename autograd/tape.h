// autograd/tape.h: the tape. Ops append a node (inputs, output, backward closure) in execution
// order, which is already a topological order, so backward is a reverse loop (no graph sort).
// One tape per thread; backward() consumes it. NoGrad scopes record nothing.
#pragma once
#include <functional>
#include <initializer_list>
#include <vector>

#include "autograd/var.h"

namespace moelab::autograd {

// True when grad mode is on and any input requires a gradient: then the op must record.
bool needs_grad(std::initializer_list<Var> inputs);
bool grad_enabled();

// Appends a node producing `output` (marked requires_grad). `backward` reads output.grad() and
// accumulates into the inputs that require grad. It runs only if the output received a gradient.
void record(const char* op, const Var& output, std::function<void()> backward);

// The same for an op whose backward is a collective (MPI): it runs whether or not its output
// received a gradient (then it sends zeros), because the other processes wait for it.
void record_collective(const char* op, const Var& output, std::function<void()> backward);

// Reverse-walks the tape from a scalar loss (seeded with d loss = 1), then clears the tape.
// Throws if the loss was not produced on the current tape (e.g. a second backward after the tape
// was consumed, or a loss computed under NoGrad).
void backward(const Var& loss);
// The same, calling after_node(i) once node i (the i-th recorded, counted from 0) has run: when it
// is called for i, every node recorded at or after i has run (e.g. a layer's parameters, used only
// by the nodes its forward recorded, have their whole gradient once its first node has run).
void backward(const Var& loss, const std::function<void(size_t node)>& after_node);

// Drops every recorded node without running backward (e.g. after a forward-only pass with grad on).
void clear_tape();
size_t tape_size();

class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

}  // namespace moelab::autograd
