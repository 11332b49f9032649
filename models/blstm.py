"""The deep bidirectional LSTM acoustic model (Graves, Mohamed & Hinton 2013, CTC-3l-250h).

features (B, T, F) ─▶ [ColumnConv] ─▶ [Dropout] ─▶ N × length-aware BLSTM (U per direction)
    ─▶ Dense(V + 1) logits

The optional convolutional front end (``conv``: channels per block, ``models.layers.ColumnConv``)
reads frames that are the pixel columns of an image: ink drawn as a picture (feature set
"image"), a CRNN in the manner of Shi et al. 2015, without pooling over time.

The LSTM can be swapped for a variant cell (peephole, CIFG, GRU, tanh RNN: ``models.cells``) in
the same length-aware bidirectional stack. With ``direction="forward"`` the layers are forward-only
(``LengthAwareForward``, U units each): the logits of frame t then depend on frames ``0..t`` only,
which is what streaming transcription needs (docs/streaming.md).
"""

from __future__ import annotations

import keras

from lstmrec.models.layers import ColumnConv, LengthAwareBidirectional, LengthAwareForward

DIRECTIONS = ("bidirectional", "forward")


def build_model(
    *,
    input_dim: int,
    num_classes: int,
    num_layers: int = 3,
    units: int = 250,
    dropout: float = 0.0,
    cell: str = "lstm",
    direction: str = "bidirectional",
    conv: tuple[int, ...] = (),
    name: str | None = None,
) -> keras.Model:
    """Build the inference model.

    Args:
        input_dim: feature dimension F (123 for fbank + energy with Δ, ΔΔ).
        num_classes: output classes including the CTC blank at index 0 (62 for TIMIT-61).
        num_layers: number of recurrent layers.
        units: LSTM (or other cell) units per direction.
        dropout: dropout rate between layers (applied to layer inputs, never inside the LSTM,
            so the cuDNN kernel stays eligible).
        cell: recurrent cell of every layer, one of ``models.cells.CELLS`` (``"lstm"``,
            ``"peephole"``, ``"cifg"``, ``"gru"``, ``"rnn"``).
        direction: ``"bidirectional"`` (layers ``blstm_1``, ...: ``2U`` outputs each) or
            ``"forward"`` (layers ``forward_1``, ...: ``U`` outputs each, causal).
        conv: channels of each block of a convolutional front end over the frames, whose
            ``input_dim`` features are then an image's rows (``()``: none).
        name: the model's name; default ``"blstm_ctc"`` or ``"forward_ctc"``.

    Returns:
        A functional model ``[features (B, T, F) float32, lengths (B,) int32] -> logits
        (B, T, num_classes)``. Logits on padded frames are meaningless and must be ignored.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r} must be one of {', '.join(DIRECTIONS)}")
    forward = direction == "forward"
    features = keras.Input(shape=(None, input_dim), dtype="float32", name="features")
    lengths = keras.Input(shape=(), dtype="int32", name="lengths")
    x = features
    if conv:
        x = ColumnConv(input_dim, conv, name="column_conv")([x, lengths])
    for i in range(1, num_layers + 1):
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
        if forward:
            layer = LengthAwareForward(units, cell=cell, name=f"forward_{i}")
        else:
            layer = LengthAwareBidirectional(units, cell=cell, name=f"blstm_{i}")
        x = layer([x, lengths])  # (B, T, U) forward, (B, T, 2U) bidirectional
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name=f"dropout_{num_layers + 1}")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)  # (B, T, V + 1)
    name = name or ("forward_ctc" if forward else "blstm_ctc")
    return keras.Model([features, lengths], logits, name=name)
