"""Reading and checking Tessera's Kubernetes manifests (shared by validate_manifests.py and
simulate_mpijob.py).

Two layers of checks:
- the MPIJob against the CRD's OpenAPI schema (kubeflow.org_mpijobs.yaml from mpi-operator
  v0.8.2), plus the unknown-field check the API server applies (a typo such as
  `readOnlyRootFileSystem` passes plain JSON Schema but is dropped or rejected by the server);
- structural checks the schema cannot express: what the operator validates (names, replica
  counts, policies), what Tessera's pods need (ranks = workers x slots, the launcher runs
  `tessera run` on the job file the workers mount, output on a writable volume) and the
  security rules (requests = limits, non-root, read-only root, credentials by Secret reference).
"""
import functools
import os
import re

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("TESSERA_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", ".."))
CRD = os.environ.get("TESSERA_MPIJOB_CRD") or os.path.normpath(
    os.path.join(SOURCE_DIR, "..", "shared", "k8s", "kubeflow.org_mpijobs.yaml"))

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PriorityClass"}
# Env names that carry secrets must never have an inline value.
SECRETISH = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL)", re.I)
# The image's entry points (k8s/): they turn the kubelet's SIGTERM into a checkpoint request.
LAUNCHER_ENTRY = "/usr/local/bin/tessera-launcher"
WORKER_ENTRY = "/usr/local/bin/tessera-sshd"


class ManifestError(Exception):
    pass


def load_docs(text):
    """The non-empty YAML documents of a multi-document manifest."""
    return [d for d in yaml.safe_load_all(text) if d is not None]


@functools.lru_cache(maxsize=1)
def mpijob_schema():
    """The v2beta1 openAPIV3Schema of the MPIJob CRD."""
    if not os.path.exists(CRD):
        raise ManifestError(f"MPIJob CRD not found at {CRD} (set TESSERA_MPIJOB_CRD)")
    with open(CRD) as f:
        # The C loader when PyYAML has it: the CRD is 9,000 lines.
        crd = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for v in crd["spec"]["versions"]:
        if v["name"] == "v2beta1":
            return v["schema"]["openAPIV3Schema"]
    raise ManifestError("the CRD has no v2beta1 version")


def is_dns1123_label(s):
    return isinstance(s, str) and len(s) <= 63 and bool(DNS1123_LABEL.match(s))


def is_dns1123_subdomain(s):
    return isinstance(s, str) and 0 < len(s) <= 253 and all(is_dns1123_label(p) for p in s.split("."))


def is_label_key(k):
    prefix, _, name = k.rpartition("/")
    return (not prefix or is_dns1123_subdomain(prefix)) and len(name) <= 63 and bool(LABEL_NAME.match(name))


def is_label_value(v):
    return isinstance(v, str) and (v == "" or (len(v) <= 63 and bool(LABEL_NAME.match(v))))


# ---- schema layer

def schema_errors(doc, schema):
    """JSON Schema errors plus unknown fields and duplicate list-map keys, as 'path: message'."""
    import jsonschema  # Debian python3-jsonschema; imported here so a missing module is reported clearly
    errors = []
    for e in jsonschema.Draft7Validator(schema).iter_errors(doc):
        errors.append(f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}")
    _walk_schema(doc, schema, "", errors)
    return errors


