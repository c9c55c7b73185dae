"""Server-sent event streams: heartbeat comments and the retry field, a client too slow to read
(bounded server memory, then a catch-up from the database whose merged text deltas still add
up to exactly the story), and streams ended at shutdown with a resumable id."""
import os
import re
import signal
import socket
import tempfile
import time
import unittest

import test_pipeline as tp


@unittest.skipUnless(tp.DB_URL, "NOVA_TEST_DATABASE_URL not set (run through tools/test)")
class Streams(unittest.TestCase):
    def server(self, **env):
        media = tempfile.mkdtemp(prefix="nova-sse-")
        return tp.server(NOVA_MEDIA_DIR=media, **env)

    def test_heartbeat_and_retry(self):
        with self.server(NOVA_SSE_HEARTBEAT_S=1, NOVA_SSE_RETRY_MS=1500) as srv:
            api = tp.new_user(srv)
            sse = tp.SSE(srv.port, "/api/events/", api.token)
            deadline = time.time() + 10
            while time.time() < deadline and sse.comments < 3:
                sse.pump(0.5)
            self.assertEqual(sse.retry, 1500)
            self.assertGreaterEqual(sse.comments, 3)  # ": connected" and at least two beats
            self.assertEqual(sse.events, [])
            sse.close()

    def test_slow_client_catches_up_with_exact_text(self):
        with self.server(NOVA_SSE_MAX_QUEUED_BYTES=4096, NOVA_OFFLINE_STREAM_DELAY_MS=1) as srv:
            api = tp.new_user(srv, {"max_word_count": 2000, "story_parts": 8})
            # A client that does not read: a tiny receive buffer makes the server's queue fill.
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", srv.port))
            s.sendall(("GET /api/events/ HTTP/1.1\r\nHost: t\r\nAuthorization: Token %s\r\n\r\n"
                       % api.token).encode())
            st, _, story = api.call("POST", "/api/stories/", {"title": "Long", "prompt": "a very long trip"},
                                    headers={"Prefer": "wait=60"}, timeout=90)
            self.assertEqual(st, 201, story)
            self.assertGreater(len(story["story_text"]), 8000)
            # Now read everything: the stream catches up from the database.
            sse = tp.SSE.__new__(tp.SSE)
            sse.sock, sse.buf, sse.headers, sse.events, sse.retry, sse.comments = s, b"", {}, [], None, 0
            sse._pending = b""
            sse._read_head()
            sse.wait_for(lambda e: e["event"] == "job.succeeded", 60)
            deltas = [e for e in sse.events if e["event"] == "story.delta"]
            text = "".join(e["data"]["text"] for e in deltas)
            self.assertEqual(text, story["story_text"])
            ids = [e["id"] for e in sse.events]
            self.assertEqual(ids, sorted(ids))
            self.assertEqual(len(ids), len(set(ids)))
            stored = int(tp.psql("SELECT count(*) FROM job_events WHERE type = 'story.delta' AND job_id = '%s'"
                                 % story["job"]["id"]))
            self.assertLessEqual(len(deltas), stored)  # merged when it had to catch up
            sse.close()

    def test_shutdown_ends_streams_with_resumable_id(self):
        srv = self.server(NOVA_SHUTDOWN_GRACE_S=30).start()
        api = tp.new_user(srv, tp.SHORT)
        st, _, story = api.call("POST", "/api/stories/", {"title": "Bye", "prompt": "a goodbye"})
        sse = tp.SSE(srv.port, "/api/stories/%s/events/" % story["id"], api.token, last_event_id=0)
        sse.wait_for(lambda e: e["event"] == "job.succeeded")
        last = sse.events[-1]["id"]
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        with self.assertRaises(EOFError):
            while True:
                sse.pump(1.0)
        sse.close()
        self.assertLess(time.time() - t0, 15)  # not held until the 30 s grace period ends
        self.assertEqual(srv.proc.wait(10), 0, srv.read_log()[-3000:])
        srv2 = self.server().start()
        try:
            again = tp.SSE(srv2.port, "/api/stories/%s/events/" % story["id"], api.token, last_event_id=last)
            deadline = time.time() + 1.5
            while time.time() < deadline:
                again.pump(0.3)
            self.assertEqual(again.events, [])  # nothing after the last id: no duplicates
            again.close()
        finally:
            self.assertEqual(srv2.stop(), 0)


if __name__ == "__main__":
    unittest.main()
