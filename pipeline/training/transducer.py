"""What training does differently for each ``[model] kind``: the networks and trainer it builds,
starting from another bundle's weights (``--init-from``), and the RNN transducer's prediction
network pretrained as a label language model (Graves, Mohamed & Hinton 2013, "PreTrans")."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from lstmrec.features.errors import DataError
from lstmrec.models.blstm import build_model
from lstmrec.models.ctc import CTCTrainer
from lstmrec.models.transducer import (
    TransducerTrainer,
    build_transducer,
    copy_encoder_weights,
    decoding_network,
    is_transducer,
)
from lstmrec.padding import pad_labels

Log = Callable[[str], None]


def build_trainer(recipe, num_classes: int, reduction: str):
    """The trainer of ``recipe.model``: a ``CTCTrainer`` or a ``TransducerTrainer``. Its
    ``acoustic_model`` is what checkpoints and the bundle hold."""
    m = recipe.model
    shape = dict(
        input_dim=recipe.features.dim,
        num_classes=num_classes,
        num_layers=m.num_layers,
        units=m.units,
        dropout=m.dropout,
        cell=m.cell,
    )
    if m.kind == "ctc":
        model = build_model(**shape, direction=m.direction, conv=m.conv)
        return CTCTrainer(model, reduction=reduction)
    transducer = build_transducer(
        **shape,
        pred_units=m.pred_units,
        joint_units=m.joint_units,
        embed_dim=m.embed_dim or None,
    )
    return TransducerTrainer(transducer, reduction=reduction)


def decodable(model):
    """What the decoders take for a trained acoustic model: the model itself for CTC, the
    NumPy step functions around it for a transducer."""
    return decoding_network(model) if is_transducer(model) else model


def check_init_from(path: str | os.PathLike, recipe) -> Path:
    """The bundle folder ``--init-from`` names (a folder, or a shipped model's name), once its
    files are there and its features are the recipe's; :class:`DataError` otherwise. Cheap (no
    weights are read), so training checks it before computing any feature."""
    from lstmrec.bundle import read_bundle_meta
    from lstmrec.shipped import resolve_model

    try:
        path = resolve_model(path)
        _, features, _ = read_bundle_meta(path)
    except DataError as e:
        raise DataError(f"--init-from: {e.reason}", e.path) from None
    if features != recipe.features:
        theirs, ours = features.to_dict(), recipe.features.to_dict()
        differ = [
            f"{k} = {theirs.get(k)!r} in the bundle, {ours.get(k)!r} in the recipe"
            for k in sorted(theirs.keys() | ours.keys())
            if theirs.get(k) != ours.get(k)
        ]
        raise DataError(
            f"--init-from: the bundle's features are not this recipe's ({'; '.join(differ)}; "
            "--set features.<name>=<value> makes them match)",
            path,
        )
    return path


def init_from(trainer, path: str | os.PathLike, recipe, symbols, log: Log) -> None:
    """Start ``trainer`` from the weights of the bundle at ``path``: a transducer's encoder from
    a CTC bundle's BLSTM layers (or a transducer bundle's encoder), a CTC model from a CTC
    bundle of the same classes. Raises :class:`DataError` when the two do not fit."""
    from lstmrec.bundle import load_bundle

    path = check_init_from(path, recipe)
    bundle = load_bundle(path, engine="keras")
    source = getattr(bundle.model, "keras_model", bundle.model)
    try:
        if recipe.model.kind == "transducer":
            encoder = source.get_layer("transducer_encoder") if is_transducer(source) else source
            copy_encoder_weights(encoder, trainer.encoder)
            what = "encoder"
        elif bundle.kind != "ctc" or bundle.symbols.to_list() != symbols.to_list():
            raise ValueError("a CTC model starts from a CTC bundle with the same symbols")
        else:
            trainer.acoustic_model.set_weights(source.get_weights())
            what = "weights"
    except ValueError as e:
        raise DataError(f"--init-from: {e}", path) from None
    rate = bundle.summary.get("dev_error_rate")
    shown = f"{rate:.2f} %" if isinstance(rate, (int, float)) else "n/a"
    log(f"{what} initialised from {path} (its dev error rate: {shown})")


def pretrain_prediction(
    trainer, labels: Sequence[np.ndarray], num_classes: int, cfg, log: Log
) -> list[float]:
    """Train the transducer's prediction network alone, as a language model of the training
    label sequences, for ``cfg.prediction_pretrain_epochs`` epochs: at each position it predicts
    the next label, and after the last one the blank (the end). A softmax layer over its outputs
    is trained with it and then dropped. Returns the per-label loss (nats) of each epoch."""
    epochs = cfg.prediction_pretrain_epochs
    if epochs <= 0:
        return []
    y, lengths = pad_labels(list(labels), multiple=cfg.label_pad_multiple or cfg.pad_multiple)
    width = y.shape[1]
    # Position u (after u labels) predicts label u + 1, or 0 (the blank) at u = length.
    targets = np.zeros((len(y), width + 1), dtype=np.int32)
    targets[:, :width] = y
    weights = (np.arange(width + 1)[None, :] <= lengths[:, None]).astype(np.float32)
    labels_in = keras.Input(shape=(None,), dtype="int32")
    head = keras.layers.Dense(num_classes, name="pretrain_softmax")
    lm = keras.Model(labels_in, head(trainer.predictor(labels_in)))
    lm.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[],
    )
    history = lm.fit(
        y,
        targets,
        sample_weight=weights,
        batch_size=cfg.batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=0,
    )
    # Keras averages the weighted loss over all positions; per label it is that times the share.
    share = weights.size / weights.sum()
    losses = [float(v) * share for v in history.history["loss"]]
    log(
        "prediction network pretrained as a label LM: "
        + ", ".join(f"epoch {i + 1} {v:.3f} nats/label" for i, v in enumerate(losses))
    )
    return losses
