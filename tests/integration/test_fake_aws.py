"""Integration tests for tools/fake-aws, the Bedrock Runtime + Polly emulator.

The fake is what every other integration test talks to instead of AWS, so
these tests pin the wire behaviour the C client relies on: SigV4 acceptance
and rejection (signed by botocore, the reference signer), the event-stream
framing of ConverseStream, image and audio payloads, Polly limits and the
fault-injection control API.

Requests are signed with botocore when it is importable (Debian's
python3-botocore). Without botocore the signing tests are skipped and the
behaviour tests run against a fake started with --no-verify.
"""
import base64
import concurrent.futures
import datetime
import http.client
import json
import os
import struct
import sys
import threading
import time
import unittest
import zlib
from urllib.parse import quote

_SRC = os.environ.get("NOVA_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(_SRC, "tools"))

from fakeaws.harness import FakeAws  # noqa: E402

try:
    import botocore
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    HAVE_BOTOCORE = True
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_BOTOCORE = False

ACCESS_KEY = "AKIDFAKE"
SECRET_KEY = "fake/Secret+Key"
TOKEN = "FQoGZXIvYXdzEXAMPLE//session+token=="
NOVA = "us.amazon.nova-lite-v1:0"


# ------------------------------------------------------------------ helpers

def decode_event_stream(data):
    """Decode application/vnd.amazon.eventstream bytes, checking both CRCs.

    Returns a list of (headers dict, payload bytes). Raises AssertionError on
    any framing error, because a client must reject such a stream.
    """
    out = []
    pos = 0
    while pos < len(data):
        assert len(data) - pos >= 16, "truncated prelude"
        total, hlen, pcrc = struct.unpack(">III", data[pos:pos + 12])
        assert zlib.crc32(data[pos:pos + 8]) & 0xFFFFFFFF == pcrc, "bad prelude crc"
        assert pos + total <= len(data), "truncated message"
        msg = data[pos:pos + total]
        (mcrc,) = struct.unpack(">I", msg[-4:])
        assert zlib.crc32(msg[:-4]) & 0xFFFFFFFF == mcrc, "bad message crc"
        headers = {}
        h = msg[12:12 + hlen]
        i = 0
        while i < len(h):
            n = h[i]
            name = h[i + 1:i + 1 + n].decode()
            i += 1 + n
            t = h[i]
            i += 1
            if t in (0, 1):
                val = t == 0
            elif t in (6, 7):
                (ln,) = struct.unpack(">H", h[i:i + 2])
                val = h[i + 2:i + 2 + ln]
                val = val.decode() if t == 7 else val
                i += 2 + ln
            else:
                raise AssertionError("unexpected header type %d" % t)
            assert name not in headers, "duplicate header"
            headers[name] = val
        out.append((headers, msg[12 + hlen:-4]))
        pos += total
    return out


def check_png(data):
    """Validate a PNG fully (signature, chunk CRCs, IHDR, inflated size); return (w, h)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, idat, size, kinds = 8, b"", None, []
    while pos < len(data):
        (ln,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + ln]
        (crc,) = struct.unpack(">I", data[pos + 8 + ln:pos + 12 + ln])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, "bad crc in %r" % kind
        kinds.append(kind)
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            size = (w, h)
            assert depth == 8 and ctype == 2
        elif kind == b"IDAT":
            idat += body
        pos += 12 + ln
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    raw = zlib.decompress(idat)
    assert len(raw) == size[1] * (1 + size[0] * 3), "pixel data does not match IHDR"
    assert all(raw[y * (1 + size[0] * 3)] <= 4 for y in range(size[1])), "bad filter byte"
    return size


class Client:
    """Sends requests to a fake, SigV4-signed by botocore when available."""

    def __init__(self, fake, token=None):
        self.fake = fake
        self.token = token
        self.local = threading.local()
        self.lock = threading.Lock()
        self.all_conns = []

    def conn(self):
        """One keep-alive connection per thread."""
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=30)
            self.local.conn = c
            with self.lock:
                self.all_conns.append(c)
        return c

    def close(self):
        with self.lock:
            for c in self.all_conns:
                c.close()
            self.all_conns = []
        self.local = threading.local()

    def signed_headers(self, method, path, service, body, headers=None, secret=SECRET_KEY,
                       token=None):
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        if not HAVE_BOTOCORE:
            hdrs["Host"] = "127.0.0.1:%d" % self.fake.port
            return hdrs
        req = AWSRequest(method=method, url=self.fake.url + path, data=body or b"",
                         headers=hdrs)
        creds = Credentials(ACCESS_KEY, secret, token or self.token)
        SigV4Auth(creds, service, "us-east-1").add_auth(req)
        out = dict(req.headers.items())
        out["Host"] = "127.0.0.1:%d" % self.fake.port
        return out

    def call(self, method, path, service, body=None, headers=None, raw_headers=None,
             new_conn=False, **sign_kw):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        hdrs = raw_headers if raw_headers is not None else self.signed_headers(
            method, path, service, body, headers, **sign_kw)
        c = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=30) \
            if new_conn else self.conn()
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
        except Exception:
            c.close()
            if not new_conn:
                self.local.conn = None
            raise
        if new_conn:
            c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def bedrock(self, op, model, body, **kw):
        path = "/model/%s/%s" % (quote(model, safe="-._~"), op)
        return self.call("POST", path, "bedrock", body, **kw)

    def speech(self, body, **kw):
        return self.call("POST", "/v1/speech", "polly", body, **kw)


def story_request(text="Tell a bedtime story about a lighthouse in 3 parts", **extra):
    doc = {"messages": [{"role": "user", "content": [{"text": text}]}],
           "system": [{"text": "You are a storyteller for children."}],
           "inferenceConfig": {"maxTokens": 2000, "temperature": 0.7}}
    doc.update(extra)
    return doc


def error_type(headers):
    """Error code exactly as botocore/Smithy derive it from x-amzn-ErrorType."""
    return headers.get("x-amzn-errortype", "").split(":")[0].split("#")[-1]


# ------------------------------------------------------------------ tests

class FakeAwsBehaviour(unittest.TestCase):
    """Service behaviour; signed with botocore when it is available."""

    @classmethod
    def setUpClass(cls):
        args = [] if HAVE_BOTOCORE else ["--no-verify"]
        cls.fake = FakeAws(*args, access_key=ACCESS_KEY, secret_key=SECRET_KEY).start()
        cls.client = Client(cls.fake)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.fake.stop()

    def setUp(self):
        self.fake.reset()

    # ---- Converse / ConverseStream

    def test_converse_parts_and_usage(self):
        st, h, body = self.client.bedrock("converse", NOVA, story_request())
        self.assertEqual(st, 200, body)
        doc = json.loads(body)
        text = doc["output"]["message"]["content"][0]["text"]
        for k in (1, 2, 3):
            self.assertIn("Part %d:" % k, text)
        self.assertNotIn("Part 4:", text)
        self.assertEqual(doc["stopReason"], "end_turn")
        u = doc["usage"]
        self.assertEqual(u["totalTokens"], u["inputTokens"] + u["outputTokens"])
        self.assertGreater(u["outputTokens"], 50)
        self.assertIn("latencyMs", doc["metrics"])
        self.assertTrue(h.get("x-amzn-requestid"))
        # Deterministic: the same request gives the same text, a different one does not.
        _, _, again = self.client.bedrock("converse", NOVA, story_request())
        self.assertEqual(json.loads(again)["output"], doc["output"])
        _, _, other = self.client.bedrock("converse", NOVA, story_request("A story about a fox"))
        self.assertNotEqual(json.loads(other)["output"], doc["output"])

    def test_converse_max_tokens_truncates(self):
        st, _, body = self.client.bedrock(
            "converse", NOVA, story_request(inferenceConfig={"maxTokens": 20}))
        doc = json.loads(body)
        self.assertEqual(doc["stopReason"], "max_tokens")
        self.assertLessEqual(doc["usage"]["outputTokens"], 20)

    def test_converse_validation_errors(self):
        cases = [
            ({"messages": []}, "start with a user message"),
            ({"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]},
             "start with a user message"),
            ({"messages": [{"role": "user", "content": [{"text": "a"}]},
                           {"role": "user", "content": [{"text": "b"}]}]}, "alternate"),
            ({"messages": [{"role": "user", "content": []}]}, "is empty"),
            ({"messages": [{"role": "user", "content": [{"text": "a"}]}],
              "inferenceConfig": {"maxTokens": 0}}, "greater than or equal to 1"),
        ]
        for doc, needle in cases:
            st, h, body = self.client.bedrock("converse", NOVA, doc)
            self.assertEqual(st, 400, doc)
            self.assertEqual(error_type(h), "ValidationException")
            self.assertIn(needle, json.loads(body)["message"])

    def test_converse_image_block(self):
        png = base64.b64decode(json.loads(self.client.bedrock(
            "invoke", "stability.stable-image-core-v1:1", {"prompt": "a red kite"})[2])["images"][0])
        doc = {"messages": [{"role": "user", "content": [
            {"image": {"format": "png", "source": {"bytes": base64.b64encode(png).decode()}}},
            {"text": "Describe this picture."}]}]}
        st, _, body = self.client.bedrock("converse", NOVA, doc)
        self.assertEqual(st, 200, body)
        text = json.loads(body)["output"]["message"]["content"][0]["text"]
        self.assertIn("PNG", text)
        self.assertIn("%d bytes" % len(png), text)
        self.assertIn("1024x1024", text)

    def test_unknown_and_wrong_models(self):
        st, h, _ = self.client.bedrock("converse", "acme.unknown-v1:0", story_request())
        self.assertEqual((st, error_type(h)), (404, "ResourceNotFoundException"))
        st, h, body = self.client.bedrock("converse", "amazon.nova-canvas-v1:0", story_request())
        self.assertEqual((st, error_type(h)), (400, "ValidationException"))
        self.fake.set_config(eol_models=["amazon.titan-image-generator-v2:0"])
        st, h, body = self.client.bedrock(
            "invoke", "amazon.titan-image-generator-v2:0",
            {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "x"}})
        self.assertEqual((st, error_type(h)), (404, "ResourceNotFoundException"))
        self.assertIn("end of its life", json.loads(body)["message"])

    def test_stream_matches_converse(self):
        req = story_request("Write a story in two parts about a brave snail")
        _, _, body = self.client.bedrock("converse", NOVA, req)
        expected = json.loads(body)["output"]["message"]["content"][0]["text"]
        st, h, raw = self.client.bedrock("converse-stream", NOVA, req)
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "application/vnd.amazon.eventstream")
        frames = decode_event_stream(raw)
        kinds = [f[0][":event-type"] for f in frames]
        self.assertEqual(kinds[0], "messageStart")
        self.assertEqual(kinds[-3:], ["contentBlockStop", "messageStop", "metadata"])
        deltas = [json.loads(p) for hd, p in frames if hd[":event-type"] == "contentBlockDelta"]
        self.assertGreater(len(deltas), 10)
        for hd, _ in frames:
            self.assertEqual(hd[":message-type"], "event")
            self.assertEqual(hd[":content-type"], "application/json")
        self.assertEqual("".join(d["delta"]["text"] for d in deltas), expected)
        meta = json.loads(frames[-1][1])
        self.assertIn("outputTokens", meta["usage"])
        self.assertEqual(json.loads(frames[-2][1])["stopReason"], "end_turn")

    @unittest.skipUnless(HAVE_BOTOCORE, "botocore not installed")
    def test_stream_frames_parse_with_botocore(self):
        from botocore.eventstream import EventStreamBuffer
        _, _, raw = self.client.bedrock("converse-stream", NOVA, story_request())
        buf = EventStreamBuffer()
        for k in range(0, len(raw), 7):  # odd chunk sizes, as over a socket
            buf.add_data(raw[k:k + 7])
        msgs = list(buf)
        self.assertEqual(len(msgs), len(decode_event_stream(raw)))

    def test_midstream_exception(self):
        self.fake.add_faults([{"match": {"op": "converse-stream"}, "action": "midstream_exception",
                               "after": 4, "exception": "throttlingException", "times": 1}])
        st, _, raw = self.client.bedrock("converse-stream", NOVA, story_request())
        self.assertEqual(st, 200)
        frames = decode_event_stream(raw)
        self.assertEqual(sum(1 for h, _ in frames if h.get(":event-type") == "contentBlockDelta"), 4)
        last_h, last_p = frames[-1]
        self.assertEqual(last_h[":message-type"], "exception")
        self.assertEqual(last_h[":exception-type"], "throttlingException")
        self.assertIn("message", json.loads(last_p))
        # times=1: the next stream is complete again.
        _, _, raw = self.client.bedrock("converse-stream", NOVA, story_request())
        self.assertEqual(decode_event_stream(raw)[-1][0][":event-type"], "metadata")

    def test_midstream_drop_truncates_body(self):
        self.fake.add_faults([{"match": {"op": "converse-stream"}, "action": "midstream_drop",
                               "after": 2, "times": 1}])
        with self.assertRaises((http.client.IncompleteRead, ConnectionError,
                                http.client.HTTPException)):
            self.client.bedrock("converse-stream", NOVA, story_request(), new_conn=True)

    # ---- InvokeModel images

    def test_titan_and_canvas_images(self):
        body = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a castle at dusk"},
                "imageGenerationConfig": {"width": 768, "height": 1152, "numberOfImages": 2,
                                          "seed": 7, "cfgScale": 8.0}}
        st, _, raw = self.client.bedrock("invoke", "amazon.titan-image-generator-v2:0", body)
        self.assertEqual(st, 200, raw)
        doc = json.loads(raw)
        self.assertIsNone(doc["error"])
        self.assertEqual(len(doc["images"]), 2)
        for im in doc["images"]:
            self.assertEqual(check_png(base64.b64decode(im)), (768, 1152))
        # 768x1024 is not in Titan's size table; Nova Canvas accepts it (divisible by 16).
        body["imageGenerationConfig"].update(width=768, height=1024)
        st, h, _ = self.client.bedrock("invoke", "amazon.titan-image-generator-v2:0", body)
        self.assertEqual((st, error_type(h)), (400, "ValidationException"))
        st, _, raw = self.client.bedrock("invoke", "amazon.nova-canvas-v1:0", body)
        self.assertEqual(st, 200, raw)
        self.assertEqual(check_png(base64.b64decode(json.loads(raw)["images"][0])), (768, 1024))
        # Prompt length: 512 for Titan, 1024 for Nova Canvas.
        body["textToImageParams"]["text"] = "x" * 600
        st, h, raw = self.client.bedrock("invoke", "amazon.titan-image-generator-v2:0", body)
        self.assertEqual(st, 400)
        self.assertIn("maxLength: 512", json.loads(raw)["message"])
        st, _, _ = self.client.bedrock("invoke", "amazon.nova-canvas-v1:0", body)
        self.assertEqual(st, 200)

    def test_stability_families(self):
        st, _, raw = self.client.bedrock(
            "invoke", "stability.stable-diffusion-xl-v1",
            {"text_prompts": [{"text": "a fox", "weight": 1.0}], "width": 1152, "height": 896,
             "seed": 3, "style_preset": "fantasy-art"})
        self.assertEqual(st, 200, raw)
        art = json.loads(raw)["artifacts"][0]
        self.assertEqual(art["finishReason"], "SUCCESS")
        self.assertEqual(check_png(base64.b64decode(art["base64"])), (1152, 896))
        st, _, raw = self.client.bedrock(
            "invoke", "us.stability.stable-image-ultra-v1:1",
            {"prompt": "a fox", "aspect_ratio": "16:9", "seed": 9})
        doc = json.loads(raw)
        self.assertEqual((st, doc["finish_reasons"], doc["seeds"]), (200, [None], [9]))
        self.assertEqual(check_png(base64.b64decode(doc["images"][0])), (1344, 768))

    def test_moderation_shapes(self):
        self.fake.add_faults([{"match": {"op": "invoke"}, "action": "moderate"}])
        st, h, raw = self.client.bedrock(
            "invoke", "amazon.nova-canvas-v1:0",
            {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "x"}})
        self.assertEqual((st, error_type(h)), (400, "ValidationException"))
        self.assertIn("content filters", json.loads(raw)["message"])
        st, _, raw = self.client.bedrock("invoke", "stability.stable-image-core-v1:1",
                                         {"prompt": "x"})
        self.assertEqual(json.loads(raw)["finish_reasons"], ["Filter reason: prompt"])
        st, _, raw = self.client.bedrock("invoke", "stability.stable-diffusion-xl-v1",
                                         {"text_prompts": [{"text": "x"}]})
        self.assertEqual(json.loads(raw)["artifacts"][0]["finishReason"], "CONTENT_FILTERED")

    # ---- Polly

    def test_polly_pcm_and_marks_agree(self):
        text = "Once upon a time, a fox lived here. The end!"
        st, h, pcm = self.client.speech({"Text": text, "VoiceId": "Joanna",
                                         "OutputFormat": "pcm", "Engine": "neural"})
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "audio/pcm")
        self.assertEqual(h["x-amzn-requestcharacters"], str(len(text)))
        self.assertEqual(len(pcm) % 2, 0)
        st, h, raw = self.client.speech({"Text": text, "VoiceId": "Joanna", "OutputFormat": "json",
                                         "Engine": "neural",
                                         "SpeechMarkTypes": ["word", "sentence"]})
        self.assertEqual(st, 200)
        marks = [json.loads(line) for line in raw.decode().splitlines()]
        words = [m for m in marks if m["type"] == "word"]
        sentences = [m for m in marks if m["type"] == "sentence"]
        self.assertEqual([m["value"] for m in words],
                         ["Once", "upon", "a", "time", "a", "fox", "lived", "here", "The", "end"])
        self.assertEqual([m["value"] for m in sentences],
                         ["Once upon a time, a fox lived here.", "The end!"])
        raw_text = text.encode()
        for m in words:
            self.assertEqual(raw_text[m["start"]:m["end"]].decode(), m["value"])
        samples = struct.unpack("<%dh" % (len(pcm) // 2), pcm)
        rate = 16000
        for m in words:
            s = m["time"] * rate // 1000
            burst = samples[s:s + rate // 50]            # first 20 ms of the word
            gap = samples[max(0, s - rate * 40 // 1000):max(0, s - rate // 1000)]
            self.assertGreater(max(abs(x) for x in burst), 1000, m)
            self.assertEqual(max((abs(x) for x in gap), default=0), 0, m)

    def test_polly_limits_and_errors(self):
        def err(body):
            st, h, raw = self.client.speech(body)
            return st, error_type(h)
        ok = {"VoiceId": "Joanna", "OutputFormat": "pcm"}
        self.assertEqual(self.client.speech(dict(ok, Text="a" * 3000))[0], 200)
        self.assertEqual(err(dict(ok, Text="a" * 3001)), (400, "TextLengthExceededException"))
        # SSML tags are not billed, but count towards the 6000 total.
        ssml = "<speak>" + "<break time=\"1ms\"/>" * 100 + "a" * 2900 + "</speak>"  # 4815
        self.assertEqual(self.client.speech(dict(ok, Text=ssml, TextType="ssml"))[0], 200)
        big = "<speak>" + "<break time=\"1ms\"/>" * 200 + "a" * 2900 + "</speak>"  # 6715
        self.assertEqual(err(dict(ok, Text=big, TextType="ssml")),
                         (400, "TextLengthExceededException"))
        self.assertEqual(err(dict(ok, Text="<speak>hi", TextType="ssml")),
                         (400, "InvalidSsmlException"))
        self.assertEqual(err(dict(ok, Text="hi", VoiceId="Nobody")), (400, "ValidationException"))
        self.assertEqual(err(dict(ok, Text="hi", VoiceId="Kevin", Engine="standard")),
                         (400, "EngineNotSupportedException"))
        self.assertEqual(err(dict(ok, Text="hi", SampleRate="22050")),
                         (400, "InvalidSampleRateException"))
        self.assertEqual(err(dict(ok, Text="hi", SpeechMarkTypes=["word"])),
                         (400, "MarksNotSupportedForFormatException"))

    def test_polly_voices_filter(self):
        st, _, raw = self.client.call("GET", "/v1/voices?LanguageCode=en-GB&Engine=neural", "polly")
        self.assertEqual(st, 200)
        ids = {v["Id"] for v in json.loads(raw)["Voices"]}
        self.assertEqual(ids, {"Amy", "Emma", "Brian", "Arthur"})
        st, _, raw = self.client.call("GET", "/v1/voices", "polly")
        for v in json.loads(raw)["Voices"]:
            self.assertTrue({"Gender", "Id", "LanguageCode", "LanguageName", "Name",
                             "SupportedEngines"} <= set(v))

    def test_polly_voices_pages(self):
        st, _, raw = self.client.call("GET", "/v1/voices", "polly")
        every = [v["Id"] for v in json.loads(raw)["Voices"]]
        self.assertNotIn("NextToken", json.loads(raw))
        self.fake.set_config(voices_page_size=7)
        got, token, pages = [], None, 0
        while True:
            path = "/v1/voices" + ("?NextToken=" + quote(token, safe="") if token else "")
            st, _, raw = self.client.call("GET", path, "polly")
            self.assertEqual(st, 200, raw)
            doc = json.loads(raw)
            self.assertLessEqual(len(doc["Voices"]), 7)
            got += [v["Id"] for v in doc["Voices"]]
            pages += 1
            token = doc.get("NextToken")
            if not token:
                break
        self.assertEqual(got, every)
        self.assertEqual(pages, (len(every) + 6) // 7)
        # Filters apply before paging; a made-up token is refused like Polly does.
        st, _, raw = self.client.call("GET", "/v1/voices?LanguageCode=en-GB", "polly")
        self.assertNotIn("NextToken", json.loads(raw))
        st, h, _ = self.client.call("GET", "/v1/voices?NextToken=bogus", "polly")
        self.assertEqual((st, error_type(h)), (400, "InvalidNextTokenException"))

    def test_inference_error_shapes(self):
        self.fake.add_faults([{"match": {"op": "invoke"}, "action": "inference_error"}])
        st, _, raw = self.client.bedrock("invoke", "stability.stable-image-core-v1:1",
                                         {"prompt": "x"})
        doc = json.loads(raw)
        self.assertEqual((st, doc["finish_reasons"], doc["images"]),
                         (200, ["Inference error"], []))
        st, _, raw = self.client.bedrock("invoke", "stability.stable-diffusion-xl-v1",
                                         {"text_prompts": [{"text": "x"}]})
        self.assertEqual(json.loads(raw)["artifacts"][0]["finishReason"], "ERROR")
        st, h, raw = self.client.bedrock(
            "invoke", "amazon.nova-canvas-v1:0",
            {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "x"}})
        self.assertEqual((st, error_type(h)), (424, "ModelErrorException"))

    # ---- faults, log, concurrency

    def test_throttle_per_service_and_times(self):
        self.fake.add_faults([{"match": {"op": "converse"}, "action": "throttle", "times": 2},
                              {"match": {"op": "speech"}, "action": "throttle", "times": 1}])
        for _ in range(2):
            st, h, raw = self.client.bedrock("converse", NOVA, story_request())
            self.assertEqual((st, error_type(h)), (429, "ThrottlingException"))
            self.assertIn("message", json.loads(raw))
        self.assertEqual(self.client.bedrock("converse", NOVA, story_request())[0], 200)
        st, h, _ = self.client.speech({"Text": "hi", "VoiceId": "Ivy", "OutputFormat": "pcm"})
        self.assertEqual((st, error_type(h)), (400, "ThrottlingException"))

    def test_status_faults(self):
        for code, etype in ((500, "InternalServerException"), (503, "ServiceUnavailableException"),
                            (408, "ModelTimeoutException"), (424, "ModelErrorException")):
            self.fake.add_faults([{"match": {"op": "converse", "model": NOVA}, "action": "status",
                                   "status": code, "times": 1}])
            st, h, _ = self.client.bedrock("converse", NOVA, story_request())
            self.assertEqual((st, error_type(h)), (code, etype))
        self.fake.add_faults([{"match": {"op": "converse"}, "action": "status", "status": 429,
                               "error": "ModelNotReadyException", "times": 1}])
        st, h, _ = self.client.bedrock("converse", NOVA, story_request())
        self.assertEqual((st, error_type(h)), (429, "ModelNotReadyException"))

    def test_drop_closes_without_response(self):
        self.fake.add_faults([{"match": {"op": "converse"}, "action": "drop", "times": 1}])
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.client.bedrock("converse", NOVA, story_request(), new_conn=True)
        self.assertEqual(self.client.bedrock("converse", NOVA, story_request(), new_conn=True)[0],
                         200)
        log = self.fake.requests(op="converse", at_least=2)
        # Entries are written as requests end, and the dropped one may end after the answered
        # one: compare them as a set.
        self.assertCountEqual([e["fault"] for e in log], ["drop", None])
        dropped = [e for e in log if e["fault"] == "drop"][0]
        self.assertIsNone(dropped["status"])

    def test_sequential_keep_alive_calls_are_not_delayed(self):
        # Each answer must leave in one write with Nagle off: two small writes on a keep-alive
        # connection wait for the client's delayed ACK (~40 ms per call).
        client = Client(self.fake)
        self.addCleanup(client.close)
        client.bedrock("converse", NOVA, story_request("warm up"))
        t0 = time.time()
        for i in range(20):
            self.assertEqual(client.bedrock("converse", NOVA, story_request("s %d" % i))[0], 200)
        elapsed = time.time() - t0
        self.assertLess(elapsed, 0.6, "20 sequential calls took %.2f s" % elapsed)

    def test_latency_does_not_serialize(self):
        self.fake.add_faults([{"match": {"op": "converse"}, "action": "latency", "ms": 200}])
        client = Client(self.fake)
        self.addCleanup(client.close)
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            statuses = list(pool.map(
                lambda i: client.bedrock("converse", NOVA, story_request("story %d" % i))[0],
                range(50)))
        elapsed = time.time() - t0
        self.assertEqual(statuses, [200] * 50)
        self.assertGreaterEqual(elapsed, 0.2)
        self.assertLess(elapsed, 3.0, "50 x 200 ms took %.2f s: requests were serialized" % elapsed)
        self.assertEqual(len(self.fake.requests(op="converse", at_least=50)), 50)

    def test_keep_alive_reuses_connection(self):
        c = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=10)
        socks = []
        for _ in range(3):
            path = "/v1/voices"
            hdrs = self.client.signed_headers("GET", path, "polly", None)
            c.request("GET", path, headers=hdrs)
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            socks.append(c.sock)
        c.close()
        self.assertIsNotNone(socks[0])
        self.assertTrue(all(s is socks[0] for s in socks))

    def test_request_log(self):
        self.client.bedrock("converse", NOVA, story_request())
        self.client.speech({"Text": "Hello", "VoiceId": "Joanna", "OutputFormat": "pcm"})
        log = self.fake.requests(at_least=2)
        self.assertEqual([e["op"] for e in log], ["converse", "speech"])
        self.assertEqual(log[0]["model"], NOVA)
        self.assertEqual(log[1]["text_chars"], 5)
        self.assertTrue(all(e["status"] == 200 for e in log))
        self.assertEqual(all(e["signed_ok"] for e in log), HAVE_BOTOCORE)
        self.fake.clear_requests()
        self.assertEqual(self.fake.requests(), [])

    def test_guardrail(self):
        path = "/guardrail/gr-123/version/DRAFT/apply"
        body = {"source": "INPUT", "content": [{"text": {"text": "the knight drew his weapon"}}]}
        st, _, raw = self.client.call("POST", path, "bedrock", body)
        doc = json.loads(raw)
        self.assertEqual((st, doc["action"]), (200, "GUARDRAIL_INTERVENED"))
        body["content"][0]["text"]["text"] = "a calm meadow"
        doc = json.loads(self.client.call("POST", path, "bedrock", body)[2])
        self.assertEqual(doc["action"], "NONE")

    def test_bad_fault_rule_rejected(self):
        with self.assertRaises(RuntimeError):
            self.fake.add_faults([{"match": {"op": "nope"}, "action": "throttle"}])


@unittest.skipUnless(HAVE_BOTOCORE, "botocore not installed")
class FakeAwsSigning(unittest.TestCase):
    """SigV4 and bearer verification, with botocore as the reference signer."""

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeAws(access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                           bearer_token="bedrock-api-key-123").start()
        cls.tok_fake = FakeAws(access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                               session_token=TOKEN).start()
        cls.client = Client(cls.fake)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.fake.stop()
        cls.tok_fake.stop()

    def setUp(self):
        self.fake.reset()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()

    def assertAuthError(self, result, status, etype, needle=None):
        st, h, raw = result
        self.assertEqual(st, status, raw)
        self.assertEqual(error_type(h), etype)
        self.assertTrue(h["x-amzn-errortype"].startswith(etype))
        self.assertEqual(h["content-type"], "application/json")
        msg = json.loads(raw)["message"]
        if needle:
            self.assertIn(needle, msg)

    def test_signed_requests_accepted(self):
        # ':' in the model id goes on the wire as %3A and is signed as %253A.
        self.assertEqual(self.client.bedrock("converse", NOVA, story_request())[0], 200)
        arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0"
        self.assertEqual(self.client.bedrock("converse", arn, story_request())[0], 200)
        self.assertEqual(self.client.call("GET", "/v1/voices?LanguageCode=en-US&Engine=neural",
                                          "polly")[0], 200)
        self.assertTrue(all(e["signed_ok"] and e["auth"] == "sigv4"
                            for e in self.fake.requests()))

    def test_tampered_signature_rejected(self):
        body = json.dumps(story_request()).encode()
        path = "/model/%s/converse" % quote(NOVA, safe="-._~")
        hdrs = self.client.signed_headers("POST", path, "bedrock", body)
        sig = hdrs["Authorization"]
        hdrs["Authorization"] = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        self.assertAuthError(self.client.call("POST", path, "bedrock", body, raw_headers=hdrs),
                             403, "InvalidSignatureException", "signature we calculated")
        # Body changed after signing.
        hdrs = self.client.signed_headers("POST", path, "bedrock", body)
        self.assertAuthError(self.client.call("POST", path, "bedrock", body + b" ",
                                              raw_headers=hdrs), 403, "InvalidSignatureException")
        # Wrong secret, Polly.
        self.assertAuthError(self.client.speech({"Text": "hi", "VoiceId": "Ivy",
                                                 "OutputFormat": "pcm"}, secret="nope"),
                             403, "InvalidSignatureException")
        log = self.fake.requests(at_least=3)
        self.assertFalse(any(e["signed_ok"] for e in log[-3:]))

    def test_wrong_scope_and_missing_auth(self):
        # Signed for service 'bedrock-runtime' (the host prefix) instead of 'bedrock'.
        st = self.client.call("POST", "/model/%s/converse" % quote(NOVA, safe=""),
                              "bedrock-runtime", story_request())
        self.assertAuthError(st, 403, "InvalidSignatureException", "'bedrock'")
        self.assertAuthError(self.client.call("GET", "/v1/voices", "polly", raw_headers={}),
                             403, "MissingAuthenticationTokenException")

    def _voices_signed_at(self, minutes):
        """GET /v1/voices signed with a clock `minutes` off (negative = in the past)."""
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
        creds = Credentials(ACCESS_KEY, SECRET_KEY)
        req = AWSRequest(method="GET", url=self.fake.url + "/v1/voices")
        auth = SigV4Auth(creds, "polly", "us-east-1")
        req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
        auth._modify_request_before_signing(req)
        sig = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
        auth._inject_signature_to_request(req, sig)
        hdrs = dict(req.headers.items())
        return self.client.call("GET", "/v1/voices", "polly", raw_headers=hdrs)

    def test_expired_date_rejected(self):
        # AWS allows 15 minutes of clock skew either way.
        self.assertAuthError(self._voices_signed_at(-20),
                             403, "InvalidSignatureException", "Signature expired")
        self.assertAuthError(self._voices_signed_at(20),
                             403, "InvalidSignatureException", "Signature not yet current")

    def test_clock_skew_within_fifteen_minutes_accepted(self):
        for minutes in (-10, 10):
            st, _, raw = self._voices_signed_at(minutes)
            self.assertEqual(st, 200, raw)

    def test_session_token(self):
        c = Client(self.tok_fake, token=TOKEN)
        self.clients.append(c)
        self.assertEqual(c.bedrock("converse-stream", NOVA, story_request())[0], 200)
        self.assertEqual(c.speech({"Text": "hi", "VoiceId": "Ivy", "OutputFormat": "pcm"})[0], 200)
        # Without the token, and with a wrong one.
        bare = Client(self.tok_fake)
        self.clients.append(bare)
        self.assertAuthError(bare.bedrock("converse", NOVA, story_request()),
                             403, "UnrecognizedClientException")
        self.assertAuthError(bare.bedrock("converse", NOVA, story_request(), token="other"),
                             403, "UnrecognizedClientException")
        # Token present but not among the signed headers.
        path = "/v1/voices"
        hdrs = bare.signed_headers("GET", path, "polly", None)
        hdrs["X-Amz-Security-Token"] = TOKEN
        self.assertAuthError(bare.call("GET", path, "polly", raw_headers=hdrs),
                             403, "InvalidSignatureException")

    def test_bearer_token(self):
        path = "/model/%s/converse" % quote(NOVA, safe="")
        body = json.dumps(story_request()).encode()
        ok = {"Authorization": "Bearer bedrock-api-key-123", "Content-Type": "application/json"}
        self.assertEqual(self.client.call("POST", path, "bedrock", body, raw_headers=ok)[0], 200)
        bad = dict(ok, Authorization="Bearer wrong")
        self.assertAuthError(self.client.call("POST", path, "bedrock", body, raw_headers=bad),
                             403, "UnrecognizedClientException")
        # Polly has no bearer authentication.
        self.assertEqual(self.client.call("GET", "/v1/voices", "polly",
                                          raw_headers={"Authorization": ok["Authorization"]})[0],
                         403)

    def test_botocore_polly_client(self):
        session = botocore.session.get_session()
        cfg = botocore.config.Config(retries={"max_attempts": 1})
        polly = session.create_client("polly", region_name="us-east-1",
                                      endpoint_url=self.fake.url, aws_access_key_id=ACCESS_KEY,
                                      aws_secret_access_key=SECRET_KEY, config=cfg)
        if hasattr(polly, "close"):
            self.addCleanup(polly.close)
        r = polly.synthesize_speech(Text="Hello there.", VoiceId="Matthew", OutputFormat="mp3",
                                    Engine="neural")
        audio = r["AudioStream"].read()
        self.assertEqual(r["ContentType"], "audio/mpeg")
        self.assertEqual(audio[:2], b"\xff\xf3")  # MPEG-2 Layer III frame sync, 24 kHz default
        with self.assertRaises(polly.exceptions.TextLengthExceededException):
            polly.synthesize_speech(Text="a" * 3001, VoiceId="Joanna", OutputFormat="pcm")
        voices = polly.describe_voices(LanguageCode="en-US")["Voices"]
        self.assertIn("Joanna", {v["Id"] for v in voices})

    def test_botocore_bedrock_client_if_available(self):
        session = botocore.session.get_session()
        if "bedrock-runtime" not in session.get_available_services():
            self.skipTest("this botocore has no bedrock-runtime model")
        cfg = botocore.config.Config(retries={"max_attempts": 1})
        br = session.create_client("bedrock-runtime", region_name="us-east-1",
                                   endpoint_url=self.fake.url, aws_access_key_id=ACCESS_KEY,
                                   aws_secret_access_key=SECRET_KEY, config=cfg)
        self.addCleanup(br.close)
        req = story_request()
        text = br.converse(modelId=NOVA, **req)["output"]["message"]["content"][0]["text"]
        streamed = "".join(ev["contentBlockDelta"]["delta"]["text"]
                           for ev in br.converse_stream(modelId=NOVA, **req)["stream"]
                           if "contentBlockDelta" in ev)
        self.assertEqual(streamed, text)


if __name__ == "__main__":
    unittest.main()
