"""The MNIST pen-stroke set (de Jong's sequences of the MNIST digits) as ink samples."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lstmrec.features.errors import DataError
from lstmrec.features.ink import from_stroke3
from lstmrec.features.inkfiles import InkSample


def load_mnist_strokes(
    path: str | os.PathLike, *, indices: Sequence[int] | None = None
) -> list[InkSample]:
    """Digits of the MNIST pen-stroke set (``strokes.npz``) as ink samples.

    The file holds ``strokes`` int8 ``(K, 117, 4)`` rows ``[dx, dy, end_of_stroke,
    end_of_digit]`` (MNIST pixels, y down; the first row's offset is from the grid origin, so it
    is the absolute start; zero padding after the ``end_of_digit`` row) and ``labels`` int
    ``(K,)``. Returns ``InkSample(id="mnist-<index>", strokes, text="<digit>", writer=None)``
    for each index (all when None), t = NaN.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    try:
        with np.load(path, allow_pickle=False) as data:
            strokes, labels = data["strokes"], data["labels"]
    except (KeyError, ValueError, OSError, EOFError) as e:
        raise DataError(
            f"not an MNIST strokes file with 'strokes' and 'labels' ({e})", path
        ) from None
    if strokes.ndim != 3 or strokes.shape[2] != 4 or len(labels) != len(strokes):
        raise DataError(f"'strokes' {strokes.shape} / 'labels' {labels.shape} do not match", path)
    chosen = range(len(strokes)) if indices is None else indices
    samples = []
    for i in chosen:
        if not 0 <= i < len(strokes):
            raise DataError(f"index {i} out of range 0..{len(strokes) - 1}", path)
        rows = strokes[i].astype(np.float64)
        end = np.flatnonzero(rows[:, 3])
        rows = rows[: end[0] + 1 if len(end) else len(rows), :3]
        samples.append(InkSample(f"mnist-{i}", tuple(from_stroke3(rows)), str(int(labels[i]))))
    return samples


# The project's fixed split of the 50,000 digits (consecutive index ranges, so no digit is in two
# splits). The digit recipe trains, picks its epoch and tests on these; the synthetic
# handwriting corpus writes digits with the "train" digits only, so that the "test" digits stay
# unseen by every shipped model.
MNIST_SPLITS = {
    "train": range(0, 44_000),
    "dev": range(44_000, 45_000),
    "test": range(45_000, 50_000),
}
