"""Evaluation of a model bundle on labelled utterances: error rates with S/D/I per speaker.

Speech models are scored on phones (PER); handwriting models on characters (CER) and on words
(WER: the space-separated tokens of the reference and recognised text), per writer.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from lstmrec.bundle import Bundle
from lstmrec.corpora.splits import load_split
from lstmrec.features.errors import DataError, report_or_raise
from lstmrec.featurize import compute_features
from lstmrec.inference.decoder import Decoder, decode_features, recipe_decoder
from lstmrec.lexicon import CMUDICT
from lstmrec.manifest import Utterance, corpus_hash, manifest_hash
from lstmrec.phones import fold
from lstmrec.scoring.align import Report, score
from lstmrec.targets import Targets, symbols_text, text_words


def recipe_speaker_lists(bundle: Bundle) -> dict[str, str]:
    """``{"dev_speakers": A, "test_speakers": B}``: the speaker lists the bundle's recipe names
    that exist as files (the model's held-out speakers), for a hint when a split is empty."""
    data = bundle.summary.get("recipe", {}).get("data", {})
    keys = ("dev_speakers", "test_speakers")
    return {k: data[k] for k in keys if data.get(k) and Path(data[k]).is_file()}


def held_out_lists(bundle: Bundle, data: str | os.PathLike) -> tuple[str | None, str | None]:
    """The speaker lists of the bundle's recipe (``[data] dev_speakers``, ``test_speakers``)
    when they are files that exist and ``data`` gives exactly the training split the bundle
    records (same ``split_hash``, the whole split before ``[data] max_utterances`` and skipped
    utterances, wherever the corpus lies now; ``data_hash`` in older bundles, with the paths
    trained from): its held-out speakers in that corpus.
    ``(None, None)`` otherwise: the corpus's own split rules apply."""
    recipe = bundle.summary.get("recipe", {}).get("data", {})
    lists = recipe_speaker_lists(bundle)
    named = [k for k in ("dev_speakers", "test_speakers") if recipe.get(k)]
    if not named or len(lists) < len(named):  # none named, or one named that is not there
        return None, None
    try:
        train = load_split(
            data,
            recipe.get("train_split") or "train",
            keep_sa=bool(recipe.get("keep_sa")),
            on_error=lambda e: None,  # a bad file changes the hash: the lists are then not used
            **lists,
        )
    except DataError:
        return None, None
    recorded = bundle.summary.get("split_hash") or bundle.summary.get("data_hash")
    if recorded not in (corpus_hash(train), manifest_hash(train)):  # (older bundles: with paths)
        return None, None
    return lists.get("dev_speakers"), lists.get("test_speakers")


def recipe_lexicon(bundle: Bundle, data: str | os.PathLike) -> tuple[str, ...]:
    """The lexicon sources of the bundle's recipe, found for scoring ``data``.

    A file is read where the recipe names it (a relative path: from the working folder). When
    it is not there and its path goes through a folder named as ``data``'s folder or that
    folder's parent (the corpus the model was trained on, moved or reached from elsewhere), the
    rest of the path is taken from there: ``../corpora/speechocean762/resource/lexicon.txt`` of
    a recipe is ``/srv/speechocean762/resource/lexicon.txt`` for ``/srv/speechocean762`` or
    ``/srv/speechocean762/train``. A file found in neither place stays as the recipe names it
    (reading it then fails, naming it)."""
    sources = bundle.summary.get("recipe", {}).get("data", {}).get("lexicon") or ()
    if isinstance(sources, str):
        sources = (sources,)
    root = Path(data).resolve()
    root = root if root.is_dir() else root.parent
    out = []
    for source in sources:
        parts = Path(source).parts
        found = None
        if source != CMUDICT and not Path(source).is_file():
            inside = (  # the deepest folder of that name first, then the same from the parent
                folder.joinpath(*parts[i + 1 :])
                for folder in (root, root.parent)
                for i in range(len(parts) - 2, -1, -1)
                if parts[i] == folder.name
            )
            found = next((p for p in inside if p.is_file()), None)
        out.append(str(found) if found else source)
    return tuple(out)


def evaluate_bundle(
    bundle: Bundle,
    utts: Sequence[Utterance],
    *,
    fold_to: int | None,
    decoder: Decoder | None = None,
    on_error: Callable[[DataError], None] | None = None,
    lexicon: Sequence[str] | None = None,
) -> tuple[Report, dict[str, list[str]]]:
    """Decode every utterance and score it against its phone labels (or, for utterances with
    only words, the phones of the bundle's lexicon, or of ``lexicon`` sources when given).

    ``decoder`` defaults to the bundle's recipe decoding settings. Returns the report and the
    hypotheses ``{utterance id: symbols}`` as scored (before folding; without silences where
    the reference came from a lexicon, see :meth:`lstmrec.targets.Targets.scored`).
    Utterances without labels or with unreadable audio raise, or go to ``on_error``.
    """
    targets = Targets.of_bundle(bundle, lexicon=lexicon)
    targets.require_lexicon(utts)  # a lexicon that cannot be read fails the run, once
    refs, hyps, speakers = _decode(bundle, utts, decoder, on_error, "decoding", targets)
    for uid in list(refs) if fold_to is not None else ():
        try:  # a reference phone the folding does not know (a manifest's typo): skip and list
            fold(refs[uid], fold_to, source=f"reference {uid}")
        except DataError as e:
            report_or_raise(e, on_error)
            del refs[uid], hyps[uid], speakers[uid]
    return score(refs, hyps, speakers=speakers, fold_to=fold_to), hyps


def _decode(bundle: Bundle, utts, decoder: Decoder | None, on_error, desc: str, targets=None):
    """References and best hypotheses ``{utterance id: symbols}``, and speakers by id, of the
    utterances that have references and usable features (the others go to ``on_error``)."""
    targets = targets or Targets.of_bundle(bundle)
    refs = targets.references(utts, on_error=on_error)
    labelled = [u for u in utts if u.id in refs]
    feats = compute_features(labelled, bundle.features, on_error=on_error, desc=desc)
    done = [u for u in labelled if u.id in feats]
    results = decode_features(
        bundle.model,
        [feats[u.id] for u in done],
        bundle.mean,
        bundle.std,
        decoder or recipe_decoder(bundle),
        progress=True,
    )
    hyps = {
        u.id: targets.scored(u, bundle.symbols.decode([t.symbol for t in r.tokens]))
        for u, r in zip(done, results, strict=True)
    }
    return {u.id: refs[u.id] for u in done}, hyps, {u.id: u.speaker for u in done}


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
    refs, hyps, writers = _decode(bundle, utts, decoder, on_error, "recognizing")
    chars = score(refs, hyps, speakers=writers)
    words = score(
        {u: text_words(symbols_text(r)) for u, r in refs.items()},
        {u: text_words(symbols_text(h)) for u, h in hyps.items()},
        speakers=writers,
    )
    return TextReport(chars, words), hyps
