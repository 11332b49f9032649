"""LibriSpeech trees: ``<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` beside FLAC files.

As distributed (``LibriSpeech/<part>/...`` once unpacked)::

    train-clean-100/103/1240/103-1240.trans.txt   one line per utterance: <utt-id> <WORDS>
    train-clean-100/103/1240/103-1240-0000.flac   the utterance's audio (16 kHz)

``root`` may be a part (``dev-clean``), a folder of parts (``LibriSpeech``) or the folder that
holds ``LibriSpeech/``. Utterance ids are LibriSpeech's (``103-1240-0000``), the speaker is the
speaker folder, the text the transcript's words as written. The part folder's name gives the
split (train-* train, dev-* dev, test-* test; see :func:`lstmrec.corpora.kaldi.part_split`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from lstmrec.corpora.kaldi import part_split
from lstmrec.features.audio import audio_info
from lstmrec.features.errors import DataError, OnError, report_or_raise
from lstmrec.features.files import regular_file
from lstmrec.manifest import Utterance

TRANS_SUFFIX = ".trans.txt"
# Where transcripts lie below root: in a part, in a folder of parts, below LibriSpeech/.
_DEPTHS = ("*/*/*", "*/*/*/*", "LibriSpeech/*/*/*/*")


def _transcripts(root: Path) -> Iterator[Path]:
    """The ``<speaker>-<chapter>.trans.txt`` files under ``root`` (at a LibriSpeech depth and
    named after their folders), sorted."""
    for pattern in _DEPTHS:
        for path in sorted(root.glob(pattern + TRANS_SUFFIX)):
            if path.name == f"{path.parent.parent.name}-{path.parent.name}{TRANS_SUFFIX}":
                yield path


def looks_like_librispeech(root: str | os.PathLike) -> bool:
    """Whether ``root`` is a LibriSpeech part, a folder of parts, or holds ``LibriSpeech/``:
    whether some ``<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` lies at that depth."""
    root = Path(root)
    return root.is_dir() and next(_transcripts(root), None) is not None


def _chapter(trans: Path, on_error: OnError | None) -> Iterator[Utterance]:
    """The utterances of one chapter's transcript (bad lines reported and skipped)."""
    try:
        lines = regular_file(trans).read_text(encoding="utf-8-sig").splitlines()  # without a BOM
    except DataError as e:  # a folder, FIFO or device (never opened)
        report_or_raise(e, on_error)
        return
    except (OSError, UnicodeDecodeError) as e:
        report_or_raise(DataError(f"cannot read as UTF-8 text ({e})", trans), on_error)
        return
    speaker = trans.parent.parent.name
    for lineno, line in enumerate(lines, 1):
        utt_id, _, words = line.strip().partition(" ")
        if not utt_id:
            continue
        try:
            if not utt_id.startswith(f"{speaker}-{trans.parent.name}-"):
                raise DataError(f"line {lineno}: {utt_id!r} is not of this chapter", trans)
            if not words.strip():
                raise DataError(f"line {lineno}: {utt_id!r} has no transcript", trans)
            audio = trans.parent / f"{utt_id}.flac"
            if not audio.is_file():
                raise DataError(f"line {lineno}: no audio file {audio.name} beside it", trans)
            frames, rate, _ = audio_info(audio)
        except DataError as e:
            report_or_raise(e, on_error)
            continue
        text = " ".join(words.split())
        yield Utterance(utt_id, str(audio), speaker, text=text, duration=frames / rate)


def find_librispeech(
    root: str | os.PathLike, *, on_error: OnError | None = None
) -> list[Utterance]:
    """Every utterance of a LibriSpeech tree, sorted by id: ``text`` the words as written,
    ``phones=None``, ``duration`` in seconds from the FLAC header, ``path`` absolute.

    Raises :class:`DataError` when ``root`` holds no transcript, for two utterances with one id,
    and for each bad entry (an unreadable transcript, a line without words or of another
    chapter, a missing or unreadable FLAC file) unless ``on_error`` is given: then each is
    passed to it and skipped.
    """
    path = Path(os.path.abspath(root))
    if not path.is_dir():
        raise DataError("no such directory", path)
    by_id: dict[str, Utterance] = {}
    count = 0
    for trans in _transcripts(path):
        count += 1
        for utt in _chapter(trans, on_error):
            if utt.id in by_id:
                raise DataError(f"utterance {utt.id!r} also found at {by_id[utt.id].path}", trans)
            by_id[utt.id] = utt
    if count == 0:
        raise DataError(
            "no LibriSpeech transcripts found (expected <speaker>/<chapter>/"
            f"<speaker>-<chapter>{TRANS_SUFFIX})",
            path,
        )
    return [by_id[k] for k in sorted(by_id)]


def librispeech_splits(utts: list[Utterance]) -> dict[str, str]:
    """``{utterance id: split}`` from the name of each utterance's part folder (the folder above
    its speaker's: train-clean-100 train, dev-other dev, test-clean test; see
    :func:`lstmrec.corpora.kaldi.part_split`); utterances in other folders have no split."""
    splits = {}
    for utt in utts:
        split = part_split(Path(utt.path).parent.parent.parent.name)
        if split is not None:
            splits[utt.id] = split
    return splits
