#!/usr/bin/env python
"""Speed of the NumPy CTC prefix beam search against TensorFlow's C++ beam search decoder.

    .venv/bin/python scripts/bench_decode.py                       # synthetic, T=300, 62 classes
    .venv/bin/python scripts/bench_decode.py --model runs/demo/model --data data/timit-demo \\
        --split core-test --test-speakers data/timit-demo/test_spk.list --lm phones.arpa

Both decoders get the same log-probabilities in one run: synthetic ones shaped like a trained
model's (mostly blank with spikes), or the real logits of a model bundle on a split. TensorFlow's
``tf.nn.ctc_beam_search_decoder`` takes time-major input and treats the LAST class as blank, so
the classes are permuted for it; it decodes the whole batch in one call (its fastest use). Each
figure is the best of ``--repeats`` runs; the ratio is TensorFlow time / ours (above 1: ours is
faster). With ``--lm`` the cost of shallow fusion is reported as ours-with-LM / ours-without.
``--profile`` prints a cProfile of our decoder at the largest beam.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from lstmrec.backend import held_stderr, import_keras
from lstmrec.bundle import load_bundle
from lstmrec.corpora.splits import load_split
from lstmrec.features.audio import apply_cmvn
from lstmrec.features.errors import DataError, require_at_least
from lstmrec.featurize import compute_features
from lstmrec.inference.decoder import predict_logits
from lstmrec.inference.lm_files import decoder_lm
from lstmrec.models.beam import beam_search, log_softmax
from lstmrec.shipped import resolve_model


def synthetic(n: int, frames: int, classes: int, *, seed: int = 0) -> list[np.ndarray]:
    """``n`` arrays ``(frames, classes)`` of log-probs like a trained CTC model's output: blank
    on about 60 % of frames, a spike of one symbol elsewhere, never fully certain."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        path = rng.integers(1, classes, size=frames)
        path[rng.random(frames) < 0.6] = 0
        logits = 1.5 * rng.normal(size=(frames, classes))
        logits[np.arange(frames), path] += rng.uniform(3.0, 9.0, size=frames)
        out.append(log_softmax(logits))
    return out


def real(args) -> tuple[list[np.ndarray], list[str]]:
    """Log-probs of a bundle on a split, and the bundle's class names."""
    import_keras()  # before the bundle's Keras model loads, to keep TensorFlow's start quiet
    bundle = load_bundle(resolve_model(args.model))
    if bundle.kind != "ctc":  # its model gives encoder outputs for the joint network, no logits
        raise DataError(
            "a transducer has no CTC logits to decode (scripts/bench_transducer.py times its "
            "search)",
            args.model,
        )
    utts = load_split(args.data, args.split, keep_sa=args.keep_sa, test_speakers=args.test_speakers)
    feats = compute_features(utts, bundle.features, desc="features")
    normed = [apply_cmvn(feats[u.id], bundle.mean, bundle.std) for u in utts if u.id in feats]
    return [
        log_softmax(lg) for lg in predict_logits(bundle.model, normed)
    ], bundle.symbols.to_list()


def tf_decode(log_probs: list[np.ndarray], beam: int) -> tuple[float, list[tuple[int, ...]]]:
    """Seconds for one batched call of TensorFlow's decoder, and its best labellings (in our
    class ids)."""
    with held_stderr():  # TensorFlow's C++ start-up lines; not loaded for --help
        import tensorflow as tf

    classes = log_probs[0].shape[1]
    lengths = [len(lp) for lp in log_probs]
    batch = np.zeros((max(lengths), len(log_probs), classes), np.float32)  # (T, B, C)
    perm = np.r_[1:classes, 0]  # blank last
    for b, lp in enumerate(log_probs):
        batch[: len(lp), b] = lp[:, perm]
    x = tf.constant(batch)
    start = time.perf_counter()
    decoded, _ = tf.nn.ctc_beam_search_decoder(x, lengths, beam_width=beam, top_paths=1)
    seconds = time.perf_counter() - start
    dense = tf.sparse.to_dense(decoded[0], default_value=-1).numpy()
    return seconds, [tuple((row[row >= 0] + 1).tolist()) for row in dense]


def ours(log_probs, beam: int, **options) -> tuple[float, list[tuple[int, ...]]]:
    start = time.perf_counter()
    best = [beam_search(lp, beam=beam, **options)[0].labels for lp in log_probs]
    return time.perf_counter() - start, best


