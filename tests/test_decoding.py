"""Best-path CTC decoding, CTC frame feasibility and padded batching, all hand-computed in NumPy."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # lstmrec.training.batching imports keras

import keras
import numpy as np
import pytest

from lstmrec.features.errors import DataError
from lstmrec.featurize import check_ctc_fits, ctc_min_frames
from lstmrec.manifest import Utterance
from lstmrec.models.blstm import build_model
from lstmrec.models.ctc import CTCTrainer, default_jit_compile
from lstmrec.models.decoding import Token, greedy_decode, greedy_decode_batch
from lstmrec.training.batching import (
    CTCBatches,
    bucket_batches,
    fit_input,
    pad_features,
    pad_labels,
)

BLANK, A, B = 0, 1, 2


def one_hot_logits(path: list[int], num_classes: int = 3, *, high: float = 5.0) -> np.ndarray:
    """``(T, num_classes)`` logits whose argmax on frame ``t`` is ``path[t]``; the rest random."""
    rng = np.random.default_rng(len(path))
    logits = rng.uniform(-1.0, 1.0, size=(len(path), num_classes)).astype(np.float32)
    logits[np.arange(len(path)), path] = high
    return logits


# --- greedy_decode -----------------------------------------------------------------------------


def test_seven_frame_best_path_with_spans():
    # Best path  a a - a b b -  (frames 0..6).
    logits = np.array(
        [
            [0.1, 2.0, 0.3],  # a
            [0.2, 1.5, 1.4],  # a
            [3.0, 0.5, 0.1],  # -
            [0.0, 0.9, 0.8],  # a
            [-1.0, 0.0, 0.5],  # b
            [0.3, 0.2, 0.4],  # b
            [2.0, 1.9, 1.8],  # -
        ],
        dtype=np.float32,
    )
    # The blank at frame 2 separates the two a's. Spans: the first a runs up to the second a's
    # spike (frame 3), the second a up to b's spike (frame 4), the last token (b) to one past
    # its own run (frame 6), not over the trailing blank.
    assert greedy_decode(logits) == [Token(A, 0, 3), Token(A, 3, 4), Token(B, 4, 6)]


def test_leading_blanks_do_not_belong_to_the_first_token():
    assert greedy_decode(one_hot_logits([BLANK, BLANK, A, A, BLANK, B])) == [
        Token(A, 2, 5),
        Token(B, 5, 6),
    ]


def test_all_blank_decodes_to_nothing():
    assert greedy_decode(one_hot_logits([BLANK] * 5)) == []


def test_repeats_without_blank_merge():
    assert greedy_decode(one_hot_logits([A, A, A])) == [Token(A, 0, 3)]


def test_argmax_is_all_that_matters():
    logits = one_hot_logits([A, BLANK, A, B])
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    assert greedy_decode(np.log(probs)) == greedy_decode(probs) == greedy_decode(logits)


def test_length_ignores_padded_frames():
    real = [A, BLANK, B]
    # Padding frames score b, then a, very highly: they must not add tokens or stretch b's span.
    padded = one_hot_logits(real + [B, A, A], high=5.0)
    padded[3:, 1:] = 100.0 * np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    assert greedy_decode(padded, length=3) == [Token(A, 0, 2), Token(B, 2, 3)]
    assert greedy_decode(padded, length=3) == greedy_decode(padded[:3])
    assert greedy_decode(padded, length=0) == []
    assert len(greedy_decode(padded)) == 3  # without a length the padding is decoded


def test_rejects_batched_logits():
    with pytest.raises(ValueError, match="shape"):
        greedy_decode(np.zeros((2, 4, 3)))


def test_batch_matches_per_utterance_calls():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 12, 5)).astype(np.float32)
    lengths = np.array([12, 7, 1, 0], dtype=np.int32)
    assert greedy_decode_batch(logits, lengths) == [
        greedy_decode(logits[b, : lengths[b]]) for b in range(4)
    ]


# --- CTC feasibility ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "frames"),
    [(["a", "a", "b"], 4), (["a", "b", "c"], 3), ([], 0), (["a", "a", "a"], 5), ([7], 1)],
)
def test_ctc_min_frames(labels, frames):
    assert ctc_min_frames(labels) == frames
    assert ctc_min_frames(tuple(labels)) == frames


def test_check_ctc_fits_names_the_audio_file():
    utt = Utterance(id="fdaw0_sx146", path="/data/timit/fdaw0/sx146.wav", speaker="fdaw0")
    check_ctc_fits(utt, ["a", "a", "b"], 4)  # exactly enough: no error
    with pytest.raises(DataError) as err:
        check_ctc_fits(utt, ["a", "a", "b"], 3)
    assert err.value.path == "/data/timit/fdaw0/sx146.wav"
    assert "/data/timit/fdaw0/sx146.wav" in str(err.value)
    assert "fdaw0_sx146" in str(err.value)
    assert "4 frames" in str(err.value) and "only 3" in str(err.value)


# --- batching ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [None, 0, 1])
def test_bucket_batches_cover_every_index_once_and_are_length_sorted(seed):
    lengths = np.random.default_rng(5).integers(1, 50, size=23)
    rng = None if seed is None else np.random.default_rng(seed)
    batches = bucket_batches(lengths, batch_size=4, rng=rng)
    assert [len(b) for b in batches].count(4) == 5 and sorted(len(b) for b in batches)[0] == 3
    assert sorted(np.concatenate(batches).tolist()) == list(range(23))
    # Bucketing: each batch holds a contiguous slice of the length order, so batches don't overlap
    # in length (up to ties) and padding stays small.
    spans = sorted((lengths[b].min(), lengths[b].max()) for b in batches)
    assert all(hi <= lo_next for (_, hi), (lo_next, _) in zip(spans, spans[1:], strict=False))
    for b in batches:
        assert np.all(np.diff(lengths[b]) >= 0)


def test_bucket_batches_without_rng_follow_length_order():
    batches = bucket_batches(np.array([5, 1, 4, 2, 3]), batch_size=2)
    assert [b.tolist() for b in batches] == [[1, 3], [4, 2], [0]]


def test_bucket_batches_same_seed_same_batches():
    lengths = np.random.default_rng(5).integers(1, 10, size=40)  # many ties to shuffle
    one = bucket_batches(lengths, batch_size=4, rng=np.random.default_rng(3))
    two = bucket_batches(lengths, batch_size=4, rng=np.random.default_rng(3))
    other = bucket_batches(lengths, batch_size=4, rng=np.random.default_rng(4))
    assert [b.tolist() for b in one] == [b.tolist() for b in two]
    assert [b.tolist() for b in one] != [b.tolist() for b in other]


def test_pad_features_pads_to_a_multiple_and_keeps_lengths():
    feats = [np.full((5, 2), 1.0), np.full((3, 2), 2.0), np.full((8, 2), 3.0)]
    x, lengths = pad_features(feats, multiple=4)
    assert x.shape == (3, 8, 2) and x.dtype == np.float32
    assert lengths.tolist() == [5, 3, 8] and lengths.dtype == np.int32
    x, lengths = pad_features(feats[:2], multiple=4)
    assert x.shape == (2, 8, 2)  # 5 rounds up to 8
    np.testing.assert_array_equal(x[0, :5], 1.0)
    np.testing.assert_array_equal(x[0, 5:], 0.0)
    np.testing.assert_array_equal(x[1, :3], 2.0)
    np.testing.assert_array_equal(x[1, 3:], 0.0)
    assert pad_features(feats[:2])[0].shape == (2, 5, 2)  # multiple=1: longest length


def test_pad_labels_pads_with_zero():
    y, lengths = pad_labels([np.array([3, 1, 2]), np.array([4]), np.array([], dtype=np.int32)])
    assert y.dtype == np.int32 and lengths.dtype == np.int32
    np.testing.assert_array_equal(y, [[3, 1, 2], [4, 0, 0], [0, 0, 0]])
    assert lengths.tolist() == [3, 1, 0]


def _dataset(seed: int, epoch: int) -> CTCBatches:
    rng = np.random.default_rng(11)
    lengths = rng.integers(2, 12, size=30)
    feats = [rng.normal(size=(n, 3)).astype(np.float32) for n in lengths]
    labels = [rng.integers(1, 5, size=n // 2 + 1).astype(np.int32) for n in lengths]
    return CTCBatches(feats, labels, batch_size=4, pad_multiple=4, seed=seed, epoch=epoch)


def _epoch(data: CTCBatches) -> list:
    return [data[i] for i in range(len(data))]


def _assert_same_epoch(one: list, two: list) -> None:
    assert len(one) == len(two)
    for ((x1, n1), (y1, m1)), ((x2, n2), (y2, m2)) in zip(one, two, strict=True):
        for a, b in [(x1, x2), (n1, n2), (y1, y2), (m1, m2)]:
            np.testing.assert_array_equal(a, b)


def test_ctc_batches_are_well_formed():
    data = _dataset(0, 0)
    assert len(data) == 8  # 30 utterances / 4
    seen = 0
    for (x, x_len), (y, y_len) in _epoch(data):
        assert x.shape[0] == y.shape[0] == len(x_len) == len(y_len)
        assert x.shape[1] % 4 == 0 and x.shape[1] >= x_len.max()
        # labels are padded like frames (few shapes to compile), zeros after each length
        assert y.shape[1] % 4 == 0 and y_len.max() <= y.shape[1] < y_len.max() + 4
        assert all(not y[i, n:].any() for i, n in enumerate(y_len))
        seen += len(x_len)
    assert seen == 30


def test_ctc_batches_depend_only_on_seed_and_epoch():
    # What makes --resume reproduce an uninterrupted run: a fresh dataset at epoch e, and one that
    # reached epoch e through on_epoch_end, give the same batches.
    _assert_same_epoch(_epoch(_dataset(0, 2)), _epoch(_dataset(0, 2)))
    running = _dataset(0, 0)
    running.on_epoch_end()
    running.on_epoch_end()
    assert running.epoch == 2
    _assert_same_epoch(_epoch(running), _epoch(_dataset(0, 2)))


def test_ctc_batches_differ_between_epochs_and_seeds():
    def order(data: CTCBatches) -> list[list[int]]:
        return [b.tolist() for b in data.batches]

    assert order(_dataset(0, 0)) != order(_dataset(0, 1))
    assert order(_dataset(0, 0)) != order(_dataset(1, 0))


def test_fit_accepts_batches_whose_shapes_change_after_the_first_two():
    """Keras fixes a PyDataset's shapes from its first two batches on TensorFlow; training must
    not fail when a later batch has another size, padded width or label width."""
    rng = np.random.default_rng(0)
    lengths, label_lengths = [10, 12, 20, 25, 40], [3, 3, 3, 3, 5]
    feats = [rng.standard_normal((n, 4)).astype(np.float32) for n in lengths]
    labels = [rng.integers(1, 3, size=n).astype(np.int32) for n in label_lengths]
    batches = CTCBatches(feats, labels, batch_size=2, pad_multiple=32, seed=0)
    order = [np.array([0, 1]), np.array([2, 3]), np.array([4])]  # (2, 32), (2, 32), then (1, 64)
    batches.set_epoch = lambda epoch: setattr(batches, "batches", order)
    batches.set_epoch(0)
    trainer = CTCTrainer(build_model(input_dim=4, num_classes=3, num_layers=1, units=4))
    trainer.compile(optimizer=keras.optimizers.SGD(1e-3), jit_compile=default_jit_compile())
    history = trainer.fit(fit_input(batches), epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["loss"]).all()
