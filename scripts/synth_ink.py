"""Write a synthetic on-line handwriting corpus in the IAM-OnDB layout.

    .venv/bin/python scripts/synth_ink.py OUT_DIR [--writers 12] [--lines-per-writer 20]
        [--dev-writers 2] [--test-writers 2] [--seed 0] [--min-words 2] [--max-words 5]

The same arguments always give the same corpus (see lstmrec.corpora.synth_ink). Read it back with
``lstmrec prepare --corpus iam-ondb`` or pass the folder to ``lstmrec train --data``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from lstmrec.corpora.synth_ink import CorpusSpec, write_corpus


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="folder to create (must not exist)")
    for f in dataclasses.fields(CorpusSpec):
        p.add_argument(
            "--" + f.name.replace("_", "-"),
            type=int,
            default=f.default,
            help=f"(default {f.default})",
        )
    args = p.parse_args(argv)
    try:
        spec = CorpusSpec(**{f.name: getattr(args, f.name) for f in dataclasses.fields(CorpusSpec)})
        counts = write_corpus(args.out, spec)
    except (ValueError, FileExistsError) as e:
        print(f"synth_ink: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}: " + ", ".join(f"{k} {v} lines" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
