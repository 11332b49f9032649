"""The RNN transducer's three networks and its trainer, on tiny random inputs checked against
NumPy computations from the layers' own weights."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
from keras import ops

from lstmrec.models.blstm import build_model
from lstmrec.models.ctc import default_jit_compile
from lstmrec.models.transducer import (
    TransducerTrainer,
    build_transducer,
    joint_logits,
    numpy_step,
)
from lstmrec.models.transducer_decoding import sequence_log_prob
from lstmrec.models.transducer_loss import rnnt_loss

F, V1, LAYERS, UNITS, HP, J = 4, 4, 2, 3, 5, 6  # num_classes V1 = 3 labels + blank


def small(seed: int = 0, **kwargs):
    keras.utils.set_random_seed(seed)
    settings = dict(input_dim=F, num_classes=V1, num_layers=LAYERS, units=UNITS)
    settings.update(pred_units=HP, joint_units=J, **kwargs)
    return build_transducer(**settings)


def np_of(x) -> np.ndarray:
    return ops.convert_to_numpy(x)


def features(seed: int, batch: int, steps: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, steps, F)).astype(np.float32)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("embed_dim", [None, 2])
def test_shapes(embed_dim):
    t = small(embed_dim=embed_dim)
    x, lengths = features(0, 2, 7), np.array([7, 4], dtype=np.int32)
    enc = np_of(t.encoder([x, lengths]))
    assert enc.shape == (2, 7, 2 * UNITS)
    np.testing.assert_array_equal(enc[1, 4:], 0.0)  # padded frames are zero
    labels = np.array([[1, 2, 3], [3, 0, 0]], dtype=np.int32)
    pred = np_of(t.predictor(labels))
    assert pred.shape == (2, 4, HP)
    np.testing.assert_allclose(pred[0, 0], pred[1, 0], atol=1e-6)  # both start from symbol 0
    logits = np_of(t.joint([enc[:, :, None], pred[:, None]]))
    assert logits.shape == (2, 7, 4, V1)
    np.testing.assert_allclose(np_of(joint_logits(t.predictor, t.joint, enc, labels)), logits)


def test_the_three_networks_share_nothing():
    t = small()
    ids = [{id(w) for w in m.weights} for m in (t.encoder, t.predictor, t.joint)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    assert {w.path.split("/")[0] for w in t.joint.weights} == {
        "joint_enc",
        "joint_pred",
        "joint_logits",
    }


@pytest.mark.parametrize("embed_dim", [None, 3])
def test_predictor_is_padding_invariant(embed_dim):
    t = small(seed=1, embed_dim=embed_dim)
    alone = np_of(t.predictor(np.array([[2, 1]], dtype=np.int32)))[0]  # (3, HP)
    batch = np.array([[1, 3, 3, 2, 1], [2, 1, 0, 0, 0]], dtype=np.int32)
    padded = np_of(t.predictor(batch))  # (2, 6, HP)
    np.testing.assert_allclose(padded[1, :3], alone, atol=1e-6)
    # Output u sees labels 1..u: the two rows agree at u = 0 only.
    assert not np.allclose(padded[0, 1], padded[1, 1], atol=1e-4)


def test_joint_is_tanh_of_the_sum_then_dense():
    t = small(seed=2)
    rng = np.random.default_rng(2)
    enc = rng.normal(size=(2, 3, 1, 2 * UNITS)).astype(np.float32)
    pred = rng.normal(size=(2, 1, 4, HP)).astype(np.float32)
    got = np_of(t.joint([enc, pred]))
    we, be = t.joint.get_layer("joint_enc").get_weights()
    (wp,) = t.joint.get_layer("joint_pred").get_weights()
    wo, bo = t.joint.get_layer("joint_logits").get_weights()
    enc64, pred64 = enc.astype(np.float64), pred.astype(np.float64)
    want = np.tanh(enc64 @ we + be + pred64 @ wp) @ wo + bo  # broadcast to (2, 3, 4, V1)
    assert got.shape == want.shape == (2, 3, 4, V1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # Not tanh applied to each projection before the sum.
    apart = (np.tanh(enc64 @ we + be) + np.tanh(pred64 @ wp)) @ wo + bo
    assert not np.allclose(got, apart, atol=1e-3)


def blstm_stack(ctc: keras.Model) -> keras.Model:
    return keras.Model(ctc.inputs, ctc.get_layer(f"blstm_{LAYERS}").output)


def test_init_encoder_from_copies_the_blstm_layers():
    keras.utils.set_random_seed(5)
    ctc = build_model(input_dim=F, num_classes=V1, num_layers=LAYERS, units=UNITS)
    trainer = TransducerTrainer(small(seed=6))
    x, lengths = features(3, 2, 6), np.array([6, 3], dtype=np.int32)
    want = np_of(blstm_stack(ctc)([x, lengths]))
    assert not np.allclose(np_of(trainer.encoder([x, lengths])), want, atol=1e-3)
    trainer.init_encoder_from(ctc)
    np.testing.assert_allclose(np_of(trainer.encoder([x, lengths])), want, atol=1e-6)


@pytest.mark.parametrize(
    "other",
    [
        dict(num_layers=LAYERS, units=UNITS + 1),
        dict(num_layers=LAYERS + 1, units=UNITS),
        dict(num_layers=LAYERS, units=UNITS, cell="gru"),
    ],
)
def test_init_encoder_from_refuses_another_shape(other):
    ctc = build_model(input_dim=F, num_classes=V1, **other)
    trainer = TransducerTrainer(small())
    before = [w.copy() for w in trainer.encoder.get_weights()]
    with pytest.raises(ValueError):
        trainer.init_encoder_from(ctc)
    for w, b in zip(trainer.encoder.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, b)  # nothing copied


def batch_of_two():
    x = features(4, 2, 6)
    x[1, 4:] = 9.0  # padding that must not count
    lengths = np.array([6, 4], dtype=np.int32)
    labels = np.array([[1, 2, 3], [2, 2, 0]], dtype=np.int32)
    return (x, lengths), (labels, np.array([3, 2], dtype=np.int32))


def test_loss_reductions_and_padding():
    t = small(seed=7)
    x, y = batch_of_two()
    trainer = TransducerTrainer(t, reduction="sum")
    enc = trainer(x)
    total = float(np_of(trainer.compute_loss(x, y, enc)))
    mean = float(np_of(TransducerTrainer(t).compute_loss(x, y, enc)))
    assert total == pytest.approx(2 * mean, rel=1e-6)
    # The second utterance alone, unpadded, loses the same as in the padded batch.
    x1 = (x[0][1:2, :4], x[1][1:2])
    y1 = (y[0][1:2, :2], y[1][1:2])
    alone = float(np_of(trainer.compute_loss(x1, y1, trainer(x1))))
    both = np_of(rnnt_loss(y[0], joint_logits(t.predictor, t.joint, enc, y[0]), y[1], x[1]))
    assert both[1] == pytest.approx(alone, rel=1e-5)
    assert total == pytest.approx(both.sum(), rel=1e-5)
    with pytest.raises(ValueError):
        TransducerTrainer(t, reduction="max")


@pytest.fixture(scope="module")
def trained():
    """A transducer fitted to one utterance (30 steps of Adam); the loss of each step (before
    its update) and the loss after the last."""
    t = small(seed=8, embed_dim=3)
    x = (features(8, 1, 5), np.array([5], dtype=np.int32))
    y = (np.array([[1, 3, 2]], dtype=np.int32), np.array([3], dtype=np.int32))
    trainer = TransducerTrainer(t, reduction="sum")
    trainer.compile(optimizer=keras.optimizers.Adam(0.05), jit_compile=default_jit_compile())
    start = {m.name: m.get_weights() for m in (t.encoder, t.predictor, t.joint)}
    losses = [float(trainer.train_on_batch(x, y)) for _ in range(30)]
    after = float(np_of(trainer.compute_loss(x, y, trainer(x))))
    return t, x, y, losses, after, start


def test_training_decreases_the_loss(trained):
    t, _, _, losses, after, start = trained
    assert losses[0] > 5.0  # 8 events (5 blanks, 3 labels) of 4 classes: 11.1 nats at chance
    assert after < 0.3 * losses[0]
    assert losses[-1] < 0.3 * losses[0]
    for model in (t.encoder, t.predictor, t.joint):  # the gradient reaches all three networks
        for w, w0 in zip(model.get_weights(), start[model.name], strict=True):
            assert not np.allclose(w, w0), model.name


def test_numpy_step_functions_match_the_keras_networks(trained):
    t, x, y, _, after, _ = trained
    enc = np_of(t.encoder(list(x)))  # (1, 5, 2U)
    labels = y[0]
    keras_lp = log_softmax(np_of(joint_logits(t.predictor, t.joint, enc, labels)))[0]
    step = numpy_step(t)
    g, state = step.predict(step.initial_state, 0)
    for k in labels[0, :2]:  # g after the first two labels: lattice row u = 2
        g, state = step.predict(state, int(k))
    np.testing.assert_allclose(step.joint(enc[0, 3], g), keras_lp[3, 2], atol=1e-5)
    # The NumPy forward score of the whole lattice is the trained Keras loss.
    assert -sequence_log_prob(enc[0], step, labels[0]) == pytest.approx(after, rel=1e-4)


def test_numpy_step_of_one_hot_labels_matches_the_keras_networks():
    t = small(seed=9)  # one-hot labels: the start symbol is the zero vector
    enc = np_of(t.encoder([features(9, 1, 4), np.array([4], dtype=np.int32)]))
    labels = np.array([[3, 1]], dtype=np.int32)
    keras_lp = log_softmax(np_of(joint_logits(t.predictor, t.joint, enc, labels)))[0]
    step = numpy_step(t)
    g, state = step.predict(step.initial_state, 0)
    np.testing.assert_allclose(step.joint(enc[0, 2], g), keras_lp[2, 0], atol=1e-5)
    g, _ = step.predict(state, 3)
    np.testing.assert_allclose(step.joint(enc[0, 1], g), keras_lp[1, 1], atol=1e-5)
