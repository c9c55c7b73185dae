"""Cheap request plumbing for the HTTP front end: arrival times and header parsing.

Two costs of http.server matter when a benchmark sends 100 requests at once to
one Python process:

- The time a request arrived. The handler thread may only get to a request
  tens of milliseconds after its bytes arrived (the GIL is busy with the other
  99), and injected latency counted from that moment would push every answer
  late by the fake's own backlog. StampedReader reads the socket with recvmsg
  and keeps the kernel's receive time of the bytes (SO_TIMESTAMPNS), so the
  latency is counted from when the request really arrived.
- Header parsing. http.client.parse_headers runs the email package's feed
  parser, about a third of the fake's CPU per request. parse_headers below
  reads the same fields into a small case-insensitive mapping.
"""
import io
import socket
import struct

# Linux value; older Pythons do not export the name.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_ANC_SPACE = socket.CMSG_SPACE(16)
_TIMESPEC = struct.Struct("qq")

MAX_LINE = 65536
MAX_HEADERS = 100


class StampedReader(io.RawIOBase):
    """Raw reads from a socket that remember when the kernel received the data.

    `stamp` is the receive time (epoch seconds, like time.time()) of the first
    read since it was last set to None; None while no read happened since.
    The socket stays open when this object is closed (the server closes it).
    """

    def __init__(self, sock):
        super().__init__()
        self._sock = sock
        self.stamp = None

    @staticmethod
    def enable(sock):
        """Turn on receive timestamps; False where the platform has none."""
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            return True
        except OSError:
            return False

    def readable(self):
        return True

    def readinto(self, b):
        n, anc, _flags, _addr = self._sock.recvmsg_into([b], _ANC_SPACE)
        if self.stamp is None:
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS \
                        and len(data) >= _TIMESPEC.size:
                    sec, nsec = _TIMESPEC.unpack_from(data)
                    self.stamp = sec + nsec * 1e-9
        return n


class Headers:
    """Request header fields in arrival order, looked up without regard to case.

    Covers what the handlers use of email.message.Message: get() returns the
    first value, items() every (name, value) as received, repeats included.
    """

    __slots__ = ("_items", "_first")

    def __init__(self, items):
        self._items = items
        first = {}
        for name, value in items:
            first.setdefault(name.lower(), value)
        self._first = first

    def get(self, name, default=None):
        return self._first.get(name.lower(), default)

    def get_all(self, name, failobj=None):
        low = name.lower()
        found = [v for k, v in self._items if k.lower() == low]
        return found or failobj

    def __getitem__(self, name):
        return self._first.get(name.lower())

    def __contains__(self, name):
        return name.lower() in self._first

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter([k for k, _ in self._items])

    def keys(self):
        return [k for k, _ in self._items]

    def values(self):
        return [v for _, v in self._items]

    def items(self):
        return list(self._items)

    def __str__(self):
        return "".join("%s: %s\r\n" % kv for kv in self._items) + "\r\n"


class HeaderError(Exception):
    """Too long a line or too many fields: the server answers 431."""


def parse_headers(rfile):
    """Read header lines up to the empty line; return Headers or raise HeaderError.

    Values lose leading blanks and the line end, as with the email parser. A
    folded continuation line (starting with a blank) extends the previous
    value; a line without a colon is skipped.
    """
    items = []
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HeaderError("Line too long", "header line")
        if line in (b"\r\n", b"\n", b""):
            return Headers(items)
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t"):
            if items:
                name, value = items[-1]
                items[-1] = (name, value + " " + text.strip(" \t"))
            continue
        name, sep, value = text.partition(":")
        if not sep or not name or name != name.strip():
            continue
        if len(items) >= MAX_HEADERS:
            raise HeaderError("Too many headers", "got more than %d headers" % MAX_HEADERS)
        items.append((name, value.lstrip(" \t")))
