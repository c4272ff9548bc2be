"""HDF5 filters over HTTP: fletcher32 (with shuffle + deflate) decoded by Tessera's chunk-indexed
reader; szip, which only HDF5 decodes, read through the ROS3 fallback with one warning;
TESSERA_REMOTE_READER=ros3; and the ROS3 index-building scan retried after a 503. Outputs
bitwise equal to the local run at TESSERA_RANKS ranks. Run by ctest (label `remote`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from remote_case import Session, generate  # noqa: E402
import harness  # noqa: E402

WARNING = "reading it through HDF5's ROS3 driver"


def main():
    with Session() as s:
        ws, t, env = s.ws, s.t, s.env
        generate(ws, "small.nc", "--shape", "40,18,36", "--chunks", "8,9,18", "--fill-fraction", "0.1", "--seed", "3")
        src = ws.path("data", "small.nc")
        harness.tool(["h5repack", "-f", "tas:SHUF", "-f", "tas:GZIP=1", "-f", "tas:FLET", src, ws.path("data", "flet.nc")])
        harness.tool(["h5repack", "-f", "tas:SZIP=8,NN", src, ws.path("data", "szip.nc")])
        s.local("small", src)
        ng = s.nginx()

        def fletcher32():
            r = s.same_as_local("small", "http-flet", ng.url + "/flet.nc", env)
            assert WARNING not in r.stderr, r.stderr
        t.check("http: shuffle + deflate + fletcher32 decoded by Tessera (checksums verified)", fletcher32)

        def szip_fallback():
            for cold in (True, False):  # the second run takes the scan from the index cache
                r = s.same_as_local("small", "http-szip", ng.url + "/szip.nc", env)
                assert r.stderr.count(WARNING) == 1 and "szip" in r.stderr and "szip.nc" in r.stderr, (cold, r.stderr)
        t.check("http: szip falls back to ROS3 with one warning, output exact", szip_fallback)

        def forced_ros3():
            r = s.same_as_local("small", "http-ros3", ng.url + "/small.nc", dict(env, TESSERA_REMOTE_READER="ros3"))
            assert WARNING not in r.stderr, r.stderr
        t.check("http: TESSERA_REMOTE_READER=ros3 reads through HDF5, output exact", forced_ros3)

        def scan_retried():
            # Requests 1-2 are Tessera's own (HEAD, first 64 KiB); the 4th is inside the ROS3 scan.
            fs = s.faulty(ws.path("faulty-once"), only_nth=4)
            fs.enable()
            s.same_as_local("small", "faulty-scan", fs.url + "/small.nc", dict(env, TESSERA_CACHE_DIR=ws.path("cache2")))
            f = fs.faults()
            t.note(f"faulty server (one 503 inside the ROS3 scan): {f}")
            assert f.get("503") == "1", f
        t.check("faults: a 503 during the ROS3 index scan is retried", scan_retried)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
