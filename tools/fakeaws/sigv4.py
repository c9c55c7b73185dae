"""Server-side SigV4 verification.

The canonical request is rebuilt from what arrived on the wire: the path is
taken from the raw request line and encoded once more (the non-S3 rule), the
query is decoded and re-encoded before sorting, and signed headers are trimmed
and joined exactly as a client signer does. Verification returns None on
success or an AuthError carrying the error type, status and message that AWS
sends for that failure.
"""
import datetime
import hashlib
import hmac
import posixpath
import re
from urllib.parse import quote, unquote

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SLASHES_RE = re.compile(r"/{2,}")

_SIG_MISMATCH = (
    "The request signature we calculated does not match the signature you "
    "provided. Check your AWS Secret Access Key and signing method. Consult "
    "the service documentation for details."
)
_BAD_TOKEN = "The security token included in the request is invalid."


class AuthError(Exception):
    """An authentication failure with the AWS error type and HTTP status."""

    def __init__(self, error_type, message, status=403):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def uri_encode(text, keep_slash=False):
    """UriEncode(): every byte but A-Z a-z 0-9 - . _ ~ is %XX (upper hex)."""
    return quote(text, safe="/~" if keep_slash else "~")


def normalize_path(path):
    """RFC 3986 dot-segment removal and slash collapsing, as non-S3 services do."""
    if not path:
        return "/"
    trailing = path.endswith("/")
    norm = posixpath.normpath(path)
    # posixpath keeps a leading '//' (POSIX allows it to be special); AWS does not.
    norm = _SLASHES_RE.sub("/", norm)
    if norm in (".", ""):
        norm = "/"
    if trailing and not norm.endswith("/"):
        norm += "/"
    return norm


def canonical_uri(raw_path):
    """Canonical URI for non-S3 services: normalize, then encode the wire path again."""
    return uri_encode(normalize_path(raw_path), keep_slash=True)


def canonical_query(raw_query):
    if not raw_query:
        return ""
    pairs = []
    for part in raw_query.split("&"):
        if part == "":
            continue
        name, _, value = part.partition("=")
        pairs.append((uri_encode(unquote(name)), uri_encode(unquote(value))))
    pairs.sort()
    return "&".join("%s=%s" % p for p in pairs)


def _trim(value):
    return " ".join(value.split())


def canonical_request(method, raw_path, raw_query, header_items, signed, payload_hash):
    """Build the six-line canonical request.

    header_items is a list of (name, value) as received (repeats allowed);
    signed is the list of lower-case names from SignedHeaders.
    """
    values = {}
    for name, value in header_items:
        values.setdefault(name.lower(), []).append(_trim(value))
    lines = []
    for name in signed:
        lines.append("%s:%s\n" % (name, ",".join(values.get(name, []))))
    return "\n".join(
        [
            method,
            canonical_uri(raw_path),
            canonical_query(raw_query),
            "".join(lines),
            ";".join(signed),
            payload_hash,
        ]
    )


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def string_to_sign(amz_date, scope, creq):
    return "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode("utf-8")).hexdigest()]
    )


def parse_authorization(value):
    """Split 'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...'."""
    algo, _, rest = value.strip().partition(" ")
    fields = {}
    for part in rest.split(","):
        k, sep, v = part.strip().partition("=")
        if sep:
            fields[k.strip()] = v.strip()
    return algo, fields


def _fmt(ts):
    return ts.strftime("%Y%m%dT%H%M%SZ")


