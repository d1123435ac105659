// tests/core/test_blas.cpp: the runtime-loaded OpenBLAS reports sane information and passed its self-check.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/blas.h"

using namespace moelab;

TEST_CASE("blas_info: loaded and self-checked; core type origin matches the environment") {
  const BlasInfo& info = blas_info();
  CHECK_FALSE(info.library.empty());
  CHECK_FALSE(info.corename.empty());
  CHECK_FALSE(info.config.empty());
  CHECK(info.selfcheck_max_err >= 0.0);
  CHECK(info.selfcheck_max_err < 1e-4);
  CHECK(info.threads >= 1);
  CHECK((info.cpu_isa == "avx512" || info.cpu_isa == "avx2" || info.cpu_isa == "sse"));
  const std::string& origin = info.coretype_origin;
  CHECK_MESSAGE((origin == "user" || origin == "auto" || origin == "none"), "origin=", origin);
  const char* env = std::getenv("OPENBLAS_CORETYPE");
  if (origin == "auto") {
    // moelab chose the kernels: OpenBLAS must actually see that choice in its environment.
    REQUIRE(env != nullptr);
    CHECK(std::string(env) == info.coretype_env);
    CHECK_FALSE(info.coretype_env.empty());
    CHECK(info.cpu_isa != "sse");
  } else if (origin == "user") {
    REQUIRE(env != nullptr);
    CHECK(std::string(env) == info.coretype_env);
  } else {
    CHECK(info.coretype_env.empty());
  }
  // second call returns the same loaded library
  CHECK(&blas_info() == &info);
}

// Runs the test above in a fresh process (the library loads once per process) whose environment has
// OPENBLAS_CORETYPE set but empty, as `export OPENBLAS_CORETYPE=` or a blank line in an env file leaves it.
// moelab then takes the "auto" path, so OpenBLAS must see the chosen core type, not the empty string.
TEST_CASE("blas_info: auto choice reaches OpenBLAS when OPENBLAS_CORETYPE is set but empty") {
  if (std::getenv("MOELAB_TEST_BLAS_CHILD")) return;  // we are the child
  char exe[4096];
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  REQUIRE(len > 0);
  exe[len] = '\0';
  const std::string cmd = std::string("OPENBLAS_CORETYPE= MOELAB_TEST_BLAS_CHILD=1 '") + exe +
                          "' '--test-case=blas_info: loaded and self-checked*' 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  INFO("child output:\n", out);
  // doctest pads its summary columns; compare with the blanks removed
  std::string compact;
  for (char ch : out) if (ch != ' ') compact += ch;
  CHECK_MESSAGE(compact.find("testcases:1|1passed|0failed") != std::string::npos, "the child must run and pass 1 test");
  CHECK(status == 0);
}

TEST_CASE("sgemm wrapper: small exact product and k = 0 / m = 0 conventions") {
  // [2,2] x [2,2], row-major, with ldc larger than n
  const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
  float c[6] = {0, 0, -1, 0, 0, -1};
  sgemm(Trans::No, Trans::No, 2, 2, 2, 1.f, a, 2, b, 2, 0.f, c, 3);
  CHECK(c[0] == 19.f);
  CHECK(c[1] == 22.f);
  CHECK(c[2] == -1.f);  // outside the ldc row is untouched
  CHECK(c[3] == 43.f);
  CHECK(c[4] == 50.f);
  sgemm(Trans::No, Trans::No, 2, 2, 2, 2.f, a, 2, b, 2, 1.f, c, 3);  // alpha = 2, beta = 1
  CHECK(c[0] == 57.f);
  CHECK(c[4] == 150.f);
  sgemm(Trans::No, Trans::No, 2, 2, 0, 1.f, a, 1, b, 1, 0.5f, c, 3);  // k = 0: C = beta C
  CHECK(c[0] == 28.5f);
  CHECK(c[2] == -1.f);
  sgemm(Trans::No, Trans::No, 0, 2, 2, 1.f, a, 2, b, 2, 0.f, c, 3);  // m = 0: nothing
  CHECK(c[0] == 28.5f);
}
