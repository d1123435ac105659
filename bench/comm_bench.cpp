#include "bench/comm_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "core/error.h"

namespace moelab::bench {

namespace {

using clock = std::chrono::steady_clock;

// Seconds per call of `op`: every process starts together (barrier), runs it `inner` times and
// waits for the slowest (barrier); the median over `repeats` samples. `inner` depends on the size
// only, so every process makes the same calls.
template <class Op>
double collective_seconds(comm::Communicator& comm, int64_t bytes, int repeats, Op op) {
  const int inner = static_cast<int>(std::clamp<int64_t>((int64_t{64} << 20) / std::max<int64_t>(bytes, 1), 3, 200));
  op();  // warm up (first-touch of buffers, connection set-up)
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    comm.barrier();
    const auto t0 = clock::now();
    for (int i = 0; i < inner; ++i) op();
    comm.barrier();
    samples.push_back(std::chrono::duration<double>(clock::now() - t0).count() / inner);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

struct Fit {
  double latency_us = 0, bus_gb_s = 0;
};

}  // namespace

void run_comm_bench(comm::Communicator& comm, const CommBenchOptions& opts, std::ostream& out) {
  std::vector<int64_t> sizes = opts.sizes;
  if (sizes.empty())
    for (int64_t s = 8; s <= (int64_t{64} << 20); s *= 4) sizes.push_back(s);
  for (int64_t s : sizes)
    MOELAB_CHECK(s >= 4 && s <= (int64_t{1} << 30), "bench comm: size ", s, " bytes is outside 4 B .. 1 GiB");
  MOELAB_CHECK(opts.repeats >= 1 && opts.repeats <= 1000, "bench comm: --repeats ", opts.repeats, " is outside 1..1000");
  const int64_t P = comm.size();
  const bool lead = comm.rank() == 0;
  char line[256];
  if (lead) {
    out << "moelab bench comm: " << P << " processes (" << comm::mpi_library() << "), median of " << opts.repeats
        << " samples\n"
           "bus bandwidth = bytes a process sends over the links per second (all-reduce: 2(P-1)/P x size; "
           "all-to-all: (P-1)/P x size)\n";
    std::snprintf(line, sizeof line, "%12s %14s %14s %14s %14s\n", "bytes/proc", "allreduce us", "bus GB/s",
                  "alltoall us", "bus GB/s");
    out << line;
  }
  Fit allreduce, alltoall;
  for (int64_t bytes : sizes) {
    const int64_t n = std::max<int64_t>(bytes / 4, P);  // floats; at least one per process for the all-to-all
    std::vector<float> buf(static_cast<size_t>(n), 1.f), recv(static_cast<size_t>(n));
    const double ar = collective_seconds(comm, bytes, opts.repeats, [&] { comm.allreduce_sum(buf.data(), n); });
    // the all-to-all expert parallelism does: an equal share of the buffer to every process
    std::vector<int64_t> counts(static_cast<size_t>(P), n / P);
    const double a2a = collective_seconds(comm, bytes, opts.repeats,
                                          [&] { comm.alltoallv(buf.data(), counts, recv.data(), counts); });
    const double wire = static_cast<double>(n) * 4;
    const double ar_bus = P > 1 ? 2.0 * (P - 1) / P * wire / ar * 1e-9 : 0;
    const double a2a_bus = P > 1 ? static_cast<double>(P - 1) / P * wire / a2a * 1e-9 : 0;
    if (bytes == sizes.front()) allreduce.latency_us = ar * 1e6, alltoall.latency_us = a2a * 1e6;
    allreduce.bus_gb_s = std::max(allreduce.bus_gb_s, ar_bus);
    alltoall.bus_gb_s = std::max(alltoall.bus_gb_s, a2a_bus);
    if (lead) {
      std::snprintf(line, sizeof line, "%12lld %14.1f %14.2f %14.1f %14.2f\n", static_cast<long long>(n * 4), ar * 1e6,
                    ar_bus, a2a * 1e6, a2a_bus);
      out << line;
    }
  }
  if (lead) {
    std::snprintf(line, sizeof line,
                  "{\"processes\": %lld, \"allreduce_latency_us\": %.2f, \"allreduce_bus_gb_s\": %.3f, "
                  "\"alltoall_latency_us\": %.2f, \"alltoall_bus_gb_s\": %.3f}\n",
                  static_cast<long long>(P), allreduce.latency_us, allreduce.bus_gb_s, alltoall.latency_us,
                  alltoall.bus_gb_s);
    out << "latency = the smallest size's time; bandwidth = the best bus bandwidth over the sizes\n" << line;
  }
}

}  // namespace moelab::bench
