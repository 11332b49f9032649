"""The RNN transducer loss against a hand count, every alignment, finite differences, torchaudio.

The references here are float64 NumPy: the sum over explicitly enumerated alignments, and the
same forward recursion cell by cell. Gradients come from the active backend's autodiff
(``KERAS_BACKEND``: TensorFlow, JAX or PyTorch).
"""

from __future__ import annotations

import itertools
import math

import keras
import numpy as np
import pytest
from keras import ops

from lstmrec.models.transducer_loss import rnnt_loss

BACKEND = keras.backend.backend()


def _log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def _brute_force(logits, labels, blank=0):
    """``-log`` of the summed probability of every path through one ``(T, U + 1)`` lattice.

    ``logits`` ``(T, U + 1, V + 1)``; a path is an order of ``T - 1`` blanks and the ``U``
    labels, then the final blank at ``(T - 1, U)``.
    """
    probs = np.exp(_log_softmax(logits))
    t_max, u_max = probs.shape[0], probs.shape[1] - 1
    total = 0.0
    for at in itertools.combinations(range(t_max - 1 + u_max), u_max):  # the label steps
        t = u = 0
        p = 1.0
        for step in range(t_max - 1 + u_max):
            if step in at:
                p *= probs[t, u, labels[u]]
                u += 1
            else:
                p *= probs[t, u, blank]
                t += 1
        total += p * probs[t_max - 1, u_max, blank]
    return -math.log(total)


def _recursion(logits, labels, blank=0):
    """The forward recursion in float64, one cell at a time, on one ``(T, U + 1)`` lattice."""
    lp = _log_softmax(logits)
    t_max, u1 = lp.shape[0], lp.shape[1]
    alpha = np.full((t_max, u1), -np.inf)
    alpha[0, 0] = 0.0
    for t in range(t_max):
        for u in range(u1):
            if t > 0:
                alpha[t, u] = np.logaddexp(alpha[t, u], alpha[t - 1, u] + lp[t - 1, u, blank])
            if u > 0:
                alpha[t, u] = np.logaddexp(
                    alpha[t, u], alpha[t, u - 1] + lp[t, u - 1, labels[u - 1]]
                )
    return -(alpha[-1, -1] + lp[-1, -1, blank])


def _numeric_grad(logits, labels, cells):
    """Central differences of the float64 recursion at ``cells`` (indices into ``logits``)."""
    x, eps = np.asarray(logits, dtype=np.float64), 1e-6
    out = []
    for at in cells:
        up, down = x.copy(), x.copy()
        up[at] += eps
        down[at] -= eps
        out.append((_recursion(up, labels) - _recursion(down, labels)) / (2 * eps))
    return np.array(out)


def _loss(labels, logits, label_lengths, logit_lengths, *, eager=False, **kwargs):
    """The losses ``(B,)`` as NumPy; on JAX compiled (one compilation instead of one per op)."""
    loss = rnnt_loss
    if BACKEND == "jax" and not eager:
        import jax

        loss = jax.jit(rnnt_loss, static_argnames="blank")
    return ops.convert_to_numpy(loss(labels, logits, label_lengths, logit_lengths, **kwargs))


def _loss_and_grad(labels, logits, label_lengths, logit_lengths, **kwargs):
    """``(losses (B,), d sum(losses) / d logits)`` as NumPy, by the active backend's autodiff."""
    logits = np.asarray(logits, dtype=np.float32)
    args = (np.asarray(labels, np.int32), np.asarray(label_lengths, np.int32),
            np.asarray(logit_lengths, np.int32))  # fmt: skip

    def loss_of(x):
        return rnnt_loss(args[0], x, args[1], args[2], **kwargs)

    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.constant(logits)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = loss_of(x)
            total = tf.reduce_sum(loss)
        return loss.numpy(), tape.gradient(total, x).numpy()
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        def total_of(x):
            loss = loss_of(x)
            return jnp.sum(loss), loss

        (_, loss), grad = jax.jit(jax.value_and_grad(total_of, has_aux=True))(jnp.asarray(logits))
        return np.asarray(loss), np.asarray(grad)
    if BACKEND == "torch":
        import torch

        x = torch.tensor(logits, requires_grad=True)
        loss = loss_of(x)
        loss.sum().backward()
        return ops.convert_to_numpy(loss), x.grad.detach().cpu().numpy()
    pytest.skip(f"no gradient helper for the {BACKEND} backend")


