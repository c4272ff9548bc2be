#!/usr/bin/python3
"""Collects the reports of a scaling sweep (slurm/sweep.sh) into a CSV and a plot.

  /usr/bin/python3 benchmarks/scaling.py DIR [--kind strong|weak] [--csv F] [--png F] [--title T]

Reads DIR/report-nN.json (or DIR/report-nN-rK.json, repeats: the run with the median wall time
counts) and DIR/sweep.json (kind and node counts, written by sweep.sh; --kind overrides).
Writes DIR/scaling.csv and DIR/scaling.png unless --csv/--png say otherwise.

Columns: nodes, ranks, bytes (read), wall_s and the phases plan_s read_s compute_s combine_s
write_s (Tessera's own timers from --report: MPI start-up is not included), gb_per_s (the
report's throughput_gb_per_s: bytes read over the read+compute time), speedup and efficiency against the smallest node count n0 with wall time t0:
  strong: speedup = t0 / tn,                 efficiency = speedup * n0 / n
  weak:   speedup = (bytes_n/tn)/(bytes_0/t0) (scaled), efficiency = t0 / tn
and imbalance (the report's load_imbalance: slowest rank's read+compute over the mean).
The plot: wall time against nodes with the ideal line, and parallel efficiency against nodes.
Needs matplotlib (Debian: python3-matplotlib) for the plot only; --no-png skips it.
"""
import argparse
import csv
import glob
import json
import os
import re
import sys
import textwrap

PHASES = ["plan", "read", "compute", "combine", "write"]
COLUMNS = (["nodes", "ranks", "bytes", "wall_s"] + [p + "_s" for p in PHASES]
           + ["gb_per_s", "speedup", "efficiency", "imbalance", "runs"])
NAME = re.compile(r"^report-n(\d+)(?:-r(\d+))?\.json$")


def die(msg):
    sys.exit(f"scaling: error: {msg}")


