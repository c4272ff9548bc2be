#!/usr/bin/python3
"""Runs a rendered MPIJob the way the MPI Operator would, for real, on one machine, and checks
that its output equals a direct `mpirun` run of the same job.

Each pod is a process tree in its own network namespace (veth to a bridge in a namespace of its
own, private 10.244.1.0/24 addresses), UTS namespace (the pod's hostname) and mount namespace
whose root is a copy-on-write overlay of the image's filesystem:
  - host mode (default): the host's root filesystem plus what k8s/Dockerfile adds (user tessera
    uid 1000, k8s/ssh_config, k8s/sshd_config, /usr/local/bin/{tessera,tessera-sshd}, /run/sshd);
  - image mode (--rootfs DIR): the unpacked image built by k8s/build-image.sh, unchanged.
From the manifest come the containers' command, env (Secret references resolved from a stand-in
Secret), securityContext (uid, gid, fsGroup, read-only root, no_new_privs, no capabilities),
volumes (ConfigMap -> read-only bind mount of files written as the kubelet writes them, PVC with
subPath -> a shared host directory, emptyDir -> tmpfs) and the readiness probe port. From the
operator's controller code come the ssh Secret (ECDSA P-521 PEM key as id_rsa, id_rsa.pub,
authorized_keys, mode 0644 at sshAuthMountPath), the hostfile ConfigMap at /etc/mpi
(`<job>-worker-<i>.<job>-worker.<ns>.svc slots=<slots>`), the pods' hostnames and the launcher's
environment (OMPI_MCA_orte_* , K_MPI_JOB_ROLE, NVIDIA_*). A shared hosts file stands in for the
headless Service's DNS records. Workers start first; the launcher starts once every worker's
sshd accepts connections (launcherCreationPolicy: WaitForWorkersReady) and runs exactly the
manifest's command.

Preemption: a longer job rendered with --checkpoint-claim (a host directory stands in for the
claim) is stopped by SIGTERM to a worker's first process, the entry point k8s/tessera-sshd, and
in another run to the launcher's, k8s/tessera-launcher, as the kubelet does on eviction. The
launcher must exit 75 with a published checkpoint and no output; the same manifest run again
(and one re-rendered for 3x1 workers) must resume and equal an uninterrupted run bitwise.

What differs from a real cluster: no kubelet (no cgroup limits, probes are polled by this script,
no restarts, backoff or TTL; SIGTERM is sent by this script, and no grace period ends in SIGKILL),
no container runtime (no seccomp profile, PID namespace or image pull), no CNI/kube-proxy/DNS server, no atomic-writer `..data` links in ConfigMap/Secret volumes,
the workspace is a host directory (as an RWX volume would be), and in host mode the "image" is the
host's filesystem with the image's additions. All pods share the host's cores, so the launcher
also gets OMPI_MCA_mpi_yield_when_idle=1 (SIM_ONLY_ENV), the one setting a cluster does not need.
The job runs as uid 1000 exactly as in the pods.

Every namespace and process is torn down by name and PID, also on failure or SIGTERM; a leftover
of a killed earlier run (its PID no longer alive) is removed at start.
Ends with 'k8s: N passed, M failed'; exits non-zero on any failure (a missing tool included).
"""
import argparse
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import k8s_manifest as km

SOURCE_DIR = km.SOURCE_DIR
BIN = os.environ.get("TESSERA_BIN") or os.path.join(SOURCE_DIR, "build", "src", "tessera")
MPIEXEC = os.environ.get("MPIEXEC") or "mpiexec"
K8S_DIR = os.path.join(SOURCE_DIR, "k8s")
PREFIX = "tks"          # network namespaces: tks<pid>-<pod>
WORK_PREFIX = "tessera-k8s-sim-"
SUBNET = "10.244.1"     # inside our own namespaces only
LAUNCH_TIMEOUT = 180
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # the image's ENV PATH
# Not in a real cluster: here every pod shares the host's few cores, and ranks that spin while
# waiting (Open MPI's default when slots are not oversubscribed) starve each other ~3x.
SIM_ONLY_ENV = {"OMPI_MCA_mpi_yield_when_idle": "1"}
TOOLS = ["ip", "unshare", "chroot", "setpriv", "mount", "ssh-keygen", "/usr/sbin/sshd", MPIEXEC]


def sh(cmd, check=True, timeout=60, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"$ {' '.join(map(str, cmd))}\n  exit {p.returncode}: {p.stderr.strip()[-2000:]}")
    return p


def pid_alive(pid):
    """True while the process runs (a zombie awaiting its parent's wait() counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def netns_pids(ns):
    p = sh(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in p.stdout.split()] if p.returncode == 0 else []


def kill_pids(pids, grace=2.0):
    """SIGTERM, then SIGKILL whatever is still there after `grace` seconds."""
    pids = [p for p in set(pids) if p > 1 and p != os.getpid()]
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + grace
    while time.time() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def our_namespaces(owner=None):
    out = sh(["ip", "netns", "list"], check=False).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    mine = [n for n in names if re.match(rf"^{PREFIX}\d+-", n)]
    return [n for n in mine if owner is None or n.startswith(f"{PREFIX}{owner}-")]


def remove_stale_work_dirs():
    """Work directories of killed earlier runs (their mounts died with their pods' namespaces)."""
    for d in glob.glob(os.path.join(tempfile.gettempdir(), WORK_PREFIX + "*")):
        m = re.match(rf"^{WORK_PREFIX}(\d+)-", os.path.basename(d))
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)


