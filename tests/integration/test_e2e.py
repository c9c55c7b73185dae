"""Issue 10: the browser app. Three groups:

- StaticServing: the real server answers / and /assets/... from NOVA_WEB_DIR with strong ETags,
  304 on If-None-Match, no-cache, a Content-Security-Policy on the page, and 404 for anything
  outside the web folder (traversal, hidden files, unknown names).
- BrowserAgainstServer: tests/e2e/app.spec.mjs in Debian's chromium against the real server with
  the database (sign-up, create a story live, narration with read-along, scenes, playlist,
  settings). Needs every story endpoint of the backend.
- BrowserAgainstFakeApi: the same script against tests/e2e/fake_api.py, which checks the web app
  itself whatever the state of the backend.

The browser tests skip (exit 77) when node, chromium or playwright-core is missing."""
import os
import re
import shutil
import subprocess
import sys
import unittest

from nova import SOURCE, Server

WEB = os.path.join(SOURCE, "src", "web")
SPEC = os.path.join(SOURCE, "tests", "e2e", "app.spec.mjs")
FAKE = os.path.join(SOURCE, "tests", "e2e", "fake_api.py")


def run_spec(url, timeout=900):
    node = shutil.which("node")
    if not node:
        raise unittest.SkipTest("node is not installed")
    env = dict(os.environ, NOVA_E2E_URL=url)
    p = subprocess.run([node, SPEC], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, cwd=SOURCE)
    out = p.stdout.decode(errors="replace")
    sys.stderr.write(out)
    if p.returncode == 77:
        raise unittest.SkipTest(out.strip().splitlines()[-1] if out.strip() else "browser missing")
    return p.returncode, out


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


class BrowserAgainstFakeApi(unittest.TestCase):
    def test_app_against_fake_api(self):
        env = dict(os.environ, FAKE_FAIL_SCENE="2")
        fake = subprocess.Popen([sys.executable, FAKE, "--port", "0", "--web", WEB], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            line = fake.stdout.readline().decode()
            self.assertTrue(line.startswith("READY "), line)
            rc, out = run_spec("http://127.0.0.1:%d" % int(line.split()[1]))
            self.assertEqual(rc, 0, out[-3000:])
        finally:
            fake.terminate()
            fake.wait(timeout=10)


@unittest.skip("the story, jobs and events endpoints have not landed yet: enabled with the pipeline")
class BrowserAgainstServer(unittest.TestCase):
    def test_app_against_real_server(self):
        with Server(db=True, env={"NOVA_WEB_DIR": WEB}) as srv:
            rc, out = run_spec(srv.url(""))
            self.assertEqual(rc, 0, out[-3000:])


if __name__ == "__main__":
    unittest.main()
