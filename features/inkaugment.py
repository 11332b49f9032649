"""Random distortions of pen strokes, for making training ink more varied than its source.

A synthetic writer writes every ``e`` the same way; real people never do. :class:`InkAugment`
disturbs a line of ink the ways pens and tablets differ, each draw from the caller's generator:

- ``affine``: rotation, shear and unequal scaling of the whole line, about its centre;
- ``elastic``: a smooth random displacement field, different across the line, that bends
  letters without tearing them (the sum of a few random low-frequency waves in x and y);
- ``resample``: the tablet's sampling density, by re-sampling each stroke at a random spacing;
- ``jitter``: independent noise on every point (tablet quantisation, a shaky hand);
- ``drop``: a short stroke (an i-dot, a comma) left out now and then, as writers forget them;
- ``split``: a long stroke cut in two, the pen lifted for an instant.

Only the training ink of a corpus is augmented: :mod:`lstmrec.corpora.synth_hands` applies it
to the train writers' lines and never to held-out writers; features, ``recognize`` and the
inference engines never call it. Sizes are relative to the ink's own scale (the median height
of its strokes' boxes), so tablet units do not matter. Strokes follow :mod:`features.ink`:
``(N_i, 3)`` float64 ``[x, y, t]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class InkAugment:
    """Strengths of each distortion (0 turns one off)."""

    rotate_deg: float = 3.0  # std of the rotation
    shear: float = 0.15  # std of the horizontal shear (dx per unit of height)
    scale: float = 0.08  # std of the log x and y scale factors
    elastic: float = 0.06  # amplitude of the smooth displacement, in units of the ink's scale
    resample: float = 0.4  # spacing drawn from [1 - r, 1 + r] times the original mean spacing
    jitter: float = 0.008  # std of per-point noise, in units of the ink's scale
    drop: float = 0.1  # chance that each short stroke is left out
    split: float = 0.05  # chance that each long stroke is cut in two

    @property
    def enabled(self) -> bool:
        return any(v > 0 for v in dataclasses.asdict(self).values())

    def __call__(self, strokes: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """A distorted copy of ``strokes`` (the input is not changed); at least one stroke."""
        strokes = [np.array(s, dtype=np.float64) for s in strokes if len(s)]
        if not strokes or not self.enabled:
            return strokes
        scale = _ink_scale(strokes)
        strokes = self._drop_and_split(strokes, scale, rng)
        strokes = [self._resample(s, rng) for s in strokes]
        points = np.concatenate(strokes)
        xy = points[:, :2]
        centre = xy.mean(axis=0)
        moved = (xy - centre) @ self._matrix(rng).T + centre + _waves(rng, scale, self.elastic)(xy)
        moved += rng.normal(0.0, self.jitter * scale, moved.shape)
        out = np.concatenate([moved, points[:, 2:3]], axis=1)
        return np.split(out, np.cumsum([len(s) for s in strokes])[:-1])

    def _matrix(self, rng: np.random.Generator) -> np.ndarray:
        a = np.deg2rad(rng.normal(0.0, self.rotate_deg))
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        shear = np.array([[1.0, -rng.normal(0.0, self.shear)], [0.0, 1.0]])  # y down: -y is up
        scale = np.diag(np.exp(rng.normal(0.0, self.scale, 2)))
        return rot @ shear @ scale

    def _drop_and_split(self, strokes: list[np.ndarray], scale: float, rng) -> list[np.ndarray]:
        out = []
        for s in strokes:
            size = float(np.ptp(s[:, :2], axis=0).max()) if len(s) > 1 else 0.0
            if size < 0.3 * scale and len(strokes) > 1 and rng.random() < self.drop:
                continue
            if size > 1.5 * scale and len(s) >= 8 and rng.random() < self.split:
                cut = int(rng.integers(3, len(s) - 3))
                out += [s[:cut], s[cut:]]
                continue
            out.append(s)
        return out or strokes[:1]

    def _resample(self, stroke: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.resample <= 0 or len(stroke) < 3:
            return stroke
        seg = np.hypot(*np.diff(stroke[:, :2], axis=0).T)
        arc = np.concatenate([[0.0], np.cumsum(seg)])
        if arc[-1] <= 0:
            return stroke
        step = arc[-1] / (len(stroke) - 1) * rng.uniform(1 - self.resample, 1 + self.resample)
        at = np.append(np.arange(0.0, arc[-1], step), arc[-1])
        return np.stack([np.interp(at, arc, stroke[:, k]) for k in range(3)], axis=1)


def _ink_scale(strokes: Sequence[np.ndarray]) -> float:
    """The median height of the strokes' boxes (about a letter's height), never 0."""
    heights = [float(np.ptp(s[:, 1])) for s in strokes if len(s) > 1]
    big = [h for h in heights if h > 0]
    return float(np.median(big)) if big else 1.0


def _waves(rng: np.random.Generator, scale: float, amplitude: float):
    """A smooth displacement field ``(M, 2) points -> (M, 2) offsets``: three random waves
    per axis with wavelengths of 2 to 8 letter heights."""
    if amplitude <= 0:
        return lambda xy: np.zeros_like(xy)
    k = 2 * np.pi / (scale * rng.uniform(2.0, 8.0, (2, 3)))
    angle = rng.uniform(0, 2 * np.pi, (2, 3))
    phase = rng.uniform(0, 2 * np.pi, (2, 3))
    amp = amplitude * scale / np.sqrt(3)

    def field(xy: np.ndarray) -> np.ndarray:
        out = np.zeros_like(xy)
        for axis in range(2):
            proj = xy[:, :1] * np.cos(angle[axis]) + xy[:, 1:2] * np.sin(angle[axis])
            out[:, axis] = amp * np.sin(proj * k[axis] + phase[axis]).sum(axis=1)
        return out

    return field
