"""One measurement of ``lstmrec bench`` in its own process; prints one JSON line.

    python -m lstmrec.bench.worker train [shape options] [--save-bundle DIR]   (KERAS_BACKEND)
    python -m lstmrec.bench.worker torch [shape options]
    python -m lstmrec.bench.worker infer BUNDLE LONG.wav SHORT.wav ... [--keras]

Started by :mod:`lstmrec.bench.run`, which sets the backend and thread environment first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

from lstmrec.backend import import_keras
from lstmrec.bench.torch_reference import time_torch_training
from lstmrec.bench.training import real_lengths, time_training
from lstmrec.bundle import Bundle, load_bundle, save_bundle
from lstmrec.features.audio import FeatureConfig, apply_cmvn
from lstmrec.featurize import checked_features
from lstmrec.inference.decoder import DecoderOptions, bundle_decoder
from lstmrec.inference.transcribe import transcribe_files
from lstmrec.phones import SymbolTable


def _shape_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--units", type=int, default=250)
    p.add_argument("--input-dim", type=int, default=123)
    p.add_argument("--classes", type=int, default=62)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--batches", type=int, default=4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--corpus")


def _lengths(args) -> np.ndarray:
    return real_lengths(args.corpus, count=args.batch_size * args.batches)


def train(args) -> dict:
    """Keras training throughput on the backend of ``KERAS_BACKEND``."""
    keras = import_keras()
    from lstmrec.models.blstm import build_model  # Keras: after import_keras quietens its start

    model = build_model(
        input_dim=args.input_dim,
        num_classes=args.classes,
        num_layers=args.layers,
        units=args.units,
    )
    lengths = _lengths(args)
    fps = time_training(
        model,
        lengths,
        batch_size=args.batch_size,
        input_dim=args.input_dim,
        num_classes=args.classes,
        steps=args.steps,
    )
    if args.save_bundle:
        _save_random_bundle(model, args.save_bundle)
    return {"backend": keras.backend.backend(), "train_frames_per_s": round(fps, 1)}


def _save_random_bundle(model, path: str) -> None:
    """A bundle of the benchmarked shape (weights as trained a few steps on random data)."""
    features, symbols = FeatureConfig(), SymbolTable.timit61()
    if model.input_shape[0][-1] != features.dim or model.output_shape[-1] != len(symbols):
        raise SystemExit("--save-bundle needs 123 inputs and 62 outputs (fbank, TIMIT-61)")
    mean = np.zeros(features.dim, np.float32)
    std = np.ones(features.dim, np.float32)
    save_bundle(path, Bundle(model, features, symbols, mean, std, {"recipe": {}}))


def torch_train(args) -> dict:
    """Training throughput of the plain PyTorch network (``lstmrec.bench.torch_reference``)."""
    fps = time_torch_training(
        _lengths(args),
        batch_size=args.batch_size,
        input_dim=args.input_dim,
        num_classes=args.classes,
        num_layers=args.layers,
        units=args.units,
        steps=args.steps,
    )
    return {"train_frames_per_s": round(fps, 1)}


def flops_per_frame(model) -> int:
    """Multiply-adds x 2 per frame of the NumPy engine's forward pass (both directions)."""
    total = 2 * model.dense_kernel.size
    for layer in model.layers:
        total += 2 * (layer.kernel.size + layer.recurrent.size)
    return total


def matmul_rate(*, repeats: int = 5) -> float:
    """FLOP/s of a float32 ``(512, 512) @ (512, 2048)`` NumPy product (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 512), dtype=np.float32)
    b = rng.standard_normal((512, 2048), dtype=np.float32)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * 512 * 512 * 2048 / best


def infer(args) -> dict:
    """Real-time factors of transcription end to end, and the forward pass's FLOP/s."""
    bundle = load_bundle(args.bundle, engine="numpy")
    # Best-path decoding for the main figures: the recipe's beam search (below, separately)
    # costs what the posteriors make it cost, from little on a trained model's peaky output to
    # its worst case on the near-uniform output of the untrained bundle timed by default.
    greedy = bundle_decoder(bundle, DecoderOptions(beam=0))
    list(transcribe_files(bundle, args.short[:1], decoder=greedy))  # warm caches (mel filters)
    # The first long file also pays for first-touching its large buffers (about a tenth of the
    # time here); later files of a batch job do not. Both are reported.
    t0 = time.perf_counter()
    list(transcribe_files(bundle, [args.long], decoder=greedy))
    first_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    (long,) = transcribe_files(bundle, [args.long], decoder=greedy)
    wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    short = list(transcribe_files(bundle, args.short, decoder=greedy))
    short_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    list(transcribe_files(bundle, [args.long]))  # the bundle's recipe decoding (beam 100)
    beam_wall = time.perf_counter() - t0
    x = apply_cmvn(checked_features(args.long, bundle.features), bundle.mean, bundle.std)
    inputs = [x[None], np.array([len(x)], np.int32)]
    t0 = time.perf_counter()
    bundle.model.predict_on_batch(inputs)
    forward = time.perf_counter() - t0
    flops = flops_per_frame(bundle.model) * len(x) / forward
    peak = matmul_rate()
    out = {
        "threads": os.environ.get("OPENBLAS_NUM_THREADS", "all"),
        "long_file_s": round(long.duration, 2),
        "realtime_factor": round(long.duration / wall, 1),
        "realtime_factor_first": round(long.duration / first_wall, 1),
        "realtime_factor_batch": round(sum(t.duration for t in short) / short_wall, 1),
        "realtime_factor_recipe_beam": round(long.duration / beam_wall, 1),
        "short_files": len(short),
        "forward_x_realtime": round(long.duration / forward, 1),
        "model_flops_per_s": round(flops),
        "matmul_flops_per_s": round(peak),
        "matmul_fraction": round(flops / peak, 3),
    }
    if args.keras:
        out.update(_keras_forward(args.bundle, inputs, long.duration, forward))
    return out


def _keras_forward(bundle_dir: str, inputs, duration: float, numpy_s: float) -> dict:
    """The same forward pass on the Keras model (after one untimed call), for the ratio."""
    import_keras()
    model = load_bundle(bundle_dir, engine="keras").model
    model.predict_on_batch(inputs)
    t0 = time.perf_counter()
    model.predict_on_batch(inputs)
    keras_s = time.perf_counter() - t0
    return {
        "keras_forward_x_realtime": round(duration / keras_s, 1),
        "numpy_vs_keras_forward": round(keras_s / numpy_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lstmrec.bench.worker")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("train")
    _shape_parser(p)
    p.add_argument("--save-bundle")
    p.set_defaults(func=train)
    p = sub.add_parser("torch")
    _shape_parser(p)
    p.set_defaults(func=torch_train)
    p = sub.add_parser("infer")
    p.add_argument("bundle")
    p.add_argument("long")
    p.add_argument("short", nargs="+")
    p.add_argument("--keras", action="store_true")
    p.set_defaults(func=infer)
    args = parser.parse_args(argv)
    print(json.dumps(args.func(args)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
