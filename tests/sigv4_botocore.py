#!/usr/bin/python3
"""Differential-test driver: signs requests with botocore's SigV4 signers for test_sigv4.

Run with Debian's interpreter (/usr/bin/python3, python3-botocore). Reads one JSON object per
line on stdin and writes one JSON object per line on stdout, in the same order. It never calls
add_auth() (which reads the wall clock); it runs the same steps with a fixed timestamp, like
shared/tools/sigv4_oracle.py.

Request fields:
  id, mode ("header" | "presign"), s3 (bool), method, host, path, path_is_encoded (bool),
  query [[name, value], ...] (decoded), headers [[name, value], ...], body_hex,
  unsigned_payload (bool), service, region, time (epoch seconds), access_key, secret_key,
  token (string or null), expires (presign only)
Reply fields:
  id, url, wire_path (the path the C signer must put on the wire), creq, sts, signature,
  added [[name, value], ...] (headers the signer added, in botocore's order),
  query_sorted (presign: the final query parameters, sorted, joined with '&')
  or {"id": ..., "error": "..."}.

With "--probe" it only checks that botocore imports (exit 0) or not (exit 77).
"""
import json
import sys
import time

try:
    import botocore.auth
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.utils import normalize_url_path, percent_encode
except ImportError:  # the C test turns this into a skip
    if "--probe" in sys.argv:
        sys.exit(77)
    raise

# Debian's botocore 1.29 only skips expect/user-agent/x-amzn-trace-id; 1.43 (and our C signer)
# also skip the hop-by-hop headers. Use the newer list so both versions give the same answers.
botocore.auth.SIGNED_HEADERS_BLACKLIST = [
    "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
]
ADDED = ("x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "authorization")


def sign(r):
    path = r["path"] or "/"
    wire = path if r["path_is_encoded"] else percent_encode(path, safe="/~")
    query = "&".join("%s=%s" % (percent_encode(k), percent_encode(v)) for k, v in r["query"])
    url = "https://%s%s%s" % (r["host"], wire, "?" + query if query else "")
    body = bytes.fromhex(r["body_hex"])
    token = r["token"] or None
    creds = Credentials(r["access_key"], r["secret_key"], token)
    req = AWSRequest(method=r["method"], url=url, headers={}, data=body)
    for name, value in r["headers"]:
        req.headers[name] = value  # HTTPHeaders appends, so repeated names are kept
    req.context["timestamp"] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(r["time"]))
    if r["mode"] == "presign":
        cls = S3SigV4QueryAuth if r["s3"] else SigV4QueryAuth
        auth = cls(creds, r["service"], r["region"], expires=r["expires"])
    else:
        auth = (S3SigV4Auth if r["s3"] else SigV4Auth)(creds, r["service"], r["region"])
        if r["unsigned_payload"]:
            if r["s3"]:
                req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
            else:
                req.context["payload_signing_enabled"] = False
    auth._modify_request_before_signing(req)
    creq = auth.canonical_request(req)
    sts = auth.string_to_sign(req, creq)
    sig = auth.signature(sts, req)
    auth._inject_signature_to_request(req, sig)
    out = {
        "id": r["id"],
        "url": req.url,
        "wire_path": wire if r["s3"] else normalize_url_path(wire),
        "creq": creq,
        "sts": sts,
        "signature": sig,
        "added": [[k, v] for k, v in req.headers.items() if k.lower() in ADDED],
    }
    if r["mode"] == "presign":
        out["query_sorted"] = "&".join(sorted(req.url.split("?", 1)[1].split("&")))
    return out


def main():
    if "--probe" in sys.argv:
        return 0
    # JSON lines are UTF-8 whatever the locale of the test environment.
    sys.stdin.reconfigure(encoding="utf-8")
    sys.stdout.reconfigure(encoding="utf-8")
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        try:
            out = sign(r)
        except Exception as e:  # report, keep going: the C side counts it as a mismatch
            out = {"id": r.get("id"), "error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
