"""compare_nc.py REF.nc OUT.nc RANKS: exit 0 when OUT equals REF bitwise.

Every variable: same dimensions, type and stored bytes (no masking or scaling, so fill values
and NaN payloads count); variable attributes equal; global attributes equal except those that
name the run (history, rank count, job-file hash). OUT's tessera_ranks must be RANKS.
Run with Debian's /usr/bin/python3 (netCDF4, numpy)."""
import sys

import netCDF4
import numpy as np

RUN_ATTRS = {"history", "tessera_ranks", "tessera_job_sha256"}


def attrs(obj, skip=()):
    return {k: obj.getncattr(k) for k in obj.ncattrs() if k not in skip}


def same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a).tobytes() == np.asarray(b).tobytes()
    return a == b


def main(ref_path, out_path, ranks):
    problems = []
    with netCDF4.Dataset(ref_path) as ref, netCDF4.Dataset(out_path) as out:
        ref.set_auto_maskandscale(False)
        out.set_auto_maskandscale(False)
        if int(out.getncattr("tessera_ranks")) != ranks:
            problems.append(f"tessera_ranks {out.getncattr('tessera_ranks')}, expected {ranks}")
        ga, gb = attrs(ref, RUN_ATTRS), attrs(out, RUN_ATTRS)
        for k in sorted(set(ga) | set(gb)):
            if k not in ga or k not in gb or not same(ga[k], gb[k]):
                problems.append(f"global attribute {k}: {ga.get(k)!r} vs {gb.get(k)!r}")
        if set(ref.variables) != set(out.variables):
            problems.append(f"variables {sorted(ref.variables)} vs {sorted(out.variables)}")
        for name in sorted(set(ref.variables) & set(out.variables)):
            a, b = ref.variables[name], out.variables[name]
            if a.dimensions != b.dimensions or a.dtype != b.dtype or a.shape != b.shape:
                problems.append(f"{name}: {a.dimensions} {a.dtype} {a.shape} vs {b.dimensions} {b.dtype} {b.shape}")
                continue
            va, vb = np.asarray(a[...]), np.asarray(b[...])
            if va.tobytes() != vb.tobytes():
                diff = int(np.count_nonzero(va.view(np.uint8) != vb.view(np.uint8)))
                problems.append(f"{name}: data differ ({diff} bytes of {va.nbytes})")
            aa, ab = attrs(a), attrs(b)
            for k in sorted(set(aa) | set(ab)):
                if k not in aa or k not in ab or not same(aa[k], ab[k]):
                    problems.append(f"{name}:{k}: {aa.get(k)!r} vs {ab.get(k)!r}")
    for p in problems:
        print(f"  {out_path}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
