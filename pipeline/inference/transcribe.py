"""Transcription of audio files with a model bundle: phones with start and end times, or, for a
model that writes characters (``[data] unit = "chars"``), words and characters with theirs.

A character model's words are the runs of characters between :data:`lstmrec.targets.SPACE`
symbols: each runs from the start of its first character to the end of its last one, which is
where the spike of the following space begins.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from lstmrec.bundle import Bundle
from lstmrec.corpora.timit import AUDIO_EXTENSIONS as CORPUS_AUDIO_EXTENSIONS
from lstmrec.features.audio import apply_cmvn, audio_info, output_frame_center_s
from lstmrec.features.errors import DataError
from lstmrec.featurize import checked_features, signal_features, utterance_features
from lstmrec.inference.decoder import (
    Decoder,
    decode_in_chunks,
    predict_logits,
    recipe_decoder,
)
from lstmrec.manifest import Utterance
from lstmrec.phones import fold
from lstmrec.progress import progress
from lstmrec.scoring.ids import STDIN, file_ids, safe_id
from lstmrec.scoring.refs import SILENCE, STM_CHANNEL
from lstmrec.targets import SPACE, Targets, modality, symbols_text

# Audio files found in folders: the corpus readers' extensions, Sony Wave64, and the
# compressed formats libsndfile also reads (MP3, as Common Voice's clips are; Ogg Opus).
AUDIO_EXTENSIONS = (*CORPUS_AUDIO_EXTENSIONS, ".w64", ".mp3", ".opus")
BATCH_FILES = 16  # files whose features are held in memory and decoded together
PROGRESS_FILES = 20  # a progress bar over the files from this many on (on a terminal)


@dataclasses.dataclass(frozen=True)
class TimedPhone:
    phone: str
    start: float  # seconds
    end: float  # seconds


@dataclasses.dataclass(frozen=True)
class TimedWord:
    """A word of a character model's transcript."""

    word: str
    start: float  # seconds: the start of its first character
    end: float  # seconds: the end of its last character


@dataclasses.dataclass(frozen=True)
class Alternative:
    """One N-best hypothesis: its phones (a character model's symbols) and scores (natural
    logs)."""

    phones: list[str]
    score: float  # acoustic + lm_weight * lm + insertion_bonus * len
    acoustic: float  # log p_ctc
    lm: float  # log p_lm (0 without a language model)


def alternative_dict(alternative) -> dict:
    """An N-best entry as JSON: its symbols (``phones`` or ``text``) and its scores, rounded."""
    return {
        k: round(v, 4) if isinstance(v, float) else v
        for k, v in dataclasses.asdict(alternative).items()
    }


