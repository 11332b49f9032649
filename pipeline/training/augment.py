"""SpecAugment-style augmentation of training batches: frequency and time masks, feature noise.

Applied to the normalised feature matrices of each training batch only; evaluation on the dev set,
``lstmrec evaluate``, ``transcribe`` and the Python API never see it. Every draw of a batch comes
from a NumPy generator seeded by ``(seed, epoch, batch index)`` (:func:`batch_rng`), so the same
batch is augmented the same way however often it is made: a resumed run, and each replica of a
distributed one, see exactly what an uninterrupted single-device run sees, with nothing to
checkpoint.

What is masked:

- a *frequency mask* zeroes a band of ``f`` columns, ``f`` uniform in ``0..freq_mask_width``,
  at a uniform start. A feature row made of equal blocks (the statics, then their deltas and
  delta-deltas, as :func:`lstmrec.features.audio.deltas` lays them out) gets the same band in
  every block, and only the first ``band`` columns of a block may be masked (the mel channels
  of a filterbank, never its log-energy column); rows of another layout (ink features) are one
  block and every column may be masked.
- a *time mask* zeroes ``t`` whole frames, ``t`` uniform in
  ``0..min(time_mask_width, floor(time_mask_max * T_i))``, ``T_i`` the utterance's true length,
  at a uniform start inside the utterance.

Masks fill with 0, the mean of the normalised features. ``feature_noise`` adds Gaussian noise of
that standard deviation to the real frames first, so masked cells are exactly 0. Padding frames
(past ``T_i``) are never touched.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lstmrec.features.audio import FeatureConfig

_STREAM = 0x5A  # the last word of the seed: keeps augmentation apart from the shuffling stream


def batch_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of batch ``index`` of epoch ``epoch`` (0-based), from the recipe seed."""
    return np.random.default_rng([seed, epoch, index, _STREAM])


@dataclasses.dataclass(frozen=True)
class Augment:
    """Augmentation settings of a recipe (``[training]``) and the feature row layout."""

    freq_masks: int = 0  # frequency masks per utterance
    freq_mask_width: int = 0  # widest band, columns of one block
    time_masks: int = 0  # time masks per utterance
    time_mask_width: int = 0  # longest mask, frames
    time_mask_max: float = 0.2  # and never more than this fraction of the true length
    feature_noise: float = 0.0  # std of the noise added to the normalised features
    blocks: int = 1  # the row is this many equal blocks (statics, deltas, ...)
    band: int | None = None  # maskable columns at the start of each block (None: all)

    @classmethod
    def of_recipe(cls, recipe) -> Augment:
        """The settings of ``recipe.training`` with the layout of ``recipe.features``."""
        cfg, feats = recipe.training, recipe.features
        blocks, band = 1, None
        if isinstance(feats, FeatureConfig):
            blocks = 1 + feats.delta_order
            band = feats.n_mels if feats.kind == "fbank" else feats.n_mfcc
        return cls(
            freq_masks=cfg.freq_masks,
            freq_mask_width=cfg.freq_mask_width,
            time_masks=cfg.time_masks,
            time_mask_width=cfg.time_mask_width,
            time_mask_max=cfg.time_mask_max,
            feature_noise=cfg.feature_noise,
            blocks=blocks,
            band=band,
        )

    @property
    def enabled(self) -> bool:
        """Whether :meth:`apply` changes anything."""
        freq = self.freq_masks > 0 and self.freq_mask_width > 0
        time = self.time_masks > 0 and self.time_mask_width > 0 and self.time_mask_max > 0
        return freq or time or self.feature_noise > 0

    def describe(self) -> str:
        """One line for the training log."""
        parts = []
        if self.freq_masks and self.freq_mask_width:
            many = "s" if self.freq_masks > 1 else ""
            parts.append(
                f"{self.freq_masks} frequency mask{many} of up to {self.freq_mask_width} columns"
            )
        if self.time_masks and self.time_mask_width:
            many = "s" if self.time_masks > 1 else ""
            parts.append(
                f"{self.time_masks} time mask{many} of up to {self.time_mask_width} frames "
                f"({self.time_mask_max:g} of an utterance at most)"
            )
        if self.feature_noise:
            parts.append(f"feature noise {self.feature_noise:g}")
        return "augmentation: " + ", ".join(parts) if parts else "augmentation: off"

    def apply(self, x: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """An augmented copy of the padded batch ``x`` ``(B, T, F)`` float32 with true lengths
        ``lengths`` ``(B,)``; rows are drawn in order, noise then frequency then time masks."""
        out = np.array(x, dtype=np.float32, copy=True)
        dim = out.shape[2]
        blocks = self.blocks if self.blocks > 0 and dim % self.blocks == 0 else 1
        width = dim // blocks
        band = width if self.band is None else min(self.band, width)
        for row, n in enumerate(np.asarray(lengths, dtype=np.int64)):
            n = min(int(n), out.shape[1])
            if n <= 0:
                continue
            real = out[row, :n]  # a view: padding frames stay as they are
            if self.feature_noise > 0:
                real += rng.normal(0.0, self.feature_noise, real.shape).astype(np.float32)
            for _ in range(self.freq_masks if self.freq_mask_width > 0 else 0):
                f = int(rng.integers(0, min(self.freq_mask_width, band) + 1))
                start = int(rng.integers(0, band - f + 1))
                for b in range(blocks):
                    real[:, b * width + start : b * width + start + f] = 0.0
            longest = min(self.time_mask_width, int(self.time_mask_max * n + 1e-9))
            for _ in range(self.time_masks if self.time_mask_width > 0 else 0):
                t = int(rng.integers(0, longest + 1))
                start = int(rng.integers(0, n - t + 1))
                real[start : start + t] = 0.0
        return out
