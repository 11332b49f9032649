"""Reading audio files: any format libsndfile reads, whole or a slice, as mono float32 samples.

Part of :mod:`lstmrec.features.audio`, which re-exports every public name here.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import soundfile as sf

from lstmrec.features.errors import DataError
from lstmrec.features.files import regular_file

SAMPLE_RATE = 16000  # Hz; TIMIT's rate, and the rate every file is resampled to by default
SPHERE_HEADER_MAX = 16384  # bytes of a NIST SPHERE header read for its sample count


def _soundfile_call(fn, path: str | os.PathLike, **kwargs: Any) -> Any:
    """Call ``fn(path, **kwargs)`` and turn every reader failure into a DataError."""
    regular_file(path, missing="no such file")  # never opened: a FIFO would block the read
    try:
        return fn(os.fspath(path), **kwargs)
    except sf.LibsndfileError as err:  # its str() repeats the path: the reason alone
        raise DataError(f"cannot read audio ({err.error_string})", path) from err
    except (sf.SoundFileError, RuntimeError, OSError, TypeError, ValueError) as err:
        raise DataError(f"cannot read audio ({err})", path) from err


def audio_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """Return ``(num_frames, sample_rate, channels)`` from a file's header without decoding it.

    ``num_frames`` counts samples per channel; ``sample_rate`` is in Hz. Raises DataError (naming
    the path) for a missing or unreadable file.
    """
    info = _soundfile_call(sf.info, path)
    return int(info.frames), int(info.samplerate), int(info.channels)


def resample(signal: np.ndarray, *, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a 1-D signal from ``orig_sr`` to ``target_sr`` Hz with a polyphase filter.

    The ratio is exact: up = target/g, down = orig/g with g = gcd(orig, target), so 8 kHz ->
    16 kHz is up=2, down=1 and 44.1 kHz -> 16 kHz is up=160, down=441. Output length is
    ``ceil(N * up / down)``. Returns float32 ``(N',)``; the input is returned as float32 when the
    rates are equal.
    """
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"resample: orig_sr={orig_sr} and target_sr={target_sr} must be > 0")
    signal = np.asarray(signal, dtype=np.float32)
    if orig_sr == target_sr:
        return signal
    import scipy.signal  # here, not at the top: seconds of imports that 16 kHz input never needs

    g = math.gcd(int(orig_sr), int(target_sr))
    out = scipy.signal.resample_poly(signal, int(target_sr) // g, int(orig_sr) // g)
    return out.astype(np.float32, copy=False)


def sphere_sample_count(path: str | os.PathLike) -> int | None:
    """The ``sample_count`` a NIST SPHERE header declares (samples per channel), or None for a
    file that is not SPHERE or does not say. libsndfile reads what the file holds, so a cut
    file would otherwise pass as a shorter recording."""
    with open(path, "rb") as f:
        head = f.read(SPHERE_HEADER_MAX)
    if not head.startswith(b"NIST_1A"):
        return None
    for line in head.split(b"\n")[2:]:
        if line.strip() == b"end_head":
            break
        fields = line.split()
        if len(fields) == 3 and fields[:2] == [b"sample_count", b"-i"]:
            return int(fields[2]) if fields[2].isdigit() else None
    return None


def _slice_frames(
    path, offset: float | None, duration: float | None
) -> tuple[int, int | None, int]:
    """Frames ``(start, stop, skip)`` of ``[offset, offset + duration)`` seconds of a file:
    read ``[start, stop)`` then drop ``skip`` frames (``(0, None, 0)``: all of it). An MP3 is
    read from its first frame (``start`` 0, ``skip`` the slice's start): its decoder gives other
    samples for a second after a seek. DataError when the slice is empty or ends past the
    recording."""
    if offset is None and duration is None:
        return 0, None, 0
    info = _soundfile_call(sf.info, path)
    total, rate = int(info.frames), int(info.samplerate)
    begin, end = offset or 0.0, (offset or 0.0) + (math.inf if duration is None else duration)
    # (capped at the recording's end: 1e308 s is past it, not an overflow)
    start = round(min(begin * rate, total))
    stop = total if duration is None else round(min(end * rate, total + 1))
    if not 0 <= start < stop <= total:
        raise DataError(
            f"slice {begin:g}-{end:g} s is empty or past the end ({total / rate:g} s)", path
        )
    return (0, stop, start) if info.format == "MP3" else (start, stop, 0)


def load_audio(
    path: str | os.PathLike,
    *,
    sample_rate: int = SAMPLE_RATE,
    offset: float | None = None,
    duration: float | None = None,
) -> np.ndarray:
    """Read any file libsndfile reads (RIFF WAV, NIST SPHERE, FLAC, MP3, ...) as mono float32.

    Returns ``(N,)`` float32 at ``sample_rate`` Hz. Integer PCM maps to [-1, 1) (int16 / 32768);
    channels are averaged; a file at another rate goes through :func:`resample` (whose overshoot
    and float files' samples are not clipped). ``offset`` and ``duration`` (seconds, either may
    be None) read only that slice of the file. Raises DataError naming the path for a missing,
    unreadable or corrupt file, a slice past its end, zero samples or non-finite samples.
    """
    start, stop, skip = _slice_frames(path, offset, duration)
    read = {"start": start, "stop": stop, "dtype": "float32", "always_2d": True}
    data, file_sr = _soundfile_call(sf.read, path, **read)
    data = data[skip:]  # (N, C)
    if data.shape[0] == 0:
        raise DataError("empty audio (0 samples)", path)
    promised = sphere_sample_count(path) if stop is None else None  # a slice checks its end
    if promised is not None and promised > data.shape[0]:
        raise DataError(
            f"truncated: the SPHERE header promises {promised} samples, the file holds "
            f"{data.shape[0]}",
            path,
        )
    if not np.all(np.isfinite(data)):
        raise DataError("audio contains NaN or infinite samples", path)
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)  # (N,)
    return resample(mono, orig_sr=int(file_sr), target_sr=sample_rate)
