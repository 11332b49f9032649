"""Streaming transcription: phones given out while the audio is still arriving.

Audio blocks go through :class:`lstmrec.features.stream.FeatureStream` (the frames of the whole
file, each as soon as its window, delta context and stack are in), the bundle's CMVN, a
forward-only model run incrementally (``models.numpy_stream.IncrementalModel``) and best-path
CTC decoding of the logits as they come (``models.numpy_stream.GreedyStream``).

When a phone is final: its identity and start are known at the first frame of its CTC spike
(the model is causal, so later audio cannot change that frame's best class), but its span, as
``transcribe`` gives it, ends where the next phone's spike begins. A phone is therefore given
out, with both times, at the first frame of the next phone's spike, and the last one at the end
of the audio. So the phones and times are those of ``transcribe --beam 0`` (greedy best path)
of the same file, and a phone comes out as soon as the audio of its whole span (plus the
features' look-ahead) has arrived.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from lstmrec.bundle import Bundle
from lstmrec.features.audio import apply_cmvn
from lstmrec.features.errors import DataError
from lstmrec.features.stream import FeatureStream
from lstmrec.featurize import ARRAY_NAME, mono_samples
from lstmrec.inference.transcribe import TimedPhone, Transcript, boundary_s, speech_unit
from lstmrec.models.decoding import Token
from lstmrec.models.numpy_blstm import NumpyBLSTM, UnsupportedModel
from lstmrec.models.numpy_stream import GreedyStream, IncrementalModel
from lstmrec.phones import fold


class StreamingTranscriber:
    """One stream's transcription: :meth:`push` samples as they arrive, get the phones that
    became final; :meth:`finish` at the end of the audio gives the rest.

    Args:
        bundle: a CTC bundle of a forward-only model, loaded with ``engine="numpy"``.
        fold_to: fold TIMIT phones to the 48 or 39 set (phones that fold to nothing, like
            ``q``, are dropped), as ``transcribe --fold``.
        source: the bundle's path, named in errors.

    Raises :class:`DataError` for a bundle that cannot stream (bidirectional, a transducer,
    an ink model). Samples are at ``bundle.features.sample_rate``, as ``model.transcribe``
    takes them in memory: ``(N,)`` or ``(N, channels)`` (averaged), float in [-1, 1] or integer
    PCM (int16 / 32768); other shapes and NaN or infinite samples are a :class:`DataError`.
    """

    def __init__(self, bundle: Bundle, *, fold_to: int | None = None, source=None) -> None:
        self.unit = speech_unit(bundle, fold_to, source)
        if bundle.kind != "ctc":
            raise DataError(f"a {bundle.kind} model cannot stream: it needs a CTC model", source)
        if not isinstance(bundle.model, NumpyBLSTM):
            raise ValueError("StreamingTranscriber needs a bundle loaded with engine='numpy'")
        try:
            self.model = IncrementalModel(bundle.model)
        except UnsupportedModel as e:
            raise DataError(str(e), source) from None
        self.bundle, self.fold_to = bundle, fold_to
        self.features = FeatureStream(bundle.features)
        self.decoder = GreedyStream()

    @property
    def seconds(self) -> float:
        """Audio received so far, in seconds."""
        return self.features.samples / self.bundle.features.sample_rate

    def push(self, samples: np.ndarray) -> list[TimedPhone]:
        """Add samples ``(N,)`` or ``(N, channels)``; the phones now final, in order."""
        return self._decode(self.features.push(mono_samples(samples, ARRAY_NAME)), final=False)

    def finish(self) -> list[TimedPhone]:
        """The end of the audio: the phones that waited for it. :class:`DataError` when the
        audio was too short for one frame."""
        frames = self.features.finish()
        if self.features.frames_out == 0:
            cfg = self.bundle.features
            raise DataError(f"audio too short for one {cfg.win_ms:g} ms frame")
        return self._decode(frames, final=True)

    def _decode(self, frames: np.ndarray, *, final: bool) -> list[TimedPhone]:
        tokens: list[Token] = []
        if len(frames):
            x = apply_cmvn(frames, self.bundle.mean, self.bundle.std)  # (K, F)
            tokens = self.decoder.push(self.model(x))
        if final:
            tokens += self.decoder.finish()
        return [p for p in map(self._timed, tokens) if p is not None]

    def _timed(self, tok: Token) -> TimedPhone | None:
        """A token's phone and times as ``transcribe`` gives them: clipped to the audio so far,
        which for a token before the last is never shorter than its span, so it is the same as
        clipping to the whole file's duration."""
        label = self.bundle.symbols.decode([tok.symbol])[0]
        if self.fold_to is not None:
            folded = fold([label], self.fold_to)
            if not folded:
                return None
            label = folded[0]
        start = min(max(boundary_s(tok.start, self.bundle), 0.0), self.seconds)
        end = min(max(boundary_s(tok.end, self.bundle), start), self.seconds)
        return TimedPhone(label, start, end)


def stream_phones(
    transcriber: StreamingTranscriber, blocks: Iterable[np.ndarray]
) -> Iterator[TimedPhone]:
    """Each phone of the audio ``blocks``, as soon as it is final."""
    for block in blocks:
        yield from transcriber.push(block)
    yield from transcriber.finish()


def stream_transcript(
    bundle: Bundle, blocks: Iterable[np.ndarray], *, name: str, fold_to: int | None = None
) -> Transcript:
    """The :class:`~lstmrec.inference.transcribe.Transcript` the streaming path gives for
    ``blocks``: the same as ``transcribe_files`` with a greedy decoder."""
    transcriber = StreamingTranscriber(bundle, fold_to=fold_to)
    phones = list(stream_phones(transcriber, blocks))
    return Transcript(name, transcriber.seconds, phones, unit=transcriber.unit)


def paced(
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[np.ndarray]:
    """``blocks`` at real-time pace: each one once the audio up to its end would have been
    recorded, counting from the first (as a microphone delivers them)."""
    start, samples = clock(), 0
    for block in blocks:
        samples += len(block)
        wait = start + samples / sample_rate - clock()
        if wait > 0:
            sleep(wait)
        yield block
