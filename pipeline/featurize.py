"""Features for a manifest: extraction with checks, CTC feasibility, and an on-disk cache."""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lstmrec.config import AnyFeatureConfig
from lstmrec.features.audio import FeatureConfig, extract, load_audio, resample
from lstmrec.features.errors import DataError, OnError, report_or_raise
from lstmrec.features.files import atomic_path
from lstmrec.features.ink import InkFeatureConfig, ink_features_with_index
from lstmrec.features.inkfiles import read_ink_file
from lstmrec.manifest import Utterance
from lstmrec.progress import progress


def checked_ink_features(
    strokes, config: InkFeatureConfig, source: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Features float32 ``(T, config.dim)`` and (stroke, point) index int64 ``(T, 2)`` of ink.

    :class:`DataError` naming ``source`` for unusable ink or non-finite features.
    """
    try:
        feats, index = ink_features_with_index(strokes, config)
    except DataError as e:
        raise DataError(e.reason, source) from None
    if len(feats) == 0 or not np.isfinite(feats).all():
        raise DataError("ink gives no usable feature frames (NaN, inf or nothing)", source)
    return feats, index


def checked_features(
    path: str,
    config: AnyFeatureConfig,
    *,
    offset: float | None = None,
    duration: float | None = None,
) -> np.ndarray:
    """``(T, config.dim)`` float32 features of one audio or ink file, or :class:`DataError`.

    The file is read as ink when ``config`` is an ink config (it must then hold exactly one
    sample, as an IAM-OnDB line file does), else as audio; ``offset`` / ``duration`` (seconds)
    take only that slice of the audio (a slice past the end is a :class:`DataError`). Rejects
    audio too short for one frame, and NaN or inf in the features (which would turn the CTC loss
    into NaN for the whole batch).
    """
    if isinstance(config, InkFeatureConfig):
        samples = read_ink_file(path)
        if len(samples) != 1:
            raise DataError(f"holds {len(samples)} ink samples; an utterance must be one", path)
        return checked_ink_features(samples[0].strokes, config, path)[0]
    signal = load_audio(path, sample_rate=config.sample_rate, offset=offset, duration=duration)
    feats = extract(signal, config)
    if len(feats) == 0:
        raise DataError(f"audio too short for one {config.win_ms:g} ms frame", path)
    if not np.isfinite(feats).all():
        raise DataError("features contain NaN or inf (corrupt or clipped audio?)", path)
    return feats


ARRAY_NAME = "<array>"  # what errors and results call samples or strokes held in memory

PCM_TYPES = {  # integer PCM in memory: (offset, scale) to [-1, 1), as libsndfile reads WAV
    np.dtype(np.int8): (0.0, 2.0**7),
    np.dtype(np.uint8): (128.0, 2.0**7),  # 8-bit WAV is unsigned, 128 is silence
    np.dtype(np.int16): (0.0, 2.0**15),
    np.dtype(np.int32): (0.0, 2.0**31),
}


def mono_samples(signal: np.ndarray, source: str | None) -> np.ndarray:
    """Samples in memory as mono float32 ``(N,)``, at their own rate, or :class:`DataError`
    naming ``source``: ``signal`` is ``(N,)`` or ``(N, C)`` (channels averaged), float in
    [-1, 1] or integer PCM (scaled to [-1, 1) by its type's range: int16 / 32768, int32 /
    2**31, 8-bit unsigned (uint8 - 128) / 128, as WAV files hold them), finite. Other integer
    types (int64, which ``np.array`` of Python ints gives) are no PCM format: refused, not
    guessed."""
    x = np.asarray(signal)
    if x.dtype in PCM_TYPES:
        x = (x.astype(np.float32) - PCM_TYPES[x.dtype][0]) / PCM_TYPES[x.dtype][1]
    elif np.issubdtype(x.dtype, np.integer):
        raise DataError(
            f"samples of type {x.dtype} are no PCM format: give int16, int32 or uint8 "
            "samples, or floats in [-1, 1] (e.g. samples.astype(np.int16))",
            source,
        )
    elif not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"samples of type {x.dtype} are not numbers", source)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32)  # (N, C) -> (N,)
    if x.ndim != 1:
        raise DataError(f"samples of shape {np.shape(signal)}: not (N,) or (N, channels)", source)
    if not np.isfinite(x).all():
        raise DataError("audio contains NaN or infinite samples", source)
    return x.astype(np.float32, copy=False)


def signal_samples(
    signal: np.ndarray, sample_rate: int, config: FeatureConfig, source: str | None
) -> np.ndarray:
    """Samples in memory as :func:`load_audio` gives a file's: mono float32 ``(N,)`` at
    ``config.sample_rate`` Hz, or :class:`DataError` naming ``source``.

    ``signal`` is ``(N,)`` or ``(N, C)`` (channels averaged), float in [-1, 1] or integer PCM
    (scaled to [-1, 1) by its type's range: int16 / 32768), at ``sample_rate`` Hz.
    """
    x = mono_samples(signal, source)
    if len(x) == 0:  # as load_audio says it of a file
        raise DataError("empty audio (0 samples)", source)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise DataError(f"sample rate {sample_rate!r} is not a number of Hz", source)
    if not float(sample_rate).is_integer():  # resampling takes whole Hz: never truncate
        raise DataError(f"sample rate {sample_rate} is not a whole number of Hz", source)
    if sample_rate <= 0:
        raise DataError(f"sample rate {sample_rate} is not positive", source)
    return resample(x, orig_sr=int(sample_rate), target_sr=config.sample_rate)


def signal_features(
    signal: np.ndarray, sample_rate: int, config: FeatureConfig, source: str | None
) -> np.ndarray:
    """``(T, config.dim)`` float32 features of samples in memory (:func:`signal_samples`), or
    :class:`DataError` naming ``source``."""
    feats = extract(signal_samples(signal, sample_rate, config, source), config)
    if len(feats) == 0:
        raise DataError(f"audio too short for one {config.win_ms:g} ms frame", source)
    return feats


def utterance_features(utt: Utterance, config: FeatureConfig) -> np.ndarray:
    """:func:`checked_features` of ``utt``'s audio file (only its slice ``[offset, offset +
    duration)`` when ``utt.offset`` is set, as a Kaldi ``segments`` entry gives), or of its
    in-memory int16 ``samples`` (an utterance read from a TFDS dataset,
    ``lstmrec.corpora.tfds.source``)."""
    samples = getattr(utt, "samples", None)
    if samples is None and utt.offset is not None:
        return checked_features(utt.path, config, offset=utt.offset, duration=utt.duration)
    if samples is None:
        return checked_features(utt.path, config)
    return signal_features(samples, utt.sample_rate, config, utt.path)


def ctc_min_frames(labels: Sequence) -> int:
    """Fewest frames CTC needs for ``labels``: one per label plus a blank between repeats."""
    repeats = sum(1 for a, b in zip(labels, labels[1:], strict=False) if a == b)
    return len(labels) + repeats


def check_ctc_fits(utt: Utterance, labels: Sequence, num_frames: int) -> None:
    """Raise :class:`DataError` naming the utterance when its labels cannot fit its frames."""
    need = ctc_min_frames(labels)
    if need > num_frames:
        raise DataError(
            f"utterance {utt.id}: {len(labels)} labels need {need} frames for CTC "
            f"(labels + repeats) but its audio or ink gives only {num_frames}",
            utt.path,
        )


def cache_key(utts: Sequence[Utterance], config: AnyFeatureConfig) -> str:
    """Hash of the feature settings and of every audio file's path, size and change stamps (and
    the slice, for an utterance with an ``offset``).

    The stamps are the modification time, the status-change time and the inode: a file
    rewritten in place with its old size and modification time restored (``touch -r``, ``cp
    -p``, ``rsync -t``) still changes its status-change time, which no user can set back.
    """
    h = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode())
    for utt in utts:
        samples = getattr(utt, "samples", None)
        if samples is not None:  # in-memory audio: its content is the key
            digest = hashlib.sha256(np.ascontiguousarray(samples).tobytes()).hexdigest()
            h.update(f"{utt.id}\0{utt.path}\0{utt.sample_rate}\0{digest}\n".encode())
            continue
        try:
            st = os.stat(utt.path)
            stamps = f"{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
            if utt.offset is not None:  # a slice of a recording: the slice is part of the key
                stamps += f"\0{utt.offset!r}\0{utt.duration!r}"
            h.update(f"{utt.id}\0{utt.path}\0{stamps}\n".encode())
        except OSError:
            h.update(f"{utt.id}\0{utt.path}\0missing\n".encode())
    return h.hexdigest()[:20]


CACHE_ENV = "LSTMREC_CACHE_DIR"  # overrides where the shared feature cache lives


def default_cache_dir() -> Path:
    """The feature cache shared by every run of this user: ``$LSTMREC_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/lstmrec/features``, else ``~/.cache/lstmrec/features``.

    Shared, because entries are keyed by the feature settings and the files' stamps
    (:func:`cache_key`): a second training run on the same data, in any run folder, reads its
    features back instead of computing them again. Deleting the folder is always safe.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lstmrec" / "features"