def best_of(repeats: int, *calls) -> list[tuple[float, list]]:
    """Each ``(fn, args, kwargs)`` of ``calls`` run ``repeats`` times, interleaved (so that a
    busy spell of a shared machine hits all of them): best time and first result of each."""
    runs = [[fn(*a, **kw) for fn, a, kw in calls] for _ in range(repeats)]
    return [(min(r[i][0] for r in runs), runs[0][i][1]) for i in range(len(calls))]


def check_args(args) -> None:
    """Refuse (:class:`DataError`) numbers no run can use, before anything is loaded."""
    require_at_least({"--utterances": (args.utterances, 1), "--frames": (args.frames, 1),
                      "--classes": (args.classes, 2), "--repeats": (args.repeats, 1),
                      "--beams": (min(args.beams), 1)})  # fmt: skip
    if args.lm and not args.model:
        raise DataError(
            "--lm needs --model (the LM must match the model's symbols)", "command line"
        )
    if args.model and not args.data:
        raise DataError("--model needs --data (the corpus to decode)", "command line")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--utterances", type=int, default=20, help="synthetic utterances (20)")
    p.add_argument("--frames", type=int, default=300, help="synthetic frames each (300)")
    p.add_argument("--classes", type=int, default=62, help="synthetic classes with blank (62)")
    p.add_argument("--model", help="bundle whose real logits to decode instead")
    p.add_argument("--data", help="corpus for --model")
    p.add_argument("--split", default="core-test")
    p.add_argument("--test-speakers")
    p.add_argument("--keep-sa", action="store_true")
    p.add_argument("--beams", type=int, nargs="+", default=[10, 100])
    p.add_argument("--lm", help="ARPA model over the symbols: also time shallow fusion")
    p.add_argument("--lm-weight", type=float, default=0.5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--format", choices=["text", "json"], default="text")
    args = p.parse_args(argv)
    try:
        check_args(args)
        return run(args)
    except DataError as e:
        print(f"bench_decode: {e}", file=sys.stderr)
        return 2


def run(args) -> int:
    if args.model:
        log_probs, class_names = real(args)
        source = f"{args.model} on {args.split}"
    else:
        log_probs = synthetic(args.utterances, args.frames, args.classes)
        class_names = None
        source = "synthetic"
    lm = None
    if args.lm:
        lm = decoder_lm(class_names, lm_path=args.lm, lexicon_path=None)
    frames = sum(len(lp) for lp in log_probs)
    tf_decode(log_probs[:1], 2)  # TensorFlow's first call builds its kernels
    rows = []
    for beam in args.beams:
        calls = [(tf_decode, (log_probs, beam), {}), (ours, (log_probs, beam), {})]
        if lm is not None:
            calls.append((ours, (log_probs, beam), {"lm": lm, "lm_weight": args.lm_weight}))
        timed = best_of(args.repeats, *calls)
        (t_tf, tf_best), (t_ours, our_best) = timed[:2]
        row = {
            "beam": beam,
            "tensorflow_ms_per_utt": 1000 * t_tf / len(log_probs),
            "ours_ms_per_utt": 1000 * t_ours / len(log_probs),
            "speedup_vs_tensorflow": t_tf / t_ours,
            "same_best_labels": sum(a == b for a, b in zip(tf_best, our_best, strict=True)),
        }
        if lm is not None:
            t_lm = timed[2][0]
            row["ours_lm_ms_per_utt"] = 1000 * t_lm / len(log_probs)
            row["lm_cost"] = t_lm / t_ours
        rows.append(row)
        if args.format == "text":
            text = (
                f"beam {beam:4d}: TensorFlow {row['tensorflow_ms_per_utt']:8.2f} ms/utt, "
                f"ours {row['ours_ms_per_utt']:8.2f} ms/utt, "
                f"ours {row['speedup_vs_tensorflow']:.2f}"
                f"x as fast; same best labels {row['same_best_labels']}/{len(log_probs)}"
            )
            if lm is not None:
                text += f"; with LM {row['ours_lm_ms_per_utt']:.2f} ms/utt ({row['lm_cost']:.2f}x)"
            print(text, flush=True)
    summary = {"source": source, "utterances": len(log_probs), "frames": frames, "rows": rows}
    if args.format == "json":
        print(json.dumps(summary))
    else:
        print(f"{source}: {len(log_probs)} utterances, {frames} frames, best of {args.repeats}")
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(ours, log_probs, max(args.beams), lm=lm, lm_weight=args.lm_weight)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
