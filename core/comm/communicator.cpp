#include "core/comm/communicator.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace moelab::comm {

namespace {

// The world of a process that was not launched by mpirun: one member, collectives are copies.
class Local : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(float*, int64_t) override {}
  void allreduce_sum(double*, int64_t) override {}
  void allreduce_sum(int64_t*, int64_t) override {}
  void allreduce_max(int64_t*, int64_t) override {}
  std::unique_ptr<Pending> start_allreduce_sum(float*, int64_t) override {
    struct Done : Pending {
      bool test() override { return true; }
      void wait() override {}
    };
    return std::make_unique<Done>();
  }
  void alltoall(const int64_t* send, int64_t* recv, int64_t per_rank) override {
    if (per_rank > 0) std::memmove(recv, send, static_cast<size_t>(per_rank) * sizeof(int64_t));
  }
  void alltoallv(const float* send, const std::vector<int64_t>& send_counts, float* recv,
                 const std::vector<int64_t>& recv_counts) override {
    MOELAB_CHECK(send_counts.size() == 1 && recv_counts.size() == 1 && send_counts[0] == recv_counts[0],
                 "alltoallv: one process sends itself what it receives");
    if (send_counts[0] > 0) std::memmove(recv, send, static_cast<size_t>(send_counts[0]) * sizeof(float));
  }
  void alltoallv(const int64_t* send, const std::vector<int64_t>& send_counts, int64_t* recv,
                 const std::vector<int64_t>& recv_counts) override {
    MOELAB_CHECK(send_counts.size() == 1 && recv_counts.size() == 1 && send_counts[0] == recv_counts[0],
                 "alltoallv: one process sends itself what it receives");
    if (send_counts[0] > 0) std::memmove(recv, send, static_cast<size_t>(send_counts[0]) * sizeof(int64_t));
  }
  std::vector<std::string> allgather(const std::string& bytes) override { return {bytes}; }
  std::vector<std::string> gather(const std::string& bytes, int) override { return {bytes}; }
  void broadcast(void*, int64_t, int) override {}
  void barrier() override {}
  std::unique_ptr<Communicator> split(int, int) override { return std::make_unique<Local>(); }
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
};

std::unique_ptr<Communicator>& world_slot() {
  static std::unique_ptr<Communicator> w;
  return w;
}

}  // namespace

#ifdef MOELAB_WITH_MPI
// core/comm/mpi_communicator.cpp
std::unique_ptr<Communicator> mpi_init_world(int* argc, char*** argv);
void mpi_finalize();
std::string mpi_library_version();
bool built_with_mpi() { return true; }
std::string mpi_library() { return mpi_library_version(); }
void init(int* argc, char*** argv) {
  if (!world_slot()) world_slot() = mpi_init_world(argc, argv);  // null when not launched by mpirun
}
void finalize() { mpi_finalize(); }
#else
bool built_with_mpi() { return false; }
std::string mpi_library() { return "none (built with MOELAB_MPI=OFF: this binary cannot run distributed)"; }
void init(int*, char***) {}
void finalize() {}
#endif

Communicator& world() {
  if (!world_slot()) world_slot() = std::make_unique<Local>();
  return *world_slot();
}

}  // namespace moelab::comm
