"""The three networks of an RNN transducer bundle as Keras models ready for export, what
``export.json`` says about them, and the check of the written artifacts
(:mod:`lstmrec.inference.export` writes them).

::

    encoder     [features (B, T, F) float32, lengths (B,) int32] -> enc (B, T, H_e)
    prediction  [label (B,) int32, h (B, H_p), c (B, H_p)] -> g (B, H_p), h_next, c_next
    joint       [enc (B, H_e), g (B, H_p)] -> log_probs (B, V + 1)

The encoder is the bundle's own ``transducer_encoder``. The prediction network is one step of
the bundle's, with its state explicit: the label's input vector (an embedding row, or for
one-hot labels a row of ``[0; I]``, whose row 0 is the zero vector of the start symbol), then
an ``LSTMCell`` with the ``prediction_lstm`` weights; ``g`` is the new ``h``. The joint network
is ``log_softmax(tanh(enc W_e + b + g W_p) W_o + b_o)`` for one frame and one ``g`` per row,
from the ``transducer_joint`` weights. Decoding starts from ``h = c = 0`` and label 0; the
blank is class 0 (``models.transducer_decoding``).

Keras is imported by the caller (``keras`` is passed in), so this module loads without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lstmrec.features.errors import DataError
from lstmrec.inference.decoder import TRANSDUCER_SYMBOLS_PER_FRAME
from lstmrec.inference.exported import load_exported, tensor, transducer_artifact
from lstmrec.models.decoding import BLANK

CHECK_ROWS = 8  # rows of the joint network's check (the prediction's: every label once)
START = (
    "the prediction network starts from h = c = 0 fed label 0 (the blank's index, the start "
    "symbol); each emitted label is fed next, its g and state replacing the previous ones"
)


def transducer_networks(keras, model, fmt: str) -> dict[str, tuple]:
    """``{network: (Keras model, inputs, outputs)}`` for the encoder, prediction and joint
    networks of a ``models.transducer.transducer_model``, with their tensors as ``export.json``
    describes them (``exported.tensor``); each model's outputs are a dict, so every format
    keeps their names. The LiteRT encoder takes one utterance per call (as a CTC network)."""
    from lstmrec.models.transducer import split_transducer

    t = split_transducer(model)
    dim = t.encoder.inputs[0].shape[-1]
    enc_dim = t.encoder.outputs[0].shape[-1]
    kernel, recurrent, bias = t.predictor.get_layer("prediction_lstm").get_weights()
    units = recurrent.shape[0]
    out_kernel, out_bias = t.joint.get_layer("joint_logits").get_weights()
    classes = out_kernel.shape[1]
    batch = 1 if fmt == "litert" else "batch"  # the LSTM loops need it static in LiteRT
    encoder = keras.Model(t.encoder.inputs, {"enc": t.encoder.outputs[0]}, name="encoder")
    state = [tensor("h", ["batch", units]), tensor("c", ["batch", units])]
    return {
        "encoder": (
            encoder,
            [tensor("features", [batch, "time", dim]), tensor("lengths", [batch], "int32")],
            [tensor("enc", [batch, "time", enc_dim])],
        ),
        "prediction": (
            _prediction_step(keras, t.predictor, classes, units),
            [tensor("label", ["batch"], "int32"), *state],
            [tensor("g", ["batch", units])]
            + [tensor(f"{s['name']}_next", s["shape"]) for s in state],
        ),
        "joint": (
            _joint_step(keras, t.joint, enc_dim, units),
            [tensor("enc", ["batch", enc_dim]), tensor("g", ["batch", units])],
            [tensor("log_probs", ["batch", classes])],
        ),
    }


def _prediction_step(keras, predictor, classes: int, units: int):
    """``[label (B,), h (B, H_p), c (B, H_p)] -> {g, h_next, c_next}``: one step of the
    prediction network, from its weights."""
    names = [layer.name for layer in predictor.layers]
    if "embedding" in names:
        table = predictor.get_layer("embedding").get_weights()[0]  # (V + 1, E), row 0: start
    else:  # one-hot labels 1..V; the start symbol 0 is the zero vector (models.transducer)
        table = np.vstack([np.zeros((1, classes - 1)), np.eye(classes - 1)])  # (V + 1, V)
    label = keras.Input(shape=(), dtype="int32", name="label")
    h = keras.Input(shape=(units,), name="h")
    c = keras.Input(shape=(units,), name="c")
    vectors = keras.layers.Embedding(classes, table.shape[1], name="label_vector")
    cell = keras.layers.LSTMCell(units, name="prediction_lstm")
    g, (h_next, c_next) = cell(vectors(label), [h, c])  # (B, H_p) each
    step = keras.Model(
        [label, h, c], {"g": g, "h_next": h_next, "c_next": c_next}, name="prediction"
    )
    vectors.set_weights([table.astype(np.float32)])
    cell.set_weights(predictor.get_layer("prediction_lstm").get_weights())
    return step


def _joint_step(keras, joint, enc_dim: int, units: int):
    """``[enc (B, H_e), g (B, H_p)] -> {log_probs (B, V + 1)}``: the joint network for one
    frame and one prediction output per row, from its weights."""
    enc = keras.Input(shape=(enc_dim,), name="enc")
    g = keras.Input(shape=(units,), name="g")
    layers = {}
    for name in ("joint_enc", "joint_pred", "joint_logits"):
        source = joint.get_layer(name)
        layers[name] = keras.layers.Dense(source.units, use_bias=source.use_bias, name=name)
    hidden = keras.layers.Add(name="joint_sum")([layers["joint_enc"](enc), layers["joint_pred"](g)])
    hidden = keras.layers.Activation("tanh", name="joint_tanh")(hidden)  # (B, J)
    logits = layers["joint_logits"](hidden)  # (B, V + 1)
    log_probs = keras.layers.Activation("log_softmax", name="log_probs")(logits)
    step = keras.Model([enc, g], {"log_probs": log_probs}, name="joint")
    for name, layer in layers.items():
        layer.set_weights(joint.get_layer(name).get_weights())
    return step


def transducer_record(networks: dict[str, tuple], fmt: str) -> dict:
    """What ``export.json`` says about the three artifacts (without the check)."""
    return {
        "artifacts": {
            name: {"file": transducer_artifact(fmt, name), "inputs": inputs, "outputs": outputs}
            for name, (_, inputs, outputs) in networks.items()
        },
        "blank": BLANK,
        "start": START,
        "greedy": {
            "max_symbols_per_frame": TRANSDUCER_SYMBOLS_PER_FRAME,
            "note": "lstmrec transcribe --beam 0 emits at most this many labels on one frame",
        },
    }


def check_transducer(model, folder: Path, tolerance: float) -> dict:
    """Run the prediction and joint artifacts in ``folder`` by their runtime on random rows (the
    prediction: every label once, the start symbol included) and compare them with the NumPy
    networks of ``model``'s weights (``models.transducer.numpy_step``, float64); DataError past
    ``tolerance``. (The encoder is checked like a CTC network.)"""
    from lstmrec.models.transducer import numpy_step, split_transducer

    reference = numpy_step(split_transducer(model))
    lstm, dense = reference.predict, reference.joint
    exported = load_exported(folder)
    rng = np.random.default_rng(0)
    classes = dense.out_kernel.shape[1]
    labels = np.arange(classes, dtype=np.int32)  # (B,)
    h = rng.uniform(-1, 1, (classes, lstm.units)).astype(np.float32)  # (B, H_p)
    c = rng.standard_normal((classes, lstm.units)).astype(np.float32)
    got = exported.run_prediction({"label": labels, "h": h, "c": c})
    want = [lstm((h[b], c[b]), int(k)) for b, k in enumerate(labels)]  # [(g, (h, c))]
    diff = {"prediction": max(
        _diff(got["g"], [g for g, _ in want]),
        _diff(got["h_next"], [s[0] for _, s in want]),
        _diff(got["c_next"], [s[1] for _, s in want]),
    )}  # fmt: skip
    enc = rng.uniform(-1, 1, (CHECK_ROWS, dense.enc_kernel.shape[0])).astype(np.float32)
    g = rng.uniform(-1, 1, (CHECK_ROWS, lstm.units)).astype(np.float32)
    got = exported.run_joint({"enc": enc, "g": g})["log_probs"]
    diff["joint"] = _diff(got, [dense(e, p) for e, p in zip(enc, g, strict=True)])
    for name, value in diff.items():
        if not value <= tolerance:  # NaN fails too
            raise DataError(
                f"the exported {name} network differs from the model's by {value:.3g} "
                f"(more than {tolerance:g})"
            )
    rows = {"prediction": len(labels), "joint": CHECK_ROWS}
    return {
        name: {"rows": rows[name], "max_abs_diff": value, "against": "the NumPy networks"}
        for name, value in diff.items()
    }


def _diff(got: np.ndarray, want: list[np.ndarray]) -> float:
    return float(np.abs(np.asarray(got, dtype=np.float64) - np.stack(want)).max())
