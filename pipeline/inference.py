"""Batched inference: features -> logits -> best-path tokens, shared by training and commands."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from features.audio import apply_cmvn
from models.decoding import Token, greedy_decode
from pipeline.padding import bucket_batches, pad_features


def predict_logits(
    model, feats: Sequence[np.ndarray], *, batch_size: int = 16, pad_multiple: int = 32
) -> list[np.ndarray]:
    """Run the acoustic model on utterances of any lengths.

    Utterances are batched by length and padded (the model reverses each one by its own length,
    so padding never changes the result).

    Args:
        model: ``[features (B, T, F), lengths (B,)] -> logits (B, T, V + 1)``.
        feats: list of ``(T_i, F)`` float32 arrays, already normalised.

    Returns:
        List of ``(T_i, V + 1)`` float32 logits, in the order of ``feats``.
    """
    out: list[np.ndarray | None] = [None] * len(feats)
    lengths = np.array([len(f) for f in feats])
    for idx in bucket_batches(lengths, batch_size=batch_size):
        x, x_len = pad_features([feats[i] for i in idx], multiple=pad_multiple)
        logits = np.asarray(model.predict_on_batch([x, x_len]))  # (B, T, V + 1)
        for row, i in enumerate(idx):
            out[i] = logits[row, : x_len[row]]
    return out


def recognize_features(
    model, feats: Sequence[np.ndarray], mean: np.ndarray, std: np.ndarray, **kwargs
) -> list[list[Token]]:
    """CMVN, acoustic model and best-path decoding for raw ``(T_i, F)`` feature arrays."""
    normed = [apply_cmvn(f, mean, std) for f in feats]
    return [greedy_decode(lg) for lg in predict_logits(model, normed, **kwargs)]
