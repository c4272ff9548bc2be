"""`tessera inspect` on URLs and Zarr stores: for a NetCDF-4, a NetCDF-3 file and a Zarr store
over HTTP (nginx) and S3 (s3rver, signed, `--endpoint`), the variable's listing (type, shape,
chunks, attributes, decomposition) equals what inspect prints for the local file; an S3 prefix
glob prints the aggregated shape; a 404 and a 403 are exit 3 naming the URL, never the secret.
Without --variable, the whole listing (dimensions, every variable with its dims, shape, type,
attributes, and the global attributes) of each URL and store equals the local file's, parsed
section by section (Zarr: as sets, without chunking and codec), and its variable names equal
what netCDF4-python lists for the file. Run by ctest (label `remote`)."""
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from remote_case import SECRET_MARK, Session, generate, tessera, write_zarr  # noqa: E402
import harness  # noqa: E402


def variables_section(text):
    """The lines from `variables:` up to `global attributes:` (what --variable prints of it)."""
    lines = text.splitlines()
    start = lines.index("variables:")
    end = lines.index("global attributes:") if "global attributes:" in lines else len(lines)
    return "\n".join(lines[start:end])


def parse(text):
    """An inspect listing as {"format", "dims": {name: "N[ (unlimited)]"}, "vars": {name: {"line",
    "type", "dims", "attrs": [lines], "decomposition"}}, "var_order", "globals": [lines]}."""
    lines = text.splitlines()
    out = {"format": lines[0].split(" (", 1)[1].split(",")[0].rstrip(")"), "dims": {}, "vars": {}, "var_order": [],
           "globals": []}
    section, var = None, None
    for line in lines[1:]:
        if not line.startswith(" "):
            section = line.rstrip(":")
            continue
        if section == "dimensions":
            name, value = line.strip().split(" = ", 1)
            out["dims"][name] = value
        elif section == "variables" and not line.startswith("      "):
            type_, rest = line.strip().split(" ", 1)
            name, rest = rest.split("(", 1)
            dims, layout = rest.split(")", 1)
            var = {"line": line, "type": type_, "dims": dims, "layout": layout.strip(), "attrs": [], "decomposition": ""}
            out["vars"][name] = var
            out["var_order"].append(name)
        elif section == "variables":
            if line.strip().startswith("decomposition for "):
                var["decomposition"] = line.strip()
            else:
                var["attrs"].append(line.strip())
        elif section == "global attributes":
            out["globals"].append(line.strip())
    return out


def same_listing(got, want, zarr=False):
    """Raises AssertionError naming the first difference: every section of a remote listing
    equals the local one; for Zarr, dimensions without '(unlimited)', attributes as sets, no
    chunking or codec (the store has its own), variables in any order."""
    assert got["vars"] and got["dims"], f"empty listing: {got}"
    gd = {k: v.replace(" (unlimited)", "") for k, v in got["dims"].items()} if zarr else got["dims"]
    wd = {k: v.replace(" (unlimited)", "") for k, v in want["dims"].items()} if zarr else want["dims"]
    assert gd == wd, f"dimensions differ: {gd} != {wd}"
    missing, extra = set(want["vars"]) - set(got["vars"]), set(got["vars"]) - set(want["vars"])
    assert not missing and not extra, f"variables missing {sorted(missing)}, extra {sorted(extra)}"
    for name, w in want["vars"].items():
        g = got["vars"][name]
        if zarr:
            for k in ("type", "dims"):
                assert g[k] == w[k], f"{name}: {k} {g[k]!r} != {w[k]!r}"
            assert set(g["attrs"]) == set(w["attrs"]), f"{name}: attributes {g['attrs']} != {w['attrs']}"
        else:
            assert g == w, f"{name}:\n{g}\n---- local:\n{w}"
    if zarr:
        assert set(got["globals"]) == set(want["globals"]), f"globals {got['globals']} != {want['globals']}"
    else:
        assert got["var_order"] == want["var_order"], f"order {got['var_order']} != {want['var_order']}"
        assert got["globals"] == want["globals"], f"globals {got['globals']} != {want['globals']}"
        assert got["format"] == want["format"], f"format {got['format']} != {want['format']}"


NC_NAMES = "import sys, netCDF4; print(' '.join(netCDF4.Dataset(sys.argv[1]).variables))"


