"""Deterministic story-like text for Converse, seeded by the request text.

The same request always yields the same text, so Converse and ConverseStream
can be compared. If the prompt asks for "N parts" (or chapters/sections) the
text has "Part 1:" ... "Part N:" headings; "about N words" sets the length.
"""
import hashlib
import random
import re

_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}
_PARTS_RE = re.compile(
    r"\b(\d{1,2}|" + "|".join(_NUMBERS) + r")[\s-]+(?:parts?|chapters?|sections?)\b", re.I)
_WORDS_RE = re.compile(r"\b(\d{2,5})\s+words\b", re.I)
_KEYWORD_RE = re.compile(r"[A-Za-z]{5,}")
_TOKEN_RE = re.compile(r"\S+\s*|\s+")

_HEROES = ["a curious fox", "an old lighthouse keeper", "a small robot", "two siblings",
           "a brave little owl", "a baker named Rosa", "a lost dragon", "a quiet girl named Mei"]
_PLACES = ["at the edge of the forest", "in a town made of glass", "beside a sleepy river",
           "high in the snowy mountains", "under a sky full of lanterns", "on a floating island",
           "in a library that never closed", "near the old harbour"]
_VERBS = ["discovered", "followed", "remembered", "built", "painted", "whispered to",
          "searched for", "carried", "found", "listened to"]
_THINGS = ["a silver key", "a map drawn in chalk", "a humming seashell", "a door in the hill",
           "a kite with no string", "a star that had fallen", "a song nobody knew",
           "a garden of paper flowers", "a clock that ran backwards", "a friendly cloud"]
_ENDINGS = ["and everything felt a little brighter.", "and the night grew calm and kind.",
            "and laughter echoed through the streets.", "and the wind carried the news far away.",
            "and nobody was ever quite the same again.", "and the moon seemed to smile."]
_TITLES = ["The Beginning", "A Strange Discovery", "The Journey", "Trouble Ahead", "A New Friend",
           "The Secret", "The Storm", "Finding the Way", "The Return", "Home Again",
           "The Celebration", "Goodnight"]


def seed_for(text):
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def requested_parts(text):
    m = _PARTS_RE.search(text)
    if not m:
        return 0
    tok = m.group(1).lower()
    n = _NUMBERS.get(tok) or int(tok)
    return max(1, min(n, 20))


def requested_words(text):
    m = _WORDS_RE.search(text)
    return max(20, min(int(m.group(1)), 3000)) if m else 0


_STOP = {"about", "write", "story", "stories", "parts", "chapter", "chapters", "section",
         "sections", "three", "seven", "eight", "words", "please", "should", "which", "there",
         "their", "would", "could", "title", "headings", "heading", "bedtime", "include"}


def _keywords(text, rng):
    words = sorted({w.lower() for w in _KEYWORD_RE.findall(text)} - _STOP)
    rng.shuffle(words)
    return words[:6]


def _sentence(rng, keywords):
    hero = rng.choice(_HEROES)
    s = "%s %s %s %s, %s" % (hero[0].upper() + hero[1:], rng.choice(_PLACES),
                             rng.choice(_VERBS), rng.choice(_THINGS), rng.choice(_ENDINGS))
    if keywords and rng.random() < 0.5:
        s += " It was all about %s." % rng.choice(keywords)
    return s


def _paragraph(rng, keywords, n_words):
    out = []
    count = 0
    while count < n_words:
        s = _sentence(rng, keywords)
        out.append(s)
        count += len(s.split())
    return " ".join(out)


def story(prompt_text, system_text=""):
    """Return the deterministic reply for the given prompt and system text."""
    everything = system_text + "\n" + prompt_text
    rng = random.Random(seed_for(everything))
    keywords = _keywords(prompt_text, rng)
    parts = requested_parts(everything)
    total_words = requested_words(everything) or (60 * parts if parts else 120)
    if not parts:
        return _paragraph(rng, keywords, total_words)
    per_part = max(15, total_words // parts)
    chunks = []
    for i in range(parts):
        title = _TITLES[i % len(_TITLES)]
        chunks.append("Part %d: %s\n\n%s" % (i + 1, title, _paragraph(rng, keywords, per_part)))
    return "\n\n".join(chunks)


def split_deltas(text, rng_seed):
    """Split text into small pieces (1-3 words with their spacing) for streaming."""
    rng = random.Random(rng_seed)
    tokens = _TOKEN_RE.findall(text)
    out = []
    i = 0
    while i < len(tokens):
        n = rng.randint(1, 3)
        out.append("".join(tokens[i:i + n]))
        i += n
    return out


def find_words(text, words):
    """The words of the list that occur in text as whole words (case-insensitive)."""
    low = text.lower()
    return [w for w in words if re.search(r"\b%s\b" % re.escape(w.lower()), low)]


_JSON_RE = re.compile(r"answer with one json object", re.I)
_QCOUNT_RE = re.compile(r"exactly (\d{1,2}) comprehension questions", re.I)
_COLOURS = ["red", "orange", "yellow", "green", "sky-blue", "purple", "pink", "brown", "white"]


def wants_json(system_text):
    """True when the system prompt asks for a single JSON object."""
    return bool(_JSON_RE.search(system_text or ""))


def sheet_json(prompt_text, system_text=""):
    """A deterministic character sheet and questions for the story in prompt_text.

    Characters are the story's heroes (the phrases this module writes, "a curious fox"),
    the main one first; the number of questions follows "exactly N comprehension questions".
    """
    import json
    rng = random.Random(seed_for(system_text + "\n" + prompt_text))
    low = prompt_text.lower()
    found = sorted((low.find(h), h) for h in _HEROES if h in low)
    chars = []
    for _, hero in found[:4]:
        words = hero.split()[1:]
        if "named" in words:
            name = words[-1].capitalize()
            kind = words[0]
        else:
            name = " ".join(w.capitalize() for w in words)
            kind = words[-1]
        cols = rng.sample(_COLOURS, 2)
        chars.append({"name": name, "kind": kind, "role": "hero" if not chars else "friend",
                      "looks": "small and cheerful with bright eyes",
                      "clothes": "a %s scarf" % cols[0], "colours": cols})
    if not chars:
        chars.append({"name": "Sunny", "kind": "child", "role": "hero",
                      "looks": "curly hair and a big smile", "clothes": "a yellow raincoat",
                      "colours": ["yellow", "blue"]})
    m = _QCOUNT_RE.search(system_text or "")
    n = max(1, min(int(m.group(1)), 8)) if m else 4
    hero = chars[0]["name"]
    pool = [("Who is the main character of the story?", "%s." % hero),
            ("What did %s find?" % hero, "Something wonderful on the journey."),
            ("Where did the story happen?", "In a faraway, friendly place."),
            ("How did %s feel at the end?" % hero, "Happy and proud."),
            ("Who helped along the way?", "A good friend."),
            ("What would you have done?", "Any kind answer is right.")]
    qs = [{"question": q, "answer": a} for q, a in pool[:n]]
    return "```json\n" + json.dumps({"characters": chars, "questions": qs}) + "\n```"
