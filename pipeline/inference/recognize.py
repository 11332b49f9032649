"""Handwriting recognition of ink files with a model bundle: text, and where each character is.

Every sample of every file is decoded (an IAM-OnDB line file holds one, an InkML or JSON file
may hold many). Each recognised character comes with the span of pen points its CTC spike
covers, as (stroke, point) indices into the file's own strokes, from the frame-to-point index
of :func:`features.ink.ink_features_with_index`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from lstmrec.bundle import Bundle
from lstmrec.features.audio import apply_cmvn
from lstmrec.features.errors import DataError
from lstmrec.features.inkfiles import INK_EXTENSIONS, read_ink_file
from lstmrec.featurize import checked_ink_features
from lstmrec.inference.decoder import Decoder, decode_in_chunks, predict_logits, recipe_decoder
from lstmrec.inference.transcribe import expand_inputs
from lstmrec.targets import SPACE, label_kind, symbols_text

BATCH_FILES = 16  # files whose features are held in memory and decoded together


@dataclasses.dataclass(frozen=True)
class CharSpan:
    char: str  # the character (" " for a word gap)
    start: tuple[int, int]  # (stroke, point) of the first pen point of its spike's frames
    end: tuple[int, int]  # (stroke, point) of the last pen point before the next character


@dataclasses.dataclass(frozen=True)
class Recognition:
    file: str
    id: str  # the sample's id within the file
    text: str
    chars: list[CharSpan]

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "id": self.id,
            "text": self.text,
            "chars": [
                {"char": c.char, "start": list(c.start), "end": list(c.end)} for c in self.chars
            ],
        }


def expand_ink_inputs(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Files as given, and every ink file (an extension :func:`read_ink_file` reads, any case)
    under each directory."""
    return expand_inputs(paths, extensions=INK_EXTENSIONS)


def recognize_files(
    bundle: Bundle,
    files: Sequence[str],
    *,
    decoder: Decoder | None = None,
    on_error: Callable[[DataError], None] | None = None,
) -> Iterator[Recognition]:
    """Yield one :class:`Recognition` per usable sample of each file, in order.

    ``decoder`` defaults to the bundle's recipe decoding settings.
    A file that cannot be read raises :class:`DataError`, or goes to ``on_error`` and is
    skipped; so does each unusable sample of a file whose other samples are decoded.
    """
    if label_kind(bundle.features) != "chars":
        raise DataError("not a handwriting model (its features are not ink); use transcribe")

    def featurize(path: str) -> list[tuple[tuple, np.ndarray]]:
        samples = read_ink_file(path)
        pieces = []
        for sample in samples:
            try:
                feats, index = checked_ink_features(sample.strokes, bundle.features, path)
            except DataError as e:
                if on_error is None or len(samples) == 1:
                    raise
                on_error(DataError(f"sample {sample.id}: {e.reason}", path))
                continue
            pieces.append(((path, sample.id, index), feats))
        return pieces

    for (path, sid, index), decoded in decode_in_chunks(
        files,
        featurize,
        bundle,
        decoder,
        on_error=on_error,
        chunk_size=BATCH_FILES,
    ):
        yield _recognition(bundle, path, sid, index, decoded.tokens)


def recognize_strokes(
    bundle: Bundle,
    strokes: Sequence[np.ndarray],
    *,
    name: str,
    sample_id: str = "0",
    decoder: Decoder | None = None,
) -> Recognition:
    """The :class:`Recognition` of strokes in memory: ``(N_i, 3)`` float ``[x, y, t]`` arrays
    (t NaN when unknown). ``name`` is the result's ``file``; unusable ink raises
    :class:`DataError` naming it."""
    if label_kind(bundle.features) != "chars":
        raise DataError("not a handwriting model (its features are not ink); use transcribe", name)
    feats, index = checked_ink_features(strokes, bundle.features, name)
    decoder = decoder or recipe_decoder(bundle)
    (logits,) = predict_logits(bundle.model, [apply_cmvn(feats, bundle.mean, bundle.std)])
    return _recognition(bundle, name, sample_id, index, decoder(logits).tokens)


def _recognition(bundle: Bundle, path: str, sample_id: str, index, tokens) -> Recognition:
    """Text and character spans of decoded ``tokens``; ``index`` maps frames to pen points."""
    symbols = bundle.symbols.decode([t.symbol for t in tokens])
    spans = [
        CharSpan(
            " " if s == SPACE else s,
            tuple(int(v) for v in index[t.start]),
            tuple(int(v) for v in index[max(t.end - 1, t.start)]),
        )
        for s, t in zip(symbols, tokens, strict=True)
    ]
    return Recognition(path, sample_id, symbols_text(symbols), spans)
