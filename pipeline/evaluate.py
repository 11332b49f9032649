"""Evaluation of a model bundle on labelled utterances: error rates with S/D/I per speaker."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from features.errors import DataError
from pipeline.bundle import Bundle
from pipeline.featurize import compute_features
from pipeline.inference import Decoder, DecoderOptions, decode_features
from pipeline.manifest import Utterance
from pipeline.scoring import Report, score


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
            raise DataError(f"utterance {utt.id} has no phone labels", utt.audio)
        else:
            on_error(DataError(f"utterance {utt.id} has no phone labels", utt.audio))
    feats = compute_features(labelled, bundle.features, on_error=on_error, desc="decoding")
    done = [u for u in labelled if u.id in feats]
    if decoder is None:
        decoder = Decoder(DecoderOptions.from_summary(bundle.summary), bundle.symbols.to_list())
    results = decode_features(
        bundle.model, [feats[u.id] for u in done], bundle.mean, bundle.std, decoder, progress=True
    )
    hyps = {
        u.id: bundle.symbols.decode([t.symbol for t in r.tokens])
        for u, r in zip(done, results, strict=True)
    }
    refs = {u.id: list(u.phones) for u in done}
    report = score(refs, hyps, speakers={u.id: u.speaker for u in done}, fold_to=fold_to)
    return report, hyps
