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


@keras.saving.register_keras_serializable(package="lstmrec")
class ColumnConv(keras.layers.Layer):
    """A convolutional front end for frames that are pixel columns of an image (the ink
    feature set ``"image"``, ``features.inkimage``): the (time, row) plane is one image.

    Call with ``[x, lengths]``: ``x`` is ``(B, T, rows)``, ``lengths`` ``(B,)`` int32. Each block
    is a 3 × 3 convolution over time and rows with "same" zero padding, bias and ReLU, then a
    max-pooling of pairs of rows (time is never pooled, so the frames stay the input's, and
    CTC's frame count with them). Frames past each sequence's length are zeroed before every
    block, as the zero padding past its end would be, so a sequence gives the same output alone
    or in a padded batch (and its padded frames output zeros). Returns ``(B, T, (rows //
    2**blocks) * channels[-1])``, row-major (row, channel).

    Args:
        rows: the input's feature dimension (the image's rows).
        channels: output channels of each block.
    """

    def __init__(self, rows: int, channels, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows = int(rows)
        self.channels = tuple(int(c) for c in channels)
        if not self.channels or self.rows >> len(self.channels) < 1:
            raise ValueError(
                f"ColumnConv: {len(self.channels)} block(s) halve {self.rows} rows to none"
            )
        self.kernels, self.biases = [], []

    def build(self, input_shape):
        c_in = 1
        for i, c_out in enumerate(self.channels):
            self.kernels.append(
                self.add_weight(
                    shape=(3, 3, c_in, c_out), initializer="he_uniform", name=f"kernel_{i}"
                )
            )
            self.biases.append(
                self.add_weight(shape=(c_out,), initializer="zeros", name=f"bias_{i}")
            )
            c_in = c_out

    @property
    def output_dim(self) -> int:
        return (self.rows >> len(self.channels)) * self.channels[-1]

    def call(self, inputs):
        x, lengths = inputs
        batch, steps = ops.shape(x)[0], ops.shape(x)[1]
        keep = length_mask(lengths, steps, x.dtype)[:, :, None, None]  # (B, T, 1, 1)
        x = x[:, :, :, None] * keep  # (B, T, rows, 1): time and rows are the image's two axes
        for kernel, bias in zip(self.kernels, self.biases, strict=True):
            x = ops.relu(ops.conv(x, kernel, padding="same") + bias)
            # Padded frames are zeroed again before the next block reads them.
            x = ops.max_pool(x, pool_size=(1, 2), strides=(1, 2), padding="valid") * keep
        return ops.reshape(x, (batch, steps, self.output_dim))

    def compute_output_shape(self, input_shape):
        batch, steps, _ = input_shape[0]
        return (batch, steps, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(rows=self.rows, channels=list(self.channels))
        return config
