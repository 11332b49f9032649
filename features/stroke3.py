"""The stroke-3 format of pen strokes (Ha & Eck 2017, after Graves 2013): rows ``[dx, dy, pen_up]``
of offsets from the previous point, to and from the absolute strokes of ``features.ink``.

Pure NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lstmrec.features.errors import DataError

Strokes = Sequence[np.ndarray]  # each (N_i, 2 or 3) [x, y(, t)]


def to_stroke3(strokes: Strokes) -> np.ndarray:
    """Absolute strokes to stroke-3 offsets.

    Args:
        strokes: list of ``(N_i, 2 or 3)`` arrays ``[x, y, (t)]``; empty strokes are skipped.

    Returns:
        float64 ``(N, 3)`` rows ``[dx, dy, pen_up]``: the first row's offset is from the origin
        (0, 0), so it holds the absolute start; ``pen_up = 1`` on the last point of each stroke.
        Time is dropped.
    """
    xy = [np.asarray(s, dtype=np.float64)[:, :2] for s in strokes if len(s)]
    if not xy:
        return np.zeros((0, 3))
    points = np.concatenate(xy)
    pen_up = np.concatenate([np.eye(1, len(s), len(s) - 1)[0] for s in xy])
    d = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
    return np.concatenate([d, pen_up[:, None]], axis=1)


def from_stroke3(arr: np.ndarray, *, origin: tuple[float, float] = (0.0, 0.0)) -> list[np.ndarray]:
    """Stroke-3 offsets ``(N, 3)`` ``[dx, dy, pen_up]`` to absolute strokes.

    Args:
        arr: offsets; a row with ``pen_up != 0`` ends its stroke; rows after the last pen-up
            form a final stroke.
        origin: the point the first offset starts from.

    Returns:
        List of float64 ``(N_i, 3)`` ``[x, y, t]`` with t = NaN (stroke-3 has no time).

    Raises:
        DataError: not an ``(N, 3)`` array, or NaN/infinite values.
    """
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise DataError(f"stroke-3 data must be (N, 3) [dx, dy, pen_up], got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise DataError("stroke-3 data has NaN or infinite values")
    xy = np.cumsum(arr[:, :2], axis=0) + np.asarray(origin, dtype=np.float64)
    ends = np.flatnonzero(arr[:, 2] != 0) + 1
    pieces = np.split(xy, ends)
    return [np.concatenate([p, np.full((len(p), 1), np.nan)], axis=1) for p in pieces if len(p)]
