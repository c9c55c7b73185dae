"""Playlists: reference shapes, the order of stories kept (story_ids in the given order, add,
remove, reorder), public playlists readable by everyone and changed only by their owner, and
story_ids limited to the caller's own stories."""
import unittest
import uuid

from test_stories import StoryClient


class PlaylistsTest(StoryClient, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_server()

    @classmethod
    def tearDownClass(cls):
        cls.stop_server()

    def stories(self, user, n):
        return [self.create_story(user, title="S%d" % i)["id"] for i in range(n)]

    def order(self, user, pid):
        st, _, doc = self.call(user, "GET", "/api/playlists/%s/" % pid)
        self.assertEqual(st, 200, doc)
        return [s["id"] for s in doc["stories"]]

    def test_create_shape_and_order(self):
        u = self.new_user()
        a, b, c = self.stories(u, 3)
        # oldest story first: the reference would have returned them newest first
        st, _, doc = self.call(u, "POST", "/api/playlists/", {"name": "Bedtime", "description": "calm",
                                                             "is_public": False, "story_ids": [a, c, b]})
        self.assertEqual(st, 201, doc)
        for key in ("id", "user", "user_name", "name", "description", "stories", "story_count",
                    "is_public", "created_at", "updated_at"):
            self.assertIn(key, doc)
        self.assertEqual((doc["user"], doc["user_name"], doc["story_count"]), (u["id"], u["username"], 3))
        self.assertEqual([s["id"] for s in doc["stories"]], [a, c, b])
        self.assertEqual(set(doc["stories"][0]) >= {"id", "title", "template", "created_at", "audio_url"}, True)
        pid = doc["id"]
        st, _, doc = self.call(u, "PATCH", "/api/playlists/%s/" % pid, {"story_ids": [b, a]})
        self.assertEqual(st, 200, doc)
        self.assertEqual([s["id"] for s in doc["stories"]], [b, a])
        st, _, lst = self.call(u, "GET", "/api/playlists/?page=1&page_size=10")
        row = [r for r in lst["results"] if r["id"] == pid][0]
        self.assertEqual(set(row), {"id", "user_name", "name", "description", "story_count", "is_public",
                                    "created_at", "updated_at"})
        self.assertEqual(row["story_count"], 2)

    def test_add_remove_reorder(self):
        u = self.new_user()
        a, b, c, d = self.stories(u, 4)
        st, _, doc = self.call(u, "POST", "/api/playlists/", {"name": "P", "story_ids": [a, b]})
        pid = doc["id"]
        st, _, doc = self.call(u, "POST", "/api/playlists/%s/add_story/" % pid, {"story_id": c})
        self.assertEqual(st, 200, doc)
        self.assertEqual(self.order(u, pid), [a, b, c])
        st, _, doc = self.call(u, "POST", "/api/playlists/%s/add_story/" % pid, {"story_id": a})
        self.assertEqual(st, 200)
        self.assertEqual(self.order(u, pid), [a, b, c])  # already there: unchanged
        st, _, doc = self.call(u, "POST", "/api/playlists/%s/remove_story/" % pid, {"story_id": b})
        self.assertEqual(st, 200)
        self.assertEqual(self.order(u, pid), [a, c])
        st, _, doc = self.call(u, "POST", "/api/playlists/%s/remove_story/" % pid, {"story_id": d})
        self.assertEqual(st, 400)
        st, _, doc = self.call(u, "POST", "/api/playlists/%s/add_story/" % pid, {"story_id": d})
        st, _, doc = self.call(u, "POST", "/api/playlists/%s/reorder/" % pid, {"story_ids": [d, c, a]})
        self.assertEqual(st, 200, doc)
        self.assertEqual([s["id"] for s in doc["stories"]], [d, c, a])
        st, _, doc = self.call(u, "POST", "/api/playlists/%s/reorder/" % pid, {"story_ids": [d, c]})
        self.assertEqual(st, 400)
        self.assertEqual(self.order(u, pid), [d, c, a])
        st, _, doc = self.call(u, "POST", "/api/playlists/%s/add_story/" % pid, {"story_id": "nope"})
        self.assertEqual(st, 400)
        self.assertIn("story_id", doc)

    def test_only_own_stories(self):
        u, other = self.new_user(), self.new_user()
        mine = self.stories(u, 1)[0]
        theirs = self.stories(other, 1)[0]
        st, _, doc = self.call(u, "POST", "/api/playlists/", {"name": "X", "story_ids": [mine, theirs]})
        self.assertEqual(st, 400)
        self.assertIn("story_ids", doc)
        st, _, lst = self.call(u, "GET", "/api/playlists/")
        self.assertEqual(lst["count"], 0)  # nothing was created
        st, _, doc = self.call(u, "POST", "/api/playlists/", {"name": "X", "story_ids": ["not-a-uuid"]})
        self.assertEqual(st, 400)
        st, _, doc = self.call(u, "POST", "/api/playlists/", {"name": "X", "story_ids": [mine]})
        pid = doc["id"]
        st, _, doc = self.call(u, "PATCH", "/api/playlists/%s/" % pid, {"story_ids": [theirs]})
        self.assertEqual(st, 400)
        self.assertEqual(self.order(u, pid), [mine])
        st, _, doc = self.call(u, "POST", "/api/playlists/%s/add_story/" % pid, {"story_id": theirs})
        self.assertEqual(st, 400)
        st, _, doc = self.call(u, "POST", "/api/playlists/", {"name": "", "story_ids": []})
        self.assertEqual(st, 400)
        self.assertIn("name", doc)

    def test_public_readable_but_owner_only_changes(self):
        owner, other = self.new_user(), self.new_user()
        s = self.stories(owner, 2)
        st, _, pub = self.call(owner, "POST", "/api/playlists/", {"name": "Shared", "is_public": True,
                                                                 "story_ids": s})
        st, _, priv = self.call(owner, "POST", "/api/playlists/", {"name": "Mine"})
        st, _, doc = self.call(other, "GET", "/api/playlists/%s/" % pub["id"])
        self.assertEqual(st, 200)
        self.assertEqual([x["id"] for x in doc["stories"]], s)
        st, _, lst = self.call(other, "GET", "/api/playlists/")
        ids = [r["id"] for r in lst["results"]]
        self.assertIn(pub["id"], ids)
        self.assertNotIn(priv["id"], ids)
        st, _, _ = self.call(other, "GET", "/api/playlists/%s/" % priv["id"])
        self.assertEqual(st, 404)
        for method, path, body in (("PATCH", "/api/playlists/%s/", {"name": "pwned"}),
                                   ("PUT", "/api/playlists/%s/", {"name": "pwned"}),
                                   ("DELETE", "/api/playlists/%s/", None),
                                   ("POST", "/api/playlists/%s/remove_story/", {"story_id": s[0]}),
                                   ("POST", "/api/playlists/%s/reorder/", {"story_ids": s[::-1]})):
            st, _, doc = self.call(other, method, path % pub["id"], body)
            self.assertEqual(st, 403, (method, path, doc))
            st, _, doc = self.call(other, method, path % priv["id"], body)
            self.assertEqual(st, 404, (method, path))
        st, _, doc = self.call(owner, "GET", "/api/playlists/%s/" % pub["id"])
        self.assertEqual((doc["name"], [x["id"] for x in doc["stories"]]), ("Shared", s))
        st, _, _ = self.call(owner, "DELETE", "/api/playlists/%s/" % pub["id"])
        self.assertEqual(st, 204)
        st, _, _ = self.call(owner, "GET", "/api/playlists/%s/" % pub["id"])
        self.assertEqual(st, 404)

    def test_search_ordering_pagination(self):
        u = self.new_user()
        for name in ("Alpha night", "Beta day", "Gamma night"):
            self.call(u, "POST", "/api/playlists/", {"name": name, "description": "d"})
        st, _, doc = self.call(u, "GET", "/api/playlists/?search=night&ordering=name")
        self.assertEqual([r["name"] for r in doc["results"]], ["Alpha night", "Gamma night"])
        st, _, doc = self.call(u, "GET", "/api/playlists/?ordering=-name&page_size=2")
        self.assertEqual(doc["count"], 3)
        self.assertEqual([r["name"] for r in doc["results"]], ["Gamma night", "Beta day"])
        self.assertIn("page=2", doc["next"])

    def test_deleting_a_story_removes_it_from_playlists(self):
        u = self.new_user()
        a, b = self.stories(u, 2)
        st, _, doc = self.call(u, "POST", "/api/playlists/", {"name": "P", "story_ids": [a, b]})
        self.call(u, "DELETE", "/api/stories/%s/" % a)
        st, _, doc = self.call(u, "GET", "/api/playlists/%s/" % doc["id"])
        self.assertEqual(([x["id"] for x in doc["stories"]], doc["story_count"]), ([b], 1))

    def test_unknown_playlist(self):
        u = self.new_user()
        st, _, _ = self.call(u, "GET", "/api/playlists/%s/" % uuid.uuid4())
        self.assertEqual(st, 404)


if __name__ == "__main__":
    unittest.main()
