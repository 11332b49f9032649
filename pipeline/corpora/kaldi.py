"""Kaldi data directories: ``wav.scp``, ``text``, ``utt2spk`` and optional ``segments``.

A Kaldi data directory (as ``utils/validate_data_dir.sh`` knows it) holds::

    wav.scp     <recording-id> <audio file>        (tab or space; the path is the rest of the line)
    text        <utterance-id> <word> <word> ...   (the transcript, as written)
    utt2spk     <utterance-id> <speaker-id>
    segments    <utterance-id> <recording-id> <start-s> <end-s>   (optional)
    spk2utt, spk2gender                            (optional; utt2spk is the one read)

Without ``segments`` each recording is one utterance with the recording's id; with it, each
utterance is the slice ``[start, end)`` of its recording (:attr:`Utterance.offset`). Only the
utterances in ``text`` are read. A relative audio path is looked up against the data directory,
else its parent, else its grandparent, as recipes write them relative to their own folder
(speechocean762's ``train/wav.scp`` names ``WAVE/SPEAKER0001/000010011.flac``, next to
``train/``). Entries that are commands (``sox ... |``) or archive references (``ark:``,
``scp:``, ``foo.ark:123``) are refused, never run.

A folder whose subfolders are data directories (``data/train``, ``data/dev``, ``data/test``) is
a corpus given per split: the folder names give each utterance's split (:func:`kaldi_splits`),
as does the name of a single data directory (``train/``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from pathlib import Path

from lstmrec.features.audio import audio_info
from lstmrec.features.errors import DataError, OnError, report_or_raise
from lstmrec.features.files import regular_file
from lstmrec.manifest import Utterance

KALDI_FILES = ("wav.scp", "text")  # what makes a folder a Kaldi data directory
_ARCHIVE_RE = re.compile(r"^(ark|scp)(,[a-z]+)*:|\.ark:\d+$")  # ark:x.ark, scp,p:x, x.ark:42
# The split a part folder's name gives: train, train_clean_100, dev, dev-clean, test_other, ...
_PART_RE = re.compile(r"^(train|dev|valid|test|eval)(?:[-_.].*)?$", re.IGNORECASE)
_PART_SPLITS = {"train": "train", "dev": "dev", "valid": "dev", "test": "test", "eval": "test"}


def part_split(name: str) -> str | None:
    """The split a corpus part's folder name gives: ``"train"`` (train, train-clean-100),
    ``"dev"`` (dev, dev_clean, valid), ``"test"`` (test, test-other, eval), else ``None``."""
    m = _PART_RE.match(name)
    return None if m is None else _PART_SPLITS[m.group(1).lower()]


def _is_data_dir(path: Path) -> bool:
    return all((path / name).is_file() for name in KALDI_FILES)


def kaldi_data_dirs(root: str | os.PathLike) -> list[Path]:
    """``[root]`` when ``root`` is a Kaldi data directory, else its subfolders that are (sorted
    by name; an empty list when there are none)."""
    root = Path(root)
    if _is_data_dir(root):
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and _is_data_dir(p))


def looks_like_kaldi(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a Kaldi data directory (``wav.scp`` and ``text``) or a folder whose
    subfolders are (one per split)."""
    return bool(kaldi_data_dirs(path))


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, stripped line)`` of each non-blank line of a UTF-8 text file (a
    byte-order mark at its start left out, so it is not part of the first key)."""
    try:
        text = regular_file(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text (byte {e.start})", path) from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield lineno, line.strip()


def _keyed(
    path: Path, on_error: OnError | None, *, fields: int = 0, what: str = "value"
) -> dict[str, tuple]:
    """``{key: (line number, rest)}`` of a Kaldi table (key, then white space, then the rest):
    ``rest`` is the rest of the line, a string, when ``fields`` is 0, else a tuple of exactly
    ``fields`` values.

    A line without its ``what`` (or the wrong number of values), or repeating a key, is reported
    to ``on_error`` and skipped."""
    table: dict[str, tuple] = {}
    for lineno, line in _lines(path):
        key, rest = (line.split(None, 1) + [""])[:2]
        values = rest.split()
        try:
            if not values:
                raise DataError(f"line {lineno}: {key!r} has no {what}", path)
            if fields and len(values) != fields:
                raise DataError(
                    f"line {lineno}: expected '<id>' and {fields} values, got {line!r:.80}", path
                )
            if key in table:
                raise DataError(f"line {lineno}: {key!r} repeats line {table[key][0]}", path)
        except DataError as e:
            report_or_raise(e, on_error)
            continue
        table[key] = (lineno, tuple(values) if fields else rest.strip())
    return table


def _refuse_commands(wav_scp: Path, entries: dict[str, tuple]) -> None:
    """Raise one :class:`DataError` for the first entry that is a command or an archive."""
    for lineno, rest in sorted(entries.values()):
        if rest.endswith("|") or "|" in rest.split() or rest.startswith("|"):
            reason = "a command pipe; convert the audio to files (it is never run)"
        elif _ARCHIVE_RE.search(rest):
            reason = "an archive reference (ark:/scp:); give audio files"
        elif rest == "-":
            reason = "standard input; give an audio file"
        else:
            continue
        raise DataError(f"line {lineno}: {rest!r:.80} is {reason}", wav_scp)


class _Recordings:
    """Audio file and ``(frames, sample rate)`` of each recording, looked up once each."""

    def __init__(self, data_dir: Path, on_error: OnError | None) -> None:
        self.wav_scp = data_dir / "wav.scp"
        self.entries = _keyed(self.wav_scp, on_error)
        _refuse_commands(self.wav_scp, self.entries)
        self.bases = (data_dir, data_dir.parent, data_dir.parent.parent)
        self.found: dict[str, tuple[str, int, int] | None] = {}
        self.on_error = on_error

    def __contains__(self, rec: str) -> bool:
        return rec in self.entries

    def get(self, rec: str) -> tuple[str, int, int] | None:
        """``(path, frames, rate)``; ``None`` (reported the first time) for a missing or
        unreadable file."""
        if rec not in self.found:
            try:
                self.found[rec] = self._look_up(rec)
            except DataError as e:
                self.found[rec] = None
                report_or_raise(e, self.on_error)
        return self.found[rec]

    def _look_up(self, rec: str) -> tuple[str, int, int]:
        lineno, name = self.entries[rec]
        candidates = [Path(name)] if os.path.isabs(name) else [b / name for b in self.bases]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            where = "" if os.path.isabs(name) else " in the data dir, its parent or its grandparent"
            raise DataError(f"line {lineno}: audio file {name!r} not found{where}", self.wav_scp)
        frames, rate, _ = audio_info(path)
        if frames == 0:
            raise DataError("empty audio (0 samples)", path)
        return os.path.abspath(path), frames, rate


def _segment(rec_info: tuple[str, int, int], values: tuple, where: str, path: Path) -> tuple:
    """``(offset, duration)`` seconds of a ``segments`` entry, checked against its recording."""
    try:
        start, end = float(values[1]), float(values[2])
    except ValueError:
        raise DataError(f"{where}: start and end must be seconds: {values!r}", path) from None
    _, frames, rate = rec_info
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0:
        raise DataError(f"{where}: segment {start:g}-{end:g} s: a negative or infinite time", path)
    if end <= start:
        raise DataError(f"{where}: segment {start:g}-{end:g} s: end <= start", path)
    if round(min(end * rate, frames + 1)) > frames:  # (1e308 s: past the end, no overflow)
        length = f"its recording {values[0]!r} lasts {frames / rate:g} s"
        raise DataError(f"{where}: segment {start:g}-{end:g} s ends past the end ({length})", path)
    return start, end - start


def _utterance(
    utt_id: str, text: tuple[int, str], data_dir: Path, recordings: _Recordings, tables: dict
) -> Utterance | None:
    """One utterance of a data dir (``None`` when its recording was already reported)."""
    lineno, words = text
    where = f"line {lineno}: utterance {utt_id!r}"
    if utt_id not in tables["utt2spk"]:
        raise DataError(f"{where} has no speaker in utt2spk", data_dir / "text")
    segments = tables["segments"]
    if segments is None:
        rec, seg = utt_id, None
    elif utt_id not in segments:
        raise DataError(f"{where} has no entry in segments", data_dir / "text")
    else:
        seg = segments[utt_id]
        rec = seg[1][0]
    if rec not in recordings:
        if seg is None:
            raise DataError(f"{where} has no wav.scp entry", data_dir / "text")
        raise DataError(
            f"line {seg[0]}: recording {rec!r} has no wav.scp entry", data_dir / "segments"
        )
    info = recordings.get(rec)
    if info is None:
        return None
    offset, duration = None, info[1] / info[2]
    if seg is not None:
        offset, duration = _segment(info, seg[1], f"line {seg[0]}", data_dir / "segments")
    return Utterance(
        id=utt_id,
        path=info[0],
        speaker=tables["utt2spk"][utt_id][1][0],
        text=" ".join(words.split()),
        duration=duration,
        offset=offset,
    )


def _read_data_dir(data_dir: Path, on_error: OnError | None) -> list[Utterance]:
    """The utterances of one Kaldi data directory, sorted by id."""
    recordings = _Recordings(data_dir, on_error)
    texts = _keyed(data_dir / "text", on_error, what="transcript")
    tables = {"utt2spk": _keyed(data_dir / "utt2spk", on_error, fields=1), "segments": None}
    if (data_dir / "segments").is_file():
        tables["segments"] = _keyed(data_dir / "segments", on_error, fields=3)
    utts = []
    for utt_id in sorted(texts):
        try:
            utt = _utterance(utt_id, texts[utt_id], data_dir, recordings, tables)
        except DataError as e:
            report_or_raise(e, on_error)
            continue
        if utt is not None:
            utts.append(utt)
    return utts


def find_kaldi(root: str | os.PathLike, *, on_error: OnError | None = None) -> list[Utterance]:
    """The utterances of a Kaldi data directory, or of every data directory below ``root``
    (one per split, see :func:`kaldi_splits`); sorted by id.

    Each utterance of ``text`` becomes an :class:`Utterance` with the Kaldi utterance id, the
    speaker of ``utt2spk``, ``text`` = its words as written, ``phones=None``, ``path`` = the
    audio file (absolute), ``duration`` in seconds (the recording's, from its header, or the
    segment's) and ``offset`` = the segment's start in seconds (``None`` without ``segments``).

    Raises :class:`DataError` when ``root`` holds no data directory, a table is missing or not
    UTF-8, or ``wav.scp`` has a command or archive entry (naming the line; nothing is run). Bad
    entries (a missing or unreadable audio file, an utterance without wav.scp entry, segment or
    speaker, a segment that is empty or ends past its recording, an empty transcript, a
    malformed or repeated line) are raised too, or passed to ``on_error`` and skipped.
    """
    path = Path(os.path.abspath(root))
    dirs = kaldi_data_dirs(path)
    if not dirs:
        raise DataError(
            "not a Kaldi data directory (no wav.scp and text) nor a folder of them", path
        )
    utts: list[Utterance] = []
    seen: dict[str, Path] = {}
    for data_dir in dirs:
        for utt in _read_data_dir(data_dir, on_error):
            if utt.id in seen:
                err = f"utterance id {utt.id!r} is also in {seen[utt.id]}"
                report_or_raise(DataError(err, data_dir / "text"), on_error)
                continue
            seen[utt.id] = data_dir
            utts.append(utt)
    return sorted(utts, key=lambda u: u.id)


def kaldi_splits(root: str | os.PathLike) -> dict[str, str]:
    """``{utterance id: split}`` from the names of the Kaldi data directories at ``root`` (see
    :func:`part_split`: train; dev; test, which counts as core-test and full-test): of each
    subfolder, or of ``root`` itself when it is a data directory (``.../train``). Utterances of a
    directory with another name have no split. Only ``text``'s first column is read."""
    splits: dict[str, str] = {}
    for data_dir in kaldi_data_dirs(Path(os.path.abspath(root))):
        split = part_split(data_dir.name)
        if split is not None:
            for _, line in _lines(data_dir / "text"):
                splits.setdefault(line.split(None, 1)[0], split)
    return splits