class Verifier:
    """Holds the configured credentials and checks one request at a time."""

    def __init__(self, access_key, secret_key, region, session_token=None,
                 bearer_token=None, max_skew_s=900):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.session_token = session_token
        self.bearer_token = bearer_token
        self.max_skew_s = max_skew_s
        # The derived key depends only on (date, region, service) and the secret, and the
        # X-Amz-Date of requests sent in the same second is the same string: both are cached so
        # a request costs two SHA-256 and one HMAC instead of five HMACs and a strptime.
        # Plain dicts (a lookup or store is atomic under the GIL), cleared when they grow.
        self._keys = {}
        self._dates = {}

    def _signing_key(self, date, region, service):
        k = (date, region, service)
        key = self._keys.get(k)
        if key is None:
            if len(self._keys) > 64:
                self._keys.clear()
            key = self._keys[k] = signing_key(self.secret_key, date, region, service)
        return key

    def _parse_date(self, amz_date):
        ts = self._dates.get(amz_date)
        if ts is None:
            try:
                ts = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                    tzinfo=datetime.timezone.utc)
            except ValueError:
                raise AuthError("IncompleteSignatureException",
                                "Date must be in ISO-8601 'basic format'. Got '%s'." % amz_date)
            if len(self._dates) > 256:
                self._dates.clear()
            self._dates[amz_date] = ts
        return ts

    def verify(self, service, method, raw_path, raw_query, header_items, body, now=None):
        """Return the auth kind ('sigv4' or 'bearer') or raise AuthError."""
        headers = {}
        for name, value in header_items:
            headers.setdefault(name.lower(), []).append(value)
        auth_values = headers.get("authorization")
        if not auth_values:
            raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
        auth = auth_values[0]
        if auth.startswith("Bearer "):
            return self._verify_bearer(service, auth[7:].strip())
        algo, fields = parse_authorization(auth)
        if algo != "AWS4-HMAC-SHA256":
            raise AuthError("IncompleteSignatureException",
                            "Unsupported authorization type: %s" % algo, 403)
        missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
        amz_date = (headers.get("x-amz-date") or [None])[0]
        if missing or amz_date is None:
            msgs = ["Authorization header requires '%s' parameter." % k for k in missing]
            if amz_date is None:
                msgs.append("Authorization header requires existence of either a "
                            "'X-Amz-Date' or a 'Date' header.")
            raise AuthError("IncompleteSignatureException",
                            " ".join(msgs) + " Authorization=" + auth)
        cred = fields["Credential"].split("/")
        if len(cred) != 5 or cred[4] != "aws4_request":
            raise AuthError("IncompleteSignatureException",
                            "Credential should be scoped to a valid region.")
        akid, cdate, cregion, cservice, _ = cred
        if akid != self.access_key:
            raise AuthError("UnrecognizedClientException", _BAD_TOKEN)
        self._check_token(headers, fields["SignedHeaders"])
        if cregion != self.region:
            raise AuthError("InvalidSignatureException",
                            "Credential should be scoped to a valid region. ")
        if cservice != service:
            raise AuthError("InvalidSignatureException",
                            "Credential should be scoped to correct service: '%s'. " % service)
        ts = self._parse_date(amz_date)
        if cdate != amz_date[:8]:
            raise AuthError(
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                "of date from HTTP: '%s' != '%s', from '%s'." % (cdate, amz_date[:8], amz_date))
        now = now or datetime.datetime.now(datetime.timezone.utc)
        skew = datetime.timedelta(seconds=self.max_skew_s)
        minutes = self.max_skew_s // 60
        if ts < now - skew:
            raise AuthError("InvalidSignatureException",
                            "Signature expired: %s is now earlier than %s (%s - %d min.)"
                            % (amz_date, _fmt(now - skew), _fmt(now), minutes))
        if ts > now + skew:
            raise AuthError("InvalidSignatureException",
                            "Signature not yet current: %s is still later than %s (%s + %d min.)"
                            % (amz_date, _fmt(now + skew), _fmt(now), minutes))
        signed = [h.strip().lower() for h in fields["SignedHeaders"].split(";") if h.strip()]
        if "host" not in signed and ":authority" not in signed:
            raise AuthError("InvalidSignatureException",
                            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        payload_hash = hashlib.sha256(body).hexdigest()
        declared = (headers.get("x-amz-content-sha256") or [None])[0]
        if declared is not None and "x-amz-content-sha256" in signed:
            if declared != "UNSIGNED-PAYLOAD" and declared != payload_hash:
                raise AuthError("InvalidSignatureException", _SIG_MISMATCH)
            payload_hash = declared
        creq = canonical_request(method, raw_path, raw_query, header_items, signed, payload_hash)
        scope = "%s/%s/%s/aws4_request" % (cdate, cregion, cservice)
        sts = string_to_sign(amz_date, scope, creq)
        key = self._signing_key(cdate, cregion, cservice)
        expect = hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expect, fields["Signature"]):
            raise AuthError("InvalidSignatureException", _SIG_MISMATCH)
        return "sigv4"

    def _check_token(self, headers, signed_headers):
        token = (headers.get("x-amz-security-token") or [None])[0]
        signed = [h.strip().lower() for h in signed_headers.split(";")]
        if self.session_token is None:
            if token is not None:
                raise AuthError("UnrecognizedClientException", _BAD_TOKEN)
            return
        if token is None or token != self.session_token:
            raise AuthError("UnrecognizedClientException", _BAD_TOKEN)
        if "x-amz-security-token" not in signed:
            raise AuthError("InvalidSignatureException",
                            "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.")

    def _verify_bearer(self, service, token):
        # Bedrock API keys are bearer tokens; Polly has no bearer auth at all.
        if service != "bedrock" or self.bearer_token is None:
            raise AuthError("IncompleteSignatureException",
                            "Authorization header requires 'Credential' parameter. "
                            "Authorization header requires 'Signature' parameter. "
                            "Authorization header requires 'SignedHeaders' parameter.")
        if not hmac.compare_digest(token.encode(), self.bearer_token.encode()):
            raise AuthError("UnrecognizedClientException", _BAD_TOKEN)
        return "bearer"
