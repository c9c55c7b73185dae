#!/usr/bin/env python3
"""HTTP/1.1 peer for tests/unit/test_net.c (standard library only).

Binds 127.0.0.1 on an ephemeral port, writes the port to --port-file and serves until killed or
until its parent process goes away. Every TCP connection gets a number so that tests can tell a
reused keep-alive connection from a new one.

Endpoints (any method; query parameters in brackets):
  /fixed [n]            n pattern bytes (default: "hello world"), Content-Length
  /conn                 the connection number as the body
  /slow [n, total_ms]   Content-Length n, bytes trickled evenly over total_ms
  /huge [n, chunked]    n bytes in 64 KiB pieces (chunked=1: no Content-Length)
  /stream [chunks, delay_ms]  chunked; each chunk is "t=<epoch ms when sent>\\n"
  /drop [n]             announces n bytes, sends half, closes the connection
  /dropchunked          one chunk, then closes without the last chunk
  /delay [ms]           waits before sending headers, then "late"
  /echo [summary]       the request: "method=..", one "h:<name>=<value>" line per header
                        (names lower-cased), "len=<body length>", "sum=<byte sum>", then (unless
                        summary=1) a blank line and the raw body
"""
import argparse
import atexit
import http.server
import itertools
import os
import shutil
import signal
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

_conn_ids = itertools.count(1)


def pattern(n):
    base = bytes(range(ord('a'), ord('z') + 1))
    reps = n // len(base) + 1
    return (base * reps)[:n]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.conn_id = next(_conn_ids)

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def send_plain(self, body, status=200, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Peer-Conn", str(self.conn_id))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        body = self.read_body()
        path = url.path
        if path == "/fixed":
            n = int(q.get("n", "-1"))
            self.send_plain(b"hello world" if n < 0 else pattern(n), extra=[("X-Mixed-Case", "Yes")])
        elif path == "/conn":
            self.send_plain(str(self.conn_id).encode())
        elif path == "/slow":
            n = int(q.get("n", "10"))
            total = int(q.get("total_ms", "5000")) / 1000.0
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            self.wfile.flush()
            for i in range(n):
                time.sleep(total / n)
                self.wfile.write(b"s")
                self.wfile.flush()
        elif path == "/huge":
            n = int(q.get("n", str(1 << 20)))
            chunked = q.get("chunked") == "1"
            self.send_response(200)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(n))
            self.end_headers()
            piece = pattern(65536)
            sent = 0
            while sent < n:
                data = piece[: min(65536, n - sent)]
                if chunked:
                    self.chunk(data)
                else:
                    self.wfile.write(data)
                sent += len(data)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        elif path == "/stream":
            chunks = int(q.get("chunks", "5"))
            delay = int(q.get("delay_ms", "100")) / 1000.0
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.flush()
            for i in range(chunks):
                if i:
                    time.sleep(delay)
                self.chunk(b"t=%d\n" % int(time.time() * 1000))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/drop":
            n = int(q.get("n", "1000"))
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            self.wfile.write(pattern(n // 2))
            self.wfile.flush()
            self.close_connection = True
        elif path == "/dropchunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.chunk(b"partial")
            self.close_connection = True
        elif path == "/delay":
            time.sleep(int(q.get("ms", "1000")) / 1000.0)
            self.send_plain(b"late")
        elif path == "/echo":
            lines = ["method=%s" % self.command]
            for k, v in self.headers.items():
                lines.append("h:%s=%s" % (k.lower(), v))
            lines.append("len=%d" % len(body))
            lines.append("sum=%d" % (sum(body) & 0xFFFFFFFF))
            out = ("\n".join(lines) + "\n").encode()
            if q.get("summary") != "1":
                out += b"\n" + body
            self.send_plain(out)
        else:
            self.send_plain(b"not found", status=404)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "11")
        self.end_headers()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up early (cancel, timeout tests) are expected


def start_tls(tls_file):
    """Second listener with a fresh self-signed certificate for IP 127.0.0.1 (made with the
    openssl command); writes "<port> <cert path>" to tls_file."""
    d = tempfile.mkdtemp(prefix="net_peer_tls.")
    atexit.register(shutil.rmtree, d, True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv = Server(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    with open(tls_file + ".tmp", "w") as f:
        f.write("%d %s\n" % (srv.server_address[1], cert))
    os.rename(tls_file + ".tmp", tls_file)


def watch_parent(ppid):
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid:
            os.kill(os.getpid(), signal.SIGTERM)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--tls-file", help="also serve TLS; write '<port> <cert>' here")
    args = ap.parse_args()
    # SIGTERM (how the test stops us) exits through atexit so the certificate folder goes away.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = Server(("127.0.0.1", args.port), Handler)
    if args.tls_file:
        start_tls(args.tls_file)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
