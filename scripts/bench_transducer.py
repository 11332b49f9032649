#!/usr/bin/env python
"""CTC against the RNN transducer, side by side in one run: training and decoding speed.

    .venv/bin/python scripts/bench_transducer.py --corpus ../shared/data/speechocean762/train \\
        --ctc-config configs/english_phones.toml \\
        --transducer-config configs/english_transducer.toml \\
        --ctc-bundle runs/english_phones/model --transducer-bundle runs/english_transducer/model \\
        --data runs/english_phones/data --split core-test

Training: full training steps (forward, loss, backward, update;
:func:`lstmrec.bench.training.time_training`) of each recipe's network on the corpus's real
utterance lengths with random features and labels (``--phones-per-second`` of them), each
network in its own process on the same backend, padded as its recipe pads. Decoding: each
bundle on the same held-out utterances with the NumPy engine, features computed once before
the clock starts; the encoder's forward pass and the search timed apart, greedy and with each
recipe's beam. Speeds are 10 ms input frames per second (audio seconds x 100), each with its
ratio to CTC's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from lstmrec.bench.training import real_lengths  # no Keras: each run chooses its backend
from lstmrec.features.errors import DataError, require_at_least


def _train_one(args) -> dict:
    """Time one recipe's training steps in this process."""
    from lstmrec.backend import import_keras

    import_keras()
    from lstmrec.bench.training import time_training
    from lstmrec.config import load_recipe
    from lstmrec.training.transducer import build_trainer

    recipe = load_recipe(args.config)
    stack = max(1, getattr(recipe.features, "stack", 1))
    base = real_lengths(args.corpus, count=args.batch_size * 4)  # 10 ms frames
    lengths = np.maximum(1, -(-base // stack))
    labels = np.maximum(1, np.round(base / 100 * args.phones_per_second)).astype(int)
    trainer = build_trainer(recipe, args.classes, recipe.training.loss_reduction)
    cfg = recipe.training
    fps = time_training(
        trainer,
        lengths,
        batch_size=cfg.batch_size,
        input_dim=recipe.features.dim,
        num_classes=args.classes,
        steps=args.steps,
        label_lengths=labels,
        pad_multiple=cfg.pad_multiple,
        label_pad_multiple=cfg.label_pad_multiple or cfg.pad_multiple,
    )
    return {"input_frames_per_s": fps * float(base.sum() / lengths.sum())}


def _training(args) -> dict:
    out = {}
    for kind, config in (("ctc", args.ctc_config), ("transducer", args.transducer_config)):
        cmd = [sys.executable, __file__, "--one", "--config", config, *_passed(args)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        if proc.returncode != 0:
            why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise DataError(f"the {kind} training run failed: {why}")
        out[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _decoding(args) -> dict:
    """Decode the same utterances with each bundle (NumPy engine); seconds per part."""
    from lstmrec.bundle import load_bundle
    from lstmrec.corpora.splits import load_split
    from lstmrec.features.audio import apply_cmvn
    from lstmrec.featurize import compute_features
    from lstmrec.inference.decoder import DecoderOptions, bundle_decoder, predict_logits

    utts = load_split(args.data, args.split)[: args.utterances]
    if not utts:
        raise DataError(f"split {args.split!r} has no utterances", args.data)
    paths = {"ctc": args.ctc_bundle, "transducer": args.transducer_bundle}
    bundles = {kind: load_bundle(path, engine="numpy") for kind, path in paths.items()}
    for kind, bundle in bundles.items():  # before any timing: each where its flag says
        if bundle.kind != kind:
            names = {"ctc": "CTC", "transducer": "transducer"}
            why = f"--{kind}-bundle is a {names[bundle.kind]} model, not a {names[kind]} one"
            raise DataError(why, paths[kind])
    out, speeds = {}, {}  # speeds: kind -> [greedy, the recipe's beam] input frames/s
    for kind, bundle in bundles.items():
        feats = compute_features(utts, bundle.features, desc=f"{kind} features")
        normed = [apply_cmvn(feats[u.id], bundle.mean, bundle.std) for u in utts if u.id in feats]
        # 10 ms input frames: each stacked frame holds `stack` of them
        audio_frames = sum(len(f) for f in normed) * getattr(bundle.features, "stack", 1)
        t0 = time.perf_counter()
        outputs = predict_logits(bundle.model, normed)
        forward = time.perf_counter() - t0
        row = {"utterances": len(normed), "forward_s": round(forward, 2)}
        recipe_beam = DecoderOptions.from_summary(bundle.summary).beam
        for name, beam in (("greedy", 0), (f"beam {recipe_beam}", recipe_beam)):
            decoder = bundle_decoder(bundle, DecoderOptions(beam=beam))
            t0 = time.perf_counter()
            for o in outputs:
                decoder(o)
            search = time.perf_counter() - t0
            speeds.setdefault(kind, []).append(audio_frames / (forward + search))
            row[name] = {
                "search_s": round(search, 2),
                "input_frames_per_s": round(speeds[kind][-1]),
            }
        out[kind] = row
    ratios = [t / c for t, c in zip(speeds["transducer"], speeds["ctc"], strict=True)]
    out["transducer_vs_ctc"] = {
        name: round(r, 3) for name, r in zip(("greedy", "recipe beam"), ratios, strict=True)
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", help="utterance lengths from this corpus (default: 1.5-4.5 s)")
    p.add_argument("--ctc-config", default="configs/english_phones.toml")
    p.add_argument("--transducer-config", default="configs/english_transducer.toml")
    p.add_argument("--ctc-bundle", help="a CTC bundle to time decoding with")
    p.add_argument("--transducer-bundle", help="a transducer bundle to time decoding with")
    p.add_argument(
        "--data", help="the held-out utterances to decode (any --data layout), with both bundles"
    )
    p.add_argument("--split", default="core-test")
    p.add_argument("--utterances", type=int, default=100, help="decode at most this many")
    p.add_argument("--classes", type=int, default=40, help="labels + blank")
    p.add_argument("--phones-per-second", type=float, default=12.5, help="labels per second")
    p.add_argument("--steps", type=int, default=6, help="timed training steps per network")
    p.add_argument("--batch-size", type=int, default=16, help="utterance lengths: 4 batches")
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        try:
            print(json.dumps(_train_one(args)))
        except DataError as e:
            print(e, file=sys.stderr)
            return 2
        return 0
    report = {"backend": os.environ.get("KERAS_BACKEND", "tensorflow")}
    try:
        require_at_least(
            {
                "--utterances": (args.utterances, 1),
                "--classes": (args.classes, 2),
                "--steps": (args.steps, 1),
                "--batch-size": (args.batch_size, 1),
            }
        )
        decoding = {
            "--ctc-bundle": args.ctc_bundle,
            "--transducer-bundle": args.transducer_bundle,
            "--data": args.data,
        }
        missing = [flag for flag, value in decoding.items() if not value]
        if 0 < len(missing) < len(decoding):
            together = "--ctc-bundle, --transducer-bundle and --data"
            why = f"decoding is timed with {together} together; missing {' and '.join(missing)}"
            raise DataError(why, "command line")
        if missing and args.skip_training:
            raise DataError("nothing to time: --skip-training and no bundles", "command line")
        if args.corpus:  # checked once, before the training runs start
            real_lengths(args.corpus, count=1)
        if not args.skip_training:
            report["training"] = _training(args)
            t = report["training"]
            t["transducer_vs_ctc"] = round(
                t["transducer"]["input_frames_per_s"] / t["ctc"]["input_frames_per_s"], 3
            )
        if not missing:
            report["decoding"] = _decoding(args)
    except DataError as e:
        print(f"bench_transducer: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


def _passed(args) -> list[str]:
    out = ["--classes", str(args.classes), "--phones-per-second", str(args.phones_per_second)]
    out += ["--steps", str(args.steps), "--batch-size", str(args.batch_size)]
    return out + (["--corpus", args.corpus] if args.corpus else [])


if __name__ == "__main__":
    sys.exit(main())
