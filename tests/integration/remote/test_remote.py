"""Remote inputs end to end: the same jobs on local NetCDF-4 files and on the same data over
HTTP (nginx), S3 (s3rver, signed and anonymous), a faulty server (503s, cut connections) and as
Zarr stores (every codec, local and remote) must give bitwise-equal outputs at TESSERA_RANKS
ranks; request counts come from nginx's access log. Run by ctest (label `remote`)."""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "slurm"))

import harness  # noqa: E402
import services  # noqa: E402
from compare_nc import main as compare_main  # noqa: E402

RANKS = harness.ranks_from(sys.argv)
SECRET_MARK = "wrongSECRETvalue123"


def same_output(ref, out):
    """compare_nc's bitwise comparison (it prints what differs)."""
    assert compare_main(ref, out, RANKS) == 0, f"{out} differs from {ref}"


def job(ws, name, path, extra="", variable="tas"):
    """A job with every op over time plus a spatial mean, on `path` (or a list of paths)."""
    paths = f"paths: [{', '.join(path)}]" if isinstance(path, list) else f"path: {path}"
    text = f"""name: remote-test
inputs:
  tas:
    {paths}
    variable: {variable}
{extra}
reductions:
  - {{name: tmean, op: mean, over: [time]}}
  - {{name: tstd, op: std, over: [time], ddof: 1}}
  - {{name: tmin, op: min, over: [time]}}
  - {{name: fmean, op: mean, over: [lat, lon]}}
output: {{path: ../out/{name}.nc, overwrite: true}}
"""
    p = ws.path("jobs", name + ".yaml")
    with open(p, "w") as f:
        f.write(text)
    return p


def run(job_path, env=None, expect=0):
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


def generate(ws, name, *args):
    harness.tool([harness.BIN, "generate", ws.path("data", name), *args])


ZARR_WRITER = r"""
import sys, xarray as xr, numcodecs, zarr
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
    harness.tool(["/usr/bin/python3", "-c", ZARR_WRITER, src, dst, codec, order, endian,
                  "1" if consolidated else "0", chunks])


def main():
    services.watchdog(540)
    t = harness.Tally()
    with harness.Workspace() as ws:
        work = ws.path("services")
        os.makedirs(work)
        env = {"TESSERA_CACHE_DIR": ws.path("cache"), "TESSERA_HTTP_RETRIES": "10",
               "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
        # Data: a 200-chunk deflate+shuffle file, a contiguous one, three files of one series.
        generate(ws, "d200.nc", "--shape", "200,36,72", "--chunks", "1,36,72", "--deflate", "1", "--shuffle", "--seed", "5")
        generate(ws, "plain.nc", "--shape", "40,18,36", "--fill-fraction", "0.1", "--seed", "3")
        generate(ws, "small.nc", "--shape", "40,18,36", "--chunks", "8,9,18", "--fill-fraction", "0.1", "--seed", "3")
        generate(ws, "multi.nc", "--shape", "60,18,36", "--chunks", "10,18,36", "--deflate", "1", "--files", "3", "--seed", "7")
        multi = sorted(n for n in os.listdir(ws.path("data")) if n.startswith("multi"))
        ref = {}
        for name, path in [("d200", ws.path("data", "d200.nc")), ("plain", ws.path("data", "plain.nc")),
                           ("small", ws.path("data", "small.nc"))]:
            run(job(ws, "local-" + name, path), env)
            ref[name] = ws.path("out", f"local-{name}.nc")
        run(job(ws, "local-multi", ws.path("data", "multi*.nc")), env)
        ref["multi"] = ws.path("out", "local-multi.nc")

        # ---- Zarr, local: every codec, F order, big endian, unconsolidated, against NetCDF-4.
        zarr_cases = [("none", "C", "little", True), ("zlib", "C", "little", True), ("gzip", "C", "little", False),
                      ("zstd", "C", "little", True), ("blosc-lz4-1", "C", "little", True),
                      ("blosc-zstd-2", "C", "little", False), ("blosc-zlib-0", "C", "big", True),
                      ("blosc-blosclz-1", "C", "little", True), ("blosc-lz4hc-1", "C", "little", True),
                      ("zstd", "F", "little", True)]
        for codec, order, endian, cons in zarr_cases:
            label = f"{codec}-{order}-{endian}-{'cons' if cons else 'plain'}"
            store = ws.path("data", f"small-{label}.zarr")

            def zarr_local(codec=codec, order=order, endian=endian, cons=cons, store=store, label=label):
                write_zarr(ws.path("data", "small.nc"), store, codec, order, endian, cons)
                variable = "tas_f" if order == "F" else "tas"
                run(job(ws, "zarr-" + label, store, variable=variable), env)
                same_output(ref["small"], ws.path("out", f"zarr-{label}.nc"))
            t.check(f"zarr local {label} equals NetCDF-4", zarr_local)

        def zarr_missing_chunks():
            # Chunks that hold only the fill value are not written: they must read as fill.
            store = ws.path("data", "sparse.zarr")
            harness.tool(["/usr/bin/python3", "-c", r"""
