"""Generation pipeline through the real server, PostgreSQL and the offline providers: the create
flow with its server-sent events in order and Last-Event-ID resume, the reference frontend's
multipart create answered with the finished story within its 10-second timeout, Idempotency-Key
replay/conflict/mismatch, 20 stories x 5 scenes with two pictures forced to fail, kill -9 during
scene generation and a restart that finishes without duplicates, two server processes sharing
the work and each other's events, and fairness between users."""
import http.client
import io
import json
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

from nova import Server

DB_URL = os.environ.get("NOVA_TEST_DATABASE_URL", "")
FAIL_WORD = "zebrafailure"
# The illustrator's captions load fontconfig, whose process-lifetime caches LeakSanitizer reports
# at exit (the unit tests of the illustrator suppress the same); the server's own leaks still
# fail these tests.
_LSAN = os.path.join(tempfile.gettempdir(), "nova-pipeline-lsan.supp")
with open(_LSAN, "w") as _f:
    _f.write("leak:libfontconfig\n")
_LSAN_OPTIONS = ":".join(x for x in (os.environ.get("LSAN_OPTIONS", ""), "suppressions=" + _LSAN) if x)
BASE_ENV = {
    "NOVA_ARGON2_MEMORY_KIB": 1024, "NOVA_ARGON2_ITERATIONS": 1, "NOVA_LOGIN_MAX_FAILURES": 100000,
    "NOVA_TEXT_PROVIDER": "offline", "NOVA_VISION_PROVIDER": "offline",
    "NOVA_SPEECH_PROVIDER": "espeak", "NOVA_IMAGE_PROVIDER": "offline",
    "NOVA_OFFLINE_STREAM_DELAY_MS": 2, "NOVA_JOB_POLL_MS": 200, "NOVA_JOB_BACKOFF_BASE_MS": 100,
    "NOVA_TEST_IMAGE_FAIL_WORD": FAIL_WORD, "LSAN_OPTIONS": _LSAN_OPTIONS,
}


# Every server on a database runs that database's jobs. The tests here get a database of their
# own, so servers of other test files (with other media folders) never take their jobs, and
# theirs never take ours.
_OWN_DB = None


def own_db():
    global _OWN_DB
    if _OWN_DB is None and DB_URL:
        name = "nova_pipe_%d_%s" % (os.getpid(), secrets.token_hex(3))
        subprocess.run(["psql", DB_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE " + name],
                       check=True, capture_output=True)
        _OWN_DB = DB_URL.rsplit("/", 1)[0] + "/" + name
    return _OWN_DB


def psql(sql):
    out = subprocess.run(["psql", own_db(), "-q", "-v", "ON_ERROR_STOP=1", "-Atc", sql], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def server(**env):
    """A server on this module's own database."""
    srv = Server(db=True, env=dict(BASE_ENV, **env))
    srv.env["DATABASE_URL"] = own_db()
    return srv


def png(w=8, h=6):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\x00" + b"\x30\x90\xe0" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def multipart(fields, files):
    boundary = "----WebKitFormBoundary" + secrets.token_hex(8)
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, k, v)).encode())
    for k, (name, ctype, data) in files.items():
        out.write(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                   "Content-Type: %s\r\n\r\n" % (boundary, k, name, ctype)).encode())
        out.write(data + b"\r\n")
    out.write(("--%s--\r\n" % boundary).encode())
    return out.getvalue(), "multipart/form-data; boundary=" + boundary


def five_parts(tag, fail_scenes=()):
    parts = []
    for n in range(1, 6):
        extra = (" The %s sat by the pond." % FAIL_WORD) if n in fail_scenes else ""
        parts.append("Part %d: %s %d\nThe fox %s walked to place number %d and smiled.%s\n"
                     % (n, tag, n, tag, n, extra))
    return "\n".join(parts)


class Api:
    """A signed-in user of one server."""

    def __init__(self, srv, token=None):
        self.srv, self.token = srv, token

    def call(self, method, path, body=None, headers=None, timeout=60, raw=None, ctype=None):
        h = {"Authorization": "Token " + self.token} if self.token else {}
        h.update(headers or {})
        data = None
        if raw is not None:
            data = raw
            h["Content-Type"] = ctype
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            payload = r.read()
            doc = json.loads(payload) if payload and r.getheader("Content-Type", "").startswith("application/json") else None
            return r.status, {k.lower(): v for k, v in r.getheaders()}, doc
        finally:
            c.close()


