#!/usr/bin/env python
"""Compare ink feature sets (and normalisation choices) on one corpus, side by side.

    .venv/bin/python scripts/compare_ink_features.py CORPUS [--recipe configs/ink_demo.toml]
        [--epochs 10] [--sets basic,graves2009,bezier]
        [--variant basic-nodeslant features.deslant=false] [--set training.batch_size=8]
        [--out runs/compare_ink_features] [--overwrite] [--format text|json]

CORPUS is anything ``lstmrec train --data`` reads with train, dev and test splits: an IAM-OnDB
tree (a real one, or a synthetic one from ``scripts/synth_ink.py``: its held-out writers are
the test split, the dev writers pick each system's best epoch). Every system is trained with
the same recipe for the same number of epochs (``training.max_epochs``, early stopping off),
then recognises the test split. Prints CER and WER with 95 % intervals, frames per line,
feature milliseconds per line and seconds per epoch for each system, and the paired difference
of each against ``basic``; writes the same as ``OUT/results.json`` and ``OUT/results.md``.
The corpus's known gaps (IAM-OnDB's lines without ink, lines its conventions leave out) are
left out, counted in one line and listed in ``OUT/corpus_gaps.txt``. A line that cannot be
used (a corrupt stroke file) is skipped with one line, the comparison finishes without it and
the exit status is 2. Exit status 2, with one line, for a missing or bad corpus or recipe.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

from lstmrec.backend import import_keras
from lstmrec.bench.ink_features import (
    System,
    compare_ink_features,
    feature_set_system,
    results_table,
)
from lstmrec.cli.common import EXIT_BAD_INPUT, GAPS_FILE, Failures
from lstmrec.corpora.splits import load_split
from lstmrec.features.errors import DataError
from lstmrec.features.files import write_text
from lstmrec.features.ink import FEATURE_SETS

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("corpus", help="corpus with train, dev and test splits (IAM-OnDB layout)")
    p.add_argument(
        "--recipe",
        default=str(ROOT / "configs/ink_demo.toml"),
        help="ink recipe (default configs/ink_demo.toml)",
    )
    p.add_argument(
        "--epochs", type=int, default=10, help="training epochs of every system (default 10)"
    )
    p.add_argument(
        "--sets",
        default=",".join(FEATURE_SETS),
        help="feature sets, comma-separated (default: all, %(default)s)",
    )
    p.add_argument(
        "--variant",
        nargs="+",
        action="append",
        default=[],
        metavar=("NAME", "OVERRIDE"),
        help="one more system: a name and its recipe overrides, e.g. "
        "--variant basic-nodeslant features.deslant=false (repeatable)",
    )
    p.add_argument("--set", action="append", default=[], metavar="TABLE.FIELD=VALUE",
                   help="recipe override for every system (repeatable)")  # fmt: skip
    p.add_argument(
        "--test-split",
        default="core-test",
        help="split the systems are scored on (default core-test)",
    )
    p.add_argument(
        "--out",
        default=str(ROOT / "runs/compare_ink_features"),
        help="run folders (default runs/compare_ink_features)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace earlier runs in --out")
    p.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="print the table, or the results as one JSON object (default text); both are "
        "written to --out",
    )
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs {args.epochs}: must be at least 1")
    try:
        args.systems = [feature_set_system(s.strip()) for s in args.sets.split(",") if s.strip()]
    except ValueError as e:
        p.error(f"--sets: {e}")
    for name, *overrides in args.variant:
        if not overrides:
            p.error(f"--variant {name}: give at least one override after the name")
        args.systems.append(System(name, tuple(overrides)))
    names = [s.name for s in args.systems]
    if not names or len(set(names)) != len(names):
        p.error(f"systems must be at least one, with different names (got {', '.join(names)})")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import_keras()
    # TensorFlow's Python-side retracing warnings (one per new padded shape while decoding).
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    out = Path(args.out)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    # Known gaps are listed once, beside the results; any other bad line is skipped and named,
    # and makes the exit status 2 once the comparison has finished.
    failures = Failures(strict=False, gaps_file=out / GAPS_FILE)
    try:
        splits = tuple(load_split(args.corpus, s, on_error=failures)
                       for s in ("train", "dev", args.test_split))  # fmt: skip
        for name, utts in zip(("train", args.test_split), (splits[0], splits[2]), strict=True):
            if not utts:
                raise DataError(f"the {name} split has no lines", args.corpus)
        log(", ".join(f"{n}: {len(u)} lines" for n, u in zip(("train", "dev", "test"), splits,
                                                              strict=True)))  # fmt: skip
        if args.overwrite:
            for system in args.systems:
                shutil.rmtree(out / system.name, ignore_errors=True)
        results = compare_ink_features(
            args.systems, args.recipe, splits, epochs=args.epochs, out_dir=out,
            overrides=args.set, log=log, on_error=failures,
        )  # fmt: skip
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    results = {"corpus": str(args.corpus), "recipe": str(args.recipe),
               "test_split": args.test_split, **results}  # fmt: skip
    write_text(out / "results.json", json.dumps(results, indent=2) + "\n")
    write_text(out / "results.md", results_table(results, markdown=True))
    if args.format == "json":
        print(json.dumps(results))
    else:
        print(results_table(results), end="")
        print(f"results: {out / 'results.json'}, {out / 'results.md'}")
    return failures.finish()


if __name__ == "__main__":
    sys.exit(main())