def _random_batch(rng, lengths, v=3, scale=1.0):
    """Random logits ``(B, T, U + 1, V + 1)`` and labels ``(B, U)`` for ``[(T_b, U_b), ...]``,
    padded with 0 (labels) and with large scores (logits) that the loss must ignore."""
    t_max = max(t for t, _ in lengths)
    u_max = max(u for _, u in lengths)
    logits = rng.normal(size=(len(lengths), t_max, u_max + 1, v + 1)) * 50.0
    labels = np.zeros((len(lengths), u_max), dtype=np.int32)
    for i, (t, u) in enumerate(lengths):
        logits[i, :t, : u + 1] = rng.normal(size=(t, u + 1, v + 1)) * scale
        labels[i, :u] = rng.integers(1, v + 1, size=u)
    label_lengths = np.array([u for _, u in lengths], dtype=np.int32)
    logit_lengths = np.array([t for t, _ in lengths], dtype=np.int32)
    return labels, logits.astype(np.float32), label_lengths, logit_lengths


def test_two_frames_one_label_by_hand():
    # Probabilities (blank, label 1, label 2) at each (t, u); the two paths of the module
    # docstring: p = y(0,0) b(0,1) b(1,1) + b(0,0) y(1,0) b(1,1) = 0.7 * (0.18 + 0.20) = 0.266.
    probs = np.array(
        [[[0.5, 0.3, 0.2], [0.6, 0.1, 0.3]], [[0.4, 0.4, 0.2], [0.7, 0.2, 0.1]]], dtype=np.float64
    )
    logits = np.log(probs)[None].astype(np.float32)  # softmax gives the probabilities back
    loss = _loss(np.array([[1]]), logits, np.array([1]), np.array([2]))
    assert loss.shape == (1,) and loss.dtype == np.float32
    assert loss[0] == pytest.approx(-math.log(0.266), abs=1e-5)
    # Label 2 instead: 0.7 * (0.2 * 0.6 + 0.5 * 0.2) = 0.154.
    loss = _loss(np.array([[2]]), logits, np.array([1]), np.array([2]))
    assert loss[0] == pytest.approx(-math.log(0.154), abs=1e-5)


def test_loss_is_the_sum_over_every_alignment():
    rng = np.random.default_rng(0)
    for _ in range(4):
        lengths = [(int(rng.integers(1, 5)), int(rng.integers(0, 4))) for _ in range(4)]
        lengths[0] = (4, 3)
        labels, logits, label_lengths, logit_lengths = _random_batch(rng, lengths, scale=2.0)
        loss = _loss(labels, logits, label_lengths, logit_lengths)
        for i, (t, u) in enumerate(lengths):
            expected = _brute_force(logits[i, :t, : u + 1], labels[i, :u])
            assert loss[i] == pytest.approx(expected, abs=1e-5), (t, u)
            assert _recursion(logits[i, :t, : u + 1], labels[i, :u]) == pytest.approx(expected)


def test_padding_changes_neither_loss_nor_gradient():
    rng = np.random.default_rng(1)
    labels, logits, label_lengths, logit_lengths = _random_batch(rng, [(3, 2), (7, 5)])
    labels[0, 2:] = 99  # padding is never read, even out of the class range
    alone, alone_grad = _loss_and_grad(labels[:1, :2], logits[:1, :3, :3], [2], [3])
    batch, batch_grad = _loss_and_grad(labels, logits, label_lengths, logit_lengths)
    assert batch[0] == pytest.approx(alone[0], abs=1e-5)
    assert batch[1] == pytest.approx(_recursion(logits[1], labels[1]), rel=1e-5)
    np.testing.assert_allclose(batch_grad[0, :3, :3], alone_grad[0], atol=1e-6)
    padding = np.ones(logits.shape[1:3], dtype=bool)
    padding[:3, :3] = False
    assert np.all(batch_grad[0][padding] == 0.0)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    labels, logits, label_lengths, logit_lengths = _random_batch(rng, [(3, 2), (2, 1)])
    _, grad = _loss_and_grad(labels, logits, label_lengths, logit_lengths)
    for i, (t, u) in enumerate(zip(logit_lengths, label_lengths, strict=True)):
        x = logits[i, :t, : u + 1]
        numeric = _numeric_grad(x, labels[i, :u], list(np.ndindex(x.shape))).reshape(x.shape)
        np.testing.assert_allclose(grad[i, :t, : u + 1], numeric, atol=2e-5)
        # Each cell's gradient is a softmax minus occupancies: it sums to 0 over the classes.
        np.testing.assert_allclose(numeric.sum(axis=-1), 0.0, atol=1e-6)


