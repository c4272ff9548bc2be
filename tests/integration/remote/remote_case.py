"""What every remote test shares: a workspace with the loopback services (services.py) started
on first use, the environment that keeps a developer's AWS settings out, jobs with every op over
time plus a spatial mean, and the local-vs-remote comparison: the same job on a local file and
on its URL (HTTP, S3, faulty server, Zarr) must give bitwise-equal outputs at TESSERA_RANKS ranks."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "slurm"))

import harness  # noqa: E402
import services  # noqa: E402
from compare_nc import main as compare_main  # noqa: E402

RANKS = harness.ranks_from(sys.argv)
SECRET_MARK = "wrongSECRETvalue123"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}


def same_output(ref, out):
    """compare_nc's bitwise comparison (it prints what differs)."""
    assert compare_main(ref, out, RANKS) == 0, f"{out} differs from {ref}"


def job(ws, name, path, extra="", variable="tas", reductions=None):
    """A job with every op over time plus a spatial mean (or `reductions`, YAML list lines), on
    `path` (or a list of paths); `extra` adds lines to the input (endpoint, weights input...)."""
    paths = f"paths: [{', '.join(path)}]" if isinstance(path, list) else f"path: {path}"
    reds = reductions or ["{name: tmean, op: mean, over: [time]}", "{name: tstd, op: std, over: [time], ddof: 1}",
                          "{name: tmin, op: min, over: [time]}", "{name: fmean, op: mean, over: [lat, lon]}"]
    text = f"""name: remote-test
inputs:
  tas:
    {paths}
    variable: {variable}
{extra}
reductions:
""" + "".join(f"  - {r}\n" for r in reds) + f"output: {{path: ../out/{name}.nc, overwrite: true}}\n"
    p = ws.path("jobs", name + ".yaml")
    with open(p, "w") as f:
        f.write(text)
    return p


def run(job_path, env=None, expect=0):
    """`tessera run` at RANKS ranks with `env` added; asserts the exit status and no crash."""
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        r = harness.tessera(["run", job_path, "--quiet"], ranks=RANKS)
    finally:
        os.environ.clear()
        os.environ.update(old)
    harness.assert_no_crash(r.stdout + r.stderr)
    assert r.returncode == expect, f"expected exit {expect}\n" + harness.describe(r)
    return r


def tessera(args, env=None, ranks=1):
    """Any tessera command with `env` added (not asserted)."""
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        return harness.tessera(args, ranks=ranks)
    finally:
        os.environ.clear()
        os.environ.update(old)


def generate(ws, name, *args):
    harness.tool([harness.BIN, "generate", ws.path("data", name), *args])


ZARR_WRITER = r"""
import json, sys, xarray as xr, numcodecs, zarr
src, dst, codec, order, endian, consolidated, chunks = sys.argv[1:8]
ds = xr.open_dataset(src, decode_cf=False)
comp = {"none": None, "zlib": numcodecs.Zlib(level=3), "gzip": numcodecs.GZip(level=3),
        "zstd": numcodecs.Zstd(level=3)}.get(codec)
if codec.startswith("blosc-"):
    _, cname, shuffle = codec.split("-")
    comp = numcodecs.Blosc(cname=cname, clevel=5, shuffle=int(shuffle))
enc = {v: {"compressor": comp} for v in ds.variables}
enc["tas"]["chunks"] = tuple(int(c) for c in chunks.split(","))
if endian == "big":
    ds["tas"] = ds["tas"].astype(">f4")
ds.to_zarr(dst, mode="w", encoding=enc, consolidated=consolidated == "1")
for v in ds.variables:  # as in the NetCDF file: no fill value where it has no _FillValue (xarray writes NaN)
    if "_FillValue" not in ds[v].attrs:
        with open(f"{dst}/{v}/.zarray") as f:
            meta = json.load(f)
        meta["fill_value"] = None
        with open(f"{dst}/{v}/.zarray", "w") as f:
            json.dump(meta, f, indent=4, sort_keys=True)
if consolidated == "1":
    zarr.consolidate_metadata(dst)
if order == "F":  # xarray writes C order: rewrite the array in F order with zarr itself
    a = zarr.open_array(dst + "/tas", mode="r")
    data, attrs = a[...], dict(a.attrs)
    b = zarr.open_array(dst + "/tas_f", mode="w", shape=a.shape, chunks=a.chunks, dtype=a.dtype,
                        compressor=a.compressor, fill_value=a.fill_value, order="F")
    b[...] = data
    b.attrs.update(attrs)
    if consolidated == "1":
        zarr.consolidate_metadata(dst)
"""


