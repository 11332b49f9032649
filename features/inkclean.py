"""Cleaning pen strokes before they are normalised: the first step of the ink features.

:func:`clean_strokes` drops empty strokes, a pen resting on one point, and stray points far
outside the writing (a glitch of the digitiser, a speck), and refuses ink that cannot be used.
It keeps every point the pen drew as part of the writing, even where the writing lies mostly
along one line (a lone "1" or "7") and a limit on the spread of the points alone would cut it.
Pure NumPy; re-exported by :mod:`features.ink`, whose chain calls it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lstmrec.features.errors import DataError

Strokes = Sequence[np.ndarray]  # each (N_i, 3) float64 [x, y, t]

# Coordinates beyond this (in the file's units) are refused: a limit that keeps a small hostile
# file from asking for gigabytes when its ink is resampled.
MAX_INK_COORD = 1e9


def _as_points(stroke: Any, i: int) -> np.ndarray:
    """One stroke as float64 ``(N, 3)``; a ``(N, 2)`` stroke gets t = NaN."""
    arr = np.asarray(stroke, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] not in (2, 3):
        raise DataError(f"stroke {i}: expected an (N, 3) array [x, y, t], got shape {arr.shape}")
    if arr.shape[1] == 2:
        arr = np.concatenate([arr, np.full((len(arr), 1), np.nan)], axis=1)
    if not np.isfinite(arr[:, :2]).all():
        raise DataError(f"stroke {i}: coordinates are NaN or infinite")
    if np.isinf(arr[:, 2]).any():
        raise DataError(f"stroke {i}: infinite time")
    if arr.size and np.abs(arr[:, :2]).max() > MAX_INK_COORD:
        raise DataError(f"stroke {i}: coordinates beyond +-{MAX_INK_COORD:g}")
    return arr


# A point beyond the stray-point limit is kept when the pen moved to it from ink within the limit
# in steps of at most this many median steps, or came down within that distance of kept ink: a
# lone character drawn mostly along one line (the bar of a "7" on an upright stem, the flag of a
# "1", a serif drawn apart beside it) keeps its shape; a stray sample, reached by a jump, and a
# speck away from the ink are dropped. (The limit alone cut points from 81 of the 50,000 MNIST
# pen-stroke digits; the pen's moves kept all but 3 whole, and with its landings all but one,
# whose mark lies 12 pixels from the ink.)
CONNECTED_STEP = 4.0


def _reached(inside: np.ndarray, short: np.ndarray) -> np.ndarray:
    """``inside`` and the points joined to it by ``short`` steps (``short[k]``: k to k + 1)."""
    keep = inside.copy()
    for k in range(1, len(keep)):
        keep[k] |= keep[k - 1] and short[k - 1]
    for k in range(len(keep) - 2, -1, -1):
        keep[k] |= keep[k + 1] and short[k]
    return keep


def _kept_near(
    arrays: list[np.ndarray], within: list[np.ndarray], steps: list[np.ndarray], short: float
) -> None:
    """Keep, in place, the points of ``within``'s strokes lying within ``short`` of kept ink, and
    those the pen reached from them in ``steps`` of at most ``short``, until nothing changes."""
    from scipy.spatial import KDTree  # only for ink with stray points: not at start-up

    bound = np.nextafter(short, np.inf)  # the tree finds neighbours nearer than its bound
    grown = True
    while grown:
        grown = False
        ink = KDTree(np.concatenate([a[w, :2] for a, w in zip(arrays, within, strict=True)]))
        for arr, inside, step in zip(arrays, within, steps, strict=True):
            out = np.flatnonzero(~inside)
            if len(out):
                near = out[ink.query(arr[out, :2], distance_upper_bound=bound)[0] <= short]
                if len(near):
                    inside[near] = True
                    inside[:] = _reached(inside, step <= short)
                    grown = True


def clean_strokes(
    strokes: Strokes, *, outlier: float = 10.0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Remove what carries no shape: empty strokes, repeated points, stray points.

    Args:
        strokes: list of ``(N_i, 3)`` (or ``(N_i, 2)``) arrays ``[x, y, t]``, any units.
        outlier: a point is stray when ``|x - median(x)| > outlier * IQR(x)`` or the same for y
            (IQR: interquartile range of all points, floored at 1 % of the larger extent so a
            perfectly straight line keeps its points), unless the pen reached it from ink that
            is not stray in steps of at most :data:`CONNECTED_STEP` median steps, or put it down
            within that distance of such ink.

    Returns:
        ``(cleaned, kept)``: the cleaned strokes (float64 ``(M_j, 3)``, empty ones dropped) and,
        for each, an int array ``(M_j, 2)`` of the (stroke, point) index of every kept point in
        the input.

    Raises:
        DataError: no points, a single distinct point overall, NaN or infinite coordinates.
    """
    arrays = [_as_points(s, i) for i, s in enumerate(strokes)]
    if sum(len(a) for a in arrays) == 0:
        raise DataError("ink has no points")
    allxy = np.concatenate([a[:, :2] for a in arrays])
    lo, med, hi = np.percentile(allxy, [25, 50, 75], axis=0)
    extent = allxy.max(axis=0) - allxy.min(axis=0)
    iqr = np.maximum(hi - lo, 0.01 * extent.max())
    within = [(np.abs(a[:, :2] - med) <= outlier * iqr).all(axis=1) for a in arrays]
    if not all(w.all() for w in within):
        steps = [np.hypot(*np.diff(a[:, :2], axis=0).T) for a in arrays]
        moves = np.concatenate(steps)
        short = CONNECTED_STEP * float(np.median(moves[moves > 0])) if moves.any() else 0.0
        within = [_reached(w, s <= short) for w, s in zip(within, steps, strict=True)]
        _kept_near(arrays, within, steps, short)
    cleaned, kept = [], []
    for i, (arr, inside) in enumerate(zip(arrays, within, strict=True)):
        index = np.arange(len(arr))
        arr, index = arr[inside], index[inside]
        if len(arr) == 0:
            continue
        # A point identical to the one before it (the pen resting) adds a zero-length move.
        moved = np.ones(len(arr), dtype=bool)
        moved[1:] = (np.diff(arr[:, :2], axis=0) != 0).any(axis=1)
        arr, index = arr[moved], index[moved]
        cleaned.append(arr)
        kept.append(np.stack([np.full(len(index), i), index], axis=1))
    points = np.concatenate([a[:, :2] for a in cleaned])
    if len(points) < 2 or not (points != points[0]).any():
        raise DataError("ink has a single point (no extent to normalise)")
    return cleaned, kept
