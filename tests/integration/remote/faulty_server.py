"""faulty_server.py ROOT PORT EVERY_503 EVERY_CUT STATS SWITCH [ONLY_NTH]: a static file server with Range
support that answers every EVERY_503-th request with 503 SlowDown and cuts every EVERY_CUT-th body off
halfway (closing the connection), counting both in STATS, once the file SWITCH exists. With ONLY_NTH > 0
just the ONLY_NTH-th request after SWITCH appears gets a 503 (one fault at a chosen point). Standard
library only."""
import http.server
import os
import sys
import threading

root, port, every_503, every_cut, stats, switch = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                                   sys.argv[5], sys.argv[6])
only_nth = int(sys.argv[7]) if len(sys.argv) > 7 else 0
lock = threading.Lock()
counts = {"requests": 0, "503": 0, "cut": 0}


def record(kind):
    with lock:
        counts[kind] += 1
        with open(stats, "w") as f:
            f.writelines(f"{k} {v}\n" for k, v in counts.items())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self, head):
        faulty = os.path.exists(switch)
        with lock:
            counts["requests"] += faulty
            n = counts["requests"] if faulty else 1
        path = os.path.join(root, self.path.split("?")[0].lstrip("/"))
        if faulty and (n == only_nth if only_nth else n % every_503 == 0):
            record("503")
            body = b"<Error><Code>SlowDown</Code></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return
        if not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = os.path.getsize(path)
        start, end = 0, size - 1
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, b = rng[6:].split("-")
            start, end = int(a), min(int(b) if b else size - 1, size - 1)
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(end - start + 1)
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", '"%x-%x"' % (size, int(os.path.getmtime(path))))
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        if faulty and not only_nth and n % every_cut == 0 and len(data) > 1:
            record("cut")
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(data)

    def do_GET(self):
        self._serve(False)

    def do_HEAD(self):
        self._serve(True)


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
