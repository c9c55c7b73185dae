"""The real server answers / and /assets/... from NOVA_WEB_DIR with strong ETags, 304 on
If-None-Match, no-cache, a Content-Security-Policy on the page, and 404 for anything outside the
web folder (traversal, hidden files, unknown names)."""
import os
import re
import unittest

from nova import SOURCE, Server

WEB = os.path.join(SOURCE, "src", "web")


class StaticServing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(env={"NOVA_WEB_DIR": WEB}).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_index_and_assets(self):
        status, h, body = self.srv.get("/")
        self.assertEqual(status, 200, body[:200])
        self.assertTrue(h["content-type"].startswith("text/html"))
        with open(os.path.join(WEB, "index.html"), "rb") as f:
            self.assertEqual(body, f.read())
        self.assertRegex(h["etag"], r'^"[0-9a-f]{32}"$')
        self.assertEqual(h["cache-control"], "no-cache")
        self.assertIn("script-src 'self'", h["content-security-policy"])
        self.assertEqual(h["x-content-type-options"], "nosniff")
        # Every module the page loads is served with its type.
        for rel, ctype in (("js/app.js", "text/javascript"), ("styles.css", "text/css"),
                           ("logo.svg", "image/svg+xml"), ("js/story.js", "text/javascript")):
            status, h, body = self.srv.get("/assets/" + rel)
            self.assertEqual(status, 200, rel)
            self.assertTrue(h["content-type"].startswith(ctype), (rel, h["content-type"]))
            with open(os.path.join(WEB, rel), "rb") as f:
                self.assertEqual(body, f.read(), rel)

    def test_every_module_import_resolves(self):
        # Imports in the modules are relative ("./api.js"): each must be a served file.
        deps = set()
        for name in os.listdir(os.path.join(WEB, "js")):
            with open(os.path.join(WEB, "js", name)) as f:
                src = f.read()
            deps.update(re.findall(r"from '\./([^']+)'", src))
            # Pages are imported by name from the route table of app.js.
            deps.update(m + ".js" for m in re.findall(r"mod: '([a-z]+)'", src))
        self.assertGreater(len(deps), 8)
        for dep in sorted(deps):
            status, _, _ = self.srv.get("/assets/js/" + dep)
            self.assertEqual(status, 200, dep)

    def test_conditional_get(self):
        status, h, _ = self.srv.get("/assets/js/app.js")
        etag = h["etag"]
        status, h2, body = self.srv.get("/assets/js/app.js", headers={"If-None-Match": etag})
        self.assertEqual(status, 304)
        self.assertEqual(body, b"")
        self.assertEqual(h2["etag"], etag)
        status, _, _ = self.srv.get("/assets/js/app.js", headers={"If-None-Match": 'W/' + etag + ', "x"'})
        self.assertEqual(status, 304)
        status, _, body = self.srv.get("/assets/js/app.js", headers={"If-None-Match": '"other"'})
        self.assertEqual(status, 200)
        self.assertGreater(len(body), 100)

    def test_head(self):
        c = self.srv.connect()
        c.send("HEAD /assets/styles.css HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(head=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("content-length")), os.path.getsize(os.path.join(WEB, "styles.css")))
        c.close()

    def test_outside_the_web_folder_is_404(self):
        for path in ("/assets/../README.md", "/assets/%2e%2e/README.md", "/assets/js/../../README.md",
                     "/assets/.gitignore", "/assets/js/", "/assets/missing.js", "/assets/js/%2e%2e%2fapi.js",
                     "/assets/..%2fREADME.md", "/assets/js//app.js", "/assets/js\\app.js", "/index.html/"):
            c = self.srv.connect()
            c.send("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
            r = c.read_response()
            c.close()
            self.assertIn(r.status, (400, 404), path)
            self.assertNotIn(b"cmake", r.body.lower(), path)


if __name__ == "__main__":
    unittest.main()
