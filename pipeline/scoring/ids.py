"""The one id scheme of every output that names an utterance, and the speakers behind the ids.

An utterance read from a corpus (``evaluate``, ``refs``, ``transcribe --data``) is named by its
utterance id: TIMIT's ``faem0_si1392``, a manifest's ``"id"``, IAM-OnDB's ``a01-000u-01``. A file
given by path (``transcribe`` and ``recognize`` with files or folders) is named by its path
relative to the deepest folder holding all the inputs, extension kept, ``/`` between folders:
``DR2/FAEM0/SA1.WAV`` for two speakers' ``SA1.WAV``, ``SA1.WAV`` for one file. A file that holds
several ink samples gives ``<file id>#<sample id>`` for each. White space, ``%`` and other
characters that would break a text, CTM or STM line are written as ``%XX`` (their UTF-8 bytes in
hexadecimal), so every id is one field and two different names never give the same id.

Speakers never come from an id's shape: they are the corpus's (TIMIT folders, IAM-OnDB writers,
a manifest's ``speaker``) or a Kaldi ``utt2spk`` file's; where none is known an utterance counts
under :data:`UNKNOWN_SPEAKER`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from lstmrec.features.errors import DataError
from lstmrec.features.files import regular_file

UNKNOWN_SPEAKER = "unknown"  # the speaker of an utterance no corpus or utt2spk file names
STDIN = "-"  # the input name that means standard input
STDIN_ID = "stdin"  # the id of what was read from standard input


def safe_id(name: str) -> str:
    """``name`` as one field of a text, CTM or STM line: ``%``, white space and control
    characters written as ``%XX`` per UTF-8 byte (``"a b"`` -> ``"a%20b"``); other characters
    as they are. Different names give different ids."""
    out = []
    for ch in name:
        if ch == "%" or ch.isspace() or not ch.isprintable():
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape")))
        else:
            out.append(ch)
    return "".join(out)


def file_ids(paths: Sequence[str | os.PathLike]) -> dict[str, str]:
    """``{path: id}`` for input files: each path relative to the deepest folder that holds all
    of them, with ``/`` separators, through :func:`safe_id`. Standard input (``-``) is
    ``stdin``. Raises :class:`DataError` if two paths give one id (the same file twice)."""
    files = [str(p) for p in paths if str(p) != STDIN]
    absolute = [os.path.abspath(p) for p in files]
    root = os.path.commonpath([os.path.dirname(p) for p in absolute]) if absolute else ""
    ids = {STDIN: STDIN_ID} if len(files) < len(paths) else {}
    seen: dict[str, str] = {}
    for path, full in zip(files, absolute, strict=True):
        rel = Path(os.path.relpath(full, root)).as_posix()
        fid = safe_id(rel)
        if fid in seen and seen[fid] != path:
            raise DataError(f"given twice (also as {seen[fid]})", path)
        seen[fid] = path
        ids[path] = fid
    return ids


def sample_id(file_id: str, sample: str, samples_in_file: int) -> str:
    """The id of one ink sample: the file's id when the file holds one sample, else
    ``<file id>#<sample id>``."""
    return file_id if samples_in_file == 1 else f"{file_id}#{safe_id(sample)}"


def read_utt2spk(path: str | os.PathLike) -> dict[str, str]:
    """A Kaldi ``utt2spk`` file: ``<utterance id> <speaker id>`` per line.

    Raises :class:`DataError` naming the file and line for a missing file, a line without
    exactly two fields, or an id given twice."""
    path = regular_file(path, missing="utt2spk file not found")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # without a byte-order mark
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text (byte {e.start})", path) from None
    out: dict[str, str] = {}
    for lineno, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise DataError(f"line {lineno}: expected '<utterance id> <speaker id>'", path)
        if fields[0] in out:
            raise DataError(f"line {lineno}: utterance {fields[0]!r} given twice", path)
        out[fields[0]] = fields[1]
    return out


def speakers_of(ids: Iterable[str], utt2spk: Mapping[str, str] | None) -> dict[str, str]:
    """``{id: speaker}``: the ``utt2spk`` entry, else :data:`UNKNOWN_SPEAKER`."""
    utt2spk = utt2spk or {}
    return {u: utt2spk.get(u, UNKNOWN_SPEAKER) for u in ids}
