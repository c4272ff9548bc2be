#!/usr/bin/python3
"""End-to-end tests of the climate vocabulary (selections, groupby/resample, weights, where,
min_valid, quantiles, histograms, anomalies), run by ctest at several rank counts.

  climate.py [--ranks N]   every jobs/*.yaml that uses these keys, on its sample data

Each result is checked against a reference computed here with numpy and cftime from the
job's own description (an implementation independent of Tessera's), and where CDO has the
operator (ymonmean, yseasmean, monmean, yearmean, seasmean, fldmean, sellonlatbox), against CDO
too. Outputs must be bitwise identical at 1 rank and N ranks, and at small memory budgets."""
import glob
import os
import re
import sys

import cftime
import netCDF4
import numpy as np
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, Workspace, ok, run_suites, tessera, tool  # noqa: E402
import oracle  # noqa: E402
from e2e import JobCase, is_climate_job  # noqa: E402

SEASON = {12: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3, 11: 3}


# ---------------------------------------------------------------------------- the reference


class View:
    """The input as the job's `select:` shows it: data (masked float64, time first), coordinates
    {dim: (values, bounds)}, dates (cftime) and the time units."""

    def __init__(self, inp, select):
        # Each file's times decoded with its own units, files ordered by date, then expressed in
        # the earliest file's units (what the output's time axis uses).
        parts = []
        for f in inp.files:
            with netCDF4.Dataset(f) as d:
                v, t = d[inp.var], d[inp.dims[0]]
                v.set_auto_scale(False)
                x = np.ma.asarray(v[:]).astype(np.float64) * np.float64(getattr(v, "scale_factor", 1.0)) \
                    + np.float64(getattr(v, "add_offset", 0.0))
                cal = getattr(t, "calendar", "standard")
                b = d[t.bounds][:] if getattr(t, "bounds", None) in d.variables else None
                parts.append((cftime.num2date(t[:], t.units, cal), x, t.units, cal,
                              None if b is None else cftime.num2date(b, t.units, cal)))
        parts.sort(key=lambda p: p[0][0])
        self.files = [inp.files[0]]
        with netCDF4.Dataset(inp.files[0]) as d:
            cm = getattr(d[inp.var], "cell_measures", "")
        self.cell_measures = cm.split("area:")[1].split()[0] if "area:" in cm else None
        self.units, self.calendar = parts[0][2], parts[0][3]
        self.dims, self.data = list(inp.dims), np.ma.concatenate([p[1] for p in parts], axis=0)
        self.coords = {k: (np.asarray(v[0], dtype=np.float64), None if v[1] is None else np.asarray(v[1], np.float64))
                       for k, v in inp.coords.items()}
        dates = np.concatenate([p[0] for p in parts])
        tb = None if any(p[4] is None for p in parts) else np.concatenate([p[4] for p in parts])
        self.coords[self.dims[0]] = (np.asarray(cftime.date2num(dates, self.units, self.calendar), np.float64),
                                     None if tb is None else np.asarray(cftime.date2num(tb, self.units, self.calendar), np.float64))
        for dim, value in (select or {}).items():
            self.select(dim, value)

    def copy(self):
        v = View.__new__(View)
        v.__dict__.update(self.__dict__)
        v.coords = dict(self.coords)
        return v

    def dates(self):
        return cftime.num2date(self.coords[self.dims[0]][0], self.units, self.calendar)

    def take(self, dim, idx, shift=None):
        ax = self.dims.index(dim)
        self.data = self.data.take(idx, axis=ax)
        vals, bnds = self.coords[dim]
        vals = vals[idx] + (0 if shift is None else shift)
        bnds = None if bnds is None else bnds[idx] + (0 if shift is None else shift[:, None])
        self.coords[dim] = (vals, bnds)

    def select(self, dim, value):
        lo, hi = (value, value) if not isinstance(value, list) else value
        if dim == self.dims[0]:
            # Dates compare field by field: a partial date names its whole period (inclusive).
            def fields(s):
                return tuple(int(x) for x in re.split(r"[-T :]", str(s)) if x)
            a, b = fields(lo), fields(hi)
            keys = [(d.year, d.month, d.day, d.hour, d.minute, d.second) for d in self.dates()]
            idx = [i for i, k in enumerate(keys) if k[:len(a)] >= a and k[:len(b)] <= b]
            self.take(dim, idx)
        elif dim == "lon" and lo != hi:
            vals = self.coords[dim][0]
            key = np.mod(vals - float(lo), 360.0)
            span = np.mod(float(hi) - float(lo), 360.0)
            idx = np.argsort(np.where(key <= span + 1e-9, key, np.inf), kind="stable")[: int((key <= span + 1e-9).sum())]
            shift = 360.0 * np.round((float(lo) + key[idx] - vals[idx]) / 360.0)
            self.take(dim, idx, shift)
        else:
            vals = self.coords[dim][0]
            a, b = sorted((float(lo), float(hi)))
            self.take(dim, np.nonzero((vals >= a - 1e-9) & (vals <= b + 1e-9))[0])


