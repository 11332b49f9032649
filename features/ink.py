"""Pen strokes to normalised feature sequences for on-line handwriting recognition.

Ink everywhere in this project is a list of strokes (pen-down traces), each a float64 array
``(N_i, 3)`` with columns ``[x, y, t]``: x grows to the right, y grows downward (screen and
IAM-OnDB convention), t is in seconds and NaN when the source records no time. Coordinates are
in the source's own units (tablet units, pixels, ...): the chain below makes them irrelevant by
measuring everything in units of the writing's own core height (the height of a lower-case
"x", estimated from the ink).

The chain (:func:`ink_features`):

1. :func:`clean_strokes` (:mod:`features.inkclean`) drops empty strokes, consecutive duplicate
   points and stray points far outside the writing, and rejects ink that is unusable.
2. :func:`normalize_ink` maps the ink so that the baseline (possibly tilted) is y = 0, the
   leftmost point x = 0 and the core height 1; :mod:`features.inklines` estimates them from the
   local y-extrema of the trace (the approach of the NPen++ recognizer, Jaeger et al. 2001),
   or takes the bounding box for lone characters.
3. :func:`estimate_slant` / :func:`deslant` measure the slant from the writing direction of
   near-vertical pen-down segments and shear the ink upright.
4. :func:`resample_strokes` puts points at equal arc-length spacing along each stroke, so the
   frame rate follows the amount of writing, not the tablet's sampling rate or pen speed.
5. :func:`frame_features` turns the points into per-frame features (see ``FEATURE_NAMES``).

``feature_set`` chooses the features: ``"basic"`` (the default, ``FEATURE_NAMES``),
``"graves2009"`` (the 25 per-point features of Graves et al. 2009, :mod:`features.inkrich`) or
``"bezier"`` (one frame per cubic Bézier curve fitted to the ink of step 3, not resampled,
Carbune et al. 2020, :mod:`features.inkbezier`) or ``"image"`` (the ink of step 3 drawn as a
grey image with pixels ``spacing`` wide, one frame per pixel column, :mod:`features.inkimage`).

Pen-up convention of the basic set (shared with the stroke-3 format, :func:`to_stroke3`): every
point is one frame; ``pen_up = 1`` on the last point of each stroke, and the next frame's ``(dx,
dy)`` is the move through the air to the first point of the next stroke.

Pure NumPy; no file formats here (those are in ``lstmrec.features.inkfiles``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lstmrec.features.configs import config_from_dict
from lstmrec.features.errors import DataError
from lstmrec.features.inkbezier import BEZIER_FEATURE_NAMES, bezier_features
from lstmrec.features.inkclean import MAX_INK_COORD, Strokes, clean_strokes
from lstmrec.features.inkimage import image_features, image_rows
from lstmrec.features.inklines import ReferenceLines, reference_lines
from lstmrec.features.inkrich import GRAVES_FEATURE_NAMES, TYPICAL_SPEED, graves_features
from lstmrec.features.stroke3 import from_stroke3, to_stroke3

__all__ = [  # the public names, including those re-exported from inkclean and inklines
    "FEATURE_NAMES", "FEATURE_SETS", "InkFeatureConfig", "MAX_INK_COORD", "MAX_INK_FRAMES",
    "ReferenceLines", "clean_strokes", "deslant", "estimate_slant", "frame_features",
    "from_stroke3", "ink_features", "ink_features_with_index", "ink_point_index",
    "normalize_ink", "reference_lines", "resample_stroke", "resample_strokes", "to_stroke3",
]  # fmt: skip

# Column names of frame_features' output, in order; "y" and "dt" are present only when the
# config asks for them.
FEATURE_NAMES = ("dx", "dy", "y", "pen_up", "sin_dir", "cos_dir", "sin_curv", "cos_curv", "dt")
# The feature sets and their fixed columns (None: "basic", whose columns follow the options, and
# "image": row_0, row_1, ... from the top, as many as the image has rows).
FEATURE_SETS = {"basic": None, "graves2009": GRAVES_FEATURE_NAMES, "bezier": BEZIER_FEATURE_NAMES}
FEATURE_SETS["image"] = None

# Segments within this angle of the vertical are used to measure slant (degrees). Handwriting
# slants rarely exceed 45 degrees; horizontal ligatures beyond it would bias the estimate.
SLANT_WINDOW_DEG = 45.0

# A limit that keeps a small hostile file from asking for gigabytes (with MAX_INK_COORD, of the
# cleaning): ink whose resampled trace would be over MAX_INK_FRAMES frames (a line of
# handwriting is a few thousand at the default spacing, a page of 30 lines under 100,000) is
# refused before any resampled array is allocated.
MAX_INK_FRAMES = 200_000


@dataclasses.dataclass(frozen=True)
class InkFeatureConfig:
    """Everything that determines the feature matrix of an ink; saved beside every model."""

    kind: str = "ink"  # always "ink": tells a saved features.json which modality a model reads
    reference: str = "core"  # "core": scale by the core height between the baseline and the
    # core line found in the writing (text lines); "box": by the bounding box (lone characters)
    spacing: float = 0.2  # resampling step along each stroke, in core heights (or box heights)
    deslant: bool = True  # estimate the slant and shear the writing upright
    y_position: bool = True  # add the height above the baseline (core heights) as a column
    time: bool = False  # add dt (seconds since the previous frame; 0 when the ink has no time)
    outlier: float = 10.0  # drop points farther than this many interquartile ranges (per axis)
    # from the median of the ink, unless reached from it in short steps: stray samples a
    # tablet records while the pen is lifted away
    feature_set: str = "basic"  # one of FEATURE_SETS; y_position and time apply to "basic" only
    # "graves2009": the speed (core heights per second) of ink without time stamps. A bundle
    # saved without this key reads such ink at speed 0, as bundles did before it existed.
    untimed_speed: float = TYPICAL_SPEED

    def __post_init__(self) -> None:
        def positive(v: object, or_zero: bool = False) -> bool:
            number = isinstance(v, int | float) and not isinstance(v, bool)
            return number and math.isfinite(v) and (v > 0 or (or_zero and v == 0))  # type: ignore[arg-type]

        checks = [
            (self.kind == "ink", f"kind={self.kind!r} must be 'ink'"),
            (
                self.reference in ("core", "box"),
                f"reference={self.reference!r} must be 'core' or 'box'",
            ),
            (
                positive(self.spacing),
                f"spacing={self.spacing!r} must be a positive number of core heights",
            ),
            (positive(self.outlier), f"outlier={self.outlier!r} must be a positive number"),
            (
                positive(self.untimed_speed, or_zero=True),
                f"untimed_speed={self.untimed_speed!r} must be a number of core heights per "
                "second, 0 or more",
            ),
            (
                self.feature_set in FEATURE_SETS,
                f"feature_set={self.feature_set!r} must be one of {', '.join(FEATURE_SETS)}",
            ),
            (
                self.feature_set == "basic" or (self.y_position and not self.time),
                f"feature_set={self.feature_set!r} has fixed columns: leave y_position and time "
                "at their defaults",
            ),
        ]
        for name in ("deslant", "y_position", "time"):
            value = getattr(self, name)
            checks.append((isinstance(value, bool), f"{name}={value!r} must be true or false"))
        for ok, message in checks:
            if not ok:
                raise ValueError(f"InkFeatureConfig: {message}")

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the feature columns, in order (for "basic" a subset of ``FEATURE_NAMES``)."""
        if FEATURE_SETS.get(self.feature_set):
            return FEATURE_SETS[self.feature_set]
        if self.feature_set == "image":
            return tuple(f"row_{i}" for i in range(image_rows(self.reference, self.spacing)))
        skip = {"y"} if not self.y_position else set()
        if not self.time:
            skip.add("dt")
        return tuple(n for n in FEATURE_NAMES if n not in skip)

    @property
    def dim(self) -> int:
        """Columns of :func:`ink_features`' output: 8 by default, 9 with ``time``; 25 for
        "graves2009", 10 for "bezier"; for "image" the rows of the image (28 for a box at
        0.05)."""
        return len(self.columns)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InkFeatureConfig:
        """Inverse of :meth:`to_dict`; missing keys take defaults, unknown keys raise ValueError."""
        return config_from_dict(cls, d)


