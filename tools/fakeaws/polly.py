"""Polly: SynthesizeSpeech and DescribeVoices.

Speech is synthetic but deterministic: every word is a short tone burst of
60 ms per character, words are separated by short silences, and sentence
ends and SSML <break> tags add longer pauses. Speech marks are computed from
the same timeline, so a word mark's time is exactly where its burst starts in
the PCM for the same request.
"""
import array
import hashlib
import json
import math
import re
import sys
import xml.etree.ElementTree as ET

from .errors import ApiError, validation

# Id, Name, Gender, LanguageCode, LanguageName, SupportedEngines, AdditionalLanguageCodes
_VOICES = [
    ("Joanna", "Joanna", "Female", "en-US", "US English", ["generative", "long-form", "neural", "standard"], None),
    ("Matthew", "Matthew", "Male", "en-US", "US English", ["generative", "neural", "standard"], None),
    ("Ivy", "Ivy", "Female", "en-US", "US English", ["neural", "standard"], None),
    ("Justin", "Justin", "Male", "en-US", "US English", ["neural", "standard"], None),
    ("Kendra", "Kendra", "Female", "en-US", "US English", ["neural", "standard"], None),
    ("Kimberly", "Kimberly", "Female", "en-US", "US English", ["neural", "standard"], None),
    ("Salli", "Salli", "Female", "en-US", "US English", ["generative", "neural", "standard"], None),
    ("Joey", "Joey", "Male", "en-US", "US English", ["neural", "standard"], None),
    ("Kevin", "Kevin", "Male", "en-US", "US English", ["neural"], None),
    ("Ruth", "Ruth", "Female", "en-US", "US English", ["generative", "long-form", "neural"], None),
    ("Stephen", "Stephen", "Male", "en-US", "US English", ["generative", "neural"], None),
    ("Danielle", "Danielle", "Female", "en-US", "US English", ["generative", "long-form", "neural"], None),
    ("Gregory", "Gregory", "Male", "en-US", "US English", ["long-form", "neural"], None),
    ("Amy", "Amy", "Female", "en-GB", "British English", ["generative", "neural", "standard"], None),
    ("Emma", "Emma", "Female", "en-GB", "British English", ["neural", "standard"], None),
    ("Brian", "Brian", "Male", "en-GB", "British English", ["neural", "standard"], None),
    ("Arthur", "Arthur", "Male", "en-GB", "British English", ["neural"], None),
    ("Olivia", "Olivia", "Female", "en-AU", "Australian English", ["generative", "neural"], None),
    ("Lupe", "Lupe", "Female", "es-US", "US Spanish", ["generative", "neural", "standard"], None),
    ("Lea", "Léa", "Female", "fr-FR", "French", ["generative", "neural", "standard"], None),
    ("Celine", "Céline", "Female", "fr-FR", "French", ["standard"], None),
    ("Vicki", "Vicki", "Female", "de-DE", "German", ["generative", "neural", "standard"], None),
    ("Hans", "Hans", "Male", "de-DE", "German", ["standard"], None),
    ("Aditi", "Aditi", "Female", "hi-IN", "Hindi", ["standard"], ["en-IN"]),
]
VOICES = {v[0]: v for v in _VOICES}
ENGINES = ["standard", "neural", "long-form", "generative"]
FORMATS = ["json", "mp3", "ogg_vorbis", "ogg_opus", "pcm", "mulaw", "alaw"]
MARK_TYPES = ["sentence", "ssml", "viseme", "word"]
MAX_TOTAL_CHARS = 6000
MAX_BILLED_CHARS = 3000

MS_PER_CHAR = 60
GAP_MS = 80
COMMA_MS = 150
SENTENCE_MS = 300
LEAD_MS = 50
TAIL_MS = 100

_WORD_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_TAG_RE = re.compile(r"<[^>]*>|&#?\w+;")
_BREAK_STRENGTH = {"none": 0, "x-weak": 100, "weak": 200, "medium": 400, "strong": 700,
                   "x-strong": 1000}


def _enum_error(value, member, allowed):
    return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy "
                      "constraint: Member must satisfy enum value set: [%s]"
                      % (value, member, ", ".join(allowed)))


def _voice_json(v):
    out = {"Gender": v[2], "Id": v[0], "LanguageCode": v[3], "LanguageName": v[4],
           "Name": v[1], "SupportedEngines": list(v[5])}
    if v[6]:
        out["AdditionalLanguageCodes"] = list(v[6])
    return out


