"""Weights from a variable of a remote input: `weights: areacella` (a named variable) and
`weights: area` with `cell_measures: "area: areacella"` on NetCDF-4, NetCDF-3 and Zarr inputs
over HTTP (nginx) and S3 (s3rver) must give output bitwise equal to the local run at
TESSERA_RANKS ranks; the local weighted means are checked against numpy; a weights variable
the object lacks is exit 2 naming it and the URL. Run by ctest (label `remote`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from remote_case import Session, generate, job, run, write_zarr  # noqa: E402
import harness  # noqa: E402

import netCDF4  # noqa: E402
import numpy as np  # noqa: E402

WEIGHTED = ["{name: wmean, op: mean, over: [lat, lon], weights: areacella}",
            "{name: wstd, op: std, over: [lat, lon], weights: areacella}",
            "{name: cmean, op: mean, over: [lat, lon], weights: area}",
            "{name: tmean, op: mean, over: [time]}"]


def main():
    with Session() as s:
        ws, t, env = s.ws, s.t, s.env
        generate(ws, "w4.nc", "--shape", "24,18,36", "--chunks", "6,9,18", "--deflate", "1", "--cell-area",
                 "--fill-fraction", "0.1", "--seed", "21")
        generate(ws, "w3.nc", "--format", "classic", "--shape", "24,18,36", "--cell-area", "--fill-fraction", "0.1",
                 "--seed", "22")
        write_zarr(ws.path("data", "w4.nc"), ws.path("data", "w.zarr"), "blosc-zstd-1", chunks="6,9,18")
        cases = {"w4": "w4.nc", "w3": "w3.nc", "wz": "w.zarr"}
        for name, f in cases.items():
            s.local(name, ws.path("data", f), reductions=WEIGHTED)

        def numpy_oracle():
            for name in ("w4", "w3"):
                with netCDF4.Dataset(ws.path("data", cases[name])) as d, netCDF4.Dataset(s.ref[name]) as o:
                    x = np.ma.asarray(d["tas"][...]).astype(np.float64)
                    w = np.asarray(d["areacella"][...], dtype=np.float64)
                    ww = np.where(np.ma.getmaskarray(x), 0.0, w[None])
                    ref = (x.filled(0) * ww).sum(axis=(1, 2)) / ww.sum(axis=(1, 2))
                    # cmean (cell_measures) too: the generator's areacella (cos latitude) differs
                    # from the exact areas between the bounds that a fallback would use.
                    for v in ("wmean", "cmean"):
                        got = np.asarray(o[v][...], dtype=np.float64)
                        assert np.allclose(got, ref, rtol=1e-6, atol=1e-4), (name, v, got[:3], ref[:3])
            # The local Zarr copy reads the same variable: its output equals the NetCDF-4 run's.
            with netCDF4.Dataset(s.ref["w4"]) as a, netCDF4.Dataset(s.ref["wz"]) as b:
                for v in ("wmean", "wstd", "cmean"):
                    assert a[v][...].tobytes() == b[v][...].tobytes(), v
        t.check("local: weighted means equal numpy's sum(w x)/sum(w); Zarr equals NetCDF-4", numpy_oracle)

        ng = s.nginx()
        for name, f in cases.items():
            t.check(f"http: weights from a variable of a remote {name} input, bitwise equal to local",
                    lambda name=name, f=f: s.same_as_local(name, "http-" + name, f"{ng.url}/{f}", env,
                                                           reductions=WEIGHTED))

        def missing_variable():
            r = run(job(ws, "http-noweights", f"{ng.url}/w4.nc",
                        reductions=["{name: m, op: mean, over: [lat, lon], weights: nosuch}"]), env, expect=2)
            assert "nosuch" in r.stderr and f"{ng.url}/w4.nc" in r.stderr, r.stderr
        t.check("http: a weights variable the object lacks is exit 2 naming it and the URL", missing_variable)

        if s.s3():
            s.upload("weights", "w4.nc", "w3.nc", "w.zarr")
            for name, f in cases.items():
                t.check(f"s3: weights from a variable of a remote {name} input, bitwise equal to local",
                        lambda name=name, f=f: s.same_as_local(name, "s3-" + name, f"s3://tessera/weights/{f}",
                                                               s.signed, s.s3_endpoint(), reductions=WEIGHTED))
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
