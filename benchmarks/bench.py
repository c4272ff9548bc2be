#!/usr/bin/python3
"""Tessera against CDO, NCO and xarray+Dask on the same files, in the same run.

Generates the datasets with `tessera generate`, warms the page cache (each file dropped from it
and read back once, as data read from disk is cached), then runs every tool of a
case in turn (A B C, B C A, C A B, ...) for --reps repetitions and reports medians, the ratio of Tessera
on 2 ranks to each tool (time and peak resident memory, the largest process of its tree). The
floor is `dd` of the same bytes from the page cache; Tessera's own read and read+compute phases
come from its --report.

Cases (--cases): timmean, timstd, deflate, classic, multifile (time mean/std against CDO, NCO,
xarray+Dask); ymonmean (groupby month against cdo ymonmean, xarray groupby); fldmean
(area-weighted global mean series against cdo fldmean, xarray weighted); quantile (90th
percentile of one year against numpy's through xarray); startup (a tiny job against an empty MPI
program compiled here with mpicc, both `mpirun -n 2`); memscale (the same job on a dataset and
one 4x larger, same memory_per_rank: peak RSS should not grow).

  /usr/bin/python3 benchmarks/bench.py            # ~3 GB float32 2920x360x720 (minutes)
  /usr/bin/python3 benchmarks/bench.py --small    # 365x180x360 quick look

Writes DIR/results.csv, DIR/results.md and DIR/results.png (DIR: --out, default benchmarks/results).
"""
import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_pml": "ob1", "OMPI_MCA_btl": "self,vader,tcp",
}


