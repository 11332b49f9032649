#!/usr/bin/env python
"""Pages of several lines, made of a corpus's lines, read by an ink model: how often the page is
cut into its lines (features.inkpage.split_lines), and what the reading costs.

    .venv/bin/python scripts/ink_pages.py runs/pages/fresh --split core-test

Each writer's lines of the split, three at a time, are written one below the other as one
page: every line moved to the left margin (give or take half a typical height, seeded), its
middle SPACING typical heights below the middle of the line above, its time after the line
above's. Prints: how many single lines of the split are cut (none should be), how many pages
are cut exactly into their lines at each spacing, and the CER of the pages at the first
spacing read as the model reads them (cut into lines) and read whole, as one line, as they
were before pages were cut (references: the lines' texts, a space between them).
"""

from __future__ import annotations

import argparse
import collections
import sys
from unittest import mock

import numpy as np

import lstmrec
import lstmrec.inference.recognize as recognize
from lstmrec.corpora.splits import load_split
from lstmrec.features.errors import DataError, require_at_least
from lstmrec.features.inkfiles import read_ink_file
from lstmrec.features.inkpage import split_lines, typical_height
from lstmrec.scoring.align import ErrorCounts, align

LINES_PER_PAGE = 3
MAX_SPACING = 100  # typical heights between lines: a page, not lines a sheet apart


def stacked(lines: list[list[np.ndarray]], spacing: float, rng) -> tuple[list, list[list[int]]]:
    """The strokes of ``lines`` written as one page, and the stroke indices of each line."""
    strokes, truth, middle, start = [], [], 0.0, 0.0
    for line in lines:
        height = typical_height(line)
        points = np.concatenate(line)
        times = np.nan_to_num(points[:, 2], nan=0.0)
        shift = [
            rng.uniform(-0.5, 0.5) * height - points[:, 0].min(),
            middle - np.median(points[:, 1]),
            start - times.min(),
        ]
        truth.append(list(range(len(strokes), len(strokes) + len(line))))
        strokes += [s + shift for s in line]
        middle += spacing * height
        start += times.max() - times.min() + 1.0
    return strokes, truth


def cer(model, pages) -> float:
    errors = total = 0
    for strokes, text in pages:
        counts = ErrorCounts.from_alignment(align(list(text), list(model.recognize(strokes).text)))
        errors, total = errors + counts.errors, total + len(text)
    return 100.0 * errors / total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", help="an ink corpus lstmrec reads (--data), with writers")
    p.add_argument("--split", default="core-test", help="the split read (default core-test)")
    p.add_argument("--model", default="en-ink", help="ink model, folder or name (default en-ink)")
    p.add_argument(
        "--spacing",
        type=float,
        nargs="+",
        default=[2.5, 1.5, 2.0, 3.0],
        help="typical heights between the middles of a page's lines (above 0, at most 100), "
        "one or more; the CER is measured at the first (default 2.5 1.5 2.0 3.0)",
    )
    p.add_argument("--seed", type=int, default=0, help="the lines' margins (default 0)")
    args = p.parse_args(argv)
    try:
        require_at_least({"--seed": (args.seed, 0)})
        for spacing in args.spacing:  # NaN too; far apart, the page leaves the ink's range
            if not 0 < spacing <= MAX_SPACING:
                why = f"must be above 0 and at most {MAX_SPACING} typical heights"
                raise DataError(f"--spacing {spacing:g} {why}", "command line")
        utts = load_split(args.data, args.split)
        model = lstmrec.load(args.model)
        if model.kind != "ink":
            raise DataError("not a handwriting model", args.model)
    except DataError as e:
        print(f"ink_pages.py: {e}", file=sys.stderr)
        return 2
    by_writer, failed = collections.defaultdict(list), 0
    for u in utts:
        try:
            samples = read_ink_file(u.path)
            if len(samples) != 1:
                raise DataError(f"holds {len(samples)} samples, not one line", u.path)
        except DataError as e:
            print(f"ink_pages.py: skipping {e}", file=sys.stderr)
            failed += 1
            continue
        strokes = [np.asarray(s, float) for s in samples[0].strokes]
        by_writer[u.speaker].append((strokes, u.text))
    if not any(len(lines) >= LINES_PER_PAGE for lines in by_writer.values()):
        print(
            f"ink_pages.py: {args.data}: no writer of split {args.split} has "
            f"{LINES_PER_PAGE} lines to make a page of",
            file=sys.stderr,
        )
        return 2
    read = len(utts) - failed
    singles = sum(len(split_lines(st)) > 1 for line in by_writer.values() for st, _ in line)
    print(f"{args.split}: {singles} of {read} single lines cut into more than one")
    rng = np.random.default_rng(args.seed)
    first_pages = None
    for spacing in args.spacing:
        pages, right = [], 0
        for lines in by_writer.values():
            for j in range(0, len(lines) - LINES_PER_PAGE + 1, LINES_PER_PAGE):
                group = lines[j : j + LINES_PER_PAGE]
                strokes, truth = stacked([st for st, _ in group], spacing, rng)
                right += split_lines(strokes) == truth
                pages.append((strokes, " ".join(text for _, text in group)))
        first_pages = first_pages or pages
        print(f"pages of {LINES_PER_PAGE} lines, {spacing:g} typical heights apart: "
              f"{right} of {len(pages)} cut into their lines")  # fmt: skip
    print(f"CER of the pages {args.spacing[0]:g} apart, cut into lines: "
          f"{cer(model, first_pages):.2f} %")  # fmt: skip
    whole = mock.patch.object(recognize, "split_lines", lambda s: [list(range(len(s)))])
    with whole:
        print(f"CER of the same pages, read whole: {cer(model, first_pages):.2f} %")
    if failed:
        print(f"ink_pages.py: {failed} line(s) skipped (named above)", file=sys.stderr)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
