"""One series in files whose time units differ ("days since 2000-01-01", "hours since 2001-01-01
00:00", "days since 1990-01-01") and whose names are not in time order: the local run converts
them onto the first file's units and orders them by time (src/io/aggregate.cpp), and the same
files over HTTP (a list of URLs) and S3 (a prefix glob), NetCDF-4 and NetCDF-3, must give output
bitwise equal to it at TESSERA_RANKS ranks. The local result is checked against independent
oracles: the same statistics of the one-file series (bitwise: exact sums do not depend on the
split), CDO's timmean over `cdo mergetime` of the pieces, and the time axis decoded by netCDF4.
Run by ctest (label `remote`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from remote_case import Session, generate, job, run  # noqa: E402
import harness  # noqa: E402

import netCDF4  # noqa: E402
import numpy as np  # noqa: E402
import oracle  # noqa: E402

# Splits SRC (60 days from 2000-12-02) into three files with other time units, named so that
# name order (a, b, c) is not time order (b, c, a): raw first values (456, 336, 4008) mis-order too.
SPLITTER = r"""
import sys, netCDF4, numpy as np
src, fmt, prefix = sys.argv[1:4]
pieces = [("b", 0, 20, "days since 2000-01-01 00:00:00"), ("c", 20, 40, "days since 1990-01-01"),
          ("a", 40, 60, "hours since 2001-01-01 00:00")]
with netCDF4.Dataset(src) as s:
    cal = s["time"].calendar
    for name, i0, i1, units in pieces:
        kw = {"zlib": True, "complevel": 1} if fmt == "NETCDF4" else {}
        with netCDF4.Dataset(f"{prefix}{name}.nc", "w", format=fmt) as d:
            d.setncatts({k: s.getncattr(k) for k in s.ncattrs()})
            for n, dim in s.dimensions.items():
                d.createDimension(n, None if dim.isunlimited() else len(dim))
            for n, v in s.variables.items():
                v.set_auto_maskandscale(False)
                fill = getattr(v, "_FillValue", None)
                o = d.createVariable(n, v.dtype, v.dimensions, fill_value=fill, **(kw if n == "tas" else {}))
                o.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
                o.set_auto_maskandscale(False)
                data = v[i0:i1] if v.dimensions and v.dimensions[0] == "time" else v[...]
                if n in ("time", "time_bnds"):
                    dates = netCDF4.num2date(data, s["time"].units, cal)
                    data = netCDF4.date2num(dates, units, cal).astype(np.float64)
                    if n == "time":
                        o.units = units
                o[...] = data
"""


def main():
    with Session() as s:
        ws, t, env = s.ws, s.t, s.env
        generate(ws, "series.nc", "--shape", "60,18,36", "--chunks", "10,18,36", "--fill-fraction", "0.1",
                 "--start-day", "336", "--seed", "11")
        for fmt, prefix in (("NETCDF4", "mix4_"), ("NETCDF3_CLASSIC", "mix3_")):
            harness.tool(["/usr/bin/python3", "-c", SPLITTER, ws.path("data", "series.nc"), fmt, ws.path("data", prefix)])
        s.local("series", ws.path("data", "series.nc"))
        s.local("mix4", ws.path("data", "mix4_*.nc"))
        s.local("mix3", ws.path("data", "mix3_*.nc"))

        def local_oracles():
            with netCDF4.Dataset(s.ref["series"]) as one, netCDF4.Dataset(s.ref["mix4"]) as mix, \
                    netCDF4.Dataset(s.ref["mix3"]) as mix3, netCDF4.Dataset(ws.path("data", "series.nc")) as src:
                for v in ("tmean", "tstd", "tmin", "fmean"):
                    for d in (one, mix, mix3):
                        d[v].set_auto_maskandscale(False)
                    assert one[v][...].tobytes() == mix[v][...].tobytes(), f"{v}: split series differs from one file"
                    assert one[v][...].tobytes() == mix3[v][...].tobytes(), f"{v}: NetCDF-3 pieces differ"
                # The output's time axis: in the first file's (mix4_a's) units, in time order.
                tm = mix["time"]
                assert tm.units == "hours since 2001-01-01 00:00", tm.units
                got = netCDF4.num2date(tm[:], tm.units, tm.calendar)
                want = netCDF4.num2date(src["time"][:], src["time"].units, src["time"].calendar)
                assert list(got) == list(want), (got[:3], want[:3])
                assert np.all(np.diff(tm[:]) > 0), tm[:]
            files = [ws.path("data", f"mix4_{n}.nc") for n in "abc"]
            out = ws.path("cdo-timmean.nc")
            harness.tool(["cdo", "-s", "-O", "-b", "F64", "timmean", "-selname,tas", "-mergetime", *files, out])
            with netCDF4.Dataset(out) as c, netCDF4.Dataset(s.ref["mix4"]) as mix:
                oracle.compare(mix["tmean"][...], c["tas"][0], 1e-6, 1e-4)
        t.check("local: mixed time units equal the one-file series (bitwise), CDO mergetime+timmean, "
                "time axis decoded", local_oracles)

        ng = s.nginx()
        for kind in ("mix4", "mix3"):
            urls = [f"{ng.url}/{kind}_{n}.nc" for n in "cab"]  # any order: sorted by time
            t.check(f"http: {kind} pieces with mixed time units as a URL list, bitwise equal to local",
                    lambda kind=kind, urls=urls: s.same_as_local(kind, "http-" + kind, urls, env))
        if s.s3():
            s.upload("units", *[f"{k}_{n}.nc" for k in ("mix4", "mix3") for n in "abc"])
            for kind in ("mix4", "mix3"):
                t.check(f"s3: {kind} pieces with mixed time units by prefix glob, bitwise equal to local",
                        lambda kind=kind: s.same_as_local(kind, "s3-" + kind, f"s3://tessera/units/{kind}_*.nc",
                                                          s.signed, s.s3_endpoint()))

        def other_calendar():
            # A file on another calendar cannot be put on one axis with the rest: exit 3, both named.
            harness.tool(["/usr/bin/python3", "-c", "import sys, netCDF4\n"
                          "with netCDF4.Dataset(sys.argv[1], 'a') as d: d['time'].calendar = '360_day'",
                          ws.path("data", "mix4_c.nc")])
            for path in ([ws.path("data", f"mix4_{n}.nc") for n in "abc"], [f"{ng.url}/mix4_{n}.nc" for n in "abc"]):
                r = run(job(ws, "calendar", path), env, expect=3)
                assert "calendar" in r.stderr and "mix4_c.nc" in r.stderr and "mix4_a.nc" in r.stderr, r.stderr
        t.check("local and http: a piece on another calendar is exit 3 naming both files", other_calendar)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