def run(cmd, env=None, cwd=None):
    """Runs cmd; returns (wall seconds, peak RSS in MiB of the largest process in its tree, user+system CPU
    seconds of the tree: less sensitive than wall time to other load on a shared machine)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({code}):\n{err}")
    return wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime


def job_file(path, inputs, reductions, out, memory="256MiB"):
    """reductions: (name, op, over) or (name, op, over, extra YAML flow keys such as 'groupby: month')."""
    with open(path, "w") as f:
        f.write(f"name: bench\ninputs:\n  tas:\n    path: {inputs}\n    variable: tas\nreductions:\n")
        for name, op, over, *extra in reductions:
            more = "".join(f", {e}" for e in extra)
            f.write(f"  - {{name: {name}, op: {op}, over: [{', '.join(over)}]{more}}}\n")
        f.write(f"output:\n  path: {out}\n  overwrite: true\nrun:\n  memory_per_rank: {memory}\n")


def xarray_script(path, files, op):
    """op: a DataArray method reduced over time, or an expression of `da` (the tas DataArray) and `ds`."""
    expr = op if "(" in op else f"da.{op}('time')"
    with open(path, "w") as f:
        f.write(
            "import sys, numpy as np, xarray as xr\n"
            f"ds = xr.open_mfdataset({files!r}, chunks={{'time': 100}}, combine='by_coords') if len({files!r}) > 1 "
            f"else xr.open_dataset({files[0]!r}, chunks={{'time': 100}})\n"
            "da = ds.tas\n"
            f"r = {expr}\n"
            "r.to_netcdf(sys.argv[1])\n")


# Cell areas from the latitude bounds, as Tessera's `weights: area` (regular longitudes: a constant factor).
XR_AREA = "np.sin(np.deg2rad(ds.lat_bnds[:, 1])) - np.sin(np.deg2rad(ds.lat_bnds[:, 0]))"
EMPTY_MPI = "#include <mpi.h>\nint main(int argc, char** argv) { MPI_Init(&argc, &argv); MPI_Finalize(); return 0; }\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="365x180x360 instead of 2920x360x720")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--workdir", help="where datasets go (default: a temporary folder, removed after)")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    ap.add_argument("--tessera", default=os.path.join(ROOT, "build", "src", "tessera"))
    ap.add_argument("--cases", default="timmean,timstd,deflate,classic,multifile,ymonmean,fldmean,quantile,startup,"
                                       "memscale")
    args = ap.parse_args()

    for tool in ("cdo", "ncra", "dd", "mpirun", "mpicc"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} not found (install cdo nco openmpi-bin)")
    env = dict(os.environ, **MPI_ENV)
    shape = "365,180,360" if args.small else "2920,360,720"
    nt = int(shape.split(",")[0])
    work = args.workdir or tempfile.mkdtemp(prefix="tessera-bench-")
    os.makedirs(work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    T = args.tessera
    gen = ["mpirun", "-n", "2", T, "generate", "--shape", shape, "--overwrite"]
    chunks = "8,180,360" if args.small else "8,360,720"
    data = {
        "nc4": os.path.join(work, "tas.nc"),
        "deflate": os.path.join(work, "tas_deflate.nc"),
        "classic": os.path.join(work, "tas_classic.nc"),
        "multifile": os.path.join(work, "tas_year.nc"),
    }
    cases = args.cases.split(",")
    print(f"bench: generating {shape} datasets in {work}", flush=True)
    if not os.path.exists(data["nc4"]):
        subprocess.run(gen + [data["nc4"], "--chunks", chunks], env=env, check=True, stdout=subprocess.DEVNULL)
    if "deflate" in cases and not os.path.exists(data["deflate"]):
        subprocess.run(gen + [data["deflate"], "--chunks", chunks, "--deflate", "1", "--shuffle"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    if "classic" in cases and not os.path.exists(data["classic"]):
        subprocess.run(gen + [data["classic"], "--format", "classic"], env=env, check=True, stdout=subprocess.DEVNULL)
    years = max(4, nt // 365)  # by year; the small set is split in four so it is still multi-file
    year_files = [os.path.join(work, f"tas_year_{i:03d}.nc") for i in range(years)]
    if "multifile" in cases and not os.path.exists(year_files[0]):
        subprocess.run(gen + [data["multifile"], "--files", str(years), "--chunks", chunks], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    # Memory scaling: a quarter of the time steps; the 4x larger dataset is tas.nc itself.
    quarter = os.path.join(work, "tas_quarter.nc")
    if "memscale" in cases and not os.path.exists(quarter):
        qshape = ",".join([str(nt // 4)] + shape.split(",")[1:])
        subprocess.run(["mpirun", "-n", "2", T, "generate", "--shape", qshape, "--overwrite", quarter, "--chunks", chunks],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    tiny = os.path.join(work, "tas_tiny.nc")
    empty_mpi = os.path.join(work, "empty_mpi")
    if "startup" in cases:
        if not os.path.exists(tiny):
            subprocess.run(["mpirun", "-n", "2", T, "generate", "--shape", "16,18,36", "--overwrite", tiny], env=env,
                           check=True, stdout=subprocess.DEVNULL)
        with open(empty_mpi + ".c", "w") as fh:
            fh.write(EMPTY_MPI)
        subprocess.run(["mpicc", "-O2", "-o", empty_mpi, empty_mpi + ".c"], check=True)

    out = os.path.join(work, "out")
    os.makedirs(out, exist_ok=True)

    def tessera(files, reductions, ranks, tag, memory="256MiB"):
        job = os.path.join(work, f"job_{tag}.yaml")
        inputs = files if isinstance(files, str) else os.path.join(work, "tas_year_*.nc")
        job_file(job, inputs, reductions, os.path.join(out, f"tessera_{tag}.nc"), memory)
        report = os.path.join(out, f"report_{tag}_{ranks}.json")
        return ["mpirun", "-n", str(ranks), T, "run", job, "--quiet", "--report", report], report

    def xr(files, op, tag):
        script = os.path.join(work, f"xr_{tag}.py")
        xarray_script(script, files, op)
        return ["/usr/bin/python3", script, os.path.join(out, f"xr_{tag}.nc")]

    # case -> list of (tool, command, tessera report or None); ref: the Tessera run ratios refer to
    nbytes = os.path.getsize(data["nc4"])
    plan = {}
    ref_of = {}
    if "timmean" in cases:
        f = data["nc4"]
        t1, r1 = tessera(f, [("m", "mean", ["time"])], 1, "mean")
        t2, r2 = tessera(f, [("m", "mean", ["time"])], 2, "mean")
        plan["time mean (NetCDF-4)"] = [
            ("tessera -n 1", t1, r1), ("tessera -n 2", t2, r2),
            ("cdo timmean", ["cdo", "-O", "-s", "timmean", f, os.path.join(out, "cdo_mean.nc")], None),
            ("nco ncra", ["ncra", "-O", f, os.path.join(out, "ncra_mean.nc")], None),
            ("xarray+dask", xr([f], "mean", "mean"), None),
            ("dd (floor)", ["dd", f"if={f}", "of=/dev/null", "bs=16M"], None)]
    if "timstd" in cases:
        f = data["nc4"]
        t2, r2 = tessera(f, [("s", "std", ["time"])], 2, "std")
        plan["time std (NetCDF-4)"] = [
            ("tessera -n 2", t2, r2),
            ("cdo timstd", ["cdo", "-O", "-s", "timstd", f, os.path.join(out, "cdo_std.nc")], None),
            ("xarray+dask", xr([f], "std", "std"), None)]
    if "deflate" in cases:
        f = data["deflate"]
        t1, r1 = tessera(f, [("m", "mean", ["time"])], 1, "defl")
        t2, r2 = tessera(f, [("m", "mean", ["time"])], 2, "defl")
        plan["time mean (deflate+shuffle)"] = [
            ("tessera -n 1", t1, r1), ("tessera -n 2", t2, r2),
            ("cdo timmean", ["cdo", "-O", "-s", "timmean", f, os.path.join(out, "cdo_defl.nc")], None),
            ("nco ncra", ["ncra", "-O", f, os.path.join(out, "ncra_defl.nc")], None)]
    if "classic" in cases:
        f = data["classic"]
        t2, r2 = tessera(f, [("m", "mean", ["time"])], 2, "classic")
        plan["time mean (NetCDF-3 classic)"] = [
            ("tessera -n 2", t2, r2),
            ("cdo timmean", ["cdo", "-O", "-s", "timmean", f, os.path.join(out, "cdo_classic.nc")], None),
            ("nco ncra", ["ncra", "-O", f, os.path.join(out, "ncra_classic.nc")], None)]
    if "multifile" in cases:
        t2, r2 = tessera(year_files, [("m", "mean", ["time"])], 2, "multi")
        plan[f"time mean ({years} files)"] = [
            ("tessera -n 2", t2, r2),
            ("cdo timmean", ["cdo", "-O", "-s", "timmean", "-cat", " ".join(year_files),
                             os.path.join(out, "cdo_multi.nc")], None),
            ("nco ncra", ["ncra", "-O"] + year_files + [os.path.join(out, "ncra_multi.nc")], None),
            ("xarray+dask", xr(year_files, "mean", "multi"), None)]

    if "ymonmean" in cases:
        f = data["nc4"]
        t2, r2 = tessera(f, [("m", "mean", ["time"], "groupby: month")], 2, "ymon")
        plan["monthly climatology"] = [
            ("tessera -n 2", t2, r2),
            ("cdo ymonmean", ["cdo", "-O", "-s", "ymonmean", f, os.path.join(out, "cdo_ymon.nc")], None),
            ("xarray+dask", xr([f], "da.groupby('time.month').mean('time')", "ymon"), None)]
    if "fldmean" in cases:
        f = data["nc4"]
        t2, r2 = tessera(f, [("g", "mean", ["lat", "lon"], "weights: area")], 2, "fld")
        plan["area-weighted global mean"] = [
            ("tessera -n 2", t2, r2),
            ("cdo fldmean", ["cdo", "-O", "-s", "fldmean", f, os.path.join(out, "cdo_fld.nc")], None),
            ("xarray+dask", xr([f], f"da.weighted({XR_AREA}.load()).mean(('lat', 'lon'))", "fld"), None)]
    if "quantile" in cases:
        # The 90th percentile of the first year per cell; numpy's quantile (through xarray) is the peer:
        # CDO's timpctl needs timmin/timmax files and bins its values (not exact).
        f = data["nc4"]
        t2, r2 = tessera(f, [("q", "quantile", ["time"], "q: [0.9]", "select: {time: ['2000-01-01', '2000-12-31']}")],
                         2, "pct")
        plan["90th percentile (1 year)"] = [
            ("tessera -n 2", t2, r2),
            ("xarray (numpy)", ["/usr/bin/python3", "-c",
                                "import sys, xarray as xr; ds = xr.open_dataset(sys.argv[1]); "
                                "ds.tas.sel(time=slice('2000-01-01', '2000-12-31')).load()"
                                ".quantile(0.9, dim='time').to_netcdf(sys.argv[2])",
                                f, os.path.join(out, "xr_pct.nc")], None)]
    if "startup" in cases:
        t2, r2 = tessera(tiny, [("m", "mean", ["time"])], 2, "tiny")
        plan["start-up (tiny job)"] = [
            ("tessera -n 2", t2, r2),
            ("empty MPI program -n 2", ["mpirun", "-n", "2", empty_mpi], None)]
    if "memscale" in cases:
        memory = "8MiB" if args.small else "64MiB"  # below a rank's share of the 1x data: same tiles
        t1, r1 = tessera(quarter, [("m", "mean", ["time"])], 2, "mem1", memory)
        t4, r4 = tessera(data["nc4"], [("m", "mean", ["time"])], 2, "mem4", memory)
        case = f"memory scaling ({memory}/rank)"
        plan[case] = [("tessera -n 2 (1x data)", t1, r1), ("tessera -n 2 (4x data)", t4, r4)]
        ref_of[case] = "tessera -n 2 (4x data)"

    # Warm the page cache with everything we will read, as a read puts it there: a file just
    # written sits in the cache in 4 KiB pieces (each mapped or copied page costs every tool
    # more), whereas data read from disk (a user's input after a first pass) is cached in large
    # folios. So each file is flushed, dropped from the cache and read back once.
    for f in list(data.values()) + year_files + [quarter, tiny]:
        if os.path.exists(f):
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            subprocess.run(["dd", f"if={f}", "of=/dev/null", "bs=16M"], stderr=subprocess.DEVNULL, check=True)

    rows = []
    for case, tools in plan.items():
        print(f"bench: {case}", flush=True)
        walls = {t[0]: [] for t in tools}
        rss = {t[0]: 0.0 for t in tools}
        phases = {t[0]: [] for t in tools}
        reads = {t[0]: [] for t in tools}
        cpus = {t[0]: [] for t in tools}
        for rep in range(args.reps):
            # Interleaved and rotated (A B C, B C A, C A B, ...): each tool follows each other
            # tool equally often, so no tool always runs in the wake of a heavy one (xarray
            # freeing its memory, another tool's output still being written back).
            k = rep % len(tools)
            for name, cmd, report in tools[k:] + tools[:k]:
                w, m, c = run(cmd, env=env)
                walls[name].append(w)
                cpus[name].append(c)
                rss[name] = max(rss[name], m)
                if report:
                    with open(report) as fh:
                        p = json.load(fh)["phases_seconds"]
                    phases[name].append(p["read"] + p["compute"])
                    reads[name].append(p["read"])
        ref_name = ref_of.get(case, "tessera -n 2")
        ref, ref_rss = statistics.median(walls[ref_name]), rss[ref_name]
        for name, _, report in tools:
            med = statistics.median(walls[name])
            rows.append({
                "case": case, "tool": name, "median_s": round(med, 4), "min_s": round(min(walls[name]), 4),
                "cpu_s": round(statistics.median(cpus[name]), 4),
                "peak_rss_mib": round(rss[name], 1),
                "read_s": round(statistics.median(reads[name]), 4) if reads[name] else "",
                "read_compute_s": round(statistics.median(phases[name]), 4) if phases[name] else "",
                "time_ratio": round(ref / med, 3),  # Tessera / tool: below 1, Tessera is faster
                "rss_ratio": round(ref_rss / rss[name], 3) if rss[name] else "",
            })
            print(f"  {name:24s} {med:8.3f} s  tessera/this {ref / med:5.2f}  peak {rss[name]:7.1f} MiB "
                  f"(tessera/this {ref_rss / max(rss[name], 1e-9):5.2f})", flush=True)

    csv_path = os.path.join(args.out, "results.csv")
    with open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    md = ["| case | tool | median s | tessera / tool (time) | CPU s | peak RSS MiB | tessera / tool (RSS) "
          "| tessera read s | tessera read+compute s |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['case']} | {r['tool']} | {r['median_s']:.3f} | {r['time_ratio']:.2f} | {r['cpu_s']:.2f} | "
                  f"{r['peak_rss_mib']:.0f} | {r['rss_ratio']} | {r['read_s']} | {r['read_compute_s']} |")
    header = (f"Dataset {shape} float32 ({nbytes / 1e9:.2f} GB per copy), {args.reps} interleaved repetitions, "
              f"page cache warm, {os.cpu_count()} cores; CPU s: user+system of the process tree. Ratios: the case's Tessera run (2 ranks) over the tool, "
              f"time and peak RSS (below 1: Tessera faster / smaller); in the memory-scaling case, the 4x run over "
              f"each. Reproduce: /usr/bin/python3 benchmarks/bench.py{' --small' if args.small else ''} "
              f"--reps {args.reps}\n\n")
    with open(os.path.join(args.out, "results.md"), "w") as fh:
        fh.write(header + "\n".join(md) + "\n")
    print("\n" + header + "\n".join(md))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        ncol = min(5, len(plan))
        nrow = (len(plan) + ncol - 1) // ncol
        fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3.2 * nrow), squeeze=False)
        for ax in axes.flat[len(plan):]:
            ax.axis("off")
        for ax, case in zip(axes.flat, plan):
            sub = [r for r in rows if r["case"] == case]
            ax.barh([r["tool"] for r in sub], [r["median_s"] for r in sub],
                    color=["tab:blue" if r["tool"].startswith("tessera") else "tab:gray" for r in sub])
            ax.set_title(case, fontsize=9)
            ax.set_xlabel("median wall time (s)")
            ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "results.png"), dpi=110)
    except ImportError:
        print("bench: matplotlib not installed (python3-matplotlib); no chart written")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
