#!/usr/bin/env python3
"""Server-sent events at scale, one JSON line of results.

  sse_fanout.py fanout PORT DATABASE_URL CLIENTS EVENTS CLIENT_BIN
      CLIENTS streams of one user (read by CLIENT_BIN, built from sse_client.c); EVENTS events stored with job_event() (the database clock
      in the payload) 100 ms apart; latency = arrival at each client - the event's timestamp.
  sse_fanout.py idle PORT SERVER_PID STREAMS
      opens STREAMS idle streams and reports the server's resident memory per stream above
      its baseline."""
import json
import secrets
import socket
import subprocess
import sys
import time
import http.client


def register(port):
    name = "sse" + secrets.token_hex(4)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/api/register/", body=json.dumps({
        "username": name, "email": name + "@example.org", "first_name": "S", "last_name": "S",
        "password": "bench-pass-123", "confirm_password": "bench-pass-123", "user_type": "user",
        "accept_terms": True}), headers={"Content-Type": "application/json"})
    doc = json.loads(c.getresponse().read())
    return doc["token"], doc["id"]


def open_streams(port, token, n):
    socks = []
    req = ("GET /api/events/ HTTP/1.1\r\nHost: b\r\nAuthorization: Token %s\r\n\r\n" % token).encode()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        socks.append(s)
        if i % 500 == 499:
            time.sleep(0.05)
    return socks


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fanout(port, db, clients, events, client_bin):
    token, uid = register(port)
    # The reading side is a small epoll program (tools/benchsrc/sse_client.c), so the figure
    # measures the server, not a Python loop walking a thousand sockets.
    reader = subprocess.Popen([client_bin, str(port), token, str(clients), str(clients * events),
                               str(events * 0.1 + 30)], stdout=subprocess.PIPE, text=True)
    assert json.loads(reader.stdout.readline())["ready"]
    time.sleep(1.5)
    script = "".join("SELECT job_event(%d, NULL, NULL, 'bench.ping', jsonb_build_object('t', "
                     "extract(epoch FROM clock_timestamp()), 'k', %d));\nSELECT pg_sleep(0.1);\n"
                     % (uid, k) for k in range(events))
    subprocess.run(["psql", db, "-q", "-At", "-f", "-"], input=script.encode(), check=True,
                   stdout=subprocess.DEVNULL)
    res = json.loads(reader.stdout.readline())
    reader.wait()
    res.update({"clients": clients, "events": events})
    print(json.dumps(res))


def idle(port, pid, n):
    token, _ = register(port)
    time.sleep(0.5)
    base = rss_kib(pid)
    socks = open_streams(port, token, n)
    time.sleep(3)
    ok = 0
    for s in socks[:50]:
        s.settimeout(2)
        if s.recv(4096).startswith(b"HTTP/1.1 200"):
            ok += 1
    after = rss_kib(pid)
    print(json.dumps({"streams": n, "checked_200": ok, "baseline_kib": base, "after_kib": after,
                      "per_stream_bytes": round((after - base) * 1024 / n)}))
    for s in socks:
        s.close()


if __name__ == "__main__":
    if sys.argv[1] == "fanout":
        fanout(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        idle(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
