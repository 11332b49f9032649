"""The on-line and pseudo off-line features of Graves et al. 2009, per resampled pen point.

Graves, Liwicki, Fernández, Bertolami, Bunke & Schmidhuber 2009 ("A novel connectionist system
for unconstrained handwriting recognition", IEEE TPAMI 31(5)) fed their BLSTM-CTC recogniser 25
features per point of normalised, resampled ink, the set of Liwicki & Bunke (2007, after
Jaeger et al.'s NPen++, 2001). ``feature_set = "graves2009"`` of
:class:`lstmrec.features.ink.InkFeatureConfig` computes them on the points of the project's own
chain (cleaned, normalised to core heights, deslanted, resampled at ``spacing``), so the frames
are the same as those of the basic set. Coordinates here are in core heights with y *up*
(height above the baseline; the core line is near y = 1).

=================  ==========================================================================
column             value at point k
=================  ==========================================================================
``pen_up``         1 on the last point of each stroke (the next point starts a new stroke)
``hat``            1 where a delayed stroke lies over earlier writing: on the points of the
                   delayed stroke and on the earlier points at its horizontal position (see
                   :func:`delayed_strokes`)
``speed``          pen speed over the step ending at k (the first step of a stroke for its
                   first point), from the time stamps interpolated along the trace, core
                   heights per second, clipped to ``SPEED_MAX``; ink without time stamps is
                   read as written at a steady ``untimed_speed`` (see below)
``x``              x minus its moving average over ``HIGHPASS_HALF_WIDTH`` core heights of
                   trace on either side (the high-pass filtered x)
``y``              height above the baseline
``cos_dir``,       writing direction: the segment from k to the next point of its stroke (from
``sin_dir``        the previous one at a stroke's end); 0, 0 for a lone point
``cos_curv``,      curvature: the turn from the segment (k-1, k) to the segment (k, k+1); 1, 0
``sin_curv``       at the ends of a stroke
``aspect``         vicinity aspect ``(Δy - Δx) / (Δy + Δx)`` of the bounding box of the
                   vicinity: the points of k's stroke within ``n`` points of it (see below)
``cos_slope``,     vicinity slope: direction of the straight line from the first to the last
``sin_slope``      vicinity point (0, 0 when they coincide)
``curliness``      length of the trace in the vicinity divided by ``max(Δx, Δy)``
``linearity``      mean squared distance of the vicinity points from the straight line
                   through its first and last point (core heights squared)
``ascenders``      ink length above the core line (y > ``ASCENDER_LEVEL``) within
                   ``ASCENDER_HALF_WIDTH`` horizontally of k, core heights
``descenders``     the same below the baseline (y < ``DESCENDER_LEVEL``)
``ctx_0..ctx_8``   context map: ink length in each cell of a 3 x 3 grid of
                   ``CONTEXT_CELL``-sized cells centred on k (row by row, top left first),
                   from the line rendered as a grid of ``CONTEXT_CELL / 3`` pixels
=================  ==========================================================================

The vicinity of k has ``n = ceil(VICINITY_HALF_WIDTH / spacing)`` points on each side (at
most ``VICINITY_MAX_POINTS``). Lengths of ink are point counts times ``spacing``, so the
off-line columns measure the same at every resampling step.

Ink without time stamps (stroke-3 files, much InkML and JSON) has no speed to measure. It is
read as if written at the steady ``untimed_speed`` of the configuration, by default
``TYPICAL_SPEED``: the mean of the speed column over ``en-ink``'s timed training lines. A
column stuck at 0, the earlier reading, lies far outside what a model trained on timed ink
has seen (2.5 standard deviations below the mean), and costs it accuracy.

Where this departs from the papers: the delayed strokes are kept in the trace (Liwicki & Bunke
removed them and kept only the hat), so ``hat`` also marks the delayed stroke's own points;
delayed strokes are found by the rule of :func:`delayed_strokes`, not by their exact heuristics
(which the papers do not spell out); the window sizes above are this project's choices; the
"rendered line" of the off-line features is the histogram of the resampled points, not an
image drawn with a pen width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lstmrec.features.errors import DataError

GRAVES_FEATURE_NAMES = (
    "pen_up", "hat", "speed", "x", "y", "cos_dir", "sin_dir", "cos_curv", "sin_curv",
    "aspect", "cos_slope", "sin_slope", "curliness", "linearity", "ascenders", "descenders",
    *(f"ctx_{i}" for i in range(9)),
)  # fmt: skip

VICINITY_HALF_WIDTH = 0.5  # core heights of trace on either side of a point (NPen++'s vicinity)
VICINITY_MAX_POINTS = 20  # points on either side, whatever the spacing (bounds memory)
HIGHPASS_HALF_WIDTH = 2.0  # core heights of trace on either side in the moving average of x
SPEED_MAX = 100.0  # core heights per second; tablets that repeat a time stamp make spikes
# The speed of ink without time stamps, core heights per second: the mean of the speed column
# over en-ink's training lines (18.2; its cmvn.npz).
TYPICAL_SPEED = 18.0
ASCENDER_LEVEL = 1.5  # core heights: half a core height above the core line
DESCENDER_LEVEL = -0.5  # half a core height below the baseline
ASCENDER_HALF_WIDTH = 0.5  # core heights on either side of a point that count
CONTEXT_CELL = 0.5  # side of a context-map cell, core heights (the map spans 1.5 x 1.5)
# Delayed strokes (i-dots, t-bars, accents written after their word): short strokes ...
DELAYED_MAX_LENGTH = 2.0  # ... of at most this trace length (core heights) ...
DELAYED_BACK = 0.5  # ... that start this far left of the rightmost earlier ink ...
DELAYED_RISE = 0.1  # ... with a mean height this much above the earlier ink below them ...
HAT_LOOKBACK = 50  # ... among the strokes written at most this many strokes before them
_MAX_PIXELS = 2**30  # pixels of the context-map grid along either axis


def graves_features(
    strokes: Sequence[np.ndarray], *, spacing: float, untimed_speed: float = TYPICAL_SPEED
) -> np.ndarray:
    """The 25 features of ``GRAVES_FEATURE_NAMES`` for every point of resampled ink.

    Args:
        strokes: ``(N_i, 3)`` ``[x, y, t]`` strokes in core heights, y down (as
            :func:`lstmrec.features.ink.normalize_ink` gives them), resampled at ``spacing``;
            t in seconds or NaN.
        spacing: the resampling step, core heights: sets the window sizes in points and the
            length each point stands for.
        untimed_speed: the speed of steps without time stamps (t NaN), core heights per
            second.

    Returns:
        float32 ``(T, 25)``, ``T = sum(N_i)``, columns ``GRAVES_FEATURE_NAMES``.

    Raises:
        DataError: the ink spans too far for the context-map grid.
    """
    points = np.concatenate(strokes)  # (T, 3)
    xy = np.stack([points[:, 0], -points[:, 1]], axis=1)  # (T, 2), y up
    start, end = _stroke_bounds(strokes)
    n = min(VICINITY_MAX_POINTS, max(1, math.ceil(VICINITY_HALF_WIDTH / spacing)))
    m = max(1, math.ceil(HIGHPASS_HALF_WIDTH / spacing))
    pen_up = (np.arange(len(xy)) == end).astype(np.float64)
    columns = [
        pen_up[:, None],
        hat_feature(strokes)[:, None],
        _speed(xy, points[:, 2], start, untimed_speed)[:, None],
        (xy[:, 0] - _moving_average(xy[:, 0], m))[:, None],
        xy[:, 1:2],
        _direction_curvature(xy, start, end),
        _vicinity(xy, start, end, n),
        _ascenders_descenders(xy, spacing),
        context_map(xy, spacing),
    ]
    return np.concatenate(columns, axis=1).astype(np.float32)


def _stroke_bounds(strokes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the index of the first and of the last point of its stroke: ``(T,)``."""
    lengths = np.array([len(s) for s in strokes])
    first = np.cumsum(lengths) - lengths
    return np.repeat(first, lengths), np.repeat(first + lengths - 1, lengths)


