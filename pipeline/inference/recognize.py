"""Handwriting recognition of ink files with a model bundle: text, and where each character is.

Every sample of every file is decoded (an IAM-OnDB line file holds one, an InkML or JSON file
may hold many). A sample written in several lines (a page) is cut into its lines
(:func:`features.inkpage.split_lines`), each line is decoded on its own, and the sample's text
is its lines' texts in writing order, a space between them. Each recognised character comes
with the span of pen points its CTC spike covers, as (stroke, point) indices into the file's
own strokes, from the frame-to-point index of :func:`features.ink.ink_features_with_index`; the
last character of a line runs to its last pen point. Results are named by the ids of
:mod:`lstmrec.scoring.ids`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from lstmrec.bundle import Bundle
from lstmrec.features.audio import apply_cmvn
from lstmrec.features.errors import DataError, OnError, report_or_raise
from lstmrec.features.inkfiles import INK_EXTENSIONS, read_ink_file
from lstmrec.features.inkpage import split_lines
from lstmrec.featurize import checked_ink_features
from lstmrec.inference.decoder import Decoder, decode_in_chunks, predict_logits, recipe_decoder
from lstmrec.inference.transcribe import PROGRESS_FILES, alternative_dict, expand_inputs
from lstmrec.progress import progress
from lstmrec.scoring.ids import STDIN, file_ids, safe_id, sample_id
from lstmrec.targets import SPACE, modality, symbols_text

BATCH_FILES = 16  # files whose features are held in memory and decoded together


@dataclasses.dataclass(frozen=True)
class CharSpan:
    char: str  # the character (" " for a word gap)
    start: tuple[int, int]  # (stroke, point) of the first pen point of its spike's frames
    end: tuple[int, int]  # (stroke, point) of the last pen point before the next character


@dataclasses.dataclass(frozen=True)
class TextAlternative:
    """One N-best hypothesis: its text and scores (natural logs)."""

    text: str
    score: float  # acoustic + lm_weight * lm + insertion_bonus * len
    acoustic: float  # log p_ctc
    lm: float  # log p_lm (0 without a language model)


@dataclasses.dataclass(frozen=True)
class Recognition:
    file: str
    id: str  # lstmrec.scoring.ids: the file's id, or <file id>#<sample id> in a file of many
    text: str
    chars: list[CharSpan]
    nbest: list[TextAlternative] = dataclasses.field(default_factory=list)
    lines: list[str] = dataclasses.field(default_factory=list)  # a page's lines, when several

    def to_dict(self) -> dict:
        d = {
            "id": self.id,
            "file": self.file,
            "text": self.text,
            "chars": [
                {"char": c.char, "start": list(c.start), "end": list(c.end)} for c in self.chars
            ],
        }
        if self.nbest:
            d["nbest"] = [alternative_dict(a) for a in self.nbest]
        if len(self.lines) > 1:
            d["lines"] = self.lines
        return d


def expand_ink_inputs(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Files as given, and every ink file (an extension :func:`read_ink_file` reads, any case)
    under each directory."""
    return expand_inputs(paths, extensions=INK_EXTENSIONS)


