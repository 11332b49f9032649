"""The checks every ink reader shares: the size and presence of an ink file, the points of its
strokes (numbers, finite, within range; at least two points in all), and times in an unstated
unit read as seconds or milliseconds. Readers: :mod:`features.inkfiles`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from lstmrec.features.errors import DataError
from lstmrec.features.files import regular_file
from lstmrec.features.ink import MAX_INK_COORD

MAX_INK_FILE_BYTES = 8 * 2**20  # larger files are refused: one line of ink is a few hundred KB
# Times whose unit the file does not state (InkML's T without ``units``, JSON's t) are read as
# seconds unless the pen's typical step between neighbouring points is this long or longer: no
# pen samples once a second, while milliseconds from any pen (up to 1,000 samples a second) step
# by 1 or more. Such times are read as milliseconds.
MILLISECONDS_STEP = 1.0


def check_file(path: Path) -> None:
    """:class:`DataError` unless ``path`` is a regular file (never opened: a FIFO would block
    the read)."""
    regular_file(path)


def read_bytes(path: Path) -> bytes:
    check_file(path)
    size = path.stat().st_size
    if size > MAX_INK_FILE_BYTES:
        limit = MAX_INK_FILE_BYTES / 2**20
        raise DataError(f"file is {size} bytes, over the {limit:g} MB limit for ink files", path)
    data = path.read_bytes()
    if not data.strip():
        raise DataError("empty file", path)
    return data


def _not_a_number(points: Sequence) -> tuple[int, object] | None:
    """``(point, value)``: the first value of ``points`` (a stroke of ``[x, y, t?]``) that is
    not a number, else None. NumPy would read a boolean as 0 or 1 and a string of digits as its
    number. None (an unknown time) counts as a number."""
    if isinstance(points, np.ndarray) and points.dtype.kind != "O":
        return None if points.dtype.kind in "iuf" else (0, points.flat[0].item())
    for k, p in enumerate(points):
        for v in p:
            if v is not None and (
                isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number))
            ):
                return k, v.item() if isinstance(v, np.generic) else v
    return None


def checked_strokes(strokes: Iterable[Sequence], path: str | os.PathLike) -> tuple[np.ndarray, ...]:
    """Strokes as float64 ``(N_i, 3)``; rejects empty strokes, values that are not numbers
    (booleans, strings), NaN/inf and a single point."""
    if isinstance(strokes, (str, bytes)) or not isinstance(strokes, Iterable):
        given = "None" if strokes is None else type(strokes).__name__
        raise DataError(f"strokes must be a list of strokes, not {given}", path)
    out = []
    for i, s in enumerate(strokes):
        try:
            arr = np.asarray(s, dtype=np.float64)
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise DataError(f"stroke {i}: points are not lists of numbers", path) from None
        if arr.size == 0:
            raise DataError(f"stroke {i} has no points", path)
        if arr.ndim != 2 or arr.shape[1] not in (2, 3):
            raise DataError(f"stroke {i}: points must be [x, y] or [x, y, t]", path)
        bad = _not_a_number(s)
        if bad is not None:
            k, v = bad
            shown = json.dumps(v) if isinstance(v, (bool, str)) else repr(v)
            raise DataError(f"stroke {i}: point {k}: {shown} is not a number", path)
        if arr.shape[1] == 2:
            arr = np.concatenate([arr, np.full((len(arr), 1), np.nan)], axis=1)
        if not np.isfinite(arr[:, :2]).all():
            raise DataError(f"stroke {i}: coordinates are NaN or infinite", path)
        if np.isinf(arr[:, 2]).any():
            raise DataError(f"stroke {i}: infinite time", path)
        if np.abs(arr[:, :2]).max() > MAX_INK_COORD:
            raise DataError(f"stroke {i}: coordinates beyond +-{MAX_INK_COORD:g}", path)
        out.append(arr)
    if not out:
        raise DataError("no strokes", path)
    if sum(len(s) for s in out) < 2:
        raise DataError("ink has a single point", path)
    return tuple(out)


def seconds_of_unstated_times(strokes: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Strokes whose times are in an unstated unit, with the times in seconds: divided by 1,000
    when the median of the positive steps between neighbouring points of a stroke is at least
    :data:`MILLISECONDS_STEP` (milliseconds), as they are otherwise (seconds, or NaN)."""
    steps = np.concatenate([np.diff(s[:, 2]) for s in strokes])
    steps = steps[steps > 0]  # NaN compares False: untimed points give no steps
    if steps.size == 0 or float(np.median(steps)) < MILLISECONDS_STEP:
        return tuple(strokes)
    return tuple(np.concatenate([s[:, :2], s[:, 2:] / 1000.0], axis=1) for s in strokes)