def group_keys(dates, red):
    """(sorted unique keys, key per time step) for groupby / resample."""
    if "groupby" in red:
        g = red["groupby"]
        keys = [d.month if g == "month" else SEASON[d.month] if g == "season" else d.dayofyr if g == "dayofyear"
                else d.year if g == "year" else d.hour for d in dates]
    else:
        r = red["resample"]
        keys = [(d.year, d.month, d.day) if r == "day" else (d.year, d.month) if r == "month" else d.year if r == "year"
                else ((d.year + 1 if d.month == 12 else d.year), SEASON[d.month]) for d in dates]
    return sorted(set(keys)), keys


def area_weights(view):
    lat_b, lon_b = view.coords["lat"][1], view.coords["lon"][1]
    wy = np.abs(np.sin(np.radians(lat_b[:, 1])) - np.sin(np.radians(lat_b[:, 0])))
    wx = np.abs(lon_b[:, 1] - lon_b[:, 0])
    return wy[:, None] * wx[None, :]


def condition(red, x):
    w = red.get("where")
    if not w:
        return np.ones(x.shape, bool)
    (op, v), = w.items()
    return {"gt": lambda: x > v, "ge": lambda: x >= v, "lt": lambda: x < v, "le": lambda: x <= v,
            "between": lambda: (x >= v[0]) & (x <= v[1])}[op]()


def reduce_block(red, x, axes, w=None):
    """One group's statistic over `axes` of a masked float64 block (weights over lat, lon)."""
    op, valid = red["op"], ~np.ma.getmaskarray(x)
    total = np.prod([x.shape[a] for a in axes])
    vals = x.filled(np.nan)
    cond = condition(red, vals) & valid
    nvalid = valid.sum(axis=axes)
    if op == "count":
        out = np.ma.asarray(cond.sum(axis=axes).astype(np.float64))
    elif op == "frequency":
        out = np.ma.masked_where(nvalid == 0, cond.sum(axis=axes) / np.maximum(nvalid, 1))
    elif op in ("median", "quantile"):
        q = [0.5] if op == "median" else red["q"]
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = np.nanquantile(np.moveaxis(vals, axes, tuple(range(len(axes)))).reshape(total, -1), q, axis=0)
        r = r.reshape((len(q),) + tuple(s for i, s in enumerate(x.shape) if i not in axes))
        out = np.ma.masked_invalid(r[0] if op == "median" else r)
    elif op == "histogram":
        e = red["bins"]
        counts = []
        for i in range(len(e) - 1):
            top = (vals <= e[i + 1]) if i == len(e) - 2 else (vals < e[i + 1])
            counts.append(((vals >= e[i]) & top & valid).sum(axis=axes))
        out = np.ma.asarray(np.stack(counts, axis=-1).astype(np.float64))
    else:
        m = np.ma.masked_where(~cond, vals)
        if w is not None:
            wb = np.broadcast_to(w, m.shape)
            ws = np.ma.masked_where(np.ma.getmaskarray(m), wb)
            sw = ws.sum(axis=axes)
            s = (ws * m).sum(axis=axes)
            if op == "sum":
                out = s
            elif op == "mean":
                out = s / sw
            else:
                mean = s / sw
                mm = np.expand_dims(mean, axes) if np.ndim(mean) else mean
                var = (ws * (m - mm) ** 2).sum(axis=axes) / sw
                out = var if op == "var" else np.sqrt(var)
        else:
            ddof = int(red.get("ddof", 0))
            out = {"mean": lambda: m.mean(axis=axes), "sum": lambda: m.sum(axis=axes), "min": lambda: m.min(axis=axes),
                   "max": lambda: m.max(axis=axes), "var": lambda: m.var(axis=axes, ddof=ddof),
                   "std": lambda: m.std(axis=axes, ddof=ddof)}[op]()
            if op in ("var", "std"):
                out = np.ma.masked_where(m.count(axis=axes) <= ddof, out)
        out = np.ma.asarray(out)
    mv = red.get("min_valid")
    if mv:
        short = nvalid < mv * total
        if op == "quantile":
            short = np.broadcast_to(short, out.shape)
        out = np.ma.masked_where(short, out)
    return np.ma.asarray(out)


