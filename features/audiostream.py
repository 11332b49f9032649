"""Audio read as it arrives, in blocks of mono float32 samples: a file, a RIFF WAV stream
(its header parsed as its bytes come in) or raw 16-bit PCM, for streaming transcription.

Every source gives the same samples as :func:`lstmrec.features.audio.load_audio` (libsndfile)
gives for the same bytes read whole: integer PCM scaled by its type's range (int16 / 32768;
8-bit WAV is unsigned, centred on 128), several channels averaged in float32. None resamples:
a source has a :attr:`sample_rate`, and its caller decides what to do with another rate.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from lstmrec.features.audiofiles import _soundfile_call, sphere_sample_count
from lstmrec.features.errors import DataError

READ_BYTES = 4096  # most bytes taken from a stream at once (a read returns what has arrived)
WAV_HEADER_MAX = 1 << 20  # bytes of chunks before "data" a WAV stream may have
# WAVE format tags (RIFF, Microsoft): integer PCM, IEEE float, and the extensible header
# whose sub-format GUID starts with one of the two.
WAVE_PCM, WAVE_FLOAT, WAVE_EXTENSIBLE = 1, 3, 0xFFFE
UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # data sizes a writer that cannot seek back puts in a pipe


def to_mono(frames: np.ndarray) -> np.ndarray:
    """``(N, C)`` float32 -> ``(N,)`` float32: channels averaged as ``load_audio`` does."""
    return frames[:, 0] if frames.shape[1] == 1 else frames.mean(axis=1, dtype=np.float32)


def _checked(block: np.ndarray, name: str) -> np.ndarray:
    if not np.all(np.isfinite(block)):
        raise DataError("audio contains NaN or infinite samples", name)
    return block


class FileSource:
    """The samples of a file libsndfile reads, block by block.

    Raises :class:`DataError` naming the file when it is missing, unreadable, empty, holds
    non-finite samples or is a truncated SPHERE file (as ``load_audio`` does).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        import soundfile as sf

        self.name = os.fspath(path)
        self._file = _soundfile_call(sf.SoundFile, path)
        self.sample_rate = int(self._file.samplerate)

    def blocks(self, size: int) -> Iterator[np.ndarray]:
        """Mono float32 blocks of ``size`` samples ``(size,)`` (the last one shorter)."""
        import soundfile as sf

        total = 0
        with self._file as f:
            while True:
                try:
                    data = f.read(size, dtype="float32", always_2d=True)  # (n, C)
                except (sf.SoundFileError, RuntimeError, ValueError) as err:
                    raise DataError(f"cannot read audio ({err})", self.name) from err
                if not len(data):
                    break
                total += len(data)
                yield _checked(to_mono(data), self.name)
        if total == 0:
            raise DataError("empty audio (0 samples)", self.name)
        promised = sphere_sample_count(self.name)
        if promised is not None and promised > total:
            raise DataError(
                f"truncated: the SPHERE header promises {promised} samples, the file holds {total}",
                self.name,
            )


