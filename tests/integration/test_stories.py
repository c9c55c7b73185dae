"""Story endpoints against the reference API's shapes and types (seed-api.md §2.2-§2.6), and the
fixed defects: voice_id writable and validated, template validated, revisions on every text
replacement and restore, malformed UUIDs -> 404, settings validated and kept, generation hooks
absent -> draft / 503. Run with a database (tools/test sets NOVA_TEST_DATABASE_URL)."""
import json
import os
import re
import shutil
import struct
import tempfile
import unittest
import uuid
import zlib

from nova import Server

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def png_bytes(width=4, height=3):
    """A valid PNG (RGB, one IDAT)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    raw = b"".join(b"\x00" + b"\x10\x80\xf0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def gif_bytes(width=2, height=2):
    return (b"GIF89a" + struct.pack("<HH", width, height) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
            + b",\x00\x00\x00\x00" + struct.pack("<HH", width, height) + b"\x00\x02\x02\x44\x01\x00;")


def multipart(fields=(), files=(), boundary="----novatestboundary7MA4YWxkTrZu0gW"):
    """fields: [(name, value)], files: [(name, filename, content_type, bytes)]."""
    out = b""
    for name, value in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" % (boundary, name)).encode()
        out += (value if isinstance(value, bytes) else str(value).encode()) + b"\r\n"
    for name, filename, ctype, data in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: %s\r\n\r\n" % (boundary, name, filename, ctype)).encode() + data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return out, "multipart/form-data; boundary=%s" % boundary


class StoryClient:
    """Helpers shared by the story, media and playlist tests (mixed into TestCase classes)."""

    srv = None
    media_dir = None

    @classmethod
    def start_server(cls, env=None):
        cls.media_dir = tempfile.mkdtemp(prefix="nova-media-")
        # The generation pipeline is wired in whenever there is a database: with no workers and
        # no synchronous wait its jobs stay queued, so these tests see exactly what this API
        # layer stores (the pipeline has its own tests).
        e = {"NOVA_MEDIA_DIR": cls.media_dir, "NOVA_SECRET_KEY": "k" * 48,
             "NOVA_WORKERS": "0", "NOVA_SYNC_WAIT_MS": "0",
             "NOVA_ADMIN_EMAIL": "root-%s@example.org" % uuid.uuid4().hex[:8],
             "NOVA_ADMIN_USERNAME": "root%s" % uuid.uuid4().hex[:8],
             "NOVA_ADMIN_PASSWORD": "Adm1n-password-long"}
        e.update(env or {})
        cls.admin_email = e["NOVA_ADMIN_EMAIL"]
        cls.srv = Server(db=True, env=e).start()

    @classmethod
    def stop_server(cls):
        if cls.srv:
            rc = cls.srv.stop()
            if rc != 0:
                raise AssertionError("server exit status %s:\n%s" % (rc, cls.srv.read_log()[-6000:]))
            os.unlink(cls.srv.log.name)
        if cls.media_dir:
            shutil.rmtree(cls.media_dir, ignore_errors=True)

    def new_user(self):
        name = "u" + uuid.uuid4().hex[:12]
        body = {"username": name, "email": name + "@example.org", "first_name": "A", "last_name": "B",
                "password": "a-Long-passw0rd!", "user_type": "caregiver", "accept_terms": True}
        st, _, doc = self.srv.json("POST", "/api/register/", body)
        self.assertEqual(st, 201, doc)
        return {"id": doc["id"], "token": doc["token"], "username": name}

    def admin(self):
        st, _, doc = self.srv.json("POST", "/api/login/", {"email": self.admin_email,
                                                          "password": "Adm1n-password-long"})
        self.assertEqual(st, 200, doc)
        return {"id": doc["id"], "token": doc["token"]}

    def call(self, user, method, path, body=None, headers=None):
        h = dict(headers or {})
        if user:
            h["Authorization"] = "Token " + user["token"]
        if isinstance(body, bytes):
            st, hd, raw = self.srv.request(method, path, body, h)
            try:
                return st, hd, json.loads(raw) if raw else None
            except ValueError:
                return st, hd, raw
        return self.srv.json(method, path, body, h)

    def create_story(self, user, **fields):
        body = {"title": "The Fox", "prompt": "A fox who learns to share", "template": "fantasy"}
        body.update(fields)
        st, _, doc = self.call(user, "POST", "/api/stories/", body)
        # 201 with the draft, or 202 once the pipeline has queued the generation
        self.assertIn(st, (201, 202), doc)
        return doc

    def create_story_multipart(self, user, image=None, fields=None):
        f = [("title", "Pictured"), ("prompt", "A story about a picture"), ("template", "adventure")]
        f += list((fields or {}).items())
        files = [("image", "pic.png", "image/png", image)] if image is not None else []
        body, ctype = multipart(f, files)
        return self.call(user, "POST", "/api/stories/", body, {"Content-Type": ctype})


class StoriesTest(StoryClient, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_server()

    @classmethod
    def tearDownClass(cls):
        cls.stop_server()

    def test_auth_required(self):
        st, _, doc = self.call(None, "GET", "/api/stories/")
        self.assertEqual(st, 401)
        self.assertEqual(doc["detail"], "Authentication credentials were not provided.")
        st, _, doc = self.call({"token": "x" * 43}, "GET", "/api/stories/")
        self.assertEqual(st, 401)

    def test_create_draft_shape_and_types(self):
        u = self.new_user()
        doc = self.create_story(u, story_text="Once upon a time.")
        for key in ("id", "user", "user_name", "user_email", "title", "prompt", "system_prompt_used",
                    "story_text", "template", "image", "image_url", "image_description", "audio_file",
                    "audio_url", "voice_id", "is_published", "scenes", "created_at", "updated_at",
                    "status", "provider", "model", "audio_duration_ms", "marks_url", "questions",
                    "safety", "language_code"):
            self.assertIn(key, doc)
        self.assertRegex(doc["id"], UUID_RE)
        self.assertIsInstance(doc["user"], int)
        self.assertEqual(doc["user"], u["id"])  # strict equality with the login id (canEdit)
        self.assertEqual(doc["user_name"], u["username"])
        self.assertIn(doc["status"], ("draft", "generating"))
        self.assertEqual(doc["story_text"], "Once upon a time.")
        self.assertEqual(doc["template"], "fantasy")
        self.assertIs(doc["is_published"], False)
        self.assertIsNone(doc["image_url"])
        self.assertIsNone(doc["audio_url"])
        self.assertEqual(doc["scenes"], [])
        self.assertEqual(doc["questions"], [])
        self.assertIsNone(doc["safety"])
        self.assertEqual(doc["language_code"], "en-US")
        self.assertTrue(doc["voice_id"])  # the provider's default voice
        self.assertRegex(doc["created_at"], ISO_RE)
        st, _, got = self.call(u, "GET", "/api/stories/%s/" % doc["id"])
        self.assertEqual(st, 200)
        self.assertEqual(got["title"], "The Fox")

    def test_create_validation(self):
        u = self.new_user()
        st, _, doc = self.call(u, "POST", "/api/stories/", {"prompt": "p"})
        self.assertEqual(st, 400)
        self.assertEqual(doc["title"], ["This field is required."])
        st, _, doc = self.call(u, "POST", "/api/stories/", {"title": "x" * 201, "prompt": "p"})
        self.assertEqual(st, 400)
        self.assertIn("title", doc)
        st, _, doc = self.call(u, "POST", "/api/stories/", {"title": "t", "prompt": "p", "template": "horror"})
        self.assertEqual(st, 400)
        self.assertIn("template", doc)
        st, _, doc = self.call(u, "POST", "/api/stories/", {"title": "t", "prompt": "p", "voice_id": "Nobody"})
        self.assertEqual(st, 400)
        self.assertIn("voice_id", doc)
        st, _, doc = self.call(u, "POST", "/api/stories/", {"title": "t", "prompt": "p", "language_code": "xx-YY"})
        self.assertEqual(st, 400)
        self.assertIn("language_code", doc)

    def test_voice_id_writable_and_validated(self):
        u = self.new_user()
        st, _, voices = self.call(u, "GET", "/api/stories/available_voices/?language_code=en-US")
        self.assertEqual(st, 200)
        self.assertEqual(voices["language_code"], "en-US")
        self.assertTrue(voices["voices"])
        for v in voices["voices"]:
            self.assertEqual(set(v), {"id", "name", "gender", "neural"})
        other = voices["voices"][-1]["id"]
        s = self.create_story(u, voice_id=other)
        self.assertEqual(s["voice_id"], other)
        first = voices["voices"][0]["id"]
        st, _, doc = self.call(u, "PATCH", "/api/stories/%s/" % s["id"], {"voice_id": first})
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc["voice_id"], first)
        st, _, doc = self.call(u, "PATCH", "/api/stories/%s/" % s["id"], {"voice_id": "x" * 60})
        self.assertEqual(st, 400)
        self.assertIn("voice_id", doc)
        st, _, doc = self.call(u, "GET", "/api/stories/available_voices/?language_code=")
        self.assertEqual(st, 200)
        self.assertIn("en-US", doc["voices_by_language"])
        self.assertEqual(doc["default_language"], "en-US")
        st, _, doc = self.call(u, "GET", "/api/stories/available_voices/?language_code=zz-ZZ")
        self.assertEqual(doc["language_code"], "zz-ZZ")
        self.assertEqual(doc["voices"], voices["voices"])

    def test_visibility_owner_or_superuser(self):
        a, b = self.new_user(), self.new_user()
        s = self.create_story(a)
        for method, body in (("GET", None), ("PATCH", {"title": "mine"}), ("DELETE", None)):
            st, _, _ = self.call(b, method, "/api/stories/%s/" % s["id"], body)
            self.assertEqual(st, 404, method)
        st, _, doc = self.call(b, "GET", "/api/stories/")
        self.assertNotIn(s["id"], [x["id"] for x in doc["results"]])
        root = self.admin()
        st, _, doc = self.call(root, "GET", "/api/stories/%s/" % s["id"])
        self.assertEqual(st, 200)
        self.assertEqual(doc["user"], a["id"])

    def test_malformed_uuid_is_404(self):
        u = self.new_user()
        for path in ("/api/stories/not-a-uuid/", "/api/stories/1234/revisions/",
                     "/api/story-sessions/zzz/", "/api/playlists/abc/"):
            st, _, _ = self.call(u, "GET", path)
            self.assertEqual(st, 404, path)
        s = self.create_story(u, story_text="Part 1\nHello")
        st, _, doc = self.call(u, "POST", "/api/stories/%s/delete_scene/" % s["id"], {"scene_id": "nope"})
        self.assertEqual(st, 404)
        self.assertEqual(doc, {"error": "Scene not found."})
        st, _, _ = self.call(u, "GET", "/api/story-sessions/?story=garbage")
        self.assertEqual(st, 404)

    def test_list_pagination_search_ordering(self):
        u = self.new_user()
        ids = [self.create_story(u, title="Tale %02d" % i, prompt="zebra" if i % 3 == 0 else "lion")["id"]
               for i in range(12)]
        st, _, doc = self.call(u, "GET", "/api/stories/?page=1&page_size=5")
        self.assertEqual(st, 200)
        self.assertEqual(doc["count"], 12)
        self.assertEqual(len(doc["results"]), 5)
        self.assertIsNone(doc["previous"])
        self.assertTrue(doc["next"].startswith("http://"))
        self.assertIn("page=2", doc["next"])
        self.assertEqual([r["id"] for r in doc["results"]], ids[::-1][:5])  # newest first
        row = doc["results"][0]
        for key in ("id", "user", "user_name", "title", "template", "is_published", "created_at",
                    "updated_at", "image_url", "audio_url"):
            self.assertIn(key, row)
        self.assertIsInstance(row["user"], int)
        st, _, doc = self.call(u, "GET", "/api/stories/?page=3&page_size=5")
        self.assertEqual(len(doc["results"]), 2)
        self.assertIsNone(doc["next"])
        self.assertIn("page=2", doc["previous"])
        st, _, doc = self.call(u, "GET", "/api/stories/?page=4&page_size=5")
        self.assertEqual(st, 404)
        self.assertEqual(doc["detail"], "Invalid page.")
        st, _, doc = self.call(u, "GET", "/api/stories/?page=abc")
        self.assertEqual(st, 404)
        st, _, doc = self.call(u, "GET", "/api/stories/?page_size=1000")
        self.assertEqual(len(doc["results"]), 12)  # capped at 100, not refused
        st, _, doc = self.call(u, "GET", "/api/stories/?search=ZEBRA")
        self.assertEqual(doc["count"], 4)
        st, _, doc = self.call(u, "GET", "/api/stories/?search=zebra%20%2705")
        self.assertEqual(doc["count"], 0)
        st, _, doc = self.call(u, "GET", "/api/stories/?search=100%25")
        self.assertEqual(doc["count"], 0)  # % is literal, not a wildcard
        st, _, doc = self.call(u, "GET", "/api/stories/?ordering=title&page_size=3")
        self.assertEqual([r["title"] for r in doc["results"]], ["Tale 00", "Tale 01", "Tale 02"])
        st, _, doc = self.call(u, "GET", "/api/stories/?ordering=-title,bogus;drop&page_size=2")
        self.assertEqual([r["title"] for r in doc["results"]], ["Tale 11", "Tale 10"])

    def test_patch_fields_and_revisions(self):
        u = self.new_user()
        s = self.create_story(u, story_text="First text.")
        sid = s["id"]
        st, _, doc = self.call(u, "PATCH", "/api/stories/%s/" % sid, {"is_published": True})
        self.assertEqual(st, 200)
        self.assertIs(doc["is_published"], True)
        st, _, doc = self.call(u, "PATCH", "/api/stories/%s/" % sid, {"story_text": "Second text."})
        self.assertEqual(st, 200)
        self.assertEqual(doc["story_text"], "Second text.")
        st, _, doc = self.call(u, "PATCH", "/api/stories/%s/" % sid, {"story_text": "Second text."})
        self.assertEqual(st, 200)  # unchanged text: no new revision
        st, _, doc = self.call(u, "PATCH", "/api/stories/%s/" % sid, {"story_text": "Third text."})
        st, _, revs = self.call(u, "GET", "/api/stories/%s/revisions/" % sid)
        self.assertEqual(st, 200)
        self.assertEqual(revs["count"], 2)
        texts = [r["story_text"] for r in revs["results"]]
        self.assertEqual(texts, ["Second text.", "First text."])  # newest first
        r0 = revs["results"][0]
        self.assertIsInstance(r0["id"], str)
        self.assertEqual(r0["story"], sid)
        self.assertEqual(r0["created_by"], u["id"])
        self.assertEqual(r0["created_by_name"], u["username"])
        self.assertEqual(r0["reason"], "edit")
        # restore the oldest text: the current one becomes a revision
        rid = revs["results"][1]["id"]
        st, _, doc = self.call(u, "POST", "/api/stories/%s/revisions/%s/restore/" % (sid, rid))
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc["story"]["story_text"], "First text.")
        st, _, revs = self.call(u, "GET", "/api/stories/%s/revisions/" % sid)
        self.assertEqual(revs["count"], 3)
        self.assertEqual(revs["results"][0]["story_text"], "Third text.")
        self.assertEqual(revs["results"][0]["reason"], "restore")
        st, _, _ = self.call(u, "POST", "/api/stories/%s/revisions/%s/restore/" % (sid, uuid.uuid4()))
        self.assertEqual(st, 404)
        other = self.new_user()
        st, _, _ = self.call(other, "POST", "/api/stories/%s/revisions/%s/restore/" % (sid, rid))
        self.assertEqual(st, 404)
        st, _, doc = self.call(u, "PATCH", "/api/stories/%s/" % sid, {"template": "horror"})
        self.assertEqual(st, 400)
        self.assertIn("template", doc)

    def test_put_requires_title_and_prompt(self):
        u = self.new_user()
        s = self.create_story(u)
        st, _, doc = self.call(u, "PUT", "/api/stories/%s/" % s["id"], {"title": "Only title"})
        self.assertEqual(st, 400)
        self.assertIn("prompt", doc)
        st, _, doc = self.call(u, "PUT", "/api/stories/%s/" % s["id"], {"title": "T2", "prompt": "P2"})
        self.assertEqual(st, 200)
        self.assertEqual((doc["title"], doc["prompt"]), ("T2", "P2"))

    def test_generation_endpoints_validate(self):
        u = self.new_user()
        empty = self.create_story(u)
        st, _, doc = self.call(u, "POST", "/api/stories/%s/generate_audio/" % empty["id"], {})
        self.assertEqual(st, 400)
        self.assertEqual(doc["error"], "Story has no content. Please regenerate the story first.")
        st, _, doc = self.call(u, "POST", "/api/stories/%s/generate_scenes/" % empty["id"])
        self.assertEqual(st, 400)
        s = self.create_story(u, story_text="Some text.")
        st, _, doc = self.call(u, "POST", "/api/stories/%s/regenerate/" % s["id"], {"prompt": "x"})
        self.handed_off(st, doc)
        st, _, got = self.call(u, "GET", "/api/stories/%s/" % s["id"])
        if st == 200 and self.srv_has_pipeline(doc):
            self.assertEqual(got["prompt"], "x")  # the new prompt is the story's from now on
        st, _, doc = self.call(u, "POST", "/api/stories/%s/regenerate/" % s["id"], {"template": "bad"})
        self.assertEqual(st, 400)
        self.assertIn("template", doc)
        st, _, doc = self.call(u, "POST", "/api/stories/%s/generate_audio/" % s["id"], {"voice_id": "Nobody"})
        self.assertEqual(st, 400)
        self.assertIn("voice_id", doc)
        st, _, doc = self.call(u, "POST", "/api/stories/%s/generate_audio/" % s["id"], {})
        self.handed_off(st, doc)
        st, _, doc = self.call(u, "POST", "/api/stories/%s/generate_scenes/" % s["id"])
        self.handed_off(st, doc)
        st, _, _ = self.call(self.new_user(), "POST", "/api/stories/%s/regenerate/" % s["id"], {})
        self.assertEqual(st, 404)

    def handed_off(self, st, doc):
        """After validation the request goes to the pipeline's hook (queued: 202, done: 200), or
        without a pipeline to the default 503 {"error": "generation unavailable"}."""
        if st == 503:
            self.assertEqual(doc, {"error": "generation unavailable"})
        else:
            self.assertIn(st, (200, 202), doc)

    def srv_has_pipeline(self, doc):
        return isinstance(doc, dict) and "job" in doc

    def test_scenes_tools(self):
        u = self.new_user()
        text = ("# The Lost Key\n\n## Part 1: The Garden\nMia found a key.\nIt was old.\n\n"
                "## Part 2: The Door\nThe key opened a door.\n\n**Part 3**\nThey went home.")
        s = self.create_story(u, story_text=text)
        sid = s["id"]
        st, _, doc = self.call(u, "POST", "/api/stories/%s/initialize_scenes/" % sid)
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc["message"], "Initialized 3 scene(s)")
        self.assertEqual([x["scene_number"] for x in doc["scenes"]], [1, 2, 3])
        self.assertEqual(doc["scenes"][0]["scene_text"], "Mia found a key.\nIt was old.")
        self.assertEqual(doc["scenes"][2]["scene_text"], "They went home.")
        st, _, doc = self.call(u, "POST", "/api/stories/%s/add_scene/" % sid, {"scene_number": 4, "scene_text": ""})
        self.assertEqual(st, 201, doc)
        self.assertEqual(doc["message"], "Scene 4 added successfully.")
        self.assertEqual(doc["scene"]["prompt_used"], "Manual creation")
        st, _, doc = self.call(u, "POST", "/api/stories/%s/add_scene/" % sid, {"scene_number": 4})
        self.assertEqual((st, doc), (400, {"error": "Scene 4 already exists."}))
        st, _, doc = self.call(u, "POST", "/api/stories/%s/add_scene/" % sid, {})
        self.assertEqual((st, doc), (400, {"error": "scene_number is required."}))
        st, _, doc = self.call(u, "POST", "/api/stories/%s/add_scene/" % sid, {"scene_number": "x"})
        self.assertEqual((st, doc), (400, {"error": "scene_number must be a valid integer."}))
        st, _, story = self.call(u, "GET", "/api/stories/%s/" % sid)
        self.assertEqual([x["scene_number"] for x in story["scenes"]], [1, 2, 3, 4])
        sc = story["scenes"][3]
        self.assertEqual(set(sc) >= {"id", "story", "scene_number", "scene_text", "image_url",
                                      "prompt_used", "created_at", "updated_at"}, True)
        st, _, doc = self.call(u, "POST", "/api/stories/%s/delete_scene/" % sid, {"scene_id": sc["id"]})
        self.assertEqual((st, doc), (200, {"message": "Scene deleted successfully."}))
        st, _, doc = self.call(u, "POST", "/api/stories/%s/delete_scene/" % sid, {"scene_id": sc["id"]})
        self.assertEqual((st, doc), (404, {"error": "Scene not found."}))
        st, _, doc = self.call(u, "POST", "/api/stories/%s/delete_scene/" % sid, {})
        self.assertEqual((st, doc), (400, {"error": "scene_id is required."}))

    def test_voice_session_endpoints(self):
        u = self.new_user()
        s = self.create_story(u, title="Voice", story_text="Hello there.")
        st, _, doc = self.call(u, "POST", "/api/stories/%s/start_voice_session/" % s["id"])
        self.assertEqual(st, 200)
        self.assertEqual(doc["message"], "Voice session ready")
        self.assertTrue(doc["websocket_url"].startswith("ws://"))
        self.assertTrue(doc["websocket_url"].endswith("/ws/stories/%s/voice/" % s["id"]))
        self.assertEqual((doc["story_id"], doc["story_title"]), (s["id"], "Voice"))
        st, _, doc = self.call(u, "POST", "/api/stories/%s/end_voice_session/" % s["id"])
        self.assertEqual((st, doc), (200, {"message": "Voice session ended", "story_id": s["id"]}))

    def test_delete_story_removes_rows(self):
        u = self.new_user()
        s = self.create_story(u, story_text="Part 1\nA\nPart 2\nB")
        self.call(u, "POST", "/api/stories/%s/initialize_scenes/" % s["id"])
        st, _, _ = self.call(u, "DELETE", "/api/stories/%s/" % s["id"])
        self.assertEqual(st, 204)
        st, _, _ = self.call(u, "GET", "/api/stories/%s/" % s["id"])
        self.assertEqual(st, 404)
        st, _, _ = self.call(u, "DELETE", "/api/stories/%s/" % s["id"])
        self.assertEqual(st, 404)

    def test_story_settings(self):
        u = self.new_user()
        st, _, doc = self.call(u, "GET", "/api/story-settings/")
        self.assertEqual(st, 200)
        expected = {"age_range": "6-8", "genre_preference": "mixed", "language_level": "moderate",
                    "moral_theme": "mixed", "include_diversity": True, "include_sensory_details": True,
                    "include_interactive_questions": True, "max_word_count": 800, "story_parts": 5,
                    "include_sound_effects": True, "explain_complex_words": True,
                    "default_voice_id": "", "default_language_code": "en-US"}
        for k, v in expected.items():
            self.assertEqual(doc[k], v, k)
        self.assertIsInstance(doc["id"], int)
        self.assertEqual(doc["user"], u["id"])
        # the frontend PATCHes the whole object back
        doc.update({"story_parts": 7, "max_word_count": 1500, "explain_complex_words": False,
                    "age_range": "9-12"})
        st, _, got = self.call(u, "PATCH", "/api/story-settings/", doc)
        self.assertEqual(st, 200, got)
        self.assertEqual((got["story_parts"], got["max_word_count"], got["explain_complex_words"],
                          got["age_range"]), (7, 1500, False, "9-12"))
        st, _, bad = self.call(u, "PATCH", "/api/story-settings/", {"story_parts": 9, "max_word_count": 50,
                                                                     "moral_theme": "greed"})
        self.assertEqual(st, 400)
        self.assertEqual(bad["story_parts"], ["Story parts must be between 3 and 8."])
        self.assertEqual(bad["max_word_count"], ["Max word count must be between 100 and 2000."])
        self.assertIn("moral_theme", bad)
        st, _, again = self.call(u, "GET", "/api/story-settings/")
        self.assertEqual(again["story_parts"], 7)  # the bad request changed nothing
        st, _, voices = self.call(u, "GET", "/api/stories/available_voices/?language_code=en-GB")
        v = voices["voices"][0]["id"]
        st, _, got = self.call(u, "PATCH", "/api/story-settings/", {"default_voice_id": v,
                                                                     "default_language_code": "en-GB"})
        self.assertEqual(st, 200, got)
        s = self.create_story(u)
        self.assertEqual((s["voice_id"], s["language_code"]), (v, "en-GB"))
        st, _, bad = self.call(u, "PATCH", "/api/story-settings/", {"default_voice_id": "Nobody"})
        self.assertEqual(st, 400)

    def test_sessions(self):
        u, other = self.new_user(), self.new_user()
        s = self.create_story(u, title="Listen")
        foreign = self.create_story(other)
        st, _, doc = self.call(u, "POST", "/api/story-sessions/", {"story": foreign["id"]})
        self.assertEqual(st, 400)
        self.assertIn("story", doc)
        st, _, doc = self.call(u, "POST", "/api/story-sessions/", {"story": "not-a-uuid"})
        self.assertEqual(st, 400)
        st, _, doc = self.call(u, "POST", "/api/story-sessions/", {"story": s["id"]})
        self.assertEqual(st, 201, doc)
        for key in ("id", "story", "story_title", "user", "user_name", "started_at", "ended_at",
                    "duration_seconds", "duration_formatted", "completed", "created_at", "updated_at",
                    "position_ms"):
            self.assertIn(key, doc)
        self.assertEqual((doc["story"], doc["story_title"], doc["user"]), (s["id"], "Listen", u["id"]))
        self.assertIsNone(doc["ended_at"])
        sess = doc["id"]
        st, _, doc = self.call(u, "PATCH", "/api/story-sessions/%s/" % sess, {"position_ms": 12345})
        self.assertEqual((st, doc["position_ms"]), (200, 12345))
        st, _, doc = self.call(u, "POST", "/api/story-sessions/%s/end_session/" % sess,
                               {"completed": True, "position_ms": 20000})
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc["message"], "Session ended successfully")
        self.assertIs(doc["session"]["completed"], True)
        self.assertEqual(doc["session"]["position_ms"], 20000)
        self.assertIsNotNone(doc["session"]["ended_at"])
        self.assertIsInstance(doc["session"]["duration_seconds"], int)
        st, _, doc = self.call(u, "POST", "/api/story-sessions/%s/end_session/" % sess, {"completed": False})
        self.assertEqual((st, doc), (400, {"error": "Session already ended."}))
        st, _, doc = self.call(u, "POST", "/api/story-sessions/%s/end_session/" % sess, {"completed": "maybe"})
        self.assertEqual(st, 400)
        st, _, doc = self.call(u, "GET", "/api/story-sessions/?story=%s" % s["id"])
        self.assertEqual(doc["count"], 1)
        row = doc["results"][0]
        self.assertEqual(set(row), {"id", "story", "story_title", "user_name", "started_at", "ended_at",
                                    "duration_seconds", "duration_formatted", "completed", "position_ms"})
        st, _, _ = self.call(other, "GET", "/api/story-sessions/%s/" % sess)
        self.assertEqual(st, 404)
        st, _, _ = self.call(u, "DELETE", "/api/story-sessions/%s/" % sess)
        self.assertEqual(st, 204)

    def test_dashboard(self):
        u = self.new_user()
        s = self.create_story(u, is_published=True)
        self.create_story(u, template="mystery")
        self.call(u, "POST", "/api/story-sessions/", {"story": s["id"]})
        st, _, doc = self.call(u, "GET", "/api/dashboard-stats/")
        self.assertEqual(st, 200)
        stats = doc["stats"]
        self.assertEqual((stats["total_stories"], stats["published_stories"], stats["draft_stories"],
                          stats["total_sessions"], stats["total_users"], stats["recent_stories"]),
                         (2, 1, 1, 1, 1, 2))
        self.assertRegex(stats["total_listening_time_formatted"], r"^\d+h \d+m$")
        self.assertRegex(stats["avg_session_duration_formatted"], r"^\d+m \d+s$")
        self.assertIsInstance(stats["avg_session_duration_seconds"], (int, float))
        ch = doc["charts"]
        self.assertEqual(len(ch["story_creation"]), 7)
        self.assertEqual(ch["story_creation"][-1]["count"], 2)
        self.assertEqual(set(ch["story_creation"][0]), {"date", "label", "count"})
        self.assertEqual(len(ch["session_activity"]), 7)
        self.assertEqual(len(ch["stories_by_month"]), 6)
        self.assertEqual(ch["stories_by_month"][-1]["count"], 2)
        self.assertEqual(sorted(x["label"] for x in ch["stories_by_template"]), ["Fantasy", "Mystery"])
        self.assertEqual(len(doc["recent_stories"]), 2)
        self.assertNotIn("user__username", doc["recent_stories"][0])
        self.assertIs(doc["is_admin"], False)
        st, _, doc = self.call(self.admin(), "GET", "/api/dashboard-stats/")
        self.assertIs(doc["is_admin"], True)
        self.assertIn("user__username", doc["recent_stories"][0])


if __name__ == "__main__":
    unittest.main()
