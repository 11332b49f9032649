"""RNN transducer decoding in NumPy: greedy, the output-sequence beam search, exact scoring.

The transducer (Graves 2012, "Sequence transduction with recurrent neural networks") scores an
output sequence ``y`` given encoder outputs ``enc (T, H_e)`` through a prediction network, run
over the labels emitted so far, and a joint network, which gives at frame ``t`` after ``u``
labels a distribution over the ``V`` labels and the blank (index 0). A label keeps the frame;
the blank moves to the next frame, and every path ends with the blank of the last frame. So
``P(y | x)`` sums over the paths through the ``T x (U + 1)`` lattice (:func:`sequence_log_prob`).

Everything here reaches the networks through :class:`TransducerStep`: the prediction network as
a step function ``predict(state, label) -> (g (H_p,), new state)`` (label 0, the blank, is the
start symbol fed first), the joint network as ``joint(enc_t (H_e,), g (H_p,)) -> (V + 1,)``
natural-log probabilities, and the initial state. :class:`LSTMPrediction` and
:class:`DenseJoint` are NumPy versions of the usual networks, from weight arrays.

:func:`beam_transducer` is Graves's Algorithm 1: per frame, hypotheses are popped from a set A
(most probable first) into a set B, each pop putting the hypothesis into B with the blank and
its one-label extensions into A, until B holds ``beam`` hypotheses more probable than the best
left in A. With ``prefix_merge``, each hypothesis first gains the paths that reach it on this
frame from a shorter hypothesis of the beam: ``Pr(y) += Pr(ŷ) Pr(y | ŷ, t)``.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lstmrec.models.decoding import BLANK, Token

NEG_INF = -np.inf


@dataclasses.dataclass(frozen=True)
class TransducerStep:
    """The two networks of a transducer as step functions, and the prediction network's initial
    state (any object ``predict`` accepts; the search never looks inside it)."""

    predict: Callable[[Any, int], tuple[np.ndarray, Any]]
    joint: Callable[[np.ndarray, np.ndarray], np.ndarray]
    initial_state: Any

    @classmethod
    def of(cls, prediction, joint) -> TransducerStep:
        """From a prediction network with ``initial_state()`` and ``__call__(state, label)``
        (such as :class:`LSTMPrediction`) and a joint network (such as :class:`DenseJoint`)."""
        return cls(prediction, joint, prediction.initial_state())


@dataclasses.dataclass(frozen=True)
class TransducerHypothesis:
    """One labelling with its scores (natural logs), like ``models.beam.Hypothesis``.

    ``frames`` holds, per label, the frame at which it was emitted on the best path the search
    found for the labelling (several labels may share a frame). ``acoustic`` is
    ``log P(labels | x)`` summed over the paths the search kept (the greedy decoder keeps one).
    """

    labels: tuple[int, ...]
    frames: tuple[int, ...]
    acoustic: float
    lm: float  # 0: no language model yet
    score: float  # the ranking score: acoustic


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max()
    return x - np.log(np.exp(x).sum())


class LSTMPrediction:
    """A one-layer LSTM prediction network from Keras ``LSTM`` weights (float64 arithmetic).

    Args:
        kernel: ``(E, 4H)`` input kernel, gate blocks in Keras' order ``i, f, c, o``.
        recurrent: ``(H, 4H)`` recurrent kernel, same order.
        bias: ``(4H,)``.
        embedding: ``(V + 1, E)`` input vector of each label (row 0: the start symbol). None:
            the labels are one-hot with ``E = V`` and the start symbol is the zero vector, as in
            Graves (2012).

    The state is ``(h (H,), c (H,))``; the output ``g`` is ``h``.
    """

    def __init__(self, kernel, recurrent, bias, embedding=None) -> None:
        self.kernel = np.asarray(kernel, dtype=np.float64)
        self.recurrent = np.asarray(recurrent, dtype=np.float64)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.units = self.recurrent.shape[0]
        if self.recurrent.shape[1] != 4 * self.units or self.kernel.shape[1] != 4 * self.units:
            raise ValueError(
                f"LSTM weights do not fit: kernel {self.kernel.shape}, "
                f"recurrent {self.recurrent.shape}"
            )
        self.embedding = None if embedding is None else np.asarray(embedding, dtype=np.float64)

    def initial_state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self.units), np.zeros(self.units)

    def __call__(self, state, label: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        h, c = state
        z = h @ self.recurrent + self.bias  # (4H,)
        if self.embedding is not None:
            z += self.embedding[label] @ self.kernel
        elif label != BLANK:
            z += self.kernel[label - 1]  # one-hot input: one row of the kernel
        u = self.units
        i, f, o = _sigmoid(z[:u]), _sigmoid(z[u : 2 * u]), _sigmoid(z[3 * u :])
        c = f * c + i * np.tanh(z[2 * u : 3 * u])
        h = o * np.tanh(c)
        return h, (h, c)


class DenseJoint:
    """The joint network of Graves, Mohamed & Hinton (2013): ``log_softmax(tanh(enc_t W_e +
    g W_p + b) W_o + b_o)``.

    Args:
        enc_kernel: ``(H_e, J)``.
        pred_kernel: ``(H_p, J)``.
        bias: ``(J,)``.
        out_kernel: ``(J, V + 1)``, blank in column 0.
        out_bias: ``(V + 1,)``.
    """

    def __init__(self, enc_kernel, pred_kernel, bias, out_kernel, out_bias) -> None:
        self.enc_kernel = np.asarray(enc_kernel, dtype=np.float64)
        self.pred_kernel = np.asarray(pred_kernel, dtype=np.float64)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.out_kernel = np.asarray(out_kernel, dtype=np.float64)
        self.out_bias = np.asarray(out_bias, dtype=np.float64)

    def __call__(self, enc_t: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``(V + 1,)`` natural-log probabilities for one frame ``(H_e,)`` and one ``g (H_p,)``."""
        hidden = np.tanh(enc_t @ self.enc_kernel + g @ self.pred_kernel + self.bias)
        return _log_softmax(hidden @ self.out_kernel + self.out_bias)


