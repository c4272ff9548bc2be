#!/usr/bin/python3
"""End-to-end tests of the tessera binary, run by ctest (tests/e2e/CMakeLists.txt).

  e2e.py jobs   [--ranks N]  every jobs/*.yaml on its sample data, checked against CDO/NCO/numpy,
                             CF metadata, other readers, and bitwise reproducibility
  e2e.py errors [--ranks N]  bad inputs and CLI behaviour: exit codes, clear messages, no crash,
                             no leftover output

N defaults to TESSERA_RANKS (ctest registers each suite at several rank counts)."""
import glob
import os
import re
import shlex
import shutil
import sys

import netCDF4
import numpy as np

try:
    import yaml
except ImportError:  # not pulled in by the other test dependencies
    sys.exit("e2e: needs PyYAML to read the job files (Debian: apt-get install python3-yaml)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SOURCE_DIR, Workspace, assert_no_crash, describe, ok, run_suites,  # noqa: E402
                     temp_files, tessera, tool)
import oracle  # noqa: E402

CF_METHOD = {"mean": "mean", "min": "minimum", "max": "maximum", "sum": "sum", "var": "variance",
             "std": "standard_deviation"}
CF_NAMES = ("area", "time", "latitude", "longitude")  # names cell_methods may use without a coordinate
GENERATE_RANKS = 2  # sample data is written in parallel, which the tests exercise too


def generate(ws, args):
    """Runs one `# generate:` recipe; its repository-relative paths land in the workspace."""
    ok(tessera(["generate", *shlex.split(args)], GENERATE_RANKS, cwd=ws.root))


def read(path, mode="r"):
    """The whole file, text or ("rb") bytes."""
    with open(path, mode) as f:
        return f.read()


def read_raw(path):
    """{variable: (dtype, dims, attributes, stored values)} without any decoding, for bitwise checks."""
    with netCDF4.Dataset(path) as d:
        d.set_auto_maskandscale(False)
        return {n: (v.dtype, v.dimensions, {a: np.asarray(v.getncattr(a)).tolist() for a in v.ncattrs()},
                    np.asarray(v[...])) for n, v in d.variables.items()}


# ---------------------------------------------------------------------------- jobs


def expected_float_type(inp, requested):
    """output.dtype if given; else float32 for float32 data (or data packed with float32
    scale_factor/add_offset), float64 otherwise."""
    if requested:
        return np.dtype(np.float32 if requested == "float" else np.float64)
    packing = inp.attrs.get("scale_factor", inp.attrs.get("add_offset"))
    t = np.asarray(packing).dtype if packing is not None else inp.dtype
    return np.dtype(np.float32 if t == np.float32 else np.float64)


