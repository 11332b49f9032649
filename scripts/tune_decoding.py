#!/usr/bin/env python
"""PER (speech) or CER and WER (handwriting) of a model bundle on a split for a grid of LM
weights and insertion bonuses.

    .venv/bin/python scripts/tune_decoding.py runs/demo/model --data data/timit-demo \\
        --split train --test-speakers data/timit-demo/test_spk.list --keep-sa \\
        --lm runs/decode/phone-bigram.arpa --lm-weights 0 0.25 0.5 1 --bonuses 0 0.5 1 2

    .venv/bin/python scripts/tune_decoding.py runs/demo/ink-model --data runs/demo/ink-corpus \\
        --split dev --lm chars5.arpa --lm-weights 0.5 1 --bonuses 0 2

The acoustic model runs once; each grid point only re-runs the beam search. Tune on training
or dev speakers (writers), never on the test speakers you report. The best point has the lowest
PER or CER. References are the model's own (its text normalisation, e.g. IAM-OnDB's), as
``lstmrec evaluate`` scores them. Bad utterances are skipped and listed (exit status 2); known
gaps of the corpus (IAM-OnDB's lines without ink) are skipped and listed once in a file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys

from lstmrec.backend import import_keras
from lstmrec.bundle import load_bundle
from lstmrec.cli.common import EXIT_BAD_INPUT, Failures, split_from_args
from lstmrec.features.audio import apply_cmvn
from lstmrec.features.errors import DataError
from lstmrec.featurize import compute_features
from lstmrec.inference.decoder import DecoderOptions, bundle_decoder, predict_logits
from lstmrec.scoring.align import score
from lstmrec.shipped import resolve_model
from lstmrec.targets import Targets, symbols_text, text_words

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("model", help="model bundle folder, or a shipped model's name")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--keep-sa", action="store_true")
    p.add_argument("--dev-speakers")
    p.add_argument("--test-speakers")
    p.add_argument("--beam", type=int, default=100)
    p.add_argument("--lm", help="ARPA model (without it only the bonuses vary)")
    p.add_argument("--lexicon")
    p.add_argument("--lm-weights", type=float, nargs="+", default=[0.0])
    p.add_argument("--bonuses", type=float, nargs="+", default=[0.0])
    p.add_argument("--format", choices=["text", "json"], default="text")
    return p.parse_args(argv)


def split_logits(args, bundle, targets: Targets, failures: Failures):
    """The utterances of the split that have a reference and readable input, their references
    ``{id: symbols}`` (:meth:`lstmrec.targets.Targets.references`) and the model's logits of
    each: ``(T_i, V + 1)`` arrays, computed once for the whole grid. The others go to
    ``failures``."""
    utts = split_from_args(args, args.split, on_error=failures)
    refs = targets.references(utts, on_error=failures)
    utts = [u for u in utts if u.id in refs]
    feats = compute_features(utts, bundle.features, on_error=failures, desc="features")
    utts = [u for u in utts if u.id in feats]
    if not utts:
        raise DataError(f"split {args.split!r} has no usable utterances", args.data)
    logits = predict_logits(
        bundle.model, [apply_cmvn(feats[u.id], bundle.mean, bundle.std) for u in utts]
    )
    return utts, {u.id: refs[u.id] for u in utts}, logits


def grid_point(args, bundle, utts, logits, refs, *, weight: float, bonus: float, ink: bool,
               targets: Targets):  # fmt: skip
    """Error counts of the beam search with this LM weight and insertion bonus (and the WER of
    the same hypotheses for handwriting): one row of the grid."""
    options = DecoderOptions(
        beam=args.beam,
        lm=args.lm,
        lm_weight=weight,
        insertion_bonus=bonus,
        lexicon=args.lexicon,
    )
    decoder = bundle_decoder(bundle, options)
    hyps = {
        u.id: targets.scored(u, bundle.symbols.decode([t.symbol for t in decoder(lg).tokens]))
        for u, lg in zip(utts, logits, strict=True)
    }
    total = score(refs, hyps, fold_to=bundle.summary.get("score_phone_set")).total
    row = {
        "lm_weight": weight,
        "insertion_bonus": bonus,
        "error_rate": round(total.error_rate, 2),
        "S": total.substitutions,
        "D": total.deletions,
        "I": total.insertions,
    }
    if ink:  # word error rate of the same hypotheses
        words = [{u: text_words(symbols_text(t)) for u, t in d.items()} for d in (refs, hyps)]
        row["wer"] = round(score(*words).total.error_rate, 2)
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import_keras()  # before the bundle's Keras model loads, to keep TensorFlow's start quiet
    try:
        return tune(args)
    except DataError as e:
        print(f"tune_decoding: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


def tune(args) -> int:
    """Print the grid's rows and the best point; the exit status (2 when inputs failed)."""
    if args.beam < 0:
        raise DataError(f"--beam {args.beam} must be 0 or more")
    for flag, values in (("--lm-weights", args.lm_weights), ("--bonuses", args.bonuses)):
        if not all(math.isfinite(v) for v in values):
            raise DataError(f"{flag} {' '.join(map(str, values))}: each must be a finite number")
    bundle = load_bundle(resolve_model(args.model))  # a folder, else a shipped name
    bonus = next((b for b in args.bonuses if b), 0.0)  # a bad LM, lexicon or bonus is said
    bundle_decoder(  # before the network runs over the split, not after
        bundle,
        DecoderOptions(beam=args.beam, lm=args.lm, lexicon=args.lexicon, insertion_bonus=bonus),
    )
    failures = Failures(strict=False)
    targets = Targets.of_bundle(bundle)
    utts, refs, logits = split_logits(args, bundle, targets, failures)
    ink = targets.unit == "chars"  # CER and WER (handwriting, or speech written as characters)
    name = "CER" if ink else "PER"
    rows = []
    for weight, bonus in itertools.product(args.lm_weights, args.bonuses):
        r = grid_point(args, bundle, utts, logits, refs, weight=weight, bonus=bonus, ink=ink,
                       targets=targets)  # fmt: skip
        rows.append(r)
        if args.format == "text":
            print(
                f"lm_weight {weight:5.2f} bonus {bonus:5.2f}: {name} {r['error_rate']:6.2f} % "
                f"(S {r['S']}, D {r['D']}, I {r['I']})"
                + (f"  WER {r['wer']:6.2f} %" if ink else ""),
                flush=True,
            )
    best = min(rows, key=lambda r: r["error_rate"])
    if args.format == "json":
        print(
            json.dumps({"split": args.split, "utterances": len(utts), "grid": rows, "best": best})
        )
    else:
        print(f"best on {args.split} ({len(utts)} utterances): {best}")
    return failures.finish()


if __name__ == "__main__":
    raise SystemExit(main())