# ---------------------------------------------------------------------------------------------
# Normalisation


def normalize_ink(strokes: Sequence[np.ndarray], *, box: bool = False) -> list[np.ndarray]:
    """Map ink so that the baseline is y = 0 everywhere and the core height is 1.

    Args:
        strokes: cleaned strokes ``(N_i, 3)`` ``[x, y, t]`` (see :func:`clean_strokes`).
        box: use the bounding box instead of the estimated lines (see :func:`reference_lines`).

    Returns:
        New strokes ``(N_i, 3)`` in core heights: x from 0 (leftmost point), y measured from the
        (possibly tilted) baseline at the same x (still growing downward, so the core line is
        near y = -1), t unchanged.
    """
    ref = reference_lines(strokes, box=box)
    out = []
    for s in strokes:
        s = s.copy()
        s[:, 1] = (s[:, 1] - ref.baseline(s[:, 0])) / ref.height
        s[:, 0] = (s[:, 0] - ref.x0) / ref.height
        if not np.isfinite(s[:, :2]).all():
            raise DataError("the ink spans too much for its own size (coordinates overflow)")
        out.append(s)
    return out


# ---------------------------------------------------------------------------------------------
# Slant


def estimate_slant(strokes: Sequence[np.ndarray]) -> float:
    """Slant of the writing: ``k = dx / dy`` of its near-vertical pen-down strokes.

    Each segment between consecutive points votes with its length (so resample first, or the
    tablet's sampling density weights the vote). Segments within ``SLANT_WINDOW_DEG`` of the
    vertical give a first estimate (length-weighted mean angle); a second pass keeps those
    within 15 degrees of it, which removes the pull of round letters and ligatures.

    Args:
        strokes: ``(N_i, 3)`` ``[x, y, t]`` strokes in any units (y downward).

    Returns:
        ``tan`` of the slant angle: x moves by ``-k`` per unit of height going up, so writing
        leaning right has ``k < 0`` (y grows downward). 0.0 when nothing is near vertical.
    """
    d = np.concatenate([np.diff(s[:, :2], axis=0) for s in strokes if len(s) > 1] or [[]])
    if d.size == 0:
        return 0.0
    d = d.reshape(-1, 2)
    length = np.hypot(d[:, 0], d[:, 1])
    # Angle from the vertical, independent of the direction of travel: atan(dx / dy).
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.degrees(np.arctan(d[:, 0] / d[:, 1]))
    ok = np.isfinite(angle) & (length > 0)
    estimate = 0.0
    for window in (SLANT_WINDOW_DEG, 15.0):
        use = ok & (np.abs(angle - estimate) < window)
        if not use.any():
            return float(np.tan(np.radians(estimate)))
        estimate = float(np.average(angle[use], weights=length[use]))
    return float(np.tan(np.radians(estimate)))


