#include "layers/module.h"

#include "core/error.h"

namespace moelab::nn {

const char* role_name(Role r) {
  switch (r) {
    case Role::Matmul: return "matmul";
    case Role::Embedding: return "embedding";
    case Role::Norm: return "norm";
    case Role::Bias: return "bias";
    case Role::Router: return "router";
  }
  return "?";
}

void Module::check_new_name(const std::string& name) const {
  MOELAB_CHECK(!name.empty() && name.find('.') == std::string::npos, "module: invalid name \"", name,
               "\" (must be non-empty, without '.')");
  for (const auto& [n, p] : params_) MOELAB_CHECK(n != name, "module: name \"", name, "\" registered twice");
  for (const auto& [n, c] : children_) MOELAB_CHECK(n != name, "module: name \"", name, "\" registered twice");
  for (const auto& [n, b] : buffers_) MOELAB_CHECK(n != name, "module: name \"", name, "\" registered twice");
}

Var Module::register_parameter(const std::string& name, Tensor init, Role role) {
  check_new_name(name);
  auto p = std::make_unique<Parameter>(Parameter{Var(std::move(init), true), role, false});
  Var v = p->var;
  params_.emplace_back(name, std::move(p));
  return v;
}

Tensor Module::register_buffer(const std::string& name, Tensor init) {
  check_new_name(name);
  buffers_.emplace_back(name, std::make_unique<Tensor>(std::move(init)));
  return *buffers_.back().second;
}

std::vector<NamedBuffer> Module::named_buffers(const std::string& prefix) {
  std::vector<NamedBuffer> out;
  const std::string base = prefix.empty() ? "" : prefix + ".";
  for (auto& [n, b] : buffers_) out.push_back({base + n, b.get()});
  for (auto& [n, c] : children_) {
    auto sub = c->named_buffers(base + n);
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name);
  children_.emplace_back(name, std::move(child));
}

std::vector<NamedParameter> Module::named_parameters(const std::string& prefix) {
  std::vector<NamedParameter> out;
  const std::string base = prefix.empty() ? "" : prefix + ".";
  for (auto& [n, p] : params_) out.push_back({base + n, p.get()});
  for (auto& [n, c] : children_) {
    auto sub = c->named_parameters(base + n);
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

Parameter* Module::find_parameter(const std::string& dotted_name) {
  for (auto& np : named_parameters())
    if (np.name == dotted_name) return np.param;
  return nullptr;
}

int64_t Module::num_parameters() {
  int64_t n = 0;
  for (auto& np : named_parameters()) n += np.param->var.numel();
  return n;
}

void Module::set_training(bool training) {
  training_ = training;
  for (auto& [n, c] : children_) c->set_training(training);
}

int Module::freeze(const std::string& prefix, bool frozen) {
  int count = 0;
  for (auto& np : named_parameters())
    if (np.name.compare(0, prefix.size(), prefix) == 0) {
      np.param->frozen = frozen;
      np.param->var.set_requires_grad(!frozen);
      ++count;
    }
  return count;
}

}  // namespace moelab::nn
