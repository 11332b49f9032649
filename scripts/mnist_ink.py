"""Digit recognition on the MNIST pen-stroke set with the handwriting pipeline.

    # 1. write disjoint train / dev / test digits as ink JSON files with manifests
    .venv/bin/python scripts/mnist_ink.py prepare ../shared/data/mnist-strokes/strokes.npz \\
        runs/mnist/data --train 3000 --dev 300 --test 1000
    # 2. train and evaluate with the ordinary commands
    .venv/bin/lstmrec train --config configs/mnist_ink.toml --data runs/mnist/data \\
        --out runs/mnist/run
    .venv/bin/lstmrec evaluate runs/mnist/run/model --data runs/mnist/data --split core-test \\
        --hyp-out runs/mnist/test_hyp.txt
    # 3. digit accuracy: a digit is right when the recognised text is exactly its label
    .venv/bin/python scripts/mnist_ink.py accuracy runs/mnist/data runs/mnist/test_hyp.txt

The splits are consecutive index ranges of the file (train first, then dev, then test), so
they never share a digit. The set has no writer ids, so all digits share the writer "mnist".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lstmrec.corpora.mnist_strokes import load_mnist_strokes
from lstmrec.features.errors import DataError
from lstmrec.features.inkfiles import write_ink_json
from lstmrec.manifest import Utterance, read_manifest, write_manifest
from lstmrec.scoring.align import read_kaldi_text
from lstmrec.targets import symbols_text

SPLIT_FILES = ("train", "dev", "core-test")
WRITER = "mnist"  # the set has no writer ids: one group for the per-writer table


def prepare(npz: str, out: Path, sizes: dict[str, int]) -> None:
    start = 0
    for split in SPLIT_FILES:
        indices = list(range(start, start + sizes[split]))
        start += sizes[split]
        utts = []
        for sample in load_mnist_strokes(npz, indices=indices):
            path = out / "ink" / f"{sample.id}.json"
            write_ink_json(path, [sample])
            # Manifest paths are relative to the manifest's folder.
            utts.append(Utterance(sample.id, f"ink/{path.name}", WRITER, text=sample.text))
        write_manifest(utts, out / f"{split}.jsonl")
        print(f"{split}: {len(utts)} digits (indices {indices[0]}..{indices[-1]})")


def accuracy(data: Path, hyp_file: str) -> None:
    refs = {u.id: u.text for u in read_manifest(data / "core-test.jsonl")}
    hyps = {k: symbols_text(v) for k, v in read_kaldi_text(hyp_file).items()}
    right = sum(hyps.get(k) == v for k, v in refs.items())
    print(f"digit accuracy {100.0 * right / len(refs):.2f} % ({right} / {len(refs)})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("prepare", help="write ink files and manifests")
    q.add_argument("npz", help="MNIST strokes file (strokes.npz)")
    q.add_argument("out", help="output folder")
    q.add_argument("--train", type=int, default=3000, help="training digits (default 3000)")
    q.add_argument("--dev", type=int, default=300, help="dev digits (default 300)")
    q.add_argument("--test", type=int, default=1000, help="test digits (default 1000)")
    q = sub.add_parser("accuracy", help="digit accuracy of a hypothesis file")
    q.add_argument("data", help="the folder written by prepare")
    q.add_argument("hyp", help="hypotheses written by 'lstmrec evaluate --hyp-out'")
    args = p.parse_args(argv)
    try:
        if args.command == "prepare":
            sizes = {"train": args.train, "dev": args.dev, "core-test": args.test}
            prepare(args.npz, Path(args.out), sizes)
        else:
            accuracy(Path(args.data), args.hyp)
    except DataError as e:
        print(f"mnist_ink: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