def delayed_strokes(strokes: Sequence[np.ndarray]) -> np.ndarray:
    """Which strokes are delayed strokes: bool ``(S,)``.

    A stroke is delayed when its trace is at most ``DELAYED_MAX_LENGTH`` core heights long, it
    starts at least ``DELAYED_BACK`` left of the rightmost point written before it (within
    ``HAT_LOOKBACK`` strokes: the pen went back), and its mean height is at least
    ``DELAYED_RISE`` above the mean height of the earlier ink in its x-range: an i-dot over
    its stem, a t-bar over the letters it crosses, added after the word. The first stroke
    never is. ``strokes``: ``(N_i, 3)`` in core heights, y down.
    """
    out = np.zeros(len(strokes), dtype=bool)
    for j in range(1, len(strokes)):
        s = strokes[j]
        if np.hypot(*np.diff(s[:, :2], axis=0).T).sum() > DELAYED_MAX_LENGTH:
            continue
        earlier = np.concatenate(strokes[max(0, j - HAT_LOOKBACK) : j])
        if s[0, 0] > earlier[:, 0].max() - DELAYED_BACK:
            continue
        under = (earlier[:, 0] >= s[:, 0].min()) & (earlier[:, 0] <= s[:, 0].max())
        # y is down: "above" is a smaller y.
        out[j] = under.any() and earlier[under, 1].mean() - s[:, 1].mean() >= DELAYED_RISE
    return out


