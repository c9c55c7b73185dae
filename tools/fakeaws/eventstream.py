"""Encoder for application/vnd.amazon.eventstream messages.

Frame: total_length, headers_length, prelude CRC32, headers, payload, message
CRC32 (all big-endian). Only the header value types the fake sends are
supported: bool, string and byte array.
"""
import json
import struct
import zlib


def _header(name, value):
    raw = name.encode("utf-8")
    out = struct.pack(">B", len(raw)) + raw
    if value is True:
        return out + b"\x00"
    if value is False:
        return out + b"\x01"
    if isinstance(value, bytes):
        return out + struct.pack(">BH", 6, len(value)) + value
    data = str(value).encode("utf-8")
    return out + struct.pack(">BH", 7, len(data)) + data


def encode_message(headers, payload=b""):
    """headers: list of (name, value) in the order they should appear."""
    hbytes = b"".join(_header(n, v) for n, v in headers)
    total = 16 + len(hbytes) + len(payload)
    prelude = struct.pack(">II", total, len(hbytes))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + hbytes + payload
    return body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _json(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event(event_type, payload):
    return encode_message(
        [(":event-type", event_type), (":content-type", "application/json"),
         (":message-type", "event")],
        _json(payload))


def exception(exception_type, payload):
    return encode_message(
        [(":exception-type", exception_type), (":content-type", "application/json"),
         (":message-type", "exception")],
        _json(payload))


def error(code, message):
    """Unmodeled error: everything in headers, no payload."""
    return encode_message(
        [(":message-type", "error"), (":error-code", code), (":error-message", message)])
