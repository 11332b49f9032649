"""The RNN transducer loss (Graves 2012, "Sequence transduction with recurrent neural networks").

The joint network scores, for every frame ``t`` and every number ``u`` of labels already
emitted, a distribution over the ``V`` labels and blank. A path through the ``T x (U + 1)``
lattice starts at ``(0, 0)``; blank at ``(t, u)`` moves to frame ``t + 1``, label ``u + 1`` moves
to ``(t, u + 1)``, and the path ends with a blank at ``(T - 1, U)``. Every path has ``T`` blanks
and ``U`` labels. The loss is ``-log`` of the sum of the path probabilities, computed by the
forward recursion in log space::

    alpha[0, 0] = 0
    alpha[t, u] = logaddexp(alpha[t - 1, u] + blank[t - 1, u], alpha[t, u - 1] + label[t, u - 1])
    loss = -(alpha[T - 1, U] + blank[T - 1, U])

where ``blank[t, u]`` is the log-probability of blank at ``(t, u)`` and ``label[t, u]`` that of
label ``u + 1`` (the next one) there.

Worked example, ``T = 2`` frames, ``U = 1`` label ``k``. Writing ``b(t, u)`` and ``y(t, u)`` for
the probabilities of blank and of ``k``, the two paths are ``k, blank, blank`` through
``(0, 0) -> (0, 1) -> (1, 1)`` and ``blank, k, blank`` through ``(0, 0) -> (1, 0) -> (1, 1)``::

    p = y(0, 0) b(0, 1) b(1, 1) + b(0, 0) y(1, 0) b(1, 1)

With ``b(0, 0) = 0.5, y(0, 0) = 0.3, b(0, 1) = 0.6, y(1, 0) = 0.4, b(1, 1) = 0.7``:
``p = 0.7 * (0.3 * 0.6 + 0.5 * 0.4) = 0.7 * 0.38 = 0.266`` and the loss is
``-ln 0.266 = 1.32426`` nats.

Vectorisation: over the anti-diagonals ``n = t + u``. Every cell of diagonal ``n`` depends only on
diagonal ``n - 1`` (its left and lower neighbours), so one step updates a whole diagonal, for the
whole batch, with one ``logaddexp``: ``T + U - 1`` sequential steps of ``(B, U + 1)`` work, exact
in log space. The other choice, a loop over frames with the within-frame recursion over ``u``
written as a cumulative sum (``alpha[t, u] = S[u] + logcumsumexp(c - S)[u]`` with ``S`` the
running sum of label log-probs), needs about as many steps (``T``) but subtracts running sums of
hundreds of nats from each other, losing float32 precision on long label sequences, and
``keras.ops`` has no ``logcumsumexp``; its stable form underflows where the terms span more than
~88 nats. The diagonal steps run under ``keras.ops.scan``, which TensorFlow, JAX and PyTorch
all differentiate.

Numerics: the label and blank log-probabilities are ``logits - logsumexp(logits)`` (no
exponential of a large number). A diagonal also holds cells off the lattice, no mask needed: those
before the first frame (``t = n - u < 0``) start at ``NEG = -1e9`` rather than ``-inf``, so
``logaddexp`` never sees ``-inf - -inf`` and gradients stay finite, and they are fed only by each
other, so they stay near ``NEG``; those past the last frame are fed only by cells past the last
frame. Neither kind, nor the cells beyond an utterance's own ``T_b`` and ``U_b`` (padding), is
ever read: they get zero gradient.

Memory: apart from the given logits and their gradient (both ``(B, T, U + 1, V + 1)``), the loss
keeps a handful of ``(B, T, U + 1)``-sized arrays: the log-normaliser, the gathered blank and
label log-probs ``(B, T, U + 1, 2)`` and their int index, the same log-probs diagonal-major
``(T + U - 1, 2, U + 1, B)``, and the scan's stack of diagonals ``(T + U - 1, U + 1, B)``, which
is also what backpropagation keeps. For ``T = 800, U = 80, V = 40, B = 8`` in float32 the logits
are 85 MB (8 x 800 x 81 x 41 x 4 bytes) and one ``(B, T, U + 1)`` array 2.1 MB; compiled by XLA
(JAX), the loss needs 16 MB of temporaries, and 63 MB with its gradient (besides the 85 MB
gradient itself). Eager TensorFlow and PyTorch do not fuse ``logsumexp`` nor the gathers'
gradients and make a few logits-sized temporaries there, as any softmax loss does.
"""

from __future__ import annotations

from keras import ops

NEG = -1e9  # log-probability of an impossible cell: finite, far below any path's score