class _ByteStream:
    """Bytes of a binary stream, as they arrive."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.stream, self.name = stream, name
        self._read = getattr(stream, "read1", stream.read)  # read1: whatever has arrived

    def some(self, limit: int = READ_BYTES) -> bytes:
        """1 to ``limit`` bytes, or b"" at the end of the stream."""
        return self._read(limit)

    def exactly(self, n: int, what: str) -> bytes:
        """``n`` bytes; :class:`DataError` (naming ``what``) if the stream ends first."""
        parts, got = [], 0
        while got < n:
            part = self._read(n - got)
            if not part:
                raise DataError(f"not a complete WAV stream (it ends in {what})", self.name)
            parts.append(part)
            got += len(part)
        return b"".join(parts)


def _int24(data: bytes) -> np.ndarray:
    """Little-endian signed 24-bit samples as int32 ``(n,)``."""
    b = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)  # (n, 3)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    return v - ((v & 0x800000) << 1)  # sign-extend bit 23


# Sample decoders by (WAVE format tag, bits): bytes -> float32 (n,), as libsndfile converts
# (an integer's float times a power of two, so exact up to 24 bits; 8-bit WAV is unsigned).
DECODERS = {
    (WAVE_PCM, 8): lambda d: (np.frombuffer(d, "u1").astype(np.float32) - 128) * np.float32(2**-7),
    (WAVE_PCM, 16): lambda d: np.frombuffer(d, "<i2").astype(np.float32) * np.float32(2**-15),
    (WAVE_PCM, 24): lambda d: _int24(d).astype(np.float32) * np.float32(2**-23),
    (WAVE_PCM, 32): lambda d: np.frombuffer(d, "<i4").astype(np.float32) * np.float32(2**-31),
    (WAVE_FLOAT, 32): lambda d: np.frombuffer(d, "<f4").astype(np.float32),
    (WAVE_FLOAT, 64): lambda d: np.frombuffer(d, "<f8").astype(np.float32),
}


class PCMStreamSource:
    """Interleaved PCM on a binary stream: raw 16-bit mono (:func:`raw_pcm_source`) or the data
    chunk of a RIFF WAV stream (:func:`wav_stream_source`).

    Args:
        stream: where the bytes come from.
        sample_rate: Hz.
        channels: interleaved channels (averaged).
        encoding: a key of :data:`DECODERS`, ``(format tag, bits per sample)``.
        size: bytes of audio to read; None: up to the end of the stream.
    """

    def __init__(
        self,
        stream: _ByteStream,
        *,
        sample_rate: int,
        channels: int,
        encoding: tuple[int, int],
        size: int | None = None,
    ) -> None:
        self._bytes, self.name = stream, stream.name
        self.sample_rate, self.channels = sample_rate, channels
        self._decode = DECODERS[encoding]
        self._frame = encoding[1] // 8 * channels  # bytes per sample of all channels
        self._left = size

    def blocks(self) -> Iterator[np.ndarray]:
        """Mono float32 blocks ``(n,)`` as the bytes arrive (n may vary from block to block).
        A last incomplete sample is dropped, as libsndfile drops it."""
        rest, total = b"", 0
        while self._left is None or self._left > 0:
            limit = READ_BYTES if self._left is None else min(READ_BYTES, self._left)
            data = self._bytes.some(limit)
            if not data:
                break
            if self._left is not None:
                self._left -= len(data)
            data = rest + data
            whole = len(data) // self._frame * self._frame
            rest = data[whole:]
            if whole:
                total += whole // self._frame
                x = self._decode(data[:whole]).reshape(-1, self.channels)  # (n, C)
                yield _checked(to_mono(x), self.name)
        if total == 0:
            raise DataError("empty audio (0 samples)", self.name)


def raw_pcm_source(stream: BinaryIO, *, sample_rate: int, name: str = "-") -> PCMStreamSource:
    """Raw 16-bit little-endian mono PCM at ``sample_rate`` Hz (``arecord -f S16_LE -c 1``)."""
    if sample_rate <= 0:
        raise DataError(f"sample rate {sample_rate} Hz must be positive", name)
    return PCMStreamSource(
        _ByteStream(stream, name), sample_rate=sample_rate, channels=1, encoding=(WAVE_PCM, 16)
    )


def wav_stream_source(stream: BinaryIO, *, name: str = "-") -> PCMStreamSource:
    """A RIFF WAV stream (``sox -d -t wav -``, ``arecord -t wav``): the header is read first,
    then the samples of its data chunk as they arrive, up to the size the header gives or the
    end of the stream (a writer that cannot seek back gives no true size). Integer PCM of 8,
    16, 24 or 32 bits or float of 32 or 64, any number of channels. :class:`DataError` naming
    ``name`` for anything else."""
    src = _ByteStream(stream, name)
    head = src.some(12)
    if not head:
        raise DataError("no audio: the stream is empty", name)
    while len(head) < 12 and (more := src.some(12 - len(head))):
        head += more
    if not b"RIFF".startswith(head[:4]) or (len(head) == 12 and head[8:] != b"WAVE"):
        raise DataError("not a RIFF WAV stream; give --rate for raw 16-bit PCM", name)
    if len(head) < 12:
        raise DataError("not a complete WAV stream (it ends in its RIFF header)", name)
    fmt, skipped = None, 0
    while True:
        chunk_id, size = struct.unpack("<4sI", src.exactly(8, "a chunk header"))
        if chunk_id == b"data":
            break
        if size > WAV_HEADER_MAX - skipped:
            raise DataError(f"WAV chunk {chunk_id!r} of {size} bytes before the audio", name)
        body = src.exactly(size + (size & 1), f"its {chunk_id.decode('latin-1')!r} chunk")
        skipped += len(body)
        if chunk_id == b"fmt ":
            fmt = _wav_format(body[:size], name)
    if fmt is None:
        raise DataError("WAV stream without a 'fmt ' chunk before its data", name)
    sample_rate, channels, encoding = fmt
    return PCMStreamSource(
        src,
        sample_rate=sample_rate,
        channels=channels,
        encoding=encoding,
        size=None if size in UNKNOWN_SIZES else size,
    )


def _wav_format(body: bytes, name: str) -> tuple[int, int, tuple[int, int]]:
    """``(sample rate, channels, encoding)`` of a ``fmt `` chunk's body."""
    if len(body) < 16:
        raise DataError(f"WAV 'fmt ' chunk of {len(body)} bytes (at least 16)", name)
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == WAVE_EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]  # the first 2 bytes of the sub-format GUID
    if channels < 1 or rate < 1:
        raise DataError(f"WAV header with {channels} channels at {rate} Hz", name)
    if (tag, bits) not in DECODERS:
        raise DataError(f"WAV format {tag} with {bits}-bit samples is not supported", name)
    return rate, channels, (tag, bits)