def file_weights(inputs, red, view):
    """Weights read from a file: cell_measures' variable, another input's variable, or a variable
    of the input's file (jobs using these select no lat/lon sub-range)."""
    name = view.cell_measures if red["weights"] == "area" else red["weights"]
    path = view.files[0]
    if name in inputs:
        path, name = inputs[name].files[0], inputs[name].var
    with netCDF4.Dataset(path) as d:
        return np.asarray(d[name][:], np.float64)


def reference(job_reds, red, view, case_inputs=None):
    """The reduction as numpy computes it on the view (recursively for anomaly bases)."""
    v = view.copy()
    if "select" in red:
        for dim, value in red["select"].items():
            v.select(dim, value)
    x = v.data
    if "anomaly_of" in red:
        base_red = next(r for r in job_reds if r["name"] == red["anomaly_of"])
        base = reference(job_reds, base_red, view, case_inputs)
        # The base's cell for each element: its group along time (if grouped), kept axes as they are.
        if "groupby" in base_red or "resample" in base_red:
            bkeys, bk = group_keys(bv_dates(base_red, view), base_red)
            _, keys = group_keys(v.dates(), base_red)
            gi = np.array([bkeys.index(k) if k in bkeys else -1 for k in keys])
            b = np.ma.asarray(base)[np.maximum(gi, 0)]
            b = np.ma.masked_where(np.broadcast_to((gi < 0)[:, None, None], b.shape), b)
        else:
            b = base
        x = x - b
    over = list(red["over"])
    axes = tuple(v.dims.index(d) for d in over if d != v.dims[0] or not ("groupby" in red or "resample" in red))
    w = None
    if red.get("weights"):
        w = file_weights(case_inputs, red, v) if (red["weights"] != "area" or v.cell_measures) else area_weights(v)
        w = w[None, :, :]
    if "groupby" not in red and "resample" not in red:
        return reduce_block(red, x, axes, w)
    keys, per_step = group_keys(v.dates(), red)
    t_axes = tuple(sorted(set(axes) | {0}))
    out = []
    for k in keys:
        idx = [i for i, kk in enumerate(per_step) if kk == k]
        out.append(reduce_block(red, x[idx], t_axes, w))
    r = np.ma.stack(out, axis=0)
    if red["op"] == "quantile":
        r = np.moveaxis(r, 0, 1)  # quantile first, then the groups
    return r


def bv_dates(base_red, view):
    v = view.copy()
    for dim, value in base_red.get("select", {}).items():
        v.select(dim, value)
    return v.dates()


# ---------------------------------------------------------------------------- CDO cross-checks


