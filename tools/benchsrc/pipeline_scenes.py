#!/usr/bin/env python3
"""Scene-generation throughput: N stories x 5 scenes through generate_scenes, every picture
taking a fixed latency (NOVA_TEST_IMAGE_DELAY_MS) with NOVA_IMAGE_MAX_INFLIGHT pictures in
flight. Prints one JSON line: wall seconds from the first request to the last finished job, the
ideal (pictures / in-flight x latency), and the outcome counts.

usage: pipeline_scenes.py PORT DATABASE_URL STORIES INFLIGHT LATENCY_MS"""
import http.client
import json
import secrets
import subprocess
import sys
import time

port, db, n_stories, inflight, latency_ms = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                             int(sys.argv[4]), int(sys.argv[5]))


def call(method, path, body=None, token=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Token " + token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    doc = json.loads(r.read() or b"null")
    c.close()
    return r.status, doc


def psql(sql):
    return subprocess.run(["psql", db, "-q", "-v", "ON_ERROR_STOP=1", "-Atc", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


name = "bench" + secrets.token_hex(4)
st, doc = call("POST", "/api/register/", {
    "username": name, "email": name + "@example.org", "first_name": "B", "last_name": "B",
    "password": "bench-pass-123", "confirm_password": "bench-pass-123", "user_type": "user",
    "accept_terms": True})
assert st == 201, doc
token, uid = doc["token"], doc["id"]
# The stories are inserted directly (their text and narration are not what is measured).
text = "\n".join("Part %d: Place %d\nThe fox walked to place %d and found a shiny stone there.\n"
                 % (n, n, n) for n in range(1, 6))
ids = psql("INSERT INTO stories (user_id, title, prompt, story_text, status) SELECT %d, 'B' || g, "
           "'bench', $t$%s$t$, 'ready' FROM generate_series(1, %d) g RETURNING id" % (uid, text, n_stories)).split()
t0 = time.time()
parents = []
for sid in ids:
    st, doc = call("POST", "/api/stories/%s/generate_scenes/" % sid, token=token,
                   headers={"Prefer": "respond-async"})
    assert st == 202, (st, doc)
    parents.append(doc["job"]["id"])
plist = ",".join("'%s'" % p for p in parents)
while True:
    left = int(psql("SELECT count(*) FROM jobs WHERE id IN (%s) AND state IN ('available', 'running', 'waiting')" % plist))
    if left == 0:
        break
    time.sleep(0.25)
wall = time.time() - t0
states = psql("SELECT state, count(*) FROM jobs WHERE id IN (%s) GROUP BY state" % plist)
scenes = psql("SELECT status, count(*) FROM story_scenes WHERE story_id IN (%s) GROUP BY status"
              % ",".join("'%s'" % s for s in ids))
ideal = n_stories * 5 / inflight * latency_ms / 1000.0
print(json.dumps({"wall_s": round(wall, 2), "ideal_s": ideal, "ratio": round(wall / ideal, 3),
                  "parents": states, "scenes": scenes}))
