"""A page of ink into its lines of writing.

A recognizer of lines reads a page written in several lines as one long line, and gets little
of it right. People write a page line by line, so the strokes in the order they were written
tell where a line ends: the pen goes back to the left part of the line it was writing and well
below it. :func:`split_lines` cuts the strokes there, and only there.

The rule is kept conservative, because a single line cut in two reads worse than a page left
whole: a new line needs some text before it (:data:`MIN_LINE_WIDTH`), a return to the left part
of the line (:data:`RETURN_SHARE`), and a step down of more than the writing's typical stroke
height (:data:`LINE_STEP`). Strokes added later inside a line (i dots, t bars, corrections)
go left but not down, and stay in their line. Lines written in another order (bottom up, or
a stroke added to an earlier line after a later one was begun) are not untangled.

No library for this was found among the well-kept Python packages: those that segment pages
(OCR engines) read pixels, not pen strokes in time order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The writing's typical height: the median of its strokes' heights, each stroke counted once
# per point, so dots and short marks weigh little. The current line must be this many typical
# heights wide before a new one may begin...
MIN_LINE_WIDTH = 4.0
# ... and a new line begins left of this share of the current line's width, from its left end,
RETURN_SHARE = 0.5
# with its first stroke's top below this share of the current line's points, that stroke's
# middle this many typical heights below the middle of the line's points, and the stroke at
# least this many typical heights tall (a letter, not a dot, comma or bar added later).
BELOW_SHARE = 0.9
LINE_STEP = 1.0
FIRST_STROKE_HEIGHT = 0.5


def typical_height(strokes: Sequence[np.ndarray]) -> float:
    """The median stroke height, each stroke counted once per point."""
    heights = np.concatenate([np.full(len(s), np.ptp(s[:, 1])) for s in strokes])
    return float(np.median(heights))


def split_lines(strokes: Sequence[np.ndarray]) -> list[list[int]]:
    """The indices of the strokes of each line of writing, in writing order.

    ``strokes``: ``(N_i, >=2)`` arrays of ``[x, y, ...]`` points, y down, in the order they
    were written. Ink whose strokes have no height (dots, flat lines) is one line."""
    height = typical_height(strokes)
    lines = [[0]]
    left, right = strokes[0][:, 0].min(), strokes[0][:, 0].max()
    ys = [strokes[0][:, 1]]
    for i in range(1, len(strokes)):
        x0, y0, y1 = strokes[i][:, 0].min(), strokes[i][:, 1].min(), strokes[i][:, 1].max()
        begins = (
            height > 0
            and right - left >= MIN_LINE_WIDTH * height
            and x0 < left + RETURN_SHARE * (right - left)
            and y1 - y0 >= FIRST_STROKE_HEIGHT * height
        )
        if begins:  # the line's points are sorted only when the pen went back left
            middle, below = np.percentile(np.concatenate(ys), [50, 100 * BELOW_SHARE])
            begins = y0 > below and (y0 + y1) / 2 - middle > LINE_STEP * height
        if begins:
            # Marks just before it (a T's bar, an opening quote) that went back left and lie
            # nearer the new line than the old begin it too.
            new_middle, start = (y0 + y1) / 2, i
            while len(lines[-1]) > 1 and lines[-1][-1] == start - 1:
                mark = strokes[start - 1]
                if not (
                    mark[:, 0].min() < left + RETURN_SHARE * (right - left)
                    and np.ptp(mark[:, 1]) / 2 + mark[:, 1].min() - middle
                    > (new_middle - middle) / 2
                ):
                    break
                start = lines[-1].pop()
            lines.append(list(range(start, i + 1)))
            left = min(strokes[j][:, 0].min() for j in lines[-1])
            right = max(strokes[j][:, 0].max() for j in lines[-1])
            ys = [strokes[j][:, 1] for j in lines[-1]]
        else:
            lines[-1].append(i)
            left, right = min(left, x0), max(right, strokes[i][:, 0].max())
            ys.append(strokes[i][:, 1])
    return lines
