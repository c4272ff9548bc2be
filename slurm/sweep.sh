#!/usr/bin/env bash
# A scaling sweep of one Tessera job: the same job on 1, 2, 4, ... nodes, every run writing its
# --report JSON into one folder, then benchmarks/scaling.py turns the reports into a CSV and a plot.
#
#   slurm/sweep.sh strong|weak JOB.yaml [--nodes 1,2,4] [--ntasks-per-node T] [--out DIR]
#                  [--repeat R] [--shape T,Y,X [--chunks T,Y,X]] [--local] [--wait]
#                  [sbatch options...] [-- tessera run options]
#
#   strong  the job as it is (fixed dataset) on every node count.
#   weak    the dataset grows with the node count: for N nodes `tessera generate` writes
#           DIR/data/weak-nN.nc with N times the time steps of the one-node shape (--shape and
#           --chunks, else the job's `# generate:` recipe line), and DIR/jobs/weak-nN.yaml is the job pointed at
#           it (one input) with its output in DIR/out/.
#
# With Slurm (default) every run is `sbatch slurm/tessera.sbatch JOB.yaml --overwrite` with
# --nodes=N --ntasks-per-node=T --exclusive, chained with --dependency=afterany on the previous
# run, so runs never compete for nodes or the filesystem and one failure does not stop the rest.
# A weak sweep's data is written by a first job in the chain (one rank). Reports go to
# DIR/report-nN.json (DIR/report-nN-rK.json with --repeat), logs to DIR/tessera-nN-<jobid>.out.
# The script prints the job ids and returns; --wait waits for the last run and runs the collector.
# Options it does not know go to sbatch (e.g. --time 00:20:00 --partition P --account A).
#
# --local runs the same sweep on this machine without Slurm: `mpirun -n N*T` per step, one after
# the other, then the collector (laptops, CI). Ranks beyond the cores are oversubscribed.
#
# Writes DIR/sweep.json (kind, mode, node counts, tasks per node, job ids) for the collector.
# Environment: TESSERA (the tessera binary; default: `tessera` on PATH, else build/src/tessera),
# MPIEXEC (local mode launcher, default mpirun), PYTHON (collector, default /usr/bin/python3).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

usage() {
  sed -n '5,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
say() { echo "sweep: $*"; }
die() {
  echo "sweep: error: $*" >&2
  exit 2
}

[ $# -ge 2 ] || usage
kind=$1
job=$2
shift 2
case "$kind" in strong | weak) ;; *) die "the first argument must be strong or weak, not '$kind'" ;; esac
[ -f "$job" ] || die "no job file '$job'"
job="$(cd "$(dirname -- "$job")" && pwd)/$(basename -- "$job")"

nodes_list=1,2,4
tasks=1
out=""
repeat=1
shape=""
chunks=""
local_mode=0
wait_mode=0
sbatch_opts=()
run_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes_list=${2:?--nodes needs a list}; shift 2 ;;
    --nodes=*) nodes_list=${1#*=}; shift ;;
    --ntasks-per-node) tasks=${2:?--ntasks-per-node needs a number}; shift 2 ;;
    --ntasks-per-node=*) tasks=${1#*=}; shift ;;
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --repeat) repeat=${2:?--repeat needs a number}; shift 2 ;;
    --repeat=*) repeat=${1#*=}; shift ;;
    --shape) shape=${2:?--shape needs T,Y,X}; shift 2 ;;
    --shape=*) shape=${1#*=}; shift ;;
    --chunks) chunks=${2:?--chunks needs T,Y,X}; shift 2 ;;
    --chunks=*) chunks=${1#*=}; shift ;;
    --local) local_mode=1; shift ;;
    --wait) wait_mode=1; shift ;;
    -h | --help) usage ;;
    --) shift; run_opts=("$@"); break ;;
    *) sbatch_opts+=("$1"); shift ;;
  esac
done

