"""The database seen through HTTP: queries via the pool, readiness, and an outage of PostgreSQL
(stopped with `pg_ctl stop -m immediate` under load, then started again) that the server survives:
fast 503s with Retry-After, /readyz 503, then recovery without a restart."""
import os
import subprocess
import tempfile
import threading
import time
import unittest

from nova import SOURCE, Server

PGCTL = os.path.join(SOURCE, "tools", "pgctl")


def have_postgres():
    return os.path.exists("/usr/lib/postgresql/15/bin/initdb")


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

    def test_client_leaving_cancels_its_query(self):
        with self.server() as srv:
            c = srv.connect()
            c.send("GET /bench/db?sleep=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.2)
            c.close()
            time.sleep(0.2)
            self.assertEqual(srv.json("GET", "/bench/db?n=2")[2], {"value": "3"})


if __name__ == "__main__":
    unittest.main()