def new_user(srv, settings=None):
    name = "p" + secrets.token_hex(5)
    api = Api(srv)
    st, _, doc = api.call("POST", "/api/register/", {
        "username": name, "email": name + "@example.org", "first_name": "P", "last_name": "L",
        "password": "pipeline-pass-9", "confirm_password": "pipeline-pass-9", "user_type": "user",
        "accept_terms": True})
    assert st == 201, (st, doc)
    api.token = doc["token"]
    api.user_id = doc["id"]
    if settings:
        st, _, doc = api.call("PATCH", "/api/story-settings/", settings)
        assert st == 200, (st, doc)
    return api


class SSE:
    """A raw event-stream client: parses events as they arrive."""

    def __init__(self, port, path, token=None, last_event_id=None, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        h = "GET %s HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n" % path
        if token:
            h += "Authorization: Token %s\r\n" % token
        if last_event_id is not None:
            h += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall((h + "\r\n").encode())
        self.buf = b""
        self.headers = {}
        self.status = None
        self.events = []
        self.retry = None
        self.comments = 0
        self._pending = b""
        self._read_head()

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("closed before headers")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        for l in lines[1:]:
            k, v = l.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()

    def _dechunk(self):
        # Chunked transfer: move complete chunks from buf to _pending.
        while True:
            if b"\r\n" not in self.buf:
                return
            size_line, rest = self.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                raise EOFError("stream ended")
            if len(rest) < size + 2:
                return
            self._pending += rest[:size]
            self.buf = rest[size + 2:]

    def _parse(self):
        while b"\n\n" in self._pending:
            block, self._pending = self._pending.split(b"\n\n", 1)
            ev = {"id": None, "event": "message", "data": []}
            only_comment = True
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    continue
                only_comment = False
                k, _, v = line.partition(":")
                v = v[1:] if v.startswith(" ") else v
                if k == "data":
                    ev["data"].append(v)
                elif k == "id":
                    ev["id"] = int(v)
                elif k == "event":
                    ev["event"] = v
                elif k == "retry":
                    self.retry = int(v)
            if only_comment:
                self.comments += 1
                continue
            if not ev["data"] and ev["id"] is None:
                continue
            ev["data"] = json.loads("\n".join(ev["data"])) if ev["data"] else None
            self.events.append(ev)

    def pump(self, timeout):
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not d:
            raise EOFError("closed")
        self.buf += d
        self._dechunk()
        self._parse()
        return True

    def wait_for(self, pred, timeout=30):
        deadline = time.time() + timeout
        while True:
            for e in self.events:
                if pred(e):
                    return e
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("event not seen; got %s" % [e["event"] for e in self.events][-40:])
            self.pump(min(left, 1.0))

    def close(self):
        self.sock.close()


def scene_images(story_id):
    rows = psql("SELECT scene_number, image FROM story_scenes WHERE story_id = '%s'" % story_id)
    return {int(n): img for n, img in (r.split("|") for r in rows.splitlines())}


def wait_until(fn, timeout=60, step=0.2, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


def final_job(api, job_id, timeout=60):
    def done():
        st, _, j = api.call("GET", "/api/jobs/%s/" % job_id)
        return j if st == 200 and j["state"] in ("succeeded", "partial", "failed", "cancelled") else None
    return wait_until(done, timeout, what="job %s" % job_id)


SHORT = {"max_word_count": 120, "story_parts": 5}


@unittest.skipUnless(DB_URL, "NOVA_TEST_DATABASE_URL not set (run through tools/test)")
class CreateFlow(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.media = tempfile.mkdtemp(prefix="nova-pipe-")
        cls.srv = server(NOVA_MEDIA_DIR=cls.media).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        assert rc == 0, cls.srv.read_log()[-4000:]

    def test_create_flow_events_in_order_and_resume(self):
        api = new_user(self.srv, SHORT)
        sse = SSE(self.srv.port, "/api/events/", api.token)
        self.assertEqual(sse.status, 200)
        self.assertEqual(sse.headers.get("content-type"), "text/event-stream")
        self.assertEqual(sse.headers.get("x-accel-buffering"), "no")
        self.assertEqual(sse.headers.get("cache-control"), "no-cache")
        body, ctype = multipart({"title": "Lantern", "prompt": "a fox finds a lantern", "template": "fantasy"},
                                {"image": ("pic.png", "image/png", png())})
        st, h, story = api.call("POST", "/api/stories/", raw=body, ctype=ctype)
        self.assertEqual(st, 201, story)
        self.assertEqual(story["status"], "ready")
        self.assertTrue(story["story_text"].startswith("Part 1"))
        self.assertTrue(story["audio_url"])
        job = story["job"]
        self.assertEqual(job["state"], "succeeded")
        self.assertEqual(h["location"], "/api/jobs/%s/" % job["id"])
        end = sse.wait_for(lambda e: e["event"] == "job.succeeded" and e["data"]["job_id"] == job["id"])
        mine = [e for e in sse.events if e["data"] and e["data"].get("job_id") == job["id"]]
        types = [e["event"] for e in mine]
        order = ["job.queued", "job.progress", "image.described", "story.delta", "story.ready",
                 "audio.ready", "job.succeeded"]
        pos = [types.index(t) for t in order]
        self.assertEqual(pos, sorted(pos), types)
        ids = [e["id"] for e in mine]
        self.assertEqual(ids, sorted(ids))
        self.assertIsNotNone(sse.retry)
        # The deltas, in order, are exactly the saved text.
        text = "".join(e["data"]["text"] for e in mine if e["event"] == "story.delta")
        self.assertEqual(text, story["story_text"])
        offsets = [e["data"]["offset"] for e in mine if e["event"] == "story.delta"]
        self.assertEqual(offsets[0], 0)
        audio = [e for e in mine if e["event"] == "audio.ready"][0]["data"]
        self.assertGreater(audio["duration_ms"], 1000)
        self.assertIn("/media/", audio["audio_url"])
        self.assertTrue(any(e["event"] == "image.described" and e["data"]["description"] for e in mine))
        sse.close()
        # Resume after story.ready: exactly the later events come back, nothing before.
        ready = [e for e in mine if e["event"] == "story.ready"][0]
        again = SSE(self.srv.port, "/api/stories/%s/events/" % story["id"], api.token,
                    last_event_id=ready["id"])
        again.wait_for(lambda e: e["event"] == "job.succeeded")
        got = [e for e in again.events if e["data"].get("job_id") == job["id"]]
        self.assertTrue(all(e["id"] > ready["id"] for e in again.events))
        self.assertEqual([e["event"] for e in got][:1], ["job.progress"])
        self.assertIn("audio.ready", [e["event"] for e in got])
        self.assertEqual(got[-1]["id"], end["id"])
        again.close()
        # The job is listed with the story and readable by id; other users see nothing.
        st, _, jobs = api.call("GET", "/api/stories/%s/jobs/" % story["id"])
        self.assertEqual(st, 200)
        self.assertEqual([j["id"] for j in jobs["results"]], [job["id"]])
        other = new_user(self.srv)
        self.assertEqual(other.call("GET", "/api/jobs/%s/" % job["id"])[0], 404)
        self.assertEqual(other.call("GET", "/api/stories/%s/events/" % story["id"], timeout=5)[0], 404)

    def test_reference_frontend_create_within_ten_seconds(self):
        api = new_user(self.srv)  # default settings: 800 words, 5 parts
        body, ctype = multipart({"title": "Moon", "prompt": "a bear who visits the moon", "template": "adventure"}, {})
        t0 = time.time()
        st, _, story = api.call("POST", "/api/stories/", raw=body, ctype=ctype, timeout=10)
        self.assertEqual(st, 201, story)
        self.assertIn("id", story)
        st, _, got = api.call("GET", "/api/stories/%s/" % story["id"], timeout=10)
        self.assertLess(time.time() - t0, 10)
        self.assertEqual(st, 200)
        self.assertEqual(got["status"], "ready")
        self.assertGreater(len(got["story_text"].split()), 400)
        self.assertTrue(got["audio_url"])

    def test_prefer_respond_async_and_ticket(self):
        api = new_user(self.srv, SHORT)
        st, h, story = api.call("POST", "/api/stories/", {"title": "Async", "prompt": "a kite"},
                                headers={"Prefer": "respond-async"})
        self.assertEqual(st, 202, story)
        self.assertIn(story["status"], ("generating", "ready"))
        self.assertEqual(h["location"], "/api/jobs/%s/" % story["job"]["id"])
        self.assertTrue(story["job"]["events_url"].endswith("/api/stories/%s/events/" % story["id"]))
        # A browser EventSource authenticates with a single-use ticket.
        st, _, t = api.call("POST", "/api/events/ticket/")
        self.assertEqual(st, 201)
        sse = SSE(self.srv.port, "/api/stories/%s/events/?ticket=%s&last_event_id=0" % (story["id"], t["ticket"]))
        self.assertEqual(sse.status, 200)
        sse.wait_for(lambda e: e["event"] == "job.succeeded")
        sse.close()
        reuse = Api(self.srv).call("GET", "/api/events/?ticket=" + t["ticket"], timeout=5)
        self.assertEqual(reuse[0], 401)
        self.assertEqual(Api(self.srv).call("GET", "/api/events/", timeout=5)[0], 401)
        final_job(api, story["job"]["id"])

    def test_regenerate_keeps_revision_and_marks_scenes_stale(self):
        api = new_user(self.srv, SHORT)
        st, _, story = api.call("POST", "/api/stories/", {"title": "Regen", "prompt": "a duck"})
        self.assertEqual(st, 201)
        old = story["story_text"]
        st, _, res = api.call("POST", "/api/stories/%s/generate_scenes/" % story["id"])
        self.assertEqual(st, 200, res)
        st, _, res = api.call("POST", "/api/stories/%s/regenerate/" % story["id"],
                              {"prompt": "a duck who sings", "modifications": "make it rhyme"})
        self.assertEqual(st, 200, res)
        self.assertEqual(res["message"], "Story regenerated successfully")
        self.assertEqual(res["job"]["state"], "succeeded")
        self.assertNotEqual(res["story"]["story_text"], old)
        self.assertTrue(all(s["status"] == "stale" for s in res["story"]["scenes"]))
        st, _, revs = api.call("GET", "/api/stories/%s/revisions/" % story["id"])
        texts = [r["story_text"] for r in (revs.get("results") if isinstance(revs, dict) else revs)]
        self.assertIn(old, texts)
        self.assertEqual(psql("SELECT modifications FROM stories WHERE id = '%s'" % story["id"]), "make it rhyme")
        # generate_audio with a voice.
        st, _, res = api.call("POST", "/api/stories/%s/generate_audio/" % story["id"], {"voice_id": "en-gb-m"})
        self.assertEqual(st, 200, res)
        self.assertEqual(res["message"], "Audio generated successfully")
        self.assertEqual(res["story"]["voice_id"], "en-gb-m")
        self.assertNotEqual(res["story"]["audio_url"], story["audio_url"])
        self.assertEqual(api.call("POST", "/api/stories/%s/generate_audio/" % story["id"],
                                  {"voice_id": "no-such-voice"})[0], 400)

    def test_redraw_only_named_scenes(self):
        api = new_user(self.srv, SHORT)
        st, _, story = api.call("POST", "/api/stories/", {"title": "Kites", "prompt": "a kite festival"})
        self.assertEqual(st, 201, story)
        url = "/api/stories/%s/generate_scenes/" % story["id"]
        st, _, res = api.call("POST", url)
        self.assertEqual(st, 200, res)
        before = scene_images(story["id"])
        self.assertEqual(len(before), 5)
        self.assertTrue(all(before.values()))
        # Only scene 2 is drawn again; the other pictures stay exactly as they were.
        st, _, res = api.call("POST", url, {"scene_numbers": [2]})
        self.assertEqual(st, 200, res)
        self.assertEqual(res["job"]["state"], "succeeded")
        after = scene_images(story["id"])
        self.assertEqual(sorted(after), [1, 2, 3, 4, 5])
        self.assertNotEqual(after[2], before[2])
        self.assertEqual({n: after[n] for n in (1, 3, 4, 5)}, {n: before[n] for n in (1, 3, 4, 5)})
        children = psql("SELECT count(*) FROM jobs WHERE parent_id = '%s'" % res["job"]["id"])
        self.assertEqual(children, "1")
        # Bad lists are refused before anything is queued; a number the story lacks fails the job.
        for bad in ([], [0], ["2"], [1.5], list(range(1, 52))):
            st, _, doc = api.call("POST", url, {"scene_numbers": bad})
            self.assertEqual(st, 400, (bad, doc))
            self.assertIn("scene_numbers", doc)
        st, _, res = api.call("POST", url, {"scene_numbers": [9]})
        self.assertEqual(res["job"]["state"], "failed", res)
        self.assertEqual(scene_images(story["id"]), after)

    def test_idempotency_key_replay_conflict_mismatch(self):
        api = new_user(self.srv, SHORT)
        key = secrets.token_hex(8)
        before = int(psql("SELECT count(*) FROM stories WHERE user_id = %d" % api.user_id))
        body = {"title": "Idem", "prompt": "a snail"}
        st1, h1, d1 = api.call("POST", "/api/stories/", body, headers={"Idempotency-Key": key})
        self.assertEqual(st1, 201)
        st2, h2, d2 = api.call("POST", "/api/stories/", body, headers={"Idempotency-Key": '"%s"' % key})
        self.assertEqual(st2, 201)
        self.assertEqual(d2, d1)
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertEqual(h2["location"], h1["location"])
        st3, _, d3 = api.call("POST", "/api/stories/", {"title": "Other", "prompt": "a snail"},
                              headers={"Idempotency-Key": key})
        self.assertEqual(st3, 422, d3)
        after = int(psql("SELECT count(*) FROM stories WHERE user_id = %d" % api.user_id))
        self.assertEqual(after, before + 1)
        # In flight: a second request with the key while the first still waits gets 409.
        key2 = secrets.token_hex(8)
        results = {}

        def first():
            results["a"] = api.call("POST", "/api/stories/", {"title": "Slow", "prompt": "a long walk"},
                                    headers={"Idempotency-Key": key2})
        t = threading.Thread(target=first)
        t.start()
        wait_until(lambda: psql("SELECT count(*) FROM idempotency_keys WHERE key = '%s'" % key2) == "1",
                   10, 0.02, "the first request")
        st4, h4, d4 = api.call("POST", "/api/stories/", {"title": "Slow", "prompt": "a long walk"},
                               headers={"Idempotency-Key": key2})
        t.join()
        if results["a"][0] == 201 and st4 == 201:
            self.skipTest("the first request finished before the second arrived")
        self.assertEqual(st4, 409, d4)
        self.assertEqual(results["a"][0], 201)


@unittest.skipUnless(DB_URL, "NOVA_TEST_DATABASE_URL not set (run through tools/test)")
class ScenesAtScale(unittest.TestCase):
    def test_twenty_stories_five_scenes_two_forced_failures(self):
        media = tempfile.mkdtemp(prefix="nova-pipe-")
        # Short leases: heartbeats every second race with the claims of new scene jobs (a job
        # claimed while a heartbeat was in flight was once taken for lost).
        env = dict(NOVA_MEDIA_DIR=media, NOVA_WORKERS=24, NOVA_IMAGE_MAX_INFLIGHT=8,
                   NOVA_JOB_MAX_ATTEMPTS=3, NOVA_JOB_LEASE_S=3)
        with server(**env) as srv:
            api = new_user(srv, SHORT)
            stories = []
            for i in range(20):
                st, _, s = api.call("POST", "/api/stories/", {"title": "S%d" % i, "prompt": "tale %d" % i},
                                    headers={"Prefer": "respond-async"})
                self.assertEqual(st, 202, s)
                stories.append(s)
            for s in stories:
                final_job(api, s["job"]["id"], 120)
            fail_at = {3: (2,), 11: (5,)}  # story index -> failing scene numbers
            for i, s in enumerate(stories):
                st, _, d = api.call("PATCH", "/api/stories/%s/" % s["id"],
                                    {"story_text": five_parts("T%d" % i, fail_at.get(i, ()))})
                self.assertEqual(st, 200, d)
            parents = []
            for s in stories:
                st, _, d = api.call("POST", "/api/stories/%s/generate_scenes/" % s["id"],
                                    headers={"Prefer": "respond-async"})
                self.assertEqual(st, 202, d)
                parents.append(d["job"]["id"])
            finals = [final_job(api, p, 180) for p in parents]
            ready = failed = 0
            for i, s in enumerate(stories):
                st, _, d = api.call("GET", "/api/stories/%s/" % s["id"])
                scenes = {c["scene_number"]: c for c in d["scenes"]}
                self.assertEqual(sorted(scenes), [1, 2, 3, 4, 5])
                for n, c in scenes.items():
                    if n in fail_at.get(i, ()):
                        self.assertEqual(c["status"], "failed")
                        self.assertIn("forced failure", c["error"])
                        self.assertIsNone(c["image_url"])
                        failed += 1
                    else:
                        self.assertEqual(c["status"], "ready", c)
                        self.assertTrue(c["image_url"])
                        ready += 1
                self.assertEqual(finals[i]["state"], "partial" if i in fail_at else "succeeded")
                self.assertEqual(finals[i]["children"]["total"], 5)
            self.assertEqual((ready, failed), (98, 2))
            # No job was taken for lost, so every picture was drawn in one attempt.
            self.assertEqual(psql("SELECT max(attempt) FROM jobs WHERE kind = 'scene' AND story_id IN (%s)"
                                  % ",".join("'%s'" % s["id"] for s in stories)), "1")
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            c.request("GET", "/metrics")
            metrics = c.getresponse().read().decode()
            c.close()
            self.assertIn("\nnova_jobs_leases_lost_total 0\n", metrics)
            # A failed scene never retried forever: one attempt (content failures are final).
            self.assertEqual(psql("SELECT max(attempt) FROM jobs WHERE kind = 'scene' AND state = 'failed' "
                                  "AND story_id IN (%s)" % ",".join("'%s'" % s["id"] for s in stories)), "1")
            # Regenerating the scenes replaces every picture only once its successor is ready.
            old = scene_images(stories[0]["id"])
            st, _, d = api.call("POST", "/api/stories/%s/generate_scenes/" % stories[0]["id"])
            self.assertEqual(st, 200, d)
            new = scene_images(stories[0]["id"])
            for c in d["scenes"]:
                self.assertIn("/media/" + new[c["scene_number"]], c["image_url"])
            for n in old:
                self.assertNotEqual(old[n], new[n])
                self.assertFalse(os.path.exists(os.path.join(media, old[n])))
                self.assertTrue(os.path.exists(os.path.join(media, new[n])))


@unittest.skipUnless(DB_URL, "NOVA_TEST_DATABASE_URL not set (run through tools/test)")
class CrashAndCluster(unittest.TestCase):
    def test_kill_minus_nine_during_scene_generation(self):
        media = tempfile.mkdtemp(prefix="nova-pipe-")
        env = dict(NOVA_MEDIA_DIR=media, NOVA_WORKERS=8, NOVA_IMAGE_MAX_INFLIGHT=3,
                   NOVA_JOB_LEASE_S=3, NOVA_TEST_IMAGE_DELAY_MS=400)
        srv = server(**env).start()
        api = new_user(srv, SHORT)
        stories = []
        for i in range(4):
            st, _, s = api.call("POST", "/api/stories/", {"title": "K%d" % i, "prompt": "crash %d" % i})
            self.assertEqual(st, 201, s)
            api.call("PATCH", "/api/stories/%s/" % s["id"], {"story_text": five_parts("K%d" % i)})
            stories.append(s)
        parents = []
        for s in stories:
            st, _, d = api.call("POST", "/api/stories/%s/generate_scenes/" % s["id"],
                                headers={"Prefer": "respond-async"})
            parents.append(d["job"]["id"])
        ids = ",".join("'%s'" % p for p in parents)
        wait_until(lambda: int(psql("SELECT count(*) FROM jobs WHERE parent_id IN (%s) AND state = 'succeeded'" % ids)) >= 3,
                   60, 0.05, "some scenes done")
        srv.proc.kill()
        srv.proc.wait()
        running = int(psql("SELECT count(*) FROM jobs WHERE parent_id IN (%s) AND state = 'running'" % ids))
        self.assertGreater(running, 0)  # the crash left leases behind
        srv2 = server(**env)
        srv2.port = srv.port
        srv2.env["NOVA_LISTEN"] = "127.0.0.1:%d" % srv.port
        srv2.start()
        try:
            for p in parents:
                j = final_job(api, p, 120)
                self.assertEqual(j["state"], "succeeded", j)
            for s in stories:
                st, _, d = api.call("GET", "/api/stories/%s/" % s["id"])
                nums = [c["scene_number"] for c in d["scenes"]]
                self.assertEqual(sorted(nums), [1, 2, 3, 4, 5])
                self.assertTrue(all(c["status"] == "ready" and c["image_url"] for c in d["scenes"]))
                images = scene_images(s["id"])
                folder = os.path.join(media, os.path.dirname(images[1]))
                files = sorted(f for f in os.listdir(folder) if not f.startswith("."))
                self.assertEqual(files, sorted(os.path.basename(p) for p in images.values()))
                self.assertTrue(d["story_text"].startswith("Part 1"))
            rescued = int(psql("SELECT count(*) FROM jobs WHERE parent_id IN (%s) AND attempt > 1" % ids))
            self.assertGreater(rescued, 0)
        finally:
            self.assertEqual(srv2.stop(), 0, srv2.read_log()[-3000:])

    def test_two_processes_share_work_and_events(self):
        media = tempfile.mkdtemp(prefix="nova-pipe-")
        env = dict(NOVA_MEDIA_DIR=media, NOVA_WORKERS=4, NOVA_IMAGE_MAX_INFLIGHT=4,
                   NOVA_TEST_IMAGE_DELAY_MS=150)
        with server(**env) as a, server(**env) as b:
            api_b = new_user(b, SHORT)
            api_a = Api(a, api_b.token)
            sse = SSE(a.port, "/api/events/", api_b.token)
            stories = []
            for i in range(6):
                st, _, s = api_b.call("POST", "/api/stories/", {"title": "M%d" % i, "prompt": "two %d" % i})
                self.assertEqual(st, 201, s)
                stories.append(s)
            parents = []
            for s in stories:
                st, _, d = api_b.call("POST", "/api/stories/%s/generate_scenes/" % s["id"],
                                      headers={"Prefer": "respond-async"})
                parents.append(d["job"]["id"])
            for p in parents:
                self.assertEqual(final_job(api_a, p, 120)["state"], "succeeded")
            # Every scene job ran exactly once, and both processes ran some.
            started = {}
            for srv in (a, b):
                for m in re.finditer(r'job ([0-9a-f-]{36}) \(scene\) attempt (\d+)/\d+ started', srv.read_log()):
                    started.setdefault(m.group(1), []).append(srv.port)
            ids = psql("SELECT id FROM jobs WHERE parent_id IN (%s)" % ",".join("'%s'" % p for p in parents)).split()
            self.assertEqual(len(ids), 30)
            self.assertEqual(sorted(started), sorted(ids))
            self.assertTrue(all(len(v) == 1 for v in started.values()))
            ports = {v[0] for v in started.values()}
            self.assertEqual(ports, {a.port, b.port})
            # The stream on A saw every scene.ready, whichever process drew it.
            sse.wait_for(lambda e: len([x for x in sse.events if x["event"] == "scene.ready"]) >= 30, 30)
            sse.close()

    def test_fairness_between_users(self):
        media = tempfile.mkdtemp(prefix="nova-pipe-")
        env = dict(NOVA_MEDIA_DIR=media, NOVA_WORKERS=2, NOVA_IMAGE_MAX_INFLIGHT=2,
                   NOVA_TEST_IMAGE_DELAY_MS=200)
        with server(**env) as srv:
            heavy, light = new_user(srv, SHORT), new_user(srv, SHORT)
            hs = []
            for i in range(4):
                st, _, s = heavy.call("POST", "/api/stories/", {"title": "H%d" % i, "prompt": "busy %d" % i})
                hs.append(s)
            st, _, ls = light.call("POST", "/api/stories/", {"title": "L", "prompt": "one"})
            hp = [heavy.call("POST", "/api/stories/%s/generate_scenes/" % s["id"],
                             headers={"Prefer": "respond-async"})[2]["job"]["id"] for s in hs]
            time.sleep(0.3)
            t0 = time.time()
            lp = light.call("POST", "/api/stories/%s/generate_scenes/" % ls["id"],
                            headers={"Prefer": "respond-async"})[2]["job"]["id"]
            final_job(light, lp, 60)
            light_done = time.time() - t0
            # 20 heavy scenes at 2 x 200 ms need ~2 s; the light user's 5 go round-robin.
            pending = int(psql("SELECT count(*) FROM jobs WHERE parent_id IN (%s) AND state IN ('available', 'running')"
                               % ",".join("'%s'" % p for p in hp)))
            self.assertGreater(pending, 0, "the heavy user's backlog finished first: %.2fs" % light_done)
            for p in hp:
                final_job(heavy, p, 60)


if __name__ == "__main__":
    unittest.main()
