"""Several instances: three server processes on one PostgreSQL database and one S3 bucket (s3rver),
behind nginx started with a generated configuration (one upstream, proxy_buffering off for the
event streams, long read timeouts). A user signs up through one instance, creates a story
through another, and event streams on a third and through nginx receive every event of the job;
scene jobs spread over the instances; kill -9 of an instance in the middle of scene jobs leaves
the work to the others with exactly one scene row and one object per scene; sign-in throttling
holds across instances. Skipped without nginx, node/s3rver or a database."""
import datetime
import hashlib
import hmac
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from nova import free_port
from test_pipeline import (DB_URL, SHORT, SSE, Api, final_job, five_parts, new_user, psql, server,
                           wait_until)
from test_s3_media import AK, BUCKET, SK, S3rver, fetch, s3_env

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def s3_list(endpoint, prefix):
    """Keys under prefix (ListObjectsV2, SigV4 signed as the test server requires)."""
    host = urllib.parse.urlsplit(endpoint).netloc
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    enc = lambda s: urllib.parse.quote(s, safe="-_.~")
    query = "&".join("%s=%s" % (enc(k), enc(v)) for k, v in sorted({"list-type": "2", "prefix": prefix}.items()))
    empty = hashlib.sha256(b"").hexdigest()
    headers = "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n" % (host, empty, amz)
    signed = "host;x-amz-content-sha256;x-amz-date"
    creq = "\n".join(["GET", "/" + BUCKET, query, headers, signed, empty])
    scope = "%s/us-east-1/s3/aws4_request" % day
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + SK).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (AK, scope, signed, sig)
    st, _, body = fetch("%s/%s?%s" % (endpoint, BUCKET, query),
                        {"Authorization": auth, "x-amz-date": amz, "x-amz-content-sha256": empty})
    assert st == 200, (st, body)
    assert b"<IsTruncated>true" not in body
    return sorted(re.findall(r"<Key>([^<]+)</Key>", body.decode()))


