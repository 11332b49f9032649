"""The RNN transducer of Graves, Mohamed & Hinton (2013, PreTrans-3l-250h), and its trainer.

Three networks, each its own Keras model::

    encoder    [features (B, T, F), lengths (B,)] ─▶ N × length-aware BLSTM ─▶ enc (B, T, 2U)
    predictor  labels (B, U) ─▶ prepend 0 (start) ─▶ Embedding or one-hot ─▶ LSTM ─▶ (B, U + 1, H_p)
    joint      enc (B, T, 1, H_e), pred (B, 1, U + 1, H_p)
                   ─▶ tanh(enc W_e + b + pred W_p) ─▶ Dense(V + 1) logits (B, T, U + 1, V + 1)

:func:`transducer_model` joins the three into one Keras model, ``[features, lengths, labels]
-> joint logits``: what training checkpoints and what a bundle's ``model.keras`` holds;
:func:`split_transducer` gives back the three networks of such a model.

The encoder is the BLSTM stack of ``models.blstm.build_model`` without its output layer, with
the same layer names, so a trained CTC acoustic model can initialise it
(:meth:`TransducerTrainer.init_encoder_from`), as the paper's PreTrans networks were. The
prediction network reads the labels emitted so far; its first input is the start symbol 0 (the
blank's index), so its output ``u`` is conditioned on labels ``1..u``. The joint network's two
projections share one bias (the prediction side has none), as in
``models.transducer_decoding.DenseJoint``. Blank is class 0 of the joint's output.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from lstmrec.models.blstm import build_model
from lstmrec.models.ctc import SequenceTrainer
from lstmrec.models.layers import LengthAwareBidirectional
from lstmrec.models.numpy_transducer import ENCODER, JOINT, PREDICTOR, TransducerNetwork
from lstmrec.models.transducer_decoding import DenseJoint, LSTMPrediction, TransducerStep
from lstmrec.models.transducer_loss import rnnt_loss


@dataclasses.dataclass(frozen=True)
class Transducer:
    """The three networks of a transducer; they share no layers nor weights."""

    encoder: keras.Model  # [features (B, T, F), lengths (B,)] -> (B, T, 2 * units)
    predictor: keras.Model  # labels (B, U) int32 -> (B, U + 1, pred_units)
    joint: keras.Model  # [enc (B, T, 1, H_e), pred (B, 1, U + 1, H_p)] -> (B, T, U + 1, V + 1)


@keras.saving.register_keras_serializable(package="lstmrec")
class PrependStart(keras.layers.Layer):
    """``(B, U)`` int32 labels -> ``(B, U + 1)``: the start symbol 0 before each sequence."""

    def call(self, labels):
        return ops.pad(ops.cast(labels, "int32"), [[0, 0], [1, 0]])

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape
        return (batch, None if steps is None else steps + 1)


@keras.saving.register_keras_serializable(package="lstmrec")
class LabelOneHot(keras.layers.Layer):
    """``(B, L)`` class ids ``0..V`` -> ``(B, L, V)`` one-hot vectors of the labels ``1..V``;
    the start symbol 0 is the zero vector (Graves 2012)."""

    def __init__(self, num_classes: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes

    def call(self, ids):
        return ops.one_hot(ops.cast(ids, "int32"), self.num_classes)[..., 1:]

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.num_classes - 1)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="lstmrec")
class ExpandDims(keras.layers.Layer):
    """Insert a length-1 axis at ``axis`` (the joint network's broadcast of frames and labels)."""

    def __init__(self, axis: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x):
        return ops.expand_dims(x, self.axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape.insert(self.axis if self.axis >= 0 else len(shape) + 1 + self.axis, 1)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def transducer_model(transducer: Transducer) -> keras.Model:
    """One Keras model of the three networks (their layers, not copies):
    ``[features (B, T, F), lengths (B,), labels (B, U)] -> logits (B, T, U + 1, V + 1)``."""
    features, lengths = transducer.encoder.inputs
    feats = keras.Input(shape=features.shape[1:], name="features")
    lens = keras.Input(shape=(), dtype=lengths.dtype, name="lengths")
    labels = keras.Input(shape=(None,), dtype="int32", name="labels")
    enc = transducer.encoder([feats, lens])
    pred = transducer.predictor(labels)
    logits = transducer.joint(
        [ExpandDims(2, name="enc_frames")(enc), ExpandDims(1, name="pred_steps")(pred)]
    )
    return keras.Model([feats, lens, labels], logits, name="transducer")


def split_transducer(model: keras.Model) -> Transducer:
    """The three networks of a :func:`transducer_model` (shared with it, not copies)."""
    return Transducer(model.get_layer(ENCODER), model.get_layer(PREDICTOR), model.get_layer(JOINT))


def is_transducer(model) -> bool:
    """Whether a Keras model is a :func:`transducer_model`."""
    return any(layer.name == ENCODER for layer in getattr(model, "layers", ()))


def _predictor(num_classes: int, pred_units: int, embed_dim: int | None) -> keras.Model:
    labels = keras.Input(shape=(None,), dtype="int32", name="labels")
    ids = PrependStart(name="prepend_start")(labels)  # (B, U + 1)
    if embed_dim is None:
        x = LabelOneHot(num_classes, name="one_hot")(ids)  # (B, U + 1, V)
    else:
        x = keras.layers.Embedding(num_classes, embed_dim, name="embedding")(ids)
    g = keras.layers.LSTM(pred_units, return_sequences=True, name="prediction_lstm")(x)
    return keras.Model(labels, g, name=PREDICTOR)


def _joint(num_classes: int, enc_dim: int, pred_units: int, joint_units: int) -> keras.Model:
    enc = keras.Input(shape=(None, None, enc_dim), name="enc")  # (B, T, 1, H_e)
    pred = keras.Input(shape=(None, None, pred_units), name="pred")  # (B, 1, U + 1, H_p)
    a = keras.layers.Dense(joint_units, name="joint_enc")(enc)  # (B, T, 1, J)
    b = keras.layers.Dense(joint_units, use_bias=False, name="joint_pred")(pred)  # (B, 1, U+1, J)
    hidden = keras.layers.Add(name="joint_sum")([a, b])  # broadcast: (B, T, U + 1, J)
    hidden = keras.layers.Activation("tanh", name="joint_tanh")(hidden)
    logits = keras.layers.Dense(num_classes, name="joint_logits")(hidden)
    return keras.Model([enc, pred], logits, name=JOINT)


def build_transducer(
    *,
    input_dim: int,
    num_classes: int,
    num_layers: int,
    units: int,
    cell: str = "lstm",
    dropout: float = 0.0,
    pred_units: int = 250,
    joint_units: int = 250,
    embed_dim: int | None = None,
) -> Transducer:
    """Build the three networks of a transducer.

    Args:
        input_dim: feature dimension F.
        num_classes: ``V + 1``, the labels ``1..V`` and the blank at 0 (as in the CTC models).
        num_layers, units, cell, dropout: the encoder, as in ``models.blstm.build_model``
            (``units`` per direction; the encoder's output has ``2 * units`` channels).
        pred_units: units H_p of the prediction network's LSTM.
        joint_units: units J of the joint network's tanh layer.
        embed_dim: size of a learnt label embedding (row 0 the start symbol); None: one-hot
            labels of size V, the start symbol the zero vector.

    Returns:
        A :class:`Transducer`. Encoder outputs on padded frames are zero and must be ignored.
    """
    if num_layers < 1:
        raise ValueError(f"num_layers={num_layers} must be at least 1")
    ctc = build_model(
        input_dim=input_dim,
        num_classes=num_classes,
        num_layers=num_layers,
        units=units,
        dropout=dropout,
        cell=cell,
    )
    # The CTC model's stack up to its output layer: the same layers, under the same names.
    encoder = keras.Model(ctc.inputs, ctc.get_layer("logits").input, name=ENCODER)
    return Transducer(
        encoder=encoder,
        predictor=_predictor(num_classes, pred_units, embed_dim),
        joint=_joint(num_classes, 2 * units, pred_units, joint_units),
    )


def joint_logits(predictor: keras.Model, joint: keras.Model, enc, labels, training=False):
    """``(B, T, U + 1, V + 1)`` joint logits of encoder outputs ``enc (B, T, H_e)`` and labels
    ``(B, U)`` (row ``u``: after the first ``u`` labels)."""
    pred = predictor(labels, training=training)  # (B, U + 1, H_p)
    return joint([ops.expand_dims(enc, 2), ops.expand_dims(pred, 1)], training=training)


def _step_weights(transducer: Transducer) -> tuple[list, object, tuple]:
    """The prediction LSTM's ``(kernel, recurrent, bias)``, its embedding matrix (None: one-hot
    labels) and the joint network's ``(enc_kernel, bias, pred_kernel, out_kernel, out_bias)``,
    from the Keras models' current weights."""
    embedding = None
    if any(layer.name == "embedding" for layer in transducer.predictor.layers):
        embedding = transducer.predictor.get_layer("embedding").get_weights()[0]
    joint = transducer.joint
    enc_kernel, bias = joint.get_layer("joint_enc").get_weights()
    (pred_kernel,) = joint.get_layer("joint_pred").get_weights()
    out_kernel, out_bias = joint.get_layer("joint_logits").get_weights()
    lstm = transducer.predictor.get_layer("prediction_lstm").get_weights()
    return lstm, embedding, (enc_kernel, bias, pred_kernel, out_kernel, out_bias)


def numpy_step(transducer: Transducer) -> TransducerStep:
    """The prediction and joint networks as the NumPy step functions of
    ``models.transducer_decoding`` (float64), from the Keras models' current weights."""
    lstm, embedding, (enc_kernel, bias, pred_kernel, out_kernel, out_bias) = _step_weights(
        transducer
    )
    return TransducerStep.of(
        LSTMPrediction(*lstm, embedding),
        DenseJoint(enc_kernel, pred_kernel, bias, out_kernel, out_bias),
    )


def decoding_network(model: keras.Model) -> TransducerNetwork:
    """A :func:`transducer_model` ready for the NumPy decoders: its Keras encoder, and the
    prediction and joint networks' current weights as NumPy step functions."""
    t = split_transducer(model)
    return TransducerNetwork(t.encoder, *_step_weights(t))


class TransducerTrainer(SequenceTrainer):
    """Trains the three networks of a :class:`Transducer` with the transducer loss.

    ``x`` is ``(features (B, T, F), lengths (B,))`` and ``y`` is ``(labels (B, U) int32 padded
    with 0, label_lengths (B,))``. ``call`` runs the encoder (its outputs ``(B, T, 2 * units)``
    are ``y_pred``); the prediction and joint networks run in ``compute_loss``, where the labels
    are. The loss is the sum (``reduction="sum"``) or mean of the per-utterance losses, as in
    ``models.ctc.CTCTrainer``. ``acoustic_model`` is the :func:`transducer_model` of the three
    networks (what checkpoints and bundles store). This class only exists during training.
    """

    def __init__(self, transducer: Transducer | keras.Model, *, reduction: str = "mean", **kw):
        super().__init__(**kw)
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction={reduction!r} must be 'sum' or 'mean'")
        if isinstance(transducer, Transducer):
            transducer = transducer_model(transducer)
        self.acoustic_model = transducer
        self.reduction = reduction

    @property
    def transducer(self) -> Transducer:
        return split_transducer(self.acoustic_model)

    @property
    def encoder(self) -> keras.Model:
        return self.acoustic_model.get_layer(ENCODER)

    @property
    def predictor(self) -> keras.Model:
        return self.acoustic_model.get_layer(PREDICTOR)

    @property
    def joint(self) -> keras.Model:
        return self.acoustic_model.get_layer(JOINT)

    def init_encoder_from(self, ctc_model: keras.Model) -> None:
        """Copy the BLSTM layers of a CTC acoustic model (``models.blstm.build_model``) into
        the encoder. Raises ValueError, before copying anything, unless the two have the same
        recurrent layers (names, cells) with weights of the same shapes."""
        copy_encoder_weights(ctc_model, self.encoder)

    def call(self, inputs, training=False):
        return self.encoder(list(inputs), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        labels, label_lengths = y
        logits = joint_logits(self.predictor, self.joint, y_pred, labels, training=training)
        return self.reduce_losses(rnnt_loss(labels, logits, label_lengths, x[1]), sample_weight)


def _recurrent_layers(model: keras.Model) -> dict[str, LengthAwareBidirectional]:
    return {
        layer.name: layer for layer in model.layers if isinstance(layer, LengthAwareBidirectional)
    }


def copy_encoder_weights(ctc_model: keras.Model, encoder: keras.Model) -> None:
    """Set the weights of ``encoder``'s BLSTM layers to those of the same-named layers of
    ``ctc_model``. Raises ValueError, having changed nothing, on any mismatch."""
    source, target = _recurrent_layers(ctc_model), _recurrent_layers(encoder)
    if sorted(source) != sorted(target):
        raise ValueError(
            f"the CTC model's recurrent layers {sorted(source)} are not the encoder's "
            f"{sorted(target)}"
        )
    for name, layer in target.items():
        src = source[name]
        if src.cell != layer.cell:
            raise ValueError(
                f"layer {name}: cell {src.cell!r} where the encoder has {layer.cell!r}"
            )
        got = [tuple(w.shape) for w in src.weights]
        want = [tuple(w.shape) for w in layer.weights]
        if got != want:
            raise ValueError(f"layer {name}: weight shapes {got} where the encoder has {want}")
    for name, layer in target.items():
        layer.set_weights(source[name].get_weights())
