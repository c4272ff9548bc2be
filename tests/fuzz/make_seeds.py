#!/usr/bin/python3
"""Writes the seed corpora in tests/fuzz/corpus/ (run once; the files are checked in).
Crash inputs found by fuzzing are added next to them by hand, named crash-<what>."""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- job files: the example jobs and a few deliberately wrong ones
def job_seeds():
    for n in sorted(os.listdir(os.path.join(ROOT, "jobs"))):
        if n.endswith(".yaml"):
            with open(os.path.join(ROOT, "jobs", n), "rb") as f:
                put("job_parser", n, f.read())
    put("job_parser", "flow.yaml", "{name: a, inputs: {t: {paths: [x.nc, 's3://b/y.nc'], variable: /g/t}}, "
        "reductions: [{name: m, op: var, over: [time, lat], ddof: 1}], output: {path: o.nc, dtype: double, "
        "overwrite: true}, run: {memory_per_rank: 1GiB}, version: 1}\n")
    put("job_parser", "anchors.yaml", "name: a\ninputs:\n  t: &i {path: x.nc, variable: t}\n  u: *i\n"
        "reductions:\n  - {name: m, input: u, op: mean, over: time}\noutput: {path: o.nc}\n---\n")


# ---- NetCDF-3 headers of each format, made by ncgen from CDL
CDL = """netcdf s {
dimensions: time = UNLIMITED ; lat = 3 ; lon = 4 ; nv = 2 ;
variables:
  double time(time) ; time:units = "days since 2000-01-01" ; time:bounds = "time_bnds" ;
  double time_bnds(time, nv) ;
  float lat(lat) ; lat:units = "degrees_north" ;
  %(type)s tas(time, lat, lon) ; tas:_FillValue = %(fill)s ; tas:scale_factor = 0.01f ; tas:add_offset = 273.15f ;
  int mask(lat, lon) ; mask:valid_range = 0, 1 ;
  :Conventions = "CF-1.8" ; :levels = 1s, 2s, 3s ;
data: time = 0, 1 ; lat = -10, 0, 10 ;
}
"""


def cdf_seeds():
    with tempfile.TemporaryDirectory() as tmp:
        for kind, name, typ, fill in (("classic", "classic.nc", "short", "-32767s"),
                                      ("64-bit-offset", "offset64.nc", "short", "-32767s"),
                                      ("cdf5", "cdf5.nc", "ushort", "65535us")):
            cdl, nc = os.path.join(tmp, "s.cdl"), os.path.join(tmp, name)
            with open(cdl, "w") as f:
                f.write(CDL % {"type": typ, "fill": fill})
            subprocess.run(["ncgen", "-k", kind, "-o", nc, cdl], check=True)
            with open(nc, "rb") as f:
                put("cdf_header", name, f.read())


# ---- InputMeta messages: UBJSON as nlohmann::json::to_ubjson writes it
def ub(v):
    if v is None:
        return b"Z"
    if v is True or v is False:
        return b"T" if v else b"F"
    if isinstance(v, int):
        for tag, fmt, lo, hi in ((b"i", ">b", -128, 127), (b"U", ">B", 0, 255), (b"I", ">h", -2**15, 2**15 - 1),
                                 (b"l", ">i", -2**31, 2**31 - 1), (b"L", ">q", -2**63, 2**63 - 1)):
            if lo <= v <= hi:
                return tag + struct.pack(fmt, v)
    if isinstance(v, float):
        return b"D" + struct.pack(">d", v)
    if isinstance(v, str):
        return b"S" + ub(len(v.encode())) + v.encode()
    if isinstance(v, list):
        return b"[" + b"".join(ub(x) for x in v) + b"]"
    return b"{" + b"".join(key(k) + ub(x) for k, x in v.items()) + b"}"


def key(k):
    return ub(len(k.encode())) + k.encode()


def var(name, dims, shape, typ=8, chunks=(), attrs=()):
    return {"name": name, "dims": dims, "shape": shape, "type": typ, "chunks": list(chunks), "compression": "",
            "attrs": list(attrs)}


def meta_seeds():
    tas = var("tas", ["time", "lat", "lon"], [24, 10, 20], 4, [6, 10, 20], [
        {"name": "_FillValue", "type": 4, "values": [-32767.0]},
        {"name": "scale_factor", "type": 8, "values": [0.01]},
        {"name": "add_offset", "type": 8, "values": [273.15]},
        {"name": "units", "text": "K"}])
    time = {"var": var("time", ["time"], [24], 9), "values": [float(i) for i in range(24)],
            "bounds": [float(i // 2 + i % 2) for i in range(48)], "bounds_name": "time_bnds"}
    m = {"alias": "tas", "kind": "netcdf", "var": tas,
         "parts": [{"path": "/d/a.nc", "format": "netCDF-4", "offset": 0, "length": 12},
                   {"path": "/d/b.nc", "format": "classic", "offset": 12, "length": 12}],
         "coords": [time], "global_attrs": [{"name": "Conventions", "text": "CF-1.8"}]}
    put("input_meta", "packed.ubj", ub(m))
    m2 = dict(m, kind="hdf5", var=var("t", ["dim0"], [5], 9), parts=[], coords=[], global_attrs=[])
    put("input_meta", "plain.ubj", ub(m2))


# ---- decoding: [stored type][attribute count] then per attribute [head][count][doubles]
def decoding_seeds():
    def attr(head, *values):
        return bytes([head, len(values)]) + b"".join(struct.pack("<d", x) for x in values)
    put("decoding", "packed-short", bytes([2, 3]) + attr(0, -32767.0) + attr(2 | 9 << 3, 0.01) + attr(3 | 9 << 3, 273.15))
    put("decoding", "fill-float", bytes([8, 2]) + attr(0 | 8 << 3, 1e20) + attr(1 | 8 << 3, float("nan"), -999.0))
    put("decoding", "zero-scale", bytes([2, 1]) + attr(2 | 8 << 3, 0.0))
    put("decoding", "text-scale", bytes([2, 1, 0x82]))


# ---- calendar: [calendar selector][time value f64][units length][units][job-file date]
def calendar_seeds():
    def seed(which, value, units, date):
        u = units.encode()
        return bytes([which]) + struct.pack("<d", value) + bytes([len(u)]) + u + date.encode()
    put("calendar", "standard-days", seed(0, 36524.25, "days since 1850-01-01 00:00:00", "1991-01-01"))
    put("calendar", "gap-1582", seed(0, -0.5, "hours since 1582-10-15", "1582-10-04T23:59:59.5"))
    put("calendar", "noleap-common-years", seed(3, 2.5, "common_years since 2000-1-1", "2020-02"))
    put("calendar", "360-months", seed(7, 13.0, "months since 0001-01-01", "2001-02-30"))
    put("calendar", "julian-zone", seed(8, 1e6, "seconds since 1900-01-01T00:00:00+05:30", "-0044-03-15"))
    put("calendar", "all-leap-end", seed(5, 59.999999, "minutes since 2000-12-31 23:00", "2000-12-31 12:30"))
    put("calendar", "free-name", seed(0x85, 1.0, "days since 2000-01-01", "360_day"))


if __name__ == "__main__":
    job_seeds()
    cdf_seeds()
    meta_seeds()
    decoding_seeds()
    calendar_seeds()
    print("seeds written under", os.path.join(HERE, "corpus"), file=sys.stderr)
