"""Evaluation of a model bundle on labelled utterances: error rates with S/D/I per speaker.

Speech models are scored on phones (PER); handwriting models on characters (CER) and on words
(WER: the space-separated tokens of the reference and recognised text), per writer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from lstmrec.bundle import Bundle
from lstmrec.features.errors import DataError
from lstmrec.featurize import compute_features
from lstmrec.inference.decoder import Decoder, decode_features, recipe_decoder
from lstmrec.manifest import Utterance
from lstmrec.scoring.align import Report, score
from lstmrec.targets import symbols_text, text_symbols, text_words


def evaluate_bundle(
    bundle: Bundle,
    utts: Sequence[Utterance],
    *,
    fold_to: int | None,
    decoder: Decoder | None = None,
    on_error: Callable[[DataError], None] | None = None,
) -> tuple[Report, dict[str, list[str]]]:
    """Decode every utterance and score it against its phone labels.

    ``decoder`` defaults to the bundle's recipe decoding settings. Returns the report and the
    hypotheses ``{utterance id: symbols}`` (before folding).
    Utterances without labels or with unreadable audio raise, or go to ``on_error``.
    """
    labelled = []
    for utt in utts:
        if utt.phones:
            labelled.append(utt)
        elif on_error is None:
            raise DataError(f"utterance {utt.id} has no phone labels", utt.path)
        else:
            on_error(DataError(f"utterance {utt.id} has no phone labels", utt.path))
    feats = compute_features(labelled, bundle.features, on_error=on_error, desc="decoding")
    done = [u for u in labelled if u.id in feats]
    hyps = _decode(bundle, done, feats, decoder)
    refs = {u.id: list(u.phones) for u in done}
    report = score(refs, hyps, speakers={u.id: u.speaker for u in done}, fold_to=fold_to)
    return report, hyps


def _decode(bundle: Bundle, utts, feats, decoder: Decoder | None) -> dict[str, list[str]]:
    """Best hypothesis ``{utterance id: symbols}`` of each utterance (features by id)."""
    decoder = decoder or recipe_decoder(bundle)
    results = decode_features(
        bundle.model, [feats[u.id] for u in utts], bundle.mean, bundle.std, decoder, progress=True
    )
    return {
        u.id: bundle.symbols.decode([t.symbol for t in r.tokens])
        for u, r in zip(utts, results, strict=True)
    }


@dataclasses.dataclass
class TextReport:
    """Character and word error reports of a handwriting model on one split."""

    chars: Report  # CER: symbols of the texts (a word gap counts as one character)
    words: Report  # WER: space-separated tokens

    def to_dict(self) -> dict:
        """The character report's keys (``error_rate`` is the CER), ``cer`` and ``wer`` in
        percent, and the word report under ``words``."""
        return {
            **self.chars.to_dict(),
            "cer": self.chars.total.error_rate,
            "wer": self.words.total.error_rate,
            "words": self.words.to_dict(),
        }

    def to_text(self) -> str:
        return self.chars.to_text("CER") + "\n" + self.words.to_text("WER")


def _char_refs(bundle, utts, on_error) -> dict[str, list[str]]:
    """Reference symbols by id; an utterance with no text or with a character the model's
    table lacks (it could never be recognised) is bad input."""
    known, refs = set(bundle.symbols.symbols), {}
    for utt in utts:
        symbols = text_symbols(utt.text or "")
        unknown = sorted({symbols_text([s]) for s in symbols if s not in known})
        err = None
        if not symbols:
            err = DataError(f"utterance {utt.id} has no text", utt.path)
        elif unknown:
            shown = " ".join(map(repr, unknown))
            err = DataError(
                f"utterance {utt.id}: reference characters not in the model's symbol table: "
                f"{shown}",
                utt.path,
            )
        if err is None:
            refs[utt.id] = symbols
        elif on_error is None:
            raise err
        else:
            on_error(err)
    return refs


def evaluate_text_bundle(
    bundle: Bundle,
    utts: Sequence[Utterance],
    *,
    decoder: Decoder | None = None,
    on_error: Callable[[DataError], None] | None = None,
) -> tuple[TextReport, dict[str, list[str]]]:
    """Recognise every utterance's ink and score CER and WER against its text, per writer.

    ``decoder`` defaults to the bundle's recipe decoding settings. Returns the report and the
    hypotheses ``{utterance id: symbols}``.
    """
    refs = _char_refs(bundle, utts, on_error)
    labelled = [u for u in utts if u.id in refs]
    feats = compute_features(labelled, bundle.features, on_error=on_error, desc="recognizing")
    done = [u for u in labelled if u.id in feats]
    hyps = _decode(bundle, done, feats, decoder)
    refs = {u.id: refs[u.id] for u in done}
    writers = {u.id: u.speaker for u in done}
    chars = score(refs, hyps, speakers=writers)
    words = score(
        {u: text_words(symbols_text(r)) for u, r in refs.items()},
        {u: text_words(symbols_text(h)) for u, h in hyps.items()},
        speakers=writers,
    )
    return TextReport(chars, words), hyps
