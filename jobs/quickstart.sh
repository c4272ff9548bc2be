#!/usr/bin/env bash
# Quick start: install dependencies if missing, build, generate the sample dataset named in
# jobs/tas-stats.yaml, and run that job on 2 MPI ranks.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tests/build.sh"
cd "$root"
tessera="$root/build/src/tessera"
job="jobs/tas-stats.yaml"

# Open MPI site defaults for a workstation (see README "MPI settings").
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}" OMPI_MCA_btl="${OMPI_MCA_btl:-self,vader,tcp}"
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
mkdir -p data out
grep '^# generate:' "$job" | sed 's/^# generate://' | while read -r args; do
  # shellcheck disable=SC2086
  mpirun -n 2 --oversubscribe "$tessera" generate $args --overwrite
done
mpirun -n 2 --oversubscribe "$tessera" run "$job" --overwrite --report out/tas-stats.report.json
echo
echo "result: $root/out/tas-stats.nc   (run report: out/tas-stats.report.json)"
"$tessera" inspect out/tas-stats.nc --variable tas_mean
