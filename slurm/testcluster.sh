#!/usr/bin/env bash
# A private Slurm cluster on 127.0.0.1 for tests: munged + slurmctld + one slurmd per virtual
# node (n1..nN), everything (config, sockets, spool, logs, state) under DIR, on free private
# ports. It never reads or writes /etc/slurm, /etc/munge, /run/munge or the system daemons'
# ports, and it installs nothing (packages: slurm-wlm munge; see tests/install-deps.sh).
#
#   slurm/testcluster.sh start DIR [NODES]   (NODES: 1-4, default 4; CPUs per node: $TESTCLUSTER_CPUS,
#                                             default 2; $TESTCLUSTER_MIN_JOB_AGE, default 4 s)
#   slurm/testcluster.sh status DIR
#   slurm/testcluster.sh stop DIR            (cancels jobs, then stops the daemons by PID)
#   slurm/testcluster.sh env DIR             (prints `export SLURM_CONF=...` for this cluster)
#
# Clients need SLURM_CONF=DIR/etc/slurm.conf; export it only for commands meant for this cluster.
set -euo pipefail

usage() { echo "usage: $0 start|stop|status|env DIR [NODES]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
nodes=${3:-4}
conf="$dir/etc/slurm.conf"

log() { echo "testcluster: $*" >&2; }
die() { log "$*"; exit 1; }

need_tools() {
  local t missing=()
  for t in munged mungekey slurmctld slurmd sbatch srun scontrol sinfo squeue scancel; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: install the Debian packages slurm-wlm and munge"
}

# Our daemons' binaries live in /usr/sbin, which may not be on a user's PATH.
sbin() { if command -v "$1" >/dev/null 2>&1; then command -v "$1"; else echo "/usr/sbin/$1"; fi; }

# True when something listens on 127.0.0.1:$1 (bash's /dev/tcp: no extra tools needed).
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A base port with base..base+nodes all free, from a range system Slurm (6817-6819) never uses.
pick_ports() {
  local base p ok
  for _ in $(seq 1 50); do
    base=$((20000 + (RANDOM % 120) * 100))  # below the ephemeral range (32768+)
    ok=1
    for p in $(seq "$base" $((base + nodes))); do
      if port_busy "$p"; then ok=0; break; fi
    done
    [ $ok -eq 1 ] && { echo "$base"; return 0; }
  done
  die "no free port range found"
}

# Slurm commands for this cluster only: SLURM_CONF is set for the one command, not exported.
sl() { SLURM_CONF="$conf" "$@"; }

# Running (not a zombie: daemons' parents may never reap them).
pid_alive() {
  local st
  [ -n "${1:-}" ] && read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  read -r st _ <<<"${st##*) }"
  [ "$st" != Z ]
}

# PIDs of this cluster's processes: the daemons (from their pid files) and any slurmstepd that
# holds files under DIR (its node's log and spool). Builtins only: this runs in a polling loop.
cluster_pids() {
  local f pid d comm l
  for f in "$dir"/run/*.pid; do
    [ -f "$f" ] && read -r pid <"$f" && pid_alive "$pid" && echo "$pid"
  done
  for d in /proc/[0-9]*; do
    read -r comm 2>/dev/null <"$d/comm" || continue
    if [ "$comm" != slurmstepd ] || ! pid_alive "${d#/proc/}"; then continue; fi
    for l in "$d"/fd/*; do
      if [[ $(readlink "$l" 2>/dev/null) == "$dir"/* ]]; then echo "${d#/proc/}"; break; fi
    done
  done
  return 0
}

# Kills PID and its descendants (children first, so none is orphaned on the way), by PID.
kill_tree() {
  local d st ppid
  for d in /proc/[0-9]*; do
    read -r st 2>/dev/null <"$d/stat" || continue
    read -r _ ppid _ <<<"${st##*) }"
    [ "$ppid" = "$1" ] && kill_tree "${d#/proc/}"
  done
  kill -KILL "$1" 2>/dev/null || true
}

start() {
  need_tools
  [[ "$nodes" =~ ^[1-4]$ ]] || die "NODES must be 1-4, not '$nodes'"
  local cpus=${TESTCLUSTER_CPUS:-2}
  [ ! -e "$dir/run/slurmctld.pid" ] || die "$dir already has a cluster (stop it first)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  conf="$dir/etc/slurm.conf"
  mkdir -p "$dir"/{etc,log,run,state,munge}
  chmod 0755 "$dir"
  chmod 0711 "$dir/munge"  # munged insists the socket's folder is not writable by others
  local i
  for i in $(seq 1 "$nodes"); do mkdir -p "$dir/spool/n$i" "$dir/tmp/n$i"; done

  local base
  base=$(pick_ports)
  echo "$base" >"$dir/run/ports"

  # munge: a fresh key, our own socket; nothing under /etc/munge or /run/munge.
  [ -f "$dir/munge/munge.key" ] || "$(sbin mungekey)" -c -k "$dir/munge/munge.key"
  chmod 0600 "$dir/munge/munge.key"
  "$(sbin munged)" --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"

  # Sets a per-node Open MPI shared-memory folder for srun steps: virtual nodes share one
  # /dev/shm, so segment names from different "nodes" collide (SIGSEGV) otherwise. Not for the
  # batch step: mpirun forwards OMPI_MCA_* from there to every rank on every node.
  cat >"$dir/etc/taskprolog.sh" <<EOF
#!/bin/sh
# The batch step runs this too, without SLURM_STEP_ID.
[ -n "\${SLURM_STEP_ID:-}" ] || exit 0
d="$dir/tmp/\${SLURMD_NODENAME:-unknown}"
mkdir -p "\$d"
echo "export OMPI_MCA_btl_vader_backing_directory=\$d"
EOF
  chmod 0755 "$dir/etc/taskprolog.sh"

  local last=$((base + nodes))
  cat >"$conf" <<EOF
# Private test cluster made by slurm/testcluster.sh; all paths under $dir.
ClusterName=tessera-test
SlurmctldHost=localhost
SlurmctldPort=$base
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
# Per-node TmpFS: PMIx puts its per-job folders there, and they would collide on one host.
TmpFS=$dir/tmp/%n
TaskProlog=$dir/etc/taskprolog.sh
# No cgroups, no systemd, no accounting daemon.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
InactiveLimit=0
KillWait=5
# sbatch --wait backs off its polling (2, 8, 32 s) unless MinJobAge is small: with the default
# (300) a 1-s job took 10-42 s to report, with 4 it polls every 2 s. Finished jobs stay listed
# this many seconds; their records remain in log/jobcomp.txt (sacct -c).
MinJobAge=${TESTCLUSTER_MIN_JOB_AGE:-4}
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=n[1-$nodes] NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((base + 1))-$last CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=n[1-$nodes] Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

  # PMIx fences on one algorithm: with Slurm's default (mixed) about 1 in 15 four-node Open MPI
  # 4.1 starts here crashed in MPI_Init (a peer's first message arrived while this rank still
  # waited in the modex fence); with tree, none in 150 (ring: none in 40).
  echo "PMIxCollFence=tree" >"$dir/etc/mpi.conf"

  SLURM_CONF="$conf" "$(sbin slurmctld)" -f "$conf" -i
  for i in $(seq 1 "$nodes"); do
    SLURM_CONF="$conf" "$(sbin slurmd)" -f "$conf" -N "n$i"
  done

  # Ready when every node is idle (takes 1-2 s).
  local t idle
  for t in $(seq 1 60); do
    idle=$(sl sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l)
    [ "$idle" -eq "$nodes" ] && { log "up: $nodes node(s), slurmctld on 127.0.0.1:$base, SLURM_CONF=$conf"; return 0; }
    sleep 0.5
  done
  log "nodes not idle after 30 s:"
  sl sinfo -N -l >&2 || true
  tail -n 20 "$dir/log/slurmctld.log" >&2 || true
  return 1
}

stop() {
  [ -d "$dir" ] || { log "no $dir"; return 0; }
  dir=$(cd "$dir" && pwd)
  conf="$dir/etc/slurm.conf"
  local pid f t
  # Jobs first: stopping the daemons leaves running jobs behind.
  if [ -f "$dir/run/slurmctld.pid" ] && pid_alive "$(cat "$dir/run/slurmctld.pid")"; then
    sl scancel --quiet --full --user="$(id -un)" 2>/dev/null || true
    for t in $(seq 1 40); do
      [ -z "$(sl squeue -h -t PD,R,CG,S -o %i 2>/dev/null)" ] && break
      sleep 0.25
    done
  fi
  for f in "$dir"/run/slurmd-*.pid "$dir/run/slurmctld.pid" "$dir/run/munged.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if pid_alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for t in $(seq 1 20); do
    [ -z "$(cluster_pids)" ] && break
    sleep 0.25
  done
  # Whatever is left (a slurmstepd of a job the controller could not cancel, a daemon ignoring
  # TERM) goes with everything it started, by PID.
  for pid in $(cluster_pids); do kill_tree "$pid"; done
  rm -f "$dir"/run/*.pid
  log "stopped"
}

status() {
  [ -f "$conf" ] || die "no cluster in $dir"
  local f pid
  for f in "$dir"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if pid_alive "$pid"; then echo "$(basename "$f" .pid): running (pid $pid)"; else echo "$(basename "$f" .pid): not running"; fi
  done
  sl sinfo -N -o '%N %T %c' || true
  sl squeue || true
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) dir=$(cd "$dir" && pwd); echo "export SLURM_CONF=$dir/etc/slurm.conf" ;;
  *) usage ;;
esac
