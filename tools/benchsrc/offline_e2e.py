#!/usr/bin/env python3
"""Offline end to end: what a user without cloud credentials waits for. One story (uploaded
picture described, text written, narration encoded to MP3) and then its five illustrations,
timed alone; then N such stories started at once. Prints one JSON line.

usage: offline_e2e.py PORT N"""
import http.client
import io
import json
import secrets
import struct
import sys
import threading
import time
import zlib

port, n_many = int(sys.argv[1]), int(sys.argv[2])


def call(method, path, body=None, token=None, headers=None, raw=None, ctype=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Token " + token
    data = None
    if raw is not None:
        data, h["Content-Type"] = raw, ctype
    elif body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    doc = json.loads(r.read() or b"null")
    c.close()
    return r.status, doc


def png(w=320, h=240):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    rows = b"".join(b"\x00" + b"".join(bytes((x * 255 // w, y * 255 // h, 160)) for x in range(w))
                    for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def multipart(fields, image):
    b = "----bench" + secrets.token_hex(8)
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (b, k, v)).encode())
    out.write(("--%s\r\nContent-Disposition: form-data; name=\"image\"; filename=\"d.png\"\r\n"
               "Content-Type: image/png\r\n\r\n" % b).encode())
    out.write(image + b"\r\n")
    out.write(("--%s--\r\n" % b).encode())
    return out.getvalue(), "multipart/form-data; boundary=" + b


def wait_job(token, job_id):
    while True:
        st, j = call("GET", "/api/jobs/%s/" % job_id, token=token)
        if st == 200 and j["state"] in ("succeeded", "partial", "failed", "cancelled"):
            return j["state"]
        time.sleep(0.05)


PROMPTS = ["a fox who finds a lantern in the snow", "a robot who learns to bake bread",
           "two friends who build a boat for the pond", "a dragon who is afraid of the dark",
           "a girl who maps the stars from her roof", "a cat who becomes a lighthouse keeper"]


def one_story(token, i, out):
    t0 = time.time()
    body, ctype = multipart({"title": "Bench %d" % i, "prompt": PROMPTS[i % len(PROMPTS)],
                             "template": ("adventure", "fantasy", "sci-fi", "mystery", "educational")[i % 5]}, png())
    st, doc = call("POST", "/api/stories/", token=token, raw=body, ctype=ctype,
                   headers={"Prefer": "respond-async"})
    assert st in (201, 202), (st, doc)
    created = wait_job(token, doc["job"]["id"])
    t1 = time.time()
    st, doc2 = call("POST", "/api/stories/%s/generate_scenes/" % doc["id"], token=token,
                    headers={"Prefer": "respond-async"})
    assert st in (200, 202), (st, doc2)
    scenes = wait_job(token, doc2["job"]["id"])
    t2 = time.time()
    st, story = call("GET", "/api/stories/%s/" % doc["id"], token=token)
    ok = (created == "succeeded" and scenes == "succeeded" and story["audio_url"] and
          story["image_description"] and len([s for s in story["scenes"] if s["image_url"]]) == 5)
    out.append({"text_audio_s": t1 - t0, "scenes_s": t2 - t1, "total_s": t2 - t0, "ok": bool(ok),
                "words": len(story["story_text"].split()), "audio_ms": story["audio_duration_ms"]})


name = "bench" + secrets.token_hex(4)
st, doc = call("POST", "/api/register/", {
    "username": name, "email": name + "@example.org", "password": "bench-pass-123",
    "confirm_password": "bench-pass-123", "user_type": "user", "accept_terms": True})
assert st == 201, doc
token = doc["token"]
# The reference's defaults: 800 words in 5 parts.
call("PATCH", "/api/story-settings/", {"max_word_count": 800, "story_parts": 5}, token=token)

single = []
one_story(token, 0, single)  # warm-up (voices, fonts, page cache)
single = []
for i in range(3):
    one_story(token, i + 1, single)
single.sort(key=lambda r: r["total_s"])
median = single[1]

many = []
t0 = time.time()
threads = [threading.Thread(target=one_story, args=(token, 100 + i, many)) for i in range(n_many)]
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.time() - t0
print(json.dumps({"single": median, "many_wall_s": round(wall, 2), "many_n": n_many,
                  "many_ok": sum(1 for r in many if r["ok"]),
                  "many_p50_s": round(sorted(r["total_s"] for r in many)[len(many) // 2], 2),
                  "many_max_s": round(max(r["total_s"] for r in many), 2)}))
