"""Audio files to log-mel filterbank or MFCC feature arrays, time-major ``(T, F)``.

The pipeline, in Kaldi's order (``compute-fbank-feats`` with ``--snip-edges=true``)::

    load_audio -> frames -> [remove DC, log energy, pre-emphasis, window] -> |rfft|^2
               -> mel filterbank -> log  (= fbank)  -> DCT-II  (= mfcc)  -> deltas -> CMVN

Everything here is plain NumPy/SciPy plus soundfile for reading: no librosa (its numba JIT
costs ~30 s at first call) and no Keras/TensorFlow, so feature extraction can run in worker
processes that never load a deep-learning framework.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from lstmrec.features.audiofiles import (  # noqa: F401  (re-exported: the reading half)
    SAMPLE_RATE,
    SPHERE_HEADER_MAX,
    audio_info,
    load_audio,
    resample,
    sphere_sample_count,
)
from lstmrec.features.configs import config_from_dict

WIN_MS = 25.0  # milliseconds per analysis window (400 samples at 16 kHz)
HOP_MS = 10.0  # milliseconds between window starts (160 samples at 16 kHz)
N_FFT = 512  # FFT points; the window is zero-padded to this length (31.25 Hz bins at 16 kHz)
N_MELS = 40  # triangular mel filters
N_MFCC = 13  # cepstral coefficients kept after the DCT
PREEMPHASIS = 0.97  # y[n] = x[n] - 0.97 x[n-1], applied per frame
LOG_FLOOR = 1e-10  # power floor before log: log(1e-10) = -23.03 is the feature value of silence
STD_FLOOR = 1e-5  # CMVN standard-deviation floor (a constant column is not blown up)
FRAME_BLOCK = 4096  # frames whose spectra are computed at once (a long file goes block by block)
FEW_FRAMES = 32  # below this many frames, the mel filters' terms are gathered in one go

KINDS = ("fbank", "mfcc")
# The range of each numeric setting: wider than any sensible recipe, narrow enough that no
# setting (a recipe's, or a bundle's features.json) asks for gigabytes. Sample rate in Hz.
SETTING_LIMITS = {"sample_rate": (1, 384_000), "win_ms": (0, 1000.0), "hop_ms": (0, 1000.0)}
SETTING_LIMITS |= {"n_fft": (1, 2**16), "n_mels": (1, 512), "n_mfcc": (1, 512)}
SETTING_LIMITS |= {"fmin": (0, 192_000.0), "fmax": (0, 192_000.0), "preemphasis": (0, 1.0)}
SETTING_LIMITS |= {"delta_order": (0, 4), "delta_width": (1, 50), "stack": (1, 16)}
INT_SETTINGS = ("sample_rate", "n_fft", "n_mels", "n_mfcc", "delta_order", "delta_width", "stack")
# Window name -> function of the window length returning a symmetric window (HTK/Kaldi use
# symmetric windows, 0.54 - 0.46 cos(2 pi n / (N - 1)) for Hamming; "povey" is Kaldi's default).
# NumPy's windows are these symmetric ones (equal to scipy.signal.get_window(..., fftbins=False)
# to 1e-15): importing scipy.signal costs seconds, more than transcribing a short file.
WINDOWS = {
    "hamming": np.hamming,
    "hann": np.hanning,
    "povey": lambda n: np.hanning(n) ** 0.85,
    "rectangular": lambda n: np.ones(n),
}


# ---------------------------------------------------------------------------------------------
# Configuration


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Everything that determines the feature matrix of a signal; saved beside every model."""

    kind: str = "fbank"  # "fbank" (log-mel filterbank) or "mfcc" (DCT of log-mel)
    sample_rate: int = SAMPLE_RATE  # Hz; signals are resampled to this rate on load
    win_ms: float = WIN_MS  # analysis window length, milliseconds
    hop_ms: float = HOP_MS  # frame shift, milliseconds
    n_fft: int = N_FFT  # FFT length in samples, >= the window length in samples
    n_mels: int = N_MELS  # number of mel filters
    n_mfcc: int = N_MFCC  # cepstra kept for kind="mfcc" (ignored for fbank)
    fmin: float = 0.0  # Hz, lower edge of the lowest mel filter
    fmax: float | None = None  # Hz, upper edge of the highest mel filter; None = Nyquist
    preemphasis: float = PREEMPHASIS  # coefficient of y[n] = x[n] - a x[n-1]; 0 disables it
    energy: bool = True  # fbank: append log energy as the last column; mfcc: replace c0 by it
    delta_order: int = 2  # 0 = statics only, 1 = + delta, 2 = + delta + delta-delta
    delta_width: int = 2  # regression window +-N frames (HTK DELTAWINDOW, Kaldi --delta-window)
    window: str = "hamming"  # one of WINDOWS: "hamming", "hann", "povey", "rectangular"
    remove_dc: bool = True  # subtract each frame's mean before everything else (Kaldi default)
    # Frame stacking: each output frame is this many consecutive frames side by side, and the
    # frame rate drops by as much (3: 30 ms steps), so the recurrent layers take 1/stack of the
    # steps. 1: no stacking.
    stack: int = 1

    def __post_init__(self) -> None:
        self._check_ranges()
        nyquist = self.sample_rate / 2
        checks = [
            (self.kind in KINDS, f"kind={self.kind!r} must be 'fbank' or 'mfcc'"),
            (self.window in WINDOWS, f"window={self.window!r} must be one of {sorted(WINDOWS)}"),
            (self.sample_rate > 0, f"sample_rate={self.sample_rate} must be positive"),
            (self.win_ms > 0, f"win_ms={self.win_ms} must be positive"),
            (self.hop_ms > 0, f"hop_ms={self.hop_ms} must be positive"),
            (self.n_mels > 0, f"n_mels={self.n_mels} must be positive"),
            (
                0 < self.n_mfcc and (self.kind != "mfcc" or self.n_mfcc <= self.n_mels),
                f"n_mfcc={self.n_mfcc} must be in 1..n_mels={self.n_mels}",
            ),
            (0 <= self.preemphasis < 1, f"preemphasis={self.preemphasis} must be in [0, 1)"),
            (self.delta_order >= 0, f"delta_order={self.delta_order} must be >= 0"),
            (self.delta_width >= 1, f"delta_width={self.delta_width} must be >= 1"),
            (
                0 <= self.fmin < self.upper_hz <= nyquist,
                f"need 0 <= fmin={self.fmin} < fmax={self.fmax} <= Nyquist={nyquist}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"FeatureConfig: {message}")
        if self.win_length < 2 or self.hop_length < 1:
            raise ValueError(
                f"FeatureConfig: win_ms={self.win_ms} / hop_ms={self.hop_ms} give "
                f"{self.win_length} / {self.hop_length} samples"
            )
        if self.n_fft < self.win_length:
            raise ValueError(
                f"FeatureConfig: n_fft={self.n_fft} < window of {self.win_length} samples"
            )

    def _check_ranges(self) -> None:
        """Types, finiteness and the upper limits of ``SETTING_LIMITS``: a bundle's
        ``features.json`` may not ask for a 2**30-point FFT."""
        for name, (lo, hi) in SETTING_LIMITS.items():
            value = getattr(self, name)
            if name == "fmax" and value is None:
                continue
            integral = name in INT_SETTINGS
            kinds = int if integral else (int, float)
            if not isinstance(value, kinds) or isinstance(value, bool):
                kind = "an integer" if integral else "a number"
                raise ValueError(f"FeatureConfig: {name}={value!r} must be {kind}")
            if not (lo <= value <= hi and math.isfinite(value)):  # no float() of a huge int
                raise ValueError(f"FeatureConfig: {name}={value!r} must be in [{lo}, {hi}]")

    @property
    def win_length(self) -> int:
        """Window length in samples (400 at 16 kHz, 25 ms)."""
        return int(round(self.sample_rate * self.win_ms / 1000))

    @property
    def hop_length(self) -> int:
        """Frame shift in samples (160 at 16 kHz, 10 ms)."""
        return int(round(self.sample_rate * self.hop_ms / 1000))

    @property
    def upper_hz(self) -> float:
        """``fmax`` with None resolved to the Nyquist frequency, in Hz."""
        return self.sample_rate / 2 if self.fmax is None else float(self.fmax)

    @property
    def dim(self) -> int:
        """Columns of :func:`extract`'s output: 123 for the default fbank, 39 for mfcc."""
        static = self.n_mels + int(self.energy) if self.kind == "fbank" else self.n_mfcc
        return static * (1 + self.delta_order) * self.stack

    @property
    def output_hop_length(self) -> int:
        """Samples between two output frames (of :func:`extract`): ``hop_length * stack``."""
        return self.hop_length * self.stack

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field (JSON-serialisable; ``fmax`` may be None)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureConfig:
        """Inverse of :meth:`to_dict`; missing keys take defaults, unknown keys raise ValueError."""
        return config_from_dict(cls, d)


# ---------------------------------------------------------------------------------------------
# Framing


def num_frames(num_samples: int, *, win_length: int, hop_length: int) -> int:
    """Frames in a signal of ``num_samples`` samples, Kaldi ``--snip-edges=true`` convention.

    Frame t covers samples ``[t * hop_length, t * hop_length + win_length)``; only whole windows
    count, so a signal shorter than one window has 0 frames.
    """
    if num_samples < win_length:
        return 0
    return 1 + (num_samples - win_length) // hop_length


def frame_times(n_frames: int, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Start and end time in seconds of each frame's window: two float64 ``(n_frames,)`` arrays."""
    start = np.arange(n_frames) * config.hop_length / config.sample_rate
    return start, start + config.win_length / config.sample_rate


def frame_center_s(t: int | np.ndarray, config: FeatureConfig) -> float | np.ndarray:
    """Centre of analysis frame ``t``'s window in seconds: ``(t * hop + win / 2) / sample_rate``
    (before any stacking: see :func:`output_frame_center_s` for the frames of :func:`extract`)."""
    centre = (np.asarray(t) * config.hop_length + config.win_length / 2) / config.sample_rate
    return float(centre) if centre.ndim == 0 else centre  # float for an int t, else (T,) array


def output_frame_center_s(t: int | np.ndarray, config: FeatureConfig) -> float | np.ndarray:
    """Centre in seconds of output frame ``t`` of :func:`extract`: the middle of the
    ``config.stack`` analysis frames stacked into it (:func:`frame_center_s` without stacking)."""
    return frame_center_s(np.asarray(t) * config.stack + (config.stack - 1) / 2, config)


def stack_frames(feats: np.ndarray, stack: int) -> np.ndarray:
    """``(T, F)`` frames as ``(ceil(T / stack), stack * F)``: each row is ``stack`` consecutive
    frames side by side; the last row is completed by repeating the last frame."""
    if stack == 1:
        return feats
    t, f = feats.shape
    rows = -(-t // stack)
    if rows * stack != t:
        feats = np.concatenate([feats, np.repeat(feats[-1:], rows * stack - t, axis=0)])
    return feats.reshape(rows, stack * f)


def frames(signal: np.ndarray, *, win_length: int, hop_length: int) -> np.ndarray:
    """Read-only ``(T, win_length)`` view of a 1-D signal, T = :func:`num_frames`; no copy."""
    signal = np.asarray(signal)
    if signal.ndim != 1:
        raise ValueError(f"frames: signal must be 1-D, got shape {signal.shape}")
    n = num_frames(len(signal), win_length=win_length, hop_length=hop_length)
    (step,) = signal.strides
    return np.lib.stride_tricks.as_strided(
        signal, shape=(n, win_length), strides=(hop_length * step, step), writeable=False
    )  # (T, win_length)


# ---------------------------------------------------------------------------------------------
# Filterbank, MFCC, deltas


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def mel_filterbank(
    *, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> np.ndarray:
    """Triangular mel filters, float32 ``(n_mels, n_fft // 2 + 1)``, read-only and cached.

    Filter edges are equally spaced on the HTK mel scale from ``fmin`` to ``fmax`` (Hz); each
    triangle rises linearly in Hz from its lower edge to its centre and falls to its upper
    edge, peak weight 1, no area normalisation. This is ``librosa.filters.mel(htk=True,
    norm=None)``; HTK and Kaldi interpolate in mel instead of Hz, a sub-percent difference.
    """
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)  # (K,)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))  # (M+2,)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (fft_hz[None, :] - lower) / (centre - lower)  # (M, K)
    falling = (upper - fft_hz[None, :]) / (upper - centre)  # (M, K)
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    weights.setflags(write=False)  # shared by every caller through the cache
    return weights


def _power_and_energy(signal: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Frame power spectra float64 ``(T, n_fft // 2 + 1)`` and log energies float64 ``(T,)``.

    Per frame, in Kaldi's order: subtract the mean (if ``remove_dc``); log energy = log of the
    sum of squares at this point (before pre-emphasis and window); pre-emphasis inside the frame
    (first sample: x[0] - a x[0], as Kaldi); window; ``|rfft(n_fft)|^2``.
    """
    x = frames(
        np.asarray(signal, dtype=np.float64),
        win_length=config.win_length,
        hop_length=config.hop_length,
    )  # (T, W), read-only view
    if config.remove_dc:
        x = x - x.mean(axis=1, keepdims=True)  # (T, W), now a copy
    log_energy = np.log(np.maximum(np.sum(x * x, axis=1), LOG_FLOOR))  # (T,)
    a = config.preemphasis
    if a:
        x = np.concatenate([x[:, :1] * (1 - a), x[:, 1:] - a * x[:, :-1]], axis=1)  # (T, W)
    x = x * WINDOWS[config.window](config.win_length)[None, :]  # (T, W)
    spectrum = np.fft.rfft(x, n=config.n_fft, axis=1)  # (T, n_fft // 2 + 1) complex
    return spectrum.real**2 + spectrum.imag**2, log_energy


def _log_mel(power: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Log mel energies float64 ``(T, n_mels)`` from power spectra ``(T, n_fft // 2 + 1)``.

    Each filter's weighted sum runs over its bins in one fixed order, frame by frame, rather
    than through a BLAS matrix product, whose rounding depends on how many frames it is given:
    a frame's features are then the same bits however the signal is cut into blocks, which is
    what lets :class:`lstmrec.features.stream.FeatureStream` reproduce them exactly.
    """
    bins, weights = _mel_taps(
        sample_rate=config.sample_rate,
        n_fft=config.n_fft,
        n_mels=config.n_mels,
        fmin=float(config.fmin),
        fmax=config.upper_hz,
    )  # (M, K) each
    # The same products added in the same order either way: one gather for a few frames (a
    # stream's), one column of taps at a time for many (less memory, faster).
    if len(power) < FEW_FRAMES:
        terms = power[:, bins] * weights  # (T, M, K)
        mel = terms[:, :, 0].copy()  # (T, M)
        for k in range(1, bins.shape[1]):
            mel += terms[:, :, k]
    else:
        mel = power[:, bins[:, 0]] * weights[:, 0]  # (T, M)
        for k in range(1, bins.shape[1]):
            mel += power[:, bins[:, k]] * weights[:, k]
    return np.log(np.maximum(mel, LOG_FLOOR))  # (T, M)


@functools.lru_cache(maxsize=16)
def _mel_taps(
    *, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mel_filterbank` as taps: the FFT bins ``(M, K)`` int64 where each filter is
    non-zero and their float64 weights ``(M, K)``, K the widest filter's bins (a narrower
    filter's spare taps have weight 0 on bin 0). Read-only and cached."""
    fb = mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    nonzero = [np.flatnonzero(row) for row in fb]
    width = max(1, *(len(b) for b in nonzero))
    bins = np.zeros((n_mels, width), dtype=np.int64)
    weights = np.zeros((n_mels, width), dtype=np.float64)
    for m, b in enumerate(nonzero):
        bins[m, : len(b)] = b
        weights[m, : len(b)] = fb[m, b]
    bins.setflags(write=False)
    weights.setflags(write=False)
    return bins, weights


def _by_blocks(block_fn, signal: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``block_fn`` over the signal :data:`FRAME_BLOCK` frames at a time, concatenated: every
    step is per frame, so the result is the same as in one go, and the float64 spectra of a
    long file never exist all at once."""
    signal = np.asarray(signal)
    n = num_frames(len(signal), win_length=config.win_length, hop_length=config.hop_length)
    if n <= FRAME_BLOCK:
        return block_fn(signal, config)
    hop, win = config.hop_length, config.win_length
    blocks = [
        block_fn(signal[t * hop : (min(t + FRAME_BLOCK, n) - 1) * hop + win], config)
        for t in range(0, n, FRAME_BLOCK)
    ]
    return np.concatenate(blocks)  # (T, F)


def fbank(signal: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Log-mel filterbank of a 1-D signal at ``config.sample_rate``, float32 ``(T, n_mels[+1])``.

    Natural-log mel power (floored at :data:`LOG_FLOOR`); with ``config.energy`` the frame's log
    energy is appended as the last column. T = :func:`num_frames` (0 for a too-short signal).
    """
    return _by_blocks(_fbank_block, signal, config)


def _fbank_block(signal: np.ndarray, config: FeatureConfig) -> np.ndarray:
    power, log_energy = _power_and_energy(signal, config)
    feats = _log_mel(power, config)  # (T, M)
    if config.energy:
        feats = np.concatenate([feats, log_energy[:, None]], axis=1)  # (T, M + 1)
    return feats.astype(np.float32)


def mfcc(signal: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """MFCCs of a 1-D signal at ``config.sample_rate``, float32 ``(T, n_mfcc)``.

    Orthonormal DCT-II of the natural-log mel energies, first ``n_mfcc`` kept, no liftering;
    with ``config.energy`` column 0 (c0) is replaced by the frame's log energy.
    """
    return _by_blocks(_mfcc_block, signal, config)


def _mfcc_block(signal: np.ndarray, config: FeatureConfig) -> np.ndarray:
    import scipy.fft  # only MFCC needs it; fbank stays on NumPy, which starts faster

    power, log_energy = _power_and_energy(signal, config)
    ceps = scipy.fft.dct(_log_mel(power, config), type=2, norm="ortho", axis=1)  # (T, M)
    ceps = ceps[:, : config.n_mfcc]  # (T, n_mfcc)
    if config.energy:
        ceps[:, 0] = log_energy
    return ceps.astype(np.float32)


def deltas(feats: np.ndarray, *, order: int = 2, width: int = 2) -> np.ndarray:
    """Append regression deltas: ``(T, F)`` -> ``(T, F * (1 + order))`` [static, d, dd, ...].

    HTK formula d_t = sum_{n=1..N} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1..N} n^2) with N = width,
    frames beyond either edge replicated; each order is the delta of the previous one. Output
    dtype follows the input (float32 stays float32).
    """
    feats = np.asarray(feats)
    if feats.ndim != 2:
        raise ValueError(f"deltas: feats must be (T, F), got shape {feats.shape}")
    blocks = [feats]
    denom = 2 * sum(n * n for n in range(1, width + 1))
    for _ in range(order):
        c = blocks[-1]
        if len(c) == 0:
            blocks.append(c.copy())
            continue
        t = len(c)
        padded = c[np.clip(np.arange(-width, t + width), 0, t - 1)]  # (T + 2N, F), edges repeated
        d = sum(
            n * (padded[width + n : width + n + t] - padded[width - n : width - n + t])
            for n in range(1, width + 1)
        )
        blocks.append((d / denom).astype(feats.dtype, copy=False))
    return np.concatenate(blocks, axis=1)  # (T, F * (1 + order))


def extract(signal: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Features of a 1-D signal at ``config.sample_rate``: float32 ``(T, config.dim)``.

    fbank or mfcc statics, then :func:`deltas` of ``config.delta_order``. A signal shorter
    than one window gives shape ``(0, config.dim)``; the caller decides whether that is an
    error (CTC needs at least as many frames as labels).
    """
    statics = fbank(signal, config) if config.kind == "fbank" else mfcc(signal, config)
    feats = deltas(statics, order=config.delta_order, width=config.delta_width)
    return stack_frames(feats, config.stack)


def extract_file(path: str | os.PathLike, config: FeatureConfig) -> np.ndarray:
    """:func:`load_audio` at ``config.sample_rate`` then :func:`extract`: ``(T, config.dim)``."""
    return extract(load_audio(path, sample_rate=config.sample_rate), config)


# ---------------------------------------------------------------------------------------------
# Cepstral mean and variance normalisation


def cmvn_stats(feature_list: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation over all frames: two float64 ``(F,)`` arrays.

    Accumulates count, sum and sum of squares in float64 (one pass, so ``feature_list`` may be
    a generator); std is floored at :data:`STD_FLOOR`. Raises ValueError for no frames or
    mismatched widths.
    """
    count, total, total_sq = 0, None, None
    for feats in feature_list:
        feats = np.asarray(feats, dtype=np.float64)
        if feats.ndim != 2:
            raise ValueError(f"cmvn_stats: expected (T, F) arrays, got shape {feats.shape}")
        if total is None:
            total, total_sq = np.zeros(feats.shape[1]), np.zeros(feats.shape[1])
        if feats.shape[1] != total.shape[0]:
            raise ValueError(f"cmvn_stats: expected (T, {total.shape[0]}), got {feats.shape}")
        count += feats.shape[0]
        total += feats.sum(axis=0)
        total_sq += np.square(feats).sum(axis=0)
    if not count:
        raise ValueError("cmvn_stats: no frames to accumulate")
    mean = total / count
    var = np.maximum(total_sq / count - mean**2, 0.0)  # clip tiny negatives from cancellation
    return mean, np.maximum(np.sqrt(var), STD_FLOOR)


def apply_cmvn(feats: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(feats - mean) / std`` per column: ``(T, F)`` and ``(F,)`` stats -> float32 ``(T, F)``."""
    feats = np.asarray(feats)
    if feats.ndim != 2 or feats.shape[1] != np.shape(mean)[0] or np.shape(std) != np.shape(mean):
        raise ValueError(
            f"apply_cmvn: feats {feats.shape} vs mean {np.shape(mean)}, std {np.shape(std)}"
        )
    return ((feats - mean) / std).astype(np.float32)