class Nginx:
    def __init__(self, ports):
        self.dir = tempfile.mkdtemp(prefix="nova-nginx-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        user = "user root;\n" if os.geteuid() == 0 else ""
        upstream = "".join("        server 127.0.0.1:%d max_fails=1 fail_timeout=2s;\n" % p for p in ports)
        conf = """%(user)sworker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 512; }
http {
    access_log %(d)s/access.log;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    upstream nova {
%(upstream)s        keepalive 16;
    }
    server {
        listen 127.0.0.1:%(port)d;
        client_max_body_size 20m;
        location / {
            proxy_pass http://nova;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # Server-sent events must reach the browser as they are written.
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_next_upstream error timeout;
        }
    }
}
""" % {"user": user, "d": self.dir, "port": self.port, "upstream": upstream}
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen([NGINX, "-e", os.path.join(self.dir, "error.log"), "-p", self.dir,
                                      "-c", self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise AssertionError("nginx did not start: " + open(os.path.join(self.dir, "error.log")).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def started_jobs(srv):
    return {m.group(1) for m in re.finditer(r'job ([0-9a-f-]{36}) \(scene\) attempt \d+/\d+ started',
                                            srv.read_log())}


@unittest.skipUnless(DB_URL, "NOVA_TEST_DATABASE_URL not set (run through tools/test)")
@unittest.skipUnless(NGINX, "nginx is not installed (apt-get install nginx)")
class Cluster(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s3 = S3rver()
        cls.prefix = "c%s/" % secrets.token_hex(4)
        cls.secret = secrets.token_hex(32)  # every instance must share it (signed URLs, tickets)
        cls.servers = [cls.start_one() for _ in range(3)]
        cls.lb = Nginx([s.port for s in cls.servers])

    @classmethod
    def start_one(cls, port=None):
        env = s3_env(cls.s3, cls.prefix, NOVA_SECRET_KEY=cls.secret, NOVA_WORKERS=3,
                     NOVA_IMAGE_MAX_INFLIGHT=3, NOVA_JOB_LEASE_S=3, NOVA_TEST_IMAGE_DELAY_MS=300,
                     NOVA_LOGIN_MAX_FAILURES=3, NOVA_LOGIN_WINDOW_S=60)
        srv = server(**env)
        if port:
            srv.port = port
            srv.env["NOVA_LISTEN"] = "127.0.0.1:%d" % port
        return srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.lb.stop()
        for s in cls.servers:
            rc = s.stop()
            assert rc in (0, -9, None), s.read_log()[-3000:]
        cls.s3.stop()

    def via_lb(self, token=None):
        return Api(self.lb, token)

    def test_signup_create_and_events_across_instances(self):
        a, b, c = self.servers
        user = new_user(a, SHORT)  # signed up through A
        on_b = Api(b, user.token)
        sse_c = SSE(c.port, "/api/events/", user.token)  # a stream on C
        sse_lb = SSE(self.lb.port, "/api/events/", user.token)  # and one through nginx
        self.assertEqual(sse_lb.status, 200)
        st, _, story = on_b.call("POST", "/api/stories/", {"title": "Three", "prompt": "three hosts"},
                                 headers={"Prefer": "respond-async"})  # created through B
        self.assertIn(st, (201, 202), story)
        job = story["job"]["id"]
        for sse in (sse_c, sse_lb):
            sse.wait_for(lambda e: e["event"] in ("job.succeeded", "job.failed") and e["data"]["job_id"] == job, 60)
        ids = [int(x) for x in psql("SELECT id FROM job_events WHERE job_id = '%s' ORDER BY id" % job).split()]
        self.assertGreater(len(ids), 5)
        for sse in (sse_c, sse_lb):
            got = [e["id"] for e in sse.events if e["data"] and e["data"].get("job_id") == job]
            self.assertEqual(got, ids)
            sse.close()
        types = psql("SELECT type FROM job_events WHERE job_id = '%s' ORDER BY id" % job).split()
        self.assertEqual(types[-1], "job.succeeded")
        # Media written by whichever instance ran the job are readable from all of them.
        lb = self.via_lb(user.token)
        st, _, doc = lb.call("GET", "/api/stories/%s/" % story["id"])
        self.assertEqual(doc["status"], "ready")
        self.assertEqual(fetch(doc["audio_url"], {"Range": "bytes=0-9"})[0], 206)

    def test_scenes_spread_and_kill_minus_nine(self):
        user = new_user(self.servers[0], SHORT)
        lb = self.via_lb(user.token)
        stories = []
        for i in range(4):
            st, _, s = lb.call("POST", "/api/stories/", {"title": "K%d" % i, "prompt": "spread %d" % i},
                               headers={"Prefer": "respond-async"})
            self.assertIn(st, (201, 202), s)
            final_job(lb, s["job"]["id"], 90)
            lb.call("PATCH", "/api/stories/%s/" % s["id"], {"story_text": five_parts("K%d" % i)})
            stories.append(s)
        parents = []
        for s in stories:
            st, _, d = lb.call("POST", "/api/stories/%s/generate_scenes/" % s["id"],
                               headers={"Prefer": "respond-async"})
            self.assertIn(st, (200, 202), d)
            parents.append(d["job"]["id"])
        ids = ",".join("'%s'" % p for p in parents)
        # Kill the instance that holds a scene job right now, as soon as some are done.
        wait_until(lambda: int(psql("SELECT count(*) FROM jobs WHERE parent_id IN (%s) AND state = 'succeeded'" % ids)) >= 2,
                   90, 0.05, "first scenes")
        victim = None
        for srv in self.servers:
            running = started_jobs(srv) & set(psql(
                "SELECT id FROM jobs WHERE parent_id IN (%s) AND state = 'running'" % ids).split())
            if running:
                victim = srv
                break
        self.assertIsNotNone(victim, "no instance holds a scene job")
        victim.proc.kill()
        victim.proc.wait()
        for p in parents:
            self.assertEqual(final_job(lb, p, 180)["state"], "succeeded")
        # Every instance ran scene jobs; the crashed one's jobs were taken over (attempt > 1).
        scene_ids = set(psql("SELECT id FROM jobs WHERE parent_id IN (%s)" % ids).split())
        self.assertEqual(len(scene_ids), 20)
        ran = [started_jobs(s) & scene_ids for s in self.servers]
        self.assertTrue(all(ran), [len(r) for r in ran])
        self.assertGreater(int(psql("SELECT count(*) FROM jobs WHERE parent_id IN (%s) AND attempt > 1" % ids)), 0)
        # Exactly one row and one object per scene, and the row points at the object.
        for s in stories:
            rows = psql("SELECT scene_number, image FROM story_scenes WHERE story_id = '%s' ORDER BY 1" % s["id"])
            rows = [r.split("|") for r in rows.splitlines()]
            self.assertEqual([int(n) for n, _ in rows], [1, 2, 3, 4, 5])
            folder = os.path.dirname(rows[0][1]) + "/"
            keys = s3_list(self.s3.endpoint, self.prefix + folder)
            self.assertEqual(keys, sorted(self.prefix + img for _, img in rows))
        # The others keep serving; restart the victim on its port so nginx has three again.
        idx = self.servers.index(victim)
        self.servers[idx] = self.start_one(victim.port)

    def test_login_throttle_holds_across_instances(self):
        user = new_user(self.servers[0])
        name = psql("SELECT username FROM users WHERE id = %d" % user.user_id)
        codes = []
        for i in range(5):
            srv = self.servers[i % 3]  # each try lands on another instance
            st, _, _ = Api(srv).call("POST", "/api/login/", {"username": name, "password": "wrong-%d" % i})
            codes.append(st)
        # NOVA_LOGIN_MAX_FAILURES=3, counted in PostgreSQL: the fourth try is refused wherever it
        # lands, even with the right password.
        self.assertEqual(codes, [401, 401, 401, 429, 429])
        st, h, _ = Api(self.servers[1]).call("POST", "/api/login/",
                                             {"username": name, "password": "pipeline-pass-9"})
        self.assertEqual(st, 429)
        self.assertIn("retry-after", h)

if __name__ == "__main__":
    unittest.main()
