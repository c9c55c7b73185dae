#!/usr/bin/python3
"""Local stand-in for the ECS container credentials endpoint and EC2 IMDSv2, for tests.

    aws_creds_server.py --port-file F --script S [--auth-token T]

S is a JSON list of credential sets served in turn (the last one repeats):
    [{"AccessKeyId": "...", "SecretAccessKey": "...", "Token": "...", "ExpiresIn": 4}, ...]
ExpiresIn (seconds from now) becomes the ISO 8601 Expiration field.

Endpoints:
    GET /creds                       container endpoint (requires Authorization: T when given)
    PUT /latest/api/token            IMDSv2 session token
    GET /latest/meta-data/iam/security-credentials/        role name
    GET /latest/meta-data/iam/security-credentials/<role>  role credentials
    GET /__hits                      {"creds": n, "imds_token": n, "imds_creds": n}
"""
import argparse
import datetime
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = "nova-test-role"
IMDS_TOKEN = "imds-session-token-1"


class State:
    def __init__(self, script, auth):
        self.script = script
        self.auth = auth
        self.lock = threading.Lock()
        self.hits = {"creds": 0, "imds_token": 0, "imds_creds": 0, "unauthorized": 0}
        self.served = 0

    def next_creds(self):
        with self.lock:
            c = dict(self.script[min(self.served, len(self.script) - 1)])
            self.served += 1
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=c.pop("ExpiresIn", 3600))
        c["Expiration"] = exp.strftime("%Y-%m-%dT%H:%M:%SZ")
        return c


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _bump(self, key):
        with self.server.st.lock:
            self.server.st.hits[key] += 1

    def do_PUT(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.path == "/latest/api/token" and self.headers.get(
                "X-aws-ec2-metadata-token-ttl-seconds"):
            self._bump("imds_token")
            return self._send(200, IMDS_TOKEN, "text/plain")
        self._send(400, "bad request", "text/plain")

    def do_GET(self):
        st = self.server.st
        if self.path == "/__hits":
            with st.lock:
                return self._send(200, json.dumps(st.hits))
        if self.path == "/creds":
            if st.auth and self.headers.get("Authorization") != st.auth:
                self._bump("unauthorized")
                return self._send(401, '{"message":"unauthorized"}')
            self._bump("creds")
            return self._send(200, json.dumps(st.next_creds()))
        prefix = "/latest/meta-data/iam/security-credentials/"
        if self.path.startswith(prefix):
            if self.headers.get("X-aws-ec2-metadata-token") != IMDS_TOKEN:
                return self._send(401, "", "text/plain")
            role = self.path[len(prefix):]
            if not role:
                return self._send(200, ROLE, "text/plain")
            if role != ROLE:
                return self._send(404, "", "text/plain")
            self._bump("imds_creds")
            c = st.next_creds()
            c.update({"Code": "Success", "Type": "AWS-HMAC",
                      "LastUpdated": "2026-01-01T00:00:00Z"})
            return self._send(200, json.dumps(c))
        self._send(404, "not found", "text/plain")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--script", required=True)
    p.add_argument("--auth-token")
    a = p.parse_args()
    with open(a.script) as f:
        script = json.load(f)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.st = State(script, a.auth_token)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, a.port_file)
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
