#include "mpi/comm.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>

#include "core/cleanup.hpp"
#include "core/error.hpp"

namespace tessera::mpi {
namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw RuntimeError(std::string("MPI ") + what + " failed: " + std::string(text, len));
}

template <class T>
T reduce_one(const Comm& c, T v, MPI_Datatype type, MPI_Op op) {
  T out{};
  check(MPI_Allreduce(&v, &out, 1, type, op, c.native()), "Allreduce");
  return out;
}

// Seconds a rank that failed waits for the others at an agreement (TESSERA_FAILURE_TIMEOUT).
int failure_timeout_s() {
  const char* env = std::getenv("TESSERA_FAILURE_TIMEOUT");
  const int s = env ? std::atoi(env) : 0;
  return s > 0 ? s : 60;
}

// A rank that failed waits for the others at the agreement. If they never come, because one of
// them is stuck in a collective of HDF5 or MPI-IO that this rank left when its call failed (seen:
// a write past a file-size limit on one rank, inside nc_enddef), the job would hang until its
// time limit. After the timeout this rank prints its error, removes the output's temporary and
// lock files and ends the job (MPI_Abort works from any thread in Open MPI and MPICH).
class FailureWatchdog {
 public:
  FailureWatchdog(int code, const std::string& message, int rank) {
    const int timeout = failure_timeout_s();
    thread_ = std::thread([this, code, message, rank, timeout] {
      std::unique_lock<std::mutex> lock(mutex_);
      if (cv_.wait_for(lock, std::chrono::seconds(timeout), [this] { return done_; })) return;
      std::fprintf(stderr,
                   "tessera: error (rank %d): %s\n(the other ranks did not reach this error within %d s, "
                   "stuck in a collective I/O call: ending the job)\n",
                   rank, message.c_str(), timeout);
      std::fflush(stderr);
      remove_registered_files();
      MPI_Abort(MPI_COMM_WORLD, code);
      std::_Exit(code);
    });
  }
  ~FailureWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  FailureWatchdog(const FailureWatchdog&) = delete;
  FailureWatchdog& operator=(const FailureWatchdog&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

Environment::Environment(int& argc, char**& argv) {
  // Tessera never uses shared file pointers; Open MPI 4.1's lockedfile component overflows a
  // buffer on long paths inside MPI_File_open. A site's own choice wins (no overwrite).
  ::setenv("OMPI_MCA_sharedfp", "^lockedfile", 0);
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  // Errors come back as codes so they become typed exceptions, not silent aborts.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

Environment::~Environment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

int Comm::rank() const {
  int r = 0;
  check(MPI_Comm_rank(comm_, &r), "Comm_rank");
  return r;
}

int Comm::size() const {
  int s = 1;
  check(MPI_Comm_size(comm_, &s), "Comm_size");
  return s;
}

void Comm::barrier() const { check(MPI_Barrier(comm_), "Barrier"); }

std::int64_t Comm::allreduce_sum(std::int64_t v) const { return reduce_one(*this, v, MPI_INT64_T, MPI_SUM); }
std::int64_t Comm::allreduce_max(std::int64_t v) const { return reduce_one(*this, v, MPI_INT64_T, MPI_MAX); }
std::int64_t Comm::allreduce_min(std::int64_t v) const { return reduce_one(*this, v, MPI_INT64_T, MPI_MIN); }
double Comm::allreduce_sum(double v) const { return reduce_one(*this, v, MPI_DOUBLE, MPI_SUM); }
double Comm::allreduce_max(double v) const { return reduce_one(*this, v, MPI_DOUBLE, MPI_MAX); }
double Comm::allreduce_min(double v) const { return reduce_one(*this, v, MPI_DOUBLE, MPI_MIN); }

void Comm::allreduce_sum_inplace(std::vector<std::int64_t>& v) const {
  check(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_INT64_T, MPI_SUM, comm_),
        "Allreduce");
}

std::vector<double> Comm::gather_to_root(double v, int root) const {
  std::vector<double> out(rank() == root ? size() : 0);
  check(MPI_Gather(&v, 1, MPI_DOUBLE, out.data(), 1, MPI_DOUBLE, root, comm_), "Gather");
  return out;
}

std::vector<std::int64_t> Comm::allgather(std::int64_t v) const {
  std::vector<std::int64_t> out(size());
  check(MPI_Allgather(&v, 1, MPI_INT64_T, out.data(), 1, MPI_INT64_T, comm_), "Allgather");
  return out;
}

std::string Comm::broadcast(const std::string& s, int root) const {
  std::int64_t n = static_cast<std::int64_t>(s.size());
  check(MPI_Bcast(&n, 1, MPI_INT64_T, root, comm_), "Bcast");
  std::string out = rank() == root ? s : std::string(static_cast<std::size_t>(n), '\0');
  if (n > 0) check(MPI_Bcast(out.data(), static_cast<int>(n), MPI_CHAR, root, comm_), "Bcast");
  return out;
}

std::vector<std::vector<char>> Comm::alltoallv(const std::vector<std::vector<char>>& send) const {
  const int p = size();
  std::vector<std::int64_t> send_n(p), recv_n(p);
  for (int r = 0; r < p; ++r) send_n[r] = static_cast<std::int64_t>(send[r].size());
  check(MPI_Alltoall(send_n.data(), 1, MPI_INT64_T, recv_n.data(), 1, MPI_INT64_T, comm_), "Alltoall");
  // Point-to-point keeps each message's size in 64 bits without MPI 4 large-count calls.
  std::vector<std::vector<char>> recv(p);
  std::vector<MPI_Request> reqs;
  constexpr std::int64_t max_msg = std::numeric_limits<int>::max() / 2;
  const int me = rank();
  for (int r = 0; r < p; ++r) {
    recv[r].resize(static_cast<std::size_t>(recv_n[r]));
    if (r == me) { recv[r] = send[r]; continue; }
    for (std::int64_t off = 0; off < recv_n[r]; off += max_msg) {
      reqs.emplace_back();
      int n = static_cast<int>(std::min(max_msg, recv_n[r] - off));
      check(MPI_Irecv(recv[r].data() + off, n, MPI_BYTE, r, 7, comm_, &reqs.back()), "Irecv");
    }
  }
  for (int r = 0; r < p; ++r) {
    if (r == me) continue;
    for (std::int64_t off = 0; off < send_n[r]; off += max_msg) {
      reqs.emplace_back();
      int n = static_cast<int>(std::min(max_msg, send_n[r] - off));
      check(MPI_Isend(send[r].data() + off, n, MPI_BYTE, r, 7, comm_, &reqs.back()), "Isend");
    }
  }
  check(MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE), "Waitall");
  return recv;
}

void Comm::abort(int code) const noexcept {
  MPI_Abort(comm_, code);
  std::_Exit(code);
}

Agreement agree(const Comm& comm, int local_code, const std::string& local_message) {
  Agreement a;
  const int me = comm.rank();
  std::unique_ptr<FailureWatchdog> watchdog;
  if (local_code != 0 && comm.size() > 1)
    watchdog = std::make_unique<FailureWatchdog>(local_code, local_message, me);
  // Lowest failing rank wins: encode (failed ? rank : size) and take the minimum.
  std::int64_t origin = comm.allreduce_min(std::int64_t(local_code != 0 ? me : comm.size()));
  a.failed_ranks = static_cast<int>(comm.allreduce_sum(std::int64_t(local_code != 0)));
  if (origin == comm.size()) return a;
  a.origin_rank = static_cast<int>(origin);
  a.code = static_cast<int>(comm.allreduce_max(std::int64_t(me == a.origin_rank ? local_code : 0)));
  a.message = comm.broadcast(me == a.origin_rank ? local_message : std::string(), a.origin_rank);
  return a;
}

}  // namespace tessera::mpi
