#!/usr/bin/env python
"""Compare recurrent cells (LSTM, peephole LSTM, CIFG, GRU, tanh RNN) on real speech.

    .venv/bin/python scripts/compare_cells.py --quick [--cells lstm,gru] [--format json]

Every cell is trained with the same recipe, seed and parameter budget (units per direction
chosen so the network has as many parameters as the LSTM one) on the TIMIT sample plus FSDD
digits (phone targets from CMUdict), then scored on held-out speakers: the TIMIT test speakers
and one FSDD speaker. Prints PER (39 phones), training frames/s and parameters per cell, and
writes a plot of the gradient reaching each time step of a 300-step input for an RNN and an
LSTM (vanishing gradients). Exit status 2, with one line, when a corpus is missing or bad.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import shutil
import sys
from pathlib import Path

from lstmrec.backend import import_keras
from lstmrec.bench.cells import (
    CELLS,
    QUICK_PER_DIGIT,
    compare_cells,
    comparison_data,
    comparison_recipe,
    gradient_norms,
    plot_gradient_norms,
)
from lstmrec.features.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small models, few epochs, FSDD subset")
    p.add_argument("--cells", default=",".join(CELLS), help="comma-separated (default: all)")
    p.add_argument("--timit", default=str(ROOT / "data/timit-demo/TIMIT"))
    p.add_argument("--timit-test-speakers", default=str(ROOT / "data/timit-demo/test_spk.list"))
    p.add_argument("--fsdd", default=str(ROOT.parent / "shared/data/fsdd"))
    p.add_argument("--fsdd-test-speaker", default="nicolas", help="FSDD speaker held out")
    p.add_argument(
        "--per-digit",
        type=int,
        help=f"FSDD recordings per digit and speaker (all; {QUICK_PER_DIGIT} with --quick)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TABLE.FIELD=VALUE",
        help="recipe override, e.g. training.max_epochs=4",
    )
    p.add_argument("--bench-steps", type=int, default=10, help="timed steps for frames/s")
    p.add_argument("--out", default=str(ROOT / "runs/compare_cells"), help="run folders")
    p.add_argument("--overwrite", action="store_true", help="replace earlier runs in --out")
    p.add_argument("--plot", help="gradient-norm PNG (default: OUT/gradient_norms.png)")
    p.add_argument("--plot-steps", type=int, default=300, help="input length for the plot")
    p.add_argument("--format", choices=["text", "json"], default="text")
    args = p.parse_args(argv)
    args.cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    unknown = [c for c in args.cells if c not in CELLS]
    if unknown or not args.cells:
        p.error(
            f"--cells: unknown {', '.join(unknown) or '(none given)'}; valid: {', '.join(CELLS)}"
        )
    if args.per_digit is None and args.quick:
        args.per_digit = QUICK_PER_DIGIT
    return args


def table(results: dict) -> str:
    lines = [
        f"{'cell':<9} {'units':>5} {'params':>9} {'PER %':>6} {'TIMIT':>6} {'FSDD':>6} "
        f"{'frames/s':>9} {'vs lstm':>7}"
    ]
    base = results.get("lstm", {}).get("frames_per_s")
    for cell, r in results.items():
        ratio = f"{r['frames_per_s'] / base:7.2f}" if base else f"{'-':>7}"
        lines.append(
            f"{cell:<9} {r['units']:>5} {r['params']:>9,} {r['per']:>6.1f} "
            f"{r.get('per_timit', float('nan')):>6.1f} {r.get('per_fsdd', float('nan')):>6.1f} "
            f"{r['frames_per_s']:>9.0f} {ratio}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    import_keras()
    # TensorFlow's Python-side retracing warnings (one per new padded shape while decoding).
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    out = Path(args.out)
    if importlib.util.find_spec("matplotlib") is None:
        print("error: the plot needs matplotlib: pip install -e '.[compare]'", file=sys.stderr)
        return 2
    log = (lambda m: print(m, file=sys.stderr)) if args.format == "json" else print
    try:
        recipe = comparison_recipe(quick=args.quick, overrides=args.set)
        train_utts, test_sets = comparison_data(
            timit_root=args.timit,
            timit_test_speakers=args.timit_test_speakers,
            fsdd_root=args.fsdd,
            fsdd_test_speakers=[args.fsdd_test_speaker],
            per_digit=args.per_digit,
        )
        sizes = ", ".join(f"{name} {len(u)}" for name, u in test_sets.items())
        log(f"train: {len(train_utts)} utterances; test: {sizes}")
        # The picture before the training: seconds, and it fails early without TensorFlow.
        norms = {cell: gradient_norms(cell, steps=args.plot_steps) for cell in ("rnn", "lstm")}
        plot = plot_gradient_norms(norms, args.plot or out / "gradient_norms.png")
        if args.overwrite:
            for cell in args.cells:
                shutil.rmtree(out / cell, ignore_errors=True)
        results = compare_cells(
            recipe, train_utts, test_sets, out_dir=out, cells=args.cells, log=log
        )
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.format == "json":
        print(json.dumps(results))
    else:
        print(table(results))
        print(
            f"gradient norm at t=0 of {args.plot_steps} steps: "
            + ", ".join(f"{c} {n[0]:.1e}" for c, n in norms.items())
            + f"; plot: {plot}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