IFS=, read -ra nodes <<<"$nodes_list"
[ ${#nodes[@]} -ge 1 ] || die "--nodes needs at least one node count"
for n in "${nodes[@]}"; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "bad node count '$n' in --nodes $nodes_list"; done
[[ $tasks =~ ^[1-9][0-9]*$ ]] || die "bad --ntasks-per-node '$tasks'"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "bad --repeat '$repeat'"
[ $local_mode -eq 0 ] || [ ${#sbatch_opts[@]} -eq 0 ] || die "unknown options for a --local sweep: ${sbatch_opts[*]}"

# One folder per sweep: the collector reads every report in it, so stale ones would mix in.
[ -n "$out" ] || out="sweep-$kind-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
if compgen -G "$out/report-n*.json" >/dev/null; then
  die "$out already holds reports (report-n*.json): use a fresh --out folder"
fi

# Compute nodes run the binary by absolute path: resolve it here.
tessera=${TESSERA:-tessera}
if ! exe=$(command -v -- "$tessera" 2>/dev/null); then
  if [ -n "${TESSERA:-}" ] || [ ! -x "$root/build/src/tessera" ]; then
    die "tessera executable '$tessera' not found: set TESSERA=/path/to/tessera or add it to PATH"
  fi
  exe="$root/build/src/tessera"
fi
[[ $exe == /* ]] || exe="$PWD/$exe"

# --- weak scaling: one dataset and one job file per node count ---
gen_cmds=()  # one `tessera generate ...` line per node count (shell-quoted)
job_for() { if [ "$kind" = weak ]; then echo "$out/jobs/weak-n$1.yaml"; else echo "$job"; fi; }
if [ "$kind" = weak ]; then
  recipe=$(sed -n 's/^# generate: //p' "$job" | head -n 1)
  read -ra gen_args <<<"$recipe"
  [ ${#gen_args[@]} -eq 0 ] || gen_args=("${gen_args[@]:1}")  # drop the recipe's output path
  if [ -n "$shape" ]; then
    # --shape replaces the recipe's shape and chunks (chunks made for another shape may not fit);
    # its other options (fill fraction, format) stay.
    rest=()
    skip=0
    for a in "${gen_args[@]}"; do
      if [ $skip -eq 1 ]; then
        skip=0
      elif [ "$a" = --shape ] || [ "$a" = --chunks ]; then
        skip=1
      else
        rest+=("$a")
      fi
    done
    gen_args=(--shape "$shape" ${chunks:+--chunks "$chunks"} "${rest[@]}")
  elif [ -n "$chunks" ]; then
    die "--chunks goes with --shape"
  fi
  base_shape=""
  for i in "${!gen_args[@]}"; do
    [ "${gen_args[$i]}" != --shape ] || base_shape=${gen_args[$((i + 1))]}
  done
  [[ $base_shape =~ ^([0-9]+),([0-9]+),([0-9]+)$ ]] ||
    die "weak scaling needs the one-node dataset shape: --shape T,Y,X (or a '# generate: PATH --shape T,Y,X ...' line in $job)"
  t1=${BASH_REMATCH[1]} yx="${BASH_REMATCH[2]},${BASH_REMATCH[3]}"
  mkdir -p "$out/data" "$out/jobs" "$out/out"
  for n in "${nodes[@]}"; do
    args=("${gen_args[@]}")
    for i in "${!args[@]}"; do
      [ "${args[$i]}" != --shape ] || args[i + 1]="$((t1 * n)),$yx"
    done
    gen_cmds+=("$(printf '%q ' "$exe" generate "$out/data/weak-n$n.nc" "${args[@]}" --overwrite)")
    # The job with its one input path on the generated data and its output in DIR/out (paths
    # absolute: the copy lives elsewhere). Top-level sections are the unindented keys.
    awk -v data="$out/data/weak-n$n.nc" -v res="$out/out/weak-n$n.nc" '
      /^[^ #]/ { sec = $1 }
      sec == "inputs:" && /^ +path:/ { sub(/path:.*/, "path: " data); nin++ }
      sec == "output:" && /^ +path:/ { sub(/path:.*/, "path: " res); nout++ }
      { print }
      END { if (nin != 1 || nout != 1) exit 1 }' "$job" >"$out/jobs/weak-n$n.yaml" ||
      die "weak scaling needs a job with exactly one input 'path:' and an output 'path:' ($job)"
  done
fi

run_name() { if [ "$repeat" -gt 1 ]; then echo "n$1-r$2"; else echo "n$1"; fi; }

write_meta() { # write_meta MODE JOBIDS...
  local mode=$1 ids=""
  shift
  [ $# -eq 0 ] || ids=$(printf '"%s",' "$@")
  # Written aside and renamed: whoever waits for sweep.json never reads it half-written.
  cat >"$out/.sweep.json.tmp" <<EOF
{
  "kind": "$kind",
  "mode": "$mode",
  "job": "$job",
  "nodes": [$(IFS=,; echo "${nodes[*]}")],
  "ntasks_per_node": $tasks,
  "repeat": $repeat,
  "job_ids": [${ids%,}],
  "created": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
  mv -f "$out/.sweep.json.tmp" "$out/sweep.json"
}

collect() {
  say "collecting: ${PYTHON:-/usr/bin/python3} $root/benchmarks/scaling.py $out"
  "${PYTHON:-/usr/bin/python3}" "$root/benchmarks/scaling.py" "$out"
}

# --- without Slurm: mpirun, one step after the other ---
if [ $local_mode -eq 1 ]; then
  mpiexec=${MPIEXEC:-mpirun}
  command -v "$mpiexec" >/dev/null 2>&1 || die "$mpiexec not found (set MPIEXEC)"
  # Open MPI refuses root and more ranks than cores unless told; a site's own settings win.
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
  fi
  export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
  # Oversubscribed ranks waiting in MPI must yield the core, not spin.
  export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
  export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}
  write_meta local
  for c in "${gen_cmds[@]}"; do
    say "generating: $c"
    eval "$c" >"$out/generate.out" 2>&1 || { cat "$out/generate.out" >&2; die "tessera generate failed"; }
  done
  failures=0
  for n in "${nodes[@]}"; do
    for r in $(seq 1 "$repeat"); do
      name=$(run_name "$n" "$r")
      say "$name: $mpiexec -n $((n * tasks)) tessera run $(job_for "$n")"
      if ! "$mpiexec" -n $((n * tasks)) "$exe" run "$(job_for "$n")" --report "$out/report-$name.json" \
        --overwrite "${run_opts[@]}" >"$out/local-$name.out" 2>&1; then
        say "$name failed (log $out/local-$name.out):"
        tail -n 5 "$out/local-$name.out" >&2
        failures=$((failures + 1))
      fi
    done
  done
  collect
  [ $failures -eq 0 ] || die "$failures run(s) failed"
  exit 0
fi

# --- with Slurm: a chain of batch jobs ---
command -v sbatch >/dev/null 2>&1 || die "sbatch not found (use --local to sweep without Slurm)"
ids=()
prev=""
submit() { # submit NAME SBATCH_ARGS...: prints nothing, appends the job id to ids
  local name=$1 id
  shift
  id=$(sbatch --parsable ${prev:+--dependency=afterany:$prev} "$@") || die "sbatch failed for $name"
  id=${id%%;*}
  ids+=("$id")
  prev=$id
  say "$name: job $id"
}
if [ ${#gen_cmds[@]} -gt 0 ]; then
  # One rank is enough for test-sized data; it runs on a compute node, not the login node.
  submit generate --job-name=sweep-generate --nodes=1 --ntasks=1 --output="$out/generate-%j.out" \
    "${sbatch_opts[@]}" --wrap="set -e; $(printf '%s; ' "${gen_cmds[@]}")"
fi
for n in "${nodes[@]}"; do
  for r in $(seq 1 "$repeat"); do
    name=$(run_name "$n" "$r")
    # Exclusive nodes: a scaling run must not share its nodes with other jobs.
    TESSERA="$exe" TESSERA_REPORT="$out/report-$name.json" submit "$name" --job-name="sweep-$name" \
      --nodes="$n" --ntasks-per-node="$tasks" --exclusive --output="$out/tessera-$name-%j.out" \
      "${sbatch_opts[@]}" "$root/slurm/tessera.sbatch" "$(job_for "$n")" --overwrite "${run_opts[@]}"
  done
done
write_meta slurm "${ids[@]}"
say "submitted ${#ids[@]} job(s), chained: ${ids[*]}"

if [ $wait_mode -eq 0 ]; then
  say "when the last one (${ids[-1]}) has finished: ${PYTHON:-/usr/bin/python3} $root/benchmarks/scaling.py $out"
  exit 0
fi
# Waits until every job has left the queue (finished jobs disappear after MinJobAge).
say "waiting for job ${ids[-1]}"
for id in "${ids[@]}"; do
  while :; do
    info=$(scontrol show job -o "$id" 2>&1) || true
    [[ $info != *"Invalid job id"* ]] || break  # finished and already purged
    if [[ $info == *JobState=* ]] &&
      ! [[ $info =~ JobState=(PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|RESIZING|STAGE_OUT|SIGNALING) ]]; then
      break
    fi
    sleep 2
  done
done
collect
