#!/usr/bin/env python3
"""A small stand-in for the Nova Storyteller API (Python standard library only), for developing
and testing the browser app before every backend endpoint exists.

It serves src/web at / and /assets/, keeps everything in memory, and mimics the real API's
shapes: Token auth, DRF pagination, stories with durable-looking jobs (Prefer: respond-async
answers 202 at once, otherwise the request waits for the job), server-sent events with stored
ids that a client replays with ?last_event_id= (job.queued/progress/succeeded/failed,
story.delta with its UTF-8 byte offset, story.ready, audio.ready, scene.queued/started/ready/
failed), narration as a WAV tone with a marks.json of word timings (UTF-8 byte offsets), scene
pictures as SVG, revisions with their reason, comprehension questions and the safety verdict,
sessions with position_ms, playlists with ordered story_ids, settings with the reference's
validation, users. A story idea with a mild word ("kill...") gets safety action "rewritten".

    python3 tests/e2e/fake_api.py [--port 0] [--web src/web]

prints "READY <port>" on stdout when it listens. FAKE_FAIL_SCENE=<n> makes scene n fail on its
first attempt (to exercise retry); FAKE_SPEED=<factor> scales every delay (default 1).
"""
import argparse
import datetime
import email.parser
import io
import json
import math
import os
import re
import secrets
import struct
import sys
import threading
import time
import uuid
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SPEED = float(os.environ.get("FAKE_SPEED", "1"))
FAIL_SCENE = int(os.environ.get("FAKE_FAIL_SCENE", "0") or 0)
TEMPLATES = ["adventure", "fantasy", "sci-fi", "mystery", "educational"]
VOICES = [("Joanna", "Female"), ("Matthew", "Male"), ("Ivy", "Female"), ("Joey", "Male"),
          ("Justin", "Male"), ("Kendra", "Female"), ("Kimberly", "Female"), ("Salli", "Female")]
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
         ".json": "application/json"}

LOCK = threading.RLock()
USERS = {}      # id -> dict (with password)
TOKENS = {}     # token -> user id
STORIES = {}    # id -> dict
REVISIONS = {}  # story id -> [rev]
SESSIONS = {}   # id -> dict
PLAYLISTS = {}  # id -> dict
SETTINGS = {}   # user id -> dict
JOBS = {}       # id -> dict
MEDIA = {}      # name -> (content type, bytes)
TICKETS = {}    # ticket -> user id
EVENTS = []     # (id, user id, story id, type, data): the stored events, replayable
EVENT_COND = threading.Condition(LOCK)
SCENE_ATTEMPTS = {}
NEXT_USER = [1]


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def nap(s):
    time.sleep(s * SPEED)


def publish(user_id, story_id, etype, data, job=None):
    data = dict(data, story_id=story_id)
    if job is not None:
        data["job_id"] = job["id"]
    with EVENT_COND:
        EVENTS.append((len(EVENTS) + 1, user_id, story_id, etype, data))
        EVENT_COND.notify_all()


# ---- media -----------------------------------------------------------------------------

def make_wav(seconds):
    rate = 8000
    n = int(seconds * rate)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for i in range(n):
            v = int(1200 * math.sin(2 * math.pi * 220 * i / rate) * (0.5 + 0.5 * math.sin(i / 900)))
            frames += struct.pack("<h", v)
        w.writeframes(bytes(frames))
    return buf.getvalue()


def make_marks(text):
    marks = []
    t = 300
    for m in re.finditer(r"[A-Za-z0-9'\u2019\u00C0-\u024F]+", text):
        start = len(text[:m.start()].encode("utf-8"))
        end = start + len(m.group(0).encode("utf-8"))
        marks.append({"time": t, "type": "word", "start": start, "end": end, "value": m.group(0)})
        t += 280
    return marks, t + 400


def scene_svg(n, text):
    colors = ["#fde68a", "#bfdbfe", "#fbcfe8", "#bbf7d0", "#ddd6fe", "#fed7aa", "#a5f3fc", "#e9d5ff"]
    c = colors[(n - 1) % len(colors)]
    words = (text or "").split()[:6]
    return ("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 400 600' width='400' height='600'>"
            "<rect width='400' height='600' fill='%s'/><circle cx='300' cy='120' r='60' fill='#facc15'/>"
            "<path d='M0 470 Q100 400 200 470 T400 470 V600 H0z' fill='#86efac'/>"
            "<circle cx='170' cy='380' r='46' fill='#fb923c'/><circle cx='155' cy='370' r='6' fill='#1c1917'/>"
            "<circle cx='185' cy='370' r='6' fill='#1c1917'/>"
            "<text x='200' y='80' font-size='42' text-anchor='middle' font-family='sans-serif' fill='#7c2d12'>Scene %d</text>"
            "<text x='200' y='560' font-size='20' text-anchor='middle' font-family='sans-serif' fill='#1c1917'>%s</text>"
            "</svg>") % (c, n, " ".join(w.replace("<", "").replace("&", "") for w in words))


def media_url(handler, name):
    return "http://%s/media/%s?expires=9999999999&sig=fake" % (handler.headers.get("Host"), name)


