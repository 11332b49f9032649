"""CTC scoring and alignment of a known label sequence in NumPy (log space).

The forward algorithm gives the CTC log-likelihood ``log p(labels | x)`` (Graves et al. 2006,
eq. 8-14); its Viterbi variant gives the best frame-level path of the labels, from which symbol
start and end frames follow with the same convention as :func:`models.decoding.greedy_decode`.

Memory never grows with frames x states in float64: the forward score keeps one row of the
``2L + 1`` states, and the alignment keeps one byte per frame and state of a band for the trace
back. Given a guide (the frame where a beam search found each label), the band is the labels
found within ``ALIGN_WINDOWS`` frames of each frame, a few dozen states; without one it is every
state (``T x (2L + 1)`` bytes). A one-hour file of 360,000 frames and 60,000 phones would need
350 GB for the full float64 lattice; its guided band needs a few MB.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lstmrec.models.decoding import BLANK, Token

NEG_INF = -np.inf
# Frames either side of the guide a label may be aligned to; the wider window is tried only
# when no path fits the narrower one. Beyond them the full band, if it fits FULL_BAND_BYTES,
# else the guide's own frames.
ALIGN_WINDOWS = (100, 1000)
FULL_BAND_BYTES = 2**28


def _extended(labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The blank-interleaved state sequence ``- l1 - l2 ... lL -`` ``(2L + 1,)`` and, per state,
    whether the path may skip from two states back (a label differing from the previous one)."""
    lab = np.asarray(labels, dtype=np.int64)
    ext = np.full(2 * len(lab) + 1, BLANK, dtype=np.int64)  # (S,)
    ext[1::2] = lab
    skip = np.zeros(len(ext), dtype=bool)
    skip[3::2] = lab[1:] != lab[:-1]
    return ext, skip


def ctc_log_likelihood(log_probs: np.ndarray, labels: Sequence[int]) -> float:
    """``log p(labels | x)`` by the CTC forward algorithm, one frame at a time (memory
    ``O(L)``).

    Args:
        log_probs: ``(T, V + 1)`` natural-log class probabilities per frame, blank at 0.
        labels: the label sequence (ids in ``1..V``).

    Returns:
        The log-likelihood (natural log); ``-inf`` when the labels cannot fit ``T`` frames.
    """
    log_probs = np.asarray(log_probs)
    if log_probs.shape[0] == 0:
        return 0.0 if len(labels) == 0 else float(NEG_INF)
    ext, skip = _extended(labels)
    s = len(ext)
    alpha = np.full(s, NEG_INF)  # (S,) forward scores of the current frame
    alpha[: min(2, s)] = np.asarray(log_probs[0], dtype=np.float64)[ext[: min(2, s)]]
    padded = np.full(s + 2, NEG_INF)  # (S + 2,) the previous row behind two -inf states
    for t in range(1, len(log_probs)):
        padded[2:] = alpha
        two_back = np.where(skip, padded[:-2], NEG_INF)
        alpha = np.logaddexp(np.logaddexp(alpha, padded[1:-1]), two_back)
        alpha += np.asarray(log_probs[t], dtype=np.float64)[ext]
    return float(np.logaddexp.reduce(alpha[-2:]))


def _band(t_max: int, s: int, guide: np.ndarray | None, window: int | None):
    """``(lo, hi)`` ``(T,)`` each: the states frame ``t`` may be in. Only states that can be
    reached by then and still reach the end; with a guide, only the labels found within
    ``window`` frames of ``t`` and the blanks around them."""
    t = np.arange(t_max)
    lo, hi = np.zeros(t_max, dtype=np.int64), np.full(t_max, s - 1, dtype=np.int64)
    if guide is not None and window is not None:
        lo = 2 * np.searchsorted(guide, t - window, side="left")
        hi = 2 * (np.searchsorted(guide, t + window, side="right") - 1) + 2
    lo = np.maximum(lo, s - 2 - 2 * (t_max - 1 - t))
    hi = np.minimum(hi, np.minimum(2 * t + 1, s - 1))
    return lo, hi


