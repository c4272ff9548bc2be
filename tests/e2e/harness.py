"""Plumbing shared by the end-to-end tests: where tessera is, launching it under MPI with a
timeout, throw-away workspaces, a pass/fail tally (ctest only sees the exit status) and the
scripts' common main(), run_suites()."""
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("TESSERA_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("TESSERA_BIN") or os.path.join(SOURCE_DIR, "build", "src", "tessera")
MPIEXEC = os.environ.get("MPIEXEC") or "mpiexec"
TIMEOUT = 120  # seconds; a run that takes longer is reported as a hang

# The Open MPI settings of cmake/TesseraTesting.cmake, so a direct run behaves like ctest.
for _k, _v in {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
               "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_pml": "ob1",
               "OMPI_MCA_btl": "self,vader,tcp", "HDF5_USE_FILE_LOCKING": "FALSE",
               # mpirun waits 1 s before SIGKILL after a rank exits non-zero: 1.4 s instead of 0.4 s
               # for every failing case. hostile.py's fault tests put the default back.
               "OMPI_MCA_odls_base_sigkill_timeout": "0"}.items():
    os.environ.setdefault(_k, _v)

# What a crash or an uncoordinated failure leaves on stderr; a clean error shows none of it.
CRASH_MARKERS = ("terminate called", "Abort", "MPI_ABORT", "backtrace", "Segmentation",
                 "core dumped", "HDF5-DIAG", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                 ": runtime error: ")  # not ASan's "WARNING: ... failed to allocate" (a NULL return)


def ranks_from(argv):
    """--ranks N, else TESSERA_RANKS (set by ctest per registration), else 2."""
    if "--ranks" in argv:
        return int(argv[argv.index("--ranks") + 1])
    return int(os.environ.get("TESSERA_RANKS", "2"))


def run(cmd, cwd=None, timeout=TIMEOUT):
    """Runs cmd capturing text output; a run past `timeout` is killed (whole process group,
    so no orphaned MPI ranks) and fails as a hang."""
    p = subprocess.Popen([str(c) for c in cmd], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise AssertionError(f"hang: '{' '.join(map(str, cmd))}' did not finish within {timeout} s")
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def tessera(args, ranks=1, cwd=None, timeout=TIMEOUT):
    """`MPIEXEC -n ranks tessera args...`"""
    return run([MPIEXEC, "-n", ranks, BIN, *args], cwd=cwd, timeout=timeout)


def describe(r):
    """Command, exit status and output of a finished process, for failure messages."""
    return (f"$ {' '.join(map(str, r.args))}\n  exit {r.returncode}\n  stdout: {r.stdout.strip()[-1500:]}\n"
            f"  stderr: {r.stderr.strip()[-1500:]}")


def ok(r):
    """Asserts a process succeeded and returns it."""
    assert r.returncode == 0, "command failed\n" + describe(r)
    return r


def tool(cmd, cwd=None):
    """Runs an oracle tool (cdo, ncwa, ...) that must succeed."""
    return ok(run(cmd, cwd=cwd))


def assert_no_crash(text):
    """Fails when output shows a crash, an abort or a library trace instead of a clean message."""
    hits = [(text.find(m), m) for m in CRASH_MARKERS if m in text]
    if hits:
        at, marker = min(hits)
        raise AssertionError(f"output shows '{marker}' (crash, abort or library trace):\n"
                             + text[max(0, at - 300):at + 1200].strip())


def temp_files(folder):
    """Leftover temporary files (Tessera's are hidden: .NAME.tessera-PID.tmp)."""
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


class Workspace:
    """A temporary copy of the repository layout (jobs/, data/, out/), removed on exit unless
    TESSERA_E2E_KEEP=1 (then its path is printed, for debugging)."""

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="tessera-e2e-")
        for d in ("jobs", "data", "out"):
            os.makedirs(os.path.join(self.root, d))
        return self

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def __exit__(self, *exc):
        if os.environ.get("TESSERA_E2E_KEEP") == "1":
            print(f"  (workspace kept: {self.root})")
            return False
        for dirpath, dirnames, _ in os.walk(self.root):  # undo chmod 0555 so removal works as non-root
            for d in dirnames:
                p = os.path.join(dirpath, d)
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        shutil.rmtree(self.root, ignore_errors=True)
        return False


class Tally:
    """Counts named checks. A check is a callable that raises AssertionError on failure; any
    other exception is a broken test and also counts as a failure (with its traceback)."""

    def __init__(self):
        self.passed, self.failed, self.failures = 0, 0, []

    def check(self, name, fn, *args):
        try:
            fn(*args)
        except AssertionError as e:
            self._fail(name, str(e))
            return False
        except Exception:  # noqa: BLE001 - a bug in the test itself, reported in full
            self._fail(name, "test error:\n" + traceback.format_exc())
            return False
        self.passed += 1
        print(f"PASS {name}", flush=True)
        return True

    def _fail(self, name, msg):
        self.failed += 1
        self.failures.append(name)
        print(f"FAIL {name}\n    " + msg.replace("\n", "\n    "), flush=True)

    @staticmethod
    def note(msg):
        print(f"NOTE {msg}", flush=True)

    def finish(self):
        """Prints the summary line ctest logs show and returns the exit status."""
        if self.failures:
            print("failed: " + ", ".join(self.failures))
        print(f"e2e: {self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed or not self.passed else 0



def run_suites(argv, suites, usage, title, ranked=True, banner=""):
    """The main() of every e2e script; returns the exit status for sys.exit (0 only when every
    check passed and at least one ran, 1 otherwise, 2 for a usage error).

    suites maps a suite name (argv[1]) to fn(ranks, tally); a table with the single key None
    takes no suite name. ranked: the suite runs at --ranks N / TESSERA_RANKS (ranks_from),
    else it gets None. The first line names the suite, its rank count and `banner`."""
    if None in suites:
        name, args = None, argv[1:]
    elif len(argv) >= 2 and argv[1] in suites:
        name, args = argv[1], argv[2:]
    else:
        print(usage)
        return 2
    ranks = ranks_from(argv) if ranked else None
    # Anything else left over is a typo that would otherwise silently run the default rank count.
    rest = args[:]
    if "--ranks" in rest:
        del rest[rest.index("--ranks"):rest.index("--ranks") + 2]
    if rest:
        print(f"unknown arguments {rest}\n{usage}")
        return 2
    print(" ".join(x for x in (title, name, f"on {ranks} rank(s)" if ranked else "") if x) + banner, flush=True)
    t = Tally()
    try:
        suites[name](ranks, t)
    except Exception:  # noqa: BLE001 - an error outside any check (setup) still fails the run
        t._fail(f"{title} {name or ''}".strip(), "error outside a check:\n" + traceback.format_exc())
    return t.finish()
