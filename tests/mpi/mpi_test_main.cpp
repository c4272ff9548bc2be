// GoogleTest main for MPI tests: every rank runs every test; the process exit code and the
// printed verdict combine all ranks, so a failure on rank 3 cannot pass unseen.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

#include <Kokkos_Core.hpp>

namespace {
// On ranks other than 0: report failed assertions only, tagged with the rank.
class FailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_, r.file_name() ? r.file_name() : "?",
                   r.line_number(), r.summary());
  }

 private:
  int rank_;
};
}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  Kokkos::initialize(argc, argv);
  int local_failed = 0;
  {
    testing::InitGoogleTest(&argc, argv);
    // Rank 0 prints the usual report; the others print only their failures.
    if (rank != 0) {
      auto& listeners = testing::UnitTest::GetInstance()->listeners();
      delete listeners.Release(listeners.default_result_printer());
      listeners.Append(new FailurePrinter(rank));
    }
    local_failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  }
  Kokkos::finalize();
  int failed_ranks = 0;
  MPI_Allreduce(&local_failed, &failed_ranks, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (local_failed) std::fprintf(stderr, "[rank %d of %d] FAILED\n", rank, size);
  if (rank == 0) std::printf("[mpi] %d of %d ranks failed\n", failed_ranks, size);
  MPI_Finalize();
  return failed_ranks ? 1 : 0;
}
