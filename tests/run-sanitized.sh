#!/usr/bin/env bash
# The suite under AddressSanitizer + UndefinedBehaviorSanitizer (CI runs it after tests/run.sh):
# builds into ./build-asan (TESSERA_SANITIZE=ON) and runs the unit, mpi and e2e labels.
#   bash tests/run-sanitized.sh [extra ctest arguments]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tests/install-deps.sh"
cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_SANITIZE=ON >/dev/null
cmake --build "$root/build-asan" -j"$(nproc)"
# Leak checking is off: Open MPI's and HDF5's allocations still held at exit would be reported.
# Huge allocations return NULL as without ASan: NetCDF-C checks, and corrupt files ask for 2^61
# bytes (tests/e2e/hostile.py). Any other finding stops the process with a report on stderr,
# which fails the test.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$root/build-asan"
ctest --output-on-failure -j2 -L "unit|mpi|e2e" "$@"
