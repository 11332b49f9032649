"""A trained RNN transducer for decoding, in NumPy: the encoder, and the prediction and joint
networks as step functions, read from a ``model.keras`` without importing Keras.

The joint network is ``log_softmax(tanh(enc_t W_e + g_u W_p + b) W_o + b_o)``. Both halves of
its first layer are computed once, not at each of the many (frame, prefix) pairs a beam search
visits: :meth:`TransducerNetwork.predict_on_batch` returns the projected encoder outputs
``a_t = enc_t W_e + b`` (``J`` channels per frame), and the prediction step returns
``p_u = g_u W_p``; a joint call is then one ``(J,) @ (J, V + 1)`` product. The decoders of
``models.transducer_decoding`` see only the step functions and are unchanged by this.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lstmrec.models.transducer_decoding import LSTMPrediction, TransducerStep, _log_softmax

ENCODER, PREDICTOR, JOINT = "transducer_encoder", "transducer_predictor", "transducer_joint"


class ProjectedPrediction:
    """An :class:`LSTMPrediction` whose output is ``g W_p`` (the joint's prediction side)."""

    def __init__(self, lstm: LSTMPrediction, pred_kernel) -> None:
        self.lstm = lstm
        self.pred_kernel = np.asarray(pred_kernel, dtype=np.float64)  # (H_p, J)

    def initial_state(self):
        return self.lstm.initial_state()

    def __call__(self, state, label: int):
        g, state = self.lstm(state, label)
        return g @ self.pred_kernel, state


class ProjectedJoint:
    """The joint network's output layer over ``a_t + p_u``: ``(V + 1,)`` natural-log
    probabilities."""

    def __init__(self, out_kernel, out_bias) -> None:
        self.out_kernel = np.asarray(out_kernel, dtype=np.float64)  # (J, V + 1)
        self.out_bias = np.asarray(out_bias, dtype=np.float64)

    def __call__(self, a_t: np.ndarray, p: np.ndarray) -> np.ndarray:
        return _log_softmax(np.tanh(a_t + p) @ self.out_kernel + self.out_bias)


class TransducerNetwork:
    """A transducer ready to decode, whatever engine computes its encoder.

    Args:
        encoder: has ``predict_on_batch([x (B, T, F), lengths (B,)]) -> (B, T, H_e)``: a Keras
            model or a ``models.numpy_blstm.NumpyBLSTM`` without an output layer.
        prediction: Keras ``LSTM`` weights ``(kernel, recurrent, bias)``, and the embedding
            matrix or None (one-hot labels).
        joint: ``(enc_kernel (H_e, J), bias (J,), pred_kernel (H_p, J), out_kernel (J, V + 1),
            out_bias (V + 1,))``.

    ``predict_on_batch`` gives the projected encoder outputs ``(B, T, J)`` float32 that
    :attr:`step` decodes; ``output_shape`` ends with the ``V + 1`` classes, like a CTC model's.
    """

    kind = "transducer"

    def __init__(self, encoder, prediction: Sequence, embedding, joint: Sequence) -> None:
        enc_kernel, bias, pred_kernel, out_kernel, out_bias = (np.asarray(w) for w in joint)
        self.encoder = encoder
        self.enc_kernel = enc_kernel.astype(np.float32)
        self.enc_bias = bias.astype(np.float32)
        lstm = LSTMPrediction(*prediction, embedding=embedding)
        self.step = TransducerStep.of(
            ProjectedPrediction(lstm, pred_kernel), ProjectedJoint(out_kernel, out_bias)
        )
        self.output_shape = (None, None, out_kernel.shape[1])

    def predict_on_batch(self, inputs) -> np.ndarray:
        enc = np.asarray(self.encoder.predict_on_batch(inputs), dtype=np.float32)
        return enc @ self.enc_kernel + self.enc_bias


def read_numpy_transducer(layers_cfg: list[dict], h5, weight_keys, build_encoder):
    """The :class:`TransducerNetwork` of a saved ``models.transducer.transducer_model``.

    ``layers_cfg`` and ``h5`` are the top level of its ``config.json`` and weights file,
    ``weight_keys`` names each layer's weight group, ``build_encoder(layers_cfg, h5)`` reads
    the encoder's BLSTM stack (``models.numpy_blstm``)."""
    subs = {}
    for layer, key in zip(layers_cfg, weight_keys(layers_cfg), strict=True):
        name = layer["config"]["name"]
        if name in (ENCODER, PREDICTOR, JOINT):
            subs[name] = (layer["config"]["layers"], h5[key]["layers"])
    if sorted(subs) != sorted((ENCODER, PREDICTOR, JOINT)):
        raise ValueError(f"a transducer needs {ENCODER}, {PREDICTOR} and {JOINT}")
    encoder = build_encoder(*subs[ENCODER])
    named = {name: _named_weights(*subs[name], weight_keys) for name in (PREDICTOR, JOINT)}
    pred, joint = named[PREDICTOR], named[JOINT]
    embedding = pred["embedding"][0] if "embedding" in pred else None
    enc_kernel, bias = joint["joint_enc"]
    (pred_kernel,) = joint["joint_pred"]
    return TransducerNetwork(
        encoder,
        pred["prediction_lstm"],
        embedding,
        (enc_kernel, bias, pred_kernel, *joint["joint_logits"]),
    )


def _named_weights(layers_cfg, h5, weight_keys) -> dict[str, list[np.ndarray]]:
    """``{layer name: [weights]}`` of a saved functional model's layers that have weights."""
    out = {}
    for layer, key in zip(layers_cfg, weight_keys(layers_cfg), strict=True):
        group = h5[key]
        if "cell" in group:  # keras.layers.LSTM keeps its weights in its cell
            group = group["cell"]
        values = group["vars"]
        if len(values):
            out[layer["config"]["name"]] = [values[str(i)][()] for i in range(len(values))]
    return out


def path_log_probs(
    enc: np.ndarray, step: TransducerStep, labels: Sequence[int], frames: Sequence[int]
) -> np.ndarray:
    """``(T, V + 1)`` float32 natural-log probabilities of the joint network at each frame of
    ``enc`` after the labels emitted before it on the path ``(labels, frames)``: the
    distribution the path's blank of that frame was taken from. Its exponent is a transducer's
    posteriorgram, the counterpart of a CTC model's frame posteriors."""
    rows = []
    g, state = step.predict(step.initial_state, 0)  # 0: the start symbol
    done = 0
    for t, enc_t in enumerate(np.asarray(enc)):
        while done < len(labels) and frames[done] <= t:
            g, state = step.predict(state, labels[done])
            done += 1
        rows.append(step.joint(enc_t, g))
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
