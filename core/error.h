// core/error.h: the one exception type moelab throws, and a check macro that names the context.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace moelab {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace moelab

// MOELAB_CHECK(cond, "op: what went wrong ", shape_str(a), ...) throws moelab::Error with the message.
#define MOELAB_CHECK(cond, ...)                                                 \
  do {                                                                          \
    if (!(cond)) throw ::moelab::Error(::moelab::detail::concat(__VA_ARGS__)); \
  } while (0)
