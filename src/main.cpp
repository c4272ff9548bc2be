// tessera: one SPMD executable for reductions of large gridded datasets.
#include <Kokkos_Core.hpp>

#include <cstring>
#include <vector>

#include "cli/commands.hpp"
#include "mpi/comm.hpp"

int main(int argc, char** argv) {
  tessera::mpi::Environment mpi(argc, argv);
  // Kokkos sees only its own --kokkos-* options: it also acts on bare ones such as --help and
  // --threads, which are Tessera's (`tessera run --help` printed Kokkos's help first).
  std::vector<char*> kokkos_args{argv[0]}, own_args{argv[0]};
  for (int i = 1; i < argc; ++i)
    (std::strncmp(argv[i], "--kokkos-", 9) == 0 ? kokkos_args : own_args).push_back(argv[i]);
  int kokkos_argc = static_cast<int>(kokkos_args.size());
  kokkos_args.push_back(nullptr);
  Kokkos::ScopeGuard kokkos(kokkos_argc, kokkos_args.data());
  own_args.push_back(nullptr);
  return tessera::cli::run_cli(static_cast<int>(own_args.size()) - 1, own_args.data());
}
