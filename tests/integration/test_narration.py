"""Narration end to end through the real server, PostgreSQL and the offline providers (espeak-ng,
LAME on the threadpool): the story JSON carries a signed audio URL, a signed marks URL and the
duration; the MP3 served is seekable (Xing/Info frame count) and its length matches the stored
duration; the marks are monotonic and inside the audio; a tampered signature is refused; and
replacing the narration leaves exactly one MP3 and one marks file, the old ones deleted only
after the story points at the new ones."""
import glob
import json
import os
import re
import struct
import tempfile
import unittest
import urllib.parse

from test_pipeline import DB_URL, final_job, new_user, server

SHORT = {"max_word_count": 150, "story_parts": 3}


def get(srv, url, headers=None):
    import http.client
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        c.request("GET", u.path + ("?" + u.query if u.query else ""), headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def mp3_duration_ms(data):
    """Duration from the Xing/Info frame count of the first audio frame (after any ID3v2 tag)."""
    pos = 0
    if data[:3] == b"ID3":
        size = 0
        for b in data[6:10]:
            size = (size << 7) | (b & 0x7F)
        pos = 10 + size
    h = struct.unpack(">I", data[pos:pos + 4])[0]
    assert (h >> 21) & 0x7FF == 0x7FF, "no frame sync after the tag"
    version = (h >> 19) & 3  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
    rate = rates[version][(h >> 10) & 3]
    samples_per_frame = 1152 if version == 3 else 576
    mono = ((h >> 6) & 3) == 3
    side = (17 if mono else 32) if version == 3 else (9 if mono else 17)
    tag = data[pos + 4 + side:pos + 8 + side]
    assert tag in (b"Xing", b"Info"), "no Xing/Info header: %r" % tag
    flags = struct.unpack(">I", data[pos + 8 + side:pos + 12 + side])[0]
    assert flags & 1, "Xing header without a frame count"
    frames = struct.unpack(">I", data[pos + 12 + side:pos + 16 + side])[0]
    # The Info frame itself carries no audio; LAME's encoder delay and padding are within a
    # frame or two, well inside the tolerance the test uses.
    return frames * samples_per_frame * 1000.0 / rate


@unittest.skipUnless(DB_URL, "NOVA_TEST_DATABASE_URL not set (run through tools/test)")
class Narration(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.media = tempfile.mkdtemp(prefix="nova-narr-")
        cls.srv = server(NOVA_MEDIA_DIR=cls.media).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        assert rc == 0, cls.srv.read_log()[-4000:]

    def files(self, story_id, pattern):
        return sorted(glob.glob(os.path.join(self.media, "*", "*", story_id, pattern)))

    def check_narration(self, story):
        self.assertRegex(story["audio_url"], r"/media/.+\.mp3\?expires=\d+&sig=")
        self.assertRegex(story["marks_url"], r"/media/.+\.json\?expires=\d+&sig=")
        st, h, mp3 = get(self.srv, story["audio_url"])
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "audio/mpeg")
        self.assertEqual(mp3[:3], b"ID3")
        duration = mp3_duration_ms(mp3)
        self.assertGreater(story["audio_duration_ms"], 2000)
        self.assertLess(abs(duration - story["audio_duration_ms"]), 80,
                        (duration, story["audio_duration_ms"]))
        # Seeking: a Range request from the middle gets exactly those bytes.
        mid = len(mp3) // 2
        st, h, part = get(self.srv, story["audio_url"], {"Range": "bytes=%d-" % mid})
        self.assertEqual(st, 206)
        self.assertEqual(part, mp3[mid:])
        st, h, raw = get(self.srv, story["marks_url"])
        self.assertEqual(st, 200)
        marks = json.loads(raw)
        marks = marks.get("marks", marks) if isinstance(marks, dict) else marks
        words = [m for m in marks if m["type"] == "word"]
        self.assertGreater(len(words), 50)
        times = [m["time"] for m in words]
        self.assertEqual(times, sorted(times))
        self.assertLess(times[-1], story["audio_duration_ms"])
        # Word marks point into the story text at the word they name.
        text = story["story_text"].encode()
        for m in words[:40]:
            self.assertEqual(text[m["start"]:m["end"]].decode(), m["value"])
        return mp3

    def test_narration_is_signed_seekable_and_replaced_atomically(self):
        api = new_user(self.srv, SHORT)
        st, _, story = api.call("POST", "/api/stories/", {"title": "Otter", "prompt": "an otter who builds a raft"})
        self.assertEqual(st, 201, story)
        self.assertEqual(story["status"], "ready")
        first = self.check_narration(story)
        old_audio, old_marks = story["audio_url"], story["marks_url"]
        self.assertEqual(len(self.files(story["id"], "*.mp3")), 1)
        # A tampered or expired signature is refused.
        bad = re.sub(r"sig=[^&]+", "sig=AAAA", old_audio)
        self.assertEqual(get(self.srv, bad)[0], 403)
        expired = re.sub(r"expires=\d+", "expires=1000", old_audio)
        self.assertEqual(get(self.srv, expired)[0], 403)

        # Replace the narration with another voice.
        st, _, res = api.call("POST", "/api/stories/%s/generate_audio/" % story["id"], {"voice_id": "en-gb-m"})
        self.assertEqual(st, 200, res)
        final_job(api, res["job"]["id"])
        st, _, now = api.call("GET", "/api/stories/%s/" % story["id"])
        self.assertEqual(st, 200)
        self.assertNotEqual(now["audio_url"], old_audio)
        self.assertNotEqual(now["marks_url"], old_marks)
        second = self.check_narration(now)
        self.assertNotEqual(first, second)
        # The old files are gone (deleted after the commit), the new ones are the only ones.
        self.assertEqual(get(self.srv, old_audio)[0], 404)
        self.assertEqual(get(self.srv, old_marks)[0], 404)
        self.assertEqual(len(self.files(story["id"], "*.mp3")), 1)
        self.assertEqual(len(self.files(story["id"], "*marks*.json")), 1)
        # No temporary files are left beside them.
        leftovers = [p for p in glob.glob(os.path.join(self.media, "*", "*", story["id"], "*"))
                     if not p.endswith((".mp3", ".json")) and not os.path.isdir(p)]
        self.assertEqual(leftovers, [])

    def test_idempotency_key_mismatch_changes_nothing(self):
        api = new_user(self.srv, SHORT)
        st, _, story = api.call("POST", "/api/stories/", {"title": "Heron", "prompt": "a heron who counts stars"})
        self.assertEqual(st, 201, story)
        st, _, voices = api.call("GET", "/api/stories/available_voices/?language_code=")
        self.assertEqual(st, 200, voices)
        ids = sorted({v["id"] for vs in voices["voices_by_language"].values() for v in vs})
        a, b = [v for v in ids if v != story["voice_id"]][:2]
        key = {"Idempotency-Key": "voice-" + story["id"]}
        url = "/api/stories/%s/generate_audio/" % story["id"]
        st, _, first = api.call("POST", url, {"voice_id": a}, headers=key)
        self.assertEqual(st, 200, first)
        self.assertEqual(first["story"]["voice_id"], a)
        # Same key, other voice: refused, and the story keeps the voice of the first request.
        st, _, doc = api.call("POST", url, {"voice_id": b}, headers=key)
        self.assertEqual(st, 422, doc)
        self.assertEqual(api.call("GET", "/api/stories/%s/" % story["id"])[2]["voice_id"], a)
        # Same key, same body: the first answer again, no second job.
        st, h, again = api.call("POST", url, {"voice_id": a}, headers=key)
        self.assertEqual(st, 200)
        self.assertEqual(h.get("idempotent-replayed"), "true")
        self.assertEqual(again["job"]["id"], first["job"]["id"])
        # Regenerate with a mismatched key leaves prompt and template alone too.
        rkey = {"Idempotency-Key": "regen-" + story["id"]}
        rurl = "/api/stories/%s/regenerate/" % story["id"]
        st, _, doc = api.call("POST", rurl, {"prompt": "a heron who sings", "template": "mystery"}, headers=rkey)
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc["story"]["template"], "mystery")
        st, _, doc = api.call("POST", rurl, {"prompt": "a heron who dances", "template": "sci-fi"}, headers=rkey)
        self.assertEqual(st, 422, doc)
        now = api.call("GET", "/api/stories/%s/" % story["id"])[2]
        self.assertEqual((now["prompt"], now["template"]), ("a heron who sings", "mystery"))


if __name__ == "__main__":
    unittest.main()