def test_gradient_reaches_the_first_frame_of_long_sequences():
    rng = np.random.default_rng(3)
    labels, logits, label_lengths, logit_lengths = _random_batch(rng, [(60, 8), (45, 5)], v=4)
    _, grad = _loss_and_grad(labels, logits, label_lengths, logit_lengths)
    for i, (t, u) in enumerate(zip(logit_lengths, label_lengths, strict=True)):
        first = [(0, 0, k) for k in range(logits.shape[-1])]  # frame 0, no label yet
        numeric = _numeric_grad(logits[i, :t, : u + 1], labels[i, :u], first)
        assert np.abs(numeric).max() > 1e-2
        np.testing.assert_allclose(grad[i, 0, 0], numeric, atol=2e-5)


def test_stable_on_long_sequences_with_large_scores():
    rng = np.random.default_rng(7)
    labels, logits, label_lengths, logit_lengths = _random_batch(
        rng, [(120, 20), (90, 12)], v=5, scale=20.0
    )
    loss, grad = _loss_and_grad(labels, logits, label_lengths, logit_lengths)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad.sum(axis=-1), 0.0, atol=1e-4)
    for i, (t, u) in enumerate(zip(logit_lengths, label_lengths, strict=True)):
        expected = _recursion(logits[i, :t, : u + 1], labels[i, :u])
        assert expected > 500  # probabilities far below float32's smallest: only logs work
        assert loss[i] == pytest.approx(expected, rel=1e-5)


def test_blank_may_be_any_class():
    rng = np.random.default_rng(4)
    labels, logits, label_lengths, logit_lengths = _random_batch(rng, [(4, 3), (3, 1)])
    base = _loss(labels, logits, label_lengths, logit_lengths)
    moved = np.roll(logits, -1, axis=-1)  # blank to the last class, labels one lower
    loss = _loss(labels - 1, moved, label_lengths, logit_lengths, blank=logits.shape[-1] - 1)
    np.testing.assert_allclose(loss, base, atol=1e-5)


def test_compiled_with_unknown_shapes():
    rng = np.random.default_rng(5)
    batch = _random_batch(rng, [(5, 3), (4, 2)])
    eager = _loss(*batch, eager=True)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        spec = [tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,) * 4, tf.float32)]
        spec += [tf.TensorSpec((None,), tf.int32)] * 2
        compiled = tf.function(rnnt_loss, input_signature=spec)(*batch).numpy()
    elif BACKEND == "jax":
        import jax

        compiled = np.asarray(jax.jit(rnnt_loss)(*batch))
    else:
        pytest.skip(f"no compiled form checked on {BACKEND}")
    np.testing.assert_allclose(compiled, eager, rtol=1e-6)


def test_agrees_with_torchaudio():
    torch = pytest.importorskip("torch")
    torchaudio = pytest.importorskip("torchaudio")
    reference = getattr(torchaudio.functional, "rnnt_loss", None)
    if reference is None:
        pytest.skip(f"torchaudio {torchaudio.__version__} has no rnnt_loss")
    rng = np.random.default_rng(6)
    for lengths in ([(6, 3), (4, 1), (5, 0)], [(10, 5), (10, 2)]):
        labels, logits, label_lengths, logit_lengths = _random_batch(rng, lengths, v=4, scale=3.0)
        x = torch.tensor(logits, requires_grad=True)
        expected = reference(
            x,
            torch.tensor(labels, dtype=torch.int32),
            torch.tensor(logit_lengths, dtype=torch.int32),
            torch.tensor(label_lengths, dtype=torch.int32),
            blank=0,
            reduction="none",
            fused_log_softmax=True,
        )
        expected.sum().backward()
        loss, grad = _loss_and_grad(labels, logits, label_lengths, logit_lengths)
        np.testing.assert_allclose(loss, expected.detach().numpy(), rtol=1e-5)
        for i, (t, u) in enumerate(lengths):  # the padding's gradient is not compared
            np.testing.assert_allclose(
                grad[i, :t, : u + 1], x.grad[i, :t, : u + 1].numpy(), atol=1e-5
            )
