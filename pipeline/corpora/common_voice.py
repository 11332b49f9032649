"""Common Voice release folders: TSV tables of clips, ``clips/*.mp3``.

A language folder of a Common Voice release (``cv-corpus-<version>/<lang>/``) holds::

    clips/common_voice_en_123.mp3     the clips (MP3; libsndfile 1.1 and later decodes them)
    train.tsv, dev.tsv, test.tsv      the release's own split: one clip a row
    validated.tsv                     every validated clip (train/dev/test are a part of it)
    invalidated.tsv, other.tsv, ...   not read

Rows are read by the header's column names: ``client_id`` (the speaker), ``path`` (the clip's
file name under ``clips/``) and ``sentence`` (the transcript); other columns are ignored. The
utterance id is the clip's stem (``common_voice_en_123``), the speaker a 16-character prefix of
the client id (a 128-digit hash; a client id that is not one is hashed first), the text the
sentence as written. With ``train.tsv``/``dev.tsv``/``test.tsv`` those give the split
(:func:`common_voice_splits`); with only ``validated.tsv``, speaker lists do.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from lstmrec.features.audio import audio_info
from lstmrec.features.errors import DataError, OnError, report_or_raise
from lstmrec.manifest import Utterance

SPLIT_TABLES = {"train.tsv": "train", "dev.tsv": "dev", "test.tsv": "test"}
ALL_TABLE = "validated.tsv"  # read when there is none of SPLIT_TABLES
COLUMNS = ("client_id", "path", "sentence")
SPEAKER_CHARS = 16
_HEX_RE = re.compile(r"[0-9a-f]+")


def _tables(root: Path) -> list[Path]:
    """The TSV files that list the corpus: those of ``SPLIT_TABLES`` present, else
    ``validated.tsv`` (a list of one), else none."""
    tables = [root / name for name in SPLIT_TABLES if (root / name).is_file()]
    if not tables and (root / ALL_TABLE).is_file():
        tables = [root / ALL_TABLE]
    return tables


def looks_like_common_voice(root: str | os.PathLike) -> bool:
    """Whether ``root`` has a ``clips/`` folder and ``train``/``dev``/``test``/``validated.tsv``."""
    root = Path(root)
    return (root / "clips").is_dir() and bool(_tables(root))


def speaker_of(client_id: str) -> str:
    """A short stable speaker id: the first ``SPEAKER_CHARS`` characters of a hex client id (as
    Common Voice's are), else of the SHA-256 of the client id; a short id is kept whole."""
    if len(client_id) <= SPEAKER_CHARS:
        return client_id
    if not _HEX_RE.fullmatch(client_id):
        client_id = hashlib.sha256(client_id.encode()).hexdigest()
    return client_id[:SPEAKER_CHARS]


def _rows(table: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line number, {column: value})`` of each row of a Common Voice TSV file.

    Raises :class:`DataError` naming the table for an unreadable file or a missing column."""
    try:
        text = table.read_text(encoding="utf-8-sig")  # without a byte-order mark
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read as UTF-8 text ({e})", table) from None
    # Sentences hold quotes of their own: the fields are tab-separated, never quoted.
    reader = csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, [])
    for column in COLUMNS:
        if column not in header:
            raise DataError(f"no {column!r} column in the header ({len(header)} columns)", table)
    where = {column: header.index(column) for column in COLUMNS}
    for lineno, fields in enumerate(reader, 2):
        if fields:
            yield lineno, {c: fields[i] if i < len(fields) else "" for c, i in where.items()}


def _utterance(table: Path, lineno: int, row: dict[str, str]) -> Utterance:
    """One clip of a table, or :class:`DataError` naming the table's line or the clip."""
    where = f"line {lineno}"
    name, sentence, client = row["path"].strip(), row["sentence"].strip(), row["client_id"]
    if not name or not client.strip():
        raise DataError(f"{where}: no clip path or no client_id", table)
    if not sentence:
        raise DataError(f"{where}: clip {name!r} has no sentence", table)
    clip = table.parent / "clips" / name
    if not clip.is_file() and not clip.suffix:  # the first releases named clips without .mp3
        clip = clip.with_name(f"{name}.mp3")
    if not clip.is_file():
        raise DataError(f"{where}: no clip {name!r} in clips/", table)
    frames, rate, _ = audio_info(clip)  # a clip that does not decode: DataError naming it
    if frames == 0:
        raise DataError("empty audio (0 samples)", clip)
    return Utterance(
        id=Path(name).stem,
        path=str(clip),
        speaker=speaker_of(client.strip()),
        text=" ".join(sentence.split()),
        duration=frames / rate,
    )


def find_common_voice(
    root: str | os.PathLike, *, on_error: OnError | None = None
) -> list[Utterance]:
    """The clips of a Common Voice language folder, in table order (train, dev, test; or
    validated): ``text`` the sentence, ``phones=None``, ``duration`` in seconds from the clip's
    header, ``path`` absolute. Every clip's header is decoded once.

    Raises :class:`DataError` when ``root`` has no table; for a table that cannot be read or
    lacks a column (``client_id``, ``path``, ``sentence``), naming it and the column, and for
    each bad row (no sentence, no client id, a missing clip, a clip that does not decode, a clip
    listed twice), unless ``on_error`` is given: then each is passed to it and that table or row
    skipped.
    """
    path = Path(os.path.abspath(root))
    tables = _tables(path) if path.is_dir() else []
    if not tables:
        names = ", ".join([*SPLIT_TABLES, ALL_TABLE])
        raise DataError(f"not a Common Voice folder (no {names})", path)
    utts: list[Utterance] = []
    seen: dict[str, str] = {}
    for table in tables:
        try:
            rows = list(_rows(table))
        except DataError as e:  # the table as a whole
            report_or_raise(e, on_error)
            continue
        for lineno, row in rows:
            try:
                utt = _utterance(table, lineno, row)
                if utt.id in seen:
                    also = f"line {lineno}: clip {utt.id!r} is also in {seen[utt.id]}"
                    raise DataError(also, table)
            except DataError as e:
                report_or_raise(e, on_error)
                continue
            seen[utt.id] = table.name
            utts.append(utt)
    return utts


def common_voice_splits(root: str | os.PathLike) -> dict[str, str]:
    """``{utterance id: split}`` from ``train.tsv``, ``dev.tsv`` and ``test.tsv`` ("test"
    counts as core-test and full-test); empty for a folder with only ``validated.tsv``. A clip
    in two tables keeps the first (train, dev, test)."""
    root = Path(root)
    splits: dict[str, str] = {}
    for table in _tables(root):
        split = SPLIT_TABLES.get(table.name)
        if split is None:
            continue
        try:
            rows = list(_rows(table))
        except DataError:  # reported by find_common_voice; its clips have no split
            continue
        for _, row in rows:
            if row["path"].strip():
                splits.setdefault(Path(row["path"].strip()).stem, split)
    return splits
