"""Reference results computed without Tessera: CDO for statistics over time, NCO (ncwa,
unweighted) for means/extremes over lat+lon, numpy on the decoded arrays for the rest.
Inputs are decoded in float64 so the reference is more precise than Tessera's float output."""
import glob
import os

import netCDF4
import numpy as np

from harness import tool

CDO_OVER_TIME = {("mean", 0): "timmean", ("min", 0): "timmin", ("max", 0): "timmax", ("sum", 0): "timsum",
                 ("var", 0): "timvar", ("var", 1): "timvar1", ("std", 0): "timstd", ("std", 1): "timstd1"}
NCO_OVER_SPACE = {"mean": "avg", "min": "min", "max": "max", "sum": "ttl"}


class Input:
    """One job input as a reference sees it: its files in time order, the decoded data and
    coords {dim: (values, bounds or None)}."""

    def __init__(self, job_dir, spec):
        patterns = spec["paths"] if "paths" in spec else [spec["path"]]
        files = sorted({f for p in patterns for f in glob.glob(os.path.join(job_dir, p))})
        assert files, f"no input files for {patterns} under {job_dir}"
        # CDO and NCO name a root-level HDF5 dataset (`/tas`) without its slash.
        self.var = spec["variable"].lstrip("/") if spec["variable"].count("/") == 1 else spec["variable"]

        def first_time(f):
            with netCDF4.Dataset(f) as d:
                return float(d[d[self.var].dimensions[0]][0])

        self.files = sorted(files, key=first_time)
        parts, times = [], []
        for f in self.files:
            with netCDF4.Dataset(f) as d:
                v = d[self.var]
                v.set_auto_scale(False)  # keep the mask from _FillValue, unpack below in float64
                raw = v[:]
                parts.append(np.ma.asarray(raw).astype(np.float64) * np.float64(getattr(v, "scale_factor", 1.0))
                             + np.float64(getattr(v, "add_offset", 0.0)))
                self.dims, self.dtype = list(v.dimensions), v.dtype
                self.attrs = {a: v.getncattr(a) for a in v.ncattrs()}
                times.append(_coordinate(d, self.dims[0]))
                if f == self.files[0]:
                    self.coords = {n: _coordinate(d, n) for n in self.dims[1:] if n in d.variables}
                    self.standard_names = {n: getattr(d[n], "standard_name", None) for n in self.dims
                                           if n in d.variables}
        self.data = np.ma.concatenate(parts, axis=0)
        if all(t is not None for t in times):  # the record axis: values and bounds concatenated
            bounds = [t[1] for t in times]
            self.coords[self.dims[0]] = (np.concatenate([t[0] for t in times]),
                                         np.concatenate(bounds) if all(b is not None for b in bounds) else None)

    def axes(self, over):
        """Axis numbers of the named dimensions."""
        return tuple(self.dims.index(d) for d in over)


def _coordinate(d, dim):
    """(values, bounds or None) of the coordinate variable of `dim`, or None."""
    if dim not in d.variables:
        return None
    c = d[dim]
    b = getattr(c, "bounds", None)
    return c[:].data, (d[b][:].data if b in d.variables else None)


def numpy_reference(inp, op, over, ddof=0):
    """The statistic by numpy on the masked float64 array (masked where no valid value)."""
    x, ax = inp.data, inp.axes(over)
    if op == "count":
        return np.asarray(x.count(axis=ax))
    if op in ("var", "std"):
        r = getattr(x, op)(axis=ax, ddof=ddof)
        n = x.count(axis=ax)
        return np.ma.masked_where(n <= ddof, r)  # numpy returns inf/nan there; CF wants missing
    return np.ma.asarray(getattr(x, op)(axis=ax))


def _read(path, var):
    with netCDF4.Dataset(path) as d:
        return np.ma.asarray(d[var][:]).astype(np.float64)


def reference(inp, op, over, ddof, tmp):
    """(reference array, which tool made it) for one reduction."""
    dims = inp.dims
    if op != "count" and over == dims[:1] and (op, ddof) in CDO_OVER_TIME:
        out = os.path.join(tmp, "cdo.nc")
        src = ["-mergetime", *inp.files] if len(inp.files) > 1 else inp.files
        tool(["cdo", "-s", "-O", "-b", "F64", CDO_OVER_TIME[(op, ddof)], f"-selname,{inp.var}", *src, out])
        return _read(out, inp.var)[0], "cdo " + CDO_OVER_TIME[(op, ddof)]
    if op in NCO_OVER_SPACE and sorted(over) == sorted(dims[1:]) and len(dims) == 3:
        parts = []
        for i, f in enumerate(inp.files):  # the files have no record dimension to concatenate on
            out = os.path.join(tmp, f"ncwa{i}.nc")
            tool(["ncwa", "-O", "--dbl", "-a", ",".join(over), "-y", NCO_OVER_SPACE[op], "-v", inp.var, f, out])
            parts.append(_read(out, inp.var))
        return np.ma.concatenate(parts), "ncwa -y " + NCO_OVER_SPACE[op]
    if op == "mean" and over == dims[-1:] and len(dims) == 3:
        out = os.path.join(tmp, "zon.nc")
        src = ["-mergetime", *inp.files] if len(inp.files) > 1 else inp.files
        tool(["cdo", "-s", "-O", "-b", "F64", "zonmean", f"-selname,{inp.var}", *src, out])
        return _read(out, inp.var)[..., 0], "cdo zonmean"
    return numpy_reference(inp, op, over, ddof), "numpy"


def compare(out, ref, rtol, atol, cross=None):
    """Asserts equal shapes, identical masks and |out - ref| <= atol + rtol*|ref|. `cross` (the
    numpy result) is quoted at the worst point to tell a Tessera error from an oracle quirk."""
    out, ref = np.ma.asarray(out), np.ma.asarray(ref)
    assert out.shape == ref.shape, f"shape {out.shape}, reference {ref.shape}"
    om, rm = np.ma.getmaskarray(out), np.ma.getmaskarray(ref)
    if not np.array_equal(om, rm):
        bad = np.argwhere(om != rm)
        i = tuple(bad[0])
        raise AssertionError(f"masks differ at {len(bad)} of {om.size} points; first {i}: output "
                             f"{'missing' if om[i] else out.data[i]}, reference {'missing' if rm[i] else ref.data[i]}")
    o, r = out.filled(0).astype(np.float64), ref.filled(0).astype(np.float64)
    assert np.all(np.isfinite(o)), "non-finite value at an unmasked point"
    err = np.abs(o - r) - (atol + rtol * np.abs(r))
    if err.size and err.max() > 0:
        i = np.unravel_index(np.argmax(err), err.shape)
        n_bad = int((err > 0).sum())
        extra = f", numpy {np.ma.asarray(cross)[i]!r}" if cross is not None else ""
        raise AssertionError(f"{n_bad} of {err.size} values out of tolerance (rtol {rtol}, atol {atol}); worst at "
                             f"{tuple(int(k) for k in i)}: output {o[i]!r}, reference {r[i]!r}{extra}")