def hat_feature(strokes: Sequence[np.ndarray]) -> np.ndarray:
    """float64 ``(T,)``: 1 on the points of delayed strokes (:func:`delayed_strokes`) and on
    the points written before each (within ``HAT_LOOKBACK`` strokes) in its x-range, else 0."""
    lengths = [len(s) for s in strokes]
    first = np.cumsum(lengths) - lengths
    hat = np.zeros(sum(lengths))
    for j in np.flatnonzero(delayed_strokes(strokes)):
        hat[first[j] : first[j] + lengths[j]] = 1.0
        lo, hi = strokes[j][:, 0].min(), strokes[j][:, 0].max()
        for i in range(max(0, j - HAT_LOOKBACK), j):
            x = strokes[i][:, 0]
            hat[first[i] : first[i] + lengths[i]][(x >= lo) & (x <= hi)] = 1.0
    return hat


def _speed(xy: np.ndarray, t: np.ndarray, start: np.ndarray, untimed: float) -> np.ndarray:
    """Speed ``(T,)`` over the step ending at each point (the next step for a stroke's first
    point); ``untimed`` where a time stamp is missing, 0 where they do not increase."""
    step = np.hypot(*np.diff(xy, axis=0, prepend=xy[:1]).T)
    dt = np.diff(t, prepend=t[:1])
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = np.where(np.isnan(dt), untimed, np.where(dt > 0, step / dt, 0.0))
    first = np.flatnonzero(np.arange(len(xy)) == start)
    inside = first + 1 < len(xy)
    inside[inside] &= start[first[inside] + 1] == first[inside]  # the stroke has a next point
    speed[first] = 0.0
    speed[first[inside]] = speed[first[inside] + 1]
    return np.clip(speed, 0.0, SPEED_MAX)


def _moving_average(v: np.ndarray, m: int) -> np.ndarray:
    """Mean of ``v[k - m .. k + m]`` (the part inside the array) for each k: ``(T,)``."""
    c = np.concatenate([[0.0], np.cumsum(v)])
    k = np.arange(len(v))
    lo, hi = np.maximum(k - m, 0), np.minimum(k + m + 1, len(v))
    return (c[hi] - c[lo]) / (hi - lo)


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cos, sin)`` of the direction of each row of ``v`` ``(T, 2)``; 0, 0 for a zero row."""
    norm = np.hypot(v[:, 0], v[:, 1])
    safe = np.where(norm > 0, norm, 1.0)
    return v[:, 0] / safe, v[:, 1] / safe


def _direction_curvature(xy: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``(T, 4)``: cos_dir, sin_dir, cos_curv, sin_curv (see the module's table)."""
    k = np.arange(len(xy))
    incoming = xy - xy[np.maximum(k - 1, start)]  # (T, 2), zero at a stroke's first point
    outgoing = xy[np.minimum(k + 1, end)] - xy  # (T, 2), zero at a stroke's last point
    at_end = (k == end)[:, None]
    cos_dir, sin_dir = _unit(np.where(at_end, incoming, outgoing))
    cos_in, sin_in = _unit(incoming)
    cos_out, sin_out = _unit(outgoing)
    both = (k != start) & (k != end)
    cos_curv = np.where(both, cos_in * cos_out + sin_in * sin_out, 1.0)
    sin_curv = np.where(both, cos_in * sin_out - sin_in * cos_out, 0.0)
    return np.stack([cos_dir, sin_dir, cos_curv, sin_curv], axis=1)