# ---- shapes ------------------------------------------------------------------------------

def story_parts(text):
    parts = []
    for m in re.finditer(r"^Part (\d+): [^\n]*\n(.*?)(?=^Part \d+:|\Z)", text, re.M | re.S):
        parts.append((int(m.group(1)), m.group(2).strip()))
    return parts or [(1, text.strip())]


def story_json(s, host, full=True):
    d = {k: s[k] for k in ("id", "user", "title", "template", "is_published", "created_at", "updated_at",
                           "status", "provider", "audio_duration_ms")}
    d["user_name"] = USERS[s["user"]]["username"]
    d["image_url"] = ("http://%s/media/%s" % (host, s["image"])) if s.get("image") else None
    d["audio_url"] = ("http://%s/media/%s?expires=9999999999&sig=fake" % (host, s["audio"])) if s.get("audio") else None
    if not full:
        return d
    d.update({k: s[k] for k in ("prompt", "story_text", "image_description", "voice_id", "questions", "safety")})
    d["system_prompt_used"] = "(fake)"
    d["marks_url"] = ("http://%s/media/%s?expires=9999999999&sig=fake" % (host, s["marks"])) if s.get("marks") else None
    d["scenes"] = [dict(sc, image_url=("http://%s/media/%s" % (host, sc["image"])) if sc.get("image") else None)
                   for sc in sorted(s["scenes"], key=lambda x: x["scene_number"])]
    for sc in d["scenes"]:
        sc.pop("image", None)
    return d


TERMINAL = ("succeeded", "partial", "failed", "cancelled")


def job_json(j):
    d = {k: j[k] for k in ("id", "kind", "state", "progress", "step", "error", "created_at")}
    d.update(story=j["story_id"], parent=j.get("parent"), result=None, attempt=1, max_attempts=5,
             events_url="/api/stories/%s/events/" % j["story_id"], url="/api/jobs/%s/" % j["id"])
    return d


def new_job(kind, story, parent=None):
    jid = str(uuid.uuid4())
    j = {"id": jid, "kind": kind, "state": "available", "progress": 0, "story_id": story["id"],
         "error": None, "step": None, "user": story["user"], "parent": parent, "created_at": now_iso(),
         "done": threading.Event()}
    with LOCK:
        JOBS[jid] = j
    publish(story["user"], story["id"], "job.queued", {"kind": kind, "state": "available"}, j)
    return j


def progress(j, pct, step):
    j["state"] = "running"
    j["progress"] = pct
    j["step"] = step
    publish(j["user"], j["story_id"], "job.progress", {"percent": pct, "step": step, "kind": j["kind"]}, j)


def finish(j, ok=True, error=None, state=None):
    j["state"] = state or ("succeeded" if ok else "failed")
    j["progress"] = 100 if ok else j["progress"]
    j["step"] = "done" if ok else j["step"]
    j["error"] = error
    publish(j["user"], j["story_id"], "job.succeeded" if ok else "job.failed",
            {"kind": j["kind"], "state": j["state"], "error": error, "result": None}, j)
    j["done"].set()


# ---- simulated work -------------------------------------------------------------------------

def compose(s, modifications=""):
    hero = "Pip"
    extra = (" " + modifications.strip()) if modifications else ""
    return ("Part 1: A New Day\nOnce upon a time, %s woke up to a sky full of pink clouds. "
            "\u201cToday feels special,\u201d %s whispered.%s\n\n"
            "Part 2: The Problem\nA little bird could not find its way home, and it began to cry softly.\n\n"
            "Part 3: Helping Out\n%s and the bird followed the river, counting stones: one, two, three. Splash!\n\n"
            "Part 4: Home Again\nAt last they saw the old oak tree. The bird sang a thank-you song, "
            "and everyone learned that kindness makes the way shorter." % (hero, hero, extra, hero))


def narrate(s, j, base):
    progress(j, base, "narrating")
    nap(0.3)
    marks, dur = make_marks(s["story_text"])
    audio = "audio_%s_%d.wav" % (s["id"], int(time.time() * 1000))
    mname = "marks_%s_%d.json" % (s["id"], int(time.time() * 1000))
    MEDIA[audio] = ("audio/wav", make_wav(dur / 1000.0))
    MEDIA[mname] = ("application/json", json.dumps(marks).encode())
    s["audio"], s["marks"], s["audio_duration_ms"] = audio, mname, dur
    publish(s["user"], s["id"], "audio.ready", {"audio_url": "/media/" + audio, "duration_ms": dur,
                                                "marks_url": "/media/" + mname}, j)


