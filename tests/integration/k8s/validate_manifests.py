#!/usr/bin/python3
"""Validates every shipped (k8s/*.yaml) and freshly rendered (`tessera render mpijob` on every
jobs/*.yaml) manifest against the MPIJob CRD's OpenAPI schema and the structural checks of
k8s_manifest.py, and shows that the checks catch broken manifests.

  validate_manifests.py            run the checks (ctest: integration_k8s_manifests)
  validate_manifests.py --update   rewrite the shipped manifests from their render commands

Ends with 'k8s: N passed, M failed'; exits non-zero on any failure (a missing tool included).
"""
import copy
import glob
import os
import subprocess
import sys
import tempfile
import traceback

import k8s_manifest as km

SOURCE_DIR = km.SOURCE_DIR
BIN = os.environ.get("TESSERA_BIN") or os.path.join(SOURCE_DIR, "build", "src", "tessera")
IMAGE = "registry.example.com/tessera:0.1.0"

# Shipped manifests and the render arguments that produce them (run from the repository root).
SHIPPED = {
    "k8s/tas-stats.mpijob.yaml": ["jobs/tas-stats.yaml", "--image", IMAGE, "--namespace", "team-climate",
                                  "--workers", "2", "--slots", "2", "--cpu", "2", "--memory", "2Gi",
                                  "--credentials-secret", "tessera-object-store",
                                  "--checkpoint-claim", "tessera-checkpoints"],
}
# Option sets every job is rendered with.
COMBOS = [
    [],
    ["--workers", "3", "--slots", "4", "--cpu", "4", "--memory", "8Gi", "--namespace", "team-a"],
    ["--workers", "16", "--slots", "8", "--cpu", "8", "--memory", "32Gi", "--region", "eu-west-1",
     "--node-selector", "node.kubernetes.io/instance-type=c6i.4xlarge", "--node-selector", "pool=hpc",
     "--credentials-secret", "s3-credentials"],
    ["--workers", "2", "--checkpoint-dir", "/tessera/out/.checkpoint/x", "--grace-period", "300"],
    ["--workers", "4", "--checkpoint-claim", "ckpt", "--checkpoint-dir", "/tessera/checkpoint/run-1"],
]

