"""Length-aware bidirectional LSTM (or another recurrent cell: see ``models.cells``), and its
forward-only counterpart for streaming.

Keras' ``Bidirectional`` reverses the whole padded tensor, so the backward LSTM of a short
utterance in a padded batch starts on padding, unless a mask is passed; and with a mask the JAX
and PyTorch backends leave the fused cuDNN kernel for a per-step loop. This layer instead reverses
every sequence by its own length before the backward LSTM (and back afterwards), so padding only
ever follows the real frames in both directions, no mask reaches the LSTM, and each utterance's
output is the same alone or in a padded batch. The same holds for every cell in ``CELLS``.
"""

from __future__ import annotations

import keras
from keras import ops

from lstmrec.models.cells import CELLS, make_recurrent


def reverse_by_length(x, lengths):
    """Reverse the first ``lengths[b]`` steps of each sequence; padding stays in place.

    Args:
        x: ``(B, T, F)`` tensor.
        lengths: ``(B,)`` integer tensor of true lengths (``0 <= lengths[b] <= T``).

    Returns:
        ``(B, T, F)`` tensor ``y`` with ``y[b, t] = x[b, lengths[b] - 1 - t]`` for
        ``t < lengths[b]`` and ``y[b, t] = x[b, t]`` otherwise. The map is its own inverse.
    """
    steps = ops.arange(ops.shape(x)[1], dtype="int32")[None, :]  # (1, T)
    lengths = ops.cast(lengths, "int32")[:, None]  # (B, 1)
    index = ops.where(steps < lengths, lengths - 1 - steps, steps)  # (B, T)
    index = ops.broadcast_to(index[:, :, None], ops.shape(x))  # (B, T, F)
    return ops.take_along_axis(x, index, axis=1)


def length_mask(lengths, max_length, dtype="float32"):
    """``(B, T)`` mask with ones on the first ``lengths[b]`` steps of each row."""
    steps = ops.arange(max_length, dtype="int32")[None, :]  # (1, T)
    return ops.cast(steps < ops.cast(lengths, "int32")[:, None], dtype)


@keras.saving.register_keras_serializable(package="lstmrec")
class LengthAwareBidirectional(keras.layers.Layer):
    """A bidirectional recurrent layer that respects each sequence's true length without a mask.

    Call with ``[x, lengths]``: ``x`` is ``(B, T, F)``, ``lengths`` is ``(B,)`` int32. Returns
    ``(B, T, 2 * units)``: forward and backward outputs concatenated, zero on padded steps.

    Both LSTMs keep the settings that the fused cuDNN kernel needs (tanh / sigmoid activations,
    no recurrent dropout, not unrolled, biases on), and they never see a mask. With another
    ``cell`` the two directions are that cell's layer (``models.cells.make_recurrent``): GRU is
    cuDNN-eligible too; peephole, cifg and rnn run as a loop of backend ops.

    Args:
        units: units per direction.
        unit_forget_bias: start the forget-gate bias at 1 (Jozefowicz et al. 2015).
        cell: recurrent cell of both directions, one of ``models.cells.CELLS``. Configs saved
            before cells existed have no ``cell``: they are LSTMs, the default.
    """

    def __init__(
        self, units: int, *, unit_forget_bias: bool = True, cell: str = "lstm", **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if cell not in CELLS:
            raise ValueError(f"cell={cell!r} must be one of {', '.join(CELLS)}")
        self.units = units
        self.unit_forget_bias = unit_forget_bias
        self.cell = cell
        # The attribute names are part of saved bundles' weight paths: keep them for every cell.
        self.forward_lstm = make_recurrent(
            cell, units, unit_forget_bias=unit_forget_bias, name="forward"
        )
        self.backward_lstm = make_recurrent(
            cell, units, unit_forget_bias=unit_forget_bias, name="backward"
        )

    def build(self, input_shape):
        x_shape = input_shape[0]
        self.forward_lstm.build(x_shape)
        self.backward_lstm.build(x_shape)

    def call(self, inputs):
        x, lengths = inputs
        forward = self.forward_lstm(x)  # (B, T, U)
        backward = reverse_by_length(self.backward_lstm(reverse_by_length(x, lengths)), lengths)
        y = ops.concatenate([forward, backward], axis=-1)  # (B, T, 2U)
        return y * length_mask(lengths, ops.shape(x)[1], y.dtype)[:, :, None]

    def compute_output_shape(self, input_shape):
        batch, steps, _ = input_shape[0]
        return (batch, steps, 2 * self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, unit_forget_bias=self.unit_forget_bias, cell=self.cell)
        return config


@keras.saving.register_keras_serializable(package="lstmrec")
class LengthAwareForward(keras.layers.Layer):
    """A forward-only (unidirectional) recurrent layer: its output at step t depends on steps
    ``0..t`` only, so a stack of them can emit outputs while the input is still arriving.

    Call with ``[x, lengths]``: ``x`` is ``(B, T, F)``, ``lengths`` is ``(B,)`` int32. Returns
    ``(B, T, units)``, zero on padded steps. Padding only ever follows the real frames, so it
    never reaches them and no mask is needed (the LSTM and GRU stay cuDNN-eligible), as in
    :class:`LengthAwareBidirectional`, whose forward half this is (the same weights, under the
    same attribute name ``forward_lstm``).

    Args:
        units: output and state size U.
        unit_forget_bias: start the forget-gate bias at 1 (Jozefowicz et al. 2015).
        cell: recurrent cell, one of ``models.cells.CELLS``.
    """

    def __init__(
        self, units: int, *, unit_forget_bias: bool = True, cell: str = "lstm", **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if cell not in CELLS:
            raise ValueError(f"cell={cell!r} must be one of {', '.join(CELLS)}")
        self.units = units
        self.unit_forget_bias = unit_forget_bias
        self.cell = cell
        self.forward_lstm = make_recurrent(
            cell, units, unit_forget_bias=unit_forget_bias, name="forward"
        )

    def build(self, input_shape):
        self.forward_lstm.build(input_shape[0])

    def call(self, inputs):
        x, lengths = inputs
        y = self.forward_lstm(x)  # (B, T, U)
        return y * length_mask(lengths, ops.shape(x)[1], y.dtype)[:, :, None]

    def compute_output_shape(self, input_shape):
        batch, steps, _ = input_shape[0]
        return (batch, steps, self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, unit_forget_bias=self.unit_forget_bias, cell=self.cell)
        return config


@keras.saving.register_keras_serializable(package="lstmrec", name="LengthAwareBidirectionalLSTM")
class LengthAwareBidirectionalLSTM(LengthAwareBidirectional):
    """The name this layer had in bundles written by lstmrec 0.1, which load unchanged (Keras
    derives the weights' paths inside ``model.keras`` from the class name)."""

