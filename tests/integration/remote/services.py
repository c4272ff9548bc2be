"""Loopback services for the remote tests: nginx (ranges, access log, a rate-limited server
block), s3rver (S3 with SigV4 checks) and faulty_server.py (503s and cut connections). Each runs
as a child process on free 127.0.0.1 ports, is stopped by PID, and a watchdog kills them all if
the test itself hangs or dies."""
import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
S3RVER_DIR = os.environ.get("TESSERA_S3RVER_DIR") or os.path.expanduser("~/.cache/tessera/s3rver")
_started = []  # PIDs, stopped in reverse order


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(pid):
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(50):
        try:
            os.waitpid(pid, os.WNOHANG)
            os.killpg(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            return
        time.sleep(0.02)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_all():
    while _started:
        _stop(_started.pop())


atexit.register(stop_all)
for _sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(_sig, lambda *_: (stop_all(), sys.exit(1)))


def watchdog(seconds):
    """Stops every service and exits the test when it runs longer than `seconds`."""
    def fire():
        print(f"WATCHDOG: test still running after {seconds} s; stopping services", flush=True)
        stop_all()
        os._exit(1)
    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()


def _spawn(cmd, log):
    p = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    _started.append(p.pid)
    return p


def _wait_http(url, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited at start-up (status {proc.returncode})")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not answer on {url}")


class Nginx:
    """Serves `root` on `self.url` (ranges) and `self.slow_url` (limit_rate per connection)."""

    def __init__(self, root, work, rate="20m"):
        self.port, self.slow_port = free_port(), free_port()
        self.log = os.path.join(work, "access.log")
        os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the private workspace
            f.write(f"""daemon off;
{user}worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 512; }}
http {{
  access_log {self.log};
  client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
  keepalive_requests 100000;
  server {{ listen 127.0.0.1:{self.port}; root {root}; }}
  server {{ listen 127.0.0.1:{self.slow_port}; root {root}; limit_rate {rate}; }}
}}
""")
        self.proc = _spawn(["nginx", "-c", conf, "-p", work], os.path.join(work, "nginx.out"))
        self.url = f"http://127.0.0.1:{self.port}"
        self.slow_url = f"http://127.0.0.1:{self.slow_port}"
        _wait_http(self.url + "/", self.proc, "nginx")

    def reset_log(self):
        open(self.log, "w").close()

    def requests(self):
        """(method, path, status) of every request since the last reset."""
        time.sleep(0.05)  # nginx writes the line after the response
        out = []
        with open(self.log) as f:
            for line in f:
                parts = line.split('"')
                if len(parts) > 2:
                    req = parts[1].split()
                    out.append((req[0], req[1] if len(req) > 1 else "", parts[2].split()[0]))
        return out


class S3rver:
    """npm @20minutes/s3rver@4 (credentials S3RVER/S3RVER); `available()` is False when it is not installed."""

    @staticmethod
    def available():
        return os.path.isdir(os.path.join(S3RVER_DIR, "node_modules", "@20minutes", "s3rver")) and \
            subprocess.run(["which", "node"], capture_output=True).returncode == 0

    def __init__(self, work, buckets):
        self.port = free_port()
        data = os.path.join(work, "s3data")
        os.makedirs(data, exist_ok=True)
        script = os.path.join(work, "s3rver.js")
        with open(script, "w") as f:
            f.write(f"""const S3rver = require({os.path.join(S3RVER_DIR, 'node_modules', '@20minutes', 's3rver')!r});
new S3rver({{address: '127.0.0.1', port: {self.port}, directory: {data!r}, silent: true,
  configureBuckets: {[{'name': b} for b in buckets]!r}}}).run().then(() => console.log('ready'));
""")
        self.proc = _spawn(["node", script], os.path.join(work, "s3rver.out"))
        self.url = f"http://127.0.0.1:{self.port}"
        _wait_http(self.url + "/", self.proc, "s3rver")

    def put(self, bucket, key, path):
        """Uploads a file unsigned (s3rver takes unsigned requests as anonymous)."""
        with open(path, "rb") as f:
            req = urllib.request.Request(f"{self.url}/{bucket}/{key}", data=f.read(), method="PUT")
        urllib.request.urlopen(req).read()


class FaultyServer:
    """faulty_server.py on `root`: every `every_503`-th request gets 503, every `every_cut`-th
    response is cut off mid-body; with `only_nth`, just that request gets a 503."""

    def __init__(self, root, work, every_503=3, every_cut=4, only_nth=0):
        self.port = free_port()
        self.stats = os.path.join(work, "faults.txt")
        self.switch = os.path.join(work, "faults.on")
        self.proc = _spawn([sys.executable, os.path.join(HERE, "faulty_server.py"), root, str(self.port),
                            str(every_503), str(every_cut), self.stats, self.switch, str(only_nth)],
                           os.path.join(work, "faulty.out"))
        self.url = f"http://127.0.0.1:{self.port}"
        _wait_http(self.url + "/", self.proc, "faulty server")

    def enable(self):
        """Faults start with the next request (the server starts well-behaved)."""
        open(self.switch, "w").close()

    def faults(self):
        try:
            with open(self.stats) as f:
                return dict(line.split() for line in f if line.strip())
        except OSError:
            return {}
