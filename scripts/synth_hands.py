"""Write the many-hands synthetic handwriting corpus (the training data of en-ink).

    .venv/bin/python scripts/synth_hands.py OUT_DIR [--writers-per-hand 24]
        [--lines-per-writer 20] [--eval-writers-per-hand 8] [--eval-lines-per-writer 12]
        [--seed 0] [--mnist ../shared/data/mnist-strokes/strokes.npz] [--no-augment]
        [--number-share 0.15] [--dev-number-share 0] [--jobs N] [--hands]
        [--train-texts FILE [--force]]

Hands, text and splits: lstmrec.corpora.synth_hands. ``--hands`` prints the table of hands
(split, package, licence) and exits. The fonts come from Debian packages
(``make ink-data`` installs them, with the ``fortunes`` text collection).
"""

from __future__ import annotations

import argparse
import os
import sys

from lstmrec.corpora.ink_text import NUMBER_SHARE, training_texts
from lstmrec.corpora.synth_hands import HandsCorpusSpec, hands_table, write_hands_corpus
from lstmrec.features.errors import DataError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", nargs="?", help="folder to create (must not exist)")
    p.add_argument(
        "--writers-per-hand",
        type=int,
        default=24,
        help="writers of each training hand (default 24)",
    )
    p.add_argument(
        "--lines-per-writer", type=int, default=20, help="lines of each such writer (default 20)"
    )
    p.add_argument(
        "--eval-writers-per-hand",
        type=int,
        default=8,
        help="writers of each dev and each test hand (default 8)",
    )
    p.add_argument(
        "--eval-lines-per-writer",
        type=int,
        default=12,
        help="lines of each such writer (default 12)",
    )
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--mnist", help="MNIST pen-stroke strokes.npz: some writers' digits")
    p.add_argument("--no-augment", action="store_true", help="write training lines undistorted")
    p.add_argument(
        "--number-share",
        type=float,
        default=NUMBER_SHARE,
        help="share of the training lines that are number lines (default %(default)s)",
    )
    p.add_argument(
        "--dev-number-share",
        type=float,
        default=0.0,
        help="share of the dev lines that are number lines (default %(default)s; test lines "
        "never are)",
    )
    p.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)"
    )
    p.add_argument("--hands", action="store_true", help="print the hands and exit")
    p.add_argument(
        "--train-texts",
        metavar="FILE",
        help="write the training texts (one fortune or number line a line; --number-share and "
        "--seed apply) to FILE (new) and exit",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing --train-texts FILE")
    args = p.parse_args(argv)
    if args.hands:
        print(hands_table())
        return 0
    if args.train_texts:
        from lstmrec.features.files import check_output, write_text

        try:
            check_output(args.train_texts, force=args.force, flag="--train-texts")
            texts = training_texts(seed=args.seed, share=args.number_share)
            write_text(args.train_texts, "".join(t + "\n" for t in texts))
        except (ValueError, DataError) as e:
            print(f"synth_hands: {e}", file=sys.stderr)
            return 2
        return 0
    if args.out is None:
        p.error("OUT_DIR is required")
    try:
        spec = HandsCorpusSpec(
            writers_per_hand=args.writers_per_hand,
            lines_per_writer=args.lines_per_writer,
            eval_writers_per_hand=args.eval_writers_per_hand,
            eval_lines_per_writer=args.eval_lines_per_writer,
            seed=args.seed,
            mnist=args.mnist,
            augment=not args.no_augment,
            number_share=args.number_share,
            dev_number_share=args.dev_number_share,
        )
        counts = write_hands_corpus(args.out, spec, jobs=args.jobs)
    except (ValueError, FileExistsError, DataError) as e:
        print(f"synth_hands: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}: " + ", ".join(f"{k} {v} lines" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
