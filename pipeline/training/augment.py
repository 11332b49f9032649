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

from lstmrec.features.audio import FeatureConfig, apply_cmvn
from lstmrec.features.errors import DataError
from lstmrec.features.inkaugment import InkAugment
from lstmrec.features.inkfiles import read_ink_file
from lstmrec.featurize import checked_ink_features, ctc_min_frames

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


_INK_STREAM = 0x1C  # the last word of the seed of FreshInk's draws


class FreshInk:
    """A new distortion of each training ink every epoch (``[training] ink_augment``).

    A synthetic corpus distorts each training line once, when it is written
    (:mod:`lstmrec.corpora.synth_hands`); the cached features then show the network the same
    distortion every epoch. With ``ink_augment`` the training batches are made from the pen
    strokes instead: each ink of batch ``i`` of epoch ``e`` gets its own
    :class:`~lstmrec.features.inkaugment.InkAugment` draw from a generator seeded by ``(seed,
    e, i)`` alone (a resumed run sees the same batches), and its features are made afresh with
    the recipe's feature settings and normalised with the training CMVN statistics. A
    distortion whose ink is unusable, or too short for its labels under CTC, gives ``None``: the
    batch then takes the cached features of that ink. Dev features, evaluation and recognition
    never come here.

    The cost is the feature extraction of the whole training set once an epoch, in the training
    process: with the basic features an epoch of the 44,000 MNIST digits took 151-201 s against
    100-110 s without (RESULTS.md); thousands of text lines with the Graves 2009 set add minutes.
    """

    def __init__(self, utts, labels, config, mean, std, *, strokes: bool = True) -> None:
        self.paths = [u.path for u in utts]
        self.min_frames = [ctc_min_frames(y) for y in labels]
        self.config, self.mean, self.std = config, mean, std
        self.augment = InkAugment() if strokes else InkAugment(drop=0.0, split=0.0)
        self._ink: dict[int, list] = {}  # the strokes of each ink, read once

    def describe(self) -> str:
        kept = "" if self.augment.drop or self.augment.split else ", every stroke kept"
        return f"ink augmentation: a new distortion of every training ink each epoch{kept}"

    def strokes(self, i: int) -> list:
        if i not in self._ink:
            self._ink[i] = list(read_ink_file(self.paths[i])[0].strokes)
        return self._ink[i]

    def features(self, i: int, rng: np.random.Generator) -> np.ndarray | None:
        """Normalised float32 features of a new distortion of ink ``i``, or None."""
        try:
            feats, _ = checked_ink_features(self.augment(self.strokes(i), rng), self.config, None)
        except DataError:
            return None
        if len(feats) < self.min_frames[i]:
            return None
        return apply_cmvn(feats, self.mean, self.std)


def ink_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of :class:`FreshInk`'s draws for batch ``index`` of epoch ``epoch``."""
    return np.random.default_rng([seed, epoch, index, _INK_STREAM])
