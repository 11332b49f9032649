#!/usr/bin/env python
"""Training throughput (frames/s) of the CTC-3l-250h network on this machine.

    .venv/bin/python scripts/bench_train.py [--corpus data/timit-demo] [--steps 10] [--format json]
    .venv/bin/python scripts/bench_train.py --cell peephole

Runs the project's length-aware BLSTM (with the --cell recurrent cell, lstm by default) and
Keras' stock Bidirectional(LSTM) of the same shape side by side in one process and reports both
and their ratio; the stock LSTM stays the reference whatever the cell.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from lstmrec.backend import import_keras
from lstmrec.bench.training import real_lengths, stock_bidirectional_model, time_training
from lstmrec.config import CELLS
from lstmrec.features.errors import DataError, require_at_least


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", help="take utterance lengths from this corpus (default: 1.5-4.5 s)")
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--units", type=int, default=250)
    p.add_argument(
        "--cell",
        default="lstm",
        choices=CELLS,
        help="recurrent cell of the project's network (default: lstm)",
    )
    p.add_argument("--input-dim", type=int, default=123)
    p.add_argument("--classes", type=int, default=62)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=10, help="timed training steps per network")
    p.add_argument(
        "--xla",
        action="store_true",
        help="also time the project's network compiled with XLA (jit_compile=True)",
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
    args = p.parse_args(argv)
    try:
        require_at_least(
            {
                "--layers": (args.layers, 1),
                "--units": (args.units, 1),
                "--input-dim": (args.input_dim, 1),
                "--classes": (args.classes, 2),
                "--batch-size": (args.batch_size, 1),
                "--steps": (args.steps, 1),
            }
        )
        lengths = real_lengths(args.corpus, count=args.batch_size * 4)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    keras = import_keras()
    from lstmrec.models.blstm import build_model  # Keras: after import_keras keeps its start quiet

    shape = dict(
        input_dim=args.input_dim, num_classes=args.classes, num_layers=args.layers, units=args.units
    )
    timing = dict(
        batch_size=args.batch_size,
        input_dim=args.input_dim,
        num_classes=args.classes,
        steps=args.steps,
    )
    ours = time_training(build_model(**shape, cell=args.cell), lengths, **timing)
    stock = time_training(stock_bidirectional_model(**shape), lengths, **timing)
    result = {
        "backend": keras.backend.backend(),
        "threads": os.cpu_count(),
        "shape": shape,
        "cell": args.cell,
        "batch_size": args.batch_size,
        "mean_frames_per_utterance": float(lengths.mean()),
        "train_frames_per_s": round(ours, 1),
        "stock_bidirectional_frames_per_s": round(stock, 1),
        "ratio": round(ours / stock, 3),
    }
    if args.xla:
        xla = time_training(
            build_model(**shape, cell=args.cell), lengths, jit_compile=True, **timing
        )
        result["xla_train_frames_per_s"] = round(xla, 1)
    if args.format == "json":
        print(json.dumps(result))
    else:
        print(
            f"{args.layers} x {args.units} BLSTM, {args.input_dim} inputs, {args.classes} "
            f"outputs, batch {args.batch_size}, backend {result['backend']}"
        )
        ours_name = f"length-aware bi-{args.cell} (this project):"
        print(f"  {ours_name:38s}{ours:10.0f} frames/s")
        print(f"  {'keras Bidirectional(LSTM):':38s}{stock:10.0f} frames/s")
        if args.xla:
            print(f"  {f'length-aware bi-{args.cell}, XLA:':38s}{xla:10.0f} frames/s")
        print(f"  ratio (this project / stock): {result['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
