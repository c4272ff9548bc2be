#!/usr/bin/python3
"""Hostile inputs and injected faults, run by ctest (tests/e2e/CMakeLists.txt):

  hostile.py inputs [--ranks N]  truncated, empty and bit-flipped NetCDF-4 and NetCDF-3 files,
                                 dimensions whose product overflows, unusable packing, absurd
                                 chunking, empty dimensions, 10 MB job files
  hostile.py faults [--ranks N]  a rank killed or crashing mid-run, SIGTERM to the launcher, a
                                 full disk and a file-size limit while writing, two runs writing
                                 the same output

Every case must end with its documented exit code (0 where the damage can be harmless, e.g. a
flipped bit in the data of an uncompressed file), one clear message, no crash, stack dump or hang,
and no output, temporary or lock file left (a previous output untouched). Flip positions come
from TESSERA_HOSTILE_SEED (default 8), so a failure reproduces."""
import os
import random
import re
import signal
import struct
import subprocess
import sys
import time

import netCDF4
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BIN, CRASH_MARKERS, MPIEXEC, Tally, Workspace, assert_no_crash, describe, ok,  # noqa: E402
                     run, run_suites, tessera)

SEED = int(os.environ.get("TESSERA_HOSTILE_SEED", "8"))
TIMEOUT = 60  # seconds; any case running longer is a hang


def job_text(name, path, variable="tas", reductions=None, memory=None, inputs=1):
    reductions = reductions or ["{name: m, op: mean, over: [time]}", "{name: lo, op: min, over: [time]}",
                                "{name: hi, op: max, over: [time]}"]
    lines = ["name: hostile", "inputs:"]
    for i in range(inputs):
        lines.append(f"  t{i}: {{path: {path}, variable: {variable}}}")
    lines.append("reductions:")
    for i in range(inputs):
        for r in reductions:
            lines.append("  - " + r.replace("{name: ", f"{{input: t{i}, name: i{i}_"))
    lines += ["output:", f"  path: ../out/{name}.nc"]
    if memory:
        lines += ["run:", f"  memory_per_rank: {memory}"]
    return "\n".join(lines) + "\n"


def leftovers(folder, name=""):
    """Temporary outputs and lock files Tessera may leave next to an output (of `name`.nc only,
    when given, so one case's leftovers do not fail the next ones too)."""
    return sorted(n for n in os.listdir(folder) if (n.endswith(".tmp") or n.endswith(".tessera.lock"))
                  and n.startswith("." + name))


