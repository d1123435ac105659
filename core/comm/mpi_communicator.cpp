// The MPI implementation of core/comm/communicator.h (compiled when MOELAB_MPI is on).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <exception>
#include <vector>

#include "core/comm/communicator.h"
#include "core/error.h"

namespace moelab::comm {

namespace {

bool g_started = false;  // by us, so we finalize

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string("MPI: ") + what + " failed: " + std::string(text, static_cast<size_t>(len)));
}

// MPI counts are int: big buffers go in pieces.
constexpr int64_t kPiece = int64_t{1} << 30;
// All-reduces go in pieces of 1M values: Open MPI 4.1's default algorithm for one 60 MB buffer on 2
// processes of one machine took 42 ms, in 4 MB pieces 23 ms (and 104 -> 60 ms on 4; scripts/bench_dist.py
// measures the effect on training).
constexpr int64_t kReducePiece = int64_t{1} << 20;

// Non-blocking all-reduce pieces in flight; the time spent in test() and wait() is the stats'.
class MpiPending : public Pending {
 public:
  explicit MpiPending(CommStats& stats) : stats_(stats) {}
  // Never leave MPI writing into a buffer that may be freed; but while an error unwinds the
  // stack the process is about to end every process (MPI_Abort), and a wait for peers that will
  // not come would keep it from getting there.
  ~MpiPending() override {
    if (!done_ && std::uncaught_exceptions() == 0)
      MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
  }
  void add(MPI_Request r) { requests_.push_back(r); }
  bool test() override {  // a poll, not a wait: not counted as time in the all-reduce
    if (done_) return true;
    int flag = 0;
    check(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag, MPI_STATUSES_IGNORE),
          "MPI_Testall");
    done_ = flag != 0;
    return done_;
  }
  void wait() override {
    if (done_) return;
    const double t0 = now();
    check(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
    stats_.allreduce_seconds += now() - t0;
    done_ = true;
  }

 private:
  std::vector<MPI_Request> requests_;
  CommStats& stats_;
  bool done_ = false;
};

