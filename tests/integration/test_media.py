"""Uploads (streamed multipart, content-checked images, limits) and GET /media (signed URLs or the
owner's token, Range/If-Range/ETag/304, no escape from the media folder, files removed with
their story)."""
import base64
import hashlib
import hmac
import os
import re
import socket
import struct
import time
import unittest
import urllib.parse
import uuid
import zlib

from test_stories import StoryClient, gif_bytes, multipart, png_bytes

SECRET = "k" * 48


def big_png(size, width=64, height=48):
    """A PNG signature and header followed by `size` bytes of filler: the content check reads the
    header only, so this is accepted as a 64x48 PNG of the requested size."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(
        ">I", zlib.crc32(b"IHDR" + ihdr) & 0xffffffff)
    filler = bytes((i * 7 + 3) & 0xff for i in range(size))
    return head + filler


def sign(path, expires):
    key = hashlib.sha256(b"nova-story-media-url-key\n" + SECRET.encode()).digest()
    mac = hmac.new(key, b"nova-media-v1\n" + path.encode() + b"\n" + str(expires).encode(), hashlib.sha256).digest()
    return "?expires=%d&sig=%s" % (expires, base64.urlsafe_b64encode(mac).rstrip(b"=").decode())


class MediaTest(StoryClient, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_server({"NOVA_MAX_UPLOAD_BYTES": str(2 * 1024 * 1024), "NOVA_SECRET_KEY": SECRET})

    @classmethod
    def tearDownClass(cls):
        cls.stop_server()

    def path_of(self, url):
        p = urllib.parse.urlsplit(url)
        return p.path, p.query

    def get_url(self, url, headers=None):
        p = urllib.parse.urlsplit(url)
        conn = self.srv.connect()
        try:
            lines = ["GET %s?%s HTTP/1.1" % (p.path, p.query) if p.query else "GET %s HTTP/1.1" % p.path,
                     "Host: 127.0.0.1"]
            for k, v in (headers or {}).items():
                lines.append("%s: %s" % (k, v))
            conn.send("\r\n".join(lines) + "\r\n\r\n")
            return conn.read_response()
        finally:
            conn.close()

    def files_of(self, story_id):
        found = []
        for root, _, names in os.walk(self.media_dir):
            for n in names:
                full = os.path.join(root, n)
                if story_id in full:
                    found.append(os.path.relpath(full, self.media_dir))
        return sorted(found)

    def wait_gone(self, rel):
        """The old file of a replacement is removed just after the answer: wait briefly."""
        for _ in range(100):
            if not os.path.exists(os.path.join(self.media_dir, rel)):
                return
            time.sleep(0.02)
        self.fail("%s was not removed" % rel)

    # ---- uploads ----

    def test_create_with_image_layout_and_signed_url(self):
        u = self.new_user()
        img = png_bytes(5, 7)
        st, _, doc = self.create_story_multipart(u, img)
        self.assertIn(st, (201, 202), doc)
        url = doc["image_url"]
        self.assertEqual(doc["image"], url)
        self.assertTrue(url.startswith("http://127.0.0.1:%d/media/" % self.srv.port), url)
        path, query = self.path_of(url)
        ym = doc["created_at"][:4] + "/" + doc["created_at"][5:7]
        self.assertRegex(path, r"^/media/%s/%s/image_\d+\.png$" % (ym, doc["id"]))
        self.assertRegex(query, r"^expires=\d+&sig=[A-Za-z0-9_-]{43}$")
        expires = int(re.search(r"expires=(\d+)", query).group(1))
        self.assertTrue(time.time() + 86400 - 3700 < expires <= time.time() + 86400 + 1)
        r = self.get_url(url)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, img)
        self.assertEqual(r.header("content-type"), "image/png")
        self.assertEqual(r.header("accept-ranges"), "bytes")
        self.assertTrue(r.header("etag").startswith('"'))
        self.assertTrue(r.header("last-modified").endswith("GMT"))
        self.assertEqual(self.files_of(doc["id"]), [path[len("/media/"):]])
        # the spool folder is left empty
        spool = os.path.join(self.media_dir, ".uploads")
        self.assertEqual(os.listdir(spool) if os.path.isdir(spool) else [], [])

    def test_wrong_magic_is_415(self):
        u = self.new_user()
        st, _, doc = self.create_story_multipart(u, b"GIF8" + b"not really an image at all" * 10)
        self.assertEqual(st, 415)
        st, _, doc = self.create_story_multipart(u, b"%PDF-1.4\n" + b"x" * 5000)
        self.assertEqual(st, 415)
        self.assertIn("PNG, JPEG, GIF or WebP", doc["detail"] if "detail" in doc else doc["error"])
        st, _, doc = self.call(u, "GET", "/api/stories/?page_size=100")
        self.assertEqual(doc["count"], 0)

    def test_image_too_large_dimensions_is_415(self):
        u = self.new_user()
        st, _, doc = self.create_story_multipart(u, big_png(100, width=9000, height=10))
        self.assertEqual(st, 415, doc)
        self.assertIn("8000", doc["error"])

    def test_oversize_is_413(self):
        u = self.new_user()
        body, ctype = multipart([("title", "t"), ("prompt", "p")],
                                [("image", "a.png", "image/png", big_png(3 * 1024 * 1024))])
        conn = self.srv.connect()
        try:
            # Refused from the declared length, before the body is read.
            conn.send("POST /api/stories/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token %s\r\n"
                      "Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (u["token"], ctype, len(body)))
            conn.send(body[:1000])
            self.assertEqual(conn.read_response().status, 413)
        finally:
            conn.close()

    def test_oversize_chunked_is_413(self):
        u = self.new_user()
        body, ctype = multipart([("title", "t"), ("prompt", "p")],
                                [("image", "a.png", "image/png", big_png(3 * 1024 * 1024))])
        conn = self.srv.connect()
        try:
            conn.send("POST /api/stories/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token %s\r\n"
                      "Content-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % (u["token"], ctype))
            try:
                for i in range(0, len(body), 65536):
                    part = body[i:i + 65536]
                    conn.send(b"%x\r\n" % len(part) + part + b"\r\n")
                conn.send(b"0\r\n\r\n")
            except OSError:
                pass  # the server may close once it has answered
            self.assertEqual(conn.read_response().status, 413)
        finally:
            conn.close()

    def test_truncated_multipart_is_400(self):
        u = self.new_user()
        body, ctype = multipart([("title", "t"), ("prompt", "p")], [("image", "a.png", "image/png", png_bytes())])
        cut = body[:-30]  # no closing boundary
        st, _, doc = self.call(u, "POST", "/api/stories/", cut, {"Content-Type": ctype})
        self.assertEqual(st, 400, doc)
        st, _, doc = self.call(u, "POST", "/api/stories/", b"garbage without boundaries",
                               {"Content-Type": ctype})
        self.assertEqual(st, 400)
        st, _, doc = self.call(u, "POST", "/api/stories/", body, {"Content-Type": "multipart/form-data"})
        self.assertEqual(st, 400)  # no boundary parameter
        st, _, doc = self.call(u, "POST", "/api/stories/", b"a=b", {"Content-Type": "text/plain"})
        self.assertEqual(st, 415)

    def test_empty_file(self):
        u = self.new_user()
        st, _, doc = self.create_story_multipart(u, b"")
        self.assertEqual(st, 400, doc)
        self.assertEqual(doc, {"image": ["The submitted file is empty."]})
        # an empty file input (no file chosen) is just absent
        body, ctype = multipart([("title", "t"), ("prompt", "p")], [("image", "", "application/octet-stream", b"")])
        st, _, doc = self.call(u, "POST", "/api/stories/", body, {"Content-Type": ctype})
        self.assertIn(st, (201, 202), doc)
        self.assertIsNone(doc["image_url"])

    def test_upload_requires_token(self):
        body, ctype = multipart([("title", "t"), ("prompt", "p")], [("image", "a.png", "image/png", png_bytes())])
        st, _, _ = self.call(None, "POST", "/api/stories/", body, {"Content-Type": ctype})
        self.assertEqual(st, 401)
        st, _, _ = self.call({"token": "y" * 43}, "POST", "/api/stories/", body, {"Content-Type": ctype})
        self.assertEqual(st, 401)

    def test_multipart_text_fields_validated(self):
        u = self.new_user()
        st, _, doc = self.create_story_multipart(u, None, {"template": "horror", "is_published": "true"})
        self.assertEqual(st, 400)
        self.assertIn("template", doc)
        st, _, doc = self.create_story_multipart(u, None, {"is_published": "true"})
        self.assertIn(st, (201, 202))
        self.assertIs(doc["is_published"], True)

    def test_replace_image_deletes_old_after_commit(self):
        u = self.new_user()
        st, _, doc = self.create_story_multipart(u, png_bytes())
        sid, old_url = doc["id"], doc["image_url"]
        old_path = self.path_of(old_url)[0][len("/media/"):]
        time.sleep(0.01)
        body, ctype = multipart([], [("image", "new.gif", "image/gif", gif_bytes())])
        st, _, doc = self.call(u, "PATCH", "/api/stories/%s/" % sid, body, {"Content-Type": ctype})
        self.assertIn(st, (200, 202), doc)  # 202: the pipeline queued the image-driven rewrite
        new_path = self.path_of(doc["image_url"])[0][len("/media/"):]
        self.assertTrue(new_path.endswith(".gif"))
        self.assertNotEqual(new_path, old_path)
        self.wait_gone(old_path)
        self.assertEqual(self.get_url(old_url).status, 404)
        r = self.get_url(doc["image_url"])
        self.assertEqual((r.status, r.header("content-type"), r.body), (200, "image/gif", gif_bytes()))
        # someone else's PATCH with an image: 404, and no file left behind
        other = self.new_user()
        st, _, _ = self.call(other, "PATCH", "/api/stories/%s/" % sid, body, {"Content-Type": ctype})
        self.assertEqual(st, 404)
        self.assertEqual(self.files_of(sid), [new_path])

    def test_scene_image_upload(self):
        u = self.new_user()
        s = self.create_story(u, story_text="Part 1\nThe start.\nPart 2\nThe end.")
        body, ctype = multipart([("scene_number", "2")], [("image", "s.png", "image/png", png_bytes())])
        st, _, doc = self.call(u, "POST", "/api/stories/%s/upload_scene_image/" % s["id"], body, {"Content-Type": ctype})
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc["message"], "Scene image uploaded successfully.")
        sc = doc["scene"]
        self.assertEqual((sc["scene_number"], sc["scene_text"], sc["story"]), (2, "The end.", s["id"]))
        self.assertRegex(self.path_of(sc["image_url"])[0], r"/%s/scenes/scene_2_\d+\.png$" % s["id"])
        self.assertEqual(self.get_url(sc["image_url"]).body, png_bytes())
        first = self.path_of(sc["image_url"])[0][len("/media/"):]
        body2, ctype2 = multipart([("scene_number", "2")], [("image", "s.gif", "image/gif", gif_bytes())])
        st, _, doc = self.call(u, "POST", "/api/stories/%s/upload_scene_image/" % s["id"], body2, {"Content-Type": ctype2})
        self.assertEqual(st, 200)
        self.wait_gone(first)
        body3, ctype3 = multipart([("scene_number", "2")])
        st, _, doc = self.call(u, "POST", "/api/stories/%s/upload_scene_image/" % s["id"], body3, {"Content-Type": ctype3})
        self.assertEqual((st, doc), (400, {"error": "image file is required."}))
        body4, ctype4 = multipart([], [("image", "s.png", "image/png", png_bytes())])
        st, _, doc = self.call(u, "POST", "/api/stories/%s/upload_scene_image/" % s["id"], body4, {"Content-Type": ctype4})
        self.assertEqual((st, doc), (400, {"error": "scene_number is required."}))

    def test_delete_story_removes_files(self):
        u = self.new_user()
        st, _, doc = self.create_story_multipart(u, png_bytes(), {"story_text": "Part 1\nA"})
        sid = doc["id"]
        body, ctype = multipart([("scene_number", "1")], [("image", "s.png", "image/png", png_bytes())])
        self.call(u, "POST", "/api/stories/%s/upload_scene_image/" % sid, body, {"Content-Type": ctype})
        self.assertEqual(len(self.files_of(sid)), 2)
        st, _, _ = self.call(u, "DELETE", "/api/stories/%s/" % sid)
        self.assertEqual(st, 204)
        self.assertEqual(self.files_of(sid), [])
        ym = doc["created_at"][:4] + "/" + doc["created_at"][5:7]
        self.assertFalse(os.path.exists(os.path.join(self.media_dir, ym, sid)))

    # ---- serving ----

    def story_with_big_image(self, size=300000):
        u = self.new_user()
        data = big_png(size)
        st, _, doc = self.create_story_multipart(u, data)
        self.assertIn(st, (201, 202), doc)
        return u, doc, data

    def test_range_requests(self):
        u, doc, data = self.story_with_big_image()
        url, n = doc["image_url"], len(data)
        r = self.get_url(url)
        self.assertEqual((r.status, len(r.body), r.header("content-length")), (200, n, str(n)))
        self.assertEqual(r.body, data)
        r = self.get_url(url, {"Range": "bytes=100-199"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, data[100:200])
        self.assertEqual(r.header("content-range"), "bytes 100-199/%d" % n)
        r = self.get_url(url, {"Range": "bytes=-500"})
        self.assertEqual((r.status, r.body), (206, data[-500:]))
        self.assertEqual(r.header("content-range"), "bytes %d-%d/%d" % (n - 500, n - 1, n))
        r = self.get_url(url, {"Range": "bytes=150000-"})
        self.assertEqual((r.status, r.body), (206, data[150000:]))
        r = self.get_url(url, {"Range": "bytes=%d-" % (n + 10)})
        self.assertEqual(r.status, 416)
        self.assertEqual(r.header("content-range"), "bytes */%d" % n)
        r = self.get_url(url, {"Range": "bytes=0-1,5-6"})
        self.assertEqual((r.status, r.body), (200, data))  # several ranges: the whole file
        etag = r.header("etag")
        r = self.get_url(url, {"Range": "bytes=0-9", "If-Range": etag})
        self.assertEqual((r.status, r.body), (206, data[:10]))
        r = self.get_url(url, {"Range": "bytes=0-9", "If-Range": '"stale"'})
        self.assertEqual((r.status, len(r.body)), (200, n))
        r = self.get_url(url, {"If-None-Match": etag})
        self.assertEqual((r.status, r.body), (304, b""))
        self.assertEqual(r.header("etag"), etag)
        r = self.get_url(url, {"If-Modified-Since": r.header("last-modified") or
                               self.get_url(url).header("last-modified")})
        self.assertEqual(r.status, 304)

    def test_head_and_keepalive(self):
        u, doc, data = self.story_with_big_image(200000)
        p = urllib.parse.urlsplit(doc["image_url"])
        conn = self.srv.connect()
        try:
            target = "%s?%s" % (p.path, p.query)
            conn.send("HEAD %s HTTP/1.1\r\nHost: x\r\n\r\nGET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\n\r\n"
                      % (target, target))
            r = conn.read_response(head=True)
            self.assertEqual((r.status, r.header("content-length")), (200, str(len(data))))
            r = conn.read_response()
            self.assertEqual((r.status, r.body), (206, data[10:20]))
        finally:
            conn.close()

    def test_signatures(self):
        u, doc, data = self.story_with_big_image(1000)
        path, query = self.path_of(doc["image_url"])
        good = "http://x%s?%s" % (path, query)
        self.assertEqual(self.get_url(good).status, 200)
        tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBA")
        r = self.get_url(tampered)
        self.assertEqual(r.status, 403, tampered)
        exp = int(re.search(r"expires=(\d+)", query).group(1))
        r = self.get_url("http://x%s%s" % (path, sign(path, exp + 100)[:-1] + "A"))
        self.assertEqual(r.status, 403)
        # a genuine signature that expired
        r = self.get_url("http://x%s%s" % (path, sign(path, int(time.time()) - 10)))
        self.assertEqual(r.status, 403)
        self.assertIn("expired", r.json()["detail"])
        # the signature of another file does not open this one
        other = path.replace("image_", "image_9")
        self.assertEqual(self.get_url("http://x%s?%s" % (other, query)).status, 403)
        # no signature, no token
        self.assertEqual(self.get_url("http://x" + path).status, 403)

    def test_token_access(self):
        u, doc, data = self.story_with_big_image(1000)
        path = self.path_of(doc["image_url"])[0]
        r = self.get_url("http://x" + path, {"Authorization": "Token " + u["token"]})
        self.assertEqual((r.status, r.body), (200, data))
        other = self.new_user()
        r = self.get_url("http://x" + path, {"Authorization": "Token " + other["token"]})
        self.assertIn(r.status, (403, 404))
        r = self.get_url("http://x" + path, {"Authorization": "Token " + self.admin()["token"]})
        self.assertEqual(r.status, 200)

    def test_no_escape_from_media_folder(self):
        u = self.new_user()
        secret = os.path.join(os.path.dirname(self.media_dir), "outside-%s.txt" % uuid.uuid4().hex)
        with open(secret, "w") as f:
            f.write("secret")
        try:
            sid = str(uuid.uuid4())
            base = os.path.basename(secret)
            os.makedirs(os.path.join(self.media_dir, "2024", "01", sid), exist_ok=True)
            os.symlink(secret, os.path.join(self.media_dir, "2024", "01", sid, "image_1.png"))
            for path in ("/media/2024/01/%s/image_1.png" % sid,
                         "/media/../%s" % base, "/media/%%2e%%2e/%s" % base,
                         "/media/2024/01/%s/..%%2f..%%2f..%%2f%s" % (sid, base),
                         "/media/.uploads/x", "/media/2024/01/%s/.hidden" % sid):
                p = path + sign(path, int(time.time()) + 600)
                conn = self.srv.connect()
                conn.send("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p)
                r = conn.read_response()
                conn.close()
                self.assertIn(r.status, (403, 404), path)
                self.assertNotIn(b"secret", r.body)
        finally:
            os.unlink(secret)

    def test_story_json_urls_without_public_url_use_host(self):
        u, doc, data = self.story_with_big_image(100)
        st, _, got = self.call(u, "GET", "/api/stories/%s/" % doc["id"], headers={"Host": "evil.example/<x>"})
        self.assertTrue(got["image_url"].startswith("http://localhost/media/"), got["image_url"])
        st, _, got = self.call(u, "GET", "/api/stories/%s/" % doc["id"], headers={"Host": "stories.example:8443"})
        self.assertTrue(got["image_url"].startswith("http://stories.example:8443/media/"))


class BigFileTest(StoryClient, unittest.TestCase):
    """A file larger than the kernel's socket buffers (tcp_wmem allows 4 MiB), read slowly through
    a small window: zero copy meets a full socket in the middle of the body."""

    @classmethod
    def setUpClass(cls):
        cls.start_server({"NOVA_MAX_UPLOAD_BYTES": str(12 * 1024 * 1024), "NOVA_SECRET_KEY": SECRET})

    @classmethod
    def tearDownClass(cls):
        cls.stop_server()

    def story_with_big_image(self, size):
        u = self.new_user()
        data = big_png(size)
        st, _, doc = self.create_story_multipart(u, data)
        self.assertIn(st, (201, 202), doc)
        return u, doc, data

    def test_big_file_to_a_slow_reader_then_keepalive(self):
        # A client that reads slowly through a small window: the server's socket fills up in
        # the middle of the body (zero copy stops, a small copied piece waits for room, then
        # zero copy resumes); every byte arrives in order, then the next pipelined answer.
        u, doc, data = self.story_with_big_image(9000000)
        p = urllib.parse.urlsplit(doc["image_url"])
        target = "%s?%s" % (p.path, p.query)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(15)
        s.connect(("127.0.0.1", self.srv.port))
        try:
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\nGET %s HTTP/1.1\r\nHost: x\r\n"
                       "Range: bytes=5-9\r\n\r\n" % (target, target)).encode())
            got = b""
            for _ in range(100):  # slowly at first
                got += s.recv(2048)
                time.sleep(0.005)
            head, _, body = got.partition(b"\r\n\r\n")
            self.assertIn(b"200 OK", head.split(b"\r\n")[0])
            n = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
            self.assertEqual(n, len(data))
            while len(body) < n:
                chunk = s.recv(65536)
                self.assertTrue(chunk, "connection closed after %d of %d bytes" % (len(body), n))
                body += chunk
            rest = body[n:]
            self.assertEqual(body[:n], data)
            while b"\r\n\r\n" not in rest or len(rest.partition(b"\r\n\r\n")[2]) < 5:
                chunk = s.recv(65536)
                self.assertTrue(chunk)
                rest += chunk
            head2, _, body2 = rest.partition(b"\r\n\r\n")
            self.assertIn(b"206", head2.split(b"\r\n")[0])
            self.assertEqual(body2[:5], data[5:10])
        finally:
            s.close()


class PublicUrlTest(StoryClient, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_server({"NOVA_PUBLIC_URL": "https://nova.example.org/", "NOVA_MEDIA_URL_TTL_S": "600"})

    @classmethod
    def tearDownClass(cls):
        cls.stop_server()

    def test_public_url_and_ttl(self):
        u = self.new_user()
        st, _, doc = self.create_story_multipart(u, png_bytes())
        self.assertTrue(doc["image_url"].startswith("https://nova.example.org/media/"), doc["image_url"])
        exp = int(re.search(r"expires=(\d+)", doc["image_url"]).group(1))
        self.assertTrue(time.time() + 600 - 30 <= exp <= time.time() + 600 + 1, exp - time.time())


if __name__ == "__main__":
    unittest.main()
