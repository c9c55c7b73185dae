"""The story read cache (src/api/story_cache.h) never shows a stale story: a read right after any
write (title, text, scenes added or deleted, the owner's name) shows the write, on the instance
that made it and on another instance of the same database; repeated reads of an unchanged story
are answered from the cache (counted on /metrics); NOVA_STORY_CACHE_BYTES=0 turns it off."""
import http.client
import re
import unittest

from test_pipeline import DB_URL, new_user, psql, server

TEXT = "Part 1: Hill\nA fox climbed a hill.\n\nPart 2: River\nThe fox crossed a river.\n"


def hits(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(r'nova_story_cache_requests_total\{result="hit"\} (\d+)', text)
    return int(m.group(1)) if m else None


@unittest.skipUnless(DB_URL, "NOVA_TEST_DATABASE_URL not set (run through tools/test)")
class StoryCache(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # No job workers: the stories stay exactly as the test writes them.
        cls.a = server(NOVA_WORKERS=0).start()
        cls.b = server(NOVA_WORKERS=0).start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.a, cls.b):
            rc = s.stop()
            assert rc == 0, s.read_log()[-4000:]

    def test_reads_see_every_write_at_once_on_every_instance(self):
        api = new_user(self.a)
        st, _, s = api.call("POST", "/api/stories/", {"title": "Fox", "prompt": "a fox", "story_text": TEXT})
        self.assertIn(st, (201, 202), s)
        path = "/api/stories/%s/" % s["id"]
        other = type(api)(self.b, api.token)

        def get(a):
            st, _, doc = a.call("GET", path)
            self.assertEqual(st, 200, doc)
            return doc

        before = hits(self.a)
        first = get(api)
        for _ in range(5):
            self.assertEqual(get(api), first)
        self.assertGreaterEqual(hits(self.a) - before, 4)  # served from the cache
        get(other)  # instance b has it cached too
        # A title edited through b is seen at once through a, and the other way round.
        self.assertEqual(other.call("PATCH", path, {"title": "Fox on a hill"})[0], 200)
        self.assertEqual(get(api)["title"], "Fox on a hill")
        self.assertEqual(api.call("PATCH", path, {"story_text": TEXT + "\nPart 3: Home\nHome.\n"})[0], 200)
        self.assertIn("Part 3", get(other)["story_text"])
        # Scenes change the story's version too (sql/0005_story_version.sql).
        get(api), get(other)
        st, _, doc = api.call("POST", path + "initialize_scenes/")
        self.assertEqual(st, 200, doc)
        self.assertEqual([c["scene_number"] for c in get(other)["scenes"]], [1, 2, 3])
        self.assertEqual([c["scene_number"] for c in get(api)["scenes"]], [1, 2, 3])
        st, _, doc = other.call("POST", path + "delete_scene/", {"scene_id": get(api)["scenes"][1]["id"]})
        self.assertEqual(st, 200, doc)
        self.assertEqual([c["scene_number"] for c in get(api)["scenes"]], [1, 3])
        st, _, doc = api.call("POST", path + "add_scene/", {"scene_number": 2, "scene_text": "Again."})
        self.assertEqual(st, 201, doc)
        self.assertEqual([c["scene_text"] for c in get(other)["scenes"]][1], "Again.")
        # The owner's name is part of the story JSON: a change to the owner's row shows too.
        get(api), get(other)
        psql("UPDATE users SET username = 'renamed_%d' WHERE id = %d" % (api.user_id, api.user_id))
        self.assertEqual(get(api)["user_name"], "renamed_%d" % api.user_id)
        self.assertEqual(get(other)["user_name"], "renamed_%d" % api.user_id)
        # Deleted: gone everywhere.
        self.assertEqual(api.call("DELETE", path)[0], 204)
        self.assertEqual(other.call("GET", path)[0], 404)
        self.assertEqual(api.call("GET", path)[0], 404)

    def test_off_when_the_budget_is_zero(self):
        with server(NOVA_WORKERS=0, NOVA_STORY_CACHE_BYTES=0) as srv:
            api = new_user(srv)
            st, _, s = api.call("POST", "/api/stories/", {"title": "Owl", "prompt": "an owl", "story_text": TEXT})
            self.assertIn(st, (201, 202), s)
            for _ in range(3):
                self.assertEqual(api.call("GET", "/api/stories/%s/" % s["id"])[0], 200)
            self.assertEqual(hits(srv), 0)


if __name__ == "__main__":
    unittest.main()
