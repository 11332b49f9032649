"""Ink data benchmark: reading each file format and computing features, side by side.

Writes the same MNIST pen-stroke digits in every format the project reads, times reading them
back (relative to JSON) and times the feature chain (with and without slant correction) per
digit, all in one process. Also prints the frame counts the default features give.

    .venv/bin/python scripts/bench_ink.py --count 500
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lstmrec.corpora.mnist_strokes import load_mnist_strokes
from lstmrec.features.errors import DataError, require_at_least
from lstmrec.features.ink import InkFeatureConfig, ink_features
from lstmrec.features.inkfiles import (
    read_ink_file,
    write_iam_ondb_strokes,
    write_ink_json,
    write_inkml,
    write_stroke3,
)

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-strokes" / "strokes.npz"


def _seconds(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", default=str(MNIST), help="strokes.npz (default: shared data)")
    parser.add_argument("--count", type=int, default=500, help="digits (default: 500)")
    args = parser.parse_args(argv)
    try:
        require_at_least({"--count": (args.count, 1)})
        samples = load_mnist_strokes(args.mnist, indices=range(args.count))
    except DataError as e:
        print(f"bench_ink: {e}", file=sys.stderr)
        return 2
    bench(samples)
    return 0


def bench(samples) -> None:
    """Print the reading and feature times of ``samples`` (MNIST pen-stroke digits)."""
    writers = {
        ".json": lambda p, s: write_ink_json(p, [s]),
        ".ndjson": lambda p, s: write_ink_json(p, [s]),
        ".inkml": lambda p, s: write_inkml(p, [s]),
        ".xml": lambda p, s: write_iam_ondb_strokes(p, s.strokes),
        ".npz": write_stroke3,
    }
    with tempfile.TemporaryDirectory() as tmp:
        times = {}
        for ext, write in writers.items():
            paths = [Path(tmp) / f"{s.id}{ext}" for s in samples]
            for path, sample in zip(paths, samples, strict=True):
                write(path, sample)
            times[ext] = _seconds(read_ink_file, paths)
    print(f"reading {len(samples)} digits, one file each (ratio to .json):")
    for ext, t in times.items():
        per = 1e3 * t / len(samples)
        print(f"  {ext:8s} {per:7.3f} ms/file  x{t / times['.json']:.2f}")
    strokes = [s.strokes for s in samples]
    print("features per digit:")
    for name, config in [
        ("default", InkFeatureConfig()),
        ("no deslant", InkFeatureConfig(deslant=False)),
    ]:
        t = _seconds(lambda s, c=config: ink_features(s, c), strokes)
        print(f"  {name:10s} {1e3 * t / len(samples):7.3f} ms/digit")
    for reference in ("core", "box"):
        config = InkFeatureConfig(reference=reference)
        frames = np.array([len(ink_features(s, config)) for s in strokes])
        print(
            f"frames per digit (reference={reference}, spacing 0.2): mean {frames.mean():.1f}, "
            f"median {np.median(frames):.0f}, min {frames.min()}, max {frames.max()}"
        )


if __name__ == "__main__":
    sys.exit(main())
