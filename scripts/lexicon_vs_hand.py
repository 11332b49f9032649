#!/usr/bin/env python3
"""How close do lexicon phones come to hand-labelled phones? PER between the two.

For every utterance of a TIMIT copy (its ``.PHN`` hand phones and ``.TXT`` sentence), the
sentence is turned into phones with each lexicon source and each style of
:mod:`lstmrec.lexicon`, and scored against the hand phones at the 39-phone set (as a
hypothesis against the reference), with the project's scorer. This is the measurement behind
the rules of ``lexicon_style = "timit"``.

    python scripts/lexicon_vs_hand.py ../shared/data/timit-sample \\
        --lexicon ../shared/data/timit-sample/TIMIT/DOC/timitdic.txt --lexicon cmudict
"""

from __future__ import annotations

import argparse
import sys

from lstmrec.corpora.timit import find_timit
from lstmrec.features.errors import DataError
from lstmrec.lexicon import STYLES, Lexicon
from lstmrec.scoring.align import score
from lstmrec.scoring.report import confidence_interval


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("timit", help="a TIMIT copy (any layout lstmrec reads)")
    p.add_argument("--lexicon", action="append", required=True, help="a source (repeatable)")
    p.add_argument("--fold", type=int, default=39, choices=(39, 48, 61))
    args = p.parse_args(argv)
    try:
        lexicons = [Lexicon([source]) for source in args.lexicon]  # each read before the corpus
        utts = [u for u in find_timit(args.timit) if u.text]
        if not utts:
            raise DataError("no utterance has its text; there is nothing to compare", args.timit)
        compare(utts, dict(zip(args.lexicon, lexicons, strict=True)), args.fold)
    except DataError as e:
        print(f"lexicon_vs_hand: {e}", file=sys.stderr)
        return 2
    return 0


def compare(utts: list, lexicons: dict, fold_to: int) -> None:
    """Print the PER of each lexicon's phones (``{source: Lexicon}``) in each style against the
    hand phones of ``utts``."""
    refs = {u.id: list(u.phones) for u in utts}
    speakers = {u.id: u.speaker for u in utts}
    print(f"{len(utts)} utterances, {sum(map(len, refs.values()))} hand phones")
    print(f"{'source':<40} {'style':<6} {'PER':>7}  95% interval     S    D    I  OOV utts")
    for source, lexicon in lexicons.items():
        for style in STYLES:
            hyps, oov = {}, 0
            for u in utts:
                try:
                    hyps[u.id] = lexicon.phones(u.text, style=style, source=u.path)
                except DataError:
                    oov += 1
            kept = {k: v for k, v in refs.items() if k in hyps}
            report = score(kept, hyps, speakers=speakers, fold_to=fold_to)
            t = report.total
            lo, hi = confidence_interval(report) or (float("nan"),) * 2
            name = source if len(source) <= 40 else "..." + source[-37:]
            print(
                f"{name:<40} {style:<6} {t.error_rate:6.2f}%  [{lo:5.2f}, {hi:5.2f}]"
                f"  {t.substitutions:4d} {t.deletions:4d} {t.insertions:4d}  {oov}"
            )


if __name__ == "__main__":
    sys.exit(main())
