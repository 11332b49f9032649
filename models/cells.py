"""Recurrent cells for the length-aware bidirectional stack: LSTM and four variants.

Notation: ``[h_{t−1}, x_t]`` is the concatenation of the previous output and the current input,
so ``W_f · [h_{t−1}, x_t] = W_{xf} x_t + W_{hf} h_{t−1}``; ``σ`` is the logistic sigmoid, ``*``
the element-wise product, ``U`` the units and ``F`` the input features.

- ``lstm``: ``keras.layers.LSTM`` (Hochreiter & Schmidhuber 1997, with a forget gate), fused
  cuDNN kernel on GPUs.
- ``peephole``: an LSTM whose gates also see the cell state (Gers & Schmidhuber 2000).
- ``cifg``: an LSTM with coupled input and forget gates, ``i_t = 1 − f_t`` (Greff et al. 2017).
- ``gru``: ``keras.layers.GRU`` (Cho et al. 2014) with ``reset_after=True``, cuDNN on GPUs.
- ``rnn``: a plain tanh RNN, ``h_t = tanh(W · [h_{t−1}, x_t] + b)``.

The two Keras layers compute (their weights: ``kernel`` ``(F, G·U)``, ``recurrent_kernel``
``(U, G·U)``, ``bias``; gate blocks of U columns in the order listed)::

    lstm, blocks [i, f, C̃, o], bias (4U,):
        f_t = σ(W_f · [h_{t−1}, x_t] + b_f)
        i_t = σ(W_i · [h_{t−1}, x_t] + b_i)
        C̃_t = tanh(W_C · [h_{t−1}, x_t] + b_C)
        C_t = f_t * C_{t−1} + i_t * C̃_t
        o_t = σ(W_o · [h_{t−1}, x_t] + b_o)
        h_t = o_t * tanh(C_t)

    gru (reset_after=True), blocks [z, r, h̃], bias (2, 3U): an input row b_x and a recurrent
    row b_h, because the reset gate multiplies the recurrent term after its bias:
        z_t = σ(W_{xz} x_t + b_{xz} + W_{hz} h_{t−1} + b_{hz})
        r_t = σ(W_{xr} x_t + b_{xr} + W_{hr} h_{t−1} + b_{hr})
        h̃_t = tanh(W_{xh} x_t + b_{xh} + r_t * (W_{hh} h_{t−1} + b_{hh}))
        h_t = z_t * h_{t−1} + (1 − z_t) * h̃_t

cuDNN has no peephole, CIFG or plain-tanh kernel, so those three run as a loop of backend ops.
``HoistedInputRNN`` keeps that loop short: it multiplies the inputs of all time steps by the input
kernel in one matrix product before the loop (one ``(B·T, F) @ (F, G·U)`` product instead of T
small ones), and the cell inside the loop does only ``h_{t−1} @ W_h`` and the gates.
"""

from __future__ import annotations

import keras
from keras import ops

CELLS = ("lstm", "peephole", "cifg", "gru", "rnn")
# Gate blocks of U columns in each cell's kernels (C̃ counts as one: it has its own weights).
gates_per_cell = {"lstm": 4, "peephole": 4, "cifg": 3, "gru": 3, "rnn": 1}


def make_recurrent(
    cell: str, units: int, *, unit_forget_bias: bool = True, **kwargs
) -> keras.layers.Layer:
    """A unidirectional recurrent layer ``(B, T, F) -> (B, T, units)`` (all steps returned).

    Args:
        cell: one of ``CELLS``.
        units: U, the output and state size.
        unit_forget_bias: start the forget-gate bias at 1 (lstm, peephole, cifg; Jozefowicz et
            al. 2015). GRU and the tanh RNN have no forget gate and ignore it.
        **kwargs: Keras layer arguments (``name``, ``dtype``).
    """
    if cell == "lstm":
        return keras.layers.LSTM(
            units, return_sequences=True, unit_forget_bias=unit_forget_bias, **kwargs
        )
    if cell == "gru":
        # Keras' defaults (tanh / sigmoid, reset_after=True, no recurrent dropout) are the ones
        # its cuDNN path accepts.
        return keras.layers.GRU(units, return_sequences=True, **kwargs)
    if cell in FUSED_CELLS:
        return HoistedInputRNN(cell, units, unit_forget_bias=unit_forget_bias, **kwargs)
    raise ValueError(f"cell={cell!r} must be one of {', '.join(CELLS)}")


