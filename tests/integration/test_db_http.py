"""The database seen through HTTP: queries via the pool, readiness, and an outage of PostgreSQL
(stopped with `pg_ctl stop -m immediate` under load, then started again) that the server survives:
fast 503s with Retry-After, /readyz 503, then recovery without a restart. Also: a full wait queue
answers 503 database_busy at once, a client that leaves gets its statement stopped on the
server, and the server refuses to start when an applied migration file was changed or deleted.
"""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from nova import BIN, SOURCE, Server

PGCTL = os.path.join(SOURCE, "tools", "pgctl")


def have_postgres():
    return os.path.exists("/usr/lib/postgresql/15/bin/initdb") and shutil.which("psql")


def psql(url, sql):
    out = subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-Atc", sql], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


# Databases of their own for the tests that need a fresh schema, created on the cluster that
# tools/test started (NOVA_TEST_DATABASE_URL) or, without one, on a private cluster.
_PRIVATE = {}
_CREATED = []


def base_url():
    url = os.environ.get("NOVA_TEST_DATABASE_URL")
    if url:
        return url
    if "url" not in _PRIVATE:
        d = tempfile.mkdtemp(prefix="nova-dbhttp-")
        _PRIVATE["dir"] = d
        _PRIVATE["url"] = subprocess.run([PGCTL, "start", d, "--fast"], check=True,
                                         capture_output=True, text=True).stdout.strip()
    return _PRIVATE["url"]


def fresh_db():
    base = base_url()
    name = "nova_dbhttp_%d_%s" % (os.getpid(), secrets.token_hex(3))
    psql(base, "CREATE DATABASE " + name)
    _CREATED.append(name)
    return base.rsplit("/", 1)[0] + "/" + name


