// tests/gradcheck.h: what the suites share: the library's gradcheck (autograd/gradcheck.h) as a
// doctest CHECK that prints the worst element on failure, and seeded test data.
#pragma once
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "test_data.h"

namespace moelab::testing {

using autograd::gradcheck;
using autograd::GradcheckOptions;
using autograd::GradcheckResult;
using autograd::Var;

}  // namespace moelab::testing

// CHECK that prints the worst element (or why the check proves nothing) on failure.
#define CHECK_GRADCHECK(...)                                           \
  do {                                                                 \
    auto gc_result_ = ::moelab::testing::gradcheck(__VA_ARGS__);       \
    INFO(gc_result_.report);                                           \
    CHECK(gc_result_.ok);                                              \
  } while (0)
