"""Shared helpers for integration tests: start the real nova-storyteller binary on a free port,
talk raw HTTP/1.1 over sockets, and parse responses exactly (status, headers, body)."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

BIN = os.environ.get("NOVA_BIN", "")
SOURCE = os.environ.get("NOVA_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running server process. Use as a context manager; exit asserts a clean shutdown."""

    def __init__(self, env=None, db=False, processes=1):
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "NOVA_LISTEN": "127.0.0.1:%d" % self.port,
            "NOVA_BENCH_ROUTES": "1",
            "NOVA_LOG_LEVEL": "info",
            "NOVA_SHUTDOWN_GRACE_S": "5",
            "NOVA_SQL_DIR": os.path.join(SOURCE, "sql"),
            "NOVA_PROCESSES": str(processes),
        })
        # No EC2 metadata service here: skip that step of the AWS credential probe at start-up.
        self.env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        if db:
            url = os.environ.get("NOVA_TEST_DATABASE_URL")
            if not url:
                raise unittest_skip("NOVA_TEST_DATABASE_URL not set (run through tools/test)")
            self.env["DATABASE_URL"] = url
        else:
            self.env.pop("DATABASE_URL", None)
        if env:
            self.env.update({k: str(v) for k, v in env.items()})
        # Media never lands in the source tree: a folder of this server's own unless the test
        # names one.
        self.env.setdefault("NOVA_MEDIA_DIR", tempfile.mkdtemp(prefix="nova-media-"))
        self.asked_workers = bool(env and "NOVA_WORKERS" in env)
        self.log = tempfile.NamedTemporaryFile(prefix="nova-log-", suffix=".txt", delete=False)
        self.proc = None

    def start(self, wait_ready=True):
        # Every server runs the jobs of its database. On the database shared by all test files,
        # a job queued by one file could otherwise run on another file's server (with its own
        # media folder), so servers there run no jobs unless the test asks for workers. (Tests
        # that generate give their servers a database of their own.)
        shared = os.environ.get("NOVA_TEST_DATABASE_URL")
        if shared and self.env.get("DATABASE_URL") == shared and not self.asked_workers:
            self.env["NOVA_WORKERS"] = "0"
        self.proc = subprocess.Popen([BIN, "serve"], env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited early (%s):\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                if not wait_ready:
                    return self
                status, _, _ = self.get("/healthz")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("server did not start:\n" + self.read_log())

    def read_log(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def log_lines(self):
        out = []
        for line in self.read_log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not stop within %ss:\n%s" % (timeout, self.read_log()[-4000:]))

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        rc = self.stop()
        os.unlink(self.log.name) if rc == 0 and et is None else None
        if et is None and rc != 0:
            raise AssertionError("server exit status %s (sanitizer report or crash?):\n%s" % (rc, self.read_log()[-6000:]))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def request(self, method, path, body=None, headers=None, timeout=30):
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url(path), data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict((k.lower(), v) for k, v in r.headers.items()), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict((k.lower(), v) for k, v in e.headers.items()), e.read()

    def json(self, method, path, body=None, headers=None):
        status, hdrs, raw = self.request(method, path, body, headers)
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            raise AssertionError("not JSON (%d): %r" % (status, raw[:300]))
        return status, hdrs, doc

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return Conn(s)


def unittest_skip(msg):
    import unittest
    return unittest.SkipTest(msg)


class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason, self.headers, self.body = version, status, reason, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)


class Conn:
    """A raw HTTP/1.x client connection with an exact response reader."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by server")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head=False):
        line = self._line()
        version, status, reason = line.decode().split(" ", 2)
        headers = []
        while True:
            line = self._line()
            if not line:
                break
            k, v = line.decode().split(":", 1)
            headers.append((k.strip(), v.strip()))
        r = Response(version, int(status), reason, headers, b"")
        if head or r.status in (204, 304) or 100 <= r.status < 200:
            return r
        te = r.header("transfer-encoding")
        if te and te.lower() == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()
                    break
                body += self._exact(size)
                self._line()
            r.body = body
        elif r.header("content-length") is not None:
            r.body = self._exact(int(r.header("content-length")))
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            r.body, self.buf = self.buf, b""
        return r

    def closed(self, timeout=5):
        """True when the server closed the connection (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
            self.buf += data
            return data == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()
