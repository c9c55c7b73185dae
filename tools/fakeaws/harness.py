"""Start and drive a fake-aws process from Python tests (standard library only).

    with FakeAws(secret_key="SECRET") as fake:
        env = fake.env()               # AWS_ENDPOINT_URL_* and credentials for the server
        fake.add_faults([{"match": {"op": "converse"}, "action": "throttle", "times": 1}])
        log = fake.requests(op="converse")
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fake-aws")


class FakeAws:
    def __init__(self, *extra_args, access_key="AKIDFAKE", secret_key="SECRET",
                 region="us-east-1", session_token=None, bearer_token=None,
                 python=None):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.session_token = session_token
        self.bearer_token = bearer_token
        self.extra_args = list(extra_args)
        self.python = python or (sys.executable or "/usr/bin/python3")
        self.proc = None
        self.port = None
        self._tmp = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=15.0):
        self._tmp = tempfile.TemporaryDirectory(prefix="fakeaws-")
        port_file = os.path.join(self._tmp.name, "port")
        cmd = [self.python, _SCRIPT, "--port", "0", "--port-file", port_file,
               "--access-key", self.access_key, "--secret-key", self.secret_key,
               "--region", self.region]
        if self.session_token:
            cmd += ["--session-token", self.session_token]
        if self.bearer_token:
            cmd += ["--bearer-token", self.bearer_token]
        cmd += self.extra_args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    self.port = int(f.read().strip())
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("fake-aws exited with status %d" % self.proc.returncode)
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("fake-aws did not write its port file in %.0f s" % timeout)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def env(self):
        """Environment for a client (e.g. the Nova server) that should talk to this fake."""
        e = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.url, "AWS_ENDPOINT_URL_POLLY": self.url,
             "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
             "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.session_token:
            e["AWS_SESSION_TOKEN"] = self.session_token
        if self.bearer_token:
            e["AWS_BEARER_TOKEN_BEDROCK"] = self.bearer_token
        return e

    # ---- control API
    def control(self, method, path, doc=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            body = json.dumps(doc).encode() if doc is not None else None
            conn.request(method, path, body=body,
                         headers={"Content-Type": "application/json"} if body else {})
            resp = conn.getresponse()
            data = json.loads(resp.read() or b"null")
            if resp.status != 200:
                raise RuntimeError("control %s %s -> %d %s" % (method, path, resp.status, data))
            return data
        finally:
            conn.close()

    def add_faults(self, rules):
        return self.control("POST", "/__fake/faults", rules)

    def clear_faults(self):
        return self.control("DELETE", "/__fake/faults")

    def requests(self, op=None, at_least=0, timeout=5.0):
        """The request log. The fake records a request once it has answered it, so a client that
        has just read an answer may look before the entry is there: at_least waits (up to
        timeout seconds) until the log holds that many entries."""
        deadline = time.time() + timeout
        while True:
            log = self.control("GET", "/__fake/requests" + ("?op=" + op if op else ""))
            if len(log) >= at_least or time.time() >= deadline:
                return log
            time.sleep(0.02)

    def clear_requests(self):
        return self.control("DELETE", "/__fake/requests")

    def set_config(self, **changes):
        return self.control("POST", "/__fake/config", changes)

    def reset(self):
        return self.control("POST", "/__fake/reset")
