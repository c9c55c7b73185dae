"""Story media on S3 (NOVA_MEDIA_BACKEND=s3) against s3rver behind tests/s3/start-s3rver.mjs, which
checks every SigV4 signature: an uploaded image, the narration and the scene pictures become
objects (nothing stays in NOVA_MEDIA_DIR), API URLs are presigned S3 GETs that serve the bytes and
Range requests, NOVA_MEDIA_PROXY=1 streams them through the server with Range/HEAD/304, a wrong
secret key fails uploads with a clear error (the server keeps running and exits cleanly), and
deleting a story deletes its objects. The 20 MB multipart round trip is in tests/unit/test_s3.c."""
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from test_pipeline import (DB_URL, SHORT, Api, five_parts, final_job, multipart, new_user, own_db,
                           png, server, wait_until)

SOURCE = os.environ.get("NOVA_SOURCE_DIR",
                        os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
AK, SK, BUCKET = "NOVAS3MEDIAAK", "nova-s3-media-secret/+x", "nova-media"


class S3rver:
    """The test S3 server: `node start-s3rver.mjs`, which prints PORT n and exits when its stdin
    closes."""

    def __init__(self, buckets=(BUCKET,)):
        node = shutil.which("node")
        wrapper = os.path.join(SOURCE, "tests", "s3", "start-s3rver.mjs")
        if not node or not os.path.isdir(os.path.join(SOURCE, "tests", "s3", "node_modules", "s3rver")):
            raise unittest.SkipTest("node or tests/s3/node_modules/s3rver missing (npm ci --prefix tests/s3)")
        args = [node, wrapper, "--access-key", AK, "--secret-key", SK]
        for b in buckets:
            args += ["--bucket", b]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        m = re.match(r"PORT (\d+)", line)
        if not m:
            self.stop()
            raise AssertionError("s3rver did not start: %r" % line)
        self.port = int(m.group(1))
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def s3_env(s3, prefix, secret=SK, **extra):
    env = {
        "NOVA_MEDIA_BACKEND": "s3", "NOVA_S3_BUCKET": BUCKET, "NOVA_S3_PREFIX": prefix,
        "NOVA_S3_PATH_STYLE": "1", "AWS_ENDPOINT_URL_S3": s3.endpoint, "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": secret, "HOME": "/nonexistent",
        "NOVA_MEDIA_DIR": tempfile.mkdtemp(prefix="nova-s3-stage-"),
    }
    env.update(extra)
    return env


def fetch(url, headers=None, method="GET"):
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def local_files(folder):
    out = []
    for root, _, names in os.walk(folder):
        out += [os.path.relpath(os.path.join(root, n), folder) for n in names]
    return out


def big_image(size):
    """A valid PNG of about `size` bytes (an incompressible ancillary chunk pads it)."""
    import struct
    import zlib
    base = png(16, 12)
    pad = os.urandom(size)
    chunk = struct.pack(">I", len(pad)) + b"teXt" + pad + struct.pack(">I", zlib.crc32(b"teXt" + pad) & 0xffffffff)
    return base[:33] + chunk + base[33:]


@unittest.skipUnless(DB_URL, "NOVA_TEST_DATABASE_URL not set (run through tools/test)")
class S3Media(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s3 = S3rver()

    @classmethod
    def tearDownClass(cls):
        cls.s3.stop()

    def assert_presigned(self, url, prefix):
        p = urllib.parse.urlsplit(url)
        self.assertEqual("%s://%s" % (p.scheme, p.netloc), self.s3.endpoint, url)
        self.assertTrue(p.path.startswith("/%s/%s" % (BUCKET, prefix)), url)
        q = urllib.parse.parse_qs(p.query)
        self.assertEqual(q["X-Amz-Algorithm"], ["AWS4-HMAC-SHA256"])
        self.assertEqual(q["X-Amz-Expires"], ["86400"])  # NOVA_MEDIA_URL_TTL_S
        self.assertRegex(q["X-Amz-Signature"][0], r"^[0-9a-f]{64}$")

    def test_story_image_narration_scenes_on_s3_then_deleted(self):
        prefix = "t%s/" % secrets.token_hex(4)
        env = s3_env(self.s3, prefix, NOVA_WORKERS=4)
        stage = env["NOVA_MEDIA_DIR"]
        with server(**env) as srv:
            api = new_user(srv, SHORT)
            img = png(9, 7)
            body, ctype = multipart({"title": "Bucket", "prompt": "a fox in a bucket"},
                                    {"image": ("p.png", "image/png", img)})
            st, _, story = api.call("POST", "/api/stories/", raw=body, ctype=ctype)
            self.assertEqual(st, 201, story)
            self.assertEqual(story["status"], "ready", story)
            # The uploaded picture was described: the job read it back from S3.
            self.assertTrue(story.get("image_description"), story)
            for key in ("image_url", "audio_url", "marks_url"):
                self.assert_presigned(story[key], prefix)
            st, h, got = fetch(story["image_url"])
            self.assertEqual((st, got), (200, img))
            self.assertEqual(h["content-type"], "image/png")
            st, h, audio = fetch(story["audio_url"])
            self.assertEqual(st, 200)
            self.assertEqual(h["content-type"], "audio/mpeg")
            self.assertGreater(len(audio), 1000)
            st, h, part = fetch(story["audio_url"], {"Range": "bytes=100-299"})
            self.assertEqual(st, 206)
            self.assertEqual(part, audio[100:300])
            self.assertEqual(h["content-range"], "bytes 100-299/%d" % len(audio))
            # Scenes: pictures drawn by the jobs go to S3 too.
            api.call("PATCH", "/api/stories/%s/" % story["id"], {"story_text": five_parts("S3")})
            st, _, d = api.call("POST", "/api/stories/%s/generate_scenes/" % story["id"],
                                headers={"Prefer": "respond-async"})
            self.assertIn(st, (200, 202), d)
            self.assertEqual(final_job(api, d["job"]["id"], 120)["state"], "succeeded")
            st, _, full = api.call("GET", "/api/stories/%s/" % story["id"])
            self.assertEqual(len(full["scenes"]), 5)
            urls = [story["image_url"], story["audio_url"], story["marks_url"]]
            for sc in full["scenes"]:
                self.assert_presigned(sc["image_url"], prefix)
                st, h, pic = fetch(sc["image_url"])
                self.assertEqual(st, 200)
                self.assertEqual(pic[:8], b"\x89PNG\r\n\x1a\n")
                urls.append(sc["image_url"])
            # Nothing was left behind in the staging folder.
            self.assertEqual(local_files(stage), [])
            # Deleting the story deletes every object of it.
            st, _, _ = api.call("DELETE", "/api/stories/%s/" % story["id"])
            self.assertEqual(st, 204)
            for u in urls:
                self.assertEqual(fetch(u)[0], 404, u)
            self.assertIn('"media on S3', srv.read_log())

    def test_proxy_streams_through_the_server_with_range(self):
        prefix = "p%s/" % secrets.token_hex(4)
        with server(**s3_env(self.s3, prefix, NOVA_MEDIA_PROXY="1")) as srv:
            api = new_user(srv, SHORT)
            img = big_image(2_600_000)  # three chunks of the proxy's 1 MiB GETs
            body, ctype = multipart({"title": "Proxy", "prompt": "a long picture"},
                                    {"image": ("big.png", "image/png", img)})
            st, _, story = api.call("POST", "/api/stories/", raw=body, ctype=ctype,
                                    headers={"Prefer": "respond-async"})
            self.assertIn(st, (201, 202), story)
            url = story["image_url"]
            self.assertTrue(url.startswith("http://127.0.0.1:%d/media/" % srv.port), url)
            self.assertRegex(url, r"\?expires=\d+&sig=[A-Za-z0-9_-]{43}$")
            st, h, got = fetch(url)
            self.assertEqual(st, 200)
            self.assertEqual(len(got), len(img))
            self.assertEqual(got, img)
            self.assertEqual(h["content-type"], "image/png")
            self.assertEqual(h["accept-ranges"], "bytes")
            etag = h["etag"]
            self.assertTrue(etag.startswith('"'))
            # A range across the 1 MiB chunk boundary, and a suffix range.
            st, h, part = fetch(url, {"Range": "bytes=1048000-1049999"})
            self.assertEqual(st, 206)
            self.assertEqual(h["content-range"], "bytes 1048000-1049999/%d" % len(img))
            self.assertEqual(part, img[1048000:1050000])
            st, h, part = fetch(url, {"Range": "bytes=-10"})
            self.assertEqual((st, part), (206, img[-10:]))
            st, h, _ = fetch(url, {"Range": "bytes=%d-" % (len(img) + 5)})
            self.assertEqual(st, 416)
            self.assertEqual(h["content-range"], "bytes */%d" % len(img))
            st, _, _ = fetch(url, {"If-None-Match": etag})
            self.assertEqual(st, 304)
            st, h, body = fetch(url, method="HEAD")
            self.assertEqual((st, body, h["content-length"]), (200, b"", str(len(img))))
            # The owner's token works too; a tampered signature does not.
            st, _, got = api.call("GET", urllib.parse.urlsplit(url).path)
            self.assertEqual(st, 200)
            self.assertEqual(fetch(url[:-3] + "AAA")[0], 403)
            # Audio of the finished job, through the proxy.
            wait_until(lambda: api.call("GET", "/api/stories/%s/" % story["id"])[2]["status"] == "ready",
                       60, what="story ready")
            st, _, story = api.call("GET", "/api/stories/%s/" % story["id"])
            st, h, audio = fetch(story["audio_url"])
            self.assertEqual(st, 200)
            self.assertEqual(audio[:3] in (b"ID3",) or audio[:2] == b"\xff\xfb", True)
            st, _, _ = api.call("DELETE", "/api/stories/%s/" % story["id"])
            self.assertEqual(st, 204)
            self.assertEqual(fetch(url)[0], 404)

    def test_wrong_secret_key_fails_clearly(self):
        prefix = "w%s/" % secrets.token_hex(4)
        env = s3_env(self.s3, prefix, secret="not-the-secret", NOVA_JOB_MAX_ATTEMPTS=1)
        with server(**env) as srv:
            api = new_user(srv, SHORT)
            body, ctype = multipart({"title": "Denied", "prompt": "no entry"},
                                    {"image": ("p.png", "image/png", png())})
            st, _, doc = api.call("POST", "/api/stories/", raw=body, ctype=ctype)
            self.assertEqual(st, 500, doc)
            self.assertIn("could not be stored", str(doc))
            # Without a picture the story is written, but its narration cannot be stored.
            st, _, story = api.call("POST", "/api/stories/", {"title": "Denied 2", "prompt": "x"},
                                    headers={"Prefer": "respond-async"})
            self.assertIn(st, (201, 202), story)
            job = final_job(api, story["job"]["id"], 60)
            self.assertEqual(job["state"], "failed", job)
            self.assertIn("refused our credentials", job["error"])
            st, _, story = api.call("GET", "/api/stories/%s/" % story["id"])
            self.assertEqual(story["status"], "failed")
            self.assertIsNone(story["audio_url"])
            self.assertIn("SignatureDoesNotMatch", srv.read_log())
            self.assertEqual(srv.get("/healthz")[0], 200)


    def test_proxy_failure_midway_truncates_instead_of_ending(self):
        # A body whose source fails midway must not end like a complete one: the last chunk is
        # never sent and the connection closes, so the client knows the bytes are short.
        own = S3rver()
        self.addCleanup(own.stop)
        prefix = "f%s/" % secrets.token_hex(4)
        with server(**s3_env(own, prefix, NOVA_MEDIA_PROXY="1")) as srv:
            api = new_user(srv, SHORT)
            img = big_image(8_000_000)  # eight of the proxy's 1 MiB GETs
            body, ctype = multipart({"title": "Cut", "prompt": "a picture cut short"},
                                    {"image": ("big.png", "image/png", img)})
            st, _, story = api.call("POST", "/api/stories/", raw=body, ctype=ctype,
                                    headers={"Prefer": "respond-async"})
            self.assertIn(st, (201, 202), story)
            path = urllib.parse.urlsplit(story["image_url"])
            sock = socket.socket()
            # A small receive window: the server can only run a few GETs ahead of this reader.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            sock.settimeout(30)
            sock.connect(("127.0.0.1", srv.port))
            sock.sendall(("GET %s?%s HTTP/1.1\r\nHost: x\r\n\r\n" % (path.path, path.query)).encode())
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(1)
            self.assertIn(b"200 OK", head.split(b"\r\n")[0])
            self.assertIn(b"transfer-encoding: chunked", head.lower())
            own.stop()  # S3 goes away while most of the body is still to come
            got = b""
            while True:
                part = sock.recv(65536)
                if not part:
                    break
                got += part
                if got.endswith(b"0\r\n\r\n"):
                    break  # ended like a whole body (the assertion below fails)
            sock.close()
            self.assertFalse(got.endswith(b"0\r\n\r\n"), "a failed body ended like a whole one")
            self.assertLess(len(got), len(img))
            self.assertIn("streaming", srv.read_log())

if __name__ == "__main__":
    unittest.main()
