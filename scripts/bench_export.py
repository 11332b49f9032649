"""Exported artifacts against the NumPy engine: size on disk and logits per second, in one run.

Exports a bundle to every format (``lstmrec export``) in a temporary folder, computes the
features of some audio files once, then runs the NumPy engine and each artifact's own runtime on
them, alternating, and prints JSON: each artifact's size, the largest logit difference from the
NumPy engine, and frames of logits per second (best of ``--repeats``) with its ratio to the
NumPy engine's. Utterances go through ``predict_logits`` (batches of up to 16, padded), except
that a LiteRT artifact takes one utterance per call. Of a transducer bundle, the encoder is
compared and timed: its outputs stand for the logits (the prediction and joint networks run
once per label in the search, not once per frame).

    .venv/bin/python scripts/bench_export.py en-phones \\
        ../shared/data/timit-sample/TIMIT/TRAIN/DR3/MADC0/*.WAV
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lstmrec.bundle import load_bundle
from lstmrec.features.audio import apply_cmvn
from lstmrec.features.errors import DataError, require_at_least
from lstmrec.featurize import checked_features
from lstmrec.inference.decoder import predict_logits
from lstmrec.inference.export import artifact_size, export_bundle
from lstmrec.inference.exported import FORMATS, load_exported
from lstmrec.shipped import resolve_model


def _seconds(model, feats) -> float:
    """Wall-clock seconds of one ``predict_logits`` over ``feats``."""
    start = time.perf_counter()
    predict_logits(model, feats)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="bundle folder or shipped model name")
    parser.add_argument("files", nargs="+", help="audio (or ink) files to run the models on")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs each (best counts)")
    args = parser.parse_args(argv)
    try:
        require_at_least({"--repeats": (args.repeats, 1)})
        path = resolve_model(args.model)
        bundle = load_bundle(path, engine="numpy")
        feats = [apply_cmvn(checked_features(f, bundle.features), bundle.mean, bundle.std)
                 for f in args.files]  # fmt: skip
    except DataError as e:
        print(f"bench_export: {e}", file=sys.stderr)
        return 2
    bench(args, path, bundle, feats)
    return 0


def bench(args, path: Path, bundle, feats: list[np.ndarray]) -> None:
    """Export ``bundle`` to each of ``args.formats``; print the JSON of sizes and speeds."""
    frames = sum(len(f) for f in feats)
    # A transducer's NumPy model gives its encoder outputs projected for the joint network;
    # its export's encoder gives them as they are, as does the NumPy encoder inside it.
    transducer = bundle.kind == "transducer"
    numpy_model = bundle.model.encoder if transducer else bundle.model
    reference = predict_logits(numpy_model, feats)
    result = {"model": str(path), "files": len(feats), "frames": frames,
              "cpus": os.cpu_count(), "load_average": os.getloadavg()}  # fmt: skip
    if transducer:
        result["network"] = "encoder"
    with tempfile.TemporaryDirectory() as tmp:
        models, artifacts = {"numpy": numpy_model}, {}
        for fmt in args.formats:
            start = time.perf_counter()
            export_bundle(path, fmt, Path(tmp) / fmt)
            models[fmt] = load_exported(Path(tmp) / fmt)
            logits = predict_logits(models[fmt], feats)
            diff = max(float(np.abs(a - b).max()) for a, b in zip(logits, reference, strict=True))
            artifacts[fmt] = {"export_s": round(time.perf_counter() - start, 1),
                              "size_bytes": artifact_size(Path(tmp) / fmt),
                              "max_abs_diff_vs_numpy": diff}  # fmt: skip
        seconds = {name: float("inf") for name in models}
        for _ in range(args.repeats):  # alternate, so a load change hits every model alike
            for name, model in models.items():
                seconds[name] = min(seconds[name], _seconds(model, feats))
    speed = {name: frames / s for name, s in seconds.items()}
    result["numpy_frames_per_s"] = round(speed["numpy"])
    for fmt, info in artifacts.items():
        info["frames_per_s"] = round(speed[fmt])
        info["speed_ratio_to_numpy"] = round(speed[fmt] / speed["numpy"], 2)
    result["artifacts"] = artifacts
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
