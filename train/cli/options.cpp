#include "train/cli/options.h"

#include <string>

namespace moelab::cli {

CLI::Validator number_at_least(double least, bool whole) {
  const std::string what = std::string(whole ? "a whole number" : "a number") + " >= " +
                           (least == static_cast<long long>(least) ? std::to_string(static_cast<long long>(least))
                                                                   : std::to_string(least));
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = whole ? static_cast<double>(std::stoll(s, &used)) : std::stod(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != s.size() || s.empty()) return "expected " + what + ", got '" + s + "'";
        if (v < least) return "expected " + what + ", got " + s;
        return "";
      },
      whole ? "INT>=" + std::to_string(static_cast<long long>(least)) : "NUMBER>=" + std::to_string(least));
}

const CLI::Validator kPositiveInt = number_at_least(1, true);
const CLI::Validator kNonNegativeInt = number_at_least(0, true);
const CLI::Validator kNonNegativeNumber = number_at_least(0, false);

}  // namespace moelab::cli
