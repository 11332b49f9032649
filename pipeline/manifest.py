"""The manifest: the contract between data preparation and training.

A manifest is a list of :class:`Utterance` records, stored as JSON Lines (one object per line).
Readers of corpora produce manifests; training, evaluation and feature extraction consume them and
never walk a corpus directory themselves.

The same record serves both modalities: for speech, ``path`` is the recording; for on-line
handwriting it is the ink file (any format ``lstmrec.features.inkfiles.read_ink_file`` reads)
and ``speaker`` is the writer. In the JSON record the path is stored under ``"audio"``; on
reading, the key ``"ink"`` is accepted in its place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from lstmrec.features.errors import DataError
from lstmrec.features.files import atomic_open, regular_file

Seconds = float


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One labelled (or unlabelled) recording.

    Attributes:
        id: unique utterance id, e.g. ``"fvmh0_sx206"`` (lower case for TIMIT, Kaldi style).
        path: path of the signal file: audio (any format libsndfile reads, NIST SPHERE
            included) or ink (``lstmrec.features.inkfiles``).
        speaker: speaker id (lower case for TIMIT, e.g. ``"fvmh0"``), or the writer of ink.
        phones: phone labels in order (TIMIT 61-phone set for TIMIT), or ``None``.
        phone_times: ``(start, end)`` in seconds for each phone, or ``None``.
        text: orthographic transcript, or ``None``.
        duration: length of the audio in seconds, or ``None`` when unknown; with ``offset``, the
            length of the slice.
        offset: where the utterance starts inside its recording, in seconds (a Kaldi
            ``segments`` entry), or ``None`` for the whole file; the utterance is then the
            slice ``[offset, offset + duration)``.
    """

    id: str
    path: str
    speaker: str
    phones: tuple[str, ...] | None = None
    phone_times: tuple[tuple[Seconds, Seconds], ...] | None = None
    text: str | None = None
    duration: Seconds | None = None
    offset: Seconds | None = None

    def to_dict(self) -> dict:
        """The JSON record (the path under its manifest key, ``"audio"``)."""
        d = dataclasses.asdict(self)
        return {
            ("audio" if k == "path" else k): (list(v) if isinstance(v, tuple) else v)
            for k, v in d.items()
            if v is not None
        }

    @classmethod
    def from_dict(cls, d: dict, *, source: str | os.PathLike | None = None) -> Utterance:
        """Build from a JSON object; ``source`` names the manifest in error messages."""
        if "audio" not in d and "ink" in d:  # ink manifests may name the signal file "ink"
            d = {**d, "audio": d["ink"]}
        missing = [k for k in ("id", "audio") if k not in d]
        if missing:
            raise DataError(f"manifest entry lacks {', '.join(missing)}: {d!r:.120}", source)
        phones = d.get("phones")
        if isinstance(phones, str):
            phones = phones.split()
        times = d.get("phone_times")
        try:
            return cls(
                id=str(d["id"]),
                path=str(d["audio"]),
                speaker=str(d.get("speaker", d["id"])),
                phones=None if phones is None else tuple(str(p) for p in _listed(phones)),
                phone_times=None if times is None else _times(times),
                text=None if d.get("text") is None else str(d["text"]),
                duration=None if d.get("duration") is None else _seconds(d["duration"]),
                offset=None if d.get("offset") is None else _offset(d["offset"]),
            )
        except (TypeError, ValueError, OverflowError) as e:
            raise DataError(f"manifest entry {d['id']!r:.60}: {e}", source) from None


def _listed(value) -> list:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r:.40}")
    return value


def _seconds(value) -> float:
    """A finite number of seconds (a JSON number, or a string of one; not a boolean)."""
    seconds = float(value) if isinstance(value, int | float | str) else math.nan
    if isinstance(value, bool) or not math.isfinite(seconds):
        raise ValueError(f"{value!r:.40} is not a finite number of seconds")
    return seconds


def _offset(value) -> float:
    """A start inside a recording: a finite number of seconds, not negative."""
    seconds = _seconds(value)
    if seconds < 0:
        raise ValueError(f"offset {value!r:.40} is negative")
    return seconds


def _times(value) -> tuple[tuple[Seconds, Seconds], ...]:
    """``phone_times``: a list of ``[start, end]`` pairs of seconds."""
    pairs = []
    for pair in _listed(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"phone_times must be [start, end] pairs, got {pair!r:.40}")
        pairs.append((_seconds(pair[0]), _seconds(pair[1])))
    return tuple(pairs)


def write_manifest(utterances: Iterable[Utterance], path: str | os.PathLike) -> None:
    """Write a JSONL manifest atomically (temporary name, then rename)."""
    with atomic_open(path, "w") as f:
        for utt in utterances:
            f.write(json.dumps(utt.to_dict(), ensure_ascii=False) + "\n")


def manifest_hash(utterances: Iterable[Utterance]) -> str:
    """Hash of a list of utterances (ids, paths, speakers and labels), as a bundle's
    ``summary.json`` records its training set's (``data_hash``)."""
    return _digest(utt.to_dict() for utt in utterances)


def corpus_hash(utterances: Iterable[Utterance]) -> str:
    """Hash of a list of utterances that stays the same when their corpus is moved or reached
    by another path: as :func:`manifest_hash`, but with each signal file's name for its path.
    A bundle's ``summary.json`` records its whole training split's (``split_hash``), so that
    the corpus it was trained on is known again on another machine."""
    return _digest(
        {**d, "audio": os.path.basename(d["audio"])} for d in (utt.to_dict() for utt in utterances)
    )


def _digest(records: Iterable[dict]) -> str:
    """The first 16 hex digits of the SHA-256 of the records' sorted-key JSON, one after another."""
    h = hashlib.sha256()
    for record in records:
        h.update(json.dumps(record, sort_keys=True).encode())
    return h.hexdigest()[:16]


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSON Lines file.

    A byte-order mark at the start (an editor's) is left out. Raises :class:`DataError` naming
    the file (and line) when it is missing, not UTF-8, or has a line that is not a JSON object.
    """
    path = regular_file(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # without a byte-order mark
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text (byte {e.start})", path) from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"line {lineno}: not JSON ({e.msg})", path) from None
        except (ValueError, RecursionError) as e:  # a huge integer, deep nesting
            raise DataError(f"line {lineno}: unusable JSON ({type(e).__name__})", path) from None
        if not isinstance(d, dict):
            raise DataError(f"line {lineno}: expected a JSON object", path)
        yield lineno, d


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Read a JSONL manifest; relative audio paths are resolved against the manifest's folder,
    into absolute paths (as the corpus readers give them), so that a manifest written from
    these utterances elsewhere (``lstmrec prepare --out``) still finds the files.

    An id given twice is a :class:`DataError` naming both lines: features, hypotheses and
    references are keyed by id, so one of the two would silently stand for the other.
    """
    path = Path(path)
    utts = []
    first_line: dict[str, int] = {}
    for lineno, d in read_jsonl(path):
        utt = Utterance.from_dict(d, source=f"{path}:{lineno}")
        if utt.id in first_line:
            raise DataError(
                f"line {lineno}: id {utt.id!r:.60} is also on line {first_line[utt.id]}; "
                "ids must be unique",
                path,
            )
        first_line[utt.id] = lineno
        if not os.path.isabs(utt.path):
            utt = dataclasses.replace(utt, path=str(path.parent.absolute() / utt.path))
        utts.append(utt)
    return utts