def run_story(s, j, modifications="", with_audio=True):
    nap(0.4)
    progress(j, 1, "starting")
    if s.get("image"):
        progress(j, 5, "describing the picture")
        nap(0.3)
        s["image_description"] = "A bright drawing with a smiling orange sun and green hills."
        publish(s["user"], s["id"], "image.described", {"description": s["image_description"]}, j)
    old = s["story_text"]
    text = compose(s, modifications)
    s["status"] = "generating"
    chunks = re.findall(r"\S+\s*", text)
    written = ""
    for i in range(0, len(chunks), 4):
        piece = "".join(chunks[i:i + 4])
        publish(s["user"], s["id"], "story.delta", {"text": piece, "offset": len(written.encode("utf-8"))}, j)
        written += piece
        progress(j, 15 + int(40 * i / max(1, len(chunks))), "writing")
        nap(0.12)
    progress(j, 58, "saving text")
    if j["kind"] == "regenerate" and old and old != text:
        add_revision(s, old, "regenerate", USERS[s["user"]])
        for sc in s["scenes"]:
            sc["status"] = "stale"
    s["story_text"] = text
    s["questions"] = [{"question": "Who needed help in the story?", "answer": "A little bird that was lost."},
                      {"question": "What would you do to help a friend?", "answer": "Any kind answer is right!"},
                      "Which part made you smile?"]
    mild = re.search(r"\bkill", s["prompt"], re.I)
    s["safety"] = {"action": "rewritten" if mild else "allowed", "reasons": ["violence"] if mild else []}
    s["updated_at"] = now_iso()
    publish(s["user"], s["id"], "story.ready", {"title": s["title"], "provider": "fake-composer", "words": len(text.split())}, j)
    if with_audio:
        narrate(s, j, 60)
    s["status"] = "ready"
    finish(j)


def add_revision(s, text, reason, user):
    REVISIONS.setdefault(s["id"], []).insert(0, {
        "id": str(uuid.uuid4()), "story": s["id"], "story_text": text, "prompt": s["prompt"],
        "template": s["template"], "reason": reason, "created_at": now_iso(), "created_by": user["id"],
        "created_by_name": user["username"]})


def run_audio(s, j):
    nap(0.3)
    narrate(s, j, 30)
    nap(0.2)
    finish(j)


def draw_scene(s, parent, number, text):
    """One child job per scene, as the real server does; a failure is final for that attempt."""
    j = new_job("scene", s, parent["id"])
    key = (s["id"], number)
    SCENE_ATTEMPTS[key] = SCENE_ATTEMPTS.get(key, 0) + 1
    sc = next((x for x in s["scenes"] if x["scene_number"] == number), None)
    sc["status"] = "generating"
    progress(j, 20, "drawing")
    publish(s["user"], s["id"], "scene.started", {"scene_number": number, "attempt": 1}, j)
    nap(0.5)
    if number == FAIL_SCENE and SCENE_ATTEMPTS[key] == 1:
        sc["status"] = "failed"
        sc["error"] = "The painter dropped the brush."
        publish(s["user"], s["id"], "scene.failed", {"scene_number": number, "error": sc["error"]}, j)
        finish(j, False, sc["error"])
        return False
    name = "scene_%s_%d_%d.svg" % (s["id"], number, int(time.time() * 1000))
    MEDIA[name] = ("image/svg+xml", scene_svg(number, text).encode())
    sc["image"] = name
    sc["status"] = "ready"
    sc["error"] = None
    publish(s["user"], s["id"], "scene.ready", {"scene_number": number, "image_url": "/media/" + name, "image": name}, j)
    finish(j)
    return True


def run_scenes(s, j, only=None):
    # Every part gets a scene row at once (announced with scene.queued); every picture is
    # drawn again, and a finished one is replaced only when its successor is ready. With
    # scene_numbers, only those are drawn and the other scenes stay as they are.
    parts = story_parts(s["story_text"])
    if only:
        keep_all = list(s["scenes"])
        parts = [(n, t) for n, t in parts if n in only]
        progress(j, 10, "scenes queued")
        publish(s["user"], s["id"], "scene.queued", {"count": len(parts)}, j)
        for sc in keep_all:
            if sc["scene_number"] in only:
                sc.update(status="pending", error=None, updated_at=now_iso())
        ok = sum(draw_scene(s, j, n, text) for n, text in parts)
        state = "succeeded" if parts and ok == len(parts) else "partial" if ok else "failed"
        return finish(j, ok > 0, None if ok else "The story has none of the scenes asked for.", state)
    progress(j, 10, "scenes queued")
    keep = {sc["scene_number"]: sc for sc in s["scenes"]}
    s["scenes"] = []
    for n, text in parts:
        sc = keep.get(n) or {"id": str(uuid.uuid4()), "story": s["id"], "scene_number": n, "image": None,
                             "prompt_used": "fake", "created_at": now_iso()}
        sc.update(scene_text=text, status="pending", error=None, updated_at=now_iso())
        s["scenes"].append(sc)
    publish(s["user"], s["id"], "scene.queued", {"count": len(parts)}, j)
    ok = 0
    for n, text in parts:
        ok += draw_scene(s, j, n, text)
    state = "succeeded" if ok == len(parts) else "partial" if ok else "failed"
    finish(j, ok > 0, None if ok else "Failed to generate any scenes. Please try again.", state)


def start(fn, *args):
    threading.Thread(target=fn, args=args, daemon=True).start()


