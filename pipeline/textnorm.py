"""Transcription conventions of a corpus, undone by one switchable normalisation
(``[data] text_normalization``) that training targets, scoring references and language-model
text all go through (:func:`normalize_text`, called by :mod:`lstmrec.targets` and
:func:`lstmrec.inference.lm_files.corpus_sentences`).

``"iam_ondb"``: the conventions of IAM-OnDB's ``CSR:`` transcriptions, rule by rule:

1. a placeholder instead of a transcription (``Please Enter Transcription here``, any case and
   spacing, trailing punctuation allowed): the line has no transcription and is left out;
2. ``#``, the marker of a word the transcribers could not read: nothing can say what the ink
   holds there, so the line is left out (dropping only the marker would teach the model to
   write nothing for a written word, and score a correct reading as an insertion);
3. a run of three or more ``%`` (struck-out or garbled writing): removed, with the white space
   around it collapsed; the ink there is not part of the text. One or two ``%`` are kept (a
   percent sign). A line with nothing else is left out;
4. white space before ``.``, ``,``, ``;``, ``:``, ``!``, ``?`` and ``'`` is removed:
   ``Mr . Smith`` becomes ``Mr. Smith``, ``don 't`` becomes ``don't``. Most of IAM-OnDB's lines
   attach punctuation (4,981 training lines) and some detach it (465): without this rule the
   model would learn both spellings and be scored against whichever a line happens to use.

A line left out raises :class:`lstmrec.features.errors.CorpusGap`: commands skip it, list it
once with the corpus's other known gaps and do not count it as a failure.

``"none"``: the text as the corpus gives it. ``"auto"`` (the recipe default) is ``"iam_ondb"``
for ink recipes and ``"none"`` for speech (:func:`resolve_normalization`): the rules only
touch IAM-OnDB's conventions, which speech transcripts do not follow, and on text without them
(the synthetic handwriting) they change nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from lstmrec.features.errors import CorpusGap
from lstmrec.features.inkfiles import INK_EXTENSIONS
from lstmrec.manifest import Utterance

TEXT_NORMALIZATIONS = ("auto", "iam_ondb", "none")  # values of [data] text_normalization
# CorpusGap kinds, as the gap summary of a command words them
PLACEHOLDER = "line(s) have a placeholder instead of a transcription"
UNREADABLE = "line(s) have an unreadable word (#)"
ONLY_DELETED = "line(s) hold only struck-out text (%%%)"

_PLACEHOLDER_RE = re.compile(r"please\s+enter\s+(?:the\s+)?transcription\s+here\W*", re.IGNORECASE)
_DELETED_RE = re.compile(r"%{3,}")
_SPACED_PUNCT_RE = re.compile(r"\s+(?=[.,;:!?'])")


def resolve_normalization(setting: str, *, ink: bool) -> str:
    """The normalisation ``setting`` (one of ``TEXT_NORMALIZATIONS``) stands for: ``"auto"`` is
    ``"iam_ondb"`` for an ink model (``ink``) and ``"none"`` for speech."""
    if setting not in TEXT_NORMALIZATIONS:
        raise ValueError(
            f"text_normalization={setting!r} must be one of {', '.join(TEXT_NORMALIZATIONS)}"
        )
    if setting == "auto":
        return "iam_ondb" if ink else "none"
    return setting


def resolve_for_utterances(setting: str, utts: Sequence[Utterance]) -> str:
    """:func:`resolve_normalization` for text without a model (``lstmrec lm``, ``lstmrec
    refs``): ``"auto"`` is ``"iam_ondb"`` when every utterance is an ink file."""
    ink = bool(utts) and all(Path(u.path).suffix.lower() in INK_EXTENSIONS for u in utts)
    return resolve_normalization(setting, ink=ink)


def normalize_text(
    text: str,
    normalization: str,
    *,
    name: str = "text",
    path: str | os.PathLike | None = None,
) -> str:
    """``text`` under ``normalization`` (``"iam_ondb"`` or ``"none"``; see the module docstring).

    ``name`` (e.g. ``"utterance a01-000u-01"``) and ``path`` name the line in the
    :class:`CorpusGap` raised for a line the rules leave out. ``"none"`` returns ``text`` as it
    is; ``"iam_ondb"`` returns it with runs of white space collapsed to one space.
    """
    if normalization == "none":
        return text
    if normalization != "iam_ondb":
        raise ValueError(f"normalization={normalization!r} must be 'iam_ondb' or 'none'")
    words = " ".join(text.split())
    if _PLACEHOLDER_RE.fullmatch(words):
        raise CorpusGap(f"{name}: placeholder text {words!r}", path, kind=PLACEHOLDER)
    if "#" in words:
        raise CorpusGap(f"{name}: unreadable word (#) in {words!r}", path, kind=UNREADABLE)
    kept = " ".join(_DELETED_RE.sub(" ", words).split())
    if not kept and words:
        raise CorpusGap(f"{name}: only struck-out text {words!r}", path, kind=ONLY_DELETED)
    return _SPACED_PUNCT_RE.sub("", kept)