def cdo_reference(case, red, inp_files, view_select):
    """CDO's answer for the reductions it has an operator for, else None."""
    over, op = list(red["over"]), red["op"]
    keys = set(red) - {"name", "op", "over", "input"}
    if view_select and set(view_select) - {"lat", "lon", "time"}:
        return None
    pre = []
    if view_select and "time" in view_select:
        a, b = view_select["time"]
        pre = [f"-seldate,{a},{b}T23:59:59"]
        if len(inp_files) > 1:
            pre.append("-mergetime")
    elif len(inp_files) > 1:
        pre.append("-mergetime")
    if view_select and ("lat" in view_select or "lon" in view_select):
        lon = view_select.get("lon", [0, 360])
        lat = view_select.get("lat", [-90, 90])
        pre = [f"-sellonlatbox,{lon[0]},{lon[1]},{lat[0]},{lat[1]}"] + pre
    # dayofyear is xarray's (Mar 1 is day 61 in leap years): CDO's ydaymean groups leap years
    # otherwise, so it is checked against numpy/cftime only.
    table = {("mean", "month"): "ymonmean", ("std", "month"): "ymonstd", ("mean", "season"): "yseasmean"}
    rtable = {("mean", "day"): "daymean", ("mean", "month"): "monmean", ("mean", "year"): "yearmean", ("mean", "season"): "seasmean",
              ("max", "season"): "seasmax"}
    if over == ["time"] and keys == {"groupby"} and (op, red["groupby"]) in table:
        oper = table[(op, red["groupby"])]
    elif over == ["time"] and keys == {"resample"} and (op, red["resample"]) in rtable:
        oper = rtable[(op, red["resample"])]
    elif sorted(over) == ["lat", "lon"] and keys == {"weights"} and red["weights"] == "area" and op == "mean" \
            and not case_has_cell_measures(case, red):
        oper = "fldmean"
    elif over == ["time"] and not keys and op == "mean":
        oper = "timmean"
    else:
        return None
    out = os.path.join(case.scratch, f"cdo_{red['name']}.nc")
    tool(["cdo", "-s", "-O", "-b", "F64", oper, *pre, *inp_files, out])
    with netCDF4.Dataset(out) as d:
        r = np.ma.asarray(d[case.input_of(red).var][:]).astype(np.float64)
    if oper == "fldmean":
        r = r[:, 0, 0]
    elif oper == "timmean":
        r = r[0]
    return r, "cdo " + oper


def case_has_cell_measures(case, red):
    with netCDF4.Dataset(case.input_of(red).files[0]) as d:
        return hasattr(d[case.input_of(red).var], "cell_measures")


def check_values(case, red, view):
    with netCDF4.Dataset(case.output) as d:
        out = np.ma.asarray(d[red["name"]][...])
        dtype = d[red["name"]].dtype
    ref = reference(case.spec["reductions"], red, view, case.inputs)
    exact = red["op"] in ("count", "histogram")
    rtol, atol = (0.0, 0.0) if exact else (2e-6, 2e-5) if dtype == np.float32 else (1e-9, 1e-9)
    oracle.compare(out, ref, rtol, atol)
    inp_spec = next(iter(case.spec["inputs"].values()))
    cdo = cdo_reference(case, red, case.input_of(red).files, inp_spec.get("select"))
    if cdo is not None:
        r, source = cdo
        # CDO's gridarea takes cell edges as great circles, Tessera (and the numpy reference)
        # the exact areas between parallels: ~0.2% apart per cell, ~2e-5 in a global mean.
        rtol = 5e-5 if source == "cdo fldmean" else 1e-5
        try:
            oracle.compare(out, r, rtol, 1e-4)
        except AssertionError as e:
            raise AssertionError(f"vs {source}: {e}") from None


