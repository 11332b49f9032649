"""Digit strings written with real MNIST pen-stroke digits, recognized by an ink model.

    .venv/bin/python scripts/ink_digit_strings.py [--model en-ink] \\
        [--mnist ../shared/data/mnist-strokes/strokes.npz] [--strings 200] [--seed 0] \\
        [--write-inkml OUT.inkml]

Each string has 3 to 10 digits, each a real digit of the MNIST pen-stroke set drawn from its
held-out "test" part (``MNIST_SPLITS``: never written into any training corpus of the project),
laid side by side on one line as drawn (scaled to a line's size, no slant or jitter added), with
a writer's spacing. Prints the share of strings recognized exactly and the character error
rate, each with a 95 % bootstrap interval. ``--write-inkml`` also writes the strings as an
InkML file, to try with ``lstmrec recognize``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from lstmrec.api import load
from lstmrec.corpora.ink_hands import MnistDigits
from lstmrec.corpora.mnist_strokes import MNIST_SPLITS
from lstmrec.corpora.synth_ink import render_line, writer_style
from lstmrec.features.errors import DataError
from lstmrec.scoring.align import ErrorCounts, align
from lstmrec.scoring.stats import bootstrap_ci


def digit_strings(mnist: str, count: int, seed: int) -> list[tuple[str, list[np.ndarray]]]:
    """``count`` (text, strokes) pairs written with held-out MNIST digits."""
    bank = MnistDigits(mnist, MNIST_SPLITS["test"])
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="en-ink")
    p.add_argument("--mnist", default="../shared/data/mnist-strokes/strokes.npz")
    p.add_argument("--strings", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--write-inkml", help="also write the strings to this InkML file (new)")
    args = p.parse_args(argv)
    try:
        model = load(args.model)
        pairs = digit_strings(args.mnist, args.strings, args.seed)
    except DataError as e:
        print(f"ink_digit_strings: {e}", file=sys.stderr)
        return 2
    exact, errors, lengths = [], [], []
    for text, strokes in pairs:
        hyp = model.recognize(strokes).text
        counts = ErrorCounts.from_alignment(align(list(text), list(hyp.replace(" ", ""))))
        exact.append(int(hyp.replace(" ", "") == text))
        errors.append(counts.errors)
        lengths.append(len(text))
    n = len(pairs)
    acc_lo, acc_hi = bootstrap_ci([1 - e for e in exact], [1] * n)
    cer_lo, cer_hi = bootstrap_ci(errors, lengths)
    print(f"{n} digit strings of held-out MNIST pen-stroke digits, model {args.model}")
    print(
        f"  strings recognized exactly: {100 * sum(exact) / n:.1f} % "
        f"[{100 - acc_hi:.1f}, {100 - acc_lo:.1f}]"
    )
    print(
        f"  digit error rate (CER, spaces ignored): {100 * sum(errors) / sum(lengths):.2f} % "
        f"[{cer_lo:.2f}, {cer_hi:.2f}]"
    )
    if args.write_inkml:
        from lstmrec.features.inkwriters import InkSample, write_inkml

        write_inkml(
            args.write_inkml,
            [InkSample(f"digits-{i}", tuple(s), t) for i, (t, s) in enumerate(pairs)],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