def require_ink_model(bundle: Bundle, source: str | None = None) -> None:
    """Raise :class:`DataError` (naming ``source``) unless ``bundle`` is a handwriting model."""
    if modality(bundle.features) != "ink":
        raise DataError(
            "not a handwriting model (its features are not ink); use transcribe", source
        )


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
    skipped; so does each unusable sample of a file whose other samples are decoded (its
    error names the sample: ``sample <id>: <reason>``).
    """
    require_ink_model(bundle)
    ids = file_ids(files)

    def featurize(path: str) -> list[tuple[tuple, np.ndarray]]:
        skipped: list[DataError] = []  # samples the reader left out: they still count for ids

        def skip(err: DataError) -> None:
            skipped.append(err)
            report_or_raise(err, on_error)

        read = None if on_error is None else skip
        samples = (
            read_stdin_ink(on_error=read) if path == STDIN else read_ink_file(path, on_error=read)
        )
        n = len(samples) + len(skipped)
        pieces = []
        for sample in samples:
            try:
                lines = line_features(sample.strokes, bundle, path)
            except DataError as e:
                if n == 1:
                    raise
                report_or_raise(DataError(f"sample {sample.id}: {e.reason}", path), on_error)
                continue
            rid = sample_id(ids[path], sample.id, n)
            for k, (feats, index, last) in enumerate(lines):
                pieces.append(((path, rid, index, last, k, len(lines)), feats))
        return pieces

    bar = progress(total=len(files), show=len(files) >= PROGRESS_FILES, desc="files", unit="file")
    done, page = None, []
    for (path, rid, index, last, k, n), decoded in decode_in_chunks(
        files,
        featurize,
        bundle,
        decoder,
        on_error=on_error,
        chunk_size=BATCH_FILES,
    ):
        if path != done:
            bar.update(1)
            done = path
        page.append(_recognition(bundle, path, rid, index, decoded, last))
        if k == n - 1:
            yield joined_lines(page)
            page = []
    bar.close()


def line_features(
    strokes: Sequence[np.ndarray], bundle: Bundle, source: str
) -> list[tuple[np.ndarray, np.ndarray, tuple[int, int]]]:
    """Features, frame-to-point index and last pen point of each line of ``strokes``
    (:func:`features.inkpage.split_lines`), the index and point naming the sample's own
    strokes. :class:`DataError` naming ``source`` when a line gives no usable features."""
    out = []
    for line in split_lines(strokes):
        feats, index = checked_ink_features([strokes[i] for i in line], bundle.features, source)
        index = np.column_stack([np.asarray(line)[index[:, 0]], index[:, 1]])
        out.append((feats, index, (line[-1], len(strokes[line[-1]]) - 1)))
    return out


def joined_lines(lines: list[Recognition]) -> Recognition:
    """One sample's :class:`Recognition` from those of its lines, in writing order: their
    texts joined by a space (a space character whose span is the end of the line before it),
    ``lines`` the texts one by one; N-best lists are kept for a single line only."""
    if len(lines) == 1:
        return lines[0]
    chars: list[CharSpan] = []
    for line in lines:
        if chars and line.chars:
            chars.append(CharSpan(" ", chars[-1].end, chars[-1].end))
        chars += line.chars
    texts = [line.text for line in lines]
    first = lines[0]
    return Recognition(first.file, first.id, " ".join(t for t in texts if t), chars, lines=texts)


def read_stdin_ink(stream=None, *, on_error: OnError | None = None) -> list:
    """The ink samples of JSON or NDJSON on standard input (or ``stream``, a file): what
    :func:`lstmrec.features.inkfiles.read_ink_file` reads from a ``.json`` or ``.ndjson`` file
    of the same bytes (a byte-order mark left out, bytes that are not UTF-8 refused as there;
    with ``on_error``, its unusable samples go there), NDJSON being text that is not one JSON
    document and whose first line is one. Raises :class:`DataError` naming ``-``."""
    data = (stream or sys.stdin.buffer).read()
    data = data.encode("utf-8") if isinstance(data, str) else data  # a text stream's
    text = data.decode("utf-8-sig", errors="replace")  # to tell the format; the reader decodes
    # One JSON document, else NDJSON if its first line is JSON: a document with a mistake (one
    # object over many lines) is one error, not one for each of its lines.
    first = next((line for line in text.split("\n") if line.strip()), "")
    suffix = ".json" if _is_json(text) or not _is_json(first) else ".ndjson"
    with tempfile.TemporaryDirectory(prefix="lstmrec-stdin-") as tmp:
        path = Path(tmp) / f"stdin{suffix}"
        path.write_bytes(data)
        renamed = None if on_error is None else lambda e: on_error(DataError(e.reason, STDIN))
        try:
            return read_ink_file(path, on_error=renamed)
        except DataError as e:
            raise DataError(e.reason, STDIN) from None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def recognize_strokes(
    bundle: Bundle,
    strokes: Sequence[np.ndarray],
    *,
    name: str,
    decoder: Decoder | None = None,
) -> Recognition:
    """The :class:`Recognition` of strokes in memory: ``(N_i, 3)`` float ``[x, y, t]`` arrays
    (t NaN when unknown). ``name`` is the result's ``file`` (its id: ``safe_id(name)``);
    unusable ink raises :class:`DataError` naming it."""
    require_ink_model(bundle, name)
    lines = line_features(strokes, bundle, name)
    decoder = decoder or recipe_decoder(bundle)
    normalized = [apply_cmvn(feats, bundle.mean, bundle.std) for feats, _, _ in lines]
    return joined_lines(
        [
            _recognition(bundle, name, safe_id(name), index, decoder(logits), last)
            for (_, index, last), logits in zip(
                lines, predict_logits(bundle.model, normalized), strict=True
            )
        ]
    )


def _recognition(bundle: Bundle, path: str, rid: str, index, decoded, last) -> Recognition:
    """Text, character spans and N-best of ``decoded``; ``index`` maps frames to pen points and
    ``last`` is the sample's last pen point, where its last character ends."""
    tokens = decoded.tokens
    symbols = bundle.symbols.decode([t.symbol for t in tokens])
    spans = [
        CharSpan(
            " " if s == SPACE else s,
            tuple(int(v) for v in index[t.start]),
            last if i == len(tokens) - 1 else tuple(int(v) for v in index[max(t.end - 1, t.start)]),
        )
        for i, (s, t) in enumerate(zip(symbols, tokens, strict=True))
    ]
    nbest = [
        TextAlternative(symbols_text(bundle.symbols.decode(h.labels)), h.score, h.acoustic, h.lm)
        for h in decoded.nbest
    ]
    return Recognition(path, rid, symbols_text(symbols), spans, nbest)