class Cases:
    def __init__(self, ws, ranks):
        self.ws, self.ranks = ws, ranks
        self.codes = {}  # exit code -> how many cases ended with it, for the summary

    def data(self, *parts):
        return self.ws.path("data", *parts)

    def write_job(self, name, text):
        path = self.ws.path("jobs", name + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def outcome(self, name, text, codes, fragments=(), job_bytes=None):
        """Runs the job; it must end with one of `codes`. On failure: one error line holding every
        fragment, short (at most 8 KB of stderr), no output or leftovers. On success: the output."""
        job = self.write_job(name, text) if job_bytes is None else self.ws.path("jobs", name + ".yaml")
        if job_bytes is not None:
            with open(job, "wb") as f:
                f.write(job_bytes)
        out = self.ws.path("out", name + ".nc")
        t0 = time.monotonic()
        r = tessera(["run", job, "--quiet"], self.ranks, timeout=TIMEOUT)
        took = time.monotonic() - t0
        if took > 5:
            Tally.note(f"{name}: {took:.1f} s")
        self.codes[r.returncode] = self.codes.get(r.returncode, 0) + 1
        assert_no_crash(r.stdout + r.stderr)
        assert r.returncode in codes, f"exit {r.returncode}, expected one of {codes} (after {took:.1f} s)\n" + describe(r)
        if r.returncode == 0:
            assert os.path.isfile(out), "exit 0 but no output\n" + describe(r)
        else:
            assert r.stderr.count("tessera: error") == 1, "expected the error printed once\n" + describe(r)
            assert len(r.stderr) < 8192, f"stderr is {len(r.stderr)} bytes; a message should be short"
            for f in fragments:
                assert f in r.stderr, f"stderr lacks {f!r}\n" + describe(r)
            assert not os.path.exists(out), "output written despite the error"
        left = leftovers(self.ws.path("out"), name + ".nc")
        assert not left, f"left behind: {left}"
        return r

    # ------------------------------------------------------------------ files

    def setup(self):
        gen = lambda *a: ok(tessera(["generate", *a], 2, cwd=self.ws.root))  # noqa: E731
        gen("data/nc4.nc", "--shape", "24,10,20", "--chunks", "6,10,20", "--deflate", "2", "--shuffle",
            "--fill-fraction", "0.05")
        gen("data/cdf.nc", "--shape", "24,10,20", "--format", "classic", "--fill-fraction", "0.05")
        gen("data/cdf5.nc", "--shape", "24,10,20", "--format", "cdf5")

    def variant(self, src, name, mutate):
        """A copy of data/src as data/name, changed in place by mutate(bytearray)."""
        with open(self.data(src), "rb") as f:
            b = bytearray(f.read())
        b = mutate(b)
        with open(self.data(name), "wb") as f:
            f.write(b)
        return "../data/" + name

    def truncations(self, t, src, fractions):
        size = os.path.getsize(self.data(src))
        points = [0, 1, 4, 8, 64, 512] + [int(size * f) for f in fractions] + [size - 1]
        for n in sorted(set(p for p in points if p < size)):
            name = f"{src[:-3]}-cut{n}"
            path = self.variant(src, name + ".nc", lambda b, n=n: b[:n])
            # Zero-length and cut-off files are input errors naming the file.
            t.check(f"{src} truncated to {n} of {size} bytes: exit 3 naming it", self.outcome, name,
                    job_text(name, path), (3,), [name + ".nc"])

    def bit_flips(self, t, src, count, header_bytes):
        """Single-bit flips at seeded positions: half in the header/metadata, half anywhere. The
        damage may be harmless (exit 0) or detected (exit 3), never a crash or a hang."""
        size = os.path.getsize(self.data(src))
        rng = random.Random(f"{SEED}-{src}")
        positions = [rng.randrange(min(header_bytes, size)) for _ in range(count // 2)]
        positions += [rng.randrange(size) for _ in range(count - count // 2)]
        for i, pos in enumerate(positions):
            bit = rng.randrange(8)
            name = f"{src[:-3]}-flip{i}"

            def flip(b, pos=pos, bit=bit):
                b[pos] ^= 1 << bit
                return b
            path = self.variant(src, name + ".nc", flip)
            t.check(f"{src} bit {bit} of byte {pos} flipped (seed {SEED}): exit 0 or 3, no crash",
                    self.outcome, name, job_text(name, path), (0, 3))

    def garbage(self, t, src, header_bytes):
        """8 bytes of 0xFF written over seeded header positions: lengths and offsets become huge."""
        rng = random.Random(f"{SEED}-garbage-{src}")
        for i in range(4):
            pos = rng.randrange(4, header_bytes - 8)
            name = f"{src[:-3]}-ff{i}"
            path = self.variant(src, name + ".nc", lambda b, pos=pos: b[:pos] + b"\xff" * 8 + b[pos + 8:])
            t.check(f"{src} 8 bytes 0xFF at {pos}: exit 0 or 3, no crash", self.outcome, name,
                    job_text(name, path), (0, 3))

    def cdf_header_size(self, src):
        with open(self.data(src), "rb") as f:
            b = f.read()
        # The first variable's data begins after the header; a safe bound for choosing positions.
        return min(len(b), max(64, b.find(b"tas") + 64))

    def overflowing_dims(self, t):
        """NetCDF-4 dimensions of 2^40 (product 2^120 elements), and lat x lon = 2^62 with no records."""
        for name, dims in (("dims2p120", (2**40, 2**40, 2**40)), ("dims2p62", (None, 2**31, 2**31))):
            with netCDF4.Dataset(self.data(name + ".nc"), "w") as d:
                for n, size in zip(("time", "lat", "lon"), dims):
                    d.createDimension(n, size)
                d.createVariable("tas", "f4", ("time", "lat", "lon"), chunksizes=(1, 1024, 1024))
            t.check(f"NetCDF-4 with dimensions {dims}: exit 3, 'more than 2^62 bytes'", self.outcome, name,
                    job_text(name, f"../data/{name}.nc"), (3,), ["more than 2^62 bytes"])
        # CDF5 header by hand: x = y = 2^40 doubles (NetCDF-C or Tessera's header check refuses it).
        h = b"CDF\x05" + struct.pack(">Q", 0)
        h += struct.pack(">IQ", 0x0A, 2)
        for n in (b"x", b"y"):
            h += struct.pack(">Q", 1) + n + b"\0\0\0" + struct.pack(">Q", 2**40)
        h += struct.pack(">IQ", 0, 0)
        h += struct.pack(">IQ", 0x0B, 1) + struct.pack(">Q", 3) + b"tas\0" + struct.pack(">QQQ", 2, 0, 1)
        h += struct.pack(">IQ", 0, 0) + struct.pack(">IQQ", 6, 2**63, 512)
        with open(self.data("cdf5huge.nc"), "wb") as f:
            f.write(h.ljust(1024, b"\0"))
        job = job_text("cdf5huge", "../data/cdf5huge.nc", reductions=["{name: m, op: mean, over: [x]}"])
        t.check("CDF5 header with 2^40 x 2^40 doubles: exit 3", self.outcome, "cdf5huge", job, (3,), ["cdf5huge.nc"])

    def packing(self, t):
        def packed(name, scale=None, offset=None, text_scale=None):
            with netCDF4.Dataset(self.data(name + ".nc"), "w") as d:
                d.createDimension("time", None)
                d.createDimension("lat", 3)
                d.createDimension("lon", 4)
                v = d.createVariable("tas", "i2", ("time", "lat", "lon"), fill_value=np.int16(-32767))
                v.set_auto_maskandscale(False)
                v[:] = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
                v[0, 0, 0] = -32767
                if scale is not None:
                    v.scale_factor = np.float32(scale)
                if text_scale is not None:
                    v.scale_factor = text_scale
                v.add_offset = np.float32(273.15 if offset is None else offset)
            return f"../data/{name}.nc"

        path = packed("scale-neg", scale=-0.5)

        def negative():
            self.outcome("scale-neg", job_text("scale-neg", path), (0,))
            with netCDF4.Dataset(self.ws.path("out", "scale-neg.nc")) as d:
                lo, hi = d["i0_lo"][...], d["i0_hi"][...]
            assert lo.count() == 12 and np.all(lo <= hi), f"negative scale_factor: min {lo} vs max {hi}"
        t.check("negative scale_factor: exit 0, min <= max everywhere", negative)
        for name, kw, fragment in (("scale-nan", {"scale": float("nan")}, "scale_factor"),
                                   ("scale-zero", {"scale": 0.0}, "scale_factor"),
                                   ("scale-inf", {"scale": float("inf")}, "scale_factor"),
                                   ("scale-text", {"text_scale": "ten"}, "scale_factor"),
                                   ("offset-nan", {"scale": 0.5, "offset": float("nan")}, "add_offset")):
            p = packed(name, **kw)
            t.check(f"{name}: exit 3 naming {fragment}", self.outcome, name, job_text(name, p), (3,), [fragment, "'tas'"])

    def chunking(self, t):
        with netCDF4.Dataset(self.data("chunk1.nc"), "w") as d:
            for n, size in (("time", None), ("lat", 10), ("lon", 20)):
                d.createDimension(n, size)
            d.createVariable("tas", "f4", ("time", "lat", "lon"), chunksizes=(1, 1, 1))[:] = np.ones((24, 10, 20))
        t.check("4800 chunks of one value: exit 0", self.outcome, "chunk1",
                job_text("chunk1", "../data/chunk1.nc", memory="1MiB"), (0,))
        # 2^22 records per compressed chunk: 3 MB on disk, 3.2 GB to decompress (a "zip bomb").
        with netCDF4.Dataset(self.data("bomb.nc"), "w") as d:
            for n, size in (("time", None), ("lat", 10), ("lon", 20)):
                d.createDimension(n, size)
            v = d.createVariable("tas", "f4", ("time", "lat", "lon"), chunksizes=(2**22, 10, 20), zlib=True,
                                 complevel=1)
            v[:] = np.ones((24, 10, 20))
        t.check("a 3.2 GB compressed chunk in a 3 MB file: exit 3 naming the chunk size", self.outcome, "bomb",
                job_text("bomb", "../data/bomb.nc"), (3,), ["chunks of 3200 MiB"])
        # A 2 MiB compressed chunk is decoded whole: more than a 1 MiB budget allows.
        with netCDF4.Dataset(self.data("bigchunk.nc"), "w") as d:
            for n, size in (("time", None), ("lat", 512), ("lon", 512)):
                d.createDimension(n, size)
            v = d.createVariable("tas", "f4", ("time", "lat", "lon"), chunksizes=(2, 512, 512), zlib=True,
                                 complevel=1)
            v[:] = np.ones((4, 512, 512))
        t.check("a 2 MiB deflated chunk with memory_per_rank 1MiB: exit 2 naming both", self.outcome, "bigchunk",
                job_text("bigchunk", "../data/bigchunk.nc", memory="1MiB"), (2,),
                ["chunks of 2 MiB", "memory_per_rank is 1 MiB"])
        t.check("the same chunk with memory_per_rank 2MiB: exit 0", self.outcome, "bigchunk2",
                job_text("bigchunk2", "../data/bigchunk.nc", memory="2MiB"), (0,))

    def empty_dims(self, t):
        with netCDF4.Dataset(self.data("norecords.nc"), "w") as d:
            for n, size in (("time", None), ("lat", 10), ("lon", 20)):
                d.createDimension(n, size)
            d.createVariable("tas", "f4", ("time", "lat", "lon")).units = "K"

        def no_records():
            self.outcome("norecords", job_text("norecords", "../data/norecords.nc"), (0,))
            with netCDF4.Dataset(self.ws.path("out", "norecords.nc")) as d:
                assert d["i0_m"][...].mask.all(), "a mean over no records must be _FillValue everywhere"
        t.check("0 records, mean over time: exit 0, all _FillValue", no_records)
        t.check("0 records, mean over lat/lon (an empty time axis kept): exit 0 or 3", self.outcome, "norecords2",
                job_text("norecords2", "../data/norecords.nc", reductions=["{name: s, op: mean, over: [lat, lon]}"]),
                (0, 3))

    def big_job_files(self, t):
        base = job_text("bigcomment", "../data/nc4.nc")
        comment = "".join(f"# {'x' * 76}\n" for _ in range(10 * 1024 * 1024 // 80))
        t.check("10 MB job file (a valid job, 10 MB of comments): exit 0", self.outcome, "bigcomment",
                base + comment, (0,))
        name = "v" * (10 * 1024 * 1024)
        t.check("10 MB variable name: exit 3, message short", self.outcome, "bigname",
                job_text("bigname", "../data/nc4.nc", variable=name), (3,), ["not found"])
        t.check("10 MB job name: exit 2, message short", self.outcome, "bigjobname",
                job_text("bigjobname", "../data/nc4.nc").replace("name: hostile", "name: " + "k" * (10 * 1024 * 1024)),
                (2,), ["job name"])
        rng = random.Random(SEED)
        t.check("10 MB of random bytes as a job file: exit 2", self.outcome, "random", "", (2,), [],
                bytes(rng.randrange(256) for _ in range(1024 * 1024)) * 10)
        t.check("10 MB of '[': exit 2", self.outcome, "nested", "[" * (10 * 1024 * 1024), (2,), ["invalid YAML"])
        t.check("a lone ',' (yaml-cpp looped forever): exit 2", self.outcome, "comma", ",\n", (2,), ["invalid YAML"])


def inputs_suite(ranks, t):
    with Workspace() as ws:
        c = Cases(ws, ranks)
        if not t.check("generate sample data", c.setup):
            return
        c.truncations(t, "nc4.nc", (0.1, 0.5, 0.9))
        c.truncations(t, "cdf.nc", (0.02, 0.5, 0.9))
        c.bit_flips(t, "nc4.nc", 12, 4096)
        c.bit_flips(t, "cdf.nc", 10, c.cdf_header_size("cdf.nc"))
        c.bit_flips(t, "cdf5.nc", 6, c.cdf_header_size("cdf5.nc"))
        c.garbage(t, "nc4.nc", 2048)
        c.garbage(t, "cdf5.nc", c.cdf_header_size("cdf5.nc"))
        c.overflowing_dims(t)
        c.packing(t)
        c.chunking(t)
        c.empty_dims(t)
        c.big_job_files(t)
        t.note("exit codes seen: " + ", ".join(f"{k}: {v}" for k, v in sorted(c.codes.items())))


# ---------------------------------------------------------------------- faults

# A rank whose write fails while the others are inside a collective HDF5 call cannot agree with
# them: after TESSERA_FAILURE_TIMEOUT seconds it ends the job (MPI_ABORT). Short here, for speed.
os.environ["TESSERA_FAILURE_TIMEOUT"] = "5"


def faults_env():
    """Open MPI's default grace between SIGTERM and SIGKILL (harness.py shortens it for speed):
    rank 0 removes the lock and temporary file in that second."""
    os.environ["OMPI_MCA_odls_base_sigkill_timeout"] = "1"


def assert_clean_failure(r, code):
    """Exit `code` with Tessera's message once; an MPI_ABORT note is allowed, a crash is not."""
    text = r.stdout + r.stderr
    hits = [m for m in CRASH_MARKERS if m in text and m != "MPI_ABORT"]
    assert not hits, f"crash markers {hits}\n" + describe(r)
    assert r.returncode == code, f"exit {r.returncode}, expected {code}\n" + describe(r)
    assert r.stderr.count("tessera: error") == 1, "expected the error printed once\n" + describe(r)


class Faults:
    def __init__(self, ws, ranks):
        self.ws, self.ranks = ws, ranks

    def setup(self):
        # Sixteen inputs over one 74 MB file, 1 MiB tiles: several seconds, long enough to strike mid-run
        # (six were done within 1.5 s once reads got faster).
        ok(tessera(["generate", "data/long.nc", "--shape", "1460,90,180", "--chunks", "4,90,180", "--deflate", "1"],
                   2, cwd=self.ws.root))
        with open(self.ws.path("jobs", "long.yaml"), "w") as f:
            f.write(job_text("long", "../data/long.nc", reductions=["{name: s, op: std, over: [time]}"],
                             memory="1MiB", inputs=16))
        with open(self.ws.path("jobs", "small.yaml"), "w") as f:
            f.write(job_text("small", "../data/long.nc", reductions=["{name: m, op: mean, over: [time]}"]))

    def launch(self, job="long.yaml", extra=()):
        """mpirun in its own session, every rank tagged so this test finds its own processes."""
        tag = f"{os.getpid()}-{time.monotonic_ns()}"
        env = dict(os.environ, TESSERA_FAULT_TAG=tag)
        p = subprocess.Popen([MPIEXEC, "-n", str(self.ranks), "-x", "TESSERA_FAULT_TAG", BIN, "run",
                              self.ws.path("jobs", job), "--quiet", *extra], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
        return p, tag

    def ranks_of(self, tag, want, deadline=20):
        """Waits until every rank runs; returns {rank: pid}."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            found = {}
            for p in os.listdir("/proc"):
                if not p.isdigit():
                    continue
                try:
                    with open(f"/proc/{p}/environ", "rb") as f:
                        env = f.read().split(b"\0")
                except OSError:
                    continue
                if f"TESSERA_FAULT_TAG={tag}".encode() not in env:
                    continue
                rank = [e for e in env if e.startswith(b"OMPI_COMM_WORLD_RANK=")]
                if rank:
                    found[int(rank[0].split(b"=")[1])] = int(p)
            if len(found) == want:
                return found
            time.sleep(0.05)
        raise AssertionError(f"ranks did not start within {deadline} s")

    def finish(self, p, timeout):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise AssertionError(f"hang: the other ranks did not stop within {timeout} s")
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    def no_output(self, name):
        out = self.ws.path("out", name + ".nc")
        assert not os.path.exists(out), f"output {out} left behind"
        left = leftovers(self.ws.path("out"), name + ".nc")
        assert not left, f"left behind: {left}"

    def strike(self, rank, sig, what):
        """Starts the long job, waits 1.5 s (mid-read), sends `sig` to one rank (or, with rank
        None, to the launcher); every process must be gone within 10 s, non-zero, nothing left."""
        for n in os.listdir(self.ws.path("out")):
            os.remove(self.ws.path("out", n))
        p, tag = self.launch()
        pids = self.ranks_of(tag, self.ranks)
        time.sleep(1.5)
        if p.poll() is not None:
            raise AssertionError("the job ended before the fault was injected; make it longer\n" +
                                 describe(self.finish(p, 5)))
        t0 = time.monotonic()
        os.kill(p.pid if rank is None else pids[rank], sig)
        r = self.finish(p, 10)
        took = time.monotonic() - t0
        assert r.returncode != 0, "exit 0 after " + what + "\n" + describe(r)
        def still_alive():
            alive = []
            for q in pids.values():
                try:
                    if open(f"/proc/{q}/stat").read().split()[2] != "Z":
                        alive.append(q)
                except OSError:
                    pass
            return alive
        # mpirun may return while the launcher's SIGKILL is still reaching a rank: the bound is
        # 10 s from the fault for every process, not the instant mpirun exits.
        alive = still_alive()
        while alive and time.monotonic() - t0 < 10:
            time.sleep(0.1)
            alive = still_alive()
        assert not alive, f"ranks {alive} still running 10 s after {what}"
        if sig == signal.SIGKILL:  # the launcher names the rank and the signal (a crash may go through a
            # sanitizer's SEGV handler, which exits instead)
            assert re.search(rf"rank {rank}\b.*signal {sig}", r.stderr.replace("\n", " ")), \
                "no message naming the rank and signal\n" + describe(r)
        out = self.ws.path("out")
        assert not os.path.exists(os.path.join(out, "long.nc")), "output left behind"
        temps = [n for n in leftovers(out, "long.nc") if n.endswith(".tmp")]
        assert not temps, f"temporary files left behind: {temps}"
        # Rank 0 removes the lock file on the launcher's SIGTERM, but the launcher may kill it
        # first (SIGKILL after 1 s): a stale lock file is harmless, the kernel released the lock.
        stale = " (a stale lock file stayed)" if leftovers(out, "long.nc") else ""
        Tally.note(f"{what}: all {self.ranks} ranks stopped {took:.1f} s later, exit {r.returncode}{stale}")

    def mount_small_fs(self):
        """A 600 KB tmpfs (root in a container can mount one); None where that is refused."""
        mnt = self.ws.path("small-fs")
        os.makedirs(mnt)
        return mnt if run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", mnt]).returncode == 0 else None

    def disk_full(self, mnt):
        try:
            job = self.ws.path("jobs", "full.yaml")
            with open(job, "w") as f:
                f.write(job_text("x", "../data/long.nc", reductions=["{name: m, op: mean, over: [time]}"])
                        .replace("../out/x.nc", mnt + "/full.nc"))
            ok(tessera(["run", job, "--quiet"], self.ranks))  # 64 KB of output
            with open(os.path.join(mnt, "full.nc"), "rb") as f:
                before = f.read()
            # Fill the filesystem but 16 KB, then replace the output: the write fails with ENOSPC.
            fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(fd, b"\0" * 4096):
                    pass
            except OSError:
                pass
            os.close(fd)
            os.truncate(os.path.join(mnt, "filler"), max(0, os.path.getsize(os.path.join(mnt, "filler")) - 16384))
            r = tessera(["run", job, "--quiet", "--overwrite"], self.ranks)
            assert_clean_failure(r, 4)
            with open(os.path.join(mnt, "full.nc"), "rb") as f:
                assert f.read() == before, "the previous output was modified"
            left = leftovers(mnt)
            assert not left, f"left behind on the full filesystem: {left}"
        finally:
            run(["umount", "-l", mnt])

    def file_size_limit(self):
        """ulimit -f 16 (16 KB): the write fails with EFBIG (SIGXFSZ is ignored), exit 4."""
        # The limit applies to the ranks only (mpirun's own PMIx files would hit it), and Open MPI's
        # shared-memory transport is left out (its backing files would too).
        job = self.ws.path("jobs", "small.yaml")
        env = dict(os.environ, OMPI_MCA_btl="self,tcp")
        p = subprocess.Popen([MPIEXEC, "-n", str(self.ranks), "bash", "-c", 'ulimit -f 16 && exec "$@"', "_", BIN,
                              "run", job, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True, env=env)
        r = self.finish(p, TIMEOUT)
        assert_clean_failure(r, 4)
        self.no_output("small")

    def concurrent(self):
        """A second run writing the same output while the first holds it: exit 4 at once, the
        first completes, no lock file stays."""
        for n in os.listdir(self.ws.path("out")):
            os.remove(self.ws.path("out", n))
        p, tag = self.launch()
        self.ranks_of(tag, self.ranks)
        lock = self.ws.path("out", ".long.nc.tessera.lock")
        end = time.monotonic() + 20
        while not os.path.exists(lock) and time.monotonic() < end:
            time.sleep(0.05)
        assert os.path.exists(lock), "the first run holds no lock file"
        first_running = p.poll() is None
        r2 = tessera(["run", self.ws.path("jobs", "long.yaml"), "--quiet", "--overwrite"], self.ranks)
        r1 = self.finish(p, TIMEOUT)
        assert_no_crash(r2.stdout + r2.stderr)
        assert first_running, "the first run ended before the second started; make it longer"
        assert r2.returncode == 4, f"second run: exit {r2.returncode}, expected 4\n" + describe(r2)
        assert "being written by another Tessera run" in r2.stderr and r2.stderr.count("tessera: error") == 1, \
            describe(r2)
        ok(r1)
        with netCDF4.Dataset(self.ws.path("out", "long.nc")) as d:
            assert "i15_s" in d.variables, "the first run's output is incomplete"
        assert not leftovers(self.ws.path("out")), f"left behind: {leftovers(self.ws.path('out'))}"


def faults_suite(ranks, t):
    faults_env()
    with Workspace() as ws:
        f = Faults(ws, ranks)
        if not t.check("faults: generate a 74 MB input", f.setup):
            return
        if ranks > 1:
            t.check(f"rank {ranks - 1} killed (SIGKILL) mid-run: all stop within 10 s, exit non-zero, no output",
                    f.strike, ranks - 1, signal.SIGKILL, f"rank {ranks - 1} killed")
            t.check("rank 0 crashes (SIGSEGV) mid-run: all stop within 10 s, no output or lock file",
                    f.strike, 0, signal.SIGSEGV, "rank 0 crashed")
        t.check("SIGTERM to mpirun mid-run (scancel, time limit): all stop, no output, lock or temporary file",
                f.strike, None, signal.SIGTERM, "mpirun terminated")
        mnt = f.mount_small_fs()
        if mnt:
            t.check("disk full (600 KB tmpfs) while replacing an output: exit 4, previous output untouched, "
                    "no temporary file", f.disk_full, mnt)
        else:
            t.note("disk full: skipped (cannot mount a tmpfs here); the file size limit case below covers the write path")
        t.check("file size limit (ulimit -f) while writing: exit 4, no crash, no output", f.file_size_limit)
        t.check("two runs writing one output: the second exits 4 at once, the first completes", f.concurrent)


if __name__ == "__main__":
    sys.exit(run_suites(sys.argv, {"inputs": inputs_suite, "faults": faults_suite}, __doc__, "hostile",
                        banner=f", seed {SEED}"))