class _RecurrentOnlyCell(keras.layers.Layer):
    """Base of the cells ``HoistedInputRNN`` runs: they receive ``W_x x_t + b`` as their input.

    The step input is ``(B, G·U)``, the input projection of step t; the cell owns the recurrent
    kernel ``W_h`` ``(U, G·U)`` (orthogonal, as in Keras' LSTM) with the same gate blocks.
    """

    gates = 1

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.output_size = units

    def build(self, input_shape):
        expected = self.gates * self.units
        if input_shape[-1] != expected:
            raise ValueError(
                f"{type(self).__name__}: step input width {input_shape[-1]} must be "
                f"{self.gates} gates x {self.units} units = {expected}"
            )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, expected), initializer="orthogonal", name="recurrent_kernel"
        )

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units)
        return config


@keras.saving.register_keras_serializable(package="lstmrec")
class PeepholeLSTMCell(_RecurrentOnlyCell):
    """LSTM step with peephole connections (Gers & Schmidhuber 2000), input projection given.

    ``w_i``, ``w_f``, ``w_o`` are diagonal (per-unit) peephole weights; f and i look at
    ``C_{t−1}``, o at the new ``C_t``::

        i_t = σ(W_i · [h_{t−1}, x_t] + w_i * C_{t−1} + b_i)
        f_t = σ(W_f · [h_{t−1}, x_t] + w_f * C_{t−1} + b_f)
        C̃_t = tanh(W_C · [h_{t−1}, x_t] + b_C)
        C_t = f_t * C_{t−1} + i_t * C̃_t
        o_t = σ(W_o · [h_{t−1}, x_t] + w_o * C_t + b_o)
        h_t = o_t * tanh(C_t)

    Gate blocks in the kernels and bias: ``[i, f, C̃, o]`` (Keras' LSTM order). Weights:
    ``recurrent_kernel`` ``(U, 4U)`` and ``input_peephole``, ``forget_peephole``,
    ``output_peephole`` ``(U,)`` each, zero at first (the cell starts as a standard LSTM).
    States: ``[h, C]``.
    """

    gates = 4

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(units, **kwargs)
        self.state_size = [units, units]

    def build(self, input_shape):
        super().build(input_shape)
        self.input_peephole, self.forget_peephole, self.output_peephole = (
            self.add_weight(shape=(self.units,), initializer="zeros", name=f"{gate}_peephole")
            for gate in ("input", "forget", "output")
        )

    def call(self, inputs, states):
        h, c = states  # (B, U) each
        z = inputs + ops.matmul(h, self.recurrent_kernel)  # (B, 4U)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)  # (B, U) each
        i = ops.sigmoid(z_i + self.input_peephole * c)
        f = ops.sigmoid(z_f + self.forget_peephole * c)
        c = f * c + i * ops.tanh(z_c)
        o = ops.sigmoid(z_o + self.output_peephole * c)
        h = o * ops.tanh(c)
        return h, [h, c]


@keras.saving.register_keras_serializable(package="lstmrec")
class CIFGLSTMCell(_RecurrentOnlyCell):
    """LSTM step with coupled input and forget gates (CIFG, Greff et al. 2017), projection given.

    One gate decides both how much of the old cell state is kept and how much new content is
    written, which saves a quarter of the LSTM's weights::

        f_t = σ(W_f · [h_{t−1}, x_t] + b_f)
        i_t = 1 − f_t
        C̃_t = tanh(W_C · [h_{t−1}, x_t] + b_C)
        C_t = f_t * C_{t−1} + i_t * C̃_t
        o_t = σ(W_o · [h_{t−1}, x_t] + b_o)
        h_t = o_t * tanh(C_t)

    Gate blocks in the kernels and bias: ``[f, C̃, o]``. Weights: ``recurrent_kernel``
    ``(U, 3U)``. States: ``[h, C]``.
    """

    gates = 3

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(units, **kwargs)
        self.state_size = [units, units]

    def call(self, inputs, states):
        h, c = states  # (B, U) each
        z = inputs + ops.matmul(h, self.recurrent_kernel)  # (B, 3U)
        z_f, z_c, z_o = ops.split(z, 3, axis=-1)  # (B, U) each
        f = ops.sigmoid(z_f)
        c = f * c + (1.0 - f) * ops.tanh(z_c)
        h = ops.sigmoid(z_o) * ops.tanh(c)
        return h, [h, c]


