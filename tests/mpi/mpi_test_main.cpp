// GoogleTest main for MPI tests: every rank runs every test; the process exit code and the
// printed verdict combine all ranks, so a failure on rank 3 cannot pass unseen.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

#include <Kokkos_Core.hpp>