def _log_probs(labels, label_lengths, logits, blank):
    """``(B, T, U + 1, 2)`` float32 log-probs at each lattice cell ``(t, u)`` of blank
    (``[..., 0]``) and of label ``u + 1``, the next one (``[..., 1]``; past the labels, blank's).

    ``labels`` ``(B, U)`` int32 class ids, ``label_lengths`` ``(B,)``; ``logits``
    ``(B, T, U + 1, V + 1)`` float32. One gather of the two scores per cell and one
    log-normaliser, never a logits-sized log-softmax.
    """
    b, t_max, u1 = ops.shape(logits)[0], ops.shape(logits)[1], ops.shape(logits)[2]
    inside = ops.arange(u1 - 1, dtype="int32")[None, :] < label_lengths[:, None]  # (B, U)
    labels = ops.where(inside, labels, blank)  # whatever the padding, a valid index
    ids = ops.concatenate([labels, ops.full((b, 1), blank, dtype="int32")], axis=1)  # (B, U + 1)
    ids = ops.stack([ops.full_like(ids, blank), ids], axis=-1)  # (B, U + 1, 2)
    ids = ops.broadcast_to(ops.expand_dims(ids, 1), (b, t_max, u1, 2))
    picked = ops.take_along_axis(logits, ids, axis=-1)  # (B, T, U + 1, 2)
    return picked - ops.logsumexp(logits, axis=-1, keepdims=True)


def _diagonals(log_probs):
    """The scan's input, diagonal-major: ``(T + U - 1, 2, U + 1, B)``, for each diagonal
    ``n = t + u`` of ``1 .. T + U - 1`` and each ``u``, the log-prob of the blank into cell
    ``(n - u, u)`` (from ``(n - u - 1, u)``) and of the label into it (from ``(n - u, u - 1)``).
    Frames off the lattice are clipped to it: those entries are finite, and only feed cells off it.
    """
    b, t_max, u1 = ops.shape(log_probs)[0], ops.shape(log_probs)[1], ops.shape(log_probs)[2]
    n = ops.expand_dims(ops.arange(1, t_max + u1 - 1, dtype="int32"), 1)  # (N - 1, 1)
    u = ops.expand_dims(ops.arange(u1, dtype="int32"), 0)  # (1, U + 1)
    t = n - u  # (N - 1, U + 1) frame of each cell
    blank_at = ops.clip(t - 1, 0, t_max - 1) * u1 + u
    label_at = ops.clip(t, 0, t_max - 1) * u1 + ops.maximum(u - 1, 0) + t_max * u1
    # The blank table above the label table, (2 T (U + 1), B): one gather makes the one input
    # tensor (TensorFlow's scan needs a static length to take several).
    table = ops.reshape(ops.transpose(log_probs, (3, 1, 2, 0)), (-1, b))
    return ops.take(table, ops.stack([blank_at, label_at], axis=1), axis=0)


def rnnt_loss(labels, logits, label_lengths, logit_lengths, *, blank=0):
    """Per-utterance RNN transducer negative log-likelihood.

    Args:
        labels: ``(B, U)`` int32, symbol ids (1..V when ``blank`` is 0), padded past
            ``label_lengths`` with anything (0 by convention; the padding is never read).
        logits: ``(B, T, U + 1, V + 1)`` unnormalised joint-network scores; the log-softmax over
            the last axis is taken here.
        label_lengths: ``(B,)`` true label lengths ``U_b <= U``.
        logit_lengths: ``(B,)`` true frame lengths ``1 <= T_b <= T`` (never the padded width).
        blank: index of blank on the last axis of ``logits``.

    Returns:
        ``(B,)`` float32 losses in nats, ``-log p(labels_b | x_b)`` over the ``T_b x (U_b + 1)``
        lattice of each utterance; padding frames, labels and scores do not change it.
    """
    labels = ops.cast(labels, "int32")
    logits = ops.cast(logits, "float32")
    label_lengths = ops.cast(label_lengths, "int32")
    logit_lengths = ops.cast(logit_lengths, "int32")
    b, u1 = ops.shape(logits)[0], ops.shape(logits)[2]

    log_probs = _log_probs(labels, label_lengths, logits, blank)  # (B, T, U + 1, 2)
    xs = _diagonals(log_probs)
    impossible = ops.full((1, b), NEG, dtype="float32")

    def step(alpha, x):  # alpha (U + 1, B) of diagonal n - 1; x (2, U + 1, B) into diagonal n
        from_left = ops.concatenate([impossible, alpha[:-1]], axis=0)  # alpha[t, u - 1]
        alpha = ops.logaddexp(alpha + x[0], from_left + x[1])
        return alpha, alpha

    first = ops.concatenate([ops.zeros((1, b)), ops.full((u1 - 1, b), NEG)], axis=0)
    _, alphas = ops.scan(step, first, xs)  # (T + U - 1, U + 1, B): diagonals 1 ..
    alphas = ops.concatenate([first[None], alphas], axis=0)  # (T + U, U + 1, B): 0 ..

    # Each utterance ends at (T_b - 1, U_b), on diagonal T_b - 1 + U_b.
    n_end = logit_lengths - 1 + label_lengths
    at = (n_end * u1 + label_lengths) * b + ops.arange(b, dtype="int32")
    alpha_end = ops.take(ops.reshape(alphas, (-1,)), at)
    flat_blank = ops.reshape(log_probs[..., 0], (b, -1))
    last = ops.expand_dims((logit_lengths - 1) * u1 + label_lengths, 1)
    blank_end = ops.take_along_axis(flat_blank, last, axis=1)[:, 0]
    return -(alpha_end + blank_end)
