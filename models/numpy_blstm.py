"""The BLSTM-CTC forward pass in plain NumPy, read straight from a saved ``model.keras``.

Transcription needs only the forward pass, and importing TensorFlow alone takes longer (about
6 s on a 2-core machine) than transcribing a few seconds of speech. This module computes the
same logits as :func:`models.blstm.build_model` without importing Keras: the weights come from
the ``.keras`` archive (a zip holding ``config.json`` and ``model.weights.h5``), read with
``zipfile`` and ``h5py``.

The convolutional front end of image-column frames (``models.layers.ColumnConv``) is computed
too, as one product of each block's 3 × 3 windows with its kernel. Every cell of
``models.cells`` is supported (``lstm``, ``peephole``, ``cifg``, ``gru`` with
``reset_after``, ``rnn``); a layer or setting outside that set is refused with a clear error
rather than approximated. The arithmetic is float32 and time-major:

- the input projection of every step and both directions is one matrix product
  ``(T·B, F) @ (F, 2·G·U)`` before the time loop;
- the backward direction runs on each sequence reversed by its own length (as
  ``models.layers.reverse_by_length``), and both directions advance together: one batched
  ``(2, B, U) @ (2, U, G·U)`` product per step;
- a forward-only model (``models.blstm.build_model(direction="forward")``) has one direction
  per layer; :mod:`models.numpy_stream` runs it chunk by chunk with its state carried over;
- the loop writes into buffers allocated once (``out=``); the gate columns are reordered at
  load time so that all sigmoid gates are one contiguous slice, and their weights are halved so
  that ``σ(x) = (1 + tanh(x / 2)) / 2`` needs no extra product (and no SciPy import, which
  costs more start-up time than a short file's transcription).
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Sequence

import numpy as np

# Gate blocks as stored by Keras / models.cells, and the order used here: sigmoid gates first.
_STORED = {
    "lstm": "ifco",
    "peephole": "ifco",
    "cifg": "fco",
    "gru": "zrh",
    "rnn": "h",
}
_ORDER = {"lstm": "ifoc", "peephole": "ifoc", "cifg": "foc", "gru": "zrh", "rnn": "h"}
# The recurrent layers by their class names in model.keras (the bidirectional one under its
# earlier name too), and the weight groups of their directions.
_DIRECTION_GROUPS = {
    "LengthAwareBidirectional": ("forward_lstm", "backward_lstm"),
    "LengthAwareBidirectionalLSTM": ("forward_lstm", "backward_lstm"),
    "LengthAwareForward": ("forward_lstm",),
}


class UnsupportedModel(ValueError):
    """The saved model contains a layer or setting the NumPy engine does not compute."""


class ColumnConv:
    """``models.layers.ColumnConv`` in NumPy: ``(B, T, rows)`` batch-major frames and their
    lengths to ``(B, T, rows // 2**blocks * channels)``, frames past each length zeroed before
    every block."""

    def __init__(self, kernels: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> None:
        self.kernels = [np.asarray(k, dtype=np.float32) for k in kernels]  # (3, 3, C_in, C_out)
        self.biases = [np.asarray(b, dtype=np.float32) for b in biases]

    def __call__(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        batch, steps, rows = x.shape
        keep = (np.arange(steps)[None, :] < lengths[:, None])[:, :, None, None]  # (B, T, 1, 1)
        h = x[..., None] * keep  # (B, T, rows, 1)
        for kernel, bias in zip(self.kernels, self.biases, strict=True):
            padded = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))  # "same" for a 3 x 3 kernel
            windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
            h = np.einsum("btrcij,ijco->btro", windows, kernel, optimize=True) + bias
            np.maximum(h, 0.0, out=h)
            pairs = h.shape[2] // 2
            h = h[:, :, : 2 * pairs].reshape(batch, steps, pairs, 2, -1).max(axis=3) * keep
        return h.reshape(batch, steps, -1)


def reverse_by_length(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Time-major reversal of each sequence's first ``lengths[b]`` steps; padding stays put.

    Args:
        x: ``(T, B, ...)`` array.
        lengths: ``(B,)`` integer true lengths.

    Returns:
        ``(T, B, ...)`` array with ``y[t, b] = x[lengths[b] - 1 - t, b]`` for ``t < lengths[b]``
        and ``y[t, b] = x[t, b]`` otherwise.
    """
    steps = np.arange(x.shape[0])[:, None]  # (T, 1)
    lengths = np.asarray(lengths)[None, :]  # (1, B)
    index = np.where(steps < lengths, lengths - 1 - steps, steps)  # (T, B)
    return x[index, np.arange(x.shape[1])[None, :]]


def _reorder(w: np.ndarray, cell: str, units: int) -> np.ndarray:
    """Permute the gate blocks on the last axis from Keras' order to ``_ORDER[cell]``."""
    stored = _STORED[cell]
    blocks = [w[..., stored.index(g) * units : (stored.index(g) + 1) * units] for g in _ORDER[cell]]
    return np.ascontiguousarray(np.concatenate(blocks, axis=-1), dtype=np.float32)


class BiLayer:
    """One length-aware recurrent layer with NumPy weights: bidirectional (D = 2 directions) or
    forward-only (D = 1, ``models.layers.LengthAwareForward``).

    Args:
        cell: one of ``lstm``, ``peephole``, ``cifg``, ``gru``, ``rnn``.
        kernel: ``(F, D·G·U)`` input kernels of the forward (then backward) direction.
        bias: ``(D·G·U,)`` input-side biases, same layout.
        recurrent: ``(D, U, G·U)`` recurrent kernels.
        extra: ``(D, 1, k·U)``: the GRU's recurrent bias (k = 3) or the peepholes ``[i, f, o]``
            (k = 3); ``None`` for the other cells.

    Gate blocks are in ``_ORDER[cell]``, and every weight of a sigmoid gate is halved (see
    ``_SIGMOID_BLOCKS``): :func:`load_numpy_model` prepares both.
    """

    def __init__(self, cell, kernel, bias, recurrent, extra=None) -> None:
        self.cell, self.kernel, self.bias = cell, kernel, bias
        self.recurrent, self.extra = recurrent, extra
        self.directions, self.units = recurrent.shape[0], recurrent.shape[1]

    @property
    def output_dim(self) -> int:
        """Output width: ``D·U``."""
        return self.directions * self.units

    def __call__(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``(T, B, F)`` float32 time-major inputs -> ``(T, B, D·U)`` outputs, zero on padding."""
        steps, batch, _ = x.shape
        d, u, width = self.recurrent.shape
        proj = self.project(x).reshape(steps, batch, d, width)
        both = np.empty((steps, d, batch, width), dtype=np.float32)
        both[:, 0] = proj[:, :, 0]
        if d == 2:
            both[:, 1] = reverse_by_length(proj[:, :, 1], lengths)
        out = self.run(both, self.start(batch))  # (T, D, B, U)
        y = np.empty((steps, batch, d * u), dtype=np.float32)
        y[:, :, :u] = out[:, 0]
        if d == 2:
            y[:, :, u:] = reverse_by_length(out[:, 1], lengths)
        y[np.arange(steps)[:, None] >= np.asarray(lengths)[None, :]] = 0.0
        return y

    def project(self, x: np.ndarray) -> np.ndarray:
        """Input projections of every step and direction: ``(T, B, F) -> (T·B, D·G·U)``."""
        proj = x.reshape(-1, x.shape[-1]) @ self.kernel  # (T·B, D·G·U)
        proj += self.bias
        return proj

    def start(self, batch: int) -> RecurrentState:
        """The state before the first step: zero outputs and cell states."""
        return RecurrentState(self, batch)

    def run(self, proj: np.ndarray, state: RecurrentState) -> np.ndarray:
        """The recurrence over ``(T, D, B, G·U)`` input projections from ``state``, which it
        advances: ``(T, D, B, U)`` outputs. Running a sequence in pieces, one ``state`` carried
        from piece to piece, gives the outputs of running it whole."""
        out = np.empty((proj.shape[0], *state.h.shape), dtype=np.float32)
        z, step, h = state.z, state.step, state.h
        for t in range(proj.shape[0]):
            np.matmul(h, self.recurrent, out=z)
            h = out[t]
            step(proj[t], h)
        if len(out):
            state.h = h.copy()
        return out


class RecurrentState:
    """What a :class:`BiLayer`'s recurrence carries from one step to the next, for ``batch``
    sequences: the last outputs ``h`` ``(D, B, U)`` and, inside the cell's step closure, the
    cell state (LSTMs) or previous output (GRU)."""

    def __init__(self, layer: BiLayer, batch: int) -> None:
        d, u, width = layer.recurrent.shape
        self.z = np.empty((d, batch, width), dtype=np.float32)  # h_{t−1} @ W_h, then the gates
        self.step = _STEPS[layer.cell](self.z, u, layer.extra)
        self.h = np.zeros((d, batch, u), dtype=np.float32)


# One step of each cell, as a closure over the (D, B, G·U) buffer z = h_{t−1} @ W_h and the
# slices of it that the step reads, made once per sequence: a step then allocates nothing.
# Sigmoid gates come in pre-scaled by 1/2 (see _SIGMOID_BLOCKS): σ(x) = (1 + tanh(x/2)) / 2.


def _sigmoid_half(v: np.ndarray) -> None:
    """In place: ``v`` holds x/2; afterwards σ(x)."""
    np.tanh(v, out=v)
    v *= 0.5
    v += 0.5


def _lstm_step(z, u, extra):
    c = np.zeros(z.shape[:-1] + (u,), dtype=np.float32)
    tmp = np.empty_like(c)
    gates, cand = z[..., : 3 * u], z[..., 3 * u :]
    i, f, o = z[..., :u], z[..., u : 2 * u], z[..., 2 * u : 3 * u]

    def step(zx, h):
        np.add(z, zx, out=z)
        np.tanh(z, out=z)  # one call for all four blocks: the gates' inputs are halved
        np.multiply(gates, 0.5, out=gates)
        np.add(gates, 0.5, out=gates)  # σ(x) = (1 + tanh(x/2)) / 2 on i, f, o
        np.multiply(c, f, out=c)
        np.multiply(i, cand, out=tmp)
        np.add(c, tmp, out=c)
        np.tanh(c, out=tmp)
        np.multiply(o, tmp, out=h)

    return step


def _peephole_step(z, u, extra):
    c = np.zeros(z.shape[:-1] + (u,), dtype=np.float32)
    tmp = np.empty_like(c)
    i_f, cand = z[..., : 2 * u], z[..., 3 * u :]
    i, f, o = z[..., :u], z[..., u : 2 * u], z[..., 2 * u : 3 * u]
    w_if, w_o = extra[..., : 2 * u], extra[..., 2 * u :]  # peepholes, halved like the gates
    cc = np.empty(z.shape[:-1] + (2 * u,), dtype=np.float32)

    def step(zx, h):
        np.add(z, zx, out=z)
        cc[..., :u] = c
        cc[..., u:] = c
        np.multiply(cc, w_if, out=cc)
        np.add(i_f, cc, out=i_f)
        _sigmoid_half(i_f)
        np.tanh(cand, out=cand)
        np.multiply(c, f, out=c)
        np.multiply(i, cand, out=tmp)
        np.add(c, tmp, out=c)
        np.multiply(w_o, c, out=tmp)  # o looks at the new C_t
        np.add(o, tmp, out=o)
        _sigmoid_half(o)
        np.tanh(c, out=tmp)
        np.multiply(o, tmp, out=h)

    return step


def _cifg_step(z, u, extra):
    c = np.zeros(z.shape[:-1] + (u,), dtype=np.float32)
    tmp = np.empty_like(c)
    gates, f, o, cand = z[..., : 2 * u], z[..., :u], z[..., u : 2 * u], z[..., 2 * u :]

    def step(zx, h):
        np.add(z, zx, out=z)
        _sigmoid_half(gates)
        np.tanh(cand, out=cand)
        np.subtract(c, cand, out=c)  # C = f·C + (1 − f)·C̃ = f·(C − C̃) + C̃
        np.multiply(c, f, out=c)
        np.add(c, cand, out=c)
        np.tanh(c, out=tmp)
        np.multiply(o, tmp, out=h)

    return step


def _gru_step(z, u, extra):
    tmp = np.empty(z.shape[:-1] + (u,), dtype=np.float32)
    h_prev = np.zeros_like(tmp)
    gates, zg, r, cand = z[..., : 2 * u], z[..., :u], z[..., u : 2 * u], z[..., 2 * u :]

    def step(zx, h):
        # The recurrent bias: the reset gate multiplies W_hh·h + b_hh as a whole.
        np.add(z, extra, out=z)
        np.add(gates, zx[..., : 2 * u], out=gates)
        _sigmoid_half(gates)
        np.multiply(cand, r, out=cand)
        np.add(cand, zx[..., 2 * u :], out=cand)
        np.tanh(cand, out=cand)
        np.subtract(h_prev, cand, out=tmp)  # h = z·h + (1 − z)·h̃ = z·(h − h̃) + h̃
        np.multiply(tmp, zg, out=tmp)
        np.add(tmp, cand, out=h)
        h_prev[...] = h

    return step


def _rnn_step(z, u, extra):
    def step(zx, h):
        np.add(z, zx, out=z)
        np.tanh(z, out=h)

    return step


_STEPS = {
    "lstm": _lstm_step,
    "peephole": _peephole_step,
    "cifg": _cifg_step,
    "gru": _gru_step,
    "rnn": _rnn_step,
}
# Leading gate blocks (in _ORDER) that go through a sigmoid; their weights are halved at load.
_SIGMOID_BLOCKS = {"lstm": 3, "peephole": 3, "cifg": 2, "gru": 2, "rnn": 0}


class NumpyBLSTM:
    """``[features (B, T, F), lengths (B,)] -> logits (B, T, V + 1)``, like the Keras model.

    Has the two members callers use on a Keras model: ``predict_on_batch`` and
    ``output_shape``. Dropout layers are the identity at inference and are skipped. Without an
    output layer (``dense_kernel`` None: a transducer's encoder) the outputs are the last
    recurrent layer's, ``(B, T, D·U)``, zero on padded frames. The same class computes
    forward-only models (``layers`` of one direction each).
    """

    def __init__(
        self,
        layers: Sequence[BiLayer],
        dense_kernel,
        dense_bias,
        *,
        input_dim: int,
        front: ColumnConv | None = None,
    ):
        self.layers = list(layers)
        self.front = front  # a convolutional front end before the recurrent layers, or None
        if dense_kernel is None:  # the identity: the last layer's outputs
            width = self.layers[-1].output_dim
            dense_kernel, dense_bias = np.eye(width), np.zeros(width)
            self.identity = True
        else:
            self.identity = False
        self.dense_kernel = np.ascontiguousarray(dense_kernel, dtype=np.float32)
        self.dense_bias = np.asarray(dense_bias, dtype=np.float32)
        self.input_dim = input_dim
        self.output_shape = (None, None, self.dense_kernel.shape[1])

    def predict_on_batch(self, inputs) -> np.ndarray:
        """Logits ``(B, T, V + 1)`` float32 for ``[x (B, T, F), lengths (B,)]``.

        Steps past the longest true length are not computed: their logits (meaningless, like
        those on any padded frame) are the output bias, as in the Keras model.
        """
        x, lengths = inputs
        x = np.asarray(x, dtype=np.float32)
        lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        batch, width, _ = x.shape
        steps = int(min(width, lengths.max(initial=0)))
        h = x[:, :steps]
        if self.front is not None:
            h = self.front(h, lengths)
        h = np.ascontiguousarray(h.transpose(1, 0, 2))  # (T', B, F)
        for layer in self.layers:
            h = layer(h, lengths)
        logits = np.empty((batch, width, self.dense_kernel.shape[1]), dtype=np.float32)
        logits[:] = self.dense_bias
        if steps and self.identity:
            logits[:, :steps] = h.transpose(1, 0, 2)
        elif steps:
            lg = h.reshape(steps * batch, -1) @ self.dense_kernel + self.dense_bias
            logits[:, :steps] = lg.reshape(steps, batch, -1).transpose(1, 0, 2)
        return logits


def load_numpy_model(path: str | os.PathLike):
    """Read a ``model.keras`` written by Keras for a :func:`models.blstm.build_model` network
    (a :class:`NumpyBLSTM`), or for a ``models.transducer.transducer_model`` (a
    ``models.numpy_transducer.TransducerNetwork``).

    Raises:
        UnsupportedModel: a layer or setting the NumPy engine does not compute.
        OSError, KeyError, ValueError, zipfile.BadZipFile: an unreadable archive.
    """
    import h5py

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        weights = io.BytesIO(archive.read("model.weights.h5"))
    layers_cfg = config["config"]["layers"]
    with h5py.File(weights, "r") as h5:
        if any(layer["class_name"].endswith("Functional") for layer in layers_cfg):
            from lstmrec.models.numpy_transducer import read_numpy_transducer

            def encoder(cfg, group):
                return _build(cfg, group, output_layer=False)

            return read_numpy_transducer(layers_cfg, h5["layers"], _weight_keys, encoder)
        return _build(layers_cfg, h5["layers"])


def _weight_keys(layers_cfg: list[dict]) -> list[str]:
    """The groups of ``model.weights.h5`` that hold each layer's weights, in config order.

    Keras names them after the layer's class in snake case, numbered from the second one of a
    class on (``dense``, ``dense_1``, ...), in the model's layer order, not by layer name.
    """
    keys, seen = [], {}
    for layer in layers_cfg:
        base = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", layer["class_name"].split(">")[-1])
        base = re.sub(r"([a-z])([A-Z])", r"\1_\2", base).lower()
        count = seen.get(base, 0)
        seen[base] = count + 1
        keys.append(base if count == 0 else f"{base}_{count}")
    return keys


def _build(layers_cfg: list[dict], h5, *, output_layer: bool = True) -> NumpyBLSTM:
    layers, dense, input_dim, front = [], None, None, None
    for layer, key in zip(layers_cfg, _weight_keys(layers_cfg), strict=True):
        kind, cfg = layer["class_name"].split(">")[-1], layer["config"]
        name = cfg["name"]
        if kind == "InputLayer":
            shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
            if len(shape) == 3:
                input_dim = shape[-1]
        elif kind == "Dropout":
            continue
        elif kind == "ColumnConv":
            if layers or front is not None:
                raise UnsupportedModel(f"layer {name!r} after the first recurrent layer")
            vars_ = h5[key]["vars"]
            blocks = len(cfg["channels"])
            front = ColumnConv(
                [vars_[str(2 * i)][()] for i in range(blocks)],
                [vars_[str(2 * i + 1)][()] for i in range(blocks)],
            )
        elif kind in _DIRECTION_GROUPS:
            if dense is not None:
                raise UnsupportedModel(f"layer {name!r} after the output layer")
            layers.append(_recurrent_layer(cfg, h5[key], _DIRECTION_GROUPS[kind]))
        elif kind == "Dense":
            if cfg.get("activation", "linear") != "linear" or not cfg.get("use_bias", True):
                raise UnsupportedModel(f"Dense layer {name!r}: only linear with bias is supported")
            vars_ = h5[key]["vars"]
            dense = (vars_["0"][()], vars_["1"][()])
        else:
            raise UnsupportedModel(f"layer {name!r} of type {kind} is not supported")
    if input_dim is None or (dense is None) == output_layer or not layers:
        raise UnsupportedModel(
            "no features input, no BLSTM layer, or "
            + ("no output Dense layer" if output_layer else "an output layer in an encoder")
        )
    return NumpyBLSTM(layers, *(dense or (None, None)), input_dim=input_dim, front=front)


def _recurrent_layer(cfg: dict, group, directions: Sequence[str]) -> BiLayer:
    cell, units = cfg.get("cell", "lstm"), cfg["units"]
    if cell not in _ORDER:
        raise UnsupportedModel(f"cell {cell!r} of layer {cfg['name']!r} is not supported")
    kernels, biases, recurrents, extras = [], [], [], []
    for direction in directions:
        k, b, r, e = _direction_weights(cell, group[direction], units)
        kernels.append(k)
        biases.append(b)
        recurrents.append(r)
        extras.append(e)
    extra = None if extras[0] is None else np.stack(extras)[:, None, :]
    return BiLayer(
        cell,
        np.ascontiguousarray(np.concatenate(kernels, axis=1)),
        np.concatenate(biases),
        np.stack(recurrents),
        extra,
    )


def _direction_weights(cell: str, group, units: int):
    """(kernel (F, G·U), bias (G·U,), recurrent (U, G·U), extra or None), gates reordered."""
    if cell in ("lstm", "gru"):  # keras.layers.LSTM / GRU: their cell holds all three weights
        v = group["cell"]["vars"]
        kernel, recurrent, bias = v["0"][()], v["1"][()], v["2"][()]
        extra = None
        if cell == "gru":
            if bias.shape != (2, 3 * units):
                raise UnsupportedModel("GRU without reset_after=True is not supported")
            bias, extra = bias[0], _reorder(bias[1], cell, units)
    else:  # models.cells.HoistedInputRNN: kernel and bias outside, the cell owns the rest
        v, cv = group["vars"], group["rnn"]["cell"]["vars"]
        kernel, bias, recurrent = v["0"][()], v["1"][()], cv["0"][()]
        extra = None
        if cell == "peephole":  # input, forget, output peepholes
            extra = np.concatenate([cv[str(i)][()] for i in (1, 2, 3)]).astype(np.float32)
    halve = _SIGMOID_BLOCKS[cell] * units
    kernel, bias, recurrent = (_reorder(w, cell, units) for w in (kernel, bias, recurrent))
    for w in (kernel, bias, recurrent) + (() if extra is None else (extra,)):
        w[..., :halve] *= 0.5
    return kernel, bias, recurrent, extra
