"""Child safety and story consistency through the real server (issue 12): unsafe prompts never
reach a model or a child unchanged and the story records what the screen did; benign prompts
with tricky words pass untouched; every story gets a character sheet and 3-5 questions that a
regenerate renews; the scene prompts of one story share the sheet and the seed; and the Bedrock
Guardrails path (ApplyGuardrail on inputs, guardrailConfig and filtered outputs) against
tools/fake-aws."""
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import unittest

from nova import SOURCE, Server

sys.path.insert(0, os.path.join(SOURCE, "tools"))
from fakeaws.harness import FakeAws  # noqa: E402

DB_URL = os.environ.get("NOVA_TEST_DATABASE_URL", "")
_LSAN = os.path.join(tempfile.gettempdir(), "nova-safety-lsan.supp")
with open(_LSAN, "w") as _f:
    _f.write("leak:libfontconfig\n")
BASE_ENV = {
    "NOVA_ARGON2_MEMORY_KIB": 1024, "NOVA_ARGON2_ITERATIONS": 1, "NOVA_LOGIN_MAX_FAILURES": 100000,
    "NOVA_TEXT_PROVIDER": "offline", "NOVA_VISION_PROVIDER": "offline",
    "NOVA_SPEECH_PROVIDER": "espeak", "NOVA_IMAGE_PROVIDER": "offline",
    "NOVA_OFFLINE_STREAM_DELAY_MS": 0, "NOVA_JOB_POLL_MS": 200, "NOVA_JOB_BACKOFF_BASE_MS": 100,
    "LSAN_OPTIONS": ":".join(x for x in (os.environ.get("LSAN_OPTIONS", ""),
                                        "suppressions=" + _LSAN) if x),
}
SHORT = {"max_word_count": 150, "story_parts": 3}

_OWN_DB = None


