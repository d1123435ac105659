// core/comm/communicator.h: the processes a distributed run talks to, over MPI (Debian's OpenMPI).
// A Communicator is a group of processes; every member calls each collective in the same order
// (they block until all have). Without mpirun, or in a build without MPI, the world is this one
// process and every collective is a copy. Counts are in elements; buffers are contiguous.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moelab::comm {

// Time and bytes a communicator spent, by kind of collective, since the last reset (for metrics).
struct CommStats {
  double allreduce_seconds = 0, alltoall_seconds = 0, other_seconds = 0;
  int64_t allreduce_bytes = 0, alltoall_bytes = 0;  // sent by this process

  CommStats& operator+=(const CommStats& o) {
    allreduce_seconds += o.allreduce_seconds, alltoall_seconds += o.alltoall_seconds, other_seconds += o.other_seconds;
    allreduce_bytes += o.allreduce_bytes, alltoall_bytes += o.alltoall_bytes;
    return *this;
  }
  // what was spent between two readings of one communicator's stats
  friend CommStats operator-(CommStats a, const CommStats& b) {
    a.allreduce_seconds -= b.allreduce_seconds, a.alltoall_seconds -= b.alltoall_seconds;
    a.other_seconds -= b.other_seconds, a.allreduce_bytes -= b.allreduce_bytes, a.alltoall_bytes -= b.alltoall_bytes;
    return a;
  }
};

// A collective started and not yet finished: its buffer must stay untouched until wait() returns.
class Pending {
 public:
  virtual ~Pending() = default;
  virtual bool test() = 0;  // true once finished; each call also lets MPI move the exchange on
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // In place: every member ends with the element-wise sum over members (the same bits on all,
  // whatever the order of arrival: MPI reduces in a fixed order for a given size).
  virtual void allreduce_sum(float* data, int64_t n) = 0;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
  virtual void allreduce_sum(int64_t* data, int64_t n) = 0;
  virtual void allreduce_max(int64_t* data, int64_t n) = 0;
  // allreduce_sum(data, n) started and left running (to overlap it with computation); the members
  // start their pending collectives in the same order. Starting it and wait() count as all-reduce
  // time; test() is a poll and does not.
  virtual std::unique_ptr<Pending> start_allreduce_sum(float* data, int64_t n) = 0;
  // send[p * per_rank .. (p + 1) * per_rank) goes to member p; recv likewise comes from each member.
  virtual void alltoall(const int64_t* send, int64_t* recv, int64_t per_rank) = 0;
  // send_counts[p] floats to member p (consecutive in `send`), recv_counts[p] from member p
  // (consecutive in `recv`); recv_counts must be what the members send (exchange counts first).
  virtual void alltoallv(const float* send, const std::vector<int64_t>& send_counts, float* recv,
                         const std::vector<int64_t>& recv_counts) = 0;
  virtual void alltoallv(const int64_t* send, const std::vector<int64_t>& send_counts, int64_t* recv,
                         const std::vector<int64_t>& recv_counts) = 0;
  // Member `root` gets every member's bytes in rank order; the others get an empty list.
  virtual std::vector<std::string> gather(const std::string& bytes, int root) = 0;
  // Every member ends with all members' `bytes`, in rank order (sizes may differ).
  virtual std::vector<std::string> allgather(const std::string& bytes) = 0;
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Members with the same color form a new communicator, ranked by key.
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;
  // Ends every process of the run at once (a failed member must not leave the others waiting).
  [[noreturn]] virtual void abort(int code) = 0;

  CommStats& stats() { return stats_; }

 protected:
  CommStats stats_;
};

// Runs f(), a call of comm's, and adds what it cost (time, bytes) to *account when there is one:
// comm's stats count every call, an account only some (e.g. one layer's exchanges).
template <class F>
void accounted(Communicator& comm, CommStats* account, F&& f) {
  const CommStats before = comm.stats();
  f();
  if (account) *account += comm.stats() - before;
}

// Starts MPI if this program was launched by mpirun (and built with it); call once, first thing in
// main. Safe to call in a build without MPI or without mpirun.
void init(int* argc, char*** argv);
// Ends MPI (after every collective); called at normal exit.
void finalize();
// All processes of this run (just this one without mpirun).
Communicator& world();
// True if this binary was built with MPI; "" or the reason it cannot run distributed.
bool built_with_mpi();
std::string mpi_library();  // "Open MPI v4.1.4 ..." or "none"

}  // namespace moelab::comm
