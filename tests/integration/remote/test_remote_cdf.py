"""NetCDF-3 (classic, 64-bit offset, CDF5) over HTTP (nginx), S3 (s3rver, signed) and a faulty
server: the same jobs on the local files and on their URLs must give bitwise-equal outputs at
TESSERA_RANKS ranks; nginx's access log shows a rank's hyperslab arrives in a few merged range
GETs, not one per record. Run by ctest (label `remote`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from remote_case import RANKS, Session, generate, job, run  # noqa: E402
import harness  # noqa: E402

# A packed short variable whose header is longer than the 64 KiB first read (a long history
# attribute), with time as a fixed dimension (non-record variables), written by netCDF4-python.
FIXED_WRITER = r"""
import sys, netCDF4, numpy as np
src, dst = sys.argv[1:3]
with netCDF4.Dataset(src) as s, netCDF4.Dataset(dst, "w", format="NETCDF3_64BIT_OFFSET") as d:
    d.history = "x" * (200 * 1024)
    for n, dim in s.dimensions.items():
        d.createDimension(n, len(dim))
    for n, v in s.variables.items():
        v.set_auto_maskandscale(False)
        o = d.createVariable(n, v.dtype, v.dimensions, fill_value=getattr(v, "_FillValue", None))
        o.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
        o[...] = v[...]
"""


def main():
    with Session() as s:
        ws, t, env = s.ws, s.t, s.env
        # time is the record (unlimited) dimension: time, time_bnds and tas interleave per record.
        generate(ws, "classic.nc", "--format", "classic", "--shape", "120,18,36", "--fill-fraction", "0.1", "--seed", "3")
        generate(ws, "off64.nc", "--format", "64bit-offset", "--dtype", "short", "--shape", "40,18,36", "--seed", "4")
        generate(ws, "cdf5.nc", "--format", "cdf5", "--dtype", "double", "--shape", "40,18,36", "--seed", "5")
        generate(ws, "mc.nc", "--format", "classic", "--shape", "60,18,36", "--files", "3", "--seed", "7")
        harness.tool(["/usr/bin/python3", "-c", FIXED_WRITER, ws.path("data", "off64.nc"), ws.path("data", "fixed.nc")])
        multi = sorted(n for n in os.listdir(ws.path("data")) if n.startswith("mc"))
        for name in ["classic", "off64", "cdf5", "fixed"]:
            s.local(name, ws.path("data", name + ".nc"))
        s.local("mc", ws.path("data", "mc*.nc"))

        ng = s.nginx()

        def http_formats():
            for name in ["classic", "off64", "cdf5", "fixed"]:
                s.same_as_local(name, "http-" + name, f"{ng.url}/{name}.nc", env)
        t.check("http: classic, 64-bit offset (packed short), CDF5, fixed-dimension + long header", http_formats)

        def http_requests():
            ng.reset_log()
            s.same_as_local("classic", "http-classic", ng.url + "/classic.nc", env)
            reqs = ng.requests()
            gets = [r for r in reqs if r[0] == "GET"]
            t.note(f"classic file, 120 records, {RANKS} ranks: {len(reqs)} requests ({len(gets)} GET)")
            # Scan: HEAD + header + coordinates. Reads: the records of a rank's box are strided by
            # the record size (the other record variables between them) and merged across gaps
            # up to 1 MiB into one GET per hyperslab: far fewer than the 120 records.
            assert len(reqs) <= 4 + 4 * RANKS, f"{len(reqs)} requests: {reqs[:30]}"
            assert all(r[2] in ("200", "206") for r in reqs), reqs
        t.check("http: a rank's hyperslab of a record variable in a few merged GETs", http_requests)

        t.check("http: three classic files aggregated along time",
                lambda: s.same_as_local("mc", "http-mc", [ng.url + "/" + n for n in reversed(multi)], env))

        def http_plan():
            # What plan reports (shape, type, attributes, coordinates, decomposition) is the same.
            local = harness.tessera(["plan", job(ws, "plan-local", ws.path("data", "off64.nc"))])
            remote = harness.tessera(["plan", job(ws, "plan-http", ng.url + "/off64.nc")])
            assert local.returncode == 0 and remote.returncode == 0, harness.describe(remote)
            norm = lambda x: x.replace(ws.path("data", "off64.nc"), "F").replace(ng.url + "/off64.nc", "F")  # noqa: E731
            assert norm(local.stdout) == norm(remote.stdout), local.stdout + "\n----\n" + remote.stdout
        t.check("http: plan output equals the local file's", http_plan)

        def http_truncated():
            with open(ws.path("data", "classic.nc"), "rb") as f:
                data = f.read()
            with open(ws.path("data", "cut.nc"), "wb") as f:
                f.write(data[: len(data) - 1000])
            r = run(job(ws, "http-cut", ng.url + "/cut.nc"), env, expect=3)
            assert "truncated" in r.stderr and "cut.nc" in r.stderr, r.stderr
        t.check("http: truncated NetCDF-3 object is exit 3, never zeros", http_truncated)

        def faulty():
            fs = s.faulty()
            fs.enable()  # no ROS3 here: the scan retries too
            s.same_as_local("classic", "faulty-classic", fs.url + "/classic.nc", env)
            f = fs.faults()
            t.note(f"faulty server: {f}")
            assert int(f.get("503", 0)) > 0 and int(f.get("cut", 0)) > 0, f
        t.check("faults: 503s and cut connections during scan and reads, output still exact", faulty)

        if s.s3():
            s.upload("cdf", "off64.nc", "cdf5.nc", *multi)
            ep, signed = s.s3_endpoint(), s.signed

            def s3_signed():
                for name in ["off64", "cdf5"]:
                    s.same_as_local(name, "s3-" + name, f"s3://tessera/cdf/{name}.nc", signed, ep)
                s.same_as_local("mc", "s3-mc", "s3://tessera/cdf/mc*.nc", signed, ep)
            t.check("s3: signed reads of 64-bit offset, CDF5 and a prefix glob of classic files", s3_signed)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
