"""Digit strings written with real MNIST pen-stroke digits, recognized by an ink model.

    .venv/bin/python scripts/ink_digit_strings.py [--model en-ink] \\
        [--mnist ../shared/data/mnist-strokes/strokes.npz] [--strings 200] [--seed 0] \\
        [--beam N] [--lm ARPA --lm-weight W --insertion-bonus B] [--write-inkml OUT.inkml]
        [--digits dev] [--json OUT.json] [--force]

Each string has 3 to 10 digits, each a real digit of the MNIST pen-stroke set drawn from its
held-out "test" part (``MNIST_SPLITS``: never written into any training corpus of the project),
laid side by side on one line as drawn (scaled to a line's size, no slant or jitter added), with
a writer's spacing. Prints the share of strings recognized exactly and the character error
rate, each with a 95 % bootstrap interval; ``--json`` writes the same in the form of ``lstmrec
evaluate --format json``, which ``scripts/package_model.py`` puts on a model card. The model
decodes as its bundle says, unless the decoding flags of ``lstmrec recognize`` (``--beam``,
``--lm``, ``--lm-weight``, ``--insertion-bonus``, ...) say otherwise. ``--write-inkml`` also
writes the strings as an InkML file, to try with ``lstmrec recognize``. ``--digits dev`` writes
the strings with the 1,000 dev digits instead (``MNIST_SPLITS["dev"]``, which only held-out
writers of the synthetic corpora write), to choose between models without the test digits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import numpy as np

from lstmrec.api import load
from lstmrec.cli.decoding import add_decoding_args, decoder_from_args
from lstmrec.corpora.ink_hands import MnistDigits
from lstmrec.corpora.mnist_strokes import MNIST_SPLITS
from lstmrec.corpora.synth_ink import render_line, writer_style
from lstmrec.features.errors import DataError, require_at_least
from lstmrec.features.files import check_output, write_text
from lstmrec.inference.recognize import recognize_strokes
from lstmrec.scoring.align import ErrorCounts, align
from lstmrec.scoring.stats import bootstrap_ci


def digit_strings(
    mnist: str, count: int, seed: int, part: str = "test"
) -> list[tuple[str, list[np.ndarray]]]:
    """``count`` (text, strokes) pairs written with the MNIST digits of ``part``."""
    bank = MnistDigits(mnist, MNIST_SPLITS[part])
    rng = np.random.default_rng([seed, 0xD1])
    out = []
    for i in range(count):
        text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(3, 11))))
        style = dataclasses.replace(
            writer_style(seed * 10_000 + i),
            slant=0.0,
            drift=0.0,
            tilt=0.0,
            jitter=0.0,
            wobble=0.0,
            mnist_digits=True,
            letter_spacing=float(rng.uniform(0.1, 0.5)),
        )
        out.append((text, render_line(text, style, seed=i, digits=bank)))
    return out


def _report(model: str, counts: ErrorCounts, per_string: list, exact: list[int]) -> dict:
    """The figures as ``lstmrec evaluate --format json`` gives them (what a model card reads):
    the digit error rate, and under ``words`` the share of strings not read exactly (each
    string is one word)."""
    n = len(exact)
    wrong = n - sum(exact)
    return {
        "model": model,
        "split": "digit strings",
        "num_utterances": n,
        **_rates(counts, [c.errors for c in per_string], [c.reference_length for c in per_string]),
        "cer": counts.error_rate,
        "words": _rates(ErrorCounts(n - wrong, wrong, 0, 0, n), [1 - e for e in exact], [1] * n),
    }


def _rates(counts: ErrorCounts, errors: list[int], lengths: list[int]) -> dict:
    return {
        "error_rate": counts.error_rate,
        "ci95": list(bootstrap_ci(errors, lengths)),
        "errors": counts.errors,
        "reference_length": counts.reference_length,
        "substitutions": counts.substitutions,
        "deletions": counts.deletions,
        "insertions": counts.insertions,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="en-ink", help="ink model, folder or name (default en-ink)")
    p.add_argument(
        "--mnist",
        default="../shared/data/mnist-strokes/strokes.npz",
        help="the MNIST pen-stroke strokes.npz (default %(default)s)",
    )
    p.add_argument("--strings", type=int, default=200, help="digit strings (default 200)")
    p.add_argument("--seed", type=int, default=0, help="the strings' digits (default 0)")
    p.add_argument(
        "--digits",
        choices=("test", "dev"),
        default="test",
        help="the part of the MNIST set the strings are written with (default: test)",
    )
    add_decoding_args(p, nbest=False)  # it reads the best hypothesis only
    p.add_argument("--json", help="also write the figures to this JSON file, as evaluate does")
    p.add_argument("--write-inkml", help="also write the strings to this InkML file (new)")
    p.add_argument(
        "--force", action="store_true", help="overwrite existing --json and --write-inkml"
    )
    args = p.parse_args(argv)
    try:
        require_at_least({"--strings": (args.strings, 1), "--seed": (args.seed, 0)})
        for flag, path in (("--json", args.json), ("--write-inkml", args.write_inkml)):
            if path:
                check_output(path, force=args.force, flag=flag)
        model = load(args.model)
        if model.kind != "ink":
            raise DataError("not a handwriting model", args.model)
        bundle = model.bundle
        decoder = decoder_from_args(args, bundle)
        pairs = digit_strings(args.mnist, args.strings, args.seed, args.digits)
    except DataError as e:
        print(f"ink_digit_strings: {e}", file=sys.stderr)
        return 2
    per_string, exact = [], []
    for i, (text, strokes) in enumerate(pairs):
        hyp = recognize_strokes(bundle, strokes, name=f"digits-{i}", decoder=decoder).text
        hyp = hyp.replace(" ", "")
        per_string.append(ErrorCounts.from_alignment(align(list(text), list(hyp))))
        exact.append(int(hyp == text))
    counts = sum(per_string, ErrorCounts())
    report = _report(args.model, counts, per_string, exact)
    part = "held-out" if args.digits == "test" else "dev"
    print(f"{len(pairs)} digit strings of {part} MNIST pen-stroke digits, model {args.model}")
    lo, hi = report["words"]["ci95"]
    print(f"  strings recognized exactly: {100 - report['words']['error_rate']:.1f} % "
          f"[{100 - hi:.1f}, {100 - lo:.1f}]")  # fmt: skip
    print(f"  digit error rate (CER, spaces ignored): {report['cer']:.2f} % "
          f"[{report['ci95'][0]:.2f}, {report['ci95'][1]:.2f}]")  # fmt: skip
    if args.json:
        write_text(args.json, json.dumps(report, indent=1) + "\n")
    if args.write_inkml:
        from lstmrec.features.inkwriters import InkSample, write_inkml

        write_inkml(
            args.write_inkml,
            [InkSample(f"digits-{i}", tuple(s), t) for i, (t, s) in enumerate(pairs)],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