def compute_features(
    utts: Sequence[Utterance],
    config: AnyFeatureConfig,
    *,
    cache_dir: str | os.PathLike | None = None,
    on_error: OnError | None = None,
    desc: str = "features",
) -> dict[str, np.ndarray]:
    """Features of every utterance, by id: ``{id: (T, config.dim) float32}``.

    With ``cache_dir`` the result is stored once per (settings, audio files) and read back on
    later calls (from ``<key>.npz``, or the ``<key>.shards/`` a Beam pipeline wrote); any change
    to either makes a new key, and an entry that cannot be read (damaged) is computed again and
    written anew. A bad file raises :class:`DataError`, or is reported to ``on_error`` and left
    out when that is given; the cache keeps the reports, so a bad file is reported again when
    the features come from the cache.
    """
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{cache_key(utts, config)}.npz"
        shards = cache.with_suffix(".shards")  # written by lstmrec.jobs.pipelines.beam_features
        if cache.is_file():
            entries = [_read_cache(cache)]
        else:
            entries = [_read_cache(shard) for shard in sorted(shards.glob("shard-*.npz"))]
        if entries and None not in entries:
            out: dict[str, np.ndarray] = {}
            for feats, reports in entries:
                for reason, path in reports:
                    report_or_raise(DataError(reason, path), on_error)
                out.update(feats)
            return out
    out: dict[str, np.ndarray] = {}
    errors: list[DataError] = []
    for utt in progress(utts, show=len(utts) >= 20, desc=desc, unit="utt"):
        try:
            out[utt.id] = utterance_features(utt, config)
        except DataError as e:
            report_or_raise(e, on_error)
            errors.append(e)
    if cache is not None:
        reports = json.dumps([[e.reason, e.path] for e in errors])
        with atomic_path(cache) as tmp:  # a unique name: processes may fill one cache at once
            np.savez(tmp, **out, **{ERRORS_KEY: np.array(reports)})
    return out


ERRORS_KEY = "__errors__"  # cache entry holding the bad files' reports (no utterance id has it)


def _read_cache(cache: Path) -> tuple[dict[str, np.ndarray], list] | None:
    """Features from a cache file and the ``[reason, path]`` reports of its bad files; None
    when the file cannot be read as an entry (cut short, overwritten, not an npz)."""
    try:
        with open(cache, "rb") as f, np.load(f) as z:  # the file closed however np.load fails
            feats = {k: z[k] for k in z.files if k != ERRORS_KEY}
            reports = json.loads(str(z[ERRORS_KEY])) if ERRORS_KEY in z.files else []
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return feats, reports
