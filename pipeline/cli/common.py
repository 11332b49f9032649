"""Command-line pieces every ``lstmrec`` command module shares: the failure collector of batch
commands, the exit status of bad input, and the output-format and phone-folding flags."""

from __future__ import annotations

import argparse
import sys

from lstmrec.corpora.splits import load_split
from lstmrec.features.errors import DataError

EXIT_BAD_INPUT = 2


class Failures:
    """Collects skipped inputs of a batch command; ``strict`` turns the first into an error."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.errors: list[DataError] = []

    def __call__(self, err: DataError) -> None:
        if self.strict:
            raise err
        self.errors.append(err)
        print(f"lstmrec: skipping {err}", file=sys.stderr)

    def finish(self) -> int:
        if not self.errors:
            return 0
        print(f"lstmrec: {len(self.errors)} input(s) failed:", file=sys.stderr)
        for err in self.errors:
            print(f"  {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


def format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=["text", "json"], default="text", help="output format (default: text)"
    )


def fold_arg(p: argparse.ArgumentParser, *, default_help: str = "no folding") -> None:
    """``--fold`` (default None); ``default_help`` says what the command does without it."""
    p.add_argument(
        "--fold",
        type=int,
        choices=[61, 48, 39],
        help=f"fold TIMIT phones to this set before output/scoring (default: {default_help})",
    )


def split_from_args(args, split: str, *, on_error=None) -> list:
    """The utterances of ``split`` in ``args.data``, chosen by the command's data flags
    (``--keep-sa``, ``--dev-speakers``, ``--test-speakers``, and ``--corpus`` where it has one):
    a list of :class:`lstmrec.manifest.Utterance`."""
    return load_split(
        args.data,
        split,
        keep_sa=args.keep_sa,
        dev_speakers=args.dev_speakers,
        test_speakers=args.test_speakers,
        on_error=on_error,
        corpus=getattr(args, "corpus", "auto"),
    )
