"""What the server's requests carry, read and checked against the stated limits, and the
decoding behind each endpoint. No web framework here: bytes in, JSON-ready dicts out.

An upload is only ever held in memory; the one exception is the transcription picture, whose
drawing reads the audio from a file: the upload is written into a fresh temporary folder that
is removed as soon as the picture is drawn. Nothing a request carries is executed or unpickled:
audio goes to libsndfile, strokes to the JSON parser.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import re
import tempfile
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from lstmrec.bundle import Bundle, load_bundle
from lstmrec.features.errors import DataError
from lstmrec.features.inkfiles import json_strokes
from lstmrec.inference.decoder import posteriors
from lstmrec.inference.recognize import recognize_strokes
from lstmrec.inference.transcribe import transcribe_signal_detailed
from lstmrec.scoring.plots import plot_transcription
from lstmrec.shipped import (
    CARD_FILE,
    DEFAULT_INK,
    DEFAULT_SPEECH,
    read_card,
    resolve_model,
    shipped_path,
)
from lstmrec.targets import Targets, modality

ROLES = ("speech", "ink")
DEFAULT_MODELS = {"speech": DEFAULT_SPEECH, "ink": DEFAULT_INK}
UPLOAD_NAME = "upload"  # the name of an upload that brings none
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_PLOT_LOCK = threading.Lock()  # matplotlib is not documented thread-safe: one picture at a time


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may carry. Over a limit, the request is refused with status 413."""

    upload_bytes: int = 10 * 2**20  # an audio file, bytes
    audio_seconds: float = 60.0  # its duration, seconds
    audio_samples: int = 60 * 96_000 * 2  # samples in all channels (60 s of 96 kHz stereo)
    ink_bytes: int = 2 * 2**20  # the JSON body of /v1/recognize, bytes
    ink_points: int = 100_000  # pen points in all strokes

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class RequestError(Exception):
    """A request the server refuses: HTTP ``status`` (4xx) and the reason in words."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Model:
    """A bundle the server decodes with: its ``role`` (``"speech"`` or ``"ink"``), the name or
    folder it was asked for by, the folder it was loaded from, and the bundle (NumPy engine)."""

    role: str
    name: str
    path: Path
    bundle: Bundle

    def to_dict(self) -> dict:
        """What ``GET /v1/models`` tells of it (with the model card of a shipped model)."""
        b = self.bundle
        d = {
            "name": self.name,
            "path": str(self.path),
            "modality": modality(b.features),
            "unit": Targets.of_bundle(b).unit,
            "kind": b.kind,
            "symbols": b.symbols.to_list()[1:],  # index 0 is the CTC blank
        }
        if (self.path / CARD_FILE).is_file():
            card = read_card(self.path).to_dict()
            d["card"] = {k: v for k, v in card.items() if k != "path"}
        return d


def default_model(role: str) -> str | None:
    """The shipped model a role gets when none is named: ``en-phones`` for speech, ``en-ink``
    for ink when it is shipped; None when it is not."""
    name = DEFAULT_MODELS[role]
    return name if shipped_path(name) is not None else None


def load_model(name_or_path: str | os.PathLike, role: str) -> Model:
    """Resolve (a bundle folder or a shipped name) and load a bundle with the NumPy engine;
    :class:`DataError` when it is missing, unusable or of the other modality."""
    path = resolve_model(name_or_path)
    bundle = load_bundle(path, engine="numpy")
    kind = modality(bundle.features)
    if role == "speech" and kind == "ink":
        raise DataError("a handwriting model, not a speech model: serve it with --ink", path)
    if role == "ink" and kind != "ink":
        raise DataError("a speech model, not a handwriting model: serve it with --speech", path)
    return Model(role, os.fspath(name_or_path), path, bundle)


# ---------------------------------------------------------------------------------------------
# Speech


def upload_name(filename: str | None) -> str:
    """A file name for an upload: the last part of what the client sent, each character other
    than letters, digits, ``.``, ``_`` and ``-`` as ``_``, at most 100 characters; ``upload``
    when nothing is left. It names the transcript and never a path on this machine."""
    base = re.split(r"[\\/]", filename or "")[-1]
    safe = _UNSAFE.sub("_", base)[-100:].lstrip(".")
    return safe or UPLOAD_NAME


def read_audio(data: bytes, name: str, limits: Limits) -> tuple[np.ndarray, int]:
    """Samples ``(N,)`` or ``(N, C)`` float32 and the sample rate of an uploaded audio file (any
    format libsndfile reads: WAV, FLAC, Ogg Vorbis, SPHERE, MP3, ...).

    The header's duration and sample count are checked against ``limits`` before the samples
    are decoded. Raises :class:`RequestError` (413) over a limit, :class:`DataError` for bytes
    that are not audio.
    """
    if not data:
        raise DataError("the upload is empty", name)
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            frames, rate, channels = f.frames, f.samplerate, f.channels
            if rate <= 0:
                raise DataError(f"sample rate {rate} is not positive", name)
            _check_audio_size(frames, rate, channels, name, limits)
            signal = f.read(dtype="float32")
    except sf.LibsndfileError as e:  # its str() names the BytesIO object: the reason alone
        raise DataError(f"not an audio file libsndfile reads ({e.error_string})", name) from None
    except (RuntimeError, TypeError) as e:
        raise DataError(f"not an audio file libsndfile reads ({e})", name) from None
    _check_audio_size(len(signal), rate, channels, name, limits)  # a header may understate
    return signal, int(rate)


def _check_audio_size(frames: int, rate: int, channels: int, name: str, limits: Limits) -> None:
    seconds = frames / rate
    if seconds > limits.audio_seconds:
        raise RequestError(
            413, f"{name}: {seconds:.1f} s of audio, over the limit of {limits.audio_seconds:g} s"
        )
    if frames * channels > limits.audio_samples:
        raise RequestError(
            413,
            f"{name}: {frames * channels} samples ({channels} channels at {rate} Hz), over the "
            f"limit of {limits.audio_samples}",
        )


def transcribe_upload(
    model: Model, data: bytes, name: str, limits: Limits, *, picture: bool = False
) -> dict:
    """The JSON of ``lstmrec transcribe --format json`` for an uploaded file (its transcript is
    :func:`lstmrec.inference.transcribe.transcribe_signal`'s, named ``name``); with
    ``picture``, also ``picture_png``: the picture of ``transcribe --plot`` as base64 PNG."""
    signal, rate = read_audio(data, name, limits)
    transcript, logits = transcribe_signal_detailed(model.bundle, signal, rate, name=name)
    out = transcript.to_dict()
    if picture:
        png = transcription_png(model.bundle, transcript, logits, data, name)
        out["picture_png"] = base64.b64encode(png).decode("ascii")
    return out


def transcription_png(bundle: Bundle, transcript, logits: np.ndarray, data: bytes, name: str):
    """PNG bytes of :func:`lstmrec.scoring.plots.plot_transcription` (spectrogram, CTC
    posteriors, phones) for the uploaded file ``data``: written as ``name`` into a temporary
    folder that is removed when the picture is drawn."""
    with tempfile.TemporaryDirectory(prefix="lstmrec-serve-") as tmp:
        audio = Path(tmp) / name
        audio.write_bytes(data)
        drawn = dataclasses.replace(transcript, file=str(audio))
        with _PLOT_LOCK:
            png = plot_transcription(bundle, drawn, posteriors(logits), Path(tmp) / "picture.png")
        return png.read_bytes()


# ---------------------------------------------------------------------------------------------
# Ink


def parse_strokes(body: bytes, limits: Limits) -> tuple[tuple[np.ndarray, ...], str]:
    """The strokes and name of a ``/v1/recognize`` body, ``{"strokes": [[[x, y, t], ...], ...],
    "name"?: "..."}``: the JSON ink of :mod:`lstmrec.features.inkfiles` (``t`` in seconds, or in
    milliseconds when its steps say so; it may be omitted or null). Strokes come back as float64
    ``(N_i, 3)`` arrays, as the ink readers give them. Raises :class:`DataError` for a body that
    is not such JSON, :class:`RequestError` (413) for more than ``limits.ink_points`` points."""
    try:
        d = json.loads(body)
    except (ValueError, RecursionError) as e:  # JSON and UTF-8 errors are ValueErrors
        raise DataError(f"the body is not JSON ({e})") from None
    if not isinstance(d, dict) or not isinstance(d.get("strokes"), list):
        raise DataError('expected a JSON object {"strokes": [[[x, y, t], ...], ...]}')
    name = d.get("name", "strokes")
    if not isinstance(name, str) or not name:
        raise DataError("'name' must be a non-empty string")
    strokes = d["strokes"]
    try:
        points = sum(len(s) for s in strokes)
        if points > limits.ink_points:
            raise RequestError(413, f"{points} pen points, over the limit of {limits.ink_points}")
        return json_strokes(strokes, name), name
    except TypeError:
        raise DataError("strokes must be lists of points, each [x, y] or [x, y, t]", name) from None


def recognize_request(model: Model, body: bytes, limits: Limits) -> dict:
    """The JSON of ``lstmrec recognize --format json`` for a ``/v1/recognize`` body: text and
    each character's span of pen points (:func:`lstmrec.inference.recognize.recognize_strokes`)."""
    strokes, name = parse_strokes(body, limits)
    return recognize_strokes(model.bundle, strokes, name=name).to_dict()
