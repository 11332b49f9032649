"""The BLSTM-CTC forward pass in plain NumPy, read straight from a saved ``model.keras``.

Transcription needs only the forward pass, and importing TensorFlow alone takes longer (about
6 s on a 2-core machine) than transcribing a few seconds of speech. This module computes the
same logits as :func:`models.blstm.build_model` without importing Keras: the weights come from
the ``.keras`` archive (a zip holding ``config.json`` and ``model.weights.h5``), read with
``zipfile`` and ``h5py``.

Every cell of ``models.cells`` is supported (``lstm``, ``peephole``, ``cifg``, ``gru`` with
``reset_after``, ``rnn``); a layer or setting outside that set is refused with a clear error
rather than approximated. The arithmetic is float32 and time-major:

- the input projection of every step and both directions is one matrix product
  ``(T·B, F) @ (F, 2·G·U)`` before the time loop;
- the backward direction runs on each sequence reversed by its own length (as
  ``models.layers.reverse_by_length``), and both directions advance together: one batched
  ``(2, B, U) @ (2, U, G·U)`` product per step;
- the loop writes into buffers allocated once (``out=``), and the gate columns are reordered at
  load time so that all sigmoid gates are one contiguous slice (one ``expit`` call per step).
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Sequence

import numpy as np
from scipy.special import expit

# Gate blocks as stored by Keras / models.cells, and the order used here: sigmoid gates first.
_STORED = {
    "lstm": "ifco",
    "peephole": "ifco",
    "cifg": "fco",
    "gru": "zrh",
    "rnn": "h",
}
_ORDER = {"lstm": "ifoc", "peephole": "ifoc", "cifg": "foc", "gru": "zrh", "rnn": "h"}
_BIDI_CLASS = "LengthAwareBidirectionalLSTM"


class UnsupportedModel(ValueError):
    """The saved model contains a layer or setting the NumPy engine does not compute."""


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
    """One length-aware bidirectional recurrent layer with NumPy weights (both directions).

    Args:
        cell: one of ``lstm``, ``peephole``, ``cifg``, ``gru``, ``rnn``.
        kernel: ``(F, 2·G·U)`` input kernels of the forward then backward direction.
        bias: ``(2·G·U,)`` input-side biases, same layout.
        recurrent: ``(2, U, G·U)`` recurrent kernels.
        extra: ``(2, 1, k·U)``: the GRU's recurrent bias (k = 3) or the peepholes ``[i, f, o]``
            (k = 3); ``None`` for the other cells.
    """

    def __init__(self, cell, kernel, bias, recurrent, extra=None) -> None:
        self.cell, self.kernel, self.bias = cell, kernel, bias
        self.recurrent, self.extra = recurrent, extra
        self.units = recurrent.shape[1]

    def __call__(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``(T, B, F)`` float32 time-major inputs -> ``(T, B, 2U)`` outputs, zero on padding."""
        steps, batch, _ = x.shape
        width = self.recurrent.shape[2]
        proj = x.reshape(steps * batch, -1) @ self.kernel  # (T·B, 2·G·U)
        proj += self.bias
        proj = proj.reshape(steps, batch, 2, width)
        both = np.empty((steps, 2, batch, width), dtype=np.float32)
        both[:, 0] = proj[:, :, 0]
        both[:, 1] = reverse_by_length(proj[:, :, 1], lengths)
        out = self._run(both)  # (T, 2, B, U)
        y = np.empty((steps, batch, 2 * self.units), dtype=np.float32)
        y[:, :, : self.units] = out[:, 0]
        y[:, :, self.units :] = reverse_by_length(out[:, 1], lengths)
        y[np.arange(steps)[:, None] >= np.asarray(lengths)[None, :]] = 0.0
        return y

    def _run(self, proj: np.ndarray) -> np.ndarray:
        """The recurrence of both directions over ``(T, 2, B, G·U)`` input projections."""
        steps, _, batch, width = proj.shape
        u = self.units
        out = np.empty((steps, 2, batch, u), dtype=np.float32)
        h = np.zeros((2, batch, u), dtype=np.float32)
        c = np.zeros((2, batch, u), dtype=np.float32)
        z = np.empty((2, batch, width), dtype=np.float32)
        tmp = np.empty((2, batch, u), dtype=np.float32)
        step = getattr(self, f"_step_{self.cell}")
        for t in range(steps):
            np.matmul(h, self.recurrent, out=z)
            h = step(z, proj[t], h, c, tmp)
            out[t] = h
        return out

    @staticmethod
    def _step_lstm(z, zx, h, c, tmp):
        u = h.shape[-1]
        z += zx
        expit(z[..., : 3 * u], out=z[..., : 3 * u])  # i, f, o
        np.tanh(z[..., 3 * u :], out=z[..., 3 * u :])  # C̃
        c *= z[..., u : 2 * u]
        np.multiply(z[..., :u], z[..., 3 * u :], out=tmp)
        c += tmp
        np.tanh(c, out=tmp)
        return np.multiply(z[..., 2 * u : 3 * u], tmp, out=h)

    def _step_peephole(self, z, zx, h, c, tmp):
        u = h.shape[-1]
        peep = self.extra  # (2, 1, 3U): [i, f, o]
        z += zx
        z[..., :u] += peep[..., :u] * c
        z[..., u : 2 * u] += peep[..., u : 2 * u] * c
        expit(z[..., : 2 * u], out=z[..., : 2 * u])
        np.tanh(z[..., 3 * u :], out=z[..., 3 * u :])
        c *= z[..., u : 2 * u]
        np.multiply(z[..., :u], z[..., 3 * u :], out=tmp)
        c += tmp
        z[..., 2 * u : 3 * u] += peep[..., 2 * u :] * c  # o looks at the new C_t
        expit(z[..., 2 * u : 3 * u], out=z[..., 2 * u : 3 * u])
        np.tanh(c, out=tmp)
        return np.multiply(z[..., 2 * u : 3 * u], tmp, out=h)

    @staticmethod
    def _step_cifg(z, zx, h, c, tmp):
        u = h.shape[-1]
        z += zx
        expit(z[..., : 2 * u], out=z[..., : 2 * u])  # f, o
        np.tanh(z[..., 2 * u :], out=z[..., 2 * u :])  # C̃
        f, cand = z[..., :u], z[..., 2 * u :]
        c -= cand  # C = f·C + (1 − f)·C̃ = f·(C − C̃) + C̃
        c *= f
        c += cand
        np.tanh(c, out=tmp)
        return np.multiply(z[..., u : 2 * u], tmp, out=h)

    def _step_gru(self, z, zx, h, c, tmp):
        u = h.shape[-1]
        z += self.extra  # recurrent bias: the reset gate multiplies W_hh·h + b_hh as a whole
        z[..., : 2 * u] += zx[..., : 2 * u]
        expit(z[..., : 2 * u], out=z[..., : 2 * u])  # z, r
        cand = z[..., 2 * u :]
        cand *= z[..., u : 2 * u]
        cand += zx[..., 2 * u :]
        np.tanh(cand, out=cand)
        # h = z·h + (1 − z)·h̃ = z·(h − h̃) + h̃
        np.subtract(h, cand, out=tmp)
        tmp *= z[..., :u]
        tmp += cand
        h[...] = tmp
        return h

    @staticmethod
    def _step_rnn(z, zx, h, c, tmp):
        z += zx
        return np.tanh(z, out=h)