def remove_stale_namespaces():
    """Namespaces of earlier runs of this script that were killed before their teardown."""
    for ns in our_namespaces():
        owner = int(re.match(rf"^{PREFIX}(\d+)-", ns).group(1))
        if owner != os.getpid() and not pid_alive(owner):
            kill_pids(netns_pids(ns), grace=0.5)
            sh(["ip", "netns", "delete", ns], check=False)
            print(f"  removed stale namespace {ns}")


class Pod:
    def __init__(self, name, role, index, ip, ns, directory):
        self.name, self.role, self.index, self.ip, self.ns, self.dir = name, role, index, ip, ns, directory
        self.proc = None
        self.log = os.path.join(directory, "log")


class Cluster:
    """One MPIJob's pods and the objects the operator would create for it."""

    def __init__(self, docs, workdir, workspace, rootfs=None, secrets=None, tag="a", claims=None):
        self.docs = docs
        self.cm = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
        self.job = next(d for d in docs if d["kind"] == "MPIJob")
        self.name = self.job["metadata"]["name"]
        self.namespace = self.job["metadata"].get("namespace", "default")
        self.spec = self.job["spec"]
        self.workers = self.spec["mpiReplicaSpecs"]["Worker"]["replicas"]
        self.slots = self.spec.get("slotsPerWorker", 1)
        self.dir = os.path.join(workdir, tag)
        self.workspace = workspace
        self.rootfs = rootfs
        self.secrets = secrets or {}
        # PersistentVolumeClaim name -> host directory standing in for the RWX volume.
        self.claims = {"tessera-workspace": workspace, **(claims or {})}
        self.tag = tag
        self.bridge_ns = f"{PREFIX}{os.getpid()}-{tag}-br"
        self.pods = []
        self.namespaces = []
        self.pids = []
        os.makedirs(self.dir)

    # ---- objects the operator creates
    def service_name(self, pod):
        return f"{pod}.{self.name}-worker.{self.namespace}.svc"

    def write_operator_objects(self):
        ssh = os.path.join(self.dir, "secret-ssh")
        os.makedirs(ssh)
        key = os.path.join(self.dir, "key")
        # The controller: ECDSA P-521, PEM "EC PRIVATE KEY", public key in authorized_keys form.
        sh(["ssh-keygen", "-q", "-t", "ecdsa", "-b", "521", "-m", "PEM", "-N", "", "-C", "", "-f", key])
        pub = " ".join(open(key + ".pub").read().split()[:2]) + "\n"
        shutil.copy(key, os.path.join(ssh, "id_rsa"))
        for f in ("id_rsa.pub", "authorized_keys"):
            with open(os.path.join(ssh, f), "w") as fh:
                fh.write(pub)
        for f in os.listdir(ssh):  # no defaultMode off /root/.ssh: the API default 0644, root-owned
            os.chmod(os.path.join(ssh, f), 0o644)
        cfg = os.path.join(self.dir, "configmap-config")
        os.makedirs(cfg)
        with open(os.path.join(cfg, "hostfile"), "w") as fh:
            for i in range(self.workers):
                fh.write(f"{self.service_name(f'{self.name}-worker-{i}')} slots={self.slots}\n")
        with open(os.path.join(cfg, "discover_hosts.sh"), "w") as fh:
            fh.write("#!/bin/sh\n" + "".join(f"echo {self.service_name(f'{self.name}-worker-{i}')}\n"
                                               for i in range(self.workers)))
        os.chmod(os.path.join(cfg, "hostfile"), 0o444)
        os.chmod(os.path.join(cfg, "discover_hosts.sh"), 0o555)
        self.ssh_dir, self.mpi_dir = ssh, cfg

    def write_configmap_volume(self, cm_name, items):
        src = self.cm.get(cm_name)
        if src is None:
            raise AssertionError(f"ConfigMap {cm_name} is mounted but not in the manifest")
        d = os.path.join(self.dir, f"configmap-{cm_name}")
        if not os.path.isdir(d):
            os.makedirs(d)
            data = src.get("data") or {}
            pairs = [(i["key"], i["path"]) for i in items] if items else [(k, k) for k in data]
            for key, path in pairs:
                with open(os.path.join(d, path), "w") as fh:
                    fh.write(data[key])
                os.chmod(os.path.join(d, path), 0o644)
        return d

    # ---- network
    def create_network(self):
        roles = [("launcher", f"{self.name}-launcher", 0)] + \
                [("worker", f"{self.name}-worker-{i}", i) for i in range(self.workers)]
        self._netns(self.bridge_ns)
        sh(["ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge"])
        sh(["ip", "-n", self.bridge_ns, "link", "set", "br0", "up"])
        # The "node" end, from where the kubelet's probes come.
        sh(["ip", "-n", self.bridge_ns, "addr", "add", f"{SUBNET}.1/24", "dev", "br0"])
        for k, (role, name, index) in enumerate(roles):
            ns = f"{PREFIX}{os.getpid()}-{self.tag}-{k}"
            self._netns(ns)
            ip = f"{SUBNET}.{10 + k}"
            sh(["ip", "-n", self.bridge_ns, "link", "add", f"p{k}", "type", "veth", "peer", "name", "eth0",
                "netns", ns])
            sh(["ip", "-n", self.bridge_ns, "link", "set", f"p{k}", "master", "br0", "up"])
            sh(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0"])
            sh(["ip", "-n", ns, "link", "set", "eth0", "up"])
            pdir = os.path.join(self.dir, name)
            os.makedirs(os.path.join(pdir, "rw"))
            os.makedirs(os.path.join(pdir, "root"))
            self.pods.append(Pod(name, role, index, ip, ns, pdir))
        # The headless Service's DNS records, plus the kubelet's own entries, in one hosts file.
        self.hosts = os.path.join(self.dir, "hosts")
        with open(self.hosts, "w") as fh:
            fh.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
            for p in self.pods:
                fqdn = self.service_name(p.name)
                fh.write(f"{p.ip}\t{fqdn}.cluster.local {fqdn} {p.name}\n")
        os.chmod(self.hosts, 0o644)

    def _netns(self, ns):
        sh(["ip", "netns", "add", ns])
        self.namespaces.append(ns)
        sh(["ip", "-n", ns, "link", "set", "lo", "up"])

    # ---- pods
    def container(self, role):
        return self.spec["mpiReplicaSpecs"][role.capitalize()]["template"]["spec"]["containers"][0]

    def pod_spec(self, role):
        return self.spec["mpiReplicaSpecs"][role.capitalize()]["template"]["spec"]

    def env_of(self, pod):
        c = self.container(pod.role)
        env = {"PATH": PATH, "HOSTNAME": pod.name, "HOME": "/home/tessera"}
        for e in c.get("env") or []:
            if "value" in e:
                env[e["name"]] = str(e["value"])
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                secret = self.secrets.get(ref["name"])
                if secret is None or ref["key"] not in secret:
                    if ref.get("optional"):
                        continue
                    raise AssertionError(f"{pod.name}: Secret {ref['name']} key {ref['key']} is missing "
                                         "(the kubelet would refuse to start the container)")
                env[e["name"]] = secret[ref["key"]]
        env["K_MPI_JOB_ROLE"] = pod.role
        if pod.role == "launcher":  # the controller's Open MPI settings, appended after the template's
            env.update({"OMPI_MCA_orte_keep_fqdn_hostnames": "true",
                        "OMPI_MCA_orte_default_hostfile": "/etc/mpi/hostfile",
                        "OMPI_MCA_plm_rsh_args": "-o ConnectionAttempts=10",
                        "OMPI_MCA_orte_set_default_slots": str(self.slots),
                        "NVIDIA_VISIBLE_DEVICES": "", "NVIDIA_DRIVER_CAPABILITIES": ""})
            env.update(SIM_ONLY_ENV)
        return env

    def argv_of(self, pod):
        c = self.container(pod.role)
        argv = list(c.get("command") or []) + list(c.get("args") or [])
        if pod.role == "worker" and not argv:
            argv = ["/usr/sbin/sshd", "-De"]  # the operator's default
        return argv

    def mounts_of(self, pod):
        """(source, target, read_only, kind) for every volume the pod gets."""
        spec, c = self.pod_spec(pod.role), self.container(pod.role)
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        mounts = []
        for m in c.get("volumeMounts") or []:
            v = volumes[m["name"]]
            ro = bool(m.get("readOnly"))
            if "configMap" in v:
                src = self.write_configmap_volume(v["configMap"]["name"], v["configMap"].get("items"))
                mounts.append((src, m["mountPath"], True, "bind"))
            elif "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                if claim not in self.claims:
                    raise AssertionError(f"PersistentVolumeClaim {claim} is not simulated (the pod would stay Pending)")
                src = os.path.join(self.claims[claim], m.get("subPath", ""))
                mounts.append((src, m["mountPath"], ro, "bind"))
            elif "emptyDir" in v:
                mounts.append((v["emptyDir"].get("sizeLimit", "64Mi"), m["mountPath"], False, "tmpfs"))
            else:
                raise AssertionError(f"volume kind of {v} is not simulated")
        # Added by the operator.
        mounts.append((self.ssh_dir, self.spec.get("sshAuthMountPath", "/root/.ssh"), True, "bind"))
        if pod.role == "launcher":
            mounts.append((self.mpi_dir, "/etc/mpi", True, "bind"))
        return mounts

    def pod_script(self, pod):
        q = shlex.quote
        spec, c = self.pod_spec(pod.role), self.container(pod.role)
        psc, csc = spec.get("securityContext") or {}, c.get("securityContext") or {}
        uid = csc.get("runAsUser", psc.get("runAsUser", 0))
        gid = csc.get("runAsGroup", psc.get("runAsGroup", uid))
        groups = sorted({gid, psc["fsGroup"]} if "fsGroup" in psc else {gid})
        r = q(os.path.join(pod.dir, "root"))
        rw = q(os.path.join(pod.dir, "rw"))
        lower = q(self.rootfs or "/")
        s = ["set -eu", f"hostname {q(pod.name)}",
             f"mount -t tmpfs -o mode=755 tmpfs {rw}", f"mkdir {rw}/upper {rw}/work",
             f"mount -t overlay overlay -o lowerdir={lower},upperdir={rw}/upper,workdir={rw}/work {r}"]
        if not self.rootfs:
            # What k8s/Dockerfile adds to the base image, on top of the host's filesystem.
            s += [f"sed -i '/^[^:]*:[^:]*:1000:/d' {r}/etc/passwd {r}/etc/group",
                  f"echo 'tessera:x:1000:1000:Tessera:/home/tessera:/bin/bash' >> {r}/etc/passwd",
                  f"echo 'tessera:x:1000:' >> {r}/etc/group",
                  f"cp {q(os.path.join(K8S_DIR, 'sshd_config'))} {r}/etc/ssh/sshd_config",
                  f"cp {q(os.path.join(K8S_DIR, 'ssh_config'))} {r}/etc/ssh/ssh_config",
                  f"rm -rf {r}/etc/ssh/ssh_config.d {r}/etc/ssh/sshd_config.d {r}/etc/ssh/ssh_host_*",
                  f"mkdir -p -m 755 {r}/run/sshd {r}/home/tessera", f"chown 1000:1000 {r}/home/tessera",
                  f"mount -t tmpfs -o mode=755 tmpfs {r}/usr/local/bin",
                  f"cp {q(BIN)} {q(os.path.join(K8S_DIR, 'tessera-sshd'))} "
                  f"{q(os.path.join(K8S_DIR, 'tessera-launcher'))} {r}/usr/local/bin/",
                  f"mount -o remount,ro {r}/usr/local/bin"]
        # What the container runtime provides.
        s += [f"mkdir -p {r}/dev {r}/proc {r}/sys {r}/tmp && touch {r}/etc/hosts",
              f"mount --rbind /dev {r}/dev", f"mount -t tmpfs -o mode=1777 shm {r}/dev/shm",
              f"mount --rbind /proc {r}/proc", f"mount --rbind /sys {r}/sys",
              f"mount --bind {q(self.hosts)} {r}/etc/hosts", f"mount -o remount,bind,ro {r}/etc/hosts"]
        for src, target, ro, kind in self.mounts_of(pod):
            t = r + q(target)
            if kind == "tmpfs":
                s += [f"mkdir -p {t}", f"mount -t tmpfs -o mode=777,size={q(src.replace('i', ''))} tmpfs {t}"]
                if "fsGroup" in psc:
                    s += [f"chgrp {psc['fsGroup']} {t}", f"chmod 2777 {t}"]
            else:
                s += [f"mkdir -p {t}", f"mount --bind {q(src)} {t}"]
                if ro:
                    s += [f"mount -o remount,bind,ro {t}"]
        if csc.get("readOnlyRootFilesystem"):
            s += [f"mount -o remount,bind,ro {r}"]
        env = self.env_of(pod)
        drop = ["--no-new-privs"] if csc.get("allowPrivilegeEscalation") is False else []
        s += [f"cd {r}",
              "exec chroot . setpriv " + " ".join(q(a) for a in [
                  "--reuid", str(uid), "--regid", str(gid), "--groups", ",".join(map(str, groups)), *drop,
                  "--bounding-set", "-all", "--pdeathsig", "KILL", "--", "sh", "-c", 'cd /home/tessera && exec "$@"',
                  "sh", "env", "-i", *[f"{k}={v}" for k, v in env.items()], *self.argv_of(pod)])]
        return "\n".join(s) + "\n"

    def start(self, pod):
        script = os.path.join(pod.dir, "pod.sh")
        with open(script, "w") as fh:
            fh.write(self.pod_script(pod))
        log = open(pod.log, "w")
        pod.proc = subprocess.Popen(["ip", "netns", "exec", pod.ns, "unshare", "--mount", "--uts",
                                     "--propagation", "private", "--", "sh", script],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.pids.append(pod.proc.pid)

    def wait_ready(self, pods, timeout=30):
        """The readiness probe: TCP connect to each worker's sshd port, from the bridge namespace."""
        port = self.container("worker")["readinessProbe"]["tcpSocket"]["port"]
        targets = " ".join(f"{p.ip}:{port}" for p in pods)
        probe = ("import socket,sys,time\nt=time.time()+%d\nleft=sys.argv[1:]\n"
                 "while left and time.time()<t:\n"
                 "  h,p=left[0].split(':')\n"
                 "  try:\n    socket.create_connection((h,int(p)),0.5).close(); left.pop(0)\n"
                 "  except OSError: time.sleep(0.05)\n"
                 "sys.exit(1 if left else 0)\n") % timeout
        p = sh(["ip", "netns", "exec", self.bridge_ns, "/usr/bin/python3", "-c", probe, *targets.split()],
               check=False, timeout=timeout + 10)
        for pod in pods:
            if pod.proc.poll() is not None:
                raise AssertionError(f"{pod.name} exited ({pod.proc.returncode}):\n{self.tail(pod)}")
        if p.returncode != 0:
            raise AssertionError("workers not ready:\n" + "\n".join(self.tail(x) for x in pods))

    def tail(self, pod, n=3000):
        try:
            with open(pod.log, errors="replace") as fh:
                return f"--- {pod.name} log:\n{fh.read()[-n:]}"
        except OSError:
            return f"--- {pod.name}: no log"

    def run(self, break_worker=None, while_running=None):
        """Workers, readiness, launcher; returns (launcher exit status, seconds, launcher log).
        while_running(cluster), if given, is called once the launcher has started (e.g. to evict
        a pod)."""
        self.write_operator_objects()
        self.create_network()
        workers = [p for p in self.pods if p.role == "worker"]
        launcher = next(p for p in self.pods if p.role == "launcher")
        for p in workers:
            self.start(p)
        self.wait_ready(workers)
        if break_worker is not None:  # a node lost after the workers were ready
            kill_pids(netns_pids(workers[break_worker].ns) + [workers[break_worker].proc.pid])
        t = time.time()
        self.start(launcher)
        if while_running is not None:
            while_running(self)
        try:
            launcher.proc.wait(timeout=LAUNCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"launcher did not finish in {LAUNCH_TIMEOUT} s:\n{self.tail(launcher)}")
        return launcher.proc.returncode, time.time() - t, self.tail(launcher)

    def sshd_logins(self):
        counts = {}
        for p in self.pods:
            if p.role == "worker":
                with open(p.log, errors="replace") as fh:
                    counts[p.name] = fh.read().count("Accepted publickey for tessera")
        return counts

    def teardown(self):
        """Every process by PID (ours and whatever still lives in our namespaces), then the namespaces."""
        pids = list(self.pids)
        for ns in self.namespaces:
            pids += netns_pids(ns)
        kill_pids(pids)
        for p in self.pods:
            if p.proc is not None:
                try:
                    p.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for ns in reversed(self.namespaces):
            kill_pids(netns_pids(ns), grace=0.5)
            sh(["ip", "netns", "delete", ns], check=False)
        self.namespaces = []


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return None


# A job long enough to be stopped mid-run (2922x96x192 floats in 1 MiB tiles; 1-7 s at 4 ranks on
# 2 cores, so a signal at 35 % of that lands mid-read with margin), with reductions of each kind
# a checkpoint saves (sums, quantiles, a climatology, an area-weighted mean).
CKPT_JOB = """name: ckpt
inputs:
  tas:
    path: ../data/big.nc
    variable: tas
reductions:
  - {name: tmean, op: mean, over: [time]}
  - {name: tstd, op: std, over: [time]}
  - {name: clim, op: mean, over: [time], groupby: month}
  - {name: gmst, op: mean, over: [lat, lon], weights: area}
  - {name: tq, op: quantile, over: [time], q: [0.1, 0.9]}
output:
  path: ../out/ckpt.nc
run:
  memory_per_rank: 1MiB
"""


# ---- comparison

def compare_netcdf(a, b, skip=("history",)):
    """Differences between two NetCDF files: every variable's bytes, every attribute except the
    global ones in `skip` (`history` holds the run's time and command line)."""
    import netCDF4
    import numpy as np
    diffs = []
    with netCDF4.Dataset(a) as x, netCDF4.Dataset(b) as y:
        if {k: len(v) for k, v in x.dimensions.items()} != {k: len(v) for k, v in y.dimensions.items()}:
            diffs.append("dimensions differ")
        if list(x.variables) != list(y.variables):
            diffs.append(f"variables differ: {list(x.variables)} vs {list(y.variables)}")
        gx = {k: x.getncattr(k) for k in x.ncattrs() if k not in skip}
        gy = {k: y.getncattr(k) for k in y.ncattrs() if k not in skip}
        if repr(gx) != repr(gy):
            diffs.append(f"global attributes differ: {gx} vs {gy}")
        for name in x.variables:
            if name not in y.variables:
                continue
            vx, vy = x.variables[name], y.variables[name]
            vx.set_auto_maskandscale(False)
            vy.set_auto_maskandscale(False)
            ax, ay = np.asarray(vx[:]), np.asarray(vy[:])
            if ax.dtype != ay.dtype or ax.shape != ay.shape or ax.tobytes() != ay.tobytes():
                diffs.append(f"variable {name}: data differ")
            if repr({k: vx.getncattr(k) for k in vx.ncattrs()}) != repr({k: vy.getncattr(k) for k in vy.ncattrs()}):
                diffs.append(f"variable {name}: attributes differ")
        nvars = len(x.variables)
    return diffs, nvars


# ---- the test run

class Run:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-")
        self.clusters = []
        self.workspace = os.path.join(self.work, "workspace")
        self.job_file = os.path.join(SOURCE_DIR, "jobs", "tas-stats.yaml")

    def env(self):
        return dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                    OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_pml="ob1", OMPI_MCA_btl="self,vader,tcp",
                    HDF5_USE_FILE_LOCKING="FALSE")

    def make_data(self):
        """The job's sample data (its `# generate:` line), in the workspace's data/."""
        with open(self.job_file) as fh:
            line = next(l for l in fh if l.startswith("# generate:"))
        gen = shlex.split(line.split(":", 1)[1])
        assert gen[0].startswith("data/"), gen
        os.makedirs(os.path.join(self.workspace, "data"))
        out = os.path.join(self.workspace, "out")
        os.makedirs(out)
        os.chown(out, 0, 1000)  # the volume as fsGroup leaves it: group 1000, setgid, writable
        os.chmod(out, 0o2775)
        sh([BIN, "generate", os.path.join(self.workspace, gen[0]), *gen[1:]], env=self.env(), timeout=120)

    def render(self, workers, slots, extra=(), job_file=None):
        p = sh([BIN, "render", "mpijob", job_file or self.job_file, "--image", "localhost/tessera:sim", "--workers",
                str(workers), "--slots", str(slots), "--namespace", "sim", *extra], env=self.env(),
               cwd=SOURCE_DIR)
        return km.load_docs(p.stdout)

    def direct(self, ranks, job_file=None, output="tas-stats.nc"):
        """The same job under plain mpirun on the host, output kept per rank count."""
        d = os.path.join(self.work, f"direct-{ranks}-{output}")
        os.makedirs(os.path.join(d, "jobs"))
        os.makedirs(os.path.join(d, "out"))
        os.symlink(os.path.join(self.workspace, "data"), os.path.join(d, "data"))
        shutil.copy(job_file or self.job_file, os.path.join(d, "jobs", "job.yaml"))
        # In image mode the image's own binary: the comparison is about the launch path, not builds.
        binary = os.path.join(self.args.rootfs, "usr/local/bin/tessera") if self.args.rootfs else BIN
        t = time.time()
        sh([MPIEXEC, "-n", str(ranks), binary, "run", os.path.join(d, "jobs", "job.yaml"), "--expect-ranks",
            str(ranks), "--quiet"], env=self.env(), timeout=300)
        return os.path.join(d, "out", output), time.time() - t

    def simulate(self, workers, slots, tag, break_worker=None):
        docs = self.render(workers, slots, ["--credentials-secret", "sim-object-store"])
        errors = km.validate(docs, km.mpijob_schema())
        assert not errors, "rendered manifest invalid: " + "; ".join(errors)
        out = os.path.join(self.workspace, "out", "tas-stats.nc")
        if os.path.exists(out):
            os.remove(out)
        secrets = {"sim-object-store": {"AWS_ACCESS_KEY_ID": "SIMKEY", "AWS_SECRET_ACCESS_KEY": "SIMSECRET"}}
        c = Cluster(docs, self.work, self.workspace, rootfs=self.args.rootfs, secrets=secrets, tag=tag)
        self.clusters.append(c)
        try:
            t = time.time()
            rc, launch_s, log = c.run(break_worker=break_worker)
            total = time.time() - t
            return c, rc, log, out, launch_s, total
        finally:
            c.teardown()

    # -- cases
    def test_prerequisites(self):
        missing = [t for t in TOOLS if shutil.which(t) is None]
        assert not missing, f"missing tools: {missing} (Debian: iproute2 util-linux openssh-server openssh-client openmpi-bin)"
        assert os.geteuid() == 0, "network and mount namespaces need root"
        with open("/proc/filesystems") as fh:
            assert "overlay" in fh.read(), "the kernel has no overlayfs"
        assert os.access(BIN, os.X_OK), f"tessera not found at {BIN}"
        if self.args.rootfs:
            for f in ("usr/local/bin/tessera", "usr/local/bin/tessera-sshd", "usr/local/bin/tessera-launcher",
                      "etc/ssh/sshd_config", "run/sshd"):
                assert os.path.exists(os.path.join(self.args.rootfs, f)), f"image rootfs lacks /{f}"
        remove_stale_namespaces()
        remove_stale_work_dirs()
        self.make_data()

    def _launch(self, workers, slots, tag):
        ranks = workers * slots
        c, rc, log, out, launch_s, total = self.simulate(workers, slots, tag)
        assert rc == 0, f"launcher exit {rc}\n{log}\n" + "\n".join(c.tail(p) for p in c.pods if p.role == "worker")
        logins = c.sshd_logins()
        assert all(n >= 1 for n in logins.values()), f"not every worker got an orted over ssh: {logins}"
        assert os.path.exists(out), "no output in the workspace"
        st = os.stat(out)
        assert st.st_uid == 1000, f"output owned by uid {st.st_uid}, not the pods' user 1000"
        sim_out = os.path.join(self.work, f"sim-{tag}.nc")
        shutil.move(out, sim_out)
        ref, direct_s = self.direct(ranks)
        diffs, nvars = compare_netcdf(sim_out, ref)
        assert not diffs, "simulated run differs from direct mpirun: " + "; ".join(diffs)
        import netCDF4
        with netCDF4.Dataset(sim_out) as ds:
            assert int(ds.getncattr("tessera_ranks")) == ranks, ds.getncattr("tessera_ranks")
            hist = ds.getncattr("history")
        assert "tessera run /tessera/jobs/job.yaml" in hist, hist
        print(f"  {workers} workers x {slots} slots: {nvars} variables identical to `mpirun -n {ranks}`; "
              f"launcher {launch_s:.2f} s, pods up to done {total:.2f} s, direct {direct_s:.2f} s")

    def test_launch_2_workers_x_2_slots(self):
        self._launch(2, 2, "a")

    def test_launch_3_workers_x_1_slot(self):
        self._launch(3, 1, "b")

    def test_lost_worker_fails_cleanly(self):
        c, rc, log, out, launch_s, total = self.simulate(2, 1, "c", break_worker=1)
        assert rc != 0, "the launcher succeeded without worker 1"
        assert not os.path.exists(out), "an output appeared although the job failed"
        print(f"  worker 1 gone: launcher exit {rc} after {launch_s:.1f} s")

    # -- preemption: the kubelet's SIGTERM to a pod's first process (the image's entry points)
    def _ckpt_setup(self):
        """The long job, its data, a checkpoint volume and the uninterrupted reference (once)."""
        if getattr(self, "ckpt", None):
            return self.ckpt
        job = os.path.join(self.work, "ckpt-jobs", "ckpt.yaml")
        os.makedirs(os.path.dirname(job))
        with open(job, "w") as fh:
            fh.write(CKPT_JOB)
        sh([BIN, "generate", os.path.join(self.workspace, "data", "big.nc"), "--shape", "2922,96,192",
            "--chunks", "92,96,192"], env=self.env(), timeout=300)
        claim = os.path.join(self.work, "checkpoint-volume")
        os.makedirs(claim)
        os.chown(claim, 0, 1000)  # as fsGroup leaves a volume: group 1000, setgid, writable
        os.chmod(claim, 0o2775)
        ref, wall = self.direct(4, job, "ckpt.nc")
        self.ckpt = {"job": job, "claim": claim, "ref": ref, "wall": wall}
        print(f"  uninterrupted reference (host mpirun -n 4): {wall:.2f} s")
        return self.ckpt

    def _ckpt_cluster(self, workers, slots, tag):
        ck = self._ckpt_setup()
        docs = self.render(workers, slots, ["--checkpoint-claim", "sim-checkpoints", "--grace-period", "90"],
                           job_file=ck["job"])
        errors = km.validate(docs, km.mpijob_schema())
        assert not errors, "rendered manifest invalid: " + "; ".join(errors)
        c = Cluster(docs, self.work, self.workspace, rootfs=self.args.rootfs, tag=tag,
                    claims={"sim-checkpoints": ck["claim"]})
        self.clusters.append(c)
        return c

    def _evict(self, role, index=0):
        """A while_running hook: once the ranks run, SIGTERM to the pod's first process, as the
        kubelet sends on eviction. Returns a dict that records what was signalled."""
        seen = {}

        def hook(c):
            pod = next(p for p in c.pods if p.role == role and p.index == index)
            launcher = next(p for p in c.pods if p.role == "launcher")
            worker = next(p for p in c.pods if p.role == "worker")
            deadline = time.time() + 60
            while time.time() < deadline and not any(_comm(x) == "tessera" for x in netns_pids(worker.ns)):
                assert launcher.proc.poll() is None, "the launcher ended before the ranks ran\n" + c.tail(launcher)
                time.sleep(0.05)
            assert time.time() < deadline, "no tessera ranks appeared in the worker pods"
            time.sleep(0.35 * self.ckpt["wall"])  # mid-read: the reads take most of the run
            with open(f"/proc/{pod.proc.pid}/cmdline", "rb") as fh:
                seen["argv0"] = fh.read().split(b"\0")[:2]
            seen["t"] = time.time()
            os.kill(pod.proc.pid, signal.SIGTERM)
            seen["pod"] = pod
        return hook, seen

    def _interrupted(self, c, c_rc, log, seen, how):
        """Checks a run stopped by an eviction: exit 75, a published checkpoint, no output."""
        assert seen.get("pod") is not None, "the eviction hook did not run"
        assert c_rc == 75, f"{how}: launcher exit {c_rc}, expected 75 (checkpointed)\n{log}\n" + \
            "\n".join(c.tail(p) for p in c.pods if p.role == "worker")
        entry = {"worker": "tessera-sshd", "launcher": "tessera-launcher"}[seen["pod"].role]
        assert any(entry.encode() in a for a in seen["argv0"]), f"signalled {seen['argv0']}, not {entry}"
        assert "stopped on request" in log, log
        if seen["pod"].role == "worker":
            try:
                rc = seen["pod"].proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                raise AssertionError("the evicted worker's entry point did not end after its ranks\n" + c.tail(seen["pod"]))
            wlog = c.tail(seen["pod"])
            assert rc == 0 and "sending SIGUSR1 to tessera rank(s)" in wlog and "the ranks have ended" in wlog, \
                f"worker entry point exit {rc}\n{wlog}"
        else:
            assert "got SIGTERM: sending SIGUSR1 to mpirun" in log, log
        ck = os.path.join(self.ckpt["claim"], c.name)
        manifest = os.path.join(ck, "manifest.json")
        assert os.path.exists(manifest), f"no published checkpoint in {ck}: {os.listdir(self.ckpt['claim'])}"
        with open(manifest) as fh:
            m = json.load(fh)["manifest"]
        assert m["ranks"] == c.workers * c.slots, m
        assert not os.path.exists(os.path.join(self.workspace, "out", "ckpt.nc")), "an interrupted run left an output"
        return m

    def _resumed(self, c, rc, log):
        """The rerun (delete + apply): exit 0, resumed, bitwise the uninterrupted output."""
        assert rc == 0, f"resumed run: launcher exit {rc}\n{log}"
        assert "resuming from checkpoint" in log, log
        out = os.path.join(self.workspace, "out", "ckpt.nc")
        diffs, nvars = compare_netcdf(out, self.ckpt["ref"], skip=("history", "tessera_ranks"))
        assert not diffs, "resumed output differs from the uninterrupted run: " + "; ".join(diffs)
        assert not os.path.exists(os.path.join(self.ckpt["claim"], c.name)), "the checkpoint stayed after success"
        os.remove(out)
        return nvars

    def _evict_and_resume(self, role, tag, resume_workers, resume_slots):
        c = self._ckpt_cluster(2, 2, tag)
        # What a failed earlier case may have left: each case starts clean.
        shutil.rmtree(os.path.join(self.ckpt["claim"], c.name), ignore_errors=True)
        if os.path.exists(os.path.join(self.workspace, "out", "ckpt.nc")):
            os.remove(os.path.join(self.workspace, "out", "ckpt.nc"))
        hook, seen = self._evict(role, 1 if role == "worker" else 0)
        try:
            rc, _, log = c.run(while_running=hook)
            m = self._interrupted(c, rc, log, seen, f"{role} evicted")
        finally:
            c.teardown()
        stop_s = time.time() - seen["t"]
        r = self._ckpt_cluster(resume_workers, resume_slots, tag + "r")
        try:
            rc, _, log = r.run()
        finally:
            r.teardown()
        nvars = self._resumed(r, rc, log)
        print(f"  {role} SIGTERM, pods gone {stop_s:.1f} s later: exit 75, checkpoint gen-{m['generation']} "
              f"({sum(len(d) for d in m['done'])} boxes done); resumed on {resume_workers}x{resume_slots}: "
              f"{nvars} variables identical to the uninterrupted run")

    def test_worker_eviction_checkpoints_and_resumes(self):
        self._evict_and_resume("worker", "e", 2, 2)

    def test_launcher_eviction_checkpoints_and_resumes_on_3_workers(self):
        self._evict_and_resume("launcher", "f", 3, 1)

    def test_worker_eviction_without_checkpoints_stops_at_once(self):
        """No checkpoints: the entry point sends TERM (USR1 would be ignored and the pod would
        wait for the SIGKILL at the end of its grace period); the run fails cleanly, at once."""
        ck = self._ckpt_setup()
        docs = self.render(2, 2, job_file=ck["job"])
        errors = km.validate(docs, km.mpijob_schema())
        assert not errors, "rendered manifest invalid: " + "; ".join(errors)
        out = os.path.join(self.workspace, "out", "ckpt.nc")
        if os.path.exists(out):
            os.remove(out)
        c = Cluster(docs, self.work, self.workspace, rootfs=self.args.rootfs, tag="g")
        self.clusters.append(c)
        hook, seen = self._evict("worker", 1)
        try:
            rc, _, log = c.run(while_running=hook)
            try:
                wrc = seen["pod"].proc.wait(timeout=20)  # the grace period would be 120 s
            except subprocess.TimeoutExpired:
                raise AssertionError("the evicted worker's entry point did not end\n" + c.tail(seen["pod"]))
            gone = time.time() - seen["t"]
            wlog = c.tail(seen["pod"])
        finally:
            c.teardown()
        assert rc not in (0, 75), f"launcher exit {rc}: expected a failed run\n{log}"
        assert wrc == 0 and "sending SIGTERM to tessera rank(s)" in wlog, f"worker entry point exit {wrc}\n{wlog}"
        assert not os.path.exists(out), "a stopped run left an output"
        print(f"  worker SIGTERM without checkpoints: launcher exit {rc}, evicted pod gone {gone:.1f} s later")

    def test_teardown_complete(self):
        left = our_namespaces(owner=os.getpid())
        assert not left, f"namespaces left: {left}"
        alive = [p for c in self.clusters for p in c.pids if pid_alive(p)]
        assert not alive, f"processes left: {alive}"

    def cleanup(self):
        for c in self.clusters:
            c.teardown()
        for ns in our_namespaces(owner=os.getpid()):
            kill_pids(netns_pids(ns), grace=0.5)
            sh(["ip", "netns", "delete", ns], check=False)
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rootfs", help="unpacked image root filesystem (default: the host's, plus the image's additions)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, outputs)")
    args = ap.parse_args()

    def on_signal(signum, frame):
        raise SystemExit(f"signal {signum}")

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    run = Run(args)
    cases = [run.test_prerequisites, run.test_launch_2_workers_x_2_slots, run.test_launch_3_workers_x_1_slot,
             run.test_lost_worker_fails_cleanly, run.test_worker_eviction_checkpoints_and_resumes,
             run.test_launcher_eviction_checkpoints_and_resumes_on_3_workers,
             run.test_worker_eviction_without_checkpoints_stops_at_once, run.test_teardown_complete]
    passed = failed = 0
    try:
        for case in cases:
            t = time.time()
            try:
                case()
                print(f"PASS {case.__name__} ({time.time() - t:.1f} s)")
                passed += 1
            except Exception as e:  # noqa: BLE001 - report and go on
                print(f"FAIL {case.__name__}: {e}")
                if not isinstance(e, AssertionError):
                    traceback.print_exc()
                failed += 1
                if case == run.test_prerequisites:
                    failed += len(cases) - 1
                    print("  (the remaining cases need the prerequisites)")
                    break
    except (SystemExit, KeyboardInterrupt) as e:  # SIGTERM (e.g. ctest's timeout), Ctrl-C
        print(f"FAIL interrupted ({e}); tearing down")
        failed += 1
    finally:
        run.cleanup()
    print(f"k8s: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
