"""Training-throughput benchmark of the BLSTM-CTC network on real utterance lengths.

Measures frames per second of full training steps (forward, CTC loss, backward, update) for the
project's network and, side by side in the same process, for the same network built from Keras'
stock ``Bidirectional(LSTM)`` (which cannot respect per-utterance lengths without a mask), so the
cost of length-aware reversal is reported as a ratio.
"""

from __future__ import annotations

import time

import numpy as np

from lstmrec.corpora.splits import load_corpus
from lstmrec.features.errors import DataError, skip_gaps
from lstmrec.padding import bucket_batches, pad_features, pad_labels


def lengths_from(utts, *, hop_ms: float, count: int, seed: int = 0) -> np.ndarray:
    """``count`` frame counts drawn (with a fixed seed) from the utterances' durations."""
    frames = np.array([max(1, round(u.duration * 1000 / hop_ms)) for u in utts if u.duration])
    return np.random.default_rng(seed).choice(frames, size=count)


def real_lengths(corpus: str | None, *, count: int, seed: int = 0) -> np.ndarray:
    """Frame counts of ``count`` utterances: from a corpus when given, else TIMIT-like lengths.

    The lengths come from audio durations (10 ms frames). Raises :class:`DataError` for a bad
    corpus, and for one whose utterances have no duration (an ink corpus such as IAM-OnDB,
    whose known gaps are skipped on the way: only the missing durations are reported)."""
    if corpus:
        utts = load_corpus(corpus, on_error=skip_gaps)
        if not any(u.duration for u in utts):
            raise DataError("no utterance has a duration (lengths come from audio)", corpus)
        return lengths_from(utts, hop_ms=10.0, count=count, seed=seed)
    return np.random.default_rng(seed).integers(150, 450, size=count)  # 1.5 to 4.5 s


def stock_bidirectional_model(*, input_dim, num_classes, num_layers, units):
    """The same shape built with ``keras.layers.Bidirectional`` (no per-utterance lengths)."""
    import keras  # loaded only to build a network: the module is imported without it

    features = keras.Input(shape=(None, input_dim), name="features")
    lengths = keras.Input(shape=(), dtype="int32", name="lengths")
    x = features
    for i in range(num_layers):
        x = keras.layers.Bidirectional(
            keras.layers.LSTM(units, return_sequences=True), name=f"bilstm_{i + 1}"
        )(x)
    return keras.Model([features, lengths], keras.layers.Dense(num_classes)(x))


def synthetic_batches(
    lengths: np.ndarray,
    *,
    batch_size: int,
    input_dim: int,
    num_classes: int,
    seed: int = 0,
    label_lengths: np.ndarray | None = None,
    pad_multiple: int = 32,
    label_pad_multiple: int = 1,
) -> list[tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], int]]:
    """Training batches of random features with the given true lengths, as training pads them.

    Returns a list of ``((x (B, T, F) float32, x_lengths (B,) int32), (labels (B, L) int32,
    label_lengths (B,) int32), real frames)``: length-bucketed, widths padded to multiples of
    ``pad_multiple`` frames and ``label_pad_multiple`` labels, with ``label_lengths`` labels
    (default: one per 8 frames, a phone rate like TIMIT's).
    """
    rng = np.random.default_rng(seed)
    if label_lengths is None:
        label_lengths = np.maximum(1, np.asarray(lengths) // 8)
    feats = [rng.standard_normal((n, input_dim)).astype(np.float32) for n in lengths]
    labels = [rng.integers(1, num_classes, size=max(1, int(n))).astype(np.int32)
              for n in label_lengths]  # fmt: skip
    batches = []
    for idx in bucket_batches(lengths, batch_size=batch_size, rng=rng):
        x, xl = pad_features([feats[i] for i in idx], multiple=pad_multiple)
        y, yl = pad_labels([labels[i] for i in idx], multiple=label_pad_multiple)
        batches.append(((x, xl), (y, yl), int(xl.sum())))
    return batches


def time_training(
    model,
    lengths: np.ndarray,
    *,
    batch_size: int,
    input_dim: int,
    num_classes: int,
    steps: int,
    jit_compile: bool | str | None = None,
    **batching,
) -> float:
    """Frames per second of ``steps`` SGD steps on batches with the given true lengths.

    ``model`` is a CTC acoustic model, or a trainer (a ``keras.Model`` with its own loss, such
    as ``models.transducer.TransducerTrainer``); ``batching`` goes to
    :func:`synthetic_batches`. One untimed pass over every batch comes first, so each padded
    shape is traced (and, on JAX, compiled) before the clock starts.
    """
    # Keras: loaded only to train, so the PyTorch reference and the cell experiment's argument
    # parsing import this module without it.
    import keras

    from lstmrec.models.ctc import CTCTrainer, SequenceTrainer, default_jit_compile

    batches = synthetic_batches(
        lengths, batch_size=batch_size, input_dim=input_dim, num_classes=num_classes, **batching
    )
    trainer = model if isinstance(model, SequenceTrainer) else CTCTrainer(model, reduction="mean")
    if jit_compile is None:
        jit_compile = default_jit_compile()
    trainer.compile(optimizer=keras.optimizers.SGD(1e-4, momentum=0.9), jit_compile=jit_compile)
    for x, y, _ in batches:
        trainer.train_on_batch(x, y)
    frames, t0 = 0, time.perf_counter()
    for i in range(steps):
        x, y, n = batches[i % len(batches)]
        trainer.train_on_batch(x, y)
        frames += n
    return frames / (time.perf_counter() - t0)
