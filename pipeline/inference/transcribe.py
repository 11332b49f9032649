"""Transcription of audio files with a model bundle: phones with start and end times."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from lstmrec.bundle import Bundle
from lstmrec.corpora.timit import AUDIO_EXTENSIONS as CORPUS_AUDIO_EXTENSIONS
from lstmrec.features.audio import apply_cmvn, audio_info, frame_center_s
from lstmrec.features.errors import DataError
from lstmrec.featurize import checked_features, signal_features
from lstmrec.inference.decoder import (
    Decoder,
    decode_in_chunks,
    predict_logits,
    recipe_decoder,
)
from lstmrec.phones import fold

# Audio files found in folders: the corpus readers' extensions, and Sony Wave64.
AUDIO_EXTENSIONS = (*CORPUS_AUDIO_EXTENSIONS, ".w64")
BATCH_FILES = 16  # files whose features are held in memory and decoded together


@dataclasses.dataclass(frozen=True)
class TimedPhone:
    phone: str
    start: float  # seconds
    end: float  # seconds


@dataclasses.dataclass(frozen=True)
class Alternative:
    """One N-best hypothesis: its phones and scores (natural logs)."""

    phones: list[str]
    score: float  # acoustic + lm_weight * lm + insertion_bonus * len
    acoustic: float  # log p_ctc
    lm: float  # log p_lm (0 without a language model)


@dataclasses.dataclass(frozen=True)
class Transcript:
    file: str
    duration: float  # seconds
    phones: list[TimedPhone]
    nbest: list[Alternative] = dataclasses.field(default_factory=list)

    @property
    def text(self) -> str:
        """The phones, space-separated."""
        return " ".join(p.phone for p in self.phones)

    def to_dict(self) -> dict:
        d = {
            "file": self.file,
            "duration": round(self.duration, 4),
            "phones": [
                {"phone": p.phone, "start": round(p.start, 3), "end": round(p.end, 3)}
                for p in self.phones
            ],
        }
        if len(self.nbest) > 1:
            d["nbest"] = [
                {
                    "phones": a.phones,
                    "score": round(a.score, 4),
                    "acoustic": round(a.acoustic, 4),
                    "lm": round(a.lm, 4),
                }
                for a in self.nbest
            ]
        return d

    def ctm_lines(self) -> list[str]:
        """CTM lines as sclite reads them: ``<file-id> <channel> <start> <duration> <phone>``
        (file id: the file name without extension; channel 1; seconds)."""
        file_id = Path(self.file).stem
        return [
            f"{file_id} 1 {p.start:.3f} {max(p.end - p.start, 0.0):.3f} {p.phone}"
            for p in self.phones
        ]


def expand_inputs(
    paths: Iterable[str | os.PathLike], *, extensions: Sequence[str] = AUDIO_EXTENSIONS
) -> list[str]:
    """Files as given, and every file with one of ``extensions`` (any case) under each
    directory, sorted."""
    out: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in extensions
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
    decoder: Decoder | None = None,
    on_error: Callable[[DataError], None] | None = None,
) -> Iterable[Transcript]:
    """Yield one :class:`Transcript` per readable file, in order.

    Each phone spans from the first frame of its CTC spike to the start of the next phone's
    spike (times clipped to the file). ``fold_to`` maps TIMIT phones to the 48 or 39 set (phones
    that fold to nothing, like ``q``, are dropped). ``decoder`` defaults to the bundle's recipe
    decoding settings. Bad files raise :class:`DataError`, or go to ``on_error`` and are skipped.
    """

    def featurize(path: str) -> list[tuple[tuple[str, float], np.ndarray]]:
        n, sr, _ = audio_info(path)
        return [((path, n / sr), checked_features(path, bundle.features))]

    for (path, duration), r in decode_in_chunks(
        files,
        featurize,
        bundle,
        decoder,
        on_error=on_error,
        chunk_size=BATCH_FILES,
    ):
        nbest = [_alternative(bundle, h, fold_to) for h in r.nbest]
        yield Transcript(path, duration, _timed(bundle, r.tokens, duration, fold_to), nbest)


def _alternative(bundle: Bundle, hyp, fold_to: int | None) -> Alternative:
    phones = bundle.symbols.decode(hyp.labels)
    if fold_to is not None:
        phones = fold(phones, fold_to)
    return Alternative(phones, hyp.score, hyp.acoustic, hyp.lm)


def transcribe_detailed(
    bundle: Bundle, path: str, *, fold_to: int | None = None, decoder: Decoder | None = None
) -> tuple[Transcript, np.ndarray]:
    """One file's :class:`Transcript` (as :func:`transcribe_files` gives it) and the model's
    ``(T, V + 1)`` float32 logits, for pictures of what the network saw. Bad files raise
    :class:`DataError`."""
    n, sr, _ = audio_info(path)
    feats = checked_features(path, bundle.features)
    return _transcript_and_logits(bundle, path, n / sr, feats, fold_to, decoder)


def transcribe_signal(
    bundle: Bundle,
    signal: np.ndarray,
    sample_rate: int,
    *,
    name: str,
    fold_to: int | None = None,
    decoder: Decoder | None = None,
) -> Transcript:
    """The :class:`Transcript` of samples in memory: ``signal`` ``(N,)`` or ``(N, C)`` (channels
    averaged), float in [-1, 1] or integer PCM, at ``sample_rate`` Hz (resampled to the model's
    rate). ``name`` is the transcript's ``file``. Unusable signals raise :class:`DataError`."""
    feats = signal_features(signal, sample_rate, bundle.features, name)
    duration = len(signal) / sample_rate
    return _transcript_and_logits(bundle, name, duration, feats, fold_to, decoder)[0]


def _transcript_and_logits(
    bundle: Bundle, name: str, duration: float, feats: np.ndarray, fold_to, decoder
) -> tuple[Transcript, np.ndarray]:
    decoder = decoder or recipe_decoder(bundle)
    (logits,) = predict_logits(bundle.model, [apply_cmvn(feats, bundle.mean, bundle.std)])
    r = decoder(logits)
    nbest = [_alternative(bundle, h, fold_to) for h in r.nbest]
    return Transcript(name, duration, _timed(bundle, r.tokens, duration, fold_to), nbest), logits


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
