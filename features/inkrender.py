"""Pen strokes drawn as a scanned line image: what an off-line (image) recognizer would see.

The ink is cleaned as the on-line features clean it (:func:`features.ink.clean_strokes`: stray
points and empty strokes go), scaled so that its core height (the height of a lower-case "x",
:func:`features.inklines.reference_lines`) spans ``core_height_px`` pixels, and drawn in black
on a white page with a round pen ``pen_width`` core heights wide, inside a white margin of
``margin`` core heights. Nothing else changes: the slant, the tilt of the line and the spacing
stay as written, and the image carries no time stamps, pen lifts or stroke order.

The defaults imitate a 300 dpi scan of ordinary handwriting: an x-height of about 2.7 mm is 32
pixels at 300 dpi, and a ballpoint line of about 0.35 mm is 4 pixels. Edges are anti-aliased
the way a scanner's optics blur them: the line is drawn at ``features.inkimage.SUPERSAMPLE``
times the size and averaged down (:func:`features.inkimage.draw_paths`), so a pixel the pen
only partly covers is grey.

Pure NumPy and Pillow (imported on first use).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from lstmrec.features.errors import DataError
from lstmrec.features.ink import clean_strokes
from lstmrec.features.inkimage import draw_paths, pillow_modules
from lstmrec.features.inklines import reference_lines

CORE_HEIGHT_PX = 32.0  # pixels of the core height: a 2.7 mm x-height scanned at 300 dpi
PEN_WIDTH = 0.125  # pen width in core heights: 4 px at 32 px, a 0.35 mm ballpoint at 300 dpi
X_HEIGHT_MM = 2.7  # the x-height of ordinary handwriting on paper, for the resolution in the PNG
MARGIN = 1.0  # white margin around the ink (pen width included), in core heights
# Larger images are refused (a line at 32 px core height has well under a million pixels; this
# one is drawn at features.inkimage.SUPERSAMPLE ** 2 times the size first): the ink spans too
# much for its core.
MAX_PIXELS = 4_000_000


def ink_placement(
    strokes: Sequence[np.ndarray],
    *,
    core_height: float | None = None,
    core_height_px: float = CORE_HEIGHT_PX,
    pen_width: float = PEN_WIDTH,
    margin: float = MARGIN,
) -> tuple[list[np.ndarray], float, tuple[int, int]]:
    """Where :func:`render_ink` puts the pen: the cleaned trajectories in pixel coordinates,
    the pen width in pixels and the image size.

    Args:
        strokes: ``(N_i, 2)`` or ``(N_i, 3)`` arrays ``[x, y(, t)]``, y down, any units.
        core_height: the core height in ink units; estimated from the ink when None.
        core_height_px, pen_width, margin: see the module docstring (the last two in core
            heights).

    Returns:
        ``(paths, pen_px, (width, height))``: float64 ``(M_j, 2)`` pixel ``[x, y]`` of each
        cleaned stroke (x right, y down, pixel centres at integer + 0.5), the pen width in
        pixels (at least 1), and the image size in pixels. The ink's extent plus half the pen on
        each side starts ``margin * core_height_px`` pixels from every edge.

    Raises:
        DataError: ink :func:`features.ink.clean_strokes` refuses, a non-positive setting, or
            an image of more than :data:`MAX_PIXELS`.
    """
    for name, value in (("core_height_px", core_height_px), ("pen_width", pen_width)):
        if not value > 0:
            raise DataError(f"{name} must be positive, got {value}")
    if not margin >= 0:
        raise DataError(f"margin must be at least 0, got {margin}")
    cleaned, _ = clean_strokes(strokes)
    if core_height is None:
        core_height = reference_lines(cleaned).height
    if not core_height > 0:
        raise DataError(f"core height must be positive, got {core_height}")
    scale = core_height_px / core_height  # pixels per ink unit
    pen_px = max(1.0, round(pen_width * core_height_px))
    xy = np.concatenate([s[:, :2] for s in cleaned])  # (N, 2) every kept point
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    offset = margin * core_height_px + pen_px / 2  # from the page edge to the extreme point
    size = np.ceil((hi - lo) * scale + 2 * offset)  # (width, height), float64
    if not float(size[0]) * float(size[1]) <= MAX_PIXELS:  # inf and NaN included
        raise DataError(
            f"the ink would be a {size[0]:.0f} x {size[1]:.0f} pixel image (over "
            f"{MAX_PIXELS:,} pixels): it spans too much for its core height"
        )
    paths = [(s[:, :2] - lo) * scale + offset for s in cleaned]
    return paths, float(pen_px), (int(size[0]), int(size[1]))


def render_ink(
    strokes: Sequence[np.ndarray],
    *,
    core_height: float | None = None,
    core_height_px: float = CORE_HEIGHT_PX,
    pen_width: float = PEN_WIDTH,
    margin: float = MARGIN,
) -> np.ndarray:
    """A line of ink as a scanned grey image.

    Arguments as in :func:`ink_placement`. Returns uint8 ``(height, width)``: 255 is the white
    page, 0 the black pen, grey levels between them on the edges of the line.
    """
    paths, pen_px, (width, height) = ink_placement(
        strokes,
        core_height=core_height,
        core_height_px=core_height_px,
        pen_width=pen_width,
        margin=margin,
    )
    return draw_paths(paths, pen_px, (width, height))


def png_bytes(image: np.ndarray, *, dpi: float | None = None) -> bytes:
    """``(height, width)`` uint8 grey image as PNG file bytes; ``dpi`` is recorded in the file
    (a reader that sizes text by resolution, such as Tesseract, then knows the scale)."""
    image_mod, _ = pillow_modules()
    out = io.BytesIO()
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    image_mod.fromarray(np.asarray(image, dtype=np.uint8)).save(out, "PNG", **extra)
    return out.getvalue()


def scan_dpi(core_height_px: float = CORE_HEIGHT_PX) -> int:
    """The scan resolution, dots per inch rounded to 10, at which an x-height of
    :data:`X_HEIGHT_MM` spans ``core_height_px`` pixels (300 for the default 32)."""
    return max(10, int(round(core_height_px * 25.4 / X_HEIGHT_MM / 10.0)) * 10)