@dataclasses.dataclass(frozen=True)
class Transcript:
    file: str
    duration: float  # seconds
    phones: list[TimedPhone]  # the model's symbols: phones, or characters with SPACE
    nbest: list[Alternative] = dataclasses.field(default_factory=list)
    id: str = ""  # the id of lstmrec.scoring.ids; "" means safe_id of the file name
    unit: str = "phones"  # what the model writes: "phones" or "chars" (lstmrec.targets)

    @property
    def utt_id(self) -> str:
        """The transcript's id (see :mod:`lstmrec.scoring.ids`)."""
        return self.id or safe_id(Path(self.file).name)

    @property
    def text(self) -> str:
        """The phones, space-separated; a character model's words, separated by one space."""
        if self.unit == "chars":
            return " ".join(w.word for w in self.words)
        return " ".join(p.phone for p in self.phones)

    @property
    def words(self) -> list[TimedWord]:
        """A character model's words with their times (see the module docstring); ``[]`` for a
        phone model."""
        if self.unit != "chars":
            return []
        out: list[TimedWord] = []
        run: list[TimedPhone] = []
        for p in [*self.phones, None]:
            if p is not None and p.phone != SPACE:
                run.append(p)
            elif run:
                out.append(TimedWord("".join(c.phone for c in run), run[0].start, run[-1].end))
                run = []
        return out

    def to_dict(self) -> dict:
        """The JSON object of ``transcribe --format json``: ``phones`` with times, or for a
        character model ``text``, ``words`` and ``chars`` (a word gap is the character
        ``" "``) with times; with an N-best list (``--nbest`` above 1), ``nbest``."""
        if self.unit == "chars":
            return self._chars_dict()
        d = {
            "id": self.utt_id,
            "file": self.file,
            "duration": round(self.duration, 4),
            "phones": [
                {"phone": p.phone, "start": rounded_s(p.start), "end": rounded_s(p.end)}
                for p in self.phones
            ],
        }
        if self.nbest:
            d["nbest"] = [alternative_dict(a) for a in self.nbest]
        return d

    def _chars_dict(self) -> dict:
        d = {
            "id": self.utt_id,
            "file": self.file,
            "duration": round(self.duration, 4),
            "text": self.text,
            "words": [
                {"word": w.word, "start": rounded_s(w.start), "end": rounded_s(w.end)}
                for w in self.words
            ],
            "chars": [
                {
                    "char": symbols_text([p.phone]),
                    "start": rounded_s(p.start),
                    "end": rounded_s(p.end),
                }
                for p in self.phones
            ],
        }
        if self.nbest:  # each with its text in place of its symbols
            d["nbest"] = [
                {"text": " ".join(symbols_text(a.phones).split())}
                | {k: v for k, v in alternative_dict(a).items() if k != "phones"}
                for a in self.nbest
            ]
        return d

    def ctm_lines(self, *, silence: str = "drop") -> list[str]:
        """CTM lines as sclite's ``-h ctm`` reads them:
        ``<file id> 1 <start s> <duration s> <phone>``, or for a character model one line per
        word, ``<file id> 1 <start s> <duration s> <word>``.

        Times are whole milliseconds: start and end are rounded, the duration is their
        difference, so a phone ends exactly where the next one starts, never after it.
        ``silence="drop"`` leaves out the phones of :data:`SILENCE`; ``"keep"`` writes them
        (a character model has none: the gaps between its words are not written).
        """
        if silence not in ("drop", "keep"):
            raise ValueError(f"silence={silence!r} must be 'drop' or 'keep'")
        if self.unit == "chars":
            spans = [(w.word, w.start, w.end) for w in self.words]
        else:
            spans = [
                (p.phone, p.start, p.end)
                for p in self.phones
                if silence == "keep" or p.phone not in SILENCE
            ]
        lines = []
        for token, start, end in spans:
            start_ms, end_ms = milliseconds(start), milliseconds(end)
            dur_ms = max(end_ms - start_ms, 0)
            lines.append(
                f"{self.utt_id} {STM_CHANNEL} {start_ms / 1000:.3f} {dur_ms / 1000:.3f} {token}"
            )
        return lines


def milliseconds(seconds: float) -> int:
    """``seconds`` in whole milliseconds, half a millisecond up (0.6275 s -> 628): the one
    rounding of every time ``transcribe`` and ``transcribe --stream`` write (JSON, CTM, text).

    Phone boundaries fall on half milliseconds (a 25 ms window's centre is 12.5 ms into it),
    where the binary fraction may sit just below or above the half: the product is first
    rounded to a millionth of a millisecond, so that 0.6275 rounds up however it is stored,
    and ``f"{s:.3f}"`` (which rounds the stored binary value) is never used on a raw time.
    """
    return math.floor(round(seconds * 1000, 6) + 0.5)


def rounded_s(seconds: float) -> float:
    """``seconds`` rounded to the millisecond (:func:`milliseconds`), in seconds."""
    return milliseconds(seconds) / 1000


def expand_inputs(
    paths: Iterable[str | os.PathLike], *, extensions: Sequence[str] = AUDIO_EXTENSIONS
) -> list[str]:
    """Files as given, and every file with one of ``extensions`` (any case) under each
    directory, sorted."""
    out: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in extensions
            )
            out.extend(str(f) for f in found)
        else:
            out.append(str(p))
    return out


def boundary_s(frame: int, bundle: Bundle) -> float:
    """Time between frame ``frame - 1`` and frame ``frame``: halfway between their centres."""
    hop_s = bundle.features.output_hop_length / bundle.features.sample_rate
    return float(output_frame_center_s(frame, bundle.features)) - hop_s / 2


def require_speech_model(bundle: Bundle, source: str | None = None) -> None:
    """Raise :class:`DataError` unless ``bundle`` is a speech model (audio features)."""
    if modality(bundle.features) == "ink":
        raise DataError("not a speech model (its features are ink); use recognize", source)


def speech_unit(bundle: Bundle, fold_to: int | None, source: str | None = None) -> str:
    """What the speech model ``bundle`` writes, ``"phones"`` or ``"chars"``. Raises
    :class:`DataError` for an ink model, or for ``fold_to`` with a character model (folding maps
    TIMIT phones)."""
    require_speech_model(bundle, source)
    unit = Targets.of_bundle(bundle).unit
    if unit == "chars" and fold_to is not None:
        raise DataError(
            f"the model writes characters: folding to {fold_to} phones needs a phone model", source
        )
    return unit


