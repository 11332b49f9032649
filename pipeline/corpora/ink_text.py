"""English text for synthetic handwriting: lines cut from the ``fortunes`` collection.

The texts of a handwriting corpus should have English's own letter, case, digit and
punctuation statistics, as the lines of IAM-OnDB (sentences of the LOB corpus) do; a list of
random words has none of them. The source here is the BSD ``fortune`` collection, installed by
Debian's ``fortunes`` package under ``/usr/share/games/fortunes`` (BSD licence, see
``/usr/share/doc/fortunes/copyright``): about 15,000 quotations, proverbs, jokes and passages of
literature, written by people, with their capitals, digits and punctuation.

Each fortune is cleaned (attribution lines "-- Author" dropped, white space folded, typewriter
quotes made plain), kept only when it is prose (mostly letters, and only characters of
``INK_CHARSET``), then cut into lines of a handwriting line's length. Whole fortunes are assigned
to the train, dev or test texts by a hash of their text, so no held-out line shares a sentence
with the training lines.

Digits are rare in prose (a third of a percent of the fortunes' characters), too rare for a
recognizer to learn them. :func:`number_text` writes lines with numbers in them, as people write
numbers: bare digit strings (codes, account and telephone numbers), numbers written the usual
ways (years, dates, times, prices, quantities, telephone numbers in groups, numbered items), and
numbers among the words of a line. A share (``NUMBER_SHARE``) of a corpus's training lines are
such lines.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import string
from pathlib import Path

import numpy as np

from lstmrec.features.errors import DataError

FORTUNES_DIR = Path("/usr/share/games/fortunes")
# The character set of IAM-OnDB's transcriptions: letters, digits, space and the punctuation its
# writers copied. Lines of the source with any other character are not used.
INK_CHARSET = string.ascii_letters + string.digits + " !\"#&'()*+,-./:;?"
SKIP_FILES = {"ascii-art", "art", "perl", "linux", "debian", "computers", "translate-me"}
MIN_LETTER_SHARE = 0.7  # prose: at least this share of a fortune's characters are letters
LINE_CHARS = (20, 60)  # a line holds this many characters (IAM-OnDB lines: about 20-60)
HELD_OUT = {"dev": (0, 5), "test": (5, 15)}  # percent buckets of the text hash; the rest: train

NUMBER_SHARE = 0.15  # share of the training lines that are number lines (number_text)

_ATTRIBUTION = re.compile(r"^\s*--\s")
_QUOTES = {"``": '"', "''": '"', "`": "'"}


def _clean(fortune: str) -> str | None:
    """One fortune as a single line of prose, or None when it is not usable."""
    lines = [ln for ln in fortune.splitlines() if not _ATTRIBUTION.match(ln)]
    text = " ".join(" ".join(lines).split())
    for old, new in _QUOTES.items():
        text = text.replace(old, new)
    if len(text) < LINE_CHARS[0] or any(ch not in INK_CHARSET for ch in text):
        return None
    letters = sum(ch.isalpha() for ch in text)
    if letters < MIN_LETTER_SHARE * len(text.replace(" ", "")) or not any(
        ch.islower() for ch in text
    ):
        return None
    return text


def split_of_text(text: str) -> str:
    """``"train"``, ``"dev"`` or ``"test"``: a fixed assignment by a hash of the text."""
    bucket = int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) % 100
    for split, (lo, hi) in HELD_OUT.items():
        if lo <= bucket < hi:
            return split
    return "train"


@functools.cache
def fortunes(root: str | os.PathLike = FORTUNES_DIR) -> dict[str, tuple[str, ...]]:
    """The usable fortunes of ``root``, by split (``"train"``, ``"dev"``, ``"test"``), sorted."""
    root = Path(root)
    files = sorted(
        p for p in root.glob("*") if p.is_file() and not p.suffix and p.name not in SKIP_FILES
    )
    if not files:
        raise DataError(
            "no fortune files (install Debian's 'fortunes' package: apt-get install fortunes)", root
        )
    out: dict[str, set[str]] = {"train": set(), "dev": set(), "test": set()}
    for path in files:
        try:
            body = path.read_text(encoding="utf-8", errors="strict")
        except (OSError, UnicodeDecodeError):
            continue  # the collection has a few files in other encodings; they are not needed
        for fortune in body.split("\n%\n"):
            text = _clean(fortune)
            if text is not None:
                out[split_of_text(text)].add(text)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def text_lines(split: str, rng: np.random.Generator, count: int, *, root=FORTUNES_DIR) -> list[str]:
    """``count`` lines of ``split``'s texts: random fortunes, each cut at word boundaries into
    lines of ``LINE_CHARS`` characters (a word longer than a line is a line of its own)."""
    pool = fortunes(root)[split]
    if not pool:
        raise DataError(f"no usable fortunes for the {split!r} texts", Path(root))
    lines: list[str] = []
    while len(lines) < count:
        words = pool[int(rng.integers(len(pool)))].split()
        limit = int(rng.integers(LINE_CHARS[0], LINE_CHARS[1] + 1))
        line: list[str] = []
        for word in words:
            if line and len(" ".join([*line, word])) > limit:
                lines.append(" ".join(line))
                line = []
                limit = int(rng.integers(LINE_CHARS[0], LINE_CHARS[1] + 1))
            line.append(word)
        if line:
            lines.append(" ".join(line))
    return lines[:count]


def _digits(rng: np.random.Generator, count: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, count))


def _number(rng: np.random.Generator) -> str:
    """One number written one of the usual ways."""
    kind = int(rng.integers(12))
    day, month = int(rng.integers(1, 32)), int(rng.integers(1, 13))
    year = int(rng.integers(1800, 2100))
    if kind == 0:  # a count or quantity
        return str(int(rng.integers(0, 10 ** int(rng.integers(1, 5)))))
    if kind == 1:
        return str(year)
    if kind == 2:  # a date: 12/3/1987, 03.12.87, 12-3-1987
        sep = "/.-"[int(rng.integers(3))]
        y = str(year) if rng.random() < 0.5 else f"{year % 100:02d}"
        d, m = (f"{day:02d}", f"{month:02d}") if rng.random() < 0.5 else (str(day), str(month))
        return sep.join((d, m, y))
    if kind == 3:  # a time of day
        return f"{int(rng.integers(0, 24))}:{int(rng.integers(0, 60)):02d}"
    if kind == 4:  # a decimal: a price, a measure
        return f"{int(rng.integers(0, 1000))}.{_digits(rng, int(rng.integers(1, 3)))}"
    if kind == 5:  # thousands with commas
        return f"{int(rng.integers(1, 1000))},{_digits(rng, 3)}"
    if kind == 6:  # a telephone number in groups
        groups = [_digits(rng, int(n)) for n in rng.integers(2, 5, int(rng.integers(2, 4)))]
        return (" " if rng.random() < 0.6 else "-").join(groups)
    if kind == 7:  # a numbered item or reference
        n = str(int(rng.integers(1, 1000)))
        return ("#" + n, "(" + n + ")", "No. " + n, n + ".")[int(rng.integers(4))]
    if kind == 8:  # a range
        a = int(rng.integers(0, 500))
        return f"{a}-{a + int(rng.integers(1, 100))}"
    if kind == 9:  # a fraction or ratio
        return f"{int(rng.integers(1, 20))}{'/:'[int(rng.integers(2))]}{int(rng.integers(1, 20))}"
    return _digits(rng, int(rng.integers(2, 9)))  # a code with leading zeros allowed


def number_text(rng: np.random.Generator, line: str) -> str:
    """A line with numbers, drawn with ``rng``: a bare string of 3 to 12 digits (two in five),
    one to three numbers written the usual ways (three in ten), or ``line`` (a line of prose)
    with a number among its words (the rest)."""
    kind = rng.random()
    if kind < 0.4:
        return _digits(rng, int(rng.integers(3, 13)))
    if kind < 0.7:
        return " ".join(_number(rng) for _ in range(int(rng.integers(1, 4))))
    words = line.split()
    words.insert(int(rng.integers(len(words) + 1)), _number(rng))
    return " ".join(words)


def training_texts(
    root: str | os.PathLike = FORTUNES_DIR, *, seed: int = 0, share: float = NUMBER_SHARE
) -> list[str]:
    """The texts a corpus's training lines are cut from, for a language model: the training
    fortunes, then number lines (:func:`number_text`) in the ``share`` a corpus writes them
    (below 1: the fortunes are always there)."""
    if not 0 <= share < 1:  # NaN too
        raise ValueError(f"number_share={share} must be from 0 to below 1 for the texts")
    pool = fortunes(root)["train"]
    rng = np.random.default_rng([seed, 0x4E])
    # The lines the fortunes make at the mean line length (the middle of LINE_CHARS), and
    # number lines as a share of those and them together, each around one of them.
    lines = text_lines("train", rng, sum(len(t) for t in pool) // sum(LINE_CHARS) * 2, root=root)
    count = round(len(lines) * share / (1 - share))
    if count > len(lines):  # more number lines than the fortunes make lines
        lines += text_lines("train", rng, count - len(lines), root=root)
    return [*pool, *(number_text(rng, line) for line in lines[:count])]