ENV = dict(os.environ, OMPI_MCA_ess_singleton_isolated="1", OMPI_MCA_pml="ob1",
           OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def render(args, check=True):
    p = subprocess.run([BIN, "render", "mpijob", *args], cwd=SOURCE_DIR, env=ENV, capture_output=True, text=True,
                       timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"tessera render mpijob {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def assert_valid(docs, schema, label):
    errors = km.validate(docs, schema)
    assert not errors, f"{label}:\n  " + "\n  ".join(errors)


# ---- tests

def test_tools(schema):
    import jsonschema  # noqa: F401 - python3-jsonschema (Debian)
    assert os.access(BIN, os.X_OK), f"tessera binary not found at {BIN} (set TESSERA_BIN)"
    assert schema["properties"]["spec"]["properties"]["mpiReplicaSpecs"], "unexpected CRD schema"


def test_shipped_manifests_valid(schema):
    files = sorted(glob.glob(os.path.join(SOURCE_DIR, "k8s", "*.yaml")))
    assert files, "no manifests in k8s/"
    for f in files:
        with open(f) as fh:
            docs = km.load_docs(fh.read())
        assert docs, f"{f}: empty"
        assert_valid(docs, schema, os.path.relpath(f, SOURCE_DIR))
    print(f"  {len(files)} shipped manifest file(s) valid")


def test_shipped_manifests_current(schema):
    for rel, args in SHIPPED.items():
        with open(os.path.join(SOURCE_DIR, rel)) as fh:
            shipped = fh.read()
        fresh = render(args).stdout
        assert shipped == fresh, (f"{rel} is stale: regenerate with `tests/integration/k8s/validate_manifests.py "
                                  f"--update` (tessera render mpijob {' '.join(args)})")


def test_rendered_jobs_valid(schema):
    jobs = sorted(glob.glob(os.path.join(SOURCE_DIR, "jobs", "*.yaml")))
    assert jobs, "no jobs/*.yaml"
    n = 0
    for job in jobs:
        for combo in COMBOS:
            args = [os.path.relpath(job, SOURCE_DIR), "--image", IMAGE, *combo]
            docs = km.load_docs(render(args).stdout)
            assert_valid(docs, schema, "render " + " ".join(args))
            with open(job) as fh:
                assert docs[0]["data"]["job.yaml"] == fh.read(), f"{job}: ConfigMap differs from the job file"
            n += 1
    print(f"  {n} rendered manifests valid ({len(jobs)} jobs x {len(COMBOS)} option sets)")


def test_output_file_and_refusals(schema):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "m.yaml")
        args = SHIPPED["k8s/tas-stats.mpijob.yaml"]
        p = render([*args, "-o", out])
        assert p.stdout == "", "with -o nothing goes to stdout"
        with open(out) as fh:
            assert fh.read() == render(args).stdout, "-o FILE differs from stdout"
        # Invalid options: exit 2, a message, and no file written.
        for bad in (["--workers", "0"], ["--memory", "10Mi"], ["--namespace", "Team_A"], ["--cpu", "x"],
                    ["--credentials-secret", "A B"], ["--node-selector", "oops"], ["--grace-period", "0"],
                    ["--checkpoint-claim", "Ck_A"], ["--checkpoint-dir", "ck"],
                    ["--checkpoint-dir", "/tessera/out/../ck"], ["--checkpoint-dir", "/scratch/ck"],
                    ["--checkpoint-dir", "/tessera/checkpoint/x"], ["--checkpoint-dir", "/tessera/data/ck"]):
            bad_out = os.path.join(tmp, "bad.yaml")
            p = render(["jobs/tas-stats.yaml", "--image", IMAGE, *bad, "-o", bad_out], check=False)
            assert p.returncode == 2, f"{bad}: exit {p.returncode}, stderr {p.stderr.strip()}"
            assert "render mpijob" in p.stderr, f"{bad}: unclear message: {p.stderr.strip()}"
            assert not os.path.exists(bad_out), f"{bad}: a file was written for invalid options"
        # A job whose output would land outside the workspace volume is refused.
        job = os.path.join(tmp, "outside.yaml")
        with open(os.path.join(SOURCE_DIR, "jobs", "tas-stats.yaml")) as fh:
            text = fh.read().replace("../out/tas-stats.nc", "/scratch/tas-stats.nc")
        with open(job, "w") as fh:
            fh.write(text)
        p = render([job, "--image", IMAGE], check=False)
        assert p.returncode == 2 and "/tessera/out" in p.stderr, f"exit {p.returncode}: {p.stderr.strip()}"


def _launcher(d):
    return d["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]


def _worker_pod(d):
    return d["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]


def test_checks_catch_mistakes(schema):
    base = km.load_docs(render(SHIPPED["k8s/tas-stats.mpijob.yaml"]).stdout)
    assert_valid(base, schema, "base")

    def mutate(expect, change):
        docs = copy.deepcopy(base)
        change(docs[0], docs[1])
        errors = km.validate(docs, schema)
        assert any(expect in e for e in errors), f"mutation not caught (expected '{expect}'): {errors}"

    def set_np(cm, mj):
        cmd = _launcher(mj)["command"]
        cmd[cmd.index("-n") + 1] = "5"

    def bare_mpirun(cm, mj):  # SIGTERM would reach mpirun itself: exit 1 instead of 75
        _launcher(mj)["command"].pop(0)

    def plain_sshd(cm, mj):  # SIGTERM would reach sshd only; the ranks are SIGKILLed later
        _worker_pod(mj)["containers"][0]["command"] = ["/usr/sbin/sshd", "-De"]

    def no_grace(cm, mj):
        del _worker_pod(mj)["terminationGracePeriodSeconds"]

    def term_with_checkpoints(cm, mj):
        for e in _launcher(mj)["env"]:
            if e["name"] == "TESSERA_STOP_SIGNAL":
                e["value"] = "TERM"

    def checkpoint_read_only(cm, mj):
        cmd = _launcher(mj)["command"]
        cmd[cmd.index("--checkpoint-dir") + 1] = "/tessera/data/ck"

    def checkpoint_per_pod(cm, mj):  # an emptyDir: each worker would see only its own rank files
        cmd = _launcher(mj)["command"]
        cmd[cmd.index("--checkpoint-dir") + 1] = "/tmp/ck"

    def inline_secret(cm, mj):
        _launcher(mj)["env"].append({"name": "AWS_SECRET_ACCESS_KEY", "value": "hunter2"})

    def unequal(cm, mj):
        _worker_pod(mj)["containers"][0]["resources"]["requests"]["cpu"] = "1"

    def typo(cm, mj):
        _worker_pod(mj)["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True

    def wrong_type(cm, mj):
        mj["spec"]["slotsPerWorker"] = "two"

    def bad_name(cm, mj):
        mj["metadata"]["name"] = "Tas_Stats"

    def job_path(cm, mj):
        cmd = _launcher(mj)["command"]
        cmd[cmd.index("run") + 1] = "/etc/tessera/job.yaml"

    def no_configmap(cm, mj):
        cm["metadata"]["name"] = "other"

    def root(cm, mj):
        _worker_pod(mj)["securityContext"]["runAsUser"] = 0

    def policy(cm, mj):
        mj["spec"]["runPolicy"]["cleanPodPolicy"] = "Always"

    def output_ro(cm, mj):
        for m in _worker_pod(mj)["containers"][0]["volumeMounts"]:
            if m["mountPath"] == "/tessera/out":
                m["readOnly"] = True

    def dup_env(cm, mj):
        _launcher(mj)["env"].append(dict(_launcher(mj)["env"][0]))

    def slots(cm, mj):
        mj["spec"]["slotsPerWorker"] = 3

    def creation(cm, mj):
        del mj["spec"]["launcherCreationPolicy"]

    cases = [("mpirun -n 5", set_np), ("inline value", inline_secret), ("must equal limits", unequal),
             ("unknown field 'readOnlyRootFileSystem'", typo), ("is not of type 'integer'", wrong_type),
             ("metadata.name", bad_name), ("do not mount the job file", job_path),
             ("is not in this manifest", no_configmap), ("non-root", root), ("cleanPodPolicy", policy),
             ("no writable volume", output_ro), ("duplicate entry", dup_env), ("workers x slots", slots),
             ("WaitForWorkersReady", creation), ("under /usr/local/bin/tessera-launcher", bare_mpirun),
             ("forwards SIGTERM to the ranks", plain_sshd), ("terminationGracePeriodSeconds", no_grace),
             ("TESSERA_STOP_SIGNAL must be USR1", term_with_checkpoints),
             ("no writable shared volume", checkpoint_read_only), ("no writable shared volume", checkpoint_per_pod)]
    for expect, change in cases:
        mutate(expect, change)
    # A manifest carrying a Secret's values is refused outright.
    errors = km.validate(base + [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                                  "stringData": {"AWS_SECRET_ACCESS_KEY": "x"}}], schema)
    assert any("Secret values" in e for e in errors), errors
    print(f"  {len(cases) + 1} kinds of mistakes caught")


TESTS = [test_tools, test_shipped_manifests_valid, test_shipped_manifests_current, test_rendered_jobs_valid,
         test_output_file_and_refusals, test_checks_catch_mistakes]


def main(argv):
    if "--update" in argv:
        for rel, args in SHIPPED.items():
            with open(os.path.join(SOURCE_DIR, rel), "w") as fh:
                fh.write(render(args).stdout)
            print(f"wrote {rel}")
        return 0
    passed = failed = 0
    try:
        schema = km.mpijob_schema()
    except Exception as e:  # noqa: BLE001
        print(f"FAIL loading the CRD schema: {e}")
        print("k8s: 0 passed, 1 failed")
        return 1
    for t in TESTS:
        try:
            t(schema)
            print(f"PASS {t.__name__}")
            passed += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported, the run goes on
            print(f"FAIL {t.__name__}: {e}")
            if not isinstance(e, AssertionError):
                traceback.print_exc()
            failed += 1
    print(f"k8s: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
