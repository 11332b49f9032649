#!/usr/bin/env python
"""Write the held-out lines of an IAM-OnDB tree as W3C InkML files, with their manifests.

    .venv/bin/python scripts/inkml_lines.py SRC DST [--splits test dev] [--time ms-unstated]
        [--distort K [--seed N]]

Ink reaches a recognizer as InkML from tablets and pen apps more often than as IAM-OnDB XML,
and not always with its time in seconds. This writes, for the lines of the IAM-OnDB tree
``SRC`` that its task 1 split files put in ``--splits`` (by default the held-out ones:
``test``, which ``lstmrec`` calls core-test, and ``dev``), one InkML file per line under
``DST/ink/`` (its transcription as the truth annotation, its writer as the writer
annotation) and a manifest per split (``DST/core-test.jsonl``, ``DST/dev.jsonl``), so that
``lstmrec evaluate MODEL --data DST --split core-test`` scores the same lines read from
InkML. ``--time`` says how their time is written:

- ``s``: T in seconds, ``units="s"``;
- ``ms``: T in milliseconds, ``units="ms"``;
- ``ms-unstated``: T in milliseconds with no ``units`` (as some tablets write it);
- ``none``: no T channel.

``--distort K`` writes each line's ink bent and jittered as a hand the model has not seen
might write it: the training distortions of :class:`lstmrec.features.inkaugment.InkAugment`
(rotation, shear, scaling, the smooth displacement, re-sampling, point noise) at K times their
strengths, no stroke dropped or split, so that the line still shows its transcription; each
line's own draw from ``--seed`` and its place in the list, so the same command writes the same
ink. A familiar hand's dev lines, distorted, show how a model fares on hands unlike its
training writers without looking at the held-out ones.

The lines are found as ``lstmrec`` finds them (:func:`lstmrec.corpora.iam_ondb.load_iam_ondb`;
a transcribed line without a strokes file stays a known gap). ``DST`` must not exist; it
appears whole or not at all. A strokes file that cannot be read is named on stderr and left
out (exit status 2); the rest are written.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from lstmrec.cli.common import EXIT_BAD_INPUT, add_tree_copy_args, tree_copy_lines
from lstmrec.features.errors import DataError, require_at_least
from lstmrec.features.files import atomic_dir
from lstmrec.features.inkaugment import InkAugment
from lstmrec.features.inkfiles import InkSample, read_ink_file, write_inkml
from lstmrec.manifest import write_manifest

# --time: (units written, whether the T channel names them); None: no T channel.
TIME_FORMATS = {"s": ("s", True), "ms": ("ms", True), "ms-unstated": ("ms", False), "none": None}
MANIFEST_NAMES = {"test": "core-test", "dev": "dev", "train": "train"}  # as lstmrec calls them


def distortion(factor: float) -> InkAugment:
    """The training distortions at ``factor`` times their strengths, keeping every stroke."""
    strengths = dataclasses.asdict(InkAugment())
    return InkAugment(**{k: v * factor for k, v in strengths.items()} | {"drop": 0, "split": 0})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_tree_copy_args(p, verb="written")
    p.add_argument(
        "--time",
        choices=list(TIME_FORMATS),
        default="s",
        help="how time is written: s, ms (units stated), ms-unstated, none (default: s)",
    )
    p.add_argument(
        "--distort",
        type=float,
        default=0.0,
        metavar="K",
        help="distort each line's ink by the training distortions at K times their strengths "
        "(default 0: as it is)",
    )
    p.add_argument("--seed", type=int, default=0, help="the distortions' seed (default 0)")
    args = p.parse_args(argv)
    if not 0 <= args.distort < np.inf:  # NaN too
        why = "must be a finite number, 0 or more"
        print(f"inkml_lines: --distort {args.distort}: {why}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        require_at_least({"--seed": (args.seed, 0)})
    except DataError as e:
        print(f"inkml_lines: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    lines = tree_copy_lines(args, "inkml_lines")
    if lines is None:
        return EXIT_BAD_INPUT
    chosen, splits = lines
    time_format = TIME_FORMATS[args.time]
    units, stated = time_format or ("s", True)  # (units unused without time)
    distort = distortion(args.distort)
    written: dict[str, list] = {split: [] for split in args.splits}
    failed = 0
    with atomic_dir(args.dst) as tmp:
        (tmp / "ink").mkdir()
        for i, u in enumerate(chosen):
            try:
                (sample,) = read_ink_file(u.path)
            except DataError as e:
                print(f"inkml_lines: skipped: {e}", file=sys.stderr)
                failed += 1
                continue
            strokes = sample.strokes
            if distort.enabled:
                strokes = tuple(distort(strokes, np.random.default_rng([args.seed, i])))
            if time_format is None:
                strokes = tuple(np.concatenate([s[:, :2], s[:, 2:] * np.nan], 1) for s in strokes)
            rel = Path("ink") / f"{u.id}.inkml"
            write_inkml(
                tmp / rel,
                [InkSample(u.id, strokes, u.text, u.speaker)],
                time_units=units,
                state_units=stated,
            )
            written[splits[u.id]].append(dataclasses.replace(u, path=str(rel)))
        for split, lines in written.items():
            write_manifest(lines, tmp / f"{MANIFEST_NAMES[split]}.jsonl")
    counts = ", ".join(f"{len(lines)} {MANIFEST_NAMES[s]}" for s, lines in written.items())
    how = f", distorted x{args.distort:g}" if distort.enabled else ""
    print(f"{args.dst}: {counts} lines as InkML (time: {args.time}{how})")
    if failed:
        print(f"inkml_lines: {failed} file(s) failed", file=sys.stderr)
    return EXIT_BAD_INPUT if failed else 0


if __name__ == "__main__":
    sys.exit(main())
