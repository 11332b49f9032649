"""Latency of streaming transcription (``scripts/bench_stream.py``): how long after the end of
its audio each phone is printed, and the real-time factor.

An utterance is fed to :class:`lstmrec.inference.stream.StreamingTranscriber` block by block,
as fast as it goes, and each block's compute time is measured. The clock of a live stream is
then replayed: block k arrives when its last sample has been recorded (``samples / rate`` on
the audio clock); its processing starts at that moment or when the previous block's ends,
whichever is later, and lasts its measured compute time; its phones are printed when it ends.
A phone's latency is that print time minus the end of its span (the ``end`` it is printed with),
and, where the corpus has time-aligned reference phones (TIMIT ``.PHN``), also minus the end of
the reference phone it was aligned to, which adds the model's own delay in emitting it.

With no compute time, a phone printed before the end of the audio comes out between
``lookahead_s`` and ``lookahead_s`` plus one block after its end: the features' look-ahead
(the rest of the window, the delta context and the stacked frames) plus the wait for the block.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np

from lstmrec.bundle import Bundle
from lstmrec.features.audiostream import FileSource
from lstmrec.features.errors import DataError
from lstmrec.features.stream import ready_samples
from lstmrec.inference.stream import StreamingTranscriber
from lstmrec.inference.transcribe import TimedPhone, boundary_s
from lstmrec.phones import fold
from lstmrec.scoring.align import CORRECT, DELETION, INSERTION, align


@dataclasses.dataclass
class StreamTiming:
    """One utterance streamed: its phones and when each was printed (audio-clock seconds)."""

    audio_s: float  # seconds of audio
    compute_s: float  # seconds of compute for all of it
    phones: list[TimedPhone]
    printed_s: list[float]  # when each phone was printed, from the start of the audio
    at_end: list[bool]  # printed at the end of the audio (it waited for the end)
    slowest_block_s: float = 0.0  # the longest compute time of one block

    @property
    def span_latency_s(self) -> list[float]:
        """Print time minus the end of each phone's span."""
        return [t - p.end for p, t in zip(self.phones, self.printed_s, strict=True)]


def lookahead_s(bundle: Bundle) -> float:
    """Audio needed after a frame boundary before the frame that starts there is final: the
    least latency of a phone (its span ends at such a boundary), in seconds."""
    return ready_samples(0, bundle.features) / bundle.features.sample_rate - boundary_s(0, bundle)


def time_stream(
    bundle: Bundle,
    path: str,
    *,
    chunk_ms: float,
    clock: Callable[[], float] = time.perf_counter,
) -> StreamTiming:
    """Stream the file ``path`` in blocks of ``chunk_ms`` and replay the clock of a live stream
    (see the module docstring). ``clock`` measures compute time."""
    source = FileSource(path)
    rate = bundle.features.sample_rate
    if source.sample_rate != rate:
        raise DataError(f"sample rate {source.sample_rate} Hz is not the model's {rate} Hz", path)
    transcriber = StreamingTranscriber(bundle)
    phones, printed, at_end = [], [], []
    free = compute = slowest = 0.0  # when the processor is next free (audio clock); compute
    blocks = source.blocks(max(1, round(rate * chunk_ms / 1000)))
    for block in [*blocks, None]:
        start = clock()
        new = transcriber.finish() if block is None else transcriber.push(block)
        spent = clock() - start
        compute += spent
        slowest = max(slowest, spent)
        free = max(free, transcriber.seconds) + spent
        phones += new
        printed += [free] * len(new)
        at_end += [block is None] * len(new)
    return StreamTiming(transcriber.seconds, compute, phones, printed, at_end, slowest)


def reference_latency_s(
    timing: StreamTiming, ref_phones: Sequence[str], ref_times: Sequence[tuple[float, float]]
) -> list[float]:
    """Print time minus the reference end of each phone that is correct in the alignment of the
    streamed phones with the reference (both folded to TIMIT's 39 phones)."""
    try:
        ref = fold(list(ref_phones), 39)
        ends = [end for p, (_, end) in zip(ref_phones, ref_times, strict=True) if fold([p], 39)]
        kept = [i for i, p in enumerate(timing.phones) if fold([p.phone], 39)]
        hyp = [fold([timing.phones[i].phone], 39)[0] for i in kept]
    except DataError:  # not TIMIT phones on one side: no reference latency
        return []
    out, i, j = [], 0, 0
    for op, _, _ in align(ref, hyp):
        if op == CORRECT:
            out.append(timing.printed_s[kept[j]] - ends[i])
        i += op != INSERTION
        j += op != DELETION
    return out


def summary(latencies_s: Sequence[float]) -> dict:
    """Count, median and 95th percentile of latencies, in milliseconds."""
    x = np.asarray(latencies_s, dtype=np.float64) * 1000
    if not len(x):
        return {"phones": 0, "median_ms": None, "p95_ms": None}
    return {
        "phones": len(x),
        "median_ms": round(float(np.median(x)), 1),
        "p95_ms": round(float(np.percentile(x, 95)), 1),
    }