class JobCase:
    """One example job run in its own workspace, then checked from several angles."""

    def __init__(self, src, ws, ranks):
        self.ws, self.ranks, self.stem = ws, ranks, os.path.splitext(os.path.basename(src))[0]
        self.text = read(src)
        self.spec = yaml.safe_load(self.text)
        self.recipes = re.findall(r"^#\s*generate:\s*(.+?)\s*$", self.text, re.M)
        self.job = ws.path("jobs", os.path.basename(src))
        shutil.copy(src, self.job)
        self.output = os.path.normpath(os.path.join(ws.path("jobs"), self.spec["output"]["path"]))
        self.inputs = {}
        self.scratch = ws.path("oracle")  # reference tools write here, away from Tessera's out/
        os.makedirs(self.scratch)

    def variant(self, suffix, memory=None):
        """A copy of the job writing elsewhere (and with another memory budget), for reruns."""
        spec = yaml.safe_load(self.text)
        spec["output"]["path"] = spec["output"]["path"].replace(".nc", f".{suffix}.nc")
        if memory:
            spec.setdefault("run", {})["memory_per_rank"] = memory
        path = self.job.replace(".yaml", f".{suffix}.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(spec, f, sort_keys=False)
        return path, os.path.normpath(os.path.join(self.ws.path("jobs"), spec["output"]["path"]))

    def generate(self):
        """Makes the sample data the job's recipes describe, and loads it for the references."""
        assert self.recipes, "the job has no '# generate:' line"
        for args in self.recipes:
            generate(self.ws, args)
        for alias, spec in self.spec["inputs"].items():
            self.inputs[alias] = oracle.Input(self.ws.path("jobs"), spec)

    def run(self, job, ranks, output):
        """A run must succeed quietly and publish its output atomically (no temporary file left)."""
        r = tessera(["run", job, "--quiet"], ranks)
        assert_no_crash(r.stdout + r.stderr)
        ok(r)
        assert os.path.isfile(output), f"no output {output}\n" + describe(r)
        assert not temp_files(os.path.dirname(output)), f"temporary files left: {temp_files(os.path.dirname(output))}"

    def input_of(self, red):
        """The reduction's input; `input:` may be left out when the job has one."""
        return self.inputs[red.get("input") or next(iter(self.inputs))]

    def values(self, red):
        """Values and missing-value mask of one output variable against an independent reference."""
        inp, op, over, ddof = self.input_of(red), red["op"], list(red["over"]), int(red.get("ddof", 0))
        with netCDF4.Dataset(self.output) as d:
            out = np.ma.asarray(d[red["name"]][...])
            dtype = d[red["name"]].dtype
        ref, source = oracle.reference(inp, op, over, ddof, self.scratch)
        cross = oracle.numpy_reference(inp, op, over, ddof)
        if op == "count":
            rtol, atol = 0.0, 0.0
        elif dtype == np.float32:
            rtol, atol = 1e-6, 1e-6
        else:
            rtol, atol = 1e-10, 1e-9
        try:
            oracle.compare(out, ref, rtol, atol, cross)
        except AssertionError as e:
            raise AssertionError(f"{red['name']} ({op} over {over}) vs {source}: {e}") from None

    def metadata(self):
        with netCDF4.Dataset(self.output) as d:
            g = {a: d.getncattr(a) for a in d.ncattrs()}
            problems = []
            if g.get("Conventions") != "CF-1.8":
                problems.append(f"global Conventions is {g.get('Conventions')!r}, not 'CF-1.8'")
            if "tessera" not in str(g.get("history", "")):
                problems.append(f"global history {g.get('history')!r} does not mention tessera")
            if not g.get("tessera_version"):
                problems.append("no global tessera_version")
            for red in self.spec["reductions"]:
                if red["name"] not in d.variables:
                    problems.append(f"{red['name']}: missing from the output")
                else:
                    problems += [f"{red['name']}: {p}" for p in self.variable_problems(d, red)]
        assert not problems, "\n".join(problems)

    def variable_problems(self, d, red):
        """What users of one output variable would trip over: type, dims, units, cell_methods,
        coordinates (CF 1.8)."""
        op, over, inp, v = red["op"], list(red["over"]), self.input_of(red), d[red["name"]]
        a = {k: v.getncattr(k) for k in v.ncattrs()}
        coordinates = str(a.get("coordinates", "")).split()
        problems = []
        kept = tuple(x for x in inp.dims if x not in over)
        if v.dimensions != kept:
            problems.append(f"dimensions {v.dimensions}, expected {kept}")
        units = inp.attrs.get("units")
        want_units = "1" if op == "count" else units + "2" if op == "var" else units
        if a.get("units") != want_units:
            problems.append(f"units {a.get('units')!r}, expected {want_units!r}")
        if op == "count":
            if v.dtype != np.int32:
                problems.append(f"count stored as {v.dtype}, expected int32")
        else:
            # The last cell method must name every reduced axis: by the axis itself, by its
            # coordinate's standard_name when the axis name is another variable's dimension,
            # or as `area` for latitude and longitude together (CF 1.8 section 7.3).
            cm = str(a.get("cell_methods", ""))
            names = [n.strip() for n in cm.rsplit(CF_METHOD[op], 1)[0].replace(":", " ").split()] \
                if cm.endswith(": " + CF_METHOD[op]) else []
            covered = set()
            for n in names:
                if n == "area":
                    covered |= {x for x in over if inp.standard_names.get(x) in ("latitude", "longitude")}
                else:
                    covered |= {x for x in over if n in (x, inp.standard_names.get(x))}
            if not set(over) <= covered:
                problems.append(f"cell_methods {cm!r} does not name every reduced axis of {over} "
                                f"with '{CF_METHOD[op]}'")
            if "_FillValue" not in a:
                problems.append("no _FillValue")
            want = expected_float_type(inp, self.spec["output"].get("dtype"))
            if v.dtype != want:
                problems.append(f"type {v.dtype}, expected {want}")
        for c in coordinates:  # a reduced axis: a scalar coordinate whose bounds span the input's
            if c not in d.variables:
                problems.append(f"coordinates names '{c}', which is not in the file")
            elif c in inp.coords and inp.coords[c][1] is not None:
                lo, hi = inp.coords[c][1][0, 0], inp.coords[c][1][-1, 1]
                b = getattr(d[c], "bounds", None)
                got = d[b][:].tolist() if b in d.variables else None
                if got != [lo, hi] or not lo <= float(d[c][...]) <= hi:
                    problems.append(f"scalar coordinate {c} = {d[c][...]} with bounds {got}, expected in [{lo}, {hi}]")
        for dim in kept:  # kept axes carry the input's coordinate values unchanged
            if dim in inp.coords and dim in d.variables and not np.array_equal(d[dim][:], inp.coords[dim][0]):
                problems.append(f"coordinate {dim} differs from the input's")
        return problems

    def cell_method_names(self):
        """CF 7.3: a cell_methods name is a dimension or scalar coordinate of the variable, a
        standard name or 'area'; otherwise readers cannot tell what was reduced, or its extent."""
        problems = []
        with netCDF4.Dataset(self.output) as d:
            for red in self.spec["reductions"]:
                v = d[red["name"]]
                cm = str(getattr(v, "cell_methods", ""))
                known = v.dimensions + tuple(str(getattr(v, "coordinates", "")).split()) + CF_NAMES
                bad = [x for x in re.findall(r"(\S+):", cm) if x not in known]
                if bad:
                    problems.append(f"{red['name']}: cell_methods {cm!r} names {bad}, neither a dimension nor a "
                                    f"scalar coordinate of the variable")
        assert not problems, "\n".join(problems)

    def readers(self):
        tool(["cdo", "-s", "infon", self.output])
        import xarray  # late: slow to import, and only this check needs it
        with xarray.open_dataset(self.output) as ds:
            ds.load()
            missing = [r["name"] for r in self.spec["reductions"] if r["name"] not in ds.data_vars]
            assert not missing, f"xarray does not see {missing}"

    def bitwise(self, job, output, ranks):
        """Reruns `job` (a variant writing `output`) and compares every stored value and attribute."""
        self.run(job, ranks, output)
        base, other = read_raw(self.output), read_raw(output)
        assert base.keys() == other.keys(), f"variables {sorted(base)} vs {sorted(other)}"
        diff = [n for n in base if base[n][:3] != other[n][:3] or not np.array_equal(base[n][3], other[n][3])]
        assert not diff, f"not bitwise identical: {diff}"


CLIMATE_KEYS = {"select", "groupby", "resample", "weights", "where", "min_valid", "anomaly_of", "q", "bins"}
CLIMATE_OPS = {"frequency", "median", "quantile", "histogram"}


def is_climate_job(spec):
    """Jobs using the climate vocabulary are checked by climate.py, with oracles that know it."""
    reds = spec.get("reductions", [])
    return any(CLIMATE_KEYS & set(r) or r.get("op") in CLIMATE_OPS for r in reds) or \
        any("select" in i for i in spec.get("inputs", {}).values())


def jobs_suite(ranks, t):
    sources = sorted(glob.glob(os.path.join(SOURCE_DIR, "jobs", "*.yaml")))
    sources = [s for s in sources if not is_climate_job(yaml.safe_load(read(s)))]
    assert sources, "no jobs/*.yaml"
    for src in sources:
        with Workspace() as ws:
            c = JobCase(src, ws, ranks)
            n = c.stem
            if not t.check(f"{n}: generate sample data on {GENERATE_RANKS} ranks", c.generate):
                continue
            if not t.check(f"{n}: run on {ranks} rank(s)", c.run, c.job, ranks, c.output):
                continue
            for red in c.spec["reductions"]:
                t.check(f"{n}: {red['name']} = {red['op']} over {red['over']} matches the reference", c.values, red)
            t.check(f"{n}: CF metadata", c.metadata)
            t.check(f"{n}: cell_methods names resolvable (CF 1.8 section 7.3)", c.cell_method_names)
            t.check(f"{n}: readable by cdo infon and xarray", c.readers)
            if ranks > 1:
                t.check(f"{n}: 1 rank output bitwise equal to {ranks} ranks", c.bitwise, *c.variant("np1"), 1)
            job, out = c.variant("mem1", memory="1MiB")
            t.check(f"{n}: memory_per_rank 1MiB output bitwise equal to the default on {ranks} rank(s)",
                    c.bitwise, job, out, ranks)


# ---------------------------------------------------------------------------- errors


def job_text(output, path="../data/small.nc", variable="tas", alias="tas",
             reductions=("{name: tas_mean, op: mean, over: [time]}",)):
    """A small job file writing `output`; `path` may be a list (-> paths:)."""
    where = f"paths: [{', '.join(path)}]" if isinstance(path, list) else f"path: {path}"
    lines = ["name: e2e-errors", "inputs:", f"  {alias}:", f"    {where}", f"    variable: {variable}",
             "reductions:", *[f"  - {r}" for r in reductions], "output:", f"  path: {output}"]
    return "\n".join(lines) + "\n"


def line_of(text, fragment):
    """1-based line of the first line containing `fragment`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


class ErrorCases:
    """Each case writes its job to jobs/NAME.yaml and its output to out/NAME.nc, so one
    failure cannot leak into the next case."""

    def __init__(self, ws, ranks):
        self.ws, self.ranks = ws, ranks

    def setup(self):
        generate(self.ws, "data/small.nc --shape 24,10,20 --chunks 6,10,20 --deflate 2 --shuffle --fill-fraction 0.05")
        generate(self.ws, "data/classic.nc --shape 24,10,20 --format classic --fill-fraction 0.05")
        generate(self.ws, "data/narrow.nc --shape 24,8,20")
        for src, dst in (("small.nc", "trunc4.nc"), ("classic.nc", "truncc.nc")):
            shutil.copy(self.ws.path("data", src), self.ws.path("data", dst))
            os.truncate(self.ws.path("data", dst), os.path.getsize(self.ws.path("data", src)) // 2)
        open(self.ws.path("data", "empty.nc"), "w").close()
        # A sound header with garbage in the compressed chunks: found while reading, by one rank.
        generate(self.ws, "data/deflate.nc --shape 120,45,90 --chunks 10,15,30 --deflate 4 --shuffle")
        shutil.copy(self.ws.path("data", "deflate.nc"), self.ws.path("data", "corrupt.nc"))
        with open(self.ws.path("data", "corrupt.nc"), "r+b") as f:
            f.seek(int(os.path.getsize(self.ws.path("data", "deflate.nc")) * 0.7))
            f.write(bytes(range(256)) * 16)

    def job(self, name):
        return self.ws.path("jobs", name + ".yaml")

    def write(self, name, text):
        with open(self.job(name), "w") as f:
            f.write(text)
        return self.job(name)

    def fails(self, name, code, fragments, text=None, validate=True, **fields):
        """`run` fails with `code`, one clear message holding every fragment (str or regex), no crash
        output, no output file (or the existing one untouched) and no temporary file; `validate`
        (metadata only) gives the same code."""
        text = text or job_text(fields.pop("output", f"../out/{name}.nc"), **fields)
        job = self.write(name, text)
        output = re.search(r"^output:\n  path: (.+)$", text, re.M).group(1)  # text may not parse
        out = os.path.normpath(os.path.join(self.ws.path("jobs"), output))
        before = read(out, "rb") if os.path.exists(out) else None
        r = tessera(["run", job, "--quiet"], self.ranks)
        assert_no_crash(r.stdout + r.stderr)
        assert r.returncode == code, f"exit {r.returncode}, expected {code}\n" + describe(r)
        assert r.stderr.count("tessera: error") == 1, "expected the error printed once\n" + describe(r)
        for f in fragments:
            found = re.search(f, r.stderr) if isinstance(f, re.Pattern) else f in r.stderr
            assert found, f"stderr lacks {f.pattern if isinstance(f, re.Pattern) else repr(f)}\n" + describe(r)
        if before is None:
            assert not os.path.exists(out), f"output {out} was written despite the error"
        else:
            assert read(out, "rb") == before, f"existing output {out} was modified"
        if os.path.isdir(os.path.dirname(out)):
            left = temp_files(os.path.dirname(out))
            assert not left, f"temporary files left in {os.path.dirname(out)}: {left}"
        if validate:
            v = tessera(["validate", job], self.ranks)
            assert_no_crash(v.stdout + v.stderr)
            assert v.returncode == code, f"validate exits {v.returncode}, run {code}\n" + describe(v)

    # -- bad inputs
    def missing_file(self):
        self.fails("missing-file", 3, ["missing.nc", "does not exist"], path="../data/missing.nc")

    def empty_glob(self):
        self.fails("empty-glob", 3, ["nothing_*.nc", "no files match"], path="../data/nothing_*.nc")

    def missing_variable(self):
        self.fails("missing-variable", 3, ["'pr'", "small.nc", re.compile(r"\btas\b"), "lat"],
                   variable="pr", alias="air")

    def unknown_dimension(self):
        text = job_text("../out/unknown-dimension.nc", reductions=(
            "{name: tas_mean, op: mean, over: [time]}", "{name: tas_deep, op: mean, over: [time, depth]}"))
        where = f"{self.job('unknown-dimension')}:{line_of(text, 'tas_deep')}:"
        self.fails("unknown-dimension", 2, [where, "'depth'"], text=text)

    def syntax_error(self):
        text = job_text("../out/syntax-error.nc", reductions=("{name: tas_mean, op: mean, over: [time}",))
        where = re.compile(re.escape(self.job("syntax-error")) + rf":{line_of(text, '[time}')}:\d+:")
        self.fails("syntax-error", 2, [where], text=text)

    def unknown_key(self):
        text = job_text("../out/unknown-key.nc", reductions=("{name: tas_mean, op: mean, ovr: [time]}",))
        where = f"{self.job('unknown-key')}:{line_of(text, 'ovr')}:"
        self.fails("unknown-key", 2, [where, "'ovr'", "did you mean 'over'"], text=text)

    def disagreeing_files(self):
        self.fails("disagreeing-files", 3, ["narrow.nc", "'lat'"], path=["../data/small.nc", "../data/narrow.nc"])

    def truncated_netcdf4(self):
        self.fails("truncated-netcdf4", 3, ["trunc4.nc"], path="../data/trunc4.nc")

    def truncated_classic(self):
        # The header is intact, only data is missing: validate (metadata only) need not notice.
        self.fails("truncated-classic", 3, ["truncc.nc"], path="../data/truncc.nc", validate=False)

    def empty_file(self):
        self.fails("empty-file", 3, ["empty.nc"], path="../data/empty.nc")

    def corrupt_chunk(self):
        self.fails("corrupt-chunk", 3, ["corrupt.nc"], path="../data/corrupt.nc", validate=False)

    # -- bad outputs
    def select_outside(self):
        self.fails("select-outside", 2, ["jobs/select-outside.yaml:7", "selects no time step", "2000-01-01"],
                   reductions=('{name: m, op: mean, over: [time], select: {time: ["1990", "1991"]}}',))

    def select_nothing(self):
        self.fails("select-nothing", 2, ["select 'lat'", "selects nothing", "spans"],
                   reductions=('{name: m, op: mean, over: [time], select: {lat: [100, 120]}}',))

    def bad_calendar(self):
        shutil.copy(self.ws.path("data", "small.nc"), self.ws.path("data", "badcal.nc"))
        tool(["ncatted", "-h", "-a", "calendar,time,o,c,martian", self.ws.path("data", "badcal.nc")])
        self.fails("bad-calendar", 3, ["badcal.nc", "'time'", "martian"], path="../data/badcal.nc",
                   reductions=("{name: m, op: mean, over: [time], groupby: month}",))
        # A job that does not need the calendar still runs on that file.
        r = tessera(["run", self.write("calendar-unused", job_text("../out/calendar-unused.nc", path="../data/badcal.nc")),
                     "--quiet"], self.ranks)
        ok(r)

    def no_output_folder(self):
        self.fails("no-output-folder", 4, ["no_such_dir", "does not exist"], output="../no_such_dir/result.nc")

    def readonly_output_folder(self, t):
        ro = self.ws.path("readonly")
        os.makedirs(ro)
        os.chmod(ro, 0o555)
        try:
            open(os.path.join(ro, "probe"), "w").close()
            os.remove(os.path.join(ro, "probe"))
            t.note("unwritable output folder: skipped (running as root, chmod 0555 does not stop writes)")
            return
        except PermissionError:
            pass
        t.check("run: unwritable output folder exits 4 naming it", self.fails, "readonly-output", 4,
                ["readonly", "not writable"], output="../readonly/result.nc")

    def long_output_path(self):
        """Output under a ~280-character path (every name well under NAME_MAX): an ordinary path."""
        folder = self.ws.path("out", "d" * 110, "e" * 110)
        os.makedirs(folder)
        out = os.path.join(folder, "result.nc")
        job = self.write("long-path", job_text(os.path.relpath(out, self.ws.path("jobs"))))
        r = tessera(["run", job, "--quiet"], self.ranks)
        assert_no_crash(r.stdout + r.stderr)
        ok(r)
        assert os.path.isfile(out) and not temp_files(folder), f"no output, or temporary files left in {folder}"

    def long_output_name(self):
        """A 249-character file name is valid (NAME_MAX is 255): written, or one clean exit-4 error."""
        name = "n" * 246 + ".nc"
        r = tessera(["run", self.write("long-name", job_text("../out/" + name)), "--quiet"], self.ranks)
        assert_no_crash(r.stdout + r.stderr)
        assert r.returncode in (0, 4), f"exit {r.returncode}, expected 0 or 4\n" + describe(r)
        if r.returncode == 4:
            assert r.stderr.count("tessera: error") == 1, "expected the error printed once\n" + describe(r)
            assert not os.path.exists(self.ws.path("out", name)), "output written despite the error"
        assert not temp_files(self.ws.path("out")), f"temporary files left: {temp_files(self.ws.path('out'))}"

    def existing_output(self):
        ok(tessera(["run", self.write("existing", job_text("../out/existing.nc")), "--quiet"], self.ranks))
        self.fails("existing", 2, ["existing.nc", "--overwrite"], output="../out/existing.nc")

    def overwrite(self):
        out = self.ws.path("out", "existing.nc")
        if not os.path.exists(out):
            ok(tessera(["run", self.write("existing", job_text("../out/existing.nc")), "--quiet"], self.ranks))
        before = read(out, "rb")
        r = ok(tessera(["run", self.job("existing"), "--quiet", "--overwrite"], self.ranks))
        assert_no_crash(r.stdout + r.stderr)
        assert read(out, "rb") != before, "output not replaced"
        with netCDF4.Dataset(out) as d:
            assert "--overwrite" in d.history, f"history {d.history!r} is not the new run's"
            assert "tas_mean" in d.variables
        assert not temp_files(self.ws.path("out")), f"temporary files left: {temp_files(self.ws.path('out'))}"

    # -- other commands
    def missing_job_file(self):
        r = tessera(["run", self.ws.path("jobs", "nope.yaml")], self.ranks)
        assert r.returncode == 2, describe(r)
        assert "nope.yaml" in r.stderr and r.stderr.count("tessera: error") == 1, describe(r)
        assert_no_crash(r.stderr)

    def validate_good(self):
        job = self.write("good", job_text("../out/good.nc"))
        r = ok(tessera(["validate", job], self.ranks))
        assert "valid" in r.stdout, describe(r)
        assert not os.path.exists(self.ws.path("out", "good.nc")), "validate wrote the output"

    def plan(self):
        job = self.write("plan", job_text("../out/plan.nc"))
        r = ok(tessera(["plan", job, "--ranks", "3"], self.ranks))
        for k in range(3):
            assert r.stdout.count(f"rank {k}: reads") == 1, f"'rank {k}: reads' not printed once\n" + describe(r)
        assert "rank 3:" not in r.stdout, describe(r)

    def inspect(self):
        r = ok(tessera(["inspect", self.ws.path("data", "small.nc")], self.ranks))
        for f in ("dimensions:", "time = 24", "lat = 10", "tas(time=24, lat=10, lon=20)", "chunks(6, 10, 20)",
                  "deflate", "shuffle", "units = \"K\""):
            assert r.stdout.count(f) >= 1, f"inspect output lacks {f!r}\n" + describe(r)
        assert r.stdout.count("dimensions:") == 1, "inspect output printed more than once\n" + describe(r)

    def inspect_missing(self):
        r = tessera(["inspect", self.ws.path("data", "missing.nc")], self.ranks)
        assert r.returncode == 3, describe(r)
        assert "missing.nc" in r.stderr, describe(r)
        assert_no_crash(r.stderr)

    def generate_files(self):
        """generate --files 4 on N ranks into empty folders: every rank's 'already exists?' check
        must come before any rank writes. Repeated, as a race shows only sometimes."""
        for i in range(10):
            folder = self.ws.path(f"generate{i}")
            os.makedirs(folder)
            r = tessera(["generate", "y.nc", "--shape", "8,4,8", "--files", "4"], self.ranks, cwd=folder)
            assert_no_crash(r.stdout + r.stderr)
            assert r.returncode == 0, f"try {i + 1} of 10 failed\n" + describe(r)
            assert sorted(os.listdir(folder)) == [f"y_00{k}.nc" for k in range(4)], os.listdir(folder)

    def help(self):
        r = ok(tessera(["--help"], self.ranks))
        assert r.stdout.count("usage: tessera") == 1, describe(r)
        r = ok(tessera(["run", "--help"], self.ranks))
        assert "--overwrite" in r.stdout and r.stdout.count("usage: tessera run") == 1, describe(r)
        assert "Kokkos" not in r.stdout + r.stderr, "Kokkos took --help as its own\n" + describe(r)
        # --kokkos-* options still reach Kokkos, and Tessera's own parser never sees them.
        r = ok(tessera(["--kokkos-disable-warnings", "run", "--help"], self.ranks))
        assert r.stdout.count("usage: tessera run") == 1, describe(r)

    def unknown_command(self):
        r = tessera(["frobnicate"], self.ranks)
        assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr, describe(r)
        r = tessera(["rn", "job.yaml"], self.ranks)
        assert r.returncode == 2 and "did you mean 'run'" in r.stderr, describe(r)
        assert r.stderr.count("tessera: error") == 1, describe(r)
        assert_no_crash(r.stderr)


def errors_suite(ranks, t):
    with Workspace() as ws:
        e = ErrorCases(ws, ranks)
        if not t.check("errors: generate sample data", e.setup):
            return
        t.check("run: missing input file exits 3 naming it", e.missing_file)
        t.check("run: glob matching nothing exits 3 naming it", e.empty_glob)
        t.check("run: missing variable exits 3 naming it and listing the file's variables", e.missing_variable)
        t.check("run: unknown dimension in 'over' exits 2 with job file:line", e.unknown_dimension)
        t.check("run: YAML syntax error exits 2 with file:line:col", e.syntax_error)
        t.check("run: unknown key exits 2 with 'did you mean'", e.unknown_key)
        t.check("run: files disagreeing on a non-record dimension exit 3 naming the file", e.disagreeing_files)
        t.check("run: truncated NetCDF-4 file exits 3 naming it", e.truncated_netcdf4)
        t.check("run: truncated NetCDF-3 classic file exits 3 naming it", e.truncated_classic)
        t.check("run: zero-length file exits 3 naming it", e.empty_file)
        t.check("run: corrupt compressed chunk exits 3 naming the file", e.corrupt_chunk)
        t.check("run: a time selection outside the data exits 2 with the data's range", e.select_outside)
        t.check("run: a coordinate selection that selects nothing exits 2 with the coordinate's range", e.select_nothing)
        t.check("run: an unknown calendar exits 3 naming file and variable when a reduction needs dates",
                e.bad_calendar)
        t.check("run: missing output folder exits 4 naming it", e.no_output_folder)
        t.check("run: output under a 280-character path is written", e.long_output_path)
        t.check("run: 249-character output file name is written or fails cleanly (exit 4)", e.long_output_name)
        e.readonly_output_folder(t)
        t.check("run: existing output without --overwrite exits 2 and leaves it untouched", e.existing_output)
        t.check("run: existing output with --overwrite is replaced", e.overwrite)
        t.check("run: missing job file exits 2 naming it", e.missing_job_file)
        t.check("validate: a good job exits 0 and writes nothing", e.validate_good)
        t.check("plan --ranks 3: one hyperslab line per rank", e.plan)
        t.check("inspect: dimensions, chunks, compression, attributes", e.inspect)
        t.check("inspect: missing file exits 3 naming it", e.inspect_missing)
        t.check("generate --files 4 into an empty folder succeeds (10 tries)", e.generate_files)
        t.check("--help and run --help exit 0", e.help)
        t.check("unknown command exits 2 with a suggestion", e.unknown_command)


if __name__ == "__main__":
    sys.exit(run_suites(sys.argv, {"jobs": jobs_suite, "errors": errors_suite}, __doc__, "e2e"))
