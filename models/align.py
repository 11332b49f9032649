"""CTC scoring and alignment of a known label sequence in NumPy (log space).

The forward algorithm gives the CTC log-likelihood ``log p(labels | x)`` (Graves et al. 2006,
eq. 8-14); its Viterbi variant gives the best frame-level path of the labels, from which symbol
start and end frames follow with the same convention as :func:`models.decoding.greedy_decode`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lstmrec.models.decoding import BLANK, Token

NEG_INF = -np.inf


def _extended(labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The blank-interleaved state sequence ``- l1 - l2 ... lL -`` ``(2L + 1,)`` and, per state,
    whether the path may skip from two states back (a label differing from the previous one)."""
    lab = np.asarray(labels, dtype=np.int64)
    ext = np.full(2 * len(lab) + 1, BLANK, dtype=np.int64)  # (S,)
    ext[1::2] = lab
    skip = np.zeros(len(ext), dtype=bool)
    skip[3::2] = lab[1:] != lab[:-1]
    return ext, skip


def _lattice(log_probs: np.ndarray, labels: Sequence[int], combine) -> np.ndarray:
    """``(T, S)`` forward scores over the extended states, merging paths with ``combine``
    (``np.logaddexp`` for the sum over paths, ``np.maximum`` for the best one)."""
    ext, skip = _extended(labels)
    lp = np.asarray(log_probs, dtype=np.float64)[:, ext]  # (T, S)
    t_max, s = lp.shape
    alpha = np.full((t_max, s), NEG_INF)
    if t_max == 0:
        return alpha
    alpha[0, : min(2, s)] = lp[0, : min(2, s)]
    for t in range(1, t_max):
        prev = alpha[t - 1]
        stay_or_step = combine(prev, np.concatenate([[NEG_INF], prev])[:s])
        two_back = np.where(skip, np.concatenate([[NEG_INF, NEG_INF], prev])[:s], NEG_INF)
        alpha[t] = combine(stay_or_step, two_back) + lp[t]
    return alpha


def ctc_log_likelihood(log_probs: np.ndarray, labels: Sequence[int]) -> float:
    """``log p(labels | x)`` by the CTC forward algorithm.

    Args:
        log_probs: ``(T, V + 1)`` natural-log class probabilities per frame, blank at 0.
        labels: the label sequence (ids in ``1..V``).

    Returns:
        The log-likelihood (natural log); ``-inf`` when the labels cannot fit ``T`` frames.
    """
    log_probs = np.asarray(log_probs)
    if log_probs.shape[0] == 0:
        return 0.0 if len(labels) == 0 else float(NEG_INF)
    alpha = _lattice(log_probs, labels, np.logaddexp)
    return float(np.logaddexp.reduce(alpha[-1, -2:]))


def forced_align(log_probs: np.ndarray, labels: Sequence[int]) -> list[Token]:
    """Symbol spans of ``labels`` along their most likely CTC path (Viterbi alignment).

    Each symbol starts at the first frame of its spike (the frames the path spends on it) and
    ends where the next symbol's spike starts, the last one frame past its spike: the spans tile
    the speech like :func:`models.decoding.greedy_decode`'s, and equal them when ``labels`` is
    the best path's labelling and the best path is also the labels' best alignment.

    Args:
        log_probs: ``(T, V + 1)`` natural-log class probabilities, blank at 0.
        labels: the label sequence; must fit the frames (``T >= L + repeats``).

    Returns:
        One :class:`Token` per label, in order.
    """
    log_probs = np.asarray(log_probs)
    if len(labels) == 0:
        return []
    ext, _ = _extended(labels)
    alpha = _lattice(log_probs, labels, np.maximum)  # (T, S)
    t_max, s = alpha.shape
    state = s - 2 + int(alpha[-1, -1] > alpha[-1, -2]) if t_max else -1
    if t_max == 0 or not np.isfinite(alpha[-1, state]):
        raise ValueError(f"{len(labels)} labels cannot be aligned to {t_max} frames")
    # Trace back: at each frame pick the best predecessor among the allowed moves.
    states = np.empty(t_max, dtype=np.int64)  # (T,) extended state per frame
    for t in range(t_max - 1, -1, -1):
        states[t] = state
        if t == 0:
            break
        moves = [state, state - 1] + ([state - 2] if state >= 2 and _can_skip(ext, state) else [])
        moves = [m for m in moves if m >= 0]
        state = max(moves, key=lambda m: alpha[t - 1, m])
    label_pos = np.where(states % 2 == 1, states // 2, -1)  # (T,) label index or -1 for blank
    starts = [int(np.flatnonzero(label_pos == i)[0]) for i in range(len(labels))]
    last_end = int(np.flatnonzero(label_pos == len(labels) - 1)[-1]) + 1
    ends = starts[1:] + [last_end]
    return [Token(int(c), s0, e) for c, s0, e in zip(labels, starts, ends, strict=True)]


def _can_skip(ext: np.ndarray, state: int) -> bool:
    return state % 2 == 1 and ext[state] != ext[state - 2]