@keras.saving.register_keras_serializable(package="lstmrec")
class TanhRNNCell(_RecurrentOnlyCell):
    """Plain (Elman) tanh RNN step, input projection given::

        h_t = tanh(W · [h_{t−1}, x_t] + b)

    Weights: ``recurrent_kernel`` ``(U, U)``. States: ``[h]``.
    """

    gates = 1

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(units, **kwargs)
        self.state_size = [units]

    def call(self, inputs, states):
        h = ops.tanh(inputs + ops.matmul(states[0], self.recurrent_kernel))  # (B, U)
        return h, [h]


FUSED_CELLS = {"peephole": PeepholeLSTMCell, "cifg": CIFGLSTMCell, "rnn": TanhRNNCell}
# Block of the bias that belongs to the forget gate, for cells that have one.
_FORGET_BLOCK = {"peephole": 1, "cifg": 0}


@keras.saving.register_keras_serializable(package="lstmrec")
class HoistedInputRNN(keras.layers.Layer):
    """A recurrent layer whose input projection is one matrix product over all time steps.

    Call with ``x`` ``(B, T, F)``; returns ``(B, T, U)``, the output of every step. The layer
    owns the input kernel ``W_x`` ``(F, G·U)`` (Glorot uniform) and the bias ``b`` ``(G·U,)``
    (zeros; 1 on the forget block with ``unit_forget_bias``), computes
    ``z = x @ W_x + b`` ``(B, T, G·U)`` at once, and runs ``keras.layers.RNN`` over ``z`` with
    the recurrent-only cell of ``kind`` (``PeepholeLSTMCell``, ``CIFGLSTMCell``,
    ``TanhRNNCell``: see their equations and gate order), which owns ``W_h``.

    Args:
        kind: ``"peephole"``, ``"cifg"`` or ``"rnn"``.
        units: U, the output and state size.
        unit_forget_bias: start the forget-gate bias at 1 (peephole and cifg; Jozefowicz et al.
            2015).
    """

    def __init__(self, kind: str, units: int, *, unit_forget_bias: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        if kind not in FUSED_CELLS:
            raise ValueError(f"kind={kind!r} must be one of {', '.join(FUSED_CELLS)}")
        self.kind = kind
        self.units = units
        self.unit_forget_bias = unit_forget_bias
        self.gates = gates_per_cell[kind]
        policy = self.dtype_policy  # the inner layers compute in this layer's dtype
        self.rnn = keras.layers.RNN(
            FUSED_CELLS[kind](units, name="cell", dtype=policy),
            return_sequences=True,
            name="recurrent",
            dtype=policy,
        )

    def build(self, input_shape):
        width = self.gates * self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(width,), initializer=self._bias_init, name="bias")
        self.rnn.build((*input_shape[:-1], width))

    def _bias_init(self, shape, dtype=None):
        blocks = [ops.zeros((self.units,), dtype=dtype) for _ in range(self.gates)]
        if self.unit_forget_bias and self.kind in _FORGET_BLOCK:
            blocks[_FORGET_BLOCK[self.kind]] = ops.ones((self.units,), dtype=dtype)
        return ops.concatenate(blocks)  # (G·U,)

    def call(self, x):
        z = ops.matmul(x, self.kernel) + self.bias  # (B, T, F) @ (F, G·U) -> (B, T, G·U)
        return self.rnn(z)  # (B, T, U)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(kind=self.kind, units=self.units, unit_forget_bias=self.unit_forget_bias)
        return config


@keras.saving.register_keras_serializable(package="lstmrec", name="FusedRecurrent")
class FusedRecurrent(HoistedInputRNN):
    """The name this layer had in bundles written by lstmrec 0.1, which load unchanged (Keras
    derives the weights' paths inside ``model.keras`` from the class name)."""
