#!/usr/bin/env python
"""The full speed benchmark: every installed Keras backend, PyTorch, inference, cold start.

    .venv/bin/python scripts/bench.py [--corpus data/timit-demo] [--model runs/demo/model]
                                      [--steps 10] [--format json]

``lstmrec bench`` with every installed backend (TensorFlow, JAX, PyTorch; each in its own
process), 10 timed training steps per network over 4 padded batches, inference on 1 thread and
on all cores (with the Keras engine's forward pass beside the NumPy engine's), and cold starts
of both engines (best of 3). Install the other backends and the PyTorch reference with
``pip install -e ".[backends]"``. Takes several minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys

from lstmrec.bench.run import BACKENDS, BenchSettings, format_table, run_bench


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", help="take utterance lengths from this corpus (default: 1.5-4.5 s)")
    p.add_argument("--model", help="bundle to time inference with (default: random weights)")
    p.add_argument("--steps", type=int, default=10, help="timed training steps per network")
    p.add_argument("--backends", nargs="+", choices=BACKENDS, help="default: every installed one")
    p.add_argument("--format", choices=["text", "json"], default="text")
    args = p.parse_args()
    backends = args.backends or [b for b in BACKENDS if importlib.util.find_spec(b)]
    settings = BenchSettings(
        backends=tuple(backends), steps=args.steps, corpus=args.corpus, model=args.model
    )
    result = run_bench(settings, log=lambda msg: print(f"bench: {msg}", file=sys.stderr))
    print(json.dumps(result) if args.format == "json" else format_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
