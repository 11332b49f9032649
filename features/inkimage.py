"""Ink drawn as a grey image and read column by column: the ``"image"`` feature set.

The normalised ink (:func:`features.ink.normalize_ink`, after the optional deslant) is drawn
with a round pen :data:`PEN_WIDTH` reference heights wide (:func:`draw_paths`, anti-aliased; it
also draws the scanned lines of :mod:`features.inkrender`) on a grid of square pixels
``spacing`` reference heights wide. The grid spans a fixed band of heights
(:data:`IMAGE_BAND`), so every ink has the same number of rows, and the ink's width plus
:data:`IMAGE_MARGIN` on each side. Frame t is pixel column t, from left to right; its features
are the column's ink, 0 (white) to 1 (fully covered by the pen), from the top row down. A model
reads these frames with a convolutional front end (``models.layers.ColumnConv``) before its
BLSTM layers.

With ``reference = "box"`` and ``spacing = 0.05`` a lone digit's box is 20 pixels high inside a
28-row image, as in MNIST; the pen, 0.11 box heights, is then 2.2 pixels wide, about the width of
an MNIST pen line. Ink outside the band is cut off (a text line's strokes beyond 2.5 core
heights above the baseline or 1.5 below it).

Pure NumPy plus Pillow, which draws the lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lstmrec.features.errors import DataError

# The heights the image spans, in reference heights from the baseline (y down): a lone
# character's box is y in [-1, 0]; a text line's core is [-1, 0], ascenders reach about -2 and
# descenders about +1.
IMAGE_BAND = {"box": (-1.2, 0.2), "core": (-2.5, 1.5)}
IMAGE_MARGIN = 0.2  # white space left and right of the ink, in reference heights
PEN_WIDTH = 0.11  # the pen's width in reference heights
MAX_IMAGE_PIXELS = 20_000_000  # larger images are refused before they are drawn
SUPERSAMPLE = 4  # drawn at this many times the size, then averaged down (anti-aliasing)
WHITE, BLACK = 255, 0  # 8-bit grey levels of the page and the pen


def pillow_modules():
    """Pillow's ``Image`` and ``ImageDraw`` modules, or :class:`DataError` when missing."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise DataError(
            "not installed: pip install pillow (a dependency of lstmrec)", "Pillow"
        ) from None
    return Image, ImageDraw


def draw_paths(paths: Sequence[np.ndarray], pen_px: float, size: tuple[int, int]) -> np.ndarray:
    """Pen paths drawn on a white page: uint8 ``(height, width)``, 255 white, 0 the pen.

    ``paths`` are float ``(M_j, 2)`` pixel ``[x, y]`` (pixel edges at integers), drawn with a
    round pen ``pen_px`` pixels wide at :data:`SUPERSAMPLE` times the size and averaged down.
    """
    width, height = size
    image_mod, draw_mod = pillow_modules()
    k = SUPERSAMPLE
    page = image_mod.new("L", (width * k, height * k), WHITE)
    draw = draw_mod.Draw(page)
    inset = pen_px * k / 2 - 0.5  # the pen's radius, less half a pixel (see below)
    line_width = max(1, int(round(pen_px * k)))
    for path in paths:
        # Pillow's integer coordinates are pixel centres; ours are pixel edges.
        points = [(float(x), float(y)) for x, y in path * k - 0.5]
        if len(points) > 1:
            draw.line(points, fill=BLACK, width=line_width)
        # A round pen tip at every point: round ends, round joints (Pillow's own curved
        # joints are computed in Python, point by point, and take most of the time).
        # Pillow's box is inclusive of both ends: inset by half a pixel, the disc is exactly
        # the pen's width across.
        for x, y in points:
            draw.ellipse((x - inset, y - inset, x + inset, y + inset), fill=BLACK)
    # Averaging each k x k block is what a scanner's optics do to the pen's edge.
    grey = page.resize((width, height), image_mod.Resampling.BOX)
    return np.asarray(grey, dtype=np.uint8).copy()  # (height, width)


def image_rows(reference: str, spacing: float) -> int:
    """Rows of the image (the feature dimension) for a reference and pixel size."""
    top, bottom = IMAGE_BAND[reference]
    return max(1, int(round((bottom - top) / spacing)))


def image_grid(
    strokes: Sequence[np.ndarray], reference: str, spacing: float
) -> tuple[np.ndarray, int, int]:
    """``(origin, columns, rows)``: the pixel grid that :func:`image_features` draws normalised
    ``strokes`` on, its top left pixel edge ``[x, y]`` in reference heights and its size."""
    return _grid(np.concatenate([s[:, 0] for s in strokes]), reference, spacing)


def _grid(xs: np.ndarray, reference: str, spacing: float) -> tuple[np.ndarray, int, int]:
    """:func:`image_grid` of ink whose points' x are ``xs``."""
    top, _ = IMAGE_BAND[reference]
    left = float(xs.min()) - IMAGE_MARGIN
    # (less a hair, so that a width of exactly k pixels is k columns despite round-off)
    columns = max(1, int(math.ceil((float(xs.max()) + IMAGE_MARGIN - left) / spacing - 1e-9)))
    return np.array([left, top]), columns, image_rows(reference, spacing)


def image_features(
    strokes: Sequence[np.ndarray], reference: str, spacing: float, max_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel columns of normalised ink drawn as an image.

    Args:
        strokes: ``(N_i, 3)`` ``[x, y, t]`` in reference heights (x from 0, y = 0 on the
            baseline, growing downward).
        reference: ``"box"`` or ``"core"``: chooses the band of :data:`IMAGE_BAND`.
        spacing: the pixel size in reference heights.
        max_frames: ink wider than this many columns is refused.

    Returns:
        ``(features, nearest)``: float32 ``(T, rows)`` ink coverage of each column (top row
        first), and int64 ``(T, 2)`` the (stroke, point) of the point nearest each column's
        centre in x.

    Raises:
        DataError: ink too wide for ``max_frames`` or the pixel limit.
    """
    x = np.concatenate([s[:, 0] for s in strokes])
    origin, columns, rows = _grid(x, reference, spacing)
    if not (columns <= max_frames and columns * rows <= MAX_IMAGE_PIXELS):
        raise DataError(
            f"the ink would be {columns} pixel columns wide (at most {max_frames}): it spans "
            "too much for its own size"
        )
    paths = [(s[:, :2] - origin) / spacing for s in strokes]
    grey = draw_paths(paths, PEN_WIDTH / spacing, (columns, rows))  # (rows, columns) uint8
    feats = (255 - grey.T.astype(np.float32)) / 255.0  # (T, rows): 1 where the pen covers
    # A point nearest each column's centre in x.
    order = np.argsort(x, kind="stable")
    xs = x[order]
    centres = origin[0] + (np.arange(columns) + 0.5) * spacing
    right = np.clip(np.searchsorted(xs, centres), 0, len(xs) - 1)  # the first x >= centre
    left_of = np.maximum(right - 1, 0)
    closer_left = centres - xs[left_of] <= xs[right] - centres
    nearest = order[np.where(closer_left, left_of, right)]
    owner = np.concatenate([np.full(len(s), i) for i, s in enumerate(strokes)])
    within = np.concatenate([np.arange(len(s)) for s in strokes])
    index = np.stack([owner[nearest], within[nearest]], axis=1).astype(np.int64)
    return feats, index
