// tessera: one SPMD executable for reductions of large gridded datasets.
#include <Kokkos_Core.hpp>

#include "cli/commands.hpp"
#include "mpi/comm.hpp"

int main(int argc, char** argv) {
  tessera::mpi::Environment mpi(argc, argv);
  Kokkos::ScopeGuard kokkos(argc, argv);
  return tessera::cli::run_cli(argc, argv);
}
