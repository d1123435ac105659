// layers/module.h: the Module base. Parameters and children are registered once under a short
// name; named_parameters() joins them with dots ("transformer.h.0.attn.c_attn.weight"), which
// are also the checkpoint keys, the optimizer's names and the metrics' names.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "autograd/var.h"
#include "core/tensor.h"

namespace moelab::nn {

using autograd::Var;

// What a parameter is, so the optimizer and the initialiser need no name or rank heuristics.
enum class Role { Matmul, Embedding, Norm, Bias, Router };
inline bool decays(Role r) { return r == Role::Matmul || r == Role::Embedding || r == Role::Router; }
const char* role_name(Role r);

struct Parameter {
  Var var;
  Role role;
  bool frozen = false;
  int64_t frozen_rows = 0;  // the first rows are frozen (e.g. old router rows after growing experts)
};

struct NamedParameter {
  std::string name;
  Parameter* param;
};

// A buffer is module state that is saved and resumed but never trained (no gradient, no optimizer):
// e.g. the per-expert bias of aux-loss-free balancing.
struct NamedBuffer {
  std::string name;
  Tensor* tensor;
};

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter once, in registration order (depth first), with its dotted name.
  std::vector<NamedParameter> named_parameters(const std::string& prefix = "");
  Parameter* find_parameter(const std::string& dotted_name);
  std::vector<NamedBuffer> named_buffers(const std::string& prefix = "");
  int64_t num_parameters();

  void set_training(bool training);
  bool training() const { return training_; }
  // Freezes (or unfreezes) every parameter whose dotted name starts with `prefix`; returns how many.
  int freeze(const std::string& prefix, bool frozen = true);

 protected:
  // Names may not be empty or contain '.'; registering a name twice is an error.
  Var register_parameter(const std::string& name, Tensor init, Role role);
  // The returned tensor shares storage with the registered one (Tensor is a handle).
  Tensor register_buffer(const std::string& name, Tensor init);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child);
    return child;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name) const;
  std::vector<std::pair<std::string, std::unique_ptr<Parameter>>> params_;
  std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A list of modules named "0", "1", ... like torch.nn.ModuleList.
template <class M>
class ModuleList : public Module {
 public:
  // Children are named first_index, first_index + 1, ... (a process holding experts 4..7 of an
  // expert-parallel layer names them "4" .. "7", as one process holding all of them does).
  explicit ModuleList(int64_t first_index = 0) : first_(first_index) {}
  void push_back(std::shared_ptr<M> m) {
    items_.push_back(register_module(std::to_string(first_ + static_cast<int64_t>(items_.size())), m));
  }
  size_t size() const { return items_.size(); }
  M& operator[](size_t i) const { return *items_[i]; }

 private:
  int64_t first_;
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace moelab::nn
