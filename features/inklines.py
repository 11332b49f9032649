"""Where handwriting sits: its baseline, core line and core height, estimated from the ink.

The approach of on-line recognizers such as NPen++ (Jaeger et al. 2001): the local y-maxima of
the pen trajectory (y grows downward, so these are the bottoms of letters) lie on or near the
baseline, the local y-minima near the core line (the top of a lower-case "x"), apart from
ascenders and descenders. Robust lines through each set give the baseline, the tilt of the line
of text and the core height that :func:`features.ink.normalize_ink` scales by.

Pure NumPy; strokes are ``(N_i, 3)`` float64 ``[x, y, t]`` as in :mod:`features.ink`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

# Extrema of y closer than this fraction of the ink's height to the previous one are tablet
# jitter or a wavy ligature, not the bottom or top of a letter.
EXTREMUM_MIN_SWING = 0.1


def _turning_points(y: np.ndarray, threshold: float) -> list[tuple[int, bool]]:
    """``(index, is_bottom)`` of the alternating extrema of ``y`` that swing >= ``threshold``.

    A zigzag filter: a candidate extremum is confirmed once ``y`` has moved back from it by
    ``threshold``. The stroke's first and last points count when they end a swing, since a
    stroke often starts on the core line and ends on the baseline ("a", "n").
    """
    pivots: list[tuple[int, bool]] = []
    trend, last = 0, 0  # trend +1: y growing (pen going down); last: the running extremum
    for i in range(1, len(y)):
        if trend == 0:
            if abs(y[i] - y[0]) >= threshold:
                trend = 1 if y[i] > y[0] else -1
                pivots.append((0, trend < 0))
                last = i
        elif (y[i] - y[last]) * trend >= 0:
            last = i
        elif abs(y[i] - y[last]) >= threshold:
            pivots.append((last, trend > 0))
            trend, last = -trend, i
    if trend != 0:
        pivots.append((last, trend > 0))
    return pivots


def _local_extrema(strokes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(bottoms, tops)``: ``(K, 2)`` x, y of the local y-maxima and y-minima of all strokes
    (see :func:`_turning_points`; y grows downward, so bottoms are maxima)."""
    height = np.ptp(np.concatenate([s[:, 1] for s in strokes]))
    bottoms, tops = [], []
    for s in strokes:
        for i, is_bottom in _turning_points(s[:, 1], EXTREMUM_MIN_SWING * height):
            (bottoms if is_bottom else tops).append(s[i, :2])
    as_array = lambda pts: np.reshape(np.array(pts, dtype=np.float64), (-1, 2))  # noqa: E731
    return as_array(bottoms), as_array(tops)


def _robust_line(points: np.ndarray, *, envelope: float) -> tuple[float, float] | None:
    """Intercept and slope of ``y = a + b x`` along ``(K, 2)`` points, ignoring outliers.

    Starts from the horizontal line through the median y, then four rounds of: keep the points
    within 2.5 median absolute residuals, least-squares fit to them. Ascenders and descenders
    fall away in the first round. The line is then moved to the ``envelope`` quantile of the
    kept points' residuals: letters reach the baseline or the core line only at their lowest or
    highest, and many extrema (loops, joins, "e", "s") stop short of it. ``None`` with fewer
    than 3 points.
    """
    if len(points) < 3:
        return None
    x, y = points[:, 0], points[:, 1]
    a, b = float(np.median(y)), 0.0
    tiny = 1e-9 * (np.ptp(x) + np.ptp(y))
    keep = np.ones(len(x), dtype=bool)
    for _ in range(4):
        r = np.abs(y - (a + b * x))
        keep = r <= 2.5 * np.median(r) + tiny
        if keep.sum() < 3 or np.ptp(x[keep]) == 0:
            break
        b, a = (float(v) for v in np.polyfit(x[keep], y[keep], 1))
    residual = y - (a + b * x)
    return a + float(np.quantile(residual[keep], envelope)), b


# The quantile of the bottoms' (tops') distances from their fitted line where the baseline
# (core line) is put: y grows downward, so the baseline sits low (0.75) and the core line high.
BASELINE_QUANTILE = 0.75
CORELINE_QUANTILE = 0.25


# Baselines steeper than this (dy / dx) are not a tilted line of text but a fit gone wrong.
MAX_BASELINE_SLOPE = 0.3
# A core zone under this fraction of the ink's height (ascenders and descenders included) means
# the fits latched onto something else; text lines have about 0.25-0.35.
MIN_CORE_FRACTION = 0.15


@dataclasses.dataclass(frozen=True)
class ReferenceLines:
    """Where the writing sits, in the ink's own units (see :func:`reference_lines`)."""

    x0: float  # leftmost x
    x_mid: float  # median x: where y_base and height are measured
    y_base: float  # y of the baseline at x_mid
    height: float  # core height: baseline minus core line (> 0)
    slope: float  # dy / dx of the baseline (a tilted line of text); 0 for the box fallback

    def baseline(self, x: np.ndarray) -> np.ndarray:
        """y of the baseline at each x (same shape as ``x``)."""
        return self.y_base + self.slope * (x - self.x_mid)


def reference_lines(strokes: Sequence[np.ndarray], *, box: bool = False) -> ReferenceLines:
    """Estimate the baseline and the core height of cleaned ink ``(N_i, 3)``.

    Robust lines through the bottoms and the tops (:func:`_local_extrema`); both share the
    mean of their slopes (the line of text's tilt). When they do not give a credible core (a
    single character, a straight line: too few extrema, a core under ``MIN_CORE_FRACTION`` of
    the ink's height measured across the baseline, a slope over ``MAX_BASELINE_SLOPE``), or
    with ``box=True``, the bounding box stands in: baseline = lowest point, height = box height
    (or width for a flat line).
    """
    xy = np.concatenate([s[:, :2] for s in strokes])
    x0 = float(xy[:, 0].min())
    x_mid = float(np.median(xy[:, 0]))
    bottoms, tops = _local_extrema(strokes) if not box else (np.zeros((0, 2)),) * 2
    base = _robust_line(bottoms, envelope=BASELINE_QUANTILE)
    core = _robust_line(tops, envelope=CORELINE_QUANTILE)
    if base is not None and core is not None:
        slope = (base[1] + core[1]) / 2
        y_base = base[0] + base[1] * x_mid
        height = y_base - (core[0] + core[1] * x_mid)
        across = float(np.ptp(xy[:, 1] - slope * xy[:, 0]))  # the ink's height over the tilt
        if abs(slope) <= MAX_BASELINE_SLOPE and height > MIN_CORE_FRACTION * across:
            return ReferenceLines(x0, x_mid, float(y_base), float(height), float(slope))
    yrange = float(np.ptp(xy[:, 1]))
    height = yrange if yrange > 0 else float(np.ptp(xy[:, 0]))
    return ReferenceLines(x0, x_mid, float(xy[:, 1].max()), height, 0.0)