_TOKEN_PREFIX = "fakevoices-"


def describe_voices(query, page_size=0):
    """query: dict name -> first value. Returns the JSON document.

    page_size > 0 answers at most that many voices with a NextToken for the
    rest, as Polly may; the token is opaque to clients ("fakevoices-<offset>")
    and is only valid for the same filters."""
    engine = query.get("Engine")
    lang = query.get("LanguageCode")
    extra = query.get("IncludeAdditionalLanguageCodes", "false").lower() == "true"
    if engine is not None and engine not in ENGINES:
        raise _enum_error(engine, "engine", ENGINES)
    out = []
    for v in _VOICES:
        if engine and engine not in v[5]:
            continue
        if lang and v[3] != lang and not (extra and v[6] and lang in v[6]):
            continue
        out.append(_voice_json(v))
    start = 0
    token = query.get("NextToken")
    if token:
        rest = token[len(_TOKEN_PREFIX):] if token.startswith(_TOKEN_PREFIX) else ""
        if page_size <= 0 or not rest.isdigit() or not 0 < int(rest) < len(out):
            raise ApiError(400, "InvalidNextTokenException", "The NextToken is invalid.")
        start = int(rest)
    if page_size <= 0:
        return {"Voices": out}
    doc = {"Voices": out[start:start + page_size]}
    if start + page_size < len(out):
        doc["NextToken"] = "%s%d" % (_TOKEN_PREFIX, start + page_size)
    return doc


# ---------------------------------------------------------------- timeline

def _spoken_regions(text, ssml):
    """Yield (kind, start, end, info) over the text in order.

    kind is 'text' for speakable regions, 'break' (info = ms) and 'mark'
    (info = name) for SSML tags. Offsets are character offsets into text.
    """
    if not ssml:
        yield ("text", 0, len(text), None)
        return
    pos = 0
    for m in _TAG_RE.finditer(text):
        if m.start() > pos:
            yield ("text", pos, m.start(), None)
        tag = m.group(0)
        if tag.startswith("<break"):
            t = re.search(r'time\s*=\s*"(\d+(?:\.\d+)?)(ms|s)"', tag)
            s = re.search(r'strength\s*=\s*"([\w-]+)"', tag)
            if t:
                ms = float(t.group(1)) * (1000 if t.group(2) == "s" else 1)
            else:
                ms = _BREAK_STRENGTH.get(s.group(1) if s else "medium", 400)
            yield ("break", m.start(), m.end(), int(min(ms, 10000)))
        elif tag.startswith("<mark"):
            n = re.search(r'name\s*=\s*"([^"]*)"', tag)
            yield ("mark", m.start(), m.end(), n.group(1) if n else "")
        pos = m.end()
    if pos < len(text):
        yield ("text", pos, len(text), None)


def build_timeline(text, ssml):
    """Return (words, marks, total_ms).

    words: list of (start_ms, dur_ms, word) for audio rendering.
    marks: list of dicts in Polly's speech-mark format (all types; filtered later).
    """
    # Character offset -> UTF-8 byte offset, for mark start/end fields.
    byte_at = [0] * (len(text) + 1)
    acc = 0
    for i, ch in enumerate(text):
        byte_at[i] = acc
        acc += len(ch.encode("utf-8"))
    byte_at[len(text)] = acc

    t = LEAD_MS
    words, marks = [], []
    sentence = None  # [mark dict, start char]
    for kind, a, b, info in _spoken_regions(text, ssml):
        if kind == "break":
            t += info
            continue
        if kind == "mark":
            marks.append({"time": t, "type": "ssml", "start": byte_at[a], "end": byte_at[b],
                          "value": info})
            continue
        seg = text[a:b]
        for m in _WORD_RE.finditer(seg):
            ws, we = a + m.start(), a + m.end()
            word = m.group(0)
            if sentence is None:
                sentence = {"time": t, "type": "sentence", "start": byte_at[ws], "end": byte_at[we],
                            "value": ""}
                sentence["_s"] = ws
                marks.append(sentence)
            dur = MS_PER_CHAR * len(word)
            marks.append({"time": t, "type": "word", "start": byte_at[ws], "end": byte_at[we],
                          "value": word})
            marks.append({"time": t, "type": "viseme", "value": _viseme(word)})
            words.append((t, dur, word))
            t += dur
            # Look at the punctuation between this word and the next one.
            nxt = _WORD_RE.search(seg, m.end())
            between = seg[m.end():nxt.start() if nxt else len(seg)]
            end_char = we
            punct = re.match(r"[^\s]*", between).group(0)
            if re.search(r"[.!?]", punct):
                end_char = we + len(punct)
                sentence["end"] = byte_at[end_char]
                sentence["value"] = text[sentence.pop("_s"):end_char]
                sentence = None
                t += SENTENCE_MS
            else:
                sentence["end"] = byte_at[we]
                sentence["value"] = text[sentence["_s"]:we]
                t += COMMA_MS if "," in punct or ";" in punct else GAP_MS
    if sentence is not None:
        sentence.pop("_s", None)
    return words, marks, t + TAIL_MS


