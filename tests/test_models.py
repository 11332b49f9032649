"""The length-aware BLSTM, the acoustic model, CTC loss and training, on tiny hand-made inputs."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
from keras import ops

from lstmrec.models.blstm import build_model
from lstmrec.models.ctc import CTCTrainer, ctc_loss
from lstmrec.models.decoding import greedy_decode_batch
from lstmrec.models.layers import LengthAwareBidirectional, length_mask, reverse_by_length


def logits_of(model: keras.Model, x: np.ndarray, lengths) -> np.ndarray:
    """``(B, T, V + 1)`` logits as NumPy, inference mode."""
    return keras.ops.convert_to_numpy(
        model([x.astype(np.float32), np.asarray(lengths, dtype=np.int32)], training=False)
    )


# --- reverse_by_length, length_mask ------------------------------------------------------------


def test_reverse_by_length_by_hand():
    x = np.array([[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]], dtype=np.float32)[:, :, None]  # (2, 5, 1)
    y = ops.convert_to_numpy(reverse_by_length(x, np.array([5, 3], dtype=np.int32)))
    # The second row reverses its 3 real steps only; its 2 padded steps stay where they are.
    np.testing.assert_array_equal(y[:, :, 0], [[5, 4, 3, 2, 1], [3, 2, 1, 4, 5]])
    twice = reverse_by_length(reverse_by_length(x, [5, 3]), np.array([5, 3]))
    np.testing.assert_array_equal(ops.convert_to_numpy(twice), x)


def test_reverse_by_length_edge_lengths_and_features():
    x = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)  # (B, T, F)
    y = ops.convert_to_numpy(reverse_by_length(x, np.array([0, 1], dtype=np.int32)))
    np.testing.assert_array_equal(y, x)  # lengths 0 and 1 leave a sequence as it is
    y = ops.convert_to_numpy(reverse_by_length(x, np.array([2, 4], dtype=np.int32)))
    np.testing.assert_array_equal(y[0], x[0, [1, 0, 2, 3]])  # whole frames move, F kept together
    np.testing.assert_array_equal(y[1], x[1, ::-1])


def test_length_mask():
    mask = ops.convert_to_numpy(length_mask(np.array([3, 0, 5]), 5))
    np.testing.assert_array_equal(mask, [[1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]])
    assert mask.dtype == np.float32


# --- the model: padding invariance, serialization, size ----------------------------------------


@pytest.fixture(scope="module")
def small_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_model(input_dim=6, num_classes=5, num_layers=2, units=8)


def test_padding_does_not_change_logits(small_model):
    rng = np.random.default_rng(1)
    lengths = [13, 7, 4]
    utts = [rng.normal(size=(n, 6)).astype(np.float32) for n in lengths]
    alone = [logits_of(small_model, u[None], [len(u)])[0] for u in utts]

    batch = np.zeros((3, 16, 6), dtype=np.float32)  # wider than the longest utterance
    for i, u in enumerate(utts):
        batch[i, : len(u)] = u
    padded = logits_of(small_model, batch, lengths)
    assert padded.shape == (3, 16, 5)
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(padded[i, :n], alone[i], atol=1e-4)

    # Large random values, not zeros, in the padding: a backward LSTM that started on the padded
    # end (reversing the whole tensor) would carry them into every real frame.
    garbage = batch.copy()
    for i, n in enumerate(lengths):
        garbage[i, n:] = rng.normal(scale=50.0, size=(16 - n, 6))
    noisy = logits_of(small_model, garbage, lengths)
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(noisy[i, :n], alone[i], atol=1e-4)


def test_blstm_outputs_zero_on_padding_and_uses_both_directions():
    keras.utils.set_random_seed(5)
    layer = LengthAwareBidirectional(4)
    x = np.random.default_rng(2).normal(size=(2, 6, 3)).astype(np.float32)
    y = ops.convert_to_numpy(layer([x, np.array([6, 4], dtype=np.int32)]))
    assert y.shape == (2, 6, 8)
    np.testing.assert_array_equal(y[1, 4:], 0.0)
    # The backward half on the last real frame has seen only that frame: it equals the output
    # for that single frame alone, while the forward half has seen the whole prefix.
    last = ops.convert_to_numpy(layer([x[1:2, 3:4], np.array([1], dtype=np.int32)]))
    np.testing.assert_allclose(y[1, 3, 4:], last[0, 0, 4:], atol=1e-4)  # GPUs: TF32 / cuDNN
    assert not np.allclose(y[1, 3, :4], last[0, 0, :4], atol=1e-3)


def test_blstm_config_round_trip():
    layer = LengthAwareBidirectional(12, unit_forget_bias=False, name="blstm_x")
    config = layer.get_config()
    assert config["units"] == 12 and config["unit_forget_bias"] is False
    clone = LengthAwareBidirectional.from_config(config)
    assert clone.get_config() == config
    assert clone.units == 12 and clone.unit_forget_bias is False and clone.name == "blstm_x"


def test_model_save_and_load_give_identical_outputs(small_model, tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 9, 6)).astype(np.float32)
    lengths = [9, 5]
    path = tmp_path / "m.keras"
    small_model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("blstm_1"), LengthAwareBidirectional)
    assert [w.shape for w in loaded.weights] == [w.shape for w in small_model.weights]
    np.testing.assert_array_equal(logits_of(loaded, x, lengths), logits_of(small_model, x, lengths))


def test_parameter_count_matches_graves_ctc_3l_250h():
    input_dim, classes, units = 123, 62, 250

    def lstm(inputs: int) -> int:  # 4 gates, each with input and recurrent weights and a bias
        return 4 * (units * (inputs + units) + units)

    expected = 2 * lstm(input_dim) + 2 * 2 * lstm(2 * units) + (2 * units * classes + classes)
    assert expected == 3_783_062  # Graves, Mohamed & Hinton (2013) report ~3.8M weights
    model = build_model(input_dim=input_dim, num_classes=classes, num_layers=3, units=units)
    assert model.count_params() == expected
    assert [layer.name for layer in model.layers[2:]] == ["blstm_1", "blstm_2", "blstm_3", "logits"]


def test_dropout_layers_only_when_asked():
    names = [
        layer.name
        for layer in build_model(
            input_dim=4, num_classes=3, num_layers=2, units=4, dropout=0.2
        ).layers
    ]
    assert [n for n in names if n.startswith("dropout")] == ["dropout_1", "dropout_2", "dropout_3"]
    names = [layer.name for layer in build_model(input_dim=4, num_classes=3, units=4).layers]
    assert not any(n.startswith("dropout") for n in names)


# --- CTC loss ----------------------------------------------------------------------------------


def test_ctc_loss_by_hand_with_true_lengths():
    # Uniform logits over {blank, a}: every frame is 1/2 each.
    # T=2, labels [a]: paths a-, -a, aa       -> p = 3/4.
    # T=3, labels [a, a]: only path a-a       -> p = 1/8.
    # Both are padded to 4 frames (the padding holds large scores) and 2 labels; had the padded
    # widths been used, neither value would come out.
    logits = np.zeros((2, 4, 2), dtype=np.float32)
    logits[0, 2:] = [[0.0, 9.0], [9.0, 0.0]]
    logits[1, 3:] = [[0.0, 9.0]]
    labels = np.array([[1, 0], [1, 1]], dtype=np.int32)
    losses = ops.convert_to_numpy(ctc_loss(labels, logits, np.array([1, 2]), np.array([2, 3])))
    np.testing.assert_allclose(losses, [-np.log(0.75), np.log(8.0)], rtol=1e-5)

    alone = ops.convert_to_numpy(
        ctc_loss(np.array([[1]]), np.zeros((1, 2, 2), np.float32), np.array([1]), np.array([2]))
    )
    np.testing.assert_allclose(alone, [-np.log(0.75)], rtol=1e-5)


# --- training ----------------------------------------------------------------------------------

# Two utterances over {blank, 1, 2, 3}; each frame's features one-hot encode its class on a
# plausible CTC alignment, so the labels are learnable from any single frame.
ALIGNMENTS = [[0, 1, 1, 0, 2, 2, 0, 3, 3, 0, 1, 0], [0, 3, 3, 0, 0, 2, 2, 0]]
LABELS = [[1, 2, 3, 1], [3, 2]]


def synthetic_batch(num_classes: int = 4):
    rng = np.random.default_rng(4)
    lengths = np.array([len(a) for a in ALIGNMENTS], dtype=np.int32)
    x = np.zeros((2, 16, num_classes), dtype=np.float32)  # padded past the longest
    for i, a in enumerate(ALIGNMENTS):
        x[i, : len(a)] = np.eye(num_classes)[a] + 0.1 * rng.normal(size=(len(a), num_classes))
    y = np.zeros((2, 4), dtype=np.int32)
    for i, lab in enumerate(LABELS):
        y[i, : len(lab)] = lab
    y_lengths = np.array([len(lab) for lab in LABELS], dtype=np.int32)
    return (x, lengths), (y, y_lengths)


def batch_loss(model: keras.Model, x, y) -> float:
    return float(ops.convert_to_numpy(ops.mean(ctc_loss(y[0], model(list(x)), y[1], x[1]))))


def test_trainer_overfits_two_utterances():
    keras.utils.set_random_seed(0)
    model = build_model(input_dim=4, num_classes=4, num_layers=1, units=16)
    x, y = synthetic_batch()
    before = batch_loss(model, x, y)
    trainer = CTCTrainer(model, reduction="mean")
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    # 60 one-batch epochs: by 30 the loss has fallen from ~6.5 to ~2.4 but the best path does not
    # yet spell the labels; by 60 it is ~0.1 for every seed tried.
    history = trainer.fit(x, y, batch_size=2, epochs=60, shuffle=False, verbose=0)
    after = batch_loss(model, x, y)
    # fit's first step sees the untrained model: its loss is the true-length CTC mean.
    assert history.history["loss"][0] == pytest.approx(before, rel=1e-4)
    assert history.history["loss"][30] < before / 2
    assert after < before / 10
    decoded = greedy_decode_batch(logits_of(model, x[0], x[1]), x[1])
    assert [[t.symbol for t in utt] for utt in decoded] == LABELS


def test_trainer_sum_is_batch_size_times_mean():
    keras.utils.set_random_seed(1)
    model = build_model(input_dim=4, num_classes=4, num_layers=1, units=8)
    x, y = synthetic_batch()
    y_pred = model(list(x))
    # convert_to_numpy detaches: float() of a PyTorch tensor that requires grad warns.
    mean, total = (
        float(
            ops.convert_to_numpy(
                CTCTrainer(model, reduction=r).compute_loss(x=x, y=y, y_pred=y_pred)
            )
        )
        for r in ("mean", "sum")
    )
    per_utt = ops.convert_to_numpy(ctc_loss(y[0], y_pred, y[1], x[1]))
    assert mean == pytest.approx(per_utt.mean(), rel=1e-6)
    assert total == pytest.approx(2 * mean, rel=1e-6)


def test_trainer_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="'max'"):
        CTCTrainer(build_model(input_dim=2, num_classes=2, num_layers=1, units=2), reduction="max")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="uses tf.GradientTape")
def test_gradients_are_finite_and_nonzero_with_padding():
    import tensorflow as tf

    keras.utils.set_random_seed(2)
    model = build_model(input_dim=4, num_classes=4, num_layers=2, units=8)
    x, y = synthetic_batch()
    with tf.GradientTape() as tape:
        loss = ops.mean(ctc_loss(y[0], model(list(x), training=True), y[1], x[1]))
    grads = tape.gradient(loss, model.trainable_weights)
    assert len(grads) == len(model.trainable_weights) == 2 * 2 * 3 + 2
    for w, g in zip(model.trainable_weights, grads, strict=True):
        assert g is not None, w.path
        g = ops.convert_to_numpy(g)
        assert np.isfinite(g).all(), w.path
        assert np.abs(g).max() > 0, w.path
