#pragma once
// The only place that calls MPI. A non-owning view of a communicator with the few collectives
// Tessera needs; every call checks its return code against one error policy.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::mpi {

// MPI_Init_thread/MPI_Finalize for the process; Finalize is skipped after an abort.
class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
};

class Comm {
 public:
  explicit Comm(MPI_Comm c = MPI_COMM_WORLD) noexcept : comm_(c) {}
  static Comm world() noexcept { return Comm(MPI_COMM_WORLD); }
  static Comm self() noexcept { return Comm(MPI_COMM_SELF); }
  MPI_Comm native() const noexcept { return comm_; }

  int rank() const;
  int size() const;
  void barrier() const;

  std::int64_t allreduce_sum(std::int64_t v) const;
  std::int64_t allreduce_max(std::int64_t v) const;
  std::int64_t allreduce_min(std::int64_t v) const;
  double allreduce_sum(double v) const;
  double allreduce_max(double v) const;
  double allreduce_min(double v) const;
  void allreduce_sum_inplace(std::vector<std::int64_t>& v) const;
  std::vector<double> gather_to_root(double v, int root = 0) const;  // empty on other ranks
  std::vector<std::int64_t> allgather(std::int64_t v) const;

  // Bytes from `root` to every rank (strings, serialised metadata).
  std::string broadcast(const std::string& s, int root = 0) const;

  // All-to-all of byte buffers: send[r] goes to rank r; returns what each rank sent here.
  std::vector<std::vector<char>> alltoallv(const std::vector<std::vector<char>>& send) const;

  // Ends every rank of the job with `code` (used only when agreement is impossible).
  [[noreturn]] void abort(int code) const noexcept;

 private:
  MPI_Comm comm_;
};

// A failure that must be reported by exactly one rank and seen by all: every rank calls
// agree() at the end of a phase; if any rank failed, all get the lowest failing rank's
// code and message (and that rank's number), and nobody is left waiting in a collective.
struct Agreement {
  int code = 0;               // 0 = every rank succeeded
  int origin_rank = -1;       // lowest rank that failed
  int failed_ranks = 0;       // how many ranks failed
  std::string message;        // the origin rank's message
};
Agreement agree(const Comm& comm, int local_code, const std::string& local_message);

}  // namespace tessera::mpi