def tearDownModule():
    if _CREATED:
        base = base_url()
        for name in _CREATED:
            subprocess.run(["psql", base, "-q", "-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name],
                           capture_output=True)
    if "dir" in _PRIVATE:
        subprocess.run([PGCTL, "stop", _PRIVATE["dir"]], capture_output=True)
        subprocess.run(["rm", "-rf", _PRIVATE["dir"]])


def metric(srv, name):
    """Value of one line of /metrics ("name value", name with its labels), or None."""
    text = srv.get("/metrics")[2].decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def wait_for(pred, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


@unittest.skipUnless(have_postgres(), "PostgreSQL 15 is not installed")
class DatabaseOutage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A private cluster for this test alone: it is stopped and restarted.
        cls.dir = tempfile.mkdtemp(prefix="nova-outage-")
        cls.url = subprocess.run([PGCTL, "start", cls.dir, "--fast"], check=True, capture_output=True,
                                 text=True).stdout.strip()

    @classmethod
    def tearDownClass(cls):
        subprocess.run([PGCTL, "stop", cls.dir], capture_output=True)
        subprocess.run(["rm", "-rf", cls.dir])

    def server(self, **env):
        base = {"DATABASE_URL": self.url, "NOVA_DB_POOL_SIZE": 4, "NOVA_DB_QUEUE_TIMEOUT_MS": 1000}
        base.update(env)
        srv = Server(env=base)
        srv.env["DATABASE_URL"] = self.url
        return srv

    def test_queries_and_readiness(self):
        with self.server() as srv:
            st, _, doc = srv.json("GET", "/bench/db?n=41")
            self.assertEqual((st, doc), (200, {"value": "42"}))
            st, _, doc = srv.json("GET", "/readyz")
            self.assertEqual(st, 200)
            self.assertEqual(doc["checks"]["database"], "ok")
            text = srv.get("/metrics")[2].decode()
            self.assertIn("nova_db_", text)

    def test_many_concurrent_requests_through_a_small_pool(self):
        with self.server(NOVA_DB_POOL_SIZE=2) as srv:
            results = []

            def worker(i):
                st, _, doc = srv.json("GET", "/bench/db?n=%d" % i)
                results.append((st, doc["value"] if st == 200 else None, i))

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(200)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(len(results), 200)
            for st, value, i in results:
                self.assertEqual(st, 200)
                self.assertEqual(value, str(i + 1))

    def test_outage_gives_fast_503_then_recovers_without_restart(self):
        with self.server() as srv:
            self.assertEqual(srv.json("GET", "/bench/db")[0], 200)
            stop_load = threading.Event()
            seen = []

            def load():
                while not stop_load.is_set():
                    t0 = time.time()
                    st, hdrs, _ = srv.json("GET", "/bench/db")
                    seen.append((st, time.time() - t0, hdrs.get("retry-after")))

            threads = [threading.Thread(target=load) for _ in range(8)]
            for t in threads:
                t.start()
            time.sleep(0.3)
            subprocess.run([PGCTL, "stop", self.dir, "--immediate"], check=True, capture_output=True)
            time.sleep(1.5)
            ready_during = srv.json("GET", "/readyz")[0]
            outage = [s for s in seen if s[0] == 503]
            stop_load.set()
            for t in threads:
                t.join()
            self.assertEqual(ready_during, 503)
            self.assertTrue(outage, "requests during the outage got 503")
            self.assertTrue(all(s[2] for s in outage), "503s carry Retry-After")
            self.assertLess(max(s[1] for s in outage), 2.5, "503s come quickly, not after long waits")
            self.assertTrue(all(s[0] in (200, 503) for s in seen), set(s[0] for s in seen))

            subprocess.run([PGCTL, "start", self.dir, "--fast"], check=True, capture_output=True)
            deadline = time.time() + 20
            while time.time() < deadline and srv.json("GET", "/readyz")[0] != 200:
                time.sleep(0.2)
            self.assertEqual(srv.json("GET", "/readyz")[0], 200)
            self.assertEqual(srv.json("GET", "/bench/db?n=1")[2], {"value": "2"})

    def test_client_leaving_stops_its_statement_on_the_server(self):
        sleeping = ("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                    "AND query = 'SELECT pg_sleep(5)::text'")
        with self.server() as srv:
            c = srv.connect()
            c.send("GET /bench/db?sleep=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(wait_for(lambda: psql(self.url, sleeping) == "1", 5),
                            "the 5 s statement is running")
            t0 = time.time()
            c.close()
            # Far sooner than the 5 s the statement would take: it was cancelled, not finished.
            self.assertTrue(wait_for(lambda: psql(self.url, sleeping) == "0", 2.5),
                            "the statement was stopped when its client left")
            stopped_after = time.time() - t0
            self.assertLess(stopped_after, 2.5)
            self.assertEqual(metric(srv, 'nova_db_cancel_requests_total{reason="caller_cancelled"}'), 1)
            self.assertTrue(wait_for(lambda: metric(srv, 'nova_db_errors_total{kind="cancelled"}') == 1, 3))
            self.assertEqual(srv.json("GET", "/bench/db?n=2")[2], {"value": "3"})


@unittest.skipUnless(have_postgres(), "PostgreSQL 15 and psql are not installed")
class WaitQueue(unittest.TestCase):
    def test_full_wait_queue_is_503_database_busy_with_retry_after(self):
        # One connection, one statement at a time, two requests may wait: while a 5 s statement
        # holds the connection, the first two requests queue and the rest are refused at once.
        env = {"DATABASE_URL": fresh_db(), "NOVA_DB_POOL_SIZE": 1, "NOVA_DB_PIPELINE_DEPTH": 1,
               "NOVA_DB_QUEUE_MAX": 2, "NOVA_DB_QUEUE_TIMEOUT_MS": 30000, "NOVA_WORKERS": 0}
        with Server(env=env) as srv:
            self.assertEqual(srv.json("GET", "/bench/db?n=1")[2], {"value": "2"})
            slow = srv.connect(timeout=30)
            slow.send("GET /bench/db?sleep=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(wait_for(lambda: metric(srv, "nova_db_queries_in_flight") == 1, 5))
            results = {}

            def worker(i):
                t0 = time.time()
                st, hdrs, doc = srv.json("GET", "/bench/db?n=%d" % (10 + i))
                results[i] = (st, hdrs, doc, time.time() - t0)

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            r = slow.read_response()
            slow.close()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json(), {"value": ""})
            busy = [v for v in results.values() if v[0] == 503]
            ok = [(i, v) for i, v in results.items() if v[0] == 200]
            self.assertEqual(len(results), 6)
            self.assertEqual(len(ok) + len(busy), 6, [(v[0], v[2]) for v in results.values()])
            # Only two may wait, so at least four are refused (one more if a background query
            # of the jobs engine held a place in the queue just then); the waiters succeed.
            self.assertGreaterEqual(len(busy), 4)
            self.assertGreaterEqual(len(ok), 1)
            for st, hdrs, doc, took in busy:
                self.assertEqual(doc["error"], "database_busy")
                self.assertTrue(doc["detail"])
                self.assertTrue(doc["request_id"])
                self.assertTrue(hdrs.get("content-type", "").startswith("application/json"))
                self.assertEqual(hdrs.get("retry-after"), "1")
                self.assertLess(took, 2.0, "refused at once, not after waiting for the connection")
            for i, (st, hdrs, doc, took) in ok:
                self.assertEqual(doc, {"value": str(11 + i)})
            self.assertGreaterEqual(metric(srv, 'nova_db_errors_total{kind="busy"}'), len(busy))


def migration_files(folder):
    return sorted(f for f in os.listdir(folder) if re.match(r"^\d{4}_[A-Za-z0-9_-]+\.sql$", f))


@unittest.skipUnless(have_postgres(), "PostgreSQL 15 and psql are not installed")
class MigrationSafety(unittest.TestCase):
    def serve_once(self, url, sql_dir):
        """Starts `serve` expecting it to refuse; returns (exit status, seconds, log text)."""
        env = Server(env={"DATABASE_URL": url, "NOVA_SQL_DIR": sql_dir, "NOVA_WORKERS": 0}).env
        t0 = time.time()
        with tempfile.TemporaryFile("w+") as log:
            p = subprocess.Popen([BIN, "serve"], env=env, stdout=log, stderr=log, text=True)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.fail("the server started (and kept running) instead of refusing")
            log.seek(0)
            return p.returncode, time.time() - t0, log.read()

    def assertRefused(self, url, sql_dir, must_name, reason):
        rc, took, log = self.serve_once(url, sql_dir)
        self.assertEqual(rc, 1, log[-3000:])
        self.assertLess(took, 20, "start-up stops quickly")
        self.assertNotIn("Sanitizer", log)
        errors = [json.loads(l) for l in log.splitlines() if l.startswith("{") and '"error"' in l]
        self.assertTrue(any(must_name in e.get("msg", "") and reason in e.get("msg", "")
                            for e in errors), log[-3000:])

    def test_server_refuses_to_start_when_an_applied_migration_changed_or_vanished(self):
        url = fresh_db()
        env = dict(os.environ, DATABASE_URL=url, NOVA_SQL_DIR=os.path.join(SOURCE, "sql"))
        p = subprocess.run([BIN, "migrate"], env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        sql = tempfile.mkdtemp(prefix="nova-sql-")
        self.addCleanup(shutil.rmtree, sql, True)
        shutil.copytree(os.path.join(SOURCE, "sql"), sql, dirs_exist_ok=True)
        files = migration_files(sql)
        applied = psql(url, "SELECT string_agg(name, ',' ORDER BY version) FROM schema_migrations")
        self.assertEqual(applied.split(","), files)
        # A new migration that sorts before every applied one, and an edit of the newest applied
        # file: the edit must be caught before the new file is applied.
        with open(os.path.join(sql, "0000_dbhttp_probe.sql"), "w") as f:
            f.write("CREATE TABLE dbhttp_probe (id int);\n")
        tampered = os.path.join(sql, files[-1])
        with open(tampered) as f:
            original = f.read()
        with open(tampered, "a") as f:
            f.write("\n-- edited after it was applied\n")
        self.assertRefused(url, sql, files[-1], "modified")
        p = subprocess.run([BIN, "migrate"], env=dict(env, NOVA_SQL_DIR=sql), capture_output=True,
                           text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(files[-1], p.stderr)
        self.assertEqual(psql(url, "SELECT count(*) FROM schema_migrations WHERE version = 0"), "0")
        self.assertEqual(psql(url, "SELECT count(*) FROM pg_tables WHERE tablename = 'dbhttp_probe'"), "0")

        # An applied file deleted from the folder is refused too.
        with open(tampered, "w") as f:
            f.write(original)
        os.rename(os.path.join(sql, files[0]), os.path.join(sql, "moved-away.txt"))
        self.assertRefused(url, sql, files[0], "missing")
        self.assertEqual(psql(url, "SELECT count(*) FROM schema_migrations WHERE version = 0"), "0")

        # Everything restored: the server starts and applies the new file.
        os.rename(os.path.join(sql, "moved-away.txt"), os.path.join(sql, files[0]))
        with Server(env={"DATABASE_URL": url, "NOVA_SQL_DIR": sql, "NOVA_WORKERS": 0}) as srv:
            self.assertEqual(srv.json("GET", "/readyz")[0], 200)
        self.assertEqual(psql(url, "SELECT count(*) FROM schema_migrations WHERE version = 0"), "1")


if __name__ == "__main__":
    unittest.main()
