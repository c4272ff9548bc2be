"""Remote inputs end to end: the same jobs on local NetCDF-4 files and on the same data over
HTTP (nginx), S3 (s3rver, signed and anonymous), a faulty server (503s, cut connections) and as
Zarr stores (every codec, local and remote) must give bitwise-equal outputs at TESSERA_RANKS
ranks; request counts come from nginx's access log. Run by ctest (label `remote`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from remote_case import RANKS, SECRET_MARK, Session, generate, job, run, write_zarr  # noqa: E402
import harness  # noqa: E402

def main():
    with Session() as s:
        ws, t, env = s.ws, s.t, s.env
        # Data: a 200-chunk deflate+shuffle file, a contiguous one, three files of one series.
        generate(ws, "d200.nc", "--shape", "200,36,72", "--chunks", "1,36,72", "--deflate", "1", "--shuffle", "--seed", "5")
        generate(ws, "plain.nc", "--shape", "40,18,36", "--fill-fraction", "0.1", "--seed", "3")
        generate(ws, "small.nc", "--shape", "40,18,36", "--chunks", "8,9,18", "--fill-fraction", "0.1", "--seed", "3")
        generate(ws, "multi.nc", "--shape", "60,18,36", "--chunks", "10,18,36", "--deflate", "1", "--files", "3", "--seed", "7")
        multi = sorted(n for n in os.listdir(ws.path("data")) if n.startswith("multi"))
        for name in ["d200", "plain", "small"]:
            s.local(name, ws.path("data", name + ".nc"))
        s.local("multi", ws.path("data", "multi*.nc"))

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
                s.same_as_local("small", "zarr-" + label, store, env, variable="tas_f" if order == "F" else "tas")
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
            run(job(ws, "sparse", store, reductions=["{name: s, op: sum, over: [time]}",
                                                      "{name: c, op: count, over: [time]}"]), env)
            import netCDF4
            with netCDF4.Dataset(ws.path("out", "sparse.nc")) as d:
                assert float(d["s"][0, 0]) == 4 * 1.5 + 4 * 2.5, d["s"][0, 0]
                assert int(d["c"][0, 0]) == 8, d["c"][0, 0]
        t.check("zarr missing chunks read as fill value", zarr_missing_chunks)

        # ---- HTTP through nginx.
        ng = s.nginx()

        def http_deflate():
            s.same_as_local("d200", "http-d200", ng.url + "/d200.nc", env)  # cold: builds and caches the index
            ng.reset_log()
            s.same_as_local("d200", "http-d200", ng.url + "/d200.nc", env)  # warm: index from the cache
            reqs = ng.requests()
            gets = [r for r in reqs if r[0] == "GET"]
            t.note(f"200-chunk deflate file, {RANKS} ranks, warm cache: {len(reqs)} requests ({len(gets)} GET)")
            assert len(reqs) <= 1 + 3 * RANKS, f"{len(reqs)} requests for 200 chunks: {reqs[:20]}"
            assert all(r[2] in ("200", "206") for r in reqs), reqs
        t.check("http: 200-chunk deflate file, bitwise equal, few requests", http_deflate)

        t.check("http: contiguous NetCDF-4 file",
                lambda: s.same_as_local("plain", "http-plain", ng.url + "/plain.nc", env))
        # Out of order: sorted by time.
        t.check("http: three files aggregated along time",
                lambda: s.same_as_local("multi", "http-multi", [ng.url + "/" + n for n in reversed(multi)], env))

        def http_zarr():
            write_zarr(ws.path("data", "small.nc"), ws.path("data", "remote.zarr"), "blosc-zstd-1")
            s.same_as_local("small", "http-zarr", ng.url + "/remote.zarr", env)
            write_zarr(ws.path("data", "small.nc"), ws.path("data", "remote-plain.zarr"), "zlib", consolidated=False)
            s.same_as_local("small", "http-zarr-plain", ng.slow_url + "/remote-plain.zarr", env)
        t.check("http: Zarr stores (consolidated, not consolidated, rate-limited)", http_zarr)

        def http_missing():
            r = run(job(ws, "http-404", ng.url + "/nope.nc"), env, expect=3)
            assert "nope.nc" in r.stderr and "404" in r.stderr, r.stderr
            assert not os.path.exists(ws.path("out", "http-404.nc"))
        t.check("http: missing object is exit 3 naming the URL", http_missing)

        # ---- A server that fails: 503 SlowDown on every 3rd request, cut bodies on every 4th.
        def faulty():
            fs = s.faulty()
            # HDF5's ROS3 driver (the first run's metadata scan) does not retry: scan without
            # faults, then read the data through Tessera's own client with faults on.
            run(job(ws, "faulty-d200", fs.url + "/d200.nc"), env)
            fs.enable()
            s.same_as_local("d200", "faulty-d200", fs.url + "/d200.nc", env)
            s.same_as_local("small", "faulty-zarr", fs.url + "/remote.zarr", env)
            f = fs.faults()
            t.note(f"faulty server: {f}")
            assert int(f.get("503", 0)) > 0 and int(f.get("cut", 0)) > 0, f
        t.check("faults: 503s and cut connections are retried, output still exact", faulty)

        # ---- S3 (s3rver): signed, wrong secret, anonymous, prefix globs.
        if s.s3():
            s.upload("data", "d200.nc", *multi)
            s.upload("stores", "remote.zarr")
            ep, signed = s.s3_endpoint(), s.signed

            def s3_signed():
                s.same_as_local("d200", "s3-d200", "s3://tessera/data/d200.nc", signed, ep)
                s.same_as_local("small", "s3-zarr", "s3://tessera/stores/remote.zarr", signed, ep)
            t.check("s3: signed reads (NetCDF-4 and Zarr)", s3_signed)

            t.check("s3: prefix glob listing (ListObjectsV2)",
                    lambda: s.same_as_local("multi", "s3-glob", "s3://tessera/data/multi*.nc",
                                            dict(signed, AWS_ENDPOINT_URL_S3=s.s3().url), ep))

            def s3_wrong_secret():
                bad = dict(env, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY=SECRET_MARK,
                           TESSERA_CACHE_DIR=ws.path("cache3"))
                r = run(job(ws, "s3-bad", "s3://tessera/stores/remote.zarr", ep), bad, expect=3)
                assert "403" in r.stderr and "s3://tessera/stores/remote.zarr" in r.stderr, r.stderr
                assert SECRET_MARK not in r.stdout + r.stderr
                assert not os.path.exists(ws.path("out", "s3-bad.nc"))
            t.check("s3: wrong secret is exit 3 with the URL, secret never printed", s3_wrong_secret)

            t.check("s3: anonymous reads of a public bucket ignore credentials",
                    lambda: s.same_as_local("small", "s3-anon", "s3://tessera/stores/remote.zarr",
                                            dict(env, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY=SECRET_MARK),
                                            ep + "\n    anonymous: true"))

            def s3_profile():
                creds = ws.path("credentials")
                with open(creds, "w") as f:
                    f.write("[other]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n")
                s.same_as_local("d200", "s3-profile", "s3://tessera/data/d200.nc",
                                dict(env, AWS_SHARED_CREDENTIALS_FILE=creds, AWS_PROFILE="other"), ep)
            t.check("s3: credentials from a profile in the shared credentials file", s3_profile)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
