// libFuzzer target: the metrics.jsonl reader behind `moelab report` (train/report/metrics_log.cpp,
// parse_run_log) and the HTML page drawn from what it read (report_html.cpp). A run's log is
// written by moelab but read back from a folder anyone can edit, so any text must give a RunLog
// (bad lines skipped with a warning) and a page: any exception, crash, sanitizer report (signed
// overflow in the renderer), leak or huge allocation (-rss_limit_mb, -malloc_limit_mb) is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <typeinfo>

#include "train/report/metrics_log.h"
#include "train/report/report_html.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::ostringstream warnings;
    moelab::train::RunLog run =
        moelab::train::parse_run_log(std::string(reinterpret_cast<const char*>(data), size), "fuzz/metrics.jsonl", warnings);
    run.name = "fuzz";
    const std::string html = moelab::train::render_report_html({run});
    if (html.find("</html>") == std::string::npos) {
      std::fprintf(stderr, "fuzz_metrics: the page is incomplete\n");
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_metrics: exception %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
  return 0;
}
