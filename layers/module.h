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
};

struct NamedParameter {
  std::string name;
  Parameter* param;
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
  int64_t num_parameters();

  void set_training(bool training);
  bool training() const { return training_; }
  // Freezes (or unfreezes) every parameter whose dotted name starts with `prefix`; returns how many.
  int freeze(const std::string& prefix, bool frozen = true);

 protected:
  // Names may not be empty or contain '.'; registering a name twice is an error.
  Var register_parameter(const std::string& name, Tensor init, Role role);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child);
    return child;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name) const;
  std::vector<std::pair<std::string, std::unique_ptr<Parameter>>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace moelab::nn