class Mpi : public Communicator {
 public:
  explicit Mpi(MPI_Comm comm, bool owned) : comm_(comm), owned_(owned) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~Mpi() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owned_ && !finalized) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allreduce_sum(float* data, int64_t n) override { reduce(data, n, MPI_FLOAT, MPI_SUM, sizeof(float)); }
  void allreduce_sum(double* data, int64_t n) override { reduce(data, n, MPI_DOUBLE, MPI_SUM, sizeof(double)); }
  void allreduce_sum(int64_t* data, int64_t n) override { reduce(data, n, MPI_INT64_T, MPI_SUM, sizeof(int64_t)); }
  void allreduce_max(int64_t* data, int64_t n) override { reduce(data, n, MPI_INT64_T, MPI_MAX, sizeof(int64_t)); }
  std::unique_ptr<Pending> start_allreduce_sum(float* data, int64_t n) override {
    const double t0 = now();
    auto pending = std::make_unique<MpiPending>(stats_);  // owns the pieces started so far, even if one fails
    for (int64_t done = 0; done < n; done += kReducePiece) {
      MPI_Request r = MPI_REQUEST_NULL;
      check(MPI_Iallreduce(MPI_IN_PLACE, data + done, static_cast<int>(std::min(kReducePiece, n - done)), MPI_FLOAT,
                           MPI_SUM, comm_, &r),
            "MPI_Iallreduce");
      pending->add(r);
    }
    stats_.allreduce_seconds += now() - t0;
    stats_.allreduce_bytes += n * static_cast<int64_t>(sizeof(float));
    return pending;
  }

  void alltoall(const int64_t* send, int64_t* recv, int64_t per_rank) override {
    MOELAB_CHECK(per_rank <= INT_MAX, "MPI alltoall: ", per_rank, " values per process is too many");
    const double t0 = now();
    check(MPI_Alltoall(send, static_cast<int>(per_rank), MPI_INT64_T, recv, static_cast<int>(per_rank), MPI_INT64_T,
                       comm_),
          "MPI_Alltoall");
    stats_.alltoall_seconds += now() - t0;
    stats_.alltoall_bytes += per_rank * (size_ - 1) * static_cast<int64_t>(sizeof(int64_t));
  }

  void alltoallv(const float* send, const std::vector<int64_t>& send_counts, float* recv,
                 const std::vector<int64_t>& recv_counts) override {
    exchange(send, send_counts, recv, recv_counts, MPI_FLOAT, sizeof(float));
  }
  void alltoallv(const int64_t* send, const std::vector<int64_t>& send_counts, int64_t* recv,
                 const std::vector<int64_t>& recv_counts) override {
    exchange(send, send_counts, recv, recv_counts, MPI_INT64_T, sizeof(int64_t));
  }

  std::vector<std::string> gather(const std::string& bytes, int root) override {
    const double t0 = now();
    MOELAB_CHECK(bytes.size() <= INT_MAX, "MPI gather: ", bytes.size(), " bytes is too many");
    int mine = static_cast<int>(bytes.size());
    std::vector<int> sizes(size_), offsets(size_);
    check(MPI_Gather(&mine, 1, MPI_INT, sizes.data(), 1, MPI_INT, root, comm_), "MPI_Gather");
    int64_t total = 0;
    if (rank_ == root)
      for (int p = 0; p < size_; ++p) {
        offsets[p] = static_cast<int>(total);
        total += sizes[p];
        MOELAB_CHECK(total <= INT_MAX, "MPI gather: more than 2^31 bytes in all");
      }
    std::string all(static_cast<size_t>(total), '\0');
    check(MPI_Gatherv(bytes.data(), mine, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, root, comm_),
          "MPI_Gatherv");
    std::vector<std::string> out;
    if (rank_ == root)
      for (int p = 0; p < size_; ++p) out.push_back(all.substr(offsets[p], sizes[p]));
    stats_.other_seconds += now() - t0;
    return out;
  }

 private:
  void exchange(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                const std::vector<int64_t>& recv_counts, MPI_Datatype type, size_t elem) {
    std::vector<int> sc(size_), sd(size_), rc(size_), rd(size_);
    int64_t so = 0, ro = 0;
    for (int p = 0; p < size_; ++p) {
      MOELAB_CHECK(so + send_counts[p] <= INT_MAX && ro + recv_counts[p] <= INT_MAX,
                   "MPI alltoallv: more than 2^31 values in one exchange");
      sc[p] = static_cast<int>(send_counts[p]);
      sd[p] = static_cast<int>(so);
      rc[p] = static_cast<int>(recv_counts[p]);
      rd[p] = static_cast<int>(ro);
      so += send_counts[p];
      ro += recv_counts[p];
    }
    const double t0 = now();
    check(MPI_Alltoallv(send, sc.data(), sd.data(), type, recv, rc.data(), rd.data(), type, comm_), "MPI_Alltoallv");
    stats_.alltoall_seconds += now() - t0;
    stats_.alltoall_bytes += (so - send_counts[rank_]) * static_cast<int64_t>(elem);
  }

 public:

  std::vector<std::string> allgather(const std::string& bytes) override {
    const double t0 = now();
    MOELAB_CHECK(bytes.size() <= INT_MAX, "MPI allgather: ", bytes.size(), " bytes is too many");
    int mine = static_cast<int>(bytes.size());
    std::vector<int> sizes(size_), offsets(size_);
    check(MPI_Allgather(&mine, 1, MPI_INT, sizes.data(), 1, MPI_INT, comm_), "MPI_Allgather");
    int64_t total = 0;
    for (int p = 0; p < size_; ++p) {
      offsets[p] = static_cast<int>(total);
      total += sizes[p];
      MOELAB_CHECK(total <= INT_MAX, "MPI allgather: more than 2^31 bytes in all");
    }
    std::string all(static_cast<size_t>(total), '\0');
    check(MPI_Allgatherv(bytes.data(), mine, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, comm_),
          "MPI_Allgatherv");
    std::vector<std::string> out;
    for (int p = 0; p < size_; ++p) out.push_back(all.substr(offsets[p], sizes[p]));
    stats_.other_seconds += now() - t0;
    return out;
  }

  void broadcast(void* data, int64_t bytes, int root) override {
    const double t0 = now();
    char* p = static_cast<char*>(data);
    for (int64_t done = 0; done < bytes; done += kPiece)
      check(MPI_Bcast(p + done, static_cast<int>(std::min(kPiece, bytes - done)), MPI_BYTE, root, comm_), "MPI_Bcast");
    stats_.other_seconds += now() - t0;
  }

  void barrier() override {
    const double t0 = now();
    check(MPI_Barrier(comm_), "MPI_Barrier");
    stats_.other_seconds += now() - t0;
  }

  std::unique_ptr<Communicator> split(int color, int key) override {
    MPI_Comm sub;
    check(MPI_Comm_split(comm_, color, key, &sub), "MPI_Comm_split");
    return std::make_unique<Mpi>(sub, true);
  }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(comm_, code);
    std::_Exit(code);
  }

 private:
  void reduce(void* data, int64_t n, MPI_Datatype type, MPI_Op op, size_t elem) {
    const double t0 = now();
    char* p = static_cast<char*>(data);
    for (int64_t done = 0; done < n; done += kReducePiece)
      check(MPI_Allreduce(MPI_IN_PLACE, p + done * static_cast<int64_t>(elem), static_cast<int>(std::min(kReducePiece, n - done)),
                          type, op, comm_),
            "MPI_Allreduce");
    stats_.allreduce_seconds += now() - t0;
    stats_.allreduce_bytes += n * static_cast<int64_t>(elem);
  }

  MPI_Comm comm_;
  bool owned_;
  int rank_ = 0, size_ = 1;
};

// Launched by mpirun (Open MPI sets these; PMIx-based launchers too)?
bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

}  // namespace

std::unique_ptr<Communicator> mpi_init_world(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    if (!launched_by_mpirun()) return nullptr;  // a plain run: no MPI start-up cost or messages
    int provided = 0;
    // Only the main thread calls MPI (OpenMP regions never do).
    check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    g_started = true;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);  // errors become moelab::Error, then MPI_Abort
  return std::make_unique<Mpi>(MPI_COMM_WORLD, false);
}

void mpi_finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (g_started && !finalized) MPI_Finalize();
}

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string s(text, static_cast<size_t>(len));
  if (auto nl = s.find_first_of("\n,"); nl != std::string::npos) s.resize(nl);
  return s;
}

}  // namespace moelab::comm
