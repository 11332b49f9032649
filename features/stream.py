"""Features of audio as it arrives: the frames of :func:`lstmrec.features.audio.extract`, each
given out as soon as the samples it depends on are in, bit for bit the same as the whole file's.

An output frame depends on more audio than its own window:

- analysis frame t covers samples ``[t·hop, t·hop + win)`` (Kaldi's ``--snip-edges``);
- its deltas of order ``o`` and width ``w`` look ``o·w`` frames ahead (and back), and at the
  end of the signal the last frame is repeated instead;
- with stacking, output row r holds analysis frames ``r·s .. r·s + s − 1`` (the last row is
  completed by repeating the last frame).

So row r is final once the samples up to ``(r·s + s − 1 + o·w)·hop + win`` have arrived, or
when the stream ends. :class:`FeatureStream` computes each analysis frame's statics once, from
its own window; the deltas are recomputed over a window of the last ``2·o·w`` frames plus the
new ones (the deltas of a frame need no more), and only the frames whose whole context is inside
that window are given out. Every step of :mod:`lstmrec.features.audio` is computed frame by
frame in a fixed order (no BLAS product over frames), so the frames are the same bits as
:func:`~lstmrec.features.audio.extract` of the whole signal however the audio is cut.
"""

from __future__ import annotations

import numpy as np

from lstmrec.features.audio import FeatureConfig, deltas, fbank, mfcc, num_frames


def ready_samples(row: int, config: FeatureConfig) -> int:
    """Samples that must have arrived before output frame ``row`` is final (unless the stream
    ends first): up to the window of the last analysis frame its deltas look at."""
    frame = row * config.stack + config.stack - 1 + config.delta_order * config.delta_width
    return frame * config.hop_length + config.win_length


class FeatureStream:
    """Push samples in, get the feature frames they complete.

    Args:
        config: the feature settings (those of the model that reads the frames).

    ``push(samples)`` takes float32 ``(N,)`` samples at ``config.sample_rate`` (mono, in
    [-1, 1], as :func:`lstmrec.features.audio.load_audio` gives them) and returns the newly
    final frames, float32 ``(K, config.dim)`` (K may be 0); :meth:`finish` returns the frames
    that wait for the end of the signal. Concatenated, all returned frames equal
    ``extract(whole_signal, config)``.
    """

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self.context = config.delta_order * config.delta_width  # frames ahead a delta needs
        static = config.dim // (config.stack * (1 + config.delta_order))
        self._audio = np.zeros(0, dtype=np.float32)  # samples from _audio_start on
        self._audio_start = 0
        self._statics = np.zeros((0, static), dtype=np.float32)  # frames from _statics_start
        self._statics_start = 0
        self._frames = 0  # analysis frames whose statics are computed
        self._done = 0  # analysis frames whose deltas are final (and handed to stacking)
        self._unstacked = np.zeros((0, config.dim // config.stack), dtype=np.float32)
        self.samples = 0  # samples pushed so far
        self.frames_out = 0  # output rows returned so far
        self.finished = False

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add ``samples`` ``(N,)``; return the output frames ``(K, dim)`` now final."""
        if self.finished:
            raise ValueError("FeatureStream: push after finish")
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.samples += len(samples)
        self._audio = np.concatenate([self._audio, samples])
        self._add_statics()
        return self._emit(final=False)

    def finish(self) -> np.ndarray:
        """The end of the signal: the frames that waited for it, ``(K, dim)``."""
        if self.finished:
            raise ValueError("FeatureStream: finish twice")
        self.finished = True
        return self._emit(final=True)

    def _add_statics(self) -> None:
        """Statics of every analysis frame whose window is now complete."""
        cfg = self.config
        hop, win = cfg.hop_length, cfg.win_length
        total = num_frames(self.samples, win_length=win, hop_length=hop)
        if total > self._frames:
            first = self._frames * hop - self._audio_start
            last = (total - 1) * hop + win - self._audio_start
            segment = self._audio[first:last]  # the windows of frames _frames .. total - 1
            new = (fbank if cfg.kind == "fbank" else mfcc)(segment, cfg)  # (total - _frames, S)
            self._statics = np.concatenate([self._statics, new])
            self._frames = total
        keep = self._frames * hop - self._audio_start  # the next frame's window starts here
        if keep > 0:
            self._audio = self._audio[keep:]
            self._audio_start += keep

    def _emit(self, *, final: bool) -> np.ndarray:
        cfg = self.config
        ready = self._frames if final else self._frames - self.context  # deltas final below it
        if ready > self._done:
            # (W, S) -> (W, S·(1 + o)); the first rows are wrong unless the window starts at
            # frame 0 (their context is cut), but none of them is given out.
            full = deltas(self._statics, order=cfg.delta_order, width=cfg.delta_width)
            offset = self._statics_start
            new = full[self._done - offset : ready - offset]
            self._unstacked = np.concatenate([self._unstacked, new])
            self._done = ready
            start = max(0, self._done - self.context)  # the earliest frame still needed
            self._statics = self._statics[start - offset :]
            self._statics_start = start
        rows = len(self._unstacked) // cfg.stack
        if final and len(self._unstacked) > rows * cfg.stack:
            rows += 1  # the last row, completed by repeating the last frame (stack_frames)
            pad = rows * cfg.stack - len(self._unstacked)
            last = self._unstacked[-1:]
            self._unstacked = np.concatenate([self._unstacked, np.repeat(last, pad, axis=0)])
        out = self._unstacked[: rows * cfg.stack].reshape(rows, cfg.dim)  # (K, dim)
        self._unstacked = self._unstacked[rows * cfg.stack :]
        self.frames_out += rows
        return out
