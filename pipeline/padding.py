"""Length-bucketed, zero-padded batches in NumPy (no Keras: inference imports this)."""

from __future__ import annotations

import math

import numpy as np


def bucket_batches(
    lengths: np.ndarray, *, batch_size: int, rng: np.random.Generator | None = None
) -> list[np.ndarray]:
    """Group utterance indices into batches of similar length.

    Utterances are sorted by length (shuffled first among equals when ``rng`` is given) and cut
    into consecutive batches, so padding is small; the order of the batches is then shuffled.

    Args:
        lengths: ``(N,)`` frame counts.
        batch_size: utterances per batch (the last batch may be smaller).
        rng: shuffles ties and batch order; ``None`` keeps everything in length order.

    Returns:
        A list of index arrays covering ``range(N)`` exactly once.
    """
    lengths = np.asarray(lengths)
    order = np.arange(len(lengths))
    if rng is not None:
        order = rng.permutation(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def pad_features(feats: list[np.ndarray], *, multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``(T_i, F)`` arrays into ``(B, T, F)`` zero-padded, with ``(B,)`` int32 lengths.

    ``T`` is the longest ``T_i`` rounded up to a multiple of ``multiple`` (a few distinct padded
    widths keep traced/compiled graphs few).
    """
    lengths = np.array([len(f) for f in feats], dtype=np.int32)
    width = max(1, math.ceil(max(lengths, default=1) / multiple) * multiple)
    out = np.zeros((len(feats), width, feats[0].shape[1]), dtype=np.float32)
    for i, f in enumerate(feats):
        out[i, : len(f)] = f
    return out, lengths


def pad_labels(labels: list[np.ndarray], *, multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Stack label id arrays into ``(B, L)`` int32 padded with 0, with ``(B,)`` lengths; ``L`` is
    the longest rounded up to a multiple of ``multiple`` (fewer shapes for JAX to compile; the
    loss reads only the first ``length`` labels of each row)."""
    lengths = np.array([len(y) for y in labels], dtype=np.int32)
    width = max(1, lengths.max(initial=1))
    out = np.zeros((len(labels), -(-width // multiple) * multiple), dtype=np.int32)
    for i, y in enumerate(labels):
        out[i, : len(y)] = y
    return out, lengths
