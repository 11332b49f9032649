"""Corpus readers: TIMIT (in every shape users hold it) and TIMIT-style folder corpora.

TIMIT is found by walking the tree for ``<part>/DR<n>/<speaker>/<utt>.WAV`` with ``<part>`` in
``TRAIN``/``TEST``, in upper or lower case, with NIST SPHERE or RIFF audio and with or without the
``<utt>.WAV.wav`` RIFF twins some distributions ship beside the SPHERE files. Utterance ids are
Kaldi style, ``<speaker>_<utt>`` in lower case (``fvmh0_sa1``). Which utterances form a split is
decided in :mod:`lstmrec.corpora.splits`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

from lstmrec.features.audio import audio_info
from lstmrec.features.errors import DataError, OnError, report_or_raise
from lstmrec.features.files import regular_file
from lstmrec.manifest import Utterance
from lstmrec.phones import TIMIT61

TIMIT_SAMPLE_RATE = 16000  # Hz; .PHN/.WRD boundaries are sample indices at this rate
TIMIT_PARTS = ("train", "test")
# What libsndfile reads (``.sph``/``.nist`` are NIST SPHERE); matched case-insensitively.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".sph", ".nist", ".aif", ".aiff", ".au")
TIMIT_AUDIO_EXTENSIONS = (".wav",)

_DR_RE = re.compile(r"dr\d+", re.IGNORECASE)
_NOT_FOUND = "no TIMIT utterances found (expected TRAIN/DR1/<speaker>/<utt>.WAV with .PHN)"


def _read_text_file(path: Path) -> str:
    try:
        return regular_file(path).read_text(encoding="utf-8-sig")  # without a byte-order mark
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text (byte {e.start})", path) from None


def read_phn(
    path: str | os.PathLike,
    *,
    num_samples: int | None = None,
    sample_rate: int = TIMIT_SAMPLE_RATE,
    labels: Collection[str] | None = None,
    allow_overlap: bool = False,
) -> list[tuple[int, int, str]]:
    """Read a TIMIT ``.PHN`` or ``.WRD`` file (``<start-sample> <end-sample> <label>`` per line).

    Returns ``[(start, end, label), ...]`` in file order, in samples, end exclusive. An end past
    ``num_samples`` (TIMIT's last end is sometimes one sample past the audio) is clamped to it;
    ``sample_rate`` only serves to state times in seconds in error messages. ``.WRD`` files need
    ``allow_overlap=True``: neighbouring words may share a phone ("had your" shares the /jh/).

    Raises :class:`DataError` naming the file and line for a malformed line, a negative start,
    start >= end, a start before the previous end, a start at or past ``num_samples``, a label
    not in ``labels`` (when given), and for an empty file.
    """
    path = Path(path)
    segments: list[tuple[int, int, str]] = []
    prev_end = 0
    for lineno, line in enumerate(_read_text_file(path).splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"line {lineno}"
        if len(fields) != 3 or not all(re.fullmatch(r"-?\d+", f) for f in fields[:2]):
            raise DataError(
                f"{where}: expected '<start> <end> <label>', got {line.strip()!r}", path
            )
        start, end, label = int(fields[0]), int(fields[1]), fields[2]
        if start < 0:
            raise DataError(f"{where}: negative start {start}", path)
        if start >= end:
            raise DataError(f"{where}: start {start} >= end {end}", path)
        if start < prev_end and not allow_overlap:
            raise DataError(f"{where}: start {start} overlaps the previous end {prev_end}", path)
        if labels is not None and label not in labels:
            raise DataError(f"{where}: unknown label {label!r}", path)
        if num_samples is not None:
            if start >= num_samples:
                raise DataError(
                    f"{where}: start {start} ({start / sample_rate:.3f} s) is at or past the end "
                    f"of the audio ({num_samples} samples, {num_samples / sample_rate:.3f} s)",
                    path,
                )
            end = min(end, num_samples)
        segments.append((start, end, label))
        prev_end = max(prev_end, end)
    if not segments:
        raise DataError("empty file (no segments)", path)
    return segments


def read_txt(path: str | os.PathLike) -> str:
    """Read a transcript: TIMIT's ``<start> <end> <sentence>``, or just ``<sentence>``.

    Returns the sentence with surrounding white space removed (lines joined by one space). The
    sample numbers, when present, are dropped: TIMIT's end marker may lie past the audio.
    Raises :class:`DataError` if the file is missing or holds no sentence.
    """
    path = Path(path)
    text = " ".join(_read_text_file(path).split())
    match = re.fullmatch(r"\d+ \d+ ?(.*)", text)
    sentence = match.group(1) if match else text
    if not sentence:
        raise DataError("no sentence in transcript file", path)
    return sentence


def _walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """Yield ``(directory, sorted file names)`` under ``root``, following symlinks once each."""
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop or a second link to the same folder
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        yield Path(dirpath), sorted(filenames)


def _classify(name: str, audio_exts: Sequence[str]) -> tuple[str, str] | None:
    """``(stem, kind)`` of a file name, kind one of audio/twin/phn/txt; ``None`` for others.

    A twin is ``<stem>.WAV.wav``: the RIFF copy some distributions ship beside the SPHERE file.
    """
    if name.startswith("."):  # hidden files, macOS "._SA1.WAV" resource forks
        return None
    stem, ext = os.path.splitext(name)
    ext = ext.lower()
    if ext in audio_exts:
        inner_stem, inner_ext = os.path.splitext(stem)
        if inner_ext.lower() in audio_exts:
            return inner_stem, "twin"
        return stem, "audio"
    if ext in (".phn", ".txt"):
        return stem, ext[1:]
    return None


def _group_files(
    directory: Path, filenames: Sequence[str], audio_exts: Sequence[str]
) -> dict[str, dict[str, Path]]:
    """Files of one folder by lower-cased stem: ``{stem: {"audio"|"phn"|"txt": path}}``.

    The audio is the plain file (``SA1.WAV``, ``sa1.wav``) when there is one, else the
    ``SA1.WAV.wav`` twin, so an utterance is never listed twice. Among equals (``SA1.WAV`` and
    ``sa1.wav`` in one folder) the first name in sorted order wins.
    """
    groups: dict[str, dict[str, Path]] = {}
    for name in filenames:  # sorted, so setdefault keeps the first
        found = _classify(name, audio_exts)
        if found is not None:
            stem, kind = found
            groups.setdefault(stem.lower(), {}).setdefault(kind, directory / name)
    for files in groups.values():
        twin = files.pop("twin", None)
        if twin is not None:
            files.setdefault("audio", twin)
    return groups


def _make_utterance(
    utt_id: str, speaker: str, files: Mapping[str, Path], labels: Collection[str] | None
) -> Utterance:
    """Build one :class:`Utterance` from its audio and optional .PHN/.TXT files."""
    audio = files["audio"]
    frames, rate, _ = audio_info(audio)  # DataError naming the file: unreadable, unknown format
    phones = phone_times = None
    if "phn" in files:
        segments = read_phn(files["phn"], num_samples=frames, sample_rate=rate, labels=labels)
        phones = tuple(label for _, _, label in segments)
        phone_times = tuple((start / rate, end / rate) for start, end, _ in segments)
    return Utterance(
        id=utt_id,
        path=str(audio),
        speaker=speaker,
        phones=phones,
        phone_times=phone_times,
        text=read_txt(files["txt"]) if "txt" in files else None,
        duration=frames / rate,
    )


def _collect(
    candidates: Iterator[tuple[str, str, dict[str, Path]]],
    *,
    labels: Collection[str] | None,
    require_phn: bool,
    on_error: OnError | None,
) -> tuple[list[Utterance], int]:
    """Build utterances from ``(id, speaker, files)``; returns them sorted by id and a count.

    The count is the number of candidates, failed ones included. A :class:`DataError` of one
    utterance (a .PHN without audio, audio without the required .PHN, a bad file) is raised, or
    passed to ``on_error`` and the utterance skipped. Two utterances with one id always raise.
    """
    by_id: dict[str, Utterance] = {}
    count = 0
    for utt_id, speaker, files in candidates:
        count += 1
        try:
            if "audio" not in files:
                raise DataError("no audio file beside this .PHN", files["phn"])
            if require_phn and "phn" not in files:
                raise DataError("no .PHN file beside this audio", files["audio"])
            utt = _make_utterance(utt_id, speaker, files, labels)
        except DataError as e:
            report_or_raise(e, on_error)
            continue
        if utt_id in by_id:
            raise DataError(f"utterance id {utt_id!r} also found at {by_id[utt_id].path}", utt.path)
        by_id[utt_id] = utt
    return [by_id[k] for k in sorted(by_id)], count


def _is_timit_speaker_dir(path: Path) -> bool:
    return (
        bool(_DR_RE.fullmatch(path.parent.name)) and path.parent.parent.name.lower() in TIMIT_PARTS
    )


def _timit_candidates(root: Path) -> Iterator[tuple[str, str, dict[str, Path]]]:
    for directory, filenames in _walk(root):
        if not _is_timit_speaker_dir(directory):
            continue
        speaker = directory.name.lower()
        for stem, files in _group_files(directory, filenames, TIMIT_AUDIO_EXTENSIONS).items():
            if "audio" in files or "phn" in files:
                yield f"{speaker}_{stem}", speaker, files


def _existing_dir(root: str | os.PathLike) -> Path:
    path = Path(root).absolute()  # absolute, so manifests written from the result stay valid
    if not path.is_dir():
        raise DataError("no such directory", path)
    return path


def find_timit(root: str | os.PathLike, *, on_error: OnError | None = None) -> list[Utterance]:
    """Find every TIMIT utterance under ``root``; returns them sorted by id.

    ``root`` may be the ``TIMIT`` folder, a folder containing it, or a part (``TRAIN``). Speaker
    folders are those whose parent is ``DR<n>`` whose parent is ``TRAIN`` or ``TEST`` (any case).
    Each utterance needs a ``.WAV`` (SPHERE or RIFF, or only a ``.WAV.wav`` twin) and a ``.PHN``
    with TIMIT-61 labels; ``text`` comes from the ``.TXT`` when present. ``phone_times`` and
    ``duration`` use the sample rate in the audio header.

    Raises :class:`DataError` when ``root`` is missing or holds no utterance, and for the first
    bad utterance unless ``on_error`` is given: then each error is passed to it and that
    utterance skipped. Use :func:`timit_part` for the part an utterance belongs to.
    """
    path = _existing_dir(root)
    utts, count = _collect(
        _timit_candidates(path), labels=frozenset(TIMIT61), require_phn=True, on_error=on_error
    )
    if count == 0:
        raise DataError(_NOT_FOUND, path)
    return utts


def timit_part(utt: Utterance) -> str | None:
    """``"train"`` or ``"test"``: the TIMIT part the utterance's audio lives in.

    Read from the path (``.../TEST/DR1/MDAB0/SI1039.WAV``, any case); ``None`` when the audio
    does not sit in a TIMIT layout.
    """
    speaker_dir = Path(utt.path).parent
    return speaker_dir.parent.parent.name.lower() if _is_timit_speaker_dir(speaker_dir) else None


def _corpus_candidates(root: Path) -> Iterator[tuple[str, str, dict[str, Path]]]:
    for directory, filenames in _walk(root):
        speaker = directory.name.lower()
        for stem, files in _group_files(directory, filenames, AUDIO_EXTENSIONS).items():
            # A stray .txt (a README) is not an utterance; a .PHN without audio is a broken one.
            if ("audio" in files and ("phn" in files or "txt" in files)) or (
                "phn" in files and "audio" not in files
            ):
                yield f"{speaker}_{stem}".lower(), speaker, files


def find_corpus(root: str | os.PathLike, *, on_error: OnError | None = None) -> list[Utterance]:
    """Find every labelled recording of a TIMIT-style corpus; returns them sorted by id.

    An utterance is an audio file (``AUDIO_EXTENSIONS``, any case) with a ``.PHN`` (any labels)
    and/or ``.TXT`` beside it under the same stem. Its speaker is the folder name, its id
    ``<speaker>_<stem>``, both lower-cased. Audio without labels is ignored. Errors are handled
    as in :func:`find_timit`.
    """
    path = _existing_dir(root)
    utts, count = _collect(
        _corpus_candidates(path), labels=None, require_phn=False, on_error=on_error
    )
    if count == 0:
        raise DataError(
            "no labelled audio found (expected <speaker>/<utt>.wav with .PHN or .TXT)", path
        )
    return utts


def looks_like_timit(root: str | os.PathLike) -> bool:
    """True if ``root`` has a ``TRAIN|TEST/DR<n>/<speaker>`` folder anywhere below it."""
    return any(_is_timit_speaker_dir(d) for d, _ in _walk(Path(root)))
