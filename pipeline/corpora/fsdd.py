"""The Free Spoken Digit Dataset (FSDD): spoken digits with phone targets from a lexicon.

FSDD holds ``recordings/<digit>_<speaker>_<index>.wav`` (mono, 8 kHz, trimmed to the word), with
only the digit as a label. Phone targets come from the CMUdict pronunciations shipped in
``pipeline/resources/digits.lex``: each word's first pronunciation (zero is "z ih r ow", not the
alternative "z iy r ow"), folded onto TIMIT's 39-phone set so FSDD and TIMIT share one label
inventory. CMUdict's phones are all TIMIT-61 labels; of the digits' phones only ``ao`` (four)
changes, to ``aa``. The recordings are trimmed, so no ``sil`` is added around the word.

Utterance ids are ``<speaker>_<digit>_<index>`` (``jackson_7_32``), so a speaker's recordings
sort together, as TIMIT's ``<speaker>_<utt>`` ids do.
"""

from __future__ import annotations

import importlib.resources
import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from lstmrec.features.audio import audio_info
from lstmrec.features.errors import DataError, OnError, report_or_raise
from lstmrec.manifest import Utterance
from lstmrec.phones import fold

FSDD_SAMPLE_RATE = 8000  # Hz, every FSDD recording
LEXICON_RESOURCE = "digits.lex"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TARGET_PHONE_SET = 39  # the phone set FSDD utterances are labelled in

_NAME_RE = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav")  # 7_jackson_32.wav
_ID_RE = re.compile(r"([a-z]+)_(\d)_(\d+)")  # jackson_7_32


def read_lexicon(text: str, *, source: str | None = None) -> dict[str, list[tuple[str, ...]]]:
    """Parse a lexicon: ``{word: [pronunciation, ...]}`` in file order.

    Each non-comment line is ``<word> <phone> ...``; ``#`` starts a comment line. Raises
    :class:`DataError` naming ``source`` and the line for a word without phones.
    """
    lexicon: dict[str, list[tuple[str, ...]]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) < 2:
            raise DataError(f"line {lineno}: word {fields[0]!r} has no phones", source)
        lexicon.setdefault(fields[0], []).append(tuple(fields[1:]))
    return lexicon


def digit_lexicon() -> dict[str, list[tuple[str, ...]]]:
    """The shipped CMUdict pronunciations of zero..nine (lower-case ARPAbet, no stress)."""
    text = (importlib.resources.files("lstmrec") / "resources" / LEXICON_RESOURCE).read_text(
        encoding="utf-8"
    )
    return read_lexicon(text, source=LEXICON_RESOURCE)


def digit_phones() -> list[tuple[str, ...]]:
    """Training targets of the digits 0..9: each word's first pronunciation, 39-phone set."""
    lexicon = digit_lexicon()
    missing = [w for w in DIGIT_WORDS if w not in lexicon]
    if missing:
        raise DataError(f"no pronunciation for {', '.join(missing)}", LEXICON_RESOURCE)
    return [
        tuple(fold(lexicon[w][0], TARGET_PHONE_SET, source=LEXICON_RESOURCE)) for w in DIGIT_WORDS
    ]


def _recordings_dir(root: str | os.PathLike) -> Path:
    """``root/recordings`` when it exists (the FSDD checkout), else ``root`` itself."""
    path = Path(os.path.abspath(root))  # absolute and without "..", for manifests and messages
    if not path.is_dir():
        raise DataError("no such directory", path)
    return path / "recordings" if (path / "recordings").is_dir() else path


def find_fsdd(root: str | os.PathLike, *, on_error: OnError | None = None) -> list[Utterance]:
    """Every FSDD recording under ``root`` (the FSDD folder or its ``recordings/``).

    Returns utterances sorted by speaker, digit and index, each with ``phones`` (39-phone set,
    see the module docstring), ``text`` (the digit word) and ``duration`` (from the header).
    Files other than ``*.wav`` (and hidden ones) are ignored. Raises :class:`DataError` for a
    missing folder, a folder without recordings, and for the first ``.wav`` whose name is not
    ``<digit>_<speaker>_<index>.wav`` or whose header cannot be read, unless ``on_error`` is
    given: then each error is passed to it and that file skipped.
    """
    folder = _recordings_dir(root)
    targets = digit_phones()
    found: list[tuple[tuple[str, int, int], Utterance]] = []
    # Hidden files (macOS "._7_jackson_32.wav" resource forks) are not recordings.
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".wav") and n[0] != ".")
    if not names:
        raise DataError("no FSDD recordings found (expected <digit>_<speaker>_<index>.wav)", folder)
    for name in names:
        path = folder / name
        try:
            match = _NAME_RE.fullmatch(name)
            if match is None:
                raise DataError("not an FSDD name (expected <digit>_<speaker>_<index>.wav)", path)
            digit, speaker, index = int(match[1]), match[2], int(match[3])
            frames, rate, _ = audio_info(path)
        except DataError as e:
            report_or_raise(e, on_error)
            continue
        utt = Utterance(
            id=f"{speaker}_{digit}_{index}",
            path=str(path),
            speaker=speaker,
            phones=targets[digit],
            text=DIGIT_WORDS[digit],
            duration=frames / rate,
        )
        found.append(((speaker, digit, index), utt))
    return [utt for _, utt in sorted(found, key=lambda kv: kv[0])]


def fsdd_key(utt: Utterance) -> tuple[str, int, int]:
    """``(speaker, digit, index)`` of an FSDD utterance, from its id."""
    match = _ID_RE.fullmatch(utt.id)
    if match is None:
        raise DataError(f"utterance id {utt.id!r} is not <speaker>_<digit>_<index>", utt.path)
    return match[1], int(match[2]), int(match[3])


def select_fsdd(
    utts: Sequence[Utterance], *, test_speakers: Collection[str], per_digit: int | None = None
) -> tuple[list[Utterance], list[Utterance]]:
    """Split FSDD by speaker: ``(train, test)``, each in input order.

    ``test_speakers`` are held out whole. With ``per_digit``, only the recordings with the
    ``per_digit`` lowest indices of each digit and speaker are kept (a fixed, reproducible
    subset). Raises ``ValueError`` for a test speaker not in ``utts`` (a misspelt name would
    otherwise leave the test set empty) and for ``per_digit`` < 1.
    """
    if per_digit is not None and per_digit < 1:
        raise ValueError(f"per_digit={per_digit} must be >= 1 (or None for all)")
    speakers = {u.speaker for u in utts}
    unknown = sorted(set(test_speakers) - speakers)
    if unknown:
        raise ValueError(
            f"test speaker(s) {', '.join(unknown)} not in FSDD (speakers: "
            f"{', '.join(sorted(speakers))})"
        )
    keep = utts
    if per_digit is not None:
        by_group: dict[tuple[str, int], list[int]] = {}
        for utt in utts:
            speaker, digit, index = fsdd_key(utt)
            by_group.setdefault((speaker, digit), []).append(index)
        kept = {g: set(sorted(ix)[:per_digit]) for g, ix in by_group.items()}
        keep = [u for u in utts if (k := fsdd_key(u))[2] in kept[k[:2]]]
    test = set(test_speakers)
    return [u for u in keep if u.speaker not in test], [u for u in keep if u.speaker in test]