def _viseme(word):
    c = word[0].lower()
    for group, v in (("pbm", "p"), ("fv", "f"), ("td", "t"), ("kg", "k"), ("sz", "s"),
                     ("aeiou", "a")):
        if c in group:
            return v
    return "E"


# ---------------------------------------------------------------- audio

def render_pcm(words, total_ms, rate):
    """16-bit mono little-endian PCM for the timeline."""
    total = total_ms * rate // 1000
    pcm = array.array("h", bytes(total * 2))
    fade = max(1, rate // 100)  # 10 ms
    for start_ms, dur_ms, word in words:
        s0 = start_ms * rate // 1000
        s1 = min((start_ms + dur_ms) * rate // 1000, total)
        n = s1 - s0
        if n <= 0:
            continue
        h = hashlib.sha256(word.lower().encode("utf-8")).digest()
        freq = 140 + h[0] % 120
        period = max(2, round(rate / freq))
        cycle = array.array("h", (int(7000 * math.sin(2 * math.pi * k / period)
                                      + 2500 * math.sin(4 * math.pi * k / period))
                                  for k in range(period)))
        burst = cycle * (n // period + 1)
        del burst[n:]
        f = min(fade, n // 2)
        for k in range(f):
            burst[k] = burst[k] * k // f
            burst[n - 1 - k] = burst[n - 1 - k] * k // f
        pcm[s0:s1] = burst
    if sys.byteorder == "big":
        pcm.byteswap()
    return pcm.tobytes()


# Bitrate index 5 (64 kbit/s) for MPEG-1, index 4 (32 kbit/s) for MPEG-2/2.5, Layer III, mono.
_MP3 = {44100: (3, 0, 5, 64000), 48000: (3, 1, 5, 64000), 32000: (3, 2, 5, 64000),
        22050: (2, 0, 4, 32000), 24000: (2, 1, 4, 32000), 16000: (2, 2, 4, 32000),
        8000: (0, 2, 4, 32000)}


def render_mp3(total_ms, rate):
    """Valid MPEG audio of the right duration, made of silent Layer III frames."""
    version, sr_idx, br_idx, bitrate = _MP3[rate]
    mpeg1 = version == 3
    spf = 1152 if mpeg1 else 576
    size = (144 if mpeg1 else 72) * bitrate // rate
    hdr = bytes([0xFF, 0xE0 | (version << 3) | (1 << 1) | 1,
                 (br_idx << 4) | (sr_idx << 2), 0xC0])
    frame = hdr + bytes(size - 4)  # zero side info = no audio data = silence
    frames = -(-(total_ms * rate // 1000) // spf)
    return frame * max(1, frames)


def _g711(pcm, alaw):
    samples = array.array("h")
    samples.frombytes(pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    out = bytearray(len(samples))
    for i, s in enumerate(samples):
        out[i] = _alaw(s) if alaw else _ulaw(s)
    return bytes(out)


def _ulaw(s):
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), 32635) + 0x84
    exp = max(0, s.bit_length() - 8)
    exp = min(exp, 7)
    mant = (s >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def _alaw(s):
    sign = 0x80 if s >= 0 else 0
    s = min(abs(s), 32767) >> 3
    if s < 32:
        v = s >> 1
    else:
        exp = s.bit_length() - 5
        v = (exp << 4) | ((s >> exp) & 0x0F)
    return (sign | v) ^ 0x55


# ---------------------------------------------------------------- request

def _billed_chars(text, ssml):
    if not ssml:
        return len(text)
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        raise ApiError(400, "InvalidSsmlException", "Invalid SSML request")
    if root.tag != "speak":
        raise ApiError(400, "InvalidSsmlException", "Invalid SSML request")
    return len("".join(root.itertext()))


def synthesize(body):
    """body: parsed JSON dict. Returns (content_type, bytes, billed_chars, summary)."""
    for field in ("OutputFormat", "Text", "VoiceId"):
        if body.get(field) is None:
            raise validation("1 validation error detected: Value null at '%s' failed to "
                             "satisfy constraint: Member must not be null"
                             % (field[0].lower() + field[1:]))
    text = body["Text"]
    fmt = body["OutputFormat"]
    voice_id = body["VoiceId"]
    engine = body.get("Engine") or "standard"
    text_type = body.get("TextType") or "text"
    marks_wanted = body.get("SpeechMarkTypes") or []
    if not isinstance(text, str):
        raise ApiError(400, "SerializationException", "Text must be a string")
    if fmt not in FORMATS:
        raise _enum_error(fmt, "outputFormat", FORMATS)
    if voice_id not in VOICES:
        raise _enum_error(voice_id, "voiceId", sorted(VOICES))
    if engine not in ENGINES:
        raise _enum_error(engine, "engine", ENGINES)
    if text_type not in ("text", "ssml"):
        raise _enum_error(text_type, "textType", ["ssml", "text"])
    for mt in marks_wanted:
        if mt not in MARK_TYPES:
            raise _enum_error(mt, "speechMarkTypes", MARK_TYPES)
    voice = VOICES[voice_id]
    if engine not in voice[5]:
        raise ApiError(400, "EngineNotSupportedException",
                       "This voice does not support the selected engine: %s" % engine)
    lang = body.get("LanguageCode")
    if lang and lang != voice[3] and lang not in (voice[6] or []):
        raise ApiError(400, "LanguageNotSupportedException",
                       "Language %s is not supported by voice %s" % (lang, voice_id))
    if body.get("LexiconNames"):
        raise ApiError(404, "LexiconNotFoundException",
                       "Lexicon not found: %s" % body["LexiconNames"][0])
    if fmt == "json" and not marks_wanted:
        raise validation("SpeechMarkTypes must be specified when OutputFormat is json")
    if fmt != "json" and marks_wanted:
        raise ApiError(400, "MarksNotSupportedForFormatException",
                       "Speech marks are only supported for the json output format")
    if "ssml" in marks_wanted and text_type != "ssml":
        raise ApiError(400, "SsmlMarksNotSupportedForTextTypeException",
                       "SSML speech marks are only supported for SSML input")
    ssml = text_type == "ssml"
    billed = _billed_chars(text, ssml)
    if len(text) > MAX_TOTAL_CHARS or billed > MAX_BILLED_CHARS:
        raise ApiError(400, "TextLengthExceededException", "Maximum text length has been exceeded")
    rate = _sample_rate(fmt, engine, body.get("SampleRate"))
    words, marks, total_ms = build_timeline(text, ssml)
    summary = {"voice": voice_id, "engine": engine, "format": fmt, "billed": billed,
               "duration_ms": total_ms}
    if fmt == "json":
        lines = [json.dumps(m, ensure_ascii=False, separators=(",", ":"))
                 for m in marks if m["type"] in marks_wanted]
        data = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
        return "application/x-json-stream", data, billed, summary
    if fmt == "pcm":
        return "audio/pcm", render_pcm(words, total_ms, rate), billed, summary
    if fmt == "mp3":
        return "audio/mpeg", render_mp3(total_ms, rate), billed, summary
    if fmt in ("mulaw", "alaw"):
        pcm = render_pcm(words, total_ms, rate)
        return "audio/" + fmt, _g711(pcm, fmt == "alaw"), billed, summary
    raise validation("fake-aws does not implement OutputFormat %s" % fmt)


def _sample_rate(fmt, engine, value):
    if fmt == "pcm":
        allowed, default = ("8000", "16000"), "16000"
    elif fmt in ("mp3", "ogg_vorbis"):
        allowed = ("8000", "16000", "22050", "24000", "44100", "48000")
        default = "22050" if engine == "standard" else "24000"
    elif fmt == "ogg_opus":
        allowed, default = ("48000",), "48000"
    elif fmt in ("mulaw", "alaw"):
        allowed, default = ("8000",), "8000"
    else:
        return 0
    v = default if value is None else str(value)
    if v not in allowed:
        raise ApiError(400, "InvalidSampleRateException",
                       "Sample rate %s is not valid for output format %s" % (v, fmt))
    return int(v)