def write_zarr(src, dst, codec, order="C", endian="little", consolidated=True, chunks="8,9,18"):
    """A Zarr v2 copy of NetCDF file `src` (every variable, tas with `codec` and `chunks`)."""
    harness.tool(["/usr/bin/python3", "-c", ZARR_WRITER, src, dst, codec, order, endian,
                  "1" if consolidated else "0", chunks])


class Session:
    """`with Session() as s:` a workspace (s.ws), a tally (s.t), a watchdog, the base environment
    (s.env: private index cache, retries, no AWS settings of the caller) and services started on
    first use: s.nginx(), s.s3() (None when s3rver is not installed), s.faulty(...). Everything
    is stopped on exit."""

    def __init__(self, watchdog=540):
        services.watchdog(watchdog)
        self.t = harness.Tally()
        self._ws = harness.Workspace()
        self._nginx = self._s3 = None
        self.ref = {}

    def __enter__(self):
        self.ws = self._ws.__enter__()
        self.work = self.ws.path("services")
        os.makedirs(self.work)
        self.env = {"TESSERA_CACHE_DIR": self.ws.path("cache"), "TESSERA_HTTP_RETRIES": "10",
                    "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
        self.signed = dict(self.env, **S3_KEYS)
        return self

    def __exit__(self, *exc):
        services.stop_all()
        return self._ws.__exit__(*exc)

    def nginx(self):
        """nginx serving data/ (self.nginx().url, .slow_url)."""
        if not self._nginx:
            self._nginx = services.Nginx(self.ws.path("data"), self.work)
        return self._nginx

    def s3(self, bucket="tessera"):
        """s3rver with `bucket`, or None (and a note) when it is not installed."""
        if not self._s3:
            if not services.S3rver.available():
                self.t.note("s3rver not installed (tests/install-deps.sh): S3 checks skipped")
                return None
            self._s3 = services.S3rver(self.work, [bucket])
        return self._s3

    def s3_endpoint(self):
        """Input lines that point at the running s3rver."""
        return f"    endpoint: {self._s3.url}\n    region: us-east-1"

    def upload(self, key_prefix, *names, bucket="tessera"):
        """Files or directory trees (Zarr stores) of data/ to s3://bucket/key_prefix/NAME."""
        for n in names:
            src = self.ws.path("data", n)
            if os.path.isdir(src):
                for dirpath, _, files in os.walk(src):
                    for f in files:
                        full = os.path.join(dirpath, f)
                        self._s3.put(bucket, f"{key_prefix}/{os.path.relpath(full, self.ws.path('data'))}", full)
            else:
                self._s3.put(bucket, f"{key_prefix}/{n}", src)

    def faulty(self, work=None, **kw):
        """A new faulty_server.py on data/ (see services.FaultyServer)."""
        work = work or self.work
        os.makedirs(work, exist_ok=True)
        return services.FaultyServer(self.ws.path("data"), work, **kw)

    def local(self, name, path, **job_kw):
        """Runs the job on local `path` (file, glob or list) as the reference self.ref[name]."""
        run(job(self.ws, "local-" + name, path, **job_kw), self.env)
        self.ref[name] = self.ws.path("out", f"local-{name}.nc")
        return self.ref[name]

    def same_as_local(self, name, label, path, env=None, extra="", **job_kw):
        """The job on `path` (URL, list of URLs, store) gives output bitwise equal to the local
        reference `name`; returns the run."""
        r = run(job(self.ws, label, path, extra=extra, **job_kw), self.env if env is None else env)
        same_output(self.ref[name], self.ws.path("out", label + ".nc"))
        return r