def deslant(strokes: Sequence[np.ndarray], slant: float) -> list[np.ndarray]:
    """Shear ink upright: ``x' = x - slant * y`` (``slant`` from :func:`estimate_slant`).

    ``(N_i, 3)`` in, ``(N_i, 3)`` out; y and t unchanged. Points on y = 0 (the baseline after
    :func:`normalize_ink`) do not move.
    """
    out = []
    for s in strokes:
        s = s.copy()
        s[:, 0] -= slant * s[:, 1]
        out.append(s)
    return out


# ---------------------------------------------------------------------------------------------
# Resampling


def resample_stroke(stroke: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Points at equal arc length along one stroke.

    Args:
        stroke: ``(N, 3)`` ``[x, y, t]`` without repeated points (see :func:`clean_strokes`).
        spacing: wanted distance between points along the trace, in the stroke's units.

    Returns:
        ``(points, nearest)``: ``(M, 3)`` with the first and last points kept and
        ``M - 1 = max(1, round(length / spacing))`` equal steps of ``length / (M - 1)`` along the
        trace (t interpolated linearly; NaN stays NaN), and ``(M,)`` int, the index in
        ``stroke`` of the input point nearest along the trace to each output point. A single
        point stays a single point (a dot).
    """
    if len(stroke) == 1:
        return stroke.copy(), np.zeros(1, dtype=np.int64)
    step = np.hypot(*np.diff(stroke[:, :2], axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(step)])
    n = max(1, int(round(s[-1] / spacing)))
    target = np.linspace(0.0, s[-1], n + 1)
    points = np.stack([np.interp(target, s, stroke[:, c]) for c in range(3)], axis=1)
    seg = np.clip(np.searchsorted(s, target, side="right") - 1, 0, len(s) - 2)
    nearest = np.where(target - s[seg] <= s[seg + 1] - target, seg, seg + 1)
    return points, nearest


def resample_strokes(
    strokes: Sequence[np.ndarray], spacing: float, *, max_frames: int = MAX_INK_FRAMES
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """:func:`resample_stroke` on every stroke: ``(points list, nearest-index list)``.

    Raises:
        DataError: the result would have more than ``max_frames`` points (checked from the
        strokes' lengths before anything is allocated).
    """
    lengths = np.array([np.hypot(*np.diff(s[:, :2], axis=0).T).sum() for s in strokes])
    with np.errstate(over="ignore", invalid="ignore"):
        steps = lengths / spacing
    total = float(np.sum(steps)) + 2 * len(strokes)  # an upper bound of the points made
    if not np.isfinite(total) or total > max_frames:
        raise DataError(
            f"the ink's trace is {lengths.sum():.3g} core heights long: about {total:.3g} "
            f"frames at spacing {spacing:g}, over the limit of {max_frames} (coordinates span "
            "far more than the writing's size)"
        )
    pairs = [resample_stroke(s, spacing) for s in strokes]
    return [p for p, _ in pairs], [n for _, n in pairs]


# ---------------------------------------------------------------------------------------------
# Features


def frame_features(strokes: Sequence[np.ndarray], config: InkFeatureConfig) -> np.ndarray:
    """Per-point features of normalised, resampled ink.

    Args:
        strokes: ``(N_i, 3)`` ``[x, y, t]`` strokes in core heights (see :func:`normalize_ink`).
        config: chooses the set and the optional columns.

    Returns:
        float32 ``(T, config.dim)``, columns ``config.columns``. "graves2009": see
        :func:`features.inkrich.graves_features`; "bezier": a frame per curve fitted to these
        points (:func:`features.inkbezier.bezier_features`). "basic": ``T = sum(N_i)``,
        ``dx, dy`` the move from the previous point (0 for the first; the move through the air
        for the first point of a later stroke), ``y`` height above the baseline, ``pen_up`` 1 on
        the last point of each stroke, ``sin_dir, cos_dir`` the direction of that move (both 0
        for a zero move), ``sin_curv, cos_curv`` the turn from the previous move's direction
        (0, 1 when either move is zero), ``dt`` seconds since the previous point (0 when unknown).
    """
    if config.feature_set == "graves2009":
        return graves_features(strokes, spacing=config.spacing, untimed_speed=config.untimed_speed)
    if config.feature_set == "bezier":
        return bezier_features(strokes, max_points=MAX_INK_FRAMES)[0]
    if config.feature_set == "image":
        return image_features(strokes, config.reference, config.spacing, MAX_INK_FRAMES)[0]
    points = np.concatenate(strokes)  # (T, 3)
    pen_up = np.concatenate([np.eye(1, len(s), len(s) - 1)[0] for s in strokes])
    d = np.diff(points[:, :2], axis=0, prepend=points[:1, :2])  # (T, 2)
    norm = np.hypot(d[:, 0], d[:, 1])
    safe = np.where(norm > 0, norm, 1.0)
    cos_dir, sin_dir = d[:, 0] / safe, d[:, 1] / safe
    # Turn between consecutive directions: cos/sin of the angle difference.
    cos_prev = np.concatenate([[0.0], cos_dir[:-1]])
    sin_prev = np.concatenate([[0.0], sin_dir[:-1]])
    moved = (norm > 0) & (np.concatenate([[0.0], norm[:-1]]) > 0)
    cos_curv = np.where(moved, cos_dir * cos_prev + sin_dir * sin_prev, 1.0)
    sin_curv = np.where(moved, sin_dir * cos_prev - cos_dir * sin_prev, 0.0)
    dt = np.diff(points[:, 2], prepend=points[0, 2])
    columns = {
        "dx": d[:, 0],
        "dy": d[:, 1],
        "y": -points[:, 1],
        "pen_up": pen_up,
        "sin_dir": sin_dir,
        "cos_dir": cos_dir,
        "sin_curv": sin_curv,
        "cos_curv": cos_curv,
        "dt": np.where(np.isfinite(dt), dt, 0.0),
    }
    return np.stack([columns[c] for c in config.columns], axis=1).astype(np.float32)


def normalized_ink(
    strokes: Strokes, config: InkFeatureConfig
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(ink, kept)``: the strokes cleaned, normalised and, with ``config.deslant``, sheared
    upright, as every feature set reads them, and the (stroke, point) index in ``strokes`` of
    each of their points (see :func:`clean_strokes`); :class:`DataError` for unusable ink."""
    cleaned, kept = clean_strokes(strokes, outlier=config.outlier)
    ink = normalize_ink(cleaned, box=config.reference == "box")
    if config.deslant:
        # Measure on an evenly spaced copy so every stretch of writing weighs the same, then
        # shear the original points; resampling after the shear keeps the spacing exact.
        even, _ = resample_strokes(ink, config.spacing)
        ink = deslant(ink, estimate_slant(even))
    return ink, kept


def ink_features_with_index(
    strokes: Strokes, config: InkFeatureConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The whole chain: clean, normalise, deslant, resample, features.

    Args:
        strokes: list of ``(N_i, 3)`` float arrays ``[x, y, t]`` (x right, y down, t seconds or
            NaN), any units and position.
        config: the feature settings.

    Returns:
        ``(features, index)``: float32 ``(T, config.dim)`` (see :func:`frame_features`) and int64
        ``(T, 2)``, for each frame the (stroke, point) index in ``strokes`` of the input point
        nearest to it along the trace, so a recogniser can map frames back to the pen ("bezier":
        of the first point of the frame's curve; the curves are fitted before resampling;
        "image": of a point nearest the pixel column in x).

    Raises:
        DataError: unusable ink (no points, a single point, NaN or infinite coordinates); the
        message has no path, callers add it.
    """
    ink, kept = normalized_ink(strokes, config)
    if config.feature_set in ("bezier", "image"):
        if config.feature_set == "bezier":
            feats, first = bezier_features(ink, max_points=MAX_INK_FRAMES)
        else:
            feats, first = image_features(ink, config.reference, config.spacing, MAX_INK_FRAMES)
        offset = np.cumsum([0, *map(len, kept)])  # where each stroke starts in the flat index
        return feats, np.concatenate(kept)[offset[first[:, 0]] + first[:, 1]].astype(np.int64)
    resampled, nearest = resample_strokes(ink, config.spacing)
    index = np.concatenate([k[n] for k, n in zip(kept, nearest, strict=True)])
    return frame_features(resampled, config), index.astype(np.int64)


def ink_features(strokes: Strokes, config: InkFeatureConfig) -> np.ndarray:
    """Feature matrix float32 ``(T, config.dim)`` of ink; see :func:`ink_features_with_index`."""
    return ink_features_with_index(strokes, config)[0]


def ink_point_index(strokes: Strokes, config: InkFeatureConfig) -> np.ndarray:
    """int64 ``(T, 2)`` (stroke, point) in ``strokes`` of each frame of :func:`ink_features`."""
    return ink_features_with_index(strokes, config)[1]
