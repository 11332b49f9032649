"""Streaming inference: a forward-only model's logits computed chunk by chunk as frames arrive,
and best-path CTC decoding that gives out each symbol once it is final.

A model of forward-only layers (``models.blstm.build_model(direction="forward")``, read by
``models.numpy_blstm.load_numpy_model``) gives at frame t logits that depend on frames
``0..t`` only. :class:`IncrementalModel` keeps each layer's recurrent state (outputs and cell
states) between calls, so feeding an utterance's frames in pieces of any size gives the logits
of the whole-utterance forward pass, up to float32 round-off (the input projections are BLAS
products whose rounding depends on the number of frames in them: differences of about 1e-7).

:class:`GreedyStream` is :func:`models.decoding.greedy_decode` on logits as they arrive. A
symbol's identity and start are known at the first frame of its run of best-path frames, but
its :class:`~models.decoding.Token` span ends where the next symbol's run begins; so each token
is given out when the next one starts (and the last one at the end of the input), and the
tokens given out are exactly ``greedy_decode`` of all the logits.
"""

from __future__ import annotations

import numpy as np

from lstmrec.models.decoding import BLANK, Token
from lstmrec.models.numpy_blstm import NumpyBLSTM, UnsupportedModel


def is_causal(model) -> bool:
    """Whether a NumPy model's outputs at frame t depend on frames ``0..t`` only: a
    :class:`~models.numpy_blstm.NumpyBLSTM` whose layers are all forward-only."""
    layers = getattr(model, "layers", None)
    if not isinstance(model, NumpyBLSTM) or model.front is not None:  # a convolution looks ahead
        return False
    return all(layer.directions == 1 for layer in layers)


class IncrementalModel:
    """A forward-only :class:`~models.numpy_blstm.NumpyBLSTM` run on one utterance's frames as
    they arrive.

    ``model(frames)`` takes float32 ``(T, F)`` frames (T may be 0) and returns their logits
    ``(T, V + 1)``; the recurrent state is carried to the next call. Raises
    :class:`~models.numpy_blstm.UnsupportedModel` for a model with a bidirectional layer (its
    outputs need the whole utterance) or without an output layer.
    """

    def __init__(self, model: NumpyBLSTM) -> None:
        if not is_causal(model):
            raise UnsupportedModel(
                "a bidirectional model cannot stream (its outputs need the whole utterance); "
                'train a forward-only one: --set model.direction="forward"'
            )
        if model.identity:
            raise UnsupportedModel("a model without an output layer cannot stream")
        self.model = model
        self.states = [layer.start(1) for layer in model.layers]
        self.frames = 0  # frames fed so far

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = np.asarray(frames, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.model.input_dim:
            raise ValueError(f"frames must be (T, {self.model.input_dim}), got {x.shape}")
        steps = len(x)
        h = x[:, None, :]  # (T, B=1, F)
        for layer, state in zip(self.model.layers, self.states, strict=True):
            proj = layer.project(h).reshape(steps, 1, 1, -1)  # (T, D=1, B=1, G·U)
            h = layer.run(proj, state)[:, 0]  # (T, B=1, U)
        self.frames += steps
        logits = h.reshape(steps, -1) @ self.model.dense_kernel  # (T, V + 1)
        logits += self.model.dense_bias
        return logits


class GreedyStream:
    """Best-path CTC decoding of logits fed in pieces.

    ``push(logits)`` takes ``(T, V + 1)`` scores (blank at index 0) and returns the tokens
    that became final: every token whose successor has started. :meth:`finish` returns the
    last one, whose span ends with its own run. Tokens carry absolute frame numbers.
    """

    def __init__(self) -> None:
        self.frames = 0  # frames seen
        self._prev = -1  # best class of the last frame seen
        self._pending: list[int] | None = None  # [symbol, start, end of its run so far]

    def push(self, logits: np.ndarray) -> list[Token]:
        logits = np.asarray(logits)
        if logits.ndim != 2:
            raise ValueError(f"logits must be (T, V+1), got shape {logits.shape}")
        out = []
        for offset, c in enumerate(logits.argmax(axis=-1).tolist()):
            t = self.frames + offset
            pending = self._pending
            if c != self._prev and c != BLANK:  # a new token's run begins at t
                if pending is not None:
                    out.append(Token(pending[0], pending[1], t))
                self._pending = [c, t, t + 1]
            elif c == self._prev and pending is not None and pending[2] == t:
                pending[2] = t + 1  # the pending token's run goes on
            self._prev = c
        self.frames += len(logits)
        return out

    def finish(self) -> list[Token]:
        """The last token (its span: its own run), if any."""
        pending, self._pending = self._pending, None
        return [] if pending is None else [Token(*pending)]
