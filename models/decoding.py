"""CTC decoding in NumPy: best path (greedy) with symbol spans from the CTC spikes."""

from __future__ import annotations

import dataclasses

import numpy as np

BLANK = 0


@dataclasses.dataclass(frozen=True)
class Token:
    """One decoded symbol and the frames it spans.

    ``start`` is the first frame of the symbol's spike (its run of best-path frames) and ``end``
    the frame where the next symbol's spike begins (or one past the last spike frame for the last
    symbol), so the spans tile the speech without overlapping: frames ``[start, end)``.
    """

    symbol: int
    start: int
    end: int


def greedy_decode(logits: np.ndarray, length: int | None = None) -> list[Token]:
    """Best-path CTC decoding of one utterance.

    Takes the most likely class per frame, merges repeats, and drops blanks (index 0): frames
    ``a a - a b`` give ``a a b``, since a blank between repeats separates two symbols.

    Args:
        logits: ``(T, V + 1)`` scores (logits, log-probabilities or probabilities; only the
            argmax matters), blank at index 0.
        length: true number of frames; frames past it (padding) are ignored. Defaults to ``T``.

    Returns:
        The decoded tokens in order.
    """
    logits = np.asarray(logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must be (T, V+1), got shape {logits.shape}")
    best = logits[: logits.shape[0] if length is None else int(length)].argmax(axis=-1)  # (T,)
    # A new run starts wherever the class changes; each run of a non-blank class is one token.
    change = np.flatnonzero(np.diff(best, prepend=-1) != 0)  # (R,) first frame of each run
    run_class = best[change]
    run_end = np.append(change[1:], len(best))
    keep = run_class != BLANK
    starts, classes, run_ends = change[keep], run_class[keep], run_end[keep]
    tokens = []
    for i, (s, c) in enumerate(zip(starts, classes, strict=True)):
        end = starts[i + 1] if i + 1 < len(starts) else run_ends[i]
        tokens.append(Token(int(c), int(s), int(end)))
    return tokens


def greedy_decode_batch(logits: np.ndarray, lengths: np.ndarray) -> list[list[Token]]:
    """:func:`greedy_decode` for a padded batch: ``logits (B, T, V + 1)``, ``lengths (B,)``."""
    return [greedy_decode(lg, n) for lg, n in zip(logits, lengths, strict=True)]