# ---- HTTP --------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    web_dir = "src/web"

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_LOG"):
            sys.stderr.write("fake-api: " + fmt % args + "\n")

    # responses
    def send(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if body or status not in (204, 304):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def detail(self, status, msg):
        self.send(status, {"detail": msg})

    def body_json(self):
        raw = self.raw
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser().parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
            out, files = {}, {}
            for part in msg.get_payload() or []:
                name = part.get_param("name", header="content-disposition")
                if part.get_filename():
                    files[name] = (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
                else:
                    out[name] = part.get_payload(decode=True).decode("utf-8", "replace")
            out["_files"] = files
            return out
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def user(self):
        h = self.headers.get("Authorization", "")
        if h.startswith("Token "):
            return USERS.get(TOKENS.get(h[6:]))
        return None

    def route(self):
        u = urlsplit(self.path)
        self.q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        return u.path

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_PUT(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def static(self, path):
        rel = "index.html" if path == "/" else path[len("/assets/"):]
        if not re.fullmatch(r"([A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*", rel):
            return self.detail(404, "Not found.")
        full = os.path.join(self.web_dir, rel)
        if not os.path.isfile(full):
            return self.detail(404, "Not found.")
        with open(full, "rb") as f:
            data = f.read()
        ext = os.path.splitext(rel)[1]
        self.send(200, data, TYPES.get(ext, "application/octet-stream"), {"Cache-Control": "no-cache"})

    def dispatch(self, method):
        path = self.route()
        # Read the whole body first so that keep-alive connections stay in step.
        n = int(self.headers.get("Content-Length") or 0)
        self.raw = self.rfile.read(n) if n else b""
        try:
            if method == "GET" and (path == "/" or path.startswith("/assets/")):
                return self.static(path)
            if method == "GET" and path.startswith("/media/"):
                item = MEDIA.get(path[len("/media/"):])
                if not item:
                    return self.detail(404, "Not found.")
                return self.media(item)
            if not path.startswith("/api/"):
                return self.detail(404, "Not found.")
            return self.api(method, path[4:])
        except (BrokenPipeError, ConnectionResetError):
            pass

    def media(self, item):
        ctype, data = item
        rng = self.headers.get("Range")
        m = re.match(r"bytes=(\d*)-(\d*)$", rng or "")
        if m and (m.group(1) or m.group(2)):
            size = len(data)
            if m.group(1):
                a = int(m.group(1))
                b = int(m.group(2)) if m.group(2) else size - 1
            else:
                a = max(0, size - int(m.group(2)))
                b = size - 1
            b = min(b, size - 1)
            if a > b:
                return self.send(416, b"", ctype, {"Content-Range": "bytes */%d" % size})
            return self.send(206, data[a:b + 1], ctype, {"Content-Range": "bytes %d-%d/%d" % (a, b, size), "Accept-Ranges": "bytes"})
        self.send(200, data, ctype, {"Accept-Ranges": "bytes"})

    # ---- API -------------------------------------------------------------------------------
    def api(self, method, p):
        host = self.headers.get("Host")
        if p == "/register/" and method == "POST":
            return self.register()
        if p == "/login/" and method == "POST":
            b = self.body_json() or {}
            for u in USERS.values():
                if u["email"] == b.get("email") and u["password"] == b.get("password"):
                    if not u["is_active"]:
                        return self.send(401, {"error": "User account is disabled"})
                    return self.send(200, self.login_shape(u))
            return self.send(401, {"error": "Invalid email or password"})
        if p == "/health-check/":
            return self.send(200, {"status": "ok"})
        # EventSource cannot send headers: the one-time ticket is the credential.
        if p == "/events/" and method == "GET":
            return self.sse(None)
        m = re.fullmatch(r"/stories/([0-9a-f-]{36})/events/", p)
        if m and method == "GET":
            return self.sse(m.group(1))
        user = self.user()
        if p == "/logout/" and method == "POST":
            if user:
                for t in [t for t, uid in TOKENS.items() if uid == user["id"]]:
                    TOKENS.pop(t)
            return self.send(200, {"message": "Successfully logged out"})
        if not user:
            return self.detail(401, "Authentication credentials were not provided.")
        if p == "/events/ticket/" and method == "POST":
            t = secrets.token_urlsafe(24)
            TICKETS[t] = user["id"]
            return self.send(200, {"ticket": t, "expires_in": 60})
        if p == "/current-user/":
            return self.send(200, self.login_shape(user))
        if p == "/providers/":
            return self.send(200, {"providers": [{"kind": "text", "name": "fake-composer", "active": True},
                                                 {"kind": "speech", "name": "fake-tone", "active": True},
                                                 {"kind": "image", "name": "fake-svg", "active": True}]})
        if p == "/dashboard-stats/":
            return self.dashboard(user)
        if p == "/story-settings/":
            return self.settings(user, method)
        if p.startswith("/stories/"):
            return self.stories(user, method, p, host)
        m = re.fullmatch(r"/jobs/([0-9a-f-]{36})/", p)
        if m:
            j = JOBS.get(m.group(1))
            if not j or j["user"] != user["id"]:
                return self.detail(404, "Not found.")
            return self.send(200, job_json(j))
        if p.startswith("/story-sessions/"):
            return self.sessions(user, method, p)
        if p.startswith("/playlists/"):
            return self.playlists(user, method, p, host)
        if p.startswith("/users/"):
            return self.users(user, method, p)
        return self.detail(404, "Not found.")

    def login_shape(self, u):
        tok = next((t for t, uid in TOKENS.items() if uid == u["id"]), None) or secrets.token_hex(20)
        TOKENS[tok] = u["id"]
        role = "Admin" if u["is_superuser"] else "Staff" if u["is_staff"] else "User"
        return {"id": u["id"], "email": u["email"], "username": u["username"], "firstName": u["first_name"],
                "lastName": u["last_name"], "role": role, "is_staff": u["is_staff"],
                "is_superuser": u["is_superuser"], "token": tok}

    def register(self):
        b = self.body_json() or {}
        errs = {}
        un = str(b.get("username", ""))
        if not 4 <= len(un) <= 150:
            errs["username"] = ["Ensure this field has at least 4 characters."]
        if any(u["username"] == un for u in USERS.values()):
            errs["username"] = ["A user with that username already exists."]
        if "@" not in str(b.get("email", "")):
            errs["email"] = ["Enter a valid email address."]
        elif any(u["email"] == b.get("email") for u in USERS.values()):
            errs["email"] = ["A user with this email already exists."]
        if len(str(b.get("password", ""))) < 8:
            errs["password"] = ["Ensure this field has at least 8 characters."]
        if b.get("password") != b.get("confirm_password"):
            errs["confirm_password"] = ["Passwords do not match."]
        if b.get("accept_terms") is not True:
            errs["accept_terms"] = ["You must accept the terms."]
        if errs:
            return self.send(400, {"error": "Validation failed", "details": errs})
        uid = NEXT_USER[0]
        NEXT_USER[0] += 1
        first = not USERS
        USERS[uid] = {"id": uid, "username": un, "email": b["email"], "first_name": b.get("first_name", ""),
                      "last_name": b.get("last_name", ""), "password": b["password"], "is_active": True,
                      "is_staff": first, "is_superuser": False, "date_joined": now_iso()}
        d = self.login_shape(USERS[uid])
        d["message"] = "Registration successful"
        return self.send(201, d)

    def paginate(self, items, path):
        page = max(1, int(self.q.get("page", "1") or 1))
        size = min(100, max(1, int(self.q.get("page_size", "10") or 10)))
        total = len(items)
        if page > 1 and (page - 1) * size >= total:
            return None
        res = items[(page - 1) * size: page * size]
        base = "http://%s/api%s" % (self.headers.get("Host"), path)
        nxt = "%s?page=%d&page_size=%d" % (base, page + 1, size) if page * size < total else None
        prv = "%s?page=%d&page_size=%d" % (base, page - 1, size) if page > 1 else None
        return {"count": total, "next": nxt, "previous": prv, "results": res}

    def sse(self, story_id):
        t = self.q.get("ticket")
        uid = TICKETS.pop(t, None) if t else None
        if uid is None:
            return self.detail(401, "Invalid or used ticket.")
        if story_id and (story_id not in STORIES or STORIES[story_id]["user"] != uid):
            return self.detail(404, "Not found.")
        # Live events start now; Last-Event-ID (or ?last_event_id=, 0 = everything) replays the
        # stored ones after that id first, as the real server does.
        last = self.headers.get("Last-Event-ID") or self.q.get("last_event_id")
        with LOCK:
            pos = len(EVENTS) if last is None or not last.isdigit() else min(int(last), len(EVENTS))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"retry: 3000\n: connected\n\n")
            self.wfile.flush()
            while True:
                with EVENT_COND:
                    if pos >= len(EVENTS):
                        EVENT_COND.wait(timeout=10)
                    batch = EVENTS[pos:]
                    pos = len(EVENTS)
                out = [("id: %d\nevent: %s\ndata: %s\n\n" % (eid, etype, json.dumps(data)))
                       for eid, u, sid, etype, data in batch if u == uid and (story_id is None or sid == story_id)]
                self.wfile.write(("".join(out) or ": ping\n\n").encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    def dashboard(self, user):
        mine = [s for s in STORIES.values() if s["user"] == user["id"]]
        sess = [s for s in SESSIONS.values() if s["user"] == user["id"]]
        today = datetime.date.today()
        days = [today - datetime.timedelta(days=i) for i in range(6, -1, -1)]
        by_tpl = {}
        for s in mine:
            by_tpl[s["template"]] = by_tpl.get(s["template"], 0) + 1
        secs = sum(int(x.get("position_ms") or 0) // 1000 for x in sess)
        return self.send(200, {
            "stats": {"total_stories": len(mine), "total_sessions": len(sess),
                      "total_playlists": len([p for p in PLAYLISTS.values() if p["user"] == user["id"]]),
                      "total_users": len(USERS), "recent_stories": len(mine),
                      "total_listening_time_seconds": secs,
                      "total_listening_time_formatted": "%dh %dm" % (secs // 3600, secs % 3600 // 60),
                      "published_stories": len([s for s in mine if s["is_published"]]),
                      "draft_stories": len([s for s in mine if not s["is_published"]])},
            "charts": {
                "story_creation": [{"date": d.isoformat(), "label": d.strftime("%b %d"),
                                    "count": len([s for s in mine if s["created_at"][:10] == d.isoformat()])} for d in days],
                "session_activity": [{"date": d.isoformat(), "label": d.strftime("%b %d"),
                                      "count": len([s for s in sess if s["started_at"][:10] == d.isoformat()])} for d in days],
                "stories_by_template": [{"label": k, "value": v} for k, v in by_tpl.items()],
                "stories_by_month": [{"label": today.strftime("%b %Y"), "count": len(mine)}],
            },
            "recent_stories": [{"id": s["id"], "title": s["title"], "created_at": s["created_at"],
                                "is_published": s["is_published"], "status": s["status"]}
                               for s in sorted(mine, key=lambda s: s["created_at"], reverse=True)[:10]],
            "is_admin": user["is_staff"], "timestamp": now_iso()})

    def settings(self, user, method):
        cur = SETTINGS.setdefault(user["id"], {
            "id": user["id"], "user": user["id"], "age_range": "6-8", "genre_preference": "mixed",
            "language_level": "moderate", "moral_theme": "mixed", "include_diversity": True,
            "include_sensory_details": True, "include_interactive_questions": True, "max_word_count": 800,
            "story_parts": 5, "include_sound_effects": True, "explain_complex_words": True,
            "created_at": now_iso(), "updated_at": now_iso()})
        if method == "GET":
            return self.send(200, cur)
        b = self.body_json() or {}
        errs = {}
        choices = {"age_range": ["3-5", "6-8", "9-12"], "genre_preference": TEMPLATES + ["mixed"],
                   "language_level": ["simple", "moderate", "advanced"],
                   "moral_theme": ["friendship", "kindness", "bravery", "curiosity", "teamwork", "growth", "empathy", "mixed"]}
        for k, allowed in choices.items():
            if k in b and b[k] not in allowed:
                errs[k] = ['"%s" is not a valid choice.' % b[k]]
        if "story_parts" in b and not (isinstance(b["story_parts"], int) and 3 <= b["story_parts"] <= 8):
            errs["story_parts"] = ["Story parts must be between 3 and 8."]
        if "max_word_count" in b and not (isinstance(b["max_word_count"], int) and 100 <= b["max_word_count"] <= 2000):
            errs["max_word_count"] = ["Max word count must be between 100 and 2000."]
        if errs:
            return self.send(400, errs)
        for k in list(choices) + ["story_parts", "max_word_count", "include_diversity", "include_sensory_details",
                                  "include_interactive_questions", "include_sound_effects", "explain_complex_words"]:
            if k in b:
                cur[k] = b[k]
        cur["updated_at"] = now_iso()
        return self.send(200, cur)

    def stories(self, user, method, p, host):
        if p == "/stories/available_voices/":
            return self.send(200, {"language_code": "en-US", "voices": [
                {"id": v, "name": v, "gender": g, "neural": True} for v, g in VOICES]})
        if p == "/stories/":
            if method == "GET":
                items = [s for s in STORIES.values() if s["user"] == user["id"]]
                for term in self.q.get("search", "").lower().split():
                    items = [s for s in items if term in (s["title"] + s["prompt"] + s["story_text"]).lower()]
                items.sort(key=lambda s: s["created_at"], reverse=True)
                page = self.paginate([story_json(s, host, full=False) for s in items], "/stories/")
                return self.send(200, page) if page else self.detail(404, "Invalid page.")
            if method == "POST":
                b = self.body_json() or {}
                errs = {}
                if not str(b.get("title", "")).strip():
                    errs["title"] = ["This field is required."]
                if not str(b.get("prompt", "")).strip():
                    errs["prompt"] = ["This field is required."]
                tpl = b.get("template") or "adventure"
                if tpl not in TEMPLATES:
                    errs["template"] = ['"%s" is not a valid choice.' % tpl]
                if errs:
                    return self.send(400, errs)
                sid = str(uuid.uuid4())
                s = {"id": sid, "user": user["id"], "title": b["title"].strip()[:200], "prompt": b["prompt"],
                     "template": tpl, "is_published": False, "created_at": now_iso(), "updated_at": now_iso(),
                     "status": "generating", "provider": "fake-composer", "audio_duration_ms": None,
                     "story_text": "", "image_description": "", "voice_id": b.get("voice_id") or "Joanna",
                     "questions": [], "safety": None, "scenes": [], "image": None, "audio": None, "marks": None}
                f = (b.get("_files") or {}).get("image")
                if f:
                    name = "image_%s%s" % (sid, os.path.splitext(f[0])[1] or ".png")
                    MEDIA[name] = (f[1], f[2])
                    s["image"] = name
                STORIES[sid] = s
                j = new_job("create", s)
                start(run_story, s, j)
                return self.job_answer(j, lambda: story_json(s, host), 201)
            return self.detail(405, "Method not allowed.")
        m = re.fullmatch(r"/stories/([0-9a-f-]{36})/(.*)", p)
        if not m:
            return self.detail(404, "Not found.")
        s = STORIES.get(m.group(1))
        if not s or s["user"] != user["id"]:
            return self.detail(404, "Not found.")
        rest = m.group(2)
        if rest == "":
            if method == "GET":
                return self.send(200, story_json(s, host))
            if method == "DELETE":
                STORIES.pop(s["id"])
                return self.send(204)
            b = self.body_json() or {}
            if "story_text" in b and b["story_text"] != s["story_text"]:
                if s["story_text"]:
                    add_revision(s, s["story_text"], "edit", user)
                s["story_text"] = b["story_text"]
            for k in ("title", "is_published", "template"):
                if k in b:
                    s[k] = b[k]
            s["updated_at"] = now_iso()
            return self.send(200, story_json(s, host))
        if rest == "jobs/":
            mine = sorted((j for j in JOBS.values() if j["story_id"] == s["id"] and not j.get("parent")),
                          key=lambda j: j["created_at"], reverse=True)
            return self.send(200, {"count": len(mine), "next": None, "previous": None,
                                   "results": [job_json(j) for j in mine]})
        if rest == "revisions/":
            page = self.paginate(REVISIONS.get(s["id"], []), "/stories/%s/revisions/" % s["id"])
            return self.send(200, page) if page else self.detail(404, "Invalid page.")
        m2 = re.fullmatch(r"revisions/([0-9a-f-]{36})/restore/", rest)
        if m2 and method == "POST":
            rev = next((r for r in REVISIONS.get(s["id"], []) if r["id"] == m2.group(1)), None)
            if not rev:
                return self.detail(404, "Not found.")
            add_revision(s, s["story_text"], "restore", user)
            s["story_text"] = rev["story_text"]
            return self.send(200, {"message": "Revision restored", "story": story_json(s, host)})
        if rest == "regenerate/" and method == "POST":
            b = self.body_json() or {}
            if b.get("prompt"):
                s["prompt"] = b["prompt"]
            if b.get("template") in TEMPLATES:
                s["template"] = b["template"]
            s["status"] = "generating"
            j = new_job("regenerate", s)
            start(run_story, s, j, b.get("modifications") or "")
            return self.job_answer(j, lambda: {"message": "Story regenerated successfully", "story": story_json(s, host)})
        if rest == "generate_audio/" and method == "POST":
            b = self.body_json() or {}
            if not s["story_text"]:
                return self.send(400, {"error": "Story has no content. Please regenerate the story first."})
            s["voice_id"] = b.get("voice_id") or s["voice_id"]
            j = new_job("audio", s)
            start(run_audio, s, j)
            return self.job_answer(j, lambda: {"message": "Audio generated successfully", "story": story_json(s, host)})
        if rest == "generate_scenes/" and method == "POST":
            if not s["story_text"]:
                return self.send(400, {"error": "Story has no content. Please generate a story first."})
            only = (self.body_json() or {}).get("scene_numbers")
            j = new_job("scenes", s)
            start(run_scenes, s, j, only)
            return self.job_answer(j, lambda: {"message": "Generated the scenes", "scenes": story_json(s, host)["scenes"]})
        if rest == "upload_scene_image/" and method == "POST":
            b = self.body_json() or {}
            f = (b.get("_files") or {}).get("image")
            try:
                n = int(b.get("scene_number", ""))
            except ValueError:
                return self.send(400, {"error": "scene_number must be a valid integer."})
            if not f:
                return self.send(400, {"error": "image file is required."})
            name = "upload_%s_%d%s" % (s["id"], n, os.path.splitext(f[0])[1] or ".png")
            MEDIA[name] = (f[1], f[2])
            sc = next((x for x in s["scenes"] if x["scene_number"] == n), None)
            if sc is None:
                parts = dict(story_parts(s["story_text"]))
                sc = {"id": str(uuid.uuid4()), "story": s["id"], "scene_number": n, "scene_text": parts.get(n, ""),
                      "prompt_used": "Manual upload", "created_at": now_iso(), "updated_at": now_iso()}
                s["scenes"].append(sc)
            sc["image"] = name
            sc["status"] = "ready"
            out = dict(sc, image_url="http://%s/media/%s" % (host, name))
            out.pop("image")
            return self.send(200, {"message": "Scene image uploaded successfully.", "scene": out})
        if rest == "delete_scene/" and method == "POST":
            b = self.body_json() or {}
            before = len(s["scenes"])
            s["scenes"] = [x for x in s["scenes"] if x["id"] != b.get("scene_id")]
            if len(s["scenes"]) == before:
                return self.send(404, {"error": "Scene not found."})
            return self.send(200, {"message": "Scene deleted successfully."})
        return self.detail(404, "Not found.")

    def job_answer(self, j, body, done_status=200):
        """The real server's answer to a generation request: 202 with the job at once under
        Prefer: respond-async, otherwise it waits for the job (up to 10 s here) and answers with
        the finished content."""
        if "respond-async" not in self.headers.get("Prefer", ""):
            j["done"].wait(10)
        d = body()
        d["job"] = job_json(j)
        status = done_status if j["state"] in TERMINAL else 202
        return self.send(status, d, headers={"Location": "/api/jobs/%s/" % j["id"]})

    def sessions(self, user, method, p):
        if p == "/story-sessions/":
            if method == "GET":
                items = [x for x in SESSIONS.values() if x["user"] == user["id"]]
                if self.q.get("story"):
                    items = [x for x in items if x["story"] == self.q["story"]]
                items.sort(key=lambda x: x["seq"], reverse=True)
                page = self.paginate([{k: v for k, v in x.items() if k != "seq"} for x in items], p)
                return self.send(200, page) if page else self.detail(404, "Invalid page.")
            b = self.body_json() or {}
            st = STORIES.get(b.get("story"))
            if not st or st["user"] != user["id"]:
                return self.send(400, {"story": ["Invalid story."]})
            sid = str(uuid.uuid4())
            SESSIONS[sid] = {"id": sid, "story": st["id"], "story_title": st["title"], "user": user["id"],
                             "user_name": user["username"], "started_at": now_iso(), "ended_at": None,
                             "duration_seconds": None, "completed": False, "position_ms": int(b.get("position_ms") or 0),
                             "seq": time.time()}
            return self.send(201, {k: v for k, v in SESSIONS[sid].items() if k != "seq"})
        m = re.fullmatch(r"/story-sessions/([0-9a-f-]{36})/(end_session/)?", p)
        x = SESSIONS.get(m.group(1)) if m else None
        if not x or x["user"] != user["id"]:
            return self.detail(404, "Not found.")
        b = self.body_json() or {}
        if "position_ms" in b:
            x["position_ms"] = int(b["position_ms"] or 0)
        if m.group(2):
            x["ended_at"] = now_iso()
            x["completed"] = bool(b.get("completed"))
        return self.send(200, {k: v for k, v in x.items() if k != "seq"})

    def playlists(self, user, method, p, host):
        def shape(pl, full=True):
            d = {k: pl[k] for k in ("id", "name", "description", "is_public", "created_at", "updated_at")}
            d["user"] = pl["user"]
            d["user_name"] = USERS[pl["user"]]["username"]
            ids = [i for i in pl["story_ids"] if i in STORIES]
            d["story_count"] = len(ids)
            if full:
                d["stories"] = [story_json(STORIES[i], host, full=False) for i in ids]
            return d
        if p == "/playlists/":
            if method == "GET":
                items = sorted([x for x in PLAYLISTS.values() if x["user"] == user["id"] or x["is_public"]],
                               key=lambda x: x["created_at"], reverse=True)
                return self.send(200, self.paginate([shape(x, False) for x in items], p))
            b = self.body_json() or {}
            if not str(b.get("name", "")).strip():
                return self.send(400, {"name": ["This field is required."]})
            pid = str(uuid.uuid4())
            PLAYLISTS[pid] = {"id": pid, "user": user["id"], "name": b["name"].strip(), "description": b.get("description", ""),
                              "is_public": bool(b.get("is_public")), "story_ids": [i for i in b.get("story_ids") or [] if i in STORIES],
                              "created_at": now_iso(), "updated_at": now_iso()}
            return self.send(201, shape(PLAYLISTS[pid]))
        m = re.fullmatch(r"/playlists/([0-9a-f-]{36})/", p)
        pl = PLAYLISTS.get(m.group(1)) if m else None
        if not pl or (pl["user"] != user["id"] and not pl["is_public"]):
            return self.detail(404, "Not found.")
        if method == "GET":
            return self.send(200, shape(pl))
        if pl["user"] != user["id"]:
            return self.detail(403, "You do not have permission to perform this action.")
        if method == "DELETE":
            PLAYLISTS.pop(pl["id"])
            return self.send(204)
        b = self.body_json() or {}
        if "story_ids" in b:
            pl["story_ids"] = [i for i in b["story_ids"] if i in STORIES and STORIES[i]["user"] == user["id"]]
        for k in ("name", "description", "is_public"):
            if k in b:
                pl[k] = b[k]
        return self.send(200, shape(pl))

    def users(self, user, method, p):
        if not (user["is_staff"] or user["is_superuser"]):
            return self.detail(403, "You do not have permission to perform this action.")
        def shape(u):
            d = {k: u[k] for k in ("id", "username", "email", "first_name", "last_name", "is_staff", "is_superuser", "is_active", "date_joined")}
            d["full_name"] = (u["first_name"] + " " + u["last_name"]).strip()
            return d
        if p == "/users/":
            items = list(USERS.values())
            for term in self.q.get("search", "").lower().split():
                items = [u for u in items if term in (u["username"] + u["email"] + u["first_name"] + u["last_name"]).lower()]
            return self.send(200, self.paginate([shape(u) for u in items], p))
        m = re.fullmatch(r"/users/(\d+)/", p)
        u = USERS.get(int(m.group(1))) if m else None
        if not u:
            return self.detail(404, "Not found.")
        if method == "PATCH":
            b = self.body_json() or {}
            if "is_active" in b:
                if u["is_superuser"]:
                    return self.send(400, {"error": "Superusers cannot be deactivated."})
                u["is_active"] = bool(b["is_active"])
        return self.send(200, shape(u))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--web", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "web"))
    args = ap.parse_args()
    Handler.web_dir = os.path.abspath(args.web)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print("READY %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
