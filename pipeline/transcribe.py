"""Transcription of audio files with a model bundle: phones with start and end times."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from features.audio import audio_info, frame_center_s
from features.errors import DataError
from pipeline.bundle import Bundle
from pipeline.corpus import AUDIO_EXTENSIONS as CORPUS_AUDIO_EXTENSIONS
from pipeline.featurize import checked_features
from pipeline.inference import recognize_features, recognize_features_with_logits
from pipeline.phones import fold

# Audio files found in folders: the corpus readers' extensions, and Sony Wave64.
AUDIO_EXTENSIONS = (*CORPUS_AUDIO_EXTENSIONS, ".w64")
BATCH_FILES = 16  # files whose features are held in memory and decoded together


@dataclasses.dataclass(frozen=True)
class TimedPhone:
    phone: str
    start: float  # seconds
    end: float  # seconds


@dataclasses.dataclass(frozen=True)
class Transcript:
    file: str
    duration: float  # seconds
    phones: list[TimedPhone]

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "duration": round(self.duration, 4),
            "phones": [
                {"phone": p.phone, "start": round(p.start, 3), "end": round(p.end, 3)}
                for p in self.phones
            ],
        }


def expand_inputs(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Files as given, and every audio file (by extension, any case) under each directory."""
    out: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS
            )
            out.extend(str(f) for f in found)
        else:
            out.append(str(p))
    return out


def boundary_s(frame: int, bundle: Bundle) -> float:
    """Time between frame ``frame - 1`` and frame ``frame``: halfway between their centres."""
    hop_s = bundle.features.hop_length / bundle.features.sample_rate
    return float(frame_center_s(frame, bundle.features)) - hop_s / 2


def transcribe_files(
    bundle: Bundle,
    files: Sequence[str],
    *,
    fold_to: int | None = None,
    on_error: Callable[[DataError], None] | None = None,
) -> Iterable[Transcript]:
    """Yield one :class:`Transcript` per readable file, in order.

    Each phone spans from the first frame of its CTC spike to the start of the next phone's
    spike (times clipped to the file). ``fold_to`` maps TIMIT phones to the 48 or 39 set (phones
    that fold to nothing, like ``q``, are dropped). Bad files raise :class:`DataError`, or go to
    ``on_error`` and are skipped.
    """
    for start in range(0, len(files), BATCH_FILES):
        chunk, feats, durations = [], [], []
        for path in files[start : start + BATCH_FILES]:
            try:
                n, sr, _ = audio_info(path)
                feats.append(checked_features(path, bundle.features))
            except DataError as e:
                if on_error is None:
                    raise
                on_error(e)
                continue
            chunk.append(path)
            durations.append(n / sr)
        tokens = recognize_features(bundle.model, feats, bundle.mean, bundle.std) if feats else []
        for path, duration, toks in zip(chunk, durations, tokens, strict=True):
            yield Transcript(path, duration, _timed(bundle, toks, duration, fold_to))


def transcribe_detailed(
    bundle: Bundle, path: str, *, fold_to: int | None = None
) -> tuple[Transcript, np.ndarray]:
    """One file's :class:`Transcript` (as :func:`transcribe_files` gives it) and the model's
    ``(T, V + 1)`` float32 logits, for pictures of what the network saw. Bad files raise
    :class:`DataError`."""
    n, sr, _ = audio_info(path)
    feats = checked_features(path, bundle.features)
    (tokens,), (logits,) = recognize_features_with_logits(
        bundle.model, [feats], bundle.mean, bundle.std
    )
    return Transcript(path, n / sr, _timed(bundle, tokens, n / sr, fold_to)), logits


def _timed(bundle: Bundle, tokens, duration: float, fold_to: int | None) -> list[TimedPhone]:
    phones = []
    for tok in tokens:
        label = bundle.symbols.decode([tok.symbol])[0]
        if fold_to is not None:
            folded = fold([label], fold_to)
            if not folded:
                continue
            label = folded[0]
        start = min(max(boundary_s(tok.start, bundle), 0.0), duration)
        end = min(max(boundary_s(tok.end, bundle), start), duration)
        phones.append(TimedPhone(label, start, end))
    return phones
