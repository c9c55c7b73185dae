"""HTTP front end: routing, auth, fault injection, request log, control API.

One ThreadingHTTPServer serves Bedrock Runtime, Polly and the control API
(/__fake/...) on the same port, with HTTP/1.1 keep-alive. Each connection has
its own thread, so injected latency in one request never delays another.

Injected latency is a deadline, not a sleep before the work: a request is
verified and its response built as soon as it arrives, and nothing (response,
fault, drop) leaves before arrival + latency. The fake's own CPU time thus
overlaps the wait instead of adding to it, so a burst of simultaneous requests
is answered on time even though one Python process handles them one at a time.
Responses go out in one write on a TCP_NODELAY socket: two small writes on a
Nagle socket wait for the client's delayed ACK, about 40 ms per response.
"""
import argparse
import io
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

from . import bedrock, httpio, images, polly, state as state_mod, textgen
from .errors import BEDROCK_NS, CORAL_NS, ApiError
from .sigv4 import AuthError, Verifier

_BEDROCK_DEFAULTS = {
    400: ("ValidationException", "The request is invalid."),
    403: ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    404: ("ResourceNotFoundException", bedrock.NOT_FOUND_MESSAGE),
    408: ("ModelTimeoutException", "Model has timed out in processing the request. Try your request again."),
    424: ("ModelErrorException", "The model returned an error."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The server encountered an internal error while processing the request."),
    503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
}
_POLLY_DEFAULTS = {
    400: ("ThrottlingException", "Rate exceeded"),
    500: ("ServiceFailureException", "An unknown condition has caused a service failure."),
    503: ("ServiceUnavailableException", "Service is unavailable."),
}


# Request ids: uuid4 reads os.urandom for every response, a syscall that also gives up the GIL
# to 100 other threads; a seeded generator is enough for ids (reseeded in forked children).
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def _request_id():
    return str(uuid.UUID(int=_ids.getrandbits(128), version=4))


class _Dropped(Exception):
    """Raised after a connection was closed on purpose (drop faults)."""


class Route:
    def __init__(self, service, op, model=None, extra=None):
        self.service, self.op, self.model, self.extra = service, op, model, extra


def route(method, path):
    segs = path.split("/")
    # /model/{id}/{action}: the id is one URL-encoded segment.
    if len(segs) == 4 and segs[1] == "model" and method == "POST":
        action = {"converse": "converse", "converse-stream": "converse-stream",
                  "invoke": "invoke"}.get(segs[3])
        if action:
            return Route("bedrock", action, unquote(segs[2]))
    if (len(segs) == 6 and segs[1] == "guardrail" and segs[3] == "version"
            and segs[5] == "apply" and method == "POST"):
        return Route("bedrock", "guardrail", None, (unquote(segs[2]), unquote(segs[4])))
    if path == "/v1/speech" and method == "POST":
        return Route("polly", "speech")
    if path == "/v1/voices" and method == "GET":
        return Route("polly", "voices")
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-aws"
    # TCP_NODELAY on every accepted socket (StreamRequestHandler.setup does it).
    disable_nagle_algorithm = True
    # Monotonic time before which nothing may be sent: arrival + injected latency.
    _release_at = 0.0

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        # Read through recvmsg to learn when each request arrived (see httpio).
        self._stamps = None
        if httpio.StampedReader.enable(self.connection):
            self._stamps = httpio.StampedReader(self.connection)
            self.rfile.close()  # the makefile() reader; the socket stays open
            self.rfile = io.BufferedReader(self._stamps, 65536)

    def handle_one_request(self):
        if self._stamps is not None:
            self._stamps.stamp = None  # the next read from the socket is this request's
        super().handle_one_request()

    def parse_request(self):
        """The usual request line and headers without the email parser (see httpio).

        Anything unusual in the request line (HTTP/0.9 or 2, a '//' path, odd
        spacing) goes to the stdlib parser instead, which answers it as before.
        """
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split(" ")
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0") \
                or words[1].startswith("//") or not words[0] or not words[1]:
            return super().parse_request()
        self.requestline = line
        self.command, self.path, self.request_version = words
        self.close_connection = self.request_version != "HTTP/1.1"
        try:
            self.headers = httpio.parse_headers(self.rfile)
        except httpio.HeaderError as e:
            self.send_error(431, e.args[0], e.args[1])
            return False
        conn = self.headers.get("Connection", "").lower()
        if conn == "close":
            self.close_connection = True
        elif conn == "keep-alive":
            self.close_connection = False
        if self.headers.get("Expect", "").lower() == "100-continue" \
                and self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-aws: %s\n" % (fmt % args))

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    # ------------------------------------------------------------ plumbing

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _wait_release(self):
        """Hold the response (or fault) until the injected latency has passed."""
        left = self._release_at - time.monotonic()
        if left > 0:
            time.sleep(left)

    def _send(self, status, body, content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("x-amzn-RequestId", _request_id())
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        # Status line, headers and body in one write: BaseHTTPRequestHandler buffers the header
        # lines until flush_headers, so the body joins them there.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self._wait_release()
        self.flush_headers()

    def _send_json(self, status, doc, headers=None):
        self._send(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"),
                   headers=headers)

    def _send_error(self, service, err, ns=None, headers=None):
        body = {"message": err.message}
        body.update(getattr(err, "extra", {}) or {})
        if ns is None:
            ns = BEDROCK_NS if service == "bedrock" else None
        etype = err.error_type + (":" + ns if ns else "")
        hdrs = {"x-amzn-ErrorType": etype}
        hdrs.update(headers or {})
        self._send_json(err.status, body, hdrs)

    def _drop(self, reset=False):
        self._wait_release()
        try:
            self.wfile.flush()
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True
        raise _Dropped()

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    # ------------------------------------------------------------ dispatch

    def _dispatch(self):
        # Arrival: when the kernel received the request's first bytes, if known.
        now = time.time()
        stamp = self._stamps.stamp if self._stamps is not None else None
        start = stamp if stamp is not None and stamp <= now else now
        self._release_at = 0.0
        target = self.path
        if target.startswith("http://") or target.startswith("https://"):
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        raw_path, _, raw_query = target.partition("?")
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if raw_path.startswith("/__fake/"):
            try:
                self._control(raw_path, raw_query, body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            return
        r = route(self.command, raw_path)
        entry = {"time": start, "op": r.op if r else None, "model": r.model if r else None,
                 "method": self.command, "path": raw_path, "body_bytes": len(body),
                 "signed_ok": False, "auth": None, "auth_error": None, "status": None,
                 "fault": None, "text_chars": None}
        try:
            self._handle(r, raw_path, raw_query, body, entry, start)
        except _Dropped:
            pass
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            entry["client_gone"] = True
        finally:
            entry["duration_ms"] = int((time.time() - start) * 1000)
            self.server.state.record(entry)

    def _handle(self, r, raw_path, raw_query, body, entry, start):
        st = self.server.state
        if r is None:
            entry["status"] = 404
            self._send_json(404, {"message": None, "Message": "Unknown operation %s %s"
                                  % (self.command, raw_path)},
                            {"x-amzn-ErrorType": "UnknownOperationException"})
            return
        cfg = st.config_snapshot()
        delay, fault, slow = st.take_faults(r.op, r.model)
        delay += cfg["latency_ms"]
        if delay > 0:
            # Measured from arrival (start, before the body was read), like a client sees it.
            self._release_at = time.monotonic() - (time.time() - start) + delay / 1000.0
        # Authentication comes first on the real services, before any throttling.
        if cfg["verify_auth"]:
            try:
                entry["auth"] = self.server.verifier.verify(
                    r.service, self.command, raw_path, raw_query, list(self.headers.items()), body)
                entry["signed_ok"] = True
            except AuthError as e:
                entry["auth"] = "invalid"
                entry["auth_error"] = e.error_type
                entry["status"] = e.status
                self._send_error(r.service, e, ns=CORAL_NS if r.service == "bedrock" else None)
                return
        else:
            entry["auth"] = "none"
        if fault is not None:
            entry["fault"] = fault["action"]
            if self._apply_fault(r, fault, entry):
                return
        moderate = fault is not None and fault["action"] == "moderate"
        midstream = fault if fault is not None and fault["action"] in (
            "midstream_exception", "midstream_drop") else None
        try:
            if r.op in ("converse", "converse-stream"):
                self._converse(r, body, cfg, entry, start, moderate, midstream,
                               slow + cfg["stream_delay_ms"])
            elif r.op == "invoke":
                family = bedrock.check_model(r.model, cfg, "image")
                doc = bedrock.parse_json(body)
                out = images.invoke_image(family, doc, cfg, moderate)
                if fault is not None and fault["action"] == "inference_error":
                    out = images.inference_error(family, out, r.model)
                entry["images"] = len(out.get("images") or out.get("artifacts") or [])
                entry["text_chars"] = len(json.dumps(doc.get("textToImageParams", {}).get(
                    "text") or doc.get("prompt") or doc.get("text_prompts") or ""))
                entry["status"] = 200
                self._send_json(200, out)
            elif r.op == "guardrail":
                doc = bedrock.parse_json(body)
                out, n = bedrock.apply_guardrail(doc, cfg, r.extra[1])
                entry["text_chars"] = n
                entry["action"] = out["action"]
                entry["status"] = 200
                self._send_json(200, out)
            elif r.op == "speech":
                doc = bedrock.parse_json(body)
                ctype, data, billed, summary = polly.synthesize(doc)
                entry["text_chars"] = len(doc.get("Text") or "")
                entry.update(summary)
                entry["status"] = 200
                self._send(200, data, ctype, {"x-amzn-RequestCharacters": billed})
            elif r.op == "voices":
                q = dict(parse_qsl(raw_query, keep_blank_values=True))
                entry["status"] = 200
                self._send_json(200, polly.describe_voices(q, cfg["voices_page_size"]))
        except ApiError as e:
            entry["status"] = e.status
            entry["error"] = e.error_type
            self._send_error(r.service, e)

    def _apply_fault(self, r, fault, entry):
        """Send the fault's response; return True when the request is finished."""
        action = fault["action"]
        if action == "drop":
            self._drop(reset=bool(fault.get("reset")))
        if action == "throttle":
            status = 429 if r.service == "bedrock" else 400
            err = ApiError(status, "ThrottlingException", fault.get("message") or (
                "Too many requests, please wait before trying again." if r.service == "bedrock"
                else "Rate exceeded"))
        elif action == "status":
            code = int(fault.get("status", 500))
            table = _BEDROCK_DEFAULTS if r.service == "bedrock" else _POLLY_DEFAULTS
            dtype, dmsg = table.get(code, ("InternalServerException" if r.service == "bedrock"
                                           else "ServiceFailureException", "Error"))
            extra = {}
            etype = fault.get("error", dtype)
            if etype == "ModelErrorException":
                extra = {"originalStatusCode": fault.get("original_status", 500),
                         "resourceName": r.model}
            err = ApiError(code, etype, fault.get("message") or dmsg, **extra)
        elif action in ("eol", "legacy"):
            if r.service != "bedrock":
                return False
            err = ApiError(404, "ResourceNotFoundException",
                           bedrock.EOL_MESSAGE if action == "eol" else bedrock.LEGACY_MESSAGE)
        else:
            return False
        entry["status"] = err.status
        entry["error"] = err.error_type
        # Rules may add response headers, e.g. {"x-amz-retry-after": "1500"}.
        self._send_error(r.service, err, headers=fault.get("headers"))
        return True

    def _converse(self, r, body, cfg, entry, start, moderate, midstream, frame_delay_ms):
        bedrock.check_model(r.model, cfg, "text")
        doc = bedrock.parse_json(body)
        entry["guardrail_config"] = bool(doc.get("guardrailConfig"))
        res = bedrock.converse_result(doc, cfg)
        if moderate:
            res["text"] = "I'm sorry, but I can't help with that request."
            res["stop_reason"] = "content_filtered"
            res["output_tokens"] = 12
        entry["text_chars"] = res["input_chars"]
        entry["output_chars"] = len(res["text"])
        entry["output_tokens"] = res["output_tokens"]

        def latency():
            # The time the response leaves: the injected latency is waited for after this.
            left = max(0.0, self._release_at - time.monotonic())
            return int((time.time() + left - start) * 1000)

        if r.op == "converse":
            entry["status"] = 200
            self._send_json(200, bedrock.converse_response(res, latency()))
            return
        seed = textgen.seed_for(res["text"])
        self._wait_release()
        self.send_response(200)
        self.send_header("x-amzn-RequestId", _request_id())
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        entry["status"] = 200
        frames = 0
        for frame in bedrock.stream_frames(res, seed, latency, midstream):
            if frame is None:
                entry["frames"] = frames
                self._drop(reset=bool(midstream.get("reset")))
            if frame_delay_ms and frames:
                time.sleep(frame_delay_ms / 1000.0)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
            frames += 1
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        entry["frames"] = frames

    # ------------------------------------------------------------ control API

    def _control(self, path, query, body):
        st = self.server.state
        cmd = self.command
        try:
            doc = json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            return self._send_json(400, {"error": "body is not JSON"})
        try:
            if path == "/__fake/faults":
                if cmd == "POST":
                    return self._send_json(200, {"rules": st.add_rules(doc)})
                if cmd == "DELETE":
                    st.clear_rules()
                    return self._send_json(200, {"rules": 0})
                if cmd == "GET":
                    return self._send_json(200, st.list_rules())
            elif path == "/__fake/requests":
                if cmd == "GET":
                    q = dict(parse_qsl(query))
                    return self._send_json(200, st.requests(q.get("op")))
                if cmd == "DELETE":
                    st.clear_requests()
                    return self._send_json(200, [])
            elif path == "/__fake/config":
                if cmd == "GET":
                    return self._send_json(200, st.get_config())
                if cmd == "POST":
                    return self._send_json(200, st.update_config(doc))
            elif path == "/__fake/reset" and cmd == "POST":
                st.clear_rules()
                st.clear_requests()
                st.reset_config()
                return self._send_json(200, {"ok": True})
            elif path == "/__fake/health" and cmd == "GET":
                return self._send_json(200, {"ok": True, "region": self.server.verifier.region})
        except state_mod.FaultError as e:
            return self._send_json(400, {"error": str(e)})
        self._send_json(404, {"error": "unknown control endpoint %s %s" % (cmd, path)})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, addr, verifier, state, verbose=False, reuse_port=False):
        self.verifier = verifier
        self.state = state
        self.verbose = verbose
        # SO_REUSEPORT only for --processes N > 1: otherwise a second fake started on the same
        # explicit port would silently share it instead of failing.
        self.allow_reuse_port = reuse_port
        super().__init__(addr, Handler)

    def server_bind(self):
        # Receive timestamps on the listening socket: the kernel then stamps a new connection's
        # first request on arrival, even before accept() and the handler thread get to it, and
        # accepted sockets inherit the option.
        httpio.StampedReader.enable(self.socket)
        super().server_bind()


def _write_port_file(path, port):
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="fake-aws", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="write the chosen port here (atomically)")
    p.add_argument("--access-key", default="AKIDFAKE")
    p.add_argument("--secret-key", default="fake-secret")
    p.add_argument("--session-token", help="require this X-Amz-Security-Token, signed")
    p.add_argument("--bearer-token", help="accept Authorization: Bearer <token> for Bedrock")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--max-skew-s", type=int, default=900,
                   help="allowed X-Amz-Date skew (AWS allows 15 minutes)")
    p.add_argument("--no-verify", action="store_true", help="skip authentication entirely")
    p.add_argument("--latency-ms", type=int, default=0, help="added to every AWS request")
    p.add_argument("--stream-delay-ms", type=int, default=0,
                   help="pause between ConverseStream frames")
    p.add_argument("--eol-model", action="append", default=[], metavar="MODEL_ID",
                   help="answer 404 'end of its life' for this model (repeatable)")
    p.add_argument("--legacy-model", action="append", default=[], metavar="MODEL_ID",
                   help="answer 404 'marked by provider as Legacy' (repeatable)")
    p.add_argument("--realistic-lifecycle", action="store_true",
                   help="treat Titan Image, Nova Canvas and SDXL as end-of-life (late 2026)")
    p.add_argument("--guardrail-word", action="append", default=None, metavar="WORD",
                   help="word blocked by ApplyGuardrail (repeatable; replaces the defaults)")
    p.add_argument("--image-blocked-word", action="append", default=[], metavar="WORD",
                   help="prompt word that makes image models refuse (repeatable)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p.add_argument("--processes", type=int, default=1,
                   help="serve the port from N forked processes, each with its own SO_REUSEPORT "
                        "socket so the kernel spreads connections evenly (benchmarks only: the "
                        "control API, faults and the request log are then per process)")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    config = {
        "latency_ms": a.latency_ms,
        "stream_delay_ms": a.stream_delay_ms,
        "eol_models": a.eol_model + (state_mod.REALISTIC_EOL if a.realistic_lifecycle else []),
        "legacy_models": a.legacy_model,
        "image_blocked_words": a.image_blocked_word,
        "verify_auth": not a.no_verify,
    }
    if a.guardrail_word is not None:
        config["guardrail_words"] = a.guardrail_word
    verifier = Verifier(a.access_key, a.secret_key, a.region, a.session_token, a.bearer_token,
                        a.max_skew_s)
    nproc = max(1, a.processes)
    multi = nproc > 1
    srv = Server((a.host, a.port), verifier, state_mod.State(config), a.verbose, multi)
    port = srv.server_address[1]
    # One Python process is bound by its GIL to about one core, so a benchmark may ask for more.
    # Each process gets its own listening socket on the same port (SO_REUSEPORT): the kernel
    # then assigns each new connection to one of them by a hash of its addresses, which spreads
    # 100 keep-alive connections about evenly. (With one shared accept socket, whichever process
    # wakes first takes a run of connections, and one process can end up serving most of them.)
    # All sockets listen before the port file is written, so no connection is ever refused.
    servers = [srv] + [Server((a.host, port), verifier, state_mod.State(config), a.verbose, True)
                       for _ in range(nproc - 1)]
    if a.port_file:
        _write_port_file(a.port_file, port)
    print("listening on http://%s:%d%s" % (a.host, port, " (%d processes)" % nproc if multi
                                           else ""), flush=True)

    children = []
    for i in range(1, nproc):
        pid = os.fork()
        if pid == 0:
            children = []
            srv = servers[i]
            break
        children.append(pid)
    for other in servers:
        if other is not srv:
            other.socket.close()  # this process's copy only; its owner keeps listening

    def stop(*_):
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
    return 0