def _vicinity(xy: np.ndarray, start: np.ndarray, end: np.ndarray, n: int) -> np.ndarray:
    """``(T, 5)``: aspect, cos_slope, sin_slope, curliness, linearity over the vicinity of each
    point (its stroke's points within ``n`` of it)."""
    k = np.arange(len(xy))[:, None]
    want = k + np.arange(-n, n + 1)[None, :]  # (T, 2n+1)
    inside = (want >= start[:, None]) & (want <= end[:, None])
    # Outside the stroke the window repeats the stroke's end point: the bounding box, the
    # chord and the trace length do not change; the mean below counts inside points only.
    win = xy[np.clip(want, start[:, None], end[:, None])]  # (T, 2n+1, 2)
    dx, dy = np.ptp(win[..., 0], axis=1), np.ptp(win[..., 1], axis=1)
    extent = dx + dy
    aspect = np.where(extent > 0, (dy - dx) / np.where(extent > 0, extent, 1.0), 0.0)
    chord = win[:, -1] - win[:, 0]  # (T, 2)
    cos_slope, sin_slope = _unit(chord)
    length = np.hypot(*np.diff(win, axis=1).transpose(2, 0, 1)).sum(axis=1)
    widest = np.maximum(dx, dy)
    curliness = np.where(widest > 0, length / np.where(widest > 0, widest, 1.0), 0.0)
    rel = win - win[:, :1]  # (T, 2n+1, 2) from the first vicinity point
    chord_len = np.hypot(chord[:, 0], chord[:, 1])[:, None]
    cross = np.abs(rel[..., 0] * chord[:, None, 1] - rel[..., 1] * chord[:, None, 0])
    dist = np.where(
        chord_len > 0, cross / np.where(chord_len > 0, chord_len, 1.0), np.hypot(*rel.T).T
    )
    linearity = (dist**2 * inside).sum(axis=1) / inside.sum(axis=1)
    return np.stack([aspect, cos_slope, sin_slope, curliness, linearity], axis=1)


def _ascenders_descenders(xy: np.ndarray, spacing: float) -> np.ndarray:
    """``(T, 2)``: ink length above ``ASCENDER_LEVEL`` and below ``DESCENDER_LEVEL`` within
    ``ASCENDER_HALF_WIDTH`` horizontally of each point."""
    out = []
    for mask in (xy[:, 1] > ASCENDER_LEVEL, xy[:, 1] < DESCENDER_LEVEL):
        x = np.sort(xy[mask, 0])
        lo = np.searchsorted(x, xy[:, 0] - ASCENDER_HALF_WIDTH, side="left")
        hi = np.searchsorted(x, xy[:, 0] + ASCENDER_HALF_WIDTH, side="right")
        out.append((hi - lo) * spacing)
    return np.stack(out, axis=1)


def context_map(xy: np.ndarray, spacing: float) -> np.ndarray:
    """The 3 x 3 context map of every point: float64 ``(T, 9)``, ink length (core heights).

    The points ``xy`` ``(T, 2)`` (core heights, y up) are counted into a grid of pixels of
    ``CONTEXT_CELL / 3``; cell ``(r, c)`` of a point's map sums the 3 x 3 pixels whose centre
    pixel is ``(r - 1, c - 1)`` cells from the point's own pixel (rows from the top). The grid
    is kept sparse (only pixels with ink), so its size follows the number of points.
    """
    pixel = CONTEXT_CELL / 3
    lo = xy.min(axis=0)
    if ((xy.max(axis=0) - lo) / pixel >= _MAX_PIXELS).any():
        raise DataError("the ink spans too far for its own size (context map)")
    ij = np.floor((xy - lo) / pixel).astype(np.int64) + 4  # (T, 2) >= 4: room for offsets
    height = int(ij[:, 1].max()) + 5
    keys = ij[:, 0] * height + ij[:, 1]
    pixels, counts = np.unique(keys, return_counts=True)
    out = np.zeros((len(xy), 9))
    for r, oy in enumerate((3, 0, -3)):  # rows top to bottom: y up, so +3 pixels first
        for c, ox in enumerate((-3, 0, 3)):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    want = keys + (ox + dx) * height + (oy + dy)
                    pos = np.minimum(np.searchsorted(pixels, want), len(pixels) - 1)
                    out[:, 3 * r + c] += np.where(pixels[pos] == want, counts[pos], 0)
    return out * spacing
