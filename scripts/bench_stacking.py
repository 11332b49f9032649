#!/usr/bin/env python
"""Training speed of frame stacking on each Keras backend, side by side in one run.

    .venv/bin/python scripts/bench_stacking.py --corpus ../shared/data/speechocean762/train \\
        --backends tensorflow jax --stacks 1 2 3 --layers 3 --units 250 --batch-size 16

For every (backend, stack) pair (and, with ``--batch-sizes``, other batch sizes of the last
pair), times full training steps (forward, CTC loss, backward,
update; :func:`lstmrec.bench.training.time_training`) of the BLSTM on the corpus's real
utterance lengths, each pair in its own process (a backend is chosen at import). Stacking
``k`` frames gives ``ceil(T / k)`` recurrent steps of ``k`` times the inputs. Speeds are in
10 ms input frames (audio seconds x 100) per second, and each is reported as a ratio to the
first pair. ``--conv`` puts the convolutional front end of a CRNN before the BLSTM (frames are
pixel columns of ``--input-dim`` rows; no stacking), and ``--frames LO HI`` draws utterance
lengths from LO to HI frames instead, e.g. for the CRNN of the MNIST pen-stroke digits:

    .venv/bin/python scripts/bench_stacking.py --backends tensorflow jax --stacks 1 \\
        --conv 32 64 --input-dim 28 --layers 2 --units 128 --classes 11 --batch-size 64 \\
        --frames 18 30
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np


def _one(args) -> dict:
    """Time one (backend, stack) pair in this process; the result as a dict."""
    from lstmrec.backend import import_keras

    import_keras()
    from lstmrec.bench.training import real_lengths, time_training
    from lstmrec.models.blstm import build_model

    count = args.batch_size * 4
    if args.frames:
        base = np.random.default_rng(0).integers(args.frames[0], args.frames[1] + 1, size=count)
    else:
        base = real_lengths(args.corpus, count=count)
    lengths = np.maximum(1, -(-base // args.stack))
    dim = args.input_dim * args.stack
    model = build_model(
        input_dim=dim,
        num_classes=args.classes,
        num_layers=args.layers,
        units=args.units,
        conv=tuple(args.conv or ()),
    )
    fps = time_training(
        model,
        lengths,
        batch_size=args.batch_size,
        input_dim=dim,
        num_classes=args.classes,
        steps=args.steps,
    )
    return {
        "parameters": model.count_params(),
        "stacked_frames_per_s": fps,
        "input_frames_per_s": fps * float(base.sum() / lengths.sum()),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", help="utterance lengths from this corpus (default: 1.5-4.5 s)")
    p.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    p.add_argument("--stacks", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--units", type=int, default=250)
    p.add_argument("--input-dim", type=int, default=123, help="inputs of one unstacked frame")
    p.add_argument("--classes", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument(
        "--batch-sizes",
        nargs="+",
        type=int,
        help="also time these batch sizes (last backend, last stack)",
    )
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--conv", nargs="+", type=int, help="channels of a CRNN's convolution blocks")
    p.add_argument("--frames", nargs=2, type=int, metavar=("LO", "HI"), help="lengths LO..HI")
    p.add_argument("--stack", type=int, help=argparse.SUPPRESS)  # one pair, in a child process
    p.add_argument("--format", choices=["text", "json"], default="text")
    args = p.parse_args()
    if args.conv and args.stack is None and args.stacks != [1]:
        p.error("--conv reads pixel columns one by one: --stacks 1 only")
    if args.frames and not 1 <= args.frames[0] <= args.frames[1]:
        p.error(f"--frames needs 1 <= LO <= HI, got {args.frames[0]} {args.frames[1]}")
    from lstmrec.features.errors import DataError  # no Keras: the children choose a backend

    try:
        if args.stack is not None:
            print(json.dumps(_one(args)))
            return 0
        if args.corpus and not args.frames:  # checked once, before any child starts
            from lstmrec.bench.training import real_lengths

            real_lengths(args.corpus, count=1)
    except DataError as e:
        print(f"bench_stacking: {e}", file=sys.stderr)
        return 2
    rows, failed = [], False
    for backend in args.backends:
        for stack in args.stacks:
            cmd = [sys.executable, __file__, "--stack", str(stack)] + _passed(args)
            env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0:  # said in one line; the other pairs still run
                why = (out.stderr.strip().splitlines() or ["no output"])[-1]
                why = why.removeprefix("bench_stacking: ")
                print(f"bench_stacking: {backend} stack {stack}: failed: {why}", file=sys.stderr)
                failed = True
                continue
            rows.append(
                {"backend": backend, "stack": stack, **json.loads(out.stdout.split("\n")[-2])}
            )
    for batch in args.batch_sizes or ():
        cmd = [sys.executable, __file__, "--stack", str(args.stacks[-1])] + _passed(args)
        cmd[cmd.index("--batch-size") + 1] = str(batch)
        env = dict(os.environ, KERAS_BACKEND=args.backends[-1], TF_CPP_MIN_LOG_LEVEL="3")
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode == 0:
            row = json.loads(out.stdout.split("\n")[-2])
            rows.append({"backend": args.backends[-1], "stack": args.stacks[-1], **row,
                         "batch_size": batch})  # fmt: skip
    if not rows:
        return 2
    ref = rows[0]["input_frames_per_s"]
    for r in rows:
        r["ratio"] = round(r["input_frames_per_s"] / ref, 2)
    if args.format == "json":
        print(json.dumps(rows, indent=1))
        return 2 if failed else 0
    front = f"conv {args.conv} + " if args.conv else ""
    print(f"{front}{args.layers} x {args.units} BLSTM, batch {args.batch_size}, {args.steps} steps")
    print(f"{'backend':<12}{'stack':>6}{'batch':>6}{'input frames/s':>16}{'ratio':>8}")
    for r in rows:
        batch = r.get("batch_size", args.batch_size)
        print(
            f"{r['backend']:<12}{r['stack']:>6}{batch:>6}{r['input_frames_per_s']:>16.0f}"
            f"{r['ratio']:>8.2f}"
        )
    return 2 if failed else 0


def _passed(args) -> list[str]:
    """The options a child process needs, as command-line arguments."""
    out = ["--layers", str(args.layers), "--units", str(args.units), "--classes", str(args.classes)]
    out += ["--input-dim", str(args.input_dim), "--batch-size", str(args.batch_size)]
    out += ["--steps", str(args.steps)] + (["--corpus", args.corpus] if args.corpus else [])
    out += ["--conv", *map(str, args.conv)] if args.conv else []
    out += ["--frames", *map(str, args.frames)] if args.frames else []
    return out


if __name__ == "__main__":
    raise SystemExit(main())