def check_cf(case):
    """Grouped time axes carry CF bounds (resample) or climatology bounds (groupby), with the
    matching cell_methods; everything opens in xarray with its time decoded."""
    problems = []
    with netCDF4.Dataset(case.output) as d:
        for red in case.spec["reductions"]:
            v = d[red["name"]]
            cm = str(getattr(v, "cell_methods", ""))
            if "groupby" in red or "resample" in red:
                t = d[v.dimensions[1 if red["op"] == "quantile" else 0]]
                if "groupby" in red:
                    if "within" not in cm or "over" not in cm:
                        problems.append(f"{red['name']}: cell_methods {cm!r} lacks 'within ... over ...'")
                    cb = getattr(t, "climatology", None)
                    if cb not in d.variables:
                        problems.append(f"{red['name']}: time axis {t.name} has no climatology bounds")
                    else:
                        b = d[cb][:]
                        if not np.all(b[:, 0] <= t[:]) or not np.all(t[:] <= b[:, 1]):
                            problems.append(f"{red['name']}: climatology bounds do not enclose the time values")
                else:
                    tb = getattr(t, "bounds", None)
                    if tb not in d.variables:
                        problems.append(f"{red['name']}: resampled axis {t.name} has no bounds")
                    else:
                        b = d[tb][:]
                        if not (np.all(b[:-1, 1] <= b[1:, 0]) and np.all(b[:, 0] < b[:, 1])):
                            problems.append(f"{red['name']}: time bounds are not increasing periods")
                if getattr(t, "calendar", None) is None or "since" not in getattr(t, "units", ""):
                    problems.append(f"{red['name']}: time axis {t.name} lost its units/calendar")
    assert not problems, "\n".join(problems)
    import xarray
    with xarray.open_dataset(case.output, use_cftime=True) as ds:
        ds.load()
    tool(["cdo", "-s", "infon", case.output])


def check_files_skipped(case, view):
    """The plan reads only the files the time selection touches."""
    r = tessera(["plan", case.job, "--ranks", "2"], 1)
    ok(r)
    dates = view.dates()
    touched = 0
    for f in case.input_of(case.spec["reductions"][0]).files:
        with netCDF4.Dataset(f) as d:
            t = d["time"]
            fd = cftime.num2date(t[:], t.units, getattr(t, "calendar", "standard"))
            touched += bool(fd[0] <= dates[-1] and fd[-1] >= dates[0])
    want = f"{touched} file" + ("s" if touched > 1 else "")
    assert want in r.stdout, f"plan does not say {want!r}:\n{r.stdout}"


def check_passes(case):
    """An anomaly job reads its input once per level of anomaly_of, and the plan says so."""
    r = tessera(["plan", case.job, "--ranks", "3"], 1)
    ok(r)
    assert "pass 2 of 2 (reads the input again" in r.stdout, f"plan does not show the second pass:\n{r.stdout}"
    assert "of anomalies from" in r.stdout, f"plan does not name the anomaly base:\n{r.stdout}"


def climate_suite(ranks, t):
    sources = sorted(glob.glob(os.path.join(SOURCE_DIR, "jobs", "*.yaml")))
    sources = [s for s in sources if is_climate_job(yaml.safe_load(open(s)))]
    assert sources, "no climate jobs in jobs/"
    for src in sources:
        with Workspace() as ws:
            c = JobCase(src, ws, ranks)
            n = c.stem
            if not t.check(f"{n}: generate sample data", c.generate):
                continue
            if not t.check(f"{n}: run on {ranks} rank(s)", c.run, c.job, ranks, c.output):
                continue
            inp_spec = next(iter(c.spec["inputs"].values()))
            inp = next(iter(c.inputs.values()))
            view = View(inp, inp_spec.get("select"))
            for red in c.spec["reductions"]:
                extra = {k: red[k] for k in red if k not in ("name", "op", "over")}
                t.check(f"{n}: {red['name']} = {red['op']} over {red['over']} {extra} matches numpy/cftime (and CDO)",
                        check_values, c, red, view)
            t.check(f"{n}: CF time axes, bounds and cell_methods; xarray and cdo read it", check_cf, c)
            if any("anomaly_of" in r for r in c.spec["reductions"]):
                t.check(f"{n}: tessera plan shows the anomaly pass", check_passes, c)
            if "time" in (inp_spec.get("select") or {}) and len(inp.files) > 1:
                t.check(f"{n}: files outside the time selection are not read (tessera plan)", check_files_skipped, c, view)
            if ranks > 1:
                t.check(f"{n}: 1 rank output bitwise equal to {ranks} ranks", c.bitwise, *c.variant("np1"), 1)
            job, out = c.variant("mem1", memory="1MiB")
            t.check(f"{n}: memory_per_rank 1MiB output bitwise equal on {ranks} rank(s)", c.bitwise, job, out, ranks)


if __name__ == "__main__":
    sys.exit(run_suites(sys.argv, {None: climate_suite}, __doc__, "climate jobs"))
