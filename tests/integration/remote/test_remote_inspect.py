"""`tessera inspect` on URLs and Zarr stores: for a NetCDF-4, a NetCDF-3 file and a Zarr store
over HTTP (nginx) and S3 (s3rver, signed, `--endpoint`), the variable's listing (type, shape,
chunks, attributes, decomposition) equals what inspect prints for the local file; an S3 prefix
glob prints the aggregated shape; a 404 and a 403 are exit 3 naming the URL, never the secret.
Run by ctest (label `remote`)."""
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
        parts = sorted(n for n in os.listdir(ws.path("data")) if n.startswith("parts"))
        local = {n: variables_section(inspect(ws.path("data", n), env).stdout) for n in ("i4.nc", "i3.nc")}
        local["i.zarr"] = local["i4.nc"]  # a Zarr copy lists like the NetCDF-4 file it was made from
        ng = s.nginx()

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
            r = tessera(["inspect", f"{ng.url}/i4.nc"], env)
            assert r.returncode == 2 and "--variable" in r.stderr, harness.describe(r)
        t.check("http: inspect of a missing object is exit 3 naming the URL; no --variable is exit 2", http_errors)

        if s.s3():
            s.upload("inspect", "i4.nc", "i3.nc", "i.zarr", *parts)
            ep = ["--endpoint", s.s3().url, "--region", "us-east-1"]

            def s3_same():
                for n in ("i4.nc", "i3.nc"):
                    got = variables_section(inspect(f"s3://tessera/inspect/{n}", s.signed, *ep).stdout)
                    assert got == local[n], f"{n}:\n{got}\n---- local:\n{local[n]}"
                r = inspect("s3://tessera/inspect/i.zarr", dict(s.signed, AWS_ENDPOINT_URL_S3=s.s3().url))
                assert "tas(time=40, lat=18, lon=36)" in r.stdout, r.stdout
            t.check("s3: inspect (signed, --endpoint or AWS_ENDPOINT_URL_S3) lists as for the local file", s3_same)

            def s3_glob():
                r = inspect("s3://tessera/inspect/parts*.nc", s.signed, *ep)
                assert "3 objects along 'time'" in r.stdout and "tas(time=60, lat=18, lon=36)" in r.stdout, r.stdout
                for n in parts:
                    assert f"s3://tessera/inspect/{n}" in r.stdout, r.stdout
            t.check("s3: inspect of a prefix glob prints the aggregated shape and the objects", s3_glob)

            def s3_forbidden():
                bad = dict(env, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY=SECRET_MARK,
                           TESSERA_CACHE_DIR=ws.path("cache-bad"))
                r = inspect("s3://tessera/inspect/i4.nc", bad, *ep, expect=3)
                assert "403" in r.stderr and "s3://tessera/inspect/i4.nc" in r.stderr, r.stderr
                assert SECRET_MARK not in r.stdout + r.stderr
            t.check("s3: inspect with a wrong secret is exit 3 naming the URL, secret never printed", s3_forbidden)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
