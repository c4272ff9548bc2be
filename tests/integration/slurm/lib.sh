# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts that source it
# Sourced by the Slurm integration tests (test_slurm.sh, test_sweep.sh): what both need before
# their own cases. Set TEST (a short name for messages and folders) and PY_CHECK (a Python
# import line and the Debian package that provides it) before sourcing. Provides: $src $bin
# $cluster_sh $work $cdir $conf, pass/fail counters (define fail_logs NAME to list the files
# whose tails a failure shows), track_group/untrack_group for background process groups, and
# start_cluster, which also arms a watchdog. On any exit the groups are ended, the cluster is
# stopped and $work is removed (kept with TESSERA_KEEP_TMP=1).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${TESSERA_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
bin=${TESSERA_BIN:-$src/build/src/tessera}
cluster_sh="$src/slurm/testcluster.sh"
t_start=$SECONDS

# Without Slurm this test fails loudly: a skipped test would hide a broken install.
missing=()
for t in sbatch srun scontrol squeue slurmctld slurmd munged mungekey; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || missing+=("$t")
done
read -r py_import py_package <<<"$PY_CHECK"
/usr/bin/python3 -c "import $py_import" 2>/dev/null || missing+=("$py_package")
if [ ${#missing[@]} -gt 0 ]; then
  echo "$TEST: FAILED: missing ${missing[*]}; install the Debian packages slurm-wlm munge $py_package (tests/install-deps.sh)" >&2
  echo "$TEST: 0 passed, 1 failed"
  exit 1
fi
[ -x "$bin" ] || { echo "$TEST: FAILED: no tessera at $bin (set TESSERA_BIN)" >&2; exit 1; }

# Never talk to a Slurm this test did not start: drop what an enclosing job or a user's
# shell may carry (SLURM_CONF, SLURM_JOB_ID, SBATCH_ACCOUNT, ...).
while read -r v; do unset "$v"; done < <(compgen -v | grep -E '^(SLURM|SBATCH|SRUN|SALLOC)_' || true)

# The Open MPI settings of cmake/TesseraTesting.cmake (root, more ranks than cores), also when
# run by hand; sbatch passes the environment on to the jobs.
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1} OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader,tcp}
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}
# Up to 8 ranks share 2 cores here: ranks waiting in MPI must yield, not spin.
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
# Ranks on different virtual nodes talk TCP; the nodes are one host, so keep that traffic on
# loopback rather than depend on the machine's network interfaces.
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo

# Unix socket paths (munge, PMIx) must stay under 108 bytes: a long TMPDIR would break them.
tmp_base=${TMPDIR:-/tmp}
[ ${#tmp_base} -le 40 ] || tmp_base=/tmp
work=$(mktemp -d "$tmp_base/tessera-$TEST-test.XXXXXX")
cdir="$work/cluster"
conf="$cdir/etc/slurm.conf"
: >"$work/groups"
watchdog=""

# Background process groups (submitters, sweeps) are listed in a file the watchdog can read.
track_group() { echo "$1" >>"$work/groups"; }
untrack_group() { sed -i "/^$1\$/d" "$work/groups"; }
end_groups() { while read -r p; do kill -TERM -- "-$p" 2>/dev/null; done <"$work/groups"; }

cleanup() {
  local rc=$?
  set +e
  [ -z "$watchdog" ] || kill "$watchdog" 2>/dev/null
  end_groups
  [ ! -d "$cdir" ] || bash "$cluster_sh" stop "$cdir" >/dev/null 2>&1
  if [ -n "${TESSERA_KEEP_TMP:-}" ]; then
    echo "$TEST: kept $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

start_cluster() {
  bash "$cluster_sh" start "$cdir" 4
  # Cleans up if this script dies without running its trap (e.g. SIGKILL from a ctest timeout).
  (
    set +e
    while kill -0 $$ 2>/dev/null; do sleep 2; done
    end_groups
    bash "$cluster_sh" stop "$cdir"
    [ -n "${TESSERA_KEEP_TMP:-}" ] || rm -rf "$work"
  ) </dev/null >/dev/null 2>&1 &
  watchdog=$!
}

passed=0
failed=0
fail_logs() { :; }
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL $1: $2"
  local f
  for f in $(fail_logs "$1"); do
    [ -s "$f" ] && { echo "  --- $f"; tail -n 15 "$f" | sed 's/^/  | /'; }
  done
  return 0
}