def _frames_of(enc) -> np.ndarray:
    enc = np.asarray(enc)
    if enc.ndim != 2:
        raise ValueError(f"enc must be (T, H_e), got shape {enc.shape}")
    return enc


def _joint(step: TransducerStep, enc_t: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.asarray(step.joint(enc_t, g), dtype=np.float64)


def transducer_tokens(hyp: TransducerHypothesis) -> list[Token]:
    """The labels of ``hyp`` as :class:`Token` spans that tile the frames like the CTC
    decoders' tokens: a label spans ``[its frame, the next label's frame)``, the last one its
    own frame only. Labels emitted on one frame before the last of that frame get empty spans.
    """
    ends = [*hyp.frames[1:], hyp.frames[-1] + 1] if hyp.frames else []
    return [Token(s, f, e) for s, f, e in zip(hyp.labels, hyp.frames, ends, strict=True)]


def greedy_transducer(
    enc: np.ndarray, step: TransducerStep, *, max_symbols_per_frame: int = 10
) -> TransducerHypothesis:
    """Greedy transducer decoding: at each frame, emit the most probable label while it is not
    the blank, at most ``max_symbols_per_frame`` labels, then go to the next frame.

    Args:
        enc: ``(T, H_e)`` encoder outputs of one utterance.
        step: the networks.
        max_symbols_per_frame: labels emitted on one frame at most (at least 1).

    Returns:
        The labels, the frame of each, and the log-probability of the one path taken: every
        emitted label and the blank of each frame, also where the cap, not the blank, ended the
        frame.
    """
    enc = _frames_of(enc)
    if max_symbols_per_frame < 1:
        raise ValueError(f"max_symbols_per_frame={max_symbols_per_frame} must be at least 1")
    g, state = step.predict(step.initial_state, BLANK)
    labels, frames, total = [], [], 0.0
    for t, enc_t in enumerate(enc):
        for emitted in range(max_symbols_per_frame + 1):
            lp = _joint(step, enc_t, g)
            k = int(np.argmax(lp))
            if k == BLANK or emitted == max_symbols_per_frame:
                total += float(lp[BLANK])
                break
            total += float(lp[k])
            labels.append(k)
            frames.append(t)
            g, state = step.predict(state, k)
    return TransducerHypothesis(tuple(labels), tuple(frames), total, 0.0, total)


def _lattice(enc, step: TransducerStep, labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(blank (T, U + 1), emit (T, U))``: the log-probability of the blank at each lattice
    node, and of the next label of ``labels`` at each node that has one."""
    labels = [int(k) for k in labels]
    g, state = step.predict(step.initial_state, BLANK)
    num_classes = len(_joint(step, enc[0], g))
    if any(k < 1 or k >= num_classes for k in labels):
        raise ValueError(f"labels must be in 1..{num_classes - 1}, got {labels}")
    gs = [g]  # g after each prefix of the labels
    for k in labels:
        g, state = step.predict(state, k)
        gs.append(g)
    blank = np.empty((len(enc), len(gs)))
    emit = np.empty((len(enc), len(labels)))
    for t, enc_t in enumerate(enc):
        for u, g in enumerate(gs):
            lp = _joint(step, enc_t, g)
            blank[t, u] = lp[BLANK]
            if u < len(labels):
                emit[t, u] = lp[labels[u]]
    return blank, emit


def sequence_log_prob(enc: np.ndarray, step: TransducerStep, labels: Sequence[int]) -> float:
    """Exact ``log P(labels | x)`` by the forward recursion over the ``T x (U + 1)`` lattice:
    ``alpha(t, u) = logaddexp(alpha(t - 1, u) + blank(t - 1, u), alpha(t, u - 1) +
    emit(t, u - 1))`` and ``log P = alpha(T - 1, U) + blank(T - 1, U)``.

    Args:
        enc: ``(T, H_e)`` encoder outputs.
        step: the networks.
        labels: ``(U,)`` label ids in ``1..V``.

    Returns:
        The natural-log probability; with no frames, 0 for no labels and ``-inf`` otherwise.
    """
    enc = _frames_of(enc)
    if len(enc) == 0:
        return 0.0 if len(labels) == 0 else NEG_INF
    blank, emit = _lattice(enc, step, labels)
    steps, nodes = blank.shape
    alpha = np.full(nodes, NEG_INF)
    alpha[0] = 0.0
    for t in range(steps):
        if t > 0:
            alpha = alpha + blank[t - 1]
        for u in range(1, nodes):
            alpha[u] = np.logaddexp(alpha[u], alpha[u - 1] + emit[t, u - 1])
    return float(alpha[-1] + blank[-1, -1])


def alignment_log_prob(
    enc: np.ndarray, step: TransducerStep, labels: Sequence[int], frames: Sequence[int]
) -> float:
    """``log`` of the probability of one path: ``labels[i]`` emitted at frame ``frames[i]``
    (non-decreasing, in ``0..T - 1``), and the blank that ends every frame."""
    enc = _frames_of(enc)
    frames = [int(f) for f in frames]
    if len(frames) != len(labels) or np.any(np.diff(frames) < 0):
        raise ValueError(f"frames {frames} must be non-decreasing, one per label")
    if frames and (frames[0] < 0 or frames[-1] >= len(enc)):
        raise ValueError(f"frames {frames} must lie in 0..{len(enc) - 1}")
    if len(enc) == 0:
        return 0.0
    blank, emit = _lattice(enc, step, labels)
    total = 0.0
    u = 0
    for t in range(len(enc)):
        while u < len(labels) and frames[u] == t:
            total += emit[t, u]
            u += 1
        total += blank[t, u]
    return float(total)


class _Prefixes:
    """Label prefixes as integer ids (node 0 the empty prefix), each with its prediction-network
    output and state, computed once, when first needed."""

    def __init__(self, step: TransducerStep) -> None:
        self.step = step
        self.parent, self.symbol, self.length = [-1], [BLANK], [0]
        self.out: list[tuple[np.ndarray, Any] | None] = [step.predict(step.initial_state, BLANK)]
        self.children: list[dict[int, int]] = [{}]  # per node: label -> child node

    def child(self, node: int, label: int) -> int:
        found = self.children[node].get(label)
        if found is None:
            found = self.children[node][label] = len(self.parent)
            self.parent.append(node)
            self.symbol.append(label)
            self.length.append(self.length[node] + 1)
            self.out.append(None)
            self.children.append({})
        return found

    def g(self, node: int) -> np.ndarray:
        pending = []
        while self.out[node] is None:
            pending.append(node)
            node = self.parent[node]
        for n in reversed(pending):
            self.out[n] = self.step.predict(self.out[self.parent[n]][1], self.symbol[n])
            node = n
        return self.out[node][0]

    def labels(self, node: int) -> tuple[int, ...]:
        out = []
        while node > 0:
            out.append(self.symbol[node])
            node = self.parent[node]
        return tuple(reversed(out))


class _Hyp:
    """A hypothesis of set A or B: its log-probability, the log-probability of its best path and
    that path's label frames as a linked list ``(last frame, rest)``, and (in A) how many labels
    extensions added on this frame."""

    __slots__ = ("log_prob", "best", "path", "depth")

    def __init__(self, log_prob: float, best: float, path, depth: int = 0) -> None:
        self.log_prob, self.best, self.path, self.depth = log_prob, best, path, depth

    def absorb(self, log_prob: float, best: float, path) -> None:
        """Add the paths of another hypothesis of the same labelling."""
        self.log_prob = float(np.logaddexp(self.log_prob, log_prob))
        if best > self.best:
            self.best, self.path = best, path


def _unroll(path) -> tuple[int, ...]:
    out = []
    while path is not None:
        out.append(path[0])
        path = path[1]
    return tuple(reversed(out))


class _Search:
    """Algorithm 1 of Graves (2012), one frame at a time (see :func:`beam_transducer`)."""

    def __init__(self, step, beam: int, merge: bool, cap: int | None) -> None:
        self.step, self.beam, self.merge, self.cap = step, beam, merge, cap
        self.prefixes = _Prefixes(step)
        self.t, self.enc_t = 0, np.zeros(0)
        self.initial: dict[int, _Hyp] = {}  # set B of the frame before, by prefix node
        self.cache: dict[int, np.ndarray] = {}  # node -> (V + 1,) log-probs on this frame

    def log_probs(self, node: int) -> np.ndarray:
        lp = self.cache.get(node)
        if lp is None:
            lp = self.cache[node] = _joint(self.step, self.enc_t, self.prefixes.g(node))
        return lp

    def frame(self, t: int, enc_t: np.ndarray, hyps: dict[int, _Hyp]) -> dict[int, _Hyp]:
        """Set B of frame ``t`` (the ``beam`` best, log-probabilities with the frame's blank)
        from set B of the frame before."""
        self.t, self.enc_t, self.cache, self.initial = t, enc_t, {}, hyps
        a = {n: _Hyp(h.log_prob, h.best, h.path) for n, h in hyps.items()}
        if self.merge:
            self.merge_prefixes(a)
        b: dict[int, _Hyp] = {}
        heap = [(-h.log_prob, n) for n, h in a.items()]
        heapq.heapify(heap)
        top: list[float] = []  # min-heap of the `beam` best log-probabilities in B
        while heap:
            neg, node = heap[0]
            h = a.get(node)
            if h is None or h.log_prob != -neg:  # popped already, or its mass has grown
                heapq.heappop(heap)
                continue
            if -neg == NEG_INF or (len(top) == self.beam and top[0] > -neg):
                break
            heapq.heappop(heap)
            del a[node]
            top = self.to_b(node, h, b, top)
            self.extend(node, h, a, heap, top[0] if len(top) == self.beam else NEG_INF)
        best = sorted(b.items(), key=lambda item: (-item[1].log_prob, item[0]))[: self.beam]
        return dict(best)

    def merge_prefixes(self, a: dict[int, _Hyp]) -> None:
        """``Pr(y) += Pr(ŷ) Pr(y | ŷ, t)`` for every hypothesis ``ŷ`` of the frame's start that
        is a proper prefix of ``y`` (with the start's probabilities, not the merged ones)."""
        shortest = min(self.prefixes.length[n] for n in a)
        parent, symbol, length = self.prefixes.parent, self.prefixes.symbol, self.prefixes.length
        for node, h in a.items():
            child, above, emitted, path_frames = node, parent[node], 0.0, 1
            while above >= 0 and length[above] >= shortest:
                emitted += self.log_probs(above)[symbol[child]]
                src = self.initial.get(above)
                if src is not None:
                    path = src.path
                    for _ in range(path_frames):
                        path = (self.t, path)
                    h.absorb(src.log_prob + emitted, src.best + emitted, path)
                child, above, path_frames = above, parent[above], path_frames + 1

    def to_b(self, node: int, h: _Hyp, b: dict[int, _Hyp], top: list[float]) -> list[float]:
        """Put popped ``h`` into B with the blank; the new ``top``."""
        blank = self.log_probs(node)[BLANK]
        old = b.get(node)
        if blank == NEG_INF:
            return top
        if old is None:
            new = b[node] = _Hyp(h.log_prob + blank, h.best + blank, h.path)
            heapq.heappush(top, new.log_prob)
            if len(top) > self.beam:
                heapq.heappop(top)
            return top
        old.absorb(h.log_prob + blank, h.best + blank, h.path)  # popped twice (no merging)
        top = heapq.nlargest(self.beam, (x.log_prob for x in b.values()))
        heapq.heapify(top)
        return top

    def extend(self, node: int, h: _Hyp, a: dict[int, _Hyp], heap: list, floor: float) -> None:
        """Add the one-label extensions of popped ``h`` to A. One that reproduces a hypothesis
        of the frame's start is already counted there by the prefix merge (with merging) or is
        summed into it (without); a new one below ``floor`` (B's ``beam``-th best) could never
        be popped and is dropped."""
        if self.cap is not None and h.depth >= self.cap:
            return
        lp = self.log_probs(node)
        path = (self.t, h.path)
        ext = h.log_prob + lp
        wanted = set((np.flatnonzero((ext[1:] >= floor) & (ext[1:] > NEG_INF)) + 1).tolist())
        if not self.merge:  # existing hypotheses of A gain these paths however small
            wanted.update(k for k, c in self.prefixes.children[node].items() if c in a)
        for k in sorted(wanted):
            child = self.prefixes.child(node, k)
            if self.merge and child in self.initial:
                continue
            old = a.get(child)
            if old is None:
                a[child] = _Hyp(ext[k], h.best + lp[k], path, h.depth + 1)
            else:
                old.absorb(ext[k], h.best + lp[k], path)
            heapq.heappush(heap, (-a[child].log_prob, child))


def beam_transducer(
    enc: np.ndarray,
    step: TransducerStep,
    *,
    beam: int = 10,
    nbest: int = 1,
    prefix_merge: bool = True,
    max_symbols_per_frame: int | None = None,
) -> list[TransducerHypothesis]:
    """The output-sequence beam search of Graves (2012, Algorithm 1).

    Per frame, set A starts as the ``beam`` hypotheses kept from the frame before. The most
    probable hypothesis of A is moved to B with the frame's blank, and its extensions by each
    label (on the same frame) go into A, until B holds ``beam`` hypotheses more probable than
    the best of A; B's ``beam`` best are kept. Prediction-network outputs are computed once per
    label prefix, joint outputs once per prefix and frame. Two hypotheses of one labelling are
    always summed.

    Args:
        enc: ``(T, H_e)`` encoder outputs of one utterance.
        step: the networks.
        beam: hypotheses kept per frame (``W``).
        nbest: hypotheses returned (at most ``beam``).
        prefix_merge: first add to each hypothesis the paths that reach it on the frame from a
            hypothesis that is a proper prefix of it: ``Pr(y) += Pr(ŷ) Pr(y | ŷ, t)``.
        max_symbols_per_frame: labels one hypothesis may add by extension on one frame; None:
            no limit, as in the paper. Where the blank has little probability (an untrained
            network), B's values stay far below A's and a frame can take 10^5 pops; a cap ``c``
            bounds them by about ``beam * V^c``.

    Returns:
        Up to ``nbest`` distinct hypotheses, most probable first (by ``acoustic``, the natural
        log of the probability summed over the paths the search kept), each with the frames of
        its labels on its best such path. With no frames: the empty labelling, log-probability 0.
    """
    enc = _frames_of(enc)
    if beam < 1 or nbest < 1:
        raise ValueError(f"beam={beam} and nbest={nbest} must be at least 1")
    if max_symbols_per_frame is not None and max_symbols_per_frame < 1:
        raise ValueError(f"max_symbols_per_frame={max_symbols_per_frame} must be at least 1")
    search = _Search(step, beam, prefix_merge, max_symbols_per_frame)
    hyps = {0: _Hyp(0.0, 0.0, None)}
    for t, enc_t in enumerate(enc):
        hyps = search.frame(t, enc_t, hyps) if hyps else hyps
    ranked = sorted(hyps.items(), key=lambda item: (-item[1].log_prob, item[0]))[:nbest]
    return [
        TransducerHypothesis(
            search.prefixes.labels(n), _unroll(h.path), float(h.log_prob), 0.0, float(h.log_prob)
        )
        for n, h in ranked
    ]