def _banded_viterbi(log_probs: np.ndarray, ext: np.ndarray, skip: np.ndarray, band) -> tuple:
    """Viterbi pass over the states of ``band`` (see :func:`_band`).

    Returns ``(los, moves, final)``: per frame the first kept state and a uint8 array of the
    move into each kept state (0 stay, 1 from the previous state, 2 skip from two back; ties
    prefer that order), and the final state, or None when no path fits the band.
    """
    band_lo, band_hi = band
    s = len(ext)
    log_probs = np.asarray(log_probs, dtype=np.float64)
    lo, hi = int(band_lo[0]), int(min(band_hi[0], 1))
    if lo > hi:
        return [], [], None
    alpha = np.asarray(log_probs[0], dtype=np.float64)[ext[lo : hi + 1]]
    los, moves = [lo], [np.zeros(hi - lo + 1, dtype=np.uint8)]
    for t in range(1, len(log_probs)):
        new_lo, new_hi = max(lo, int(band_lo[t])), min(hi + 2, int(band_hi[t]))
        if new_lo > new_hi:
            return los, moves, None
        padded = np.full(hi - lo + 5, NEG_INF)  # (band + 4,) padded[k + 2] = alpha of lo + k
        padded[2 : hi - lo + 3] = alpha
        a, b = new_lo - lo + 2, new_hi - lo + 3  # the new band's states in ``padded``
        alpha = padded[a:b].copy()  # stay
        move = np.zeros(b - a, dtype=np.uint8)
        step = padded[a - 1 : b - 1]
        better = step > alpha  # strictly: ties keep the earlier move (stay, then step, skip)
        alpha[better], move[better] = step[better], 1
        two_back = np.where(skip[new_lo : new_hi + 1], padded[a - 2 : b - 2], NEG_INF)
        better = two_back > alpha
        alpha[better], move[better] = two_back[better], 2
        alpha += log_probs[t, ext[new_lo : new_hi + 1]]
        alive = np.flatnonzero(alpha > NEG_INF)
        if len(alive) == 0:
            return los, moves, None
        first, last = int(alive[0]), int(alive[-1])
        alpha = alpha[first : last + 1]
        lo, hi = new_lo + first, new_lo + last
        los.append(lo)
        moves.append(move[first : last + 1])
    ends = {st: alpha[st - lo] for st in (s - 2, s - 1) if lo <= st <= hi}
    # The last label's state wins ties, as in a full lattice's trace back.
    final = max(ends, key=lambda st: (ends[st], -st)) if ends else None
    return los, moves, final


def _guide_tokens(labels: Sequence[int], guide: np.ndarray, t_max: int) -> list[Token]:
    """Spans from the guide's frames alone (each label from its frame to the next one's)."""
    starts = np.minimum(np.asarray(guide, dtype=np.int64), t_max - 1).tolist()
    ends = starts[1:] + [min(t_max, starts[-1] + 1)]
    return [Token(int(c), s0, e) for c, s0, e in zip(labels, starts, ends, strict=True)]


def forced_align(
    log_probs: np.ndarray, labels: Sequence[int], *, guide: np.ndarray | None = None
) -> list[Token]:
    """Symbol spans of ``labels`` along their most likely CTC path (Viterbi alignment).

    Each symbol starts at the first frame of its spike (the frames the path spends on it) and
    ends where the next symbol's spike starts, the last one frame past its spike: the spans tile
    the speech like :func:`models.decoding.greedy_decode`'s, and equal them when ``labels`` is
    the best path's labelling and the best path is also the labels' best alignment.

    Args:
        log_probs: ``(T, V + 1)`` natural-log class probabilities, blank at 0.
        labels: the label sequence; must fit the frames (``T >= L + repeats``).
        guide: optional ``(L,)`` non-decreasing frames near which each label lies (where a
            beam search found it). The alignment then searches only ``ALIGN_WINDOWS`` frames
            around them (memory ``T`` x a band, not ``T x (2L + 1)``); when no path fits, and
            the full band is over ``FULL_BAND_BYTES``, the spans are the guide's own frames.

    Returns:
        One :class:`Token` per label, in order.
    """
    log_probs = np.asarray(log_probs)
    if len(labels) == 0:
        return []
    t_max = log_probs.shape[0]
    ext, skip = _extended(labels)
    lab = ext[1::2]  # (L,)
    if t_max < len(lab) + int(np.sum(lab[1:] == lab[:-1])):  # a blank between repeats
        raise ValueError(f"{len(labels)} labels cannot be aligned to {t_max} frames")
    windows: tuple[int | None, ...] = (None,)
    if guide is not None:
        guide = np.asarray(guide, dtype=np.int64)
        full = t_max * len(ext) <= FULL_BAND_BYTES
        windows = ALIGN_WINDOWS + ((None,) if full else ())
    final = None
    for window in windows:
        los, moves, final = _banded_viterbi(
            log_probs, ext, skip, _band(t_max, len(ext), guide, window)
        )
        if final is not None:
            break
    if final is None:
        if guide is not None and windows[-1] is not None:
            return _guide_tokens(labels, guide, t_max)
        raise ValueError(f"{len(labels)} labels cannot be aligned to {t_max} frames")
    states = np.empty(t_max, dtype=np.int64)  # (T,) extended state per frame
    state = final
    for t in range(t_max - 1, -1, -1):
        states[t] = state
        state -= int(moves[t][state - los[t]])
    label_pos = np.where(states % 2 == 1, states // 2, -1)  # (T,) label index or -1 for blank
    spike = np.flatnonzero(np.diff(label_pos, prepend=-1) != 0)  # (R,) first frame of each run
    spike = spike[label_pos[spike] >= 0]
    starts = [int(f) for f in spike]  # a label's path runs are contiguous: one run per label
    last_end = int(np.flatnonzero(label_pos == len(labels) - 1)[-1]) + 1
    ends = starts[1:] + [last_end]
    return [Token(int(c), s0, e) for c, s0, e in zip(labels, starts, ends, strict=True)]