class NumpyBLSTM:
    """``[features (B, T, F), lengths (B,)] -> logits (B, T, V + 1)``, like the Keras model.

    Has the two members callers use on a Keras model: ``predict_on_batch`` and
    ``output_shape``. Dropout layers are the identity at inference and are skipped.
    """

    def __init__(self, layers: Sequence[BiLayer], dense_kernel, dense_bias, *, input_dim: int):
        self.layers = list(layers)
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
        h = np.ascontiguousarray(x[:, :steps].transpose(1, 0, 2))  # (T', B, F)
        for layer in self.layers:
            h = layer(h, lengths)
        logits = np.empty((batch, width, self.dense_kernel.shape[1]), dtype=np.float32)
        logits[:] = self.dense_bias
        if steps:
            lg = h.reshape(steps * batch, -1) @ self.dense_kernel + self.dense_bias
            logits[:, :steps] = lg.reshape(steps, batch, -1).transpose(1, 0, 2)
        return logits


def load_numpy_model(path: str | os.PathLike) -> NumpyBLSTM:
    """Read a ``model.keras`` written by Keras for a :func:`models.blstm.build_model` network.

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


def _build(layers_cfg: list[dict], h5) -> NumpyBLSTM:
    layers, dense, input_dim = [], None, None
    for layer, key in zip(layers_cfg, _weight_keys(layers_cfg), strict=True):
        kind, cfg = layer["class_name"].split(">")[-1], layer["config"]
        name = cfg["name"]
        if kind == "InputLayer":
            shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
            if len(shape) == 3:
                input_dim = shape[-1]
        elif kind == "Dropout":
            continue
        elif kind == _BIDI_CLASS:
            if dense is not None:
                raise UnsupportedModel(f"layer {name!r} after the output layer")
            layers.append(_bidi_layer(cfg, h5[key]))
        elif kind == "Dense":
            if cfg.get("activation", "linear") != "linear" or not cfg.get("use_bias", True):
                raise UnsupportedModel(f"Dense layer {name!r}: only linear with bias is supported")
            vars_ = h5[key]["vars"]
            dense = (vars_["0"][()], vars_["1"][()])
        else:
            raise UnsupportedModel(f"layer {name!r} of type {kind} is not supported")
    if dense is None or input_dim is None:
        raise UnsupportedModel("no features input or no output Dense layer")
    return NumpyBLSTM(layers, *dense, input_dim=input_dim)


def _bidi_layer(cfg: dict, group) -> BiLayer:
    cell, units = cfg.get("cell", "lstm"), cfg["units"]
    if cell not in _ORDER:
        raise UnsupportedModel(f"cell {cell!r} of layer {cfg['name']!r} is not supported")
    kernels, biases, recurrents, extras = [], [], [], []
    for direction in ("forward_lstm", "backward_lstm"):
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
    else:  # models.cells.FusedRecurrent: kernel and bias outside, the cell owns the rest
        v, cv = group["vars"], group["rnn"]["cell"]["vars"]
        kernel, bias, recurrent = v["0"][()], v["1"][()], cv["0"][()]
        extra = None
        if cell == "peephole":  # input, forget, output peepholes
            extra = np.concatenate([cv[str(i)][()] for i in (1, 2, 3)]).astype(np.float32)
    return (
        _reorder(kernel, cell, units),
        _reorder(bias, cell, units),
        _reorder(recurrent, cell, units),
        extra,
    )