import sys, numpy as np, zarr
g = zarr.open_group(sys.argv[1], mode="w")
t = g.create_dataset("time", data=np.arange(16.0)); t.attrs.update({"_ARRAY_DIMENSIONS": ["time"], "units": "days since 2000-01-01"})
a = g.create_dataset("tas", shape=(16, 4, 6), chunks=(4, 4, 6), dtype="<f4", fill_value=-999.0)
a.attrs["_ARRAY_DIMENSIONS"] = ["time", "lat", "lon"]
a[4:8] = 1.5; a[12:16] = 2.5
""", store])
            with open(ws.path("jobs", "sparse.yaml"), "w") as f:
                f.write(f"name: sparse\ninputs:\n  tas: {{path: {store}, variable: tas}}\nreductions:\n"
                        "  - {name: s, op: sum, over: [time]}\n  - {name: c, op: count, over: [time]}\n"
                        "output: {path: ../out/sparse.nc, overwrite: true}\n")
            run(ws.path("jobs", "sparse.yaml"), env)
            import netCDF4
            with netCDF4.Dataset(ws.path("out", "sparse.nc")) as d:
                assert float(d["s"][0, 0]) == 4 * 1.5 + 4 * 2.5, d["s"][0, 0]
                assert int(d["c"][0, 0]) == 8, d["c"][0, 0]
        t.check("zarr missing chunks read as fill value", zarr_missing_chunks)

        # ---- HTTP through nginx.
        ng = services.Nginx(ws.path("data"), work)

        def http_deflate():
            run(job(ws, "http-d200", ng.url + "/d200.nc"), env)  # cold: builds and caches the index
            same_output(ref["d200"], ws.path("out", "http-d200.nc"))
            ng.reset_log()
            run(job(ws, "http-d200", ng.url + "/d200.nc"), env)  # warm: index from the cache
            same_output(ref["d200"], ws.path("out", "http-d200.nc"))
            reqs = ng.requests()
            gets = [r for r in reqs if r[0] == "GET"]
            t.note(f"200-chunk deflate file, {RANKS} ranks, warm cache: {len(reqs)} requests ({len(gets)} GET)")
            assert len(reqs) <= 1 + 3 * RANKS, f"{len(reqs)} requests for 200 chunks: {reqs[:20]}"
            assert all(r[2] in ("200", "206") for r in reqs), reqs
        t.check("http: 200-chunk deflate file, bitwise equal, few requests", http_deflate)

        def http_contiguous():
            run(job(ws, "http-plain", ng.url + "/plain.nc"), env)
            same_output(ref["plain"], ws.path("out", "http-plain.nc"))
        t.check("http: contiguous NetCDF-4 file", http_contiguous)

        def http_multi():
            urls = [ng.url + "/" + n for n in reversed(multi)]  # out of order: sorted by time
            run(job(ws, "http-multi", urls), env)
            same_output(ref["multi"], ws.path("out", "http-multi.nc"))
        t.check("http: three files aggregated along time", http_multi)

        def http_zarr():
            write_zarr(ws.path("data", "small.nc"), ws.path("data", "remote.zarr"), "blosc-zstd-1")
            ng.reset_log()
            run(job(ws, "http-zarr", ng.url + "/remote.zarr"), env)
            same_output(ref["small"], ws.path("out", "http-zarr.nc"))
            write_zarr(ws.path("data", "small.nc"), ws.path("data", "remote-plain.zarr"), "zlib", consolidated=False)
            run(job(ws, "http-zarr-plain", ng.slow_url + "/remote-plain.zarr"), env)
            same_output(ref["small"], ws.path("out", "http-zarr-plain.nc"))
        t.check("http: Zarr stores (consolidated, not consolidated, rate-limited)", http_zarr)

        def http_missing():
            r = run(job(ws, "http-404", ng.url + "/nope.nc"), env, expect=3)
            assert "nope.nc" in r.stderr and "404" in r.stderr, r.stderr
            assert not os.path.exists(ws.path("out", "http-404.nc"))
        t.check("http: missing object is exit 3 naming the URL", http_missing)

        # ---- A server that fails: 503 SlowDown on every 3rd request, cut bodies on every 4th.
        def faulty():
            fs = services.FaultyServer(ws.path("data"), work)
            # HDF5's ROS3 driver (the first run's metadata scan) does not retry: scan without
            # faults, then read the data through Tessera's own client with faults on.
            run(job(ws, "faulty-d200", fs.url + "/d200.nc"), env)
            fs.enable()
            run(job(ws, "faulty-d200", fs.url + "/d200.nc"), env)
            same_output(ref["d200"], ws.path("out", "faulty-d200.nc"))
            run(job(ws, "faulty-zarr", fs.url + "/remote.zarr"), env)
            same_output(ref["small"], ws.path("out", "faulty-zarr.nc"))
            f = fs.faults()
            t.note(f"faulty server: {f}")
            assert int(f.get("503", 0)) > 0 and int(f.get("cut", 0)) > 0, f
        t.check("faults: 503s and cut connections are retried, output still exact", faulty)

        # ---- S3 (s3rver): signed, wrong secret, anonymous, prefix globs.
        if not services.S3rver.available():
            t.note("s3rver not installed (tests/install-deps.sh): S3 checks skipped")
        else:
            s3 = services.S3rver(work, ["tessera"])
            for n in ["d200.nc", *multi]:
                s3.put("tessera", "data/" + n, ws.path("data", n))
            for dirpath, _, files in os.walk(ws.path("data", "remote.zarr")):
                for n in files:
                    full = os.path.join(dirpath, n)
                    s3.put("tessera", "stores/" + os.path.relpath(full, ws.path("data")), full)
            ep = f"    endpoint: {s3.url}\n    region: us-east-1"
            signed = dict(env, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER")

            def s3_signed():
                run(job(ws, "s3-d200", "s3://tessera/data/d200.nc", ep), signed)
                same_output(ref["d200"], ws.path("out", "s3-d200.nc"))
                run(job(ws, "s3-zarr", "s3://tessera/stores/remote.zarr", ep), signed)
                same_output(ref["small"], ws.path("out", "s3-zarr.nc"))
            t.check("s3: signed reads (NetCDF-4 and Zarr)", s3_signed)

            def s3_glob():
                run(job(ws, "s3-glob", "s3://tessera/data/multi*.nc", ep),
                    dict(signed, AWS_ENDPOINT_URL_S3=s3.url))
                same_output(ref["multi"], ws.path("out", "s3-glob.nc"))
            t.check("s3: prefix glob listing (ListObjectsV2)", s3_glob)

            def s3_wrong_secret():
                bad = dict(env, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY=SECRET_MARK,
                           TESSERA_CACHE_DIR=ws.path("cache3"))
                r = run(job(ws, "s3-bad", "s3://tessera/stores/remote.zarr", ep), bad, expect=3)
                assert "403" in r.stderr and "s3://tessera/stores/remote.zarr" in r.stderr, r.stderr
                assert SECRET_MARK not in r.stdout + r.stderr
                assert not os.path.exists(ws.path("out", "s3-bad.nc"))
            t.check("s3: wrong secret is exit 3 with the URL, secret never printed", s3_wrong_secret)

            def s3_anonymous():
                run(job(ws, "s3-anon", "s3://tessera/stores/remote.zarr", ep + "\n    anonymous: true"),
                    dict(env, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY=SECRET_MARK))
                same_output(ref["small"], ws.path("out", "s3-anon.nc"))
            t.check("s3: anonymous reads of a public bucket ignore credentials", s3_anonymous)

            def s3_profile():
                creds = ws.path("credentials")
                with open(creds, "w") as f:
                    f.write("[other]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n")
                run(job(ws, "s3-profile", "s3://tessera/data/d200.nc", ep),
                    dict(env, AWS_SHARED_CREDENTIALS_FILE=creds, AWS_PROFILE="other"))
                same_output(ref["d200"], ws.path("out", "s3-profile.nc"))
            t.check("s3: credentials from a profile in the shared credentials file", s3_profile)
        services.stop_all()
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