def read_stdin_audio(stream=None, *, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Samples and sample rate of audio on standard input (or ``stream``, a binary file).

    Without ``rate`` the bytes must be a file libsndfile reads (WAV, FLAC, ...); with ``rate``
    they are raw 16-bit little-endian mono PCM at ``rate`` Hz. Raises :class:`DataError`
    naming ``-``.
    """
    import soundfile as sf

    data = (stream or sys.stdin.buffer).read()
    if not data:
        raise DataError("standard input is empty", STDIN)
    if rate is not None:
        if rate <= 0:
            raise DataError(f"--rate {rate} must be a positive number of Hz", STDIN)
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2"), rate
    try:
        signal, sr = sf.read(io.BytesIO(data), dtype="float32")
    except sf.LibsndfileError as e:  # its str() names the BytesIO object: the reason alone
        reason = e.error_string
        raise DataError(
            f"not an audio file ({reason}); give --rate for raw 16-bit PCM", STDIN
        ) from None
    except (RuntimeError, TypeError) as e:
        raise DataError(f"not an audio file ({e}); give --rate for raw 16-bit PCM", STDIN) from None
    return signal, int(sr)


def transcribe_files(
    bundle: Bundle,
    files: Sequence[str],
    *,
    fold_to: int | None = None,
    decoder: Decoder | None = None,
    on_error: Callable[[DataError], None] | None = None,
    warn: Callable[[str], None] | None = None,
    rate: int | None = None,
    ids: dict[str, str] | None = None,
    utterances: Mapping[str, Utterance] | None = None,
) -> Iterable[Transcript]:
    """Yield one :class:`Transcript` per readable file, in order, named by the ids of
    :func:`lstmrec.scoring.ids.file_ids`.

    Each phone spans from the first frame of its CTC spike to the start of the next phone's
    spike (times clipped to the file). ``fold_to`` maps TIMIT phones to the 48 or 39 set (phones
    that fold to nothing, like ``q``, are dropped). ``decoder`` defaults to the bundle's recipe
    decoding settings. ``-`` reads standard input (:func:`read_stdin_audio`, raw PCM at ``rate``
    when given). ``warn`` gets a one-line message for each file whose sample rate is below the
    model's. ``ids`` (``{path: id}``, e.g. the utterance ids of a corpus) replaces the file ids.
    ``utterances`` (``{entry of files: Utterance}``) are corpus utterances that are not a whole
    file (see :func:`utterance_key`): a Kaldi segment's slice of its recording, a TFDS
    utterance's samples; each is transcribed as such, its transcript naming its file.
    Bad files raise :class:`DataError`, or go to ``on_error`` and are skipped.
    """
    unit = speech_unit(bundle, fold_to)
    ids = ids or file_ids(files)
    model_sr = bundle.features.sample_rate
    utterances = utterances or {}

    def featurize(path: str) -> list[tuple[tuple[str, float], np.ndarray]]:
        if path in utterances:
            utt = utterances[path]
            feats = utterance_features(utt, bundle.features)
            return [((path, utt.duration or len(feats) * _hop_s(bundle)), feats)]
        if path == STDIN:
            signal, sr = read_stdin_audio(rate=rate)
            feats = signal_features(signal, sr, bundle.features, STDIN)
            n = len(signal)
        else:
            n, sr, _ = audio_info(path)
            feats = checked_features(path, bundle.features)
        _warn_low_rate(warn, path, sr, model_sr)
        return [((path, n / sr), feats)]

    bar = progress(total=len(files), show=len(files) >= PROGRESS_FILES, desc="files", unit="file")
    for (path, duration), r in decode_in_chunks(
        files,
        featurize,
        bundle,
        decoder,
        on_error=on_error,
        chunk_size=BATCH_FILES,
    ):
        bar.update(1)
        nbest = [_alternative(bundle, h, fold_to) for h in r.nbest]
        timed = _timed(bundle, r.tokens, duration, fold_to)
        name = utterances[path].path if path in utterances else path
        yield Transcript(name, duration, timed, nbest, id=ids[path], unit=unit)
    bar.close()


def utterance_key(utt: Utterance) -> str:
    """How :func:`transcribe_files` is given a corpus utterance: its file's path when it is the
    whole file, else (a slice of a recording, samples held in memory) the path and ``#`` and
    its id, so two segments of one recording are two entries (``utterances`` maps it back)."""
    whole = utt.offset is None and getattr(utt, "samples", None) is None
    return utt.path if whole else f"{utt.path}#{utt.id}"


def _hop_s(bundle: Bundle) -> float:
    return bundle.features.output_hop_length / bundle.features.sample_rate


def _alternative(bundle: Bundle, hyp, fold_to: int | None) -> Alternative:
    phones = bundle.symbols.decode(hyp.labels)
    if fold_to is not None:
        phones = fold(phones, fold_to)
    return Alternative(phones, hyp.score, hyp.acoustic, hyp.lm)


def _warn_low_rate(
    warn: Callable[[str], None] | None, name: str, rate: int, model_rate: int
) -> None:
    """Tell ``warn`` (when given) of audio recorded below the model's sample rate."""
    if rate < model_rate and warn is not None:
        warn(f"{name}: sample rate {rate} Hz is below the model's {model_rate} Hz (upsampled)")


def transcribe_detailed(
    bundle: Bundle,
    path: str,
    *,
    fold_to: int | None = None,
    decoder: Decoder | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[Transcript, np.ndarray]:
    """One file's :class:`Transcript` (as :func:`transcribe_files` gives it, ``warn`` too) and
    the model's ``(T, V + 1)`` float32 logits, for pictures of what the network saw. Bad files
    raise :class:`DataError`."""
    speech_unit(bundle, fold_to, path)
    n, sr, _ = audio_info(path)
    feats = checked_features(path, bundle.features)
    _warn_low_rate(warn, path, sr, bundle.features.sample_rate)
    return _transcript_and_logits(bundle, path, n / sr, feats, fold_to, decoder)


def transcribe_signal(
    bundle: Bundle,
    signal: np.ndarray,
    sample_rate: int,
    *,
    name: str,
    fold_to: int | None = None,
    decoder: Decoder | None = None,
) -> Transcript:
    """The :class:`Transcript` of samples in memory: ``signal`` ``(N,)`` or ``(N, C)`` (channels
    averaged), float in [-1, 1] or integer PCM, at ``sample_rate`` Hz (resampled to the model's
    rate). ``name`` is the transcript's ``file``. Unusable signals raise :class:`DataError`."""
    return transcribe_signal_detailed(
        bundle, signal, sample_rate, name=name, fold_to=fold_to, decoder=decoder
    )[0]


def transcribe_signal_detailed(
    bundle: Bundle,
    signal: np.ndarray,
    sample_rate: int,
    *,
    name: str,
    fold_to: int | None = None,
    decoder: Decoder | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[Transcript, np.ndarray]:
    """:func:`transcribe_signal`'s :class:`Transcript` and the model's ``(T, V + 1)`` float32
    logits, as :func:`transcribe_detailed` gives them for a file (``warn`` too)."""
    speech_unit(bundle, fold_to, name)
    feats = signal_features(signal, sample_rate, bundle.features, name)
    _warn_low_rate(warn, name, sample_rate, bundle.features.sample_rate)
    duration = len(signal) / sample_rate
    return _transcript_and_logits(bundle, name, duration, feats, fold_to, decoder)


def _transcript_and_logits(
    bundle: Bundle, name: str, duration: float, feats: np.ndarray, fold_to, decoder
) -> tuple[Transcript, np.ndarray]:
    decoder = decoder or recipe_decoder(bundle)
    (logits,) = predict_logits(bundle.model, [apply_cmvn(feats, bundle.mean, bundle.std)])
    r = decoder(logits)
    nbest = [_alternative(bundle, h, fold_to) for h in r.nbest]
    timed = _timed(bundle, r.tokens, duration, fold_to)
    unit = Targets.of_bundle(bundle).unit
    if r.frame_log_probs is not None:  # a transducer: the joint's outputs on the best path
        logits = r.frame_log_probs
    return Transcript(name, duration, timed, nbest, unit=unit), logits


def _timed(bundle: Bundle, tokens, duration: float, fold_to: int | None) -> list[TimedPhone]:
    phones = []
    for tok, (start, end) in zip(tokens, token_times(bundle, tokens, duration), strict=True):
        label = bundle.symbols.decode([tok.symbol])[0]
        if fold_to is not None:
            folded = fold([label], fold_to)
            if not folded:
                continue
            label = folded[0]
        phones.append(TimedPhone(label, start, end))
    return phones


def token_times(bundle: Bundle, tokens, duration: float) -> list[tuple[float, float]]:
    """``(start s, end s)`` of each token, within ``[0, duration]``: from the boundary before its
    first frame to the boundary before its end frame. Tokens that start on one frame (a
    transducer's labels emitted on it, all but the last with empty frame spans) share the span
    of the last of them, in equal parts and in order: none is of zero length unless the audio
    ends before its span begins."""
    times: list[tuple[float, float]] = []
    i = 0
    while i < len(tokens):
        j = i + 1  # tokens[i:j] start on one frame
        while j < len(tokens) and tokens[j].start == tokens[i].start:
            j += 1
        start = min(max(boundary_s(tokens[i].start, bundle), 0.0), duration)
        end = min(max(boundary_s(tokens[j - 1].end, bundle), start), duration)
        step = (end - start) / (j - i)
        times += [(start + k * step, start + (k + 1) * step) for k in range(j - i)]
        i = j
    return times