def _walk_schema(node, schema, path, errors):
    if isinstance(node, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for k, v in node.items():
            if props is not None and k in props:
                _walk_schema(v, props[k], f"{path}.{k}" if path else k, errors)
            elif isinstance(extra, dict):
                _walk_schema(v, extra, f"{path}.{k}" if path else k, errors)
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{path or '(root)'}: unknown field '{k}' (the API server drops or rejects it)")
    elif isinstance(node, list):
        items = schema.get("items", {})
        if schema.get("x-kubernetes-list-type") == "map":
            keys = schema.get("x-kubernetes-list-map-keys", [])
            seen = set()
            for item in node:
                key = tuple(item.get(k) for k in keys) if isinstance(item, dict) else None
                if key in seen:
                    errors.append(f"{path}: duplicate entry {dict(zip(keys, key))}")
                seen.add(key)
        for i, item in enumerate(node):
            _walk_schema(item, items, f"{path}[{i}]", errors)


# ---- structural layer

def _containers(pod):
    return (pod.get("initContainers") or []) + (pod.get("containers") or [])


def _check_metadata(doc, errors, where, name_rule=is_dns1123_subdomain):
    md = doc.get("metadata") or {}
    unknown = set(md) - {"name", "namespace", "labels", "annotations"}
    if unknown:
        errors.append(f"{where}: unexpected metadata fields {sorted(unknown)}")
    if not name_rule(md.get("name")):
        errors.append(f"{where}: metadata.name {md.get('name')!r} is not a valid name")
    ns = md.get("namespace")
    if ns is not None and not is_dns1123_label(ns):
        errors.append(f"{where}: metadata.namespace {ns!r} is not a DNS-1123 label")
    for k, v in (md.get("labels") or {}).items():
        if not is_label_key(k) or not is_label_value(v):
            errors.append(f"{where}: label {k}={v!r} is not valid")
    for k, v in (md.get("annotations") or {}).items():
        if not is_label_key(k) or not isinstance(v, str):
            errors.append(f"{where}: annotation {k} must be a valid key with a string value")


def _flag_value(argv, flag):
    return argv[argv.index(flag) + 1] if flag in argv and argv.index(flag) + 1 < len(argv) else None


def launcher_command(mpijob):
    """The launcher's argv, entry point included."""
    c = mpijob["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]
    return list(c.get("command") or []) + list(c.get("args") or [])


def container_env(container):
    return {e.get("name"): e.get("value") for e in container.get("env") or []}


def structural_errors(docs):
    """Checks across the documents of one manifest (an MPIJob with the ConfigMaps it mounts)."""
    errors = []
    configmaps = {}
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind"):
            errors.append(f"document {i + 1}: apiVersion and kind are required")
            continue
        where = f"document {i + 1} ({d.get('kind')} {(d.get('metadata') or {}).get('name')})"
        if d["kind"] not in ("ConfigMap", "MPIJob"):
            _check_metadata(d, errors, where)
        if d["kind"] == "Secret" and (d.get("data") or d.get("stringData")):
            errors.append(f"{where}: manifests must not carry Secret values; reference an existing Secret")
        if d["kind"] == "ConfigMap":
            _check_metadata(d, errors, where)
            data = d.get("data") or {}
            if not all(isinstance(v, str) for v in data.values()):
                errors.append(f"{where}: ConfigMap data values must be strings")
            if sum(len(k) + len(v) for k, v in data.items() if isinstance(v, str)) > 1024 * 1024:
                errors.append(f"{where}: ConfigMap data exceeds 1 MiB")
            configmaps[d["metadata"]["name"]] = d
    namespaces = {(d.get("metadata") or {}).get("namespace") for d in docs
                  if isinstance(d, dict) and d.get("kind") not in CLUSTER_SCOPED}
    if len(namespaces) > 1:
        errors.append(f"documents are in different namespaces: {sorted(map(str, namespaces))}")
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "MPIJob":
            errors += [f"MPIJob {(d.get('metadata') or {}).get('name')}: {e}" for e in _mpijob_errors(d, configmaps)]
    return errors


def _mpijob_errors(job, configmaps):
    errors = []
    if job.get("apiVersion") != "kubeflow.org/v2beta1":
        errors.append(f"apiVersion {job.get('apiVersion')!r} is not kubeflow.org/v2beta1")
    _check_metadata(job, errors, "metadata", name_rule=lambda n: isinstance(n, str) and bool(DNS1035_LABEL.match(n)))
    spec = job.get("spec") or {}
    name = (job.get("metadata") or {}).get("name") or ""
    replicas = spec.get("mpiReplicaSpecs") or {}
    if set(replicas) != {"Launcher", "Worker"}:
        return errors + [f"mpiReplicaSpecs must be exactly Launcher and Worker, got {sorted(replicas)}"]
    launcher, worker = replicas["Launcher"], replicas["Worker"]
    workers = worker.get("replicas")
    slots = spec.get("slotsPerWorker")
    # What the operator's validation rejects.
    if launcher.get("replicas") != 1:
        errors.append("Launcher.replicas must be 1")
    if not isinstance(workers, int) or workers < 1:
        return errors + ["Worker.replicas must be a positive integer"]
    if not isinstance(slots, int) or slots < 1:
        return errors + ["slotsPerWorker must be a positive integer"]
    if not is_dns1123_label(f"{name}-worker-{workers - 1}"):
        errors.append(f"pod hostname {name}-worker-{workers - 1} would not be a DNS-1123 label")
    for role, r in replicas.items():
        if r.get("restartPolicy") not in ("Never", "OnFailure"):
            errors.append(f"{role}.restartPolicy must be Never or OnFailure, got {r.get('restartPolicy')!r}")
    rp = spec.get("runPolicy") or {}
    if rp.get("cleanPodPolicy") not in ("None", "Running", "All"):
        errors.append(f"runPolicy.cleanPodPolicy must be None, Running or All, got {rp.get('cleanPodPolicy')!r}")
    for k in ("backoffLimit", "ttlSecondsAfterFinished"):
        if not isinstance(rp.get(k), int) or rp[k] < 0:
            errors.append(f"runPolicy.{k} must be set to a non-negative integer")
    if spec.get("launcherCreationPolicy") != "WaitForWorkersReady":
        errors.append("launcherCreationPolicy must be WaitForWorkersReady (mpirun needs every sshd up)")
    if spec.get("mpiImplementation", "OpenMPI") != "OpenMPI":
        errors.append("mpiImplementation must be OpenMPI (the image's MPI)")
    ssh_path = spec.get("sshAuthMountPath", "/root/.ssh")

    pods = {role: (r.get("template") or {}).get("spec") or {} for role, r in replicas.items()}
    for role, pod in pods.items():
        sc = pod.get("securityContext") or {}
        if sc.get("runAsNonRoot") is not True or not sc.get("runAsUser"):
            errors.append(f"{role}: pod must run as a non-root user (runAsNonRoot, runAsUser)")
        elif ssh_path.startswith("/root/"):
            errors.append("sshAuthMountPath must be in the non-root user's home, not /root")
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        if len(volumes) != len(pod.get("volumes") or []):
            errors.append(f"{role}: volume names are not unique")
        for c in _containers(pod):
            cn = f"{role} container {c.get('name')}"
            res = c.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            for k in ("cpu", "memory"):
                if k not in lim or str(req.get(k)) != str(lim.get(k)):
                    errors.append(f"{cn}: resources.requests.{k} must equal limits.{k} ({req.get(k)!r} vs {lim.get(k)!r})")
            csc = c.get("securityContext") or {}
            if csc.get("readOnlyRootFilesystem") is not True:
                errors.append(f"{cn}: readOnlyRootFilesystem must be true")
            if csc.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{cn}: allowPrivilegeEscalation must be false")
            if csc.get("runAsUser") == 0 or csc.get("privileged"):
                errors.append(f"{cn}: must not run as root or privileged")
            for e in c.get("env") or []:
                if SECRETISH.search(e.get("name", "")) and "value" in e:
                    errors.append(f"{cn}: env {e['name']} has an inline value; use valueFrom.secretKeyRef")
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref is not None and not is_dns1123_subdomain(ref.get("name")):
                    errors.append(f"{cn}: env {e.get('name')} references an invalid Secret name {ref.get('name')!r}")
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes:
                    errors.append(f"{cn}: volumeMount {m.get('name')!r} has no volume")
            paths = [m.get("mountPath") for m in c.get("volumeMounts") or []]
            if len(set(paths)) != len(paths):
                errors.append(f"{cn}: duplicate mountPath")

    # Preemption: SIGTERM reaches only each container's first process, so both run Tessera's entry
    # points, which pass it on (as SIGUSR1 when the job checkpoints), with time to save.
    argv = launcher_command(job)
    if argv[:1] != [LAUNCHER_ENTRY]:
        errors.append(f"the launcher must run mpirun under {LAUNCHER_ENTRY} (SIGTERM -> SIGUSR1), got {argv[:1]}")
    else:
        argv = argv[1:]
    worker_c = pods["Worker"].get("containers", [{}])[0]
    if list(worker_c.get("command") or [])[:1] != [WORKER_ENTRY]:
        errors.append(f"the workers must run {WORKER_ENTRY} (forwards SIGTERM to the ranks under sshd)")
    for role, pod in pods.items():
        grace = pod.get("terminationGracePeriodSeconds")
        if not isinstance(grace, int) or grace < 1:
            errors.append(f"{role}: terminationGracePeriodSeconds must be set (time to save a checkpoint)")
        sig = container_env((pod.get("containers") or [{}])[0]).get("TESSERA_STOP_SIGNAL")
        if sig not in ("USR1", "TERM"):
            errors.append(f"{role}: env TESSERA_STOP_SIGNAL must be USR1 or TERM, got {sig!r}")

    # ranks = workers x slots, and the launcher runs `tessera run` on the job the workers mount.
    ranks = workers * slots
    if not argv or argv[0] != "mpirun":
        errors.append(f"the launcher command must start with mpirun, got {argv[:1]}")
    np_ = _flag_value(argv, "-n") or _flag_value(argv, "-np")
    if np_ != str(ranks):
        errors.append(f"mpirun -n {np_} but workers x slots = {workers} x {slots} = {ranks}")
    if _flag_value(argv, "--expect-ranks") != str(ranks):
        errors.append(f"tessera must check its rank count: --expect-ranks {ranks}")
    try:
        at = next(i for i in range(len(argv) - 2) if argv[i] == "tessera" and argv[i + 1] == "run")
        job_path = argv[at + 2]
    except StopIteration:
        return errors + ["the launcher command does not run `tessera run JOB`"]
    job_text, mounts = _mounted_job(job_path, worker_c, pods["Worker"], configmaps, errors)
    if job_text is not None:
        errors += _job_path_errors(job_text, job_path, mounts, _flag_value(argv, "--checkpoint-dir"))
        stop = {container_env((p.get("containers") or [{}])[0]).get("TESSERA_STOP_SIGNAL") for p in pods.values()}
        if _checkpoints(job_text, argv) and stop != {"USR1"}:
            errors.append("the job checkpoints, so TESSERA_STOP_SIGNAL must be USR1 (TERM would make mpirun exit 1)")
    if "readinessProbe" not in worker_c:
        errors.append("Worker: a readinessProbe on sshd is needed for WaitForWorkersReady to mean 'sshd is up'")
    return errors


def _mounted_job(job_path, container, pod, configmaps, errors):
    """The job text the workers see at job_path (from a ConfigMap volume), and the mounts."""
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    mounts = [(m.get("mountPath", "").rstrip("/"), m, volumes.get(m.get("name"), {})) for m in
              container.get("volumeMounts") or []]
    for path, m, vol in mounts:
        if job_path.startswith(path + "/") and "configMap" in vol:
            rel = job_path[len(path) + 1:]
            cm = vol["configMap"]
            key = rel
            for item in cm.get("items") or []:
                if item.get("path") == rel:
                    key = item.get("key")
            if cm.get("name") not in configmaps:
                errors.append(f"the job ConfigMap {cm.get('name')!r} is not in this manifest")
                return None, mounts
            data = configmaps[cm["name"]].get("data") or {}
            if key not in data:
                errors.append(f"ConfigMap {cm['name']} has no key {key!r} for {job_path}")
                return None, mounts
            if m.get("readOnly") is not True:
                errors.append(f"the job ConfigMap mount {path} should be readOnly")
            return data[key], mounts
    errors.append(f"the workers do not mount the job file {job_path} from a ConfigMap")
    return None, mounts


def _checkpoints(text, argv):
    """Whether the run saves checkpoints: --checkpoint-dir, or run.checkpoint in the job."""
    try:
        return "--checkpoint-dir" in argv or bool(((yaml.safe_load(text) or {}).get("run") or {}).get("checkpoint"))
    except Exception:  # noqa: BLE001 - a malformed job is reported by _job_path_errors
        return False


def _job_path_errors(text, job_path, mounts, checkpoint_dir=None):
    """Local paths of the job, resolved as tessera resolves them in the pod, must be on volumes;
    the checkpoint folder (--checkpoint-dir, else run.checkpoint.dir) on a writable one."""
    errors = []
    try:
        job = yaml.safe_load(text)
        inputs = job["inputs"]
        output = job["output"]["path"]
    except Exception as e:  # noqa: BLE001 - any malformed job is an error here
        return [f"the mounted job file is not a Tessera job: {e}"]
    base = os.path.dirname(job_path)

    def resolve(p):
        return p if "://" in p else os.path.normpath(os.path.join(base, p))

    def mount_of(p):
        best = None
        for path, m, vol in mounts:
            if p.startswith(path + "/") and (best is None or len(path) > len(best[0])):
                best = (path, m, vol)
        return best

    for alias, spec in inputs.items():
        for p in ([spec["path"]] if "path" in spec else spec.get("paths", [])):
            r = resolve(p)
            if "://" not in r and (mount_of(r) is None or "configMap" in mount_of(r)[2]):
                errors.append(f"input {alias} resolves to {r}, which is on no data volume")
    r = resolve(output)
    m = mount_of(r)
    if m is None or m[1].get("readOnly") or "configMap" in m[2]:
        errors.append(f"the output resolves to {r}, which is on no writable volume")
    if checkpoint_dir is None:
        checkpoint_dir = ((job.get("run") or {}).get("checkpoint") or {}).get("dir")
    if checkpoint_dir:
        r = resolve(checkpoint_dir)
        m = mount_of(r)
        # emptyDir is per pod: rank 0 could not see the other workers' rank files.
        if m is None or m[1].get("readOnly") or "persistentVolumeClaim" not in m[2]:
            errors.append(f"the checkpoint folder resolves to {r}, which is on no writable shared volume")
    return errors


def validate(docs, schema):
    """Every error of one manifest (empty when valid)."""
    errors = []
    kinds = [d.get("kind") for d in docs]
    for i, d in enumerate(docs):
        if d.get("kind") == "MPIJob":
            errors += [f"MPIJob schema: {e}" for e in schema_errors(d, schema)]
    errors += structural_errors(docs)
    if "MPIJob" in kinds and kinds.count("ConfigMap") < 1:
        errors.append("an MPIJob manifest must carry the ConfigMap with its job file")
    return errors
