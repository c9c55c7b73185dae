"""Deterministic, valid RGB PNG images of any size, generated quickly.

The picture is a set of horizontal bands, each a left-to-right gradient whose
colours come from a seed. Rows inside a band are identical, so they are
written with PNG filter 2 (Up) as all-zero rows, which keeps both the Python
work and zlib's work small even for 1408x1408 images.
"""
import random
import struct
import zlib

_BANDS = 12


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _gradient_row(width, c0, c1):
    row = bytearray(width * 3)
    span = max(width - 1, 1)
    for ch in range(3):
        a, b = c0[ch], c1[ch]
        row[ch::3] = bytes((a + (b - a) * x // span) & 0xFF for x in range(width))
    return bytes(row)


def make_png(width, height, seed, grey=False):
    """Return PNG bytes of width x height (both >= 1) seeded by an int."""
    rng = random.Random(seed)
    rows = []
    for _ in range(_BANDS):
        if grey:
            c0 = c1 = (128, 128, 128)
        else:
            c0 = tuple(rng.randrange(256) for _ in range(3))
            c1 = tuple(rng.randrange(256) for _ in range(3))
        rows.append(_gradient_row(width, c0, c1))
    zero = b"\x02" + bytes(width * 3)
    raw = bytearray()
    prev = -1
    for y in range(height):
        band = y * _BANDS // height
        if band == prev:
            raw += zero
        else:
            raw += b"\x00" + rows[band]
            prev = band
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + _chunk(b"IEND", b""))


def png_size(data):
    """(width, height) of PNG bytes, or None if data is not a PNG."""
    if len(data) >= 24 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None