def netcdf4_names(path):
    """Variable names as netCDF4-python lists them: the oracle independent of tessera."""
    return set(harness.run(["/usr/bin/python3", "-c", NC_NAMES, path]).stdout.split())


def listing(target, env, *extra, expect=0):
    """`tessera inspect TARGET` without --variable: the whole listing, parsed."""
    r = tessera(["inspect", target, *extra], env)
    harness.assert_no_crash(r.stdout + r.stderr)
    assert r.returncode == expect, f"expected exit {expect}\n" + harness.describe(r)
    return r


def inspect(target, env, *extra, expect=0):
    r = tessera(["inspect", target, "--variable", "tas", *extra], env)
    harness.assert_no_crash(r.stdout + r.stderr)
    assert r.returncode == expect, f"expected exit {expect}\n" + harness.describe(r)
    return r


def main():
    with Session() as s:
        ws, t, env = s.ws, s.t, s.env
        generate(ws, "i4.nc", "--shape", "40,18,36", "--chunks", "8,9,18", "--deflate", "1", "--shuffle", "--seed", "3")
        generate(ws, "i3.nc", "--format", "64bit-offset", "--dtype", "short", "--shape", "40,18,36", "--seed", "4")
        generate(ws, "parts.nc", "--shape", "60,18,36", "--chunks", "10,18,36", "--files", "3", "--seed", "7")
        write_zarr(ws.path("data", "i4.nc"), ws.path("data", "i.zarr"), "zlib")
        write_zarr(ws.path("data", "i4.nc"), ws.path("data", "u.zarr"), "zstd", consolidated=False)
        parts = sorted(n for n in os.listdir(ws.path("data")) if n.startswith("parts"))
        local = {n: variables_section(inspect(ws.path("data", n), env).stdout) for n in ("i4.nc", "i3.nc")}
        local["i.zarr"] = local["i4.nc"]  # a Zarr copy lists like the NetCDF-4 file it was made from
        full = {n: parse(listing(ws.path("data", n), env).stdout) for n in ("i4.nc", "i3.nc")}
        names = {n: netcdf4_names(ws.path("data", n)) for n in ("i4.nc", "i3.nc")}
        ng = s.nginx()

        def local_sane():
            for n in ("i4.nc", "i3.nc"):
                assert set(full[n]["vars"]) == names[n], f"{n}: {sorted(full[n]['vars'])} != netCDF4 {names[n]}"
                assert len(names[n]) > 1 and full[n]["globals"], full[n]
            # The comparison itself catches a dropped variable and a changed attribute.
            for n in ("i4.nc", "i3.nc"):
                for drop in full[n]["vars"]:
                    cut = copy.deepcopy(full[n])
                    del cut["vars"][drop]
                    cut["var_order"].remove(drop)
                    for zarr in (False, True):
                        try:
                            same_listing(cut, full[n], zarr)
                        except AssertionError:
                            continue
                        raise AssertionError(f"a listing without '{drop}' passed the comparison")
            for n in ("i.zarr", "u.zarr"):  # local Zarr stores: consolidated and listed from the directory
                same_listing(parse(listing(ws.path("data", n), env).stdout), full["i4.nc"], zarr=True)
        t.check("local: inspect lists what netCDF4 lists; the comparison catches a missing variable; "
                "local Zarr stores list as their NetCDF-4 source", local_sane)

        def http_full():
            for n in ("i4.nc", "i3.nc"):
                r = listing(f"{ng.url}/{n}", env)
                assert r.stdout.startswith(f"{ng.url}/{n} ("), r.stdout
                got = parse(r.stdout)
                same_listing(got, full[n])
                assert set(got["vars"]) == names[n], f"{n}: {sorted(got['vars'])} != netCDF4 {names[n]}"
            same_listing(parse(listing(f"{ng.url}/i.zarr", env).stdout), full["i4.nc"], zarr=True)
            # Unconsolidated over plain HTTP: no listing to find the arrays in: exit 3, saying why.
            r = listing(f"{ng.url}/u.zarr", env, expect=3)
            assert ".zmetadata" in r.stderr and "--variable" in r.stderr, r.stderr
        t.check("http: inspect without --variable lists NetCDF-4, NetCDF-3 and Zarr URLs as the local file", http_full)

        def http_same():
            for n, want in local.items():
                r = inspect(f"{ng.url}/{n}", env)
                assert r.stdout.startswith(f"{ng.url}/{n} ("), r.stdout
                got = variables_section(r.stdout)
                if n == "i.zarr":  # its own chunks and codec; zarr writes .zattrs with sorted keys
                    got, want = (sorted(x.splitlines()[2:]) for x in (got, want))
                assert got == want, f"{n}:\n{got}\n---- local:\n{want}"
        t.check("http: inspect of NetCDF-4, NetCDF-3 and Zarr URLs lists the variable as for the local file", http_same)

        def http_errors():
            r = inspect(f"{ng.url}/nope.nc", env, expect=3)
            assert f"{ng.url}/nope.nc" in r.stderr and "404" in r.stderr, r.stderr
            r = listing(f"{ng.url}/nope.nc", env, expect=3)
            assert f"{ng.url}/nope.nc" in r.stderr and "404" in r.stderr, r.stderr
        t.check("http: inspect of a missing object is exit 3 naming the URL, with or without --variable", http_errors)

        if s.s3():
            s.upload("inspect", "i4.nc", "i3.nc", "i.zarr", "u.zarr", *parts)
            ep = ["--endpoint", s.s3().url, "--region", "us-east-1"]

            def s3_same():
                for n in ("i4.nc", "i3.nc"):
                    got = variables_section(inspect(f"s3://tessera/inspect/{n}", s.signed, *ep).stdout)
                    assert got == local[n], f"{n}:\n{got}\n---- local:\n{local[n]}"
                r = inspect("s3://tessera/inspect/i.zarr", dict(s.signed, AWS_ENDPOINT_URL_S3=s.s3().url))
                assert "tas(time=40, lat=18, lon=36)" in r.stdout, r.stdout
            t.check("s3: inspect (signed, --endpoint or AWS_ENDPOINT_URL_S3) lists as for the local file", s3_same)

            def s3_full():
                for n in ("i4.nc", "i3.nc"):
                    got = parse(listing(f"s3://tessera/inspect/{n}", s.signed, *ep).stdout)
                    same_listing(got, full[n])
                    assert set(got["vars"]) == names[n], f"{n}: {sorted(got['vars'])} != netCDF4 {names[n]}"
                for n in ("i.zarr", "u.zarr"):  # consolidated; unconsolidated: found by listing the prefix
                    r = listing(f"s3://tessera/inspect/{n}", dict(s.signed, AWS_ENDPOINT_URL_S3=s.s3().url))
                    same_listing(parse(r.stdout), full["i4.nc"], zarr=True)
            t.check("s3: inspect without --variable (signed) lists NetCDF-4, NetCDF-3 and Zarr as the local file",
                    s3_full)

            def s3_glob_full():
                r = listing("s3://tessera/inspect/parts*.nc", s.signed, *ep)
                first = f"s3://tessera/inspect/{parts[0]}"
                assert f"{len(parts)} objects aggregate; the variables of the first, {first}" in r.stdout, r.stdout
                same_listing(parse(r.stdout), parse(listing(ws.path("data", parts[0]), env).stdout))
                for n in parts:
                    assert f"  s3://tessera/inspect/{n}" in r.stdout, r.stdout
            t.check("s3: inspect of a prefix glob without --variable lists the first object and counts the objects",
                    s3_glob_full)

            def s3_glob():
                r = inspect("s3://tessera/inspect/parts*.nc", s.signed, *ep)
                assert "3 objects along 'time'" in r.stdout and "tas(time=60, lat=18, lon=36)" in r.stdout, r.stdout
                for n in parts:
                    assert f"s3://tessera/inspect/{n}" in r.stdout, r.stdout
            t.check("s3: inspect of a prefix glob prints the aggregated shape and the objects", s3_glob)

            def s3_forbidden():
                bad = dict(env, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY=SECRET_MARK,
                           TESSERA_CACHE_DIR=ws.path("cache-bad"))
                for r in (inspect("s3://tessera/inspect/i4.nc", bad, *ep, expect=3),
                          listing("s3://tessera/inspect/i4.nc", bad, *ep, expect=3),
                          listing("s3://tessera/inspect/i3.nc", bad, *ep, expect=3)):
                    assert "403" in r.stderr and "s3://tessera/inspect/i" in r.stderr, r.stderr
                    assert SECRET_MARK not in r.stdout + r.stderr
            t.check("s3: inspect with a wrong secret (with or without --variable) is exit 3 naming the URL, "
                    "secret never printed", s3_forbidden)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
