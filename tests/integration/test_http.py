"""HTTP/1.1 core over real sockets against the real binary: keep-alive, pipelining, bodies,
limits, timeouts, CORS, request ids, graceful shutdown, connection caps and concurrency."""
import json
import os
import select
import signal
import socket
import subprocess
import threading
import time
import unittest

from nova import BIN, Server

SMALL_LIMITS = {
    "NOVA_MAX_HEADER_BYTES": 2048,
    "NOVA_MAX_HEADERS": 20,
    "NOVA_MAX_URI_BYTES": 256,
    "NOVA_MAX_BODY_BYTES": 1000,
    "NOVA_HEADER_TIMEOUT_MS": 400,
    "NOVA_BODY_TIMEOUT_MS": 400,
    "NOVA_KEEPALIVE_TIMEOUT_MS": 500,
    "NOVA_WRITE_TIMEOUT_MS": 500,
    "NOVA_CORS_ORIGINS": "http://localhost:3000, https://app.example",
}


class HttpCore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(env=SMALL_LIMITS).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        if rc != 0:
            raise AssertionError("exit %s\n%s" % (rc, cls.srv.read_log()[-5000:]))

    def conn(self):
        c = self.srv.connect()
        self.addCleanup(c.close)
        return c

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        c = self.conn()
        for _ in range(3):
            c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json(), {"status": "ok"})
            self.assertIsNone(r.header("connection"))
            self.assertIsNotNone(r.header("date"))

    def test_three_pipelined_requests_in_one_write_answer_in_order(self):
        c = self.conn()
        c.send("GET /bench/sleep?ms=150 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /api/health-check/ HTTP/1.1\r\nHost: x\r\n\r\n")
        statuses = [c.read_response() for _ in range(3)]
        self.assertEqual([r.status for r in statuses], [200, 404, 200])
        self.assertEqual(statuses[0].json(), {"slept": True})
        self.assertEqual(statuses[2].json()["message"], "API is running")

    def test_chunked_request_body(self):
        c = self.conn()
        body = json.dumps({"a": 1, "b": [1, 2, 3]}).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 5]), body[i:i + 5]) for i in range(0, len(body), 5))
        c.send(b"POST /bench/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"body_bytes": len(body), "type": "object", "keys": ["a", "b"]})

    def test_expect_100_continue(self):
        c = self.conn()
        body = b'{"x": true}'
        c.send(b"POST /bench/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        interim = c.read_response()
        self.assertEqual(interim.status, 100)
        c.send(body)
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["keys"], ["x"])

    def test_expect_100_continue_refused_when_too_large(self):
        c = self.conn()
        c.send(b"POST /bench/echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 413)
        self.assertEqual(r.json()["error"], "payload_too_large")
        self.assertTrue(c.closed())

    def test_head_has_length_but_no_body(self):
        c = self.conn()
        c.send("HEAD /api/health-check/ HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(head=True)
        self.assertEqual(r.status, 200)
        self.assertGreater(int(r.header("content-length")), 10)
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # no stray body bytes in between
        self.assertEqual(c.read_response().status, 200)

    def test_http_1_0_closes_unless_keep_alive(self):
        c = self.conn()
        c.send("GET /healthz HTTP/1.0\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.version, "HTTP/1.0")
        self.assertEqual(r.header("connection"), "close")
        self.assertTrue(c.closed())
        c2 = self.conn()
        c2.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c2.read_response()
        self.assertEqual(r.header("connection"), "keep-alive")
        c2.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        self.assertEqual(c2.read_response().status, 200)

    def test_options_and_405_carry_allow(self):
        c = self.conn()
        c.send("OPTIONS /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 204)
        self.assertIn("GET", r.header("allow"))
        c.send("DELETE /healthz/ HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("allow"), "GET, HEAD, OPTIONS")
        self.assertIn("request_id", r.json())

    def test_trailing_slash_optional(self):
        self.assertEqual(self.srv.get("/api/health-check")[0], 200)
        self.assertEqual(self.srv.get("/api/health-check/")[0], 200)
        self.assertEqual(self.srv.get("/api/health-check//")[0], 404)

    def test_cors_preflight_echoes_only_listed_origins(self):
        c = self.conn()
        c.send("OPTIONS /api/health-check/ HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\n"
               "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("access-control-allow-origin"), "http://localhost:3000")
        self.assertEqual(r.header("access-control-allow-credentials"), "true")
        for m in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            self.assertIn(m, r.header("access-control-allow-methods"))
        for h in ("authorization", "content-type", "x-csrftoken", "idempotency-key", "last-event-id", "prefer"):
            self.assertIn(h, r.header("access-control-allow-headers"))
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n")
        r = c.read_response()
        self.assertIsNone(r.header("access-control-allow-origin"))
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n")
        self.assertEqual(c.read_response().header("access-control-allow-origin"), "https://app.example")

    def test_request_id_echoed_when_sane_else_generated(self):
        c = self.conn()
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123.z\r\n\r\n")
        self.assertEqual(c.read_response().header("x-request-id"), "abc-123.z")
        c.send("GET /nope HTTP/1.1\r\nHost: x\r\nX-Request-Id: bad id with spaces\r\n\r\n")
        r = c.read_response()
        rid = r.header("x-request-id")
        self.assertNotIn(" ", rid)
        self.assertEqual(r.json()["request_id"], rid)

    def test_headers_too_large_431(self):
        c = self.conn()
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 3000 + "\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 431)
        self.assertTrue(c.closed())

    def test_too_many_headers_431(self):
        c = self.conn()
        c.send("GET /healthz HTTP/1.1\r\n" + "".join("X-H%d: 1\r\n" % i for i in range(30)) + "\r\n")
        self.assertEqual(c.read_response().status, 431)

    def test_uri_too_long_414(self):
        c = self.conn()
        c.send("GET /" + "a" * 400 + " HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(c.read_response().status, 414)

    def test_body_over_limit_413_before_reading_it(self):
        c = self.conn()
        c.send("POST /bench/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        r = c.read_response()  # answered without sending any body byte
        self.assertEqual(r.status, 413)
        self.assertEqual(r.header("connection"), "close")

    def test_chunked_body_over_limit_413(self):
        c = self.conn()
        c.send(b"POST /bench/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
               b"".join(b"100\r\n" + b"a" * 256 + b"\r\n" for _ in range(8)))
        self.assertEqual(c.read_response().status, 413)

    def test_malformed_request_400_and_close(self):
        c = self.conn()
        c.send("GARBAGE\x01 / HTTP/1.1\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"], "bad_request")
        self.assertTrue(c.closed())

    def test_unsupported_transfer_coding_501(self):
        c = self.conn()
        c.send("POST /bench/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        self.assertEqual(c.read_response().status, 501)

    def test_invalid_json_and_depth_and_utf8_give_400_naming_the_problem(self):
        for body, needle in ((b'{"a": }', "invalid JSON"), (b"[" * 40 + b"]" * 40, "nested deeper"),
                             (b'{"a": "\xff"}', "UTF-8"), (b"", "empty")):
            st, _, doc = self.srv.json("POST", "/bench/echo", body)
            self.assertEqual(st, 400, body)
            self.assertIn(needle, doc["detail"])
            self.assertEqual(doc["error"], "invalid_json")

    def test_header_timeout_slowloris(self):
        c = self.conn()
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes the headers
        t0 = time.time()
        r = c.read_response()
        self.assertEqual(r.status, 408)
        self.assertLess(time.time() - t0, 3)
        self.assertTrue(c.closed())

    def test_slowloris_dripping_bytes_is_still_cut_off(self):
        c = self.conn()
        t0 = time.time()
        with self.assertRaises((EOFError, ConnectionResetError, BrokenPipeError)):
            c.send("GET /healthz HTTP/1.1\r\n")
            for _ in range(40):
                c.send("X-A: b\r\n")
                time.sleep(0.05)
                if select.select([c.sock], [], [], 0)[0]:
                    c.read_response()
                    c._fill()
        self.assertLess(time.time() - t0, 2.5)

    def test_body_idle_timeout(self):
        c = self.conn()
        c.send("POST /bench/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"a\":")
        self.assertEqual(c.read_response().status, 408)

    def test_keepalive_idle_timeout_closes(self):
        c = self.conn()
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        c.read_response()
        t0 = time.time()
        self.assertTrue(c.closed(timeout=3))
        self.assertGreater(time.time() - t0, 0.3)

    def test_slow_reader_is_cut_off_by_write_timeout(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.srv.port))
        self.addCleanup(s.close)
        s.sendall(b"GET /bench/blob?size=30000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(1.5)  # never read: the write stalls for longer than the 500 ms limit
        got = 0
        s.settimeout(5)
        try:
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += len(d)
        except (ConnectionResetError, socket.timeout):
            pass
        self.assertLess(got, 30000000)

    def test_streaming_body_sink_with_backpressure(self):
        body = os.urandom(3 << 20)
        st, _, doc = self.srv.json("POST", "/bench/upload", body, {"Content-Type": "application/octet-stream"})
        self.assertEqual(st, 200)
        self.assertEqual(doc["bytes"], len(body))
        self.assertGreater(doc["pauses"], 10)
        c = self.conn()
        c.send(b"POST /bench/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
               b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 70000]), body[i:i + 70000])
                        for i in range(0, len(body), 70000)) + b"0\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.json()["bytes"], len(body))
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(c.read_response().status, 200)

    def test_streaming_body_sink_can_refuse(self):
        c = self.conn()
        c.send(b"POST /bench/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nBADxxxxxxx")
        r = c.read_response()
        self.assertEqual(r.status, 415)
        self.assertIn("starts with BAD", r.json()["detail"])
        c2 = self.conn()
        c2.send(b"POST /bench/upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (9 << 20))
        self.assertEqual(c2.read_response().status, 413)

    def test_metrics_exposes_requests_connections_and_loop_lag(self):
        self.srv.get("/healthz")
        st, _, body = self.srv.get("/metrics")
        text = body.decode()
        self.assertEqual(st, 200)
        self.assertIn('nova_http_requests_total{route="/healthz",method="GET",status="200"}', text)
        self.assertIn("nova_http_request_duration_seconds_bucket", text)
        self.assertIn("nova_http_connections_open", text)
        self.assertIn("nova_event_loop_lag_seconds_count", text)

    def test_many_concurrent_connections(self):
        socks = []
        try:
            for _ in range(500):
                s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
                socks.append(s)
            for s in socks:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            ok = 0
            for s in socks:
                data = b""
                while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                ok += data.startswith(b"HTTP/1.1 200")
            self.assertEqual(ok, 500)
        finally:
            for s in socks:
                s.close()

    def test_access_log_is_json_without_query_string(self):
        self.srv.get("/api/health-check/?token=secret123")
        time.sleep(0.1)
        lines = [l for l in self.srv.log_lines() if l.get("component") == "access" and l.get("path") == "/api/health-check/"]
        self.assertTrue(lines)
        entry = lines[-1]
        for k in ("time", "level", "request_id", "peer", "method", "status", "bytes", "duration_ms", "user_id"):
            self.assertIn(k, entry)
        self.assertNotIn("secret123", self.srv.read_log())


class Lifecycle(unittest.TestCase):
    def test_graceful_shutdown_finishes_in_flight_request(self):
        srv = Server().start()
        c = srv.connect()
        idle = srv.connect()
        c.send("GET /bench/sleep?ms=800 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        self.assertTrue(idle.closed(timeout=2), "idle keep-alive connection closed at once")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("connection"), "close")
        self.assertEqual(srv.proc.wait(timeout=10), 0)

    def test_grace_period_bounds_shutdown(self):
        srv = Server(env={"NOVA_SHUTDOWN_GRACE_S": 1}).start()
        c = srv.connect()
        c.send("GET /bench/sleep?ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(timeout=10), 0)
        self.assertLess(time.time() - t0, 4)

    def test_accept_pauses_at_max_connections(self):
        with Server(env={"NOVA_MAX_CONNECTIONS": 5}) as srv:
            held = [srv.connect() for _ in range(5)]
            for h in held:
                h.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(h.read_response().status, 200)
            extra = srv.connect()
            extra.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            extra.sock.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                extra.sock.recv(1)
            held[0].close()
            extra.sock.settimeout(5)
            self.assertEqual(extra.read_response().status, 200)
            for h in held[1:] + [extra]:
                h.close()

    def test_bad_setting_stops_startup_with_status_2(self):
        env = dict(os.environ, NOVA_MAX_CONNECTIONS="lots")
        p = subprocess.run([BIN, "serve"], env=env, capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("NOVA_MAX_CONNECTIONS", p.stderr)
        env = dict(os.environ, NOVA_DB_POOL_SIZE="0")
        p = subprocess.run([BIN, "serve"], env=env, capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("out of range", p.stderr)

    def test_help_lists_every_setting_of_the_docs(self):
        out = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10).stdout
        doc = subprocess.run([BIN, "config-doc"], capture_output=True, text=True, timeout=10).stdout
        names = [line.split("`")[1] for line in doc.splitlines() if line.startswith("| `")]
        self.assertGreater(len(names), 20)
        for n in names:
            self.assertIn(n, out)
        path = os.path.join(os.environ.get("NOVA_SOURCE_DIR", "../.."), "docs", "configuration.md")
        with open(path) as f:
            self.assertEqual(f.read(), doc, "docs/configuration.md is stale: run nova-storyteller config-doc")

    def test_several_processes_share_the_port(self):
        with Server(processes=2) as srv:
            pids = set()
            for _ in range(60):
                c = srv.connect()
                c.send("GET /bench/pid HTTP/1.1\r\nHost: x\r\n\r\n")
                pids.add(c.read_response().json()["pid"])
                c.close()
            self.assertEqual(len(pids), 2)

    def test_ipv6_listener(self):
        try:
            s = socket.socket(socket.AF_INET6)
            s.bind(("::1", 0))
            s.close()
        except OSError:
            self.skipTest("no IPv6 loopback here")
        srv = Server()
        port6 = srv.port + 1 if srv.port < 65000 else srv.port - 1
        srv.env["NOVA_LISTEN"] = "127.0.0.1:%d,[::1]:%d" % (srv.port, port6)
        with srv:
            c = socket.create_connection(("::1", port6), timeout=5)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"200 OK", c.recv(4096))
            c.close()


if __name__ == "__main__":
    unittest.main()
