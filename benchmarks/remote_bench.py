"""Remote read throughput: one time-mean job on a deflate+shuffle NetCDF-4 file of 200, 5,000
and 20,000 chunks (same 13 MB of float32 data), read locally and over HTTP through nginx with a
per-connection rate limit (emulating object-store bandwidth): Tessera's chunk-indexed reader
with its index cached (warm), when it must build the index first (cold: HDF5 ROS3 metadata
scan), and the data read through HDF5's ROS3 driver instead (TESSERA_REMOTE_READER=ros3, index
cached: what the stock library does, one GET per chunk). Then the same data as a NetCDF-3 classic
file, local and over HTTP (offsets from the header, merged range GETs). Prints requests (from
nginx's access log), seconds and MB/s as a Markdown table.

  /usr/bin/python3 benchmarks/remote_bench.py [--rate 50m] [--ranks 2] [--repeat 3]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "remote"))
import harness  # noqa: E402
import services  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", default="50m", help="nginx limit_rate per connection")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    services.watchdog(1800)
    root = tempfile.mkdtemp(prefix="tessera-remote-bench-")
    try:
        data, work = os.path.join(root, "data"), os.path.join(root, "work")
        os.makedirs(data), os.makedirs(work)
        cases = [(200, "1,90,180"), (5000, "1,18,36"), (20000, "1,9,18")]
        for n, chunks in cases:
            harness.tool([harness.BIN, "generate", os.path.join(data, f"c{n}.nc"), "--shape", "200,90,180",
                          "--chunks", chunks, "--deflate", "1", "--shuffle", "--seed", "1"])
        harness.tool([harness.BIN, "generate", os.path.join(data, "classic.nc"), "--shape", "200,90,180",
                      "--format", "classic", "--seed", "1"])
        ng = services.Nginx(data, work, rate=a.rate)
        rows, runs = [], []
        for n, _ in cases:
            runs += [(n, f"c{n}.nc", "local file", False, None),
                     (n, f"c{n}.nc", "HTTP, chunk index built (cold)", True, None),
                     (n, f"c{n}.nc", "HTTP, chunk index cached (warm)", False, None),
                     (n, f"c{n}.nc", "HTTP, data through HDF5 ROS3 (index cached)", False, "ros3")]
        runs += [("NetCDF-3", "classic.nc", "local file", False, None),
                 ("NetCDF-3", "classic.nc", "HTTP, range reads from the header's offsets", False, None)]
        for n, name, label, cold, reader in runs:
            path = os.path.join(data, name)
            size_mb = os.path.getsize(path) / 1e6
            url = path if label == "local file" else f"{ng.slow_url}/{name}"
            job = os.path.join(work, "job.yaml")
            with open(job, "w") as f:
                f.write(f"name: bench\ninputs:\n  tas: {{path: {url}, variable: tas}}\nreductions:\n"
                        f"  - {{name: m, op: mean, over: [time]}}\noutput: {{path: {work}/out.nc, overwrite: true}}\n")
            times, reqs = [], []
            for _ in range(a.repeat):
                if cold:
                    shutil.rmtree(os.path.join(work, "cache"), ignore_errors=True)
                ng.reset_log()
                os.environ["TESSERA_CACHE_DIR"] = os.path.join(work, "cache")
                os.environ.pop("TESSERA_REMOTE_READER", None)
                if reader:
                    os.environ["TESSERA_REMOTE_READER"] = reader
                t0 = time.perf_counter()
                harness.ok(harness.tessera(["run", job, "--quiet"], ranks=a.ranks, timeout=900))
                times.append(time.perf_counter() - t0)
                reqs.append(len(ng.requests()))
            t = statistics.median(times)
            rows.append((n, label, statistics.median(reqs) if url != path else "-", t, size_mb / t))
            print(f"  {n} chunks, {label}: {t:.3f} s", file=sys.stderr, flush=True)
        print(f"\n{a.ranks} ranks, nginx limit_rate {a.rate} per connection, median of {a.repeat}, "
              f"13 MB float32, deflate(1)+shuffle (NetCDF-3: uncompressed, 13 MB)\n")
        print("| chunks | reader | requests | seconds | stored MB/s |")
        print("|---|---|---|---|---|")
        for n, label, r, t, mbs in rows:
            print(f"| {n} | {label} | {r} | {t:.3f} | {mbs:.1f} |")
        services.stop_all()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