def load_runs(folder):
    """{nodes: [report, ...]} from the folder's report files."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "report-n*.json"))):
        m = NAME.match(os.path.basename(path))
        if not m:
            continue
        try:
            with open(path) as f:
                rep = json.load(f)
            float(rep["wall_seconds"]), int(rep["ranks"]), float(rep["bytes_read"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            die(f"{path} is not a complete Tessera report ({e})")
        runs.setdefault(int(m.group(1)), []).append(rep)
    return runs


def rows_for(runs, kind):
    nodes = sorted(runs)
    # Repeats: the median run as a whole, so its phases add up to its wall time.
    pick = {n: sorted(runs[n], key=lambda r: r["wall_seconds"])[(len(runs[n]) - 1) // 2] for n in nodes}
    n0 = nodes[0]
    t0 = pick[n0]["wall_seconds"]
    b0 = pick[n0]["bytes_read"]
    rows = []
    for n in nodes:
        r = pick[n]
        tn = r["wall_seconds"]
        if kind == "strong":
            speedup = t0 / tn
            eff = speedup * n0 / n
        else:
            speedup = (r["bytes_read"] / tn) / (b0 / t0)
            eff = t0 / tn
        ph = r.get("phases_seconds", {})
        rows.append({
            "nodes": n, "ranks": int(r["ranks"]), "bytes": int(r["bytes_read"]),
            "wall_s": round(tn, 6),
            **{p + "_s": round(float(ph.get(p, 0.0)), 6) for p in PHASES},
            "gb_per_s": round(float(r.get("throughput_gb_per_s", r["bytes_read"] / tn / 1e9)), 6),
            "speedup": round(speedup, 4), "efficiency": round(eff, 4),
            "imbalance": round(float(r.get("load_imbalance", 1.0)), 4),
            "runs": len(runs[n]),
        })
    return rows


def plot(rows, kind, png, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["nodes"] for r in rows]
    t = [r["wall_s"] for r in rows]
    rc = [r["read_s"] + r["compute_s"] for r in rows]
    eff = [r["efficiency"] for r in rows]
    ideal = [t[0] * n[0] / x for x in n] if kind == "strong" else [t[0]] * len(n)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    a.plot(n, t, "o-", label="wall time")
    a.plot(n, rc, "s--", label="read + compute")
    a.plot(n, ideal, ":", color="gray", label="ideal")
    a.set_xscale("log", base=2)
    # Linear from 0: a few node counts read better so than on a log axis.
    a.set_ylim(0, max(t + rc + ideal) * 1.15)
    a.set_xticks(n, [str(x) for x in n])
    a.set_xlabel("nodes")
    a.set_ylabel("seconds")
    a.set_title(f"{kind} scaling: time")
    a.grid(True, which="both", alpha=0.3)
    a.legend()
    b.plot(n, eff, "o-", color="C2", label="efficiency")
    b.axhline(1.0, ls=":", color="gray", label="ideal")
    b.set_xscale("log", base=2)
    b.set_xticks(n, [str(x) for x in n])
    b.set_ylim(0, max(1.1, max(eff) * 1.1))
    b.set_xlabel("nodes")
    b.set_ylabel("parallel efficiency")
    b.set_title(f"{kind} scaling: efficiency")
    for x, y, r in zip(n, eff, rows):
        b.annotate(f"{y:.2f} ({r['ranks']} rank{'s' if r['ranks'] != 1 else ''})", (x, y), textcoords="offset points", xytext=(0, 7),
                   ha="center", fontsize=8)
    b.grid(True, which="both", alpha=0.3)
    b.legend()
    if title:
        fig.suptitle("\n".join(textwrap.wrap(title, 110)), fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", help="the sweep's folder (sweep.sh --out)")
    ap.add_argument("--kind", choices=["strong", "weak"], help="default: from DIR/sweep.json")
    ap.add_argument("--csv", help="default DIR/scaling.csv")
    ap.add_argument("--png", help="default DIR/scaling.png")
    ap.add_argument("--no-png", action="store_true", help="CSV only (no matplotlib needed)")
    ap.add_argument("--title", help="plot title (default: job, mode, tasks per node)")
    a = ap.parse_args()

    if not os.path.isdir(a.dir):
        die(f"no folder {a.dir}")
    meta = {}
    meta_path = os.path.join(a.dir, "sweep.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    kind = a.kind or meta.get("kind")
    if kind not in ("strong", "weak"):
        die(f"scaling kind unknown: no {meta_path}; pass --kind strong|weak")

    runs = load_runs(a.dir)
    expected = [int(n) for n in meta.get("nodes", [])]
    missing = [n for n in expected if n not in runs]
    if not runs or missing:
        what = f"node count(s) {', '.join(map(str, missing))}" if missing else "any node count"
        logs = "tessera-n*-<jobid>.out" if meta.get("mode") == "slurm" else "local-n*.out"
        die(f"no report (report-nN.json) in {a.dir} for {what}: the run failed or has not finished; "
            f"see its log there ({logs})")

    rows = rows_for(runs, kind)
    csv_path = a.csv or os.path.join(a.dir, "scaling.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print(f"scaling: {kind}, {len(rows)} node count(s) -> {csv_path}")
    for r in rows:
        print(f"  {r['nodes']:>3} node(s) {r['ranks']:>3} rank(s)  wall {r['wall_s']:.3f} s  "
              f"{r['gb_per_s']:.3f} GB/s  speedup {r['speedup']:.2f}  efficiency {r['efficiency']:.2f}  "
              f"imbalance {r['imbalance']:.2f}")
    if not a.no_png:
        png = a.png or os.path.join(a.dir, "scaling.png")
        title = a.title
        if title is None:
            job = os.path.basename(meta.get("job", "")) or "job"
            mode = {"slurm": "Slurm", "local": "mpirun, one machine"}.get(meta.get("mode"), "")
            tpn = meta.get("ntasks_per_node")
            title = f"{job}: {kind} scaling" + (f", {mode}" if mode else "") + \
                (f", {tpn} rank(s) per node" if tpn else "")
        plot(rows, kind, png, title)
        print(f"scaling: plot -> {png}")


if __name__ == "__main__":
    main()