def own_db():
    """A database of this module's own, so other test files' servers never run our jobs."""
    global _OWN_DB
    if _OWN_DB is None:
        name = "nova_safety_%d_%s" % (os.getpid(), secrets.token_hex(3))
        subprocess.run(["psql", DB_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE " + name],
                       check=True, capture_output=True)
        _OWN_DB = DB_URL.rsplit("/", 1)[0] + "/" + name
    return _OWN_DB


def server(**env):
    srv = Server(db=True, env=dict(BASE_ENV, **env))
    srv.env["DATABASE_URL"] = own_db()
    return srv


class Api:
    def __init__(self, srv, token=None):
        self.srv, self.token = srv, token

    def call(self, method, path, body=None, timeout=120):
        h = {"Authorization": "Token " + self.token} if self.token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            payload = r.read()
            ok = r.getheader("Content-Type", "").startswith("application/json")
            return r.status, json.loads(payload) if payload and ok else None
        finally:
            c.close()


def new_user(srv, settings=None):
    name = "s" + secrets.token_hex(5)
    api = Api(srv)
    st, doc = api.call("POST", "/api/register/", {
        "username": name, "email": name + "@example.org", "first_name": "S", "last_name": "F",
        "password": "safety-pass-9", "confirm_password": "safety-pass-9", "user_type": "user",
        "accept_terms": True})
    assert st == 201, (st, doc)
    api.token = doc["token"]
    if settings:
        st, doc = api.call("PATCH", "/api/story-settings/", settings)
        assert st == 200, (st, doc)
    return api


def create(api, title, prompt, template="adventure"):
    st, story = api.call("POST", "/api/stories/", {"title": title, "prompt": prompt, "template": template})
    assert st == 201, (st, story)
    assert story["status"] == "ready", story
    return story


def words(text):
    return set(re.findall(r"[a-z]+", text.lower()))


def check_questions(test, story):
    qs = story["questions"]
    test.assertTrue(3 <= len(qs) <= 5, qs)
    for q in qs:
        test.assertTrue(q["question"].strip().endswith("?"), q)
        test.assertTrue(q["answer"].strip(), q)


def wait_scenes(api, story_id, n_min=1, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, story = api.call("GET", "/api/stories/%s/" % story_id)
        scenes = story["scenes"] if st == 200 else []
        if len(scenes) >= n_min and all(s["status"] in ("ready", "failed") for s in scenes):
            return story
        time.sleep(0.3)
    raise AssertionError("scenes did not finish")


@unittest.skipUnless(DB_URL, "NOVA_TEST_DATABASE_URL not set (run through tools/test)")
class OfflineScreen(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.media = tempfile.mkdtemp(prefix="nova-safety-")
        cls.srv = server(NOVA_MEDIA_DIR=cls.media).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        assert rc == 0, cls.srv.read_log()[-4000:]

    def test_severe_prompt_becomes_a_gentle_fallback(self):
        api = new_user(self.srv, SHORT)
        story = create(api, "The murder house", "a murder in a dark house with blood everywhere")
        self.assertEqual(story["safety"]["action"], "fallback", story["safety"])
        self.assertIn("violence", story["safety"]["reasons"])
        for bad in ("murder", "blood"):
            self.assertNotIn(bad, words(story["title"]), story["title"])
            self.assertNotIn(bad, words(story["story_text"]))
            self.assertNotIn(bad, words(json.dumps(story["questions"])))
        self.assertTrue(story["story_text"].startswith("Part 1"), story["story_text"][:80])
        # The record names categories only, never the words it matched.
        self.assertNotIn("murder", json.dumps(story["safety"]))

    def test_mild_prompt_is_rewritten(self):
        api = new_user(self.srv, SHORT)
        story = create(api, "Knight", "a knight who wants to kill the grumpy dragon")
        self.assertEqual(story["safety"]["action"], "rewritten", story["safety"])
        self.assertEqual(story["safety"]["reasons"], ["violence"])
        self.assertNotIn("kill", words(story["story_text"]))
        self.assertIn("dragon", story["story_text"].lower())  # the idea survives the rewrite

    def test_personal_data_is_redacted(self):
        api = new_user(self.srv, SHORT)
        story = create(api, "Call me", "a puppy whose owner is at 555-123-4567, mail sam@example.com")
        self.assertEqual(story["safety"]["action"], "rewritten", story["safety"])
        self.assertIn("personal_phone", story["safety"]["reasons"])
        self.assertNotIn("555", story["story_text"])
        self.assertNotIn("example.com", story["story_text"])

    def test_benign_tricky_prompt_is_allowed_unchanged(self):
        api = new_user(self.srv, SHORT)
        prompt = "a girl who learns to shoot a basket in Scunthorpe"
        story = create(api, "Basketball day", prompt)
        self.assertEqual(story["safety"], {"action": "allowed", "reasons": []})
        self.assertEqual(story["prompt"], prompt)
        self.assertEqual(story["title"], "Basketball day")
        self.assertIn("basket", story["story_text"].lower())

    def test_questions_and_character_sheet(self):
        api = new_user(self.srv, dict(SHORT, age_range="3-5"))
        young = create(api, "Owl", "an owl who is afraid of the dark")
        check_questions(self, young)
        self.assertEqual(len(young["questions"]), 3)  # the youngest listeners get three
        api2 = new_user(self.srv, dict(SHORT, age_range="9-12"))
        older = create(api2, "Owl", "an owl who is afraid of the dark")
        self.assertEqual(len(older["questions"]), 5)
        chars = young["characters"]
        self.assertTrue(chars, young)
        hero = chars[0]
        self.assertEqual(hero["role"], "hero")
        for key in ("name", "kind", "looks", "clothes"):
            self.assertTrue(hero[key], hero)
        self.assertTrue(2 <= len(hero["colours"]) <= 3, hero)
        self.assertIn(hero["name"], young["story_text"])

    def test_scene_prompts_share_sheet_and_seed(self):
        api = new_user(self.srv, SHORT)
        story = create(api, "Meadow", "a rabbit and a tortoise race across the meadow")
        st, res = api.call("POST", "/api/stories/%s/generate_scenes/" % story["id"])
        self.assertEqual(st, 200, res)
        story = wait_scenes(api, story["id"], 3)
        scenes = story["scenes"]
        self.assertEqual(len(scenes), 3)
        hero = story["characters"][0]
        seeds = {s["seed"] for s in scenes}
        self.assertEqual(len(seeds), 1, scenes)
        self.assertIsNotNone(seeds.pop())
        for s in scenes:
            self.assertEqual(s["status"], "ready", s)
            p = s["prompt_used"]
            # The hero's full sheet entry is on every page, with the child-safe style words.
            self.assertIn("%s the %s" % (hero["name"], hero["kind"]), p)
            for colour in hero["colours"]:
                self.assertIn(colour, p)
            self.assertIn("picture-book", p)
            self.assertLessEqual(len(p), 1000)
            self.assertIsNone(s["moderation"])

    def test_regenerate_renews_sheet_and_questions(self):
        api = new_user(self.srv, SHORT)
        story = create(api, "Boat", "a cat who sails a paper boat")
        st, res = api.call("POST", "/api/stories/%s/regenerate/" % story["id"],
                           {"prompt": "a robot who plants a garden on the moon", "template": "sci-fi"})
        self.assertEqual(st, 200, res)
        new = res["story"]
        self.assertNotEqual(new["characters"], story["characters"])
        self.assertNotEqual(new["questions"], story["questions"])
        check_questions(self, new)
        self.assertIn(new["characters"][0]["name"], new["story_text"])
        self.assertEqual(new["safety"]["action"], "allowed")
        # Unsafe changes asked for in a regenerate are dropped, and recorded.
        st, res = api.call("POST", "/api/stories/%s/regenerate/" % story["id"],
                           {"modifications": "add a murder scene"})
        self.assertEqual(st, 200, res)
        self.assertEqual(res["story"]["safety"]["action"], "rewritten")
        self.assertNotIn("murder", words(res["story"]["story_text"]))

    def test_safety_is_shown_to_the_owner_only(self):
        owner = new_user(self.srv, SHORT)
        story = create(owner, "Mine", "a fox who shares berries")
        st, lst = owner.call("GET", "/api/stories/")
        self.assertEqual(st, 200)
        items = lst["results"] if isinstance(lst, dict) else lst
        mine = [s for s in items if s["id"] == story["id"]]
        self.assertEqual(mine[0]["safety"], {"action": "allowed", "reasons": []})
        other = new_user(self.srv)
        st, _ = other.call("GET", "/api/stories/%s/" % story["id"])
        self.assertEqual(st, 404)


@unittest.skipUnless(DB_URL, "NOVA_TEST_DATABASE_URL not set (run through tools/test)")
class BedrockGuardrails(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeAws("--guardrail-word", "broccoli", "--guardrail-word", "gore").start()
        cls.media = tempfile.mkdtemp(prefix="nova-safety-br-")
        env = dict(cls.fake.env(), NOVA_MEDIA_DIR=cls.media, NOVA_TEXT_PROVIDER="bedrock",
                   NOVA_TEXT_MODEL="us.amazon.nova-lite-v1:0", NOVA_GUARDRAIL_ID="gr-kids",
                   NOVA_GUARDRAIL_VERSION="1")
        cls.srv = server(**env).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        cls.fake.stop()
        assert rc == 0, cls.srv.read_log()[-4000:]

    def setUp(self):
        self.fake.clear_faults()
        self.fake.control("DELETE", "/__fake/requests")

    def test_guarded_story_has_sheet_and_questions(self):
        api = new_user(self.srv, SHORT)
        story = create(api, "Lantern", "a fox who finds a lantern in the snow")
        self.assertEqual(story["provider"], "bedrock")
        self.assertEqual(story["safety"], {"action": "allowed", "reasons": []})
        guards = self.fake.requests("guardrail")
        self.assertEqual(len(guards), 1)
        self.assertEqual(guards[0]["action"], "NONE")
        streams = self.fake.requests("converse-stream")
        self.assertTrue(streams and all(r["guardrail_config"] for r in streams))
        sheet = self.fake.requests("converse")
        self.assertTrue(sheet and all(r["guardrail_config"] for r in sheet))
        self.assertEqual(len(story["questions"]), 4)  # ages 6-8
        check_questions(self, story)
        self.assertTrue(story["characters"] and story["characters"][0]["colours"], story["characters"])

    def test_input_refused_by_guardrail_becomes_fallback(self):
        api = new_user(self.srv, SHORT)
        # "broccoli" passes the offline screen; the guardrail refuses it.
        story = create(api, "Dinner", "a picnic where everybody eats broccoli")
        self.assertEqual(story["safety"]["action"], "fallback", story["safety"])
        self.assertIn("model_filter", story["safety"]["reasons"])
        self.assertNotIn("broccoli", story["story_text"].lower())
        self.assertEqual(story["status"], "ready")
        guards = self.fake.requests("guardrail")
        self.assertEqual([g["action"] for g in guards], ["GUARDRAIL_INTERVENED"])
        # The refused prompt never reached the model.
        self.assertEqual(self.fake.requests("converse-stream"), [])
        check_questions(self, story)

    def test_stream_broken_midway_is_written_again_in_the_same_job(self):
        # Bedrock throttles mid-story: the stream is restarted by the aws client and the live
        # text starts over in the same job (no failed attempt, no job retry).
        api = new_user(self.srv, SHORT)
        retries_before = self.srv.read_log().count("will retry")
        self.fake.add_faults([{"match": {"op": "converse-stream"}, "action": "midstream_exception",
                               "after": 3, "exception": "throttlingException", "times": 1}])
        story = create(api, "Boat", "a boy who sails a paper boat")
        self.assertEqual(story["provider"], "bedrock")
        self.assertEqual(story["safety"], {"action": "allowed", "reasons": []})
        self.assertIn("Part 1", story["story_text"])
        self.assertEqual(len(self.fake.requests("converse-stream", at_least=2)), 2)
        log = self.srv.read_log()
        self.assertIn("answer broke off; it is written again", log)
        self.assertEqual(log.count("will retry"), retries_before)

    def test_filtered_output_is_written_again(self):
        api = new_user(self.srv, SHORT)
        self.fake.add_faults([{"match": {"op": "converse-stream"}, "action": "moderate", "times": 1}])
        story = create(api, "Kite", "a girl who flies a red kite")
        self.assertEqual(story["provider"], "bedrock")
        self.assertEqual(story["safety"], {"action": "rewritten", "reasons": ["model_filter"]})
        self.assertNotIn("I'm sorry", story["story_text"])
        self.assertEqual(len(self.fake.requests("converse-stream")), 2)

    def test_output_filtered_twice_becomes_fallback(self):
        api = new_user(self.srv, SHORT)
        self.fake.add_faults([{"match": {"op": "converse-stream"}, "action": "moderate", "times": 2}])
        story = create(api, "Kite", "a boy who flies a blue kite")
        self.assertEqual(story["safety"]["action"], "fallback", story["safety"])
        self.assertIn("model_filter", story["safety"]["reasons"])
        self.assertEqual(story["provider"], "offline")
        self.assertTrue(story["story_text"].startswith("Part 1"))
        check_questions(self, story)


if __name__ == "__main__":
    unittest.main()
