"""Export of a bundle's acoustic model to a standalone artifact, for programs without lstmrec.

::

    OUT/
      saved_model/   (savedmodel)   a TensorFlow SavedModel, signature "serving_default"
      model.onnx     (onnx)         an ONNX graph (opset chosen by tf2onnx)
      model.tflite   (litert)       a LiteRT (TensorFlow Lite) flatbuffer, built-in ops only
      features.json  cmvn.npz  symbols.txt   the bundle's own files, copied byte for byte
      export.json    what the artifact is: its file, input and output names and shapes, the
                     batch it takes, and the largest logit difference measured at export

The network is ``[features (B, T, F) float32, lengths (B,) int32] -> logits (B, T, V + 1)``
(blank = class 0), with B and T free; the LiteRT artifact takes B = 1 (see below). Features are
the bundle's (``features.json``), normalised with ``cmvn.npz``: ``(x - mean) / std``.

The ONNX and LiteRT artifacts are written by Keras' own ``Model.export``; what it needed here:

- SavedModel: written with TensorFlow's ``tf.saved_model.save`` instead, as Keras' export
  stores every weight twice (see :func:`_save_savedmodel`);
- an explicit input signature: a model loaded from ``model.keras`` has never been called, and
  Keras then refuses to infer one for ONNX ("The model provided has never called");
- LiteRT: Keras' converter settings allow TensorFlow ops (Flex), which the standalone LiteRT
  interpreter cannot run; with built-in ops only, the converter lowers the LSTM loops only when
  the batch dimension is static, so the LiteRT artifact takes one utterance at a time;
- ONNX: tf2onnx names the output ``Identity:0`` and the free dimensions ``unk__N``; they are
  renamed ``logits``, ``batch`` and ``time``;
- the network is traced with the GPU hidden: on a GPU, Keras' TensorFlow LSTM records cuDNN
  kernels, which neither converter nor a CPU runtime accepts.

Before the artifact is moved into place it is run by its own runtime on two utterances of
different lengths and its logits are compared with the Keras model's (``CHECK_TOLERANCE``).

A transducer bundle gives three artifacts of the format, one per network (encoder, one step of
the prediction network, joint network), written and checked the same way
(:mod:`lstmrec.inference.export_transducer`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lstmrec import __version__
from lstmrec.backend import held_stderr, import_keras
from lstmrec.bundle import load_bundle, read_bundle_meta
from lstmrec.features.errors import DataError
from lstmrec.features.files import atomic_dir, complete_dir, file_in_the_way, write_json
from lstmrec.inference.export_transducer import (
    check_transducer,
    transducer_networks,
    transducer_record,
)
from lstmrec.inference.exported import (
    ARTIFACTS,
    EXPORT_FILE,
    FORMATS,
    OUTPUT_NAMES,
    SIDE_FILES,
    SIGNATURE,
    load_exported,
    tensor,
    transducer_artifact,
)
from lstmrec.models.numpy_transducer import ENCODER

# The Python modules each format needs beyond TensorFlow, to write the artifact and to run it
# (the check at export), with the PyPI package that brings each.
NEEDS = {
    "savedmodel": (),
    "onnx": (("tf2onnx", "tf2onnx"), ("onnx", "onnx"), ("onnxruntime", "onnxruntime")),
    "litert": (("ai_edge_litert", "ai-edge-litert"),),
}
EXTRA = "pip install 'lstmrec[export]'"
CHECK_LENGTHS = (23, 41)  # frames of the two random utterances of the check, in one batch
CHECK_TOLERANCE = 1e-3  # largest |logit difference| accepted against the Keras model


def check_request(model: str | os.PathLike, fmt: str, out: str | os.PathLike) -> Path:
    """Refuse (:class:`DataError`) an export that cannot be done, before anything is loaded:
    an unknown ``fmt``, an ``out`` that exists and is not an empty folder or lies under a file, a
    missing optional package, a folder that is not a bundle. Returns the bundle's folder."""
    if fmt not in FORMATS:
        raise DataError(f"unknown export format {fmt!r} (choose {', '.join(FORMATS)})")
    out = Path(out)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise DataError("--out exists and is not an empty folder; choose a new one", out)
    blocking = file_in_the_way(out)
    if blocking is not None:
        raise DataError(f"is a file, so --out {out} cannot be made inside it", blocking)
    path = complete_dir(model) or Path(model)
    read_bundle_meta(path)
    missing = [pip for module, pip in NEEDS[fmt] if not _importable(module)]
    if missing:
        raise DataError(f"--format {fmt} needs {' and '.join(missing)}: {EXTRA}")
    return path


def _importable(module: str) -> bool:
    """Whether ``module`` is installed (found, not imported: tf2onnx would import TensorFlow)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def export_bundle(
    model: str | os.PathLike,
    fmt: str,
    out: str | os.PathLike,
    *,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Write ``model``'s network as a ``fmt`` artifact (one of :data:`FORMATS`; a transducer's
    three networks as three artifacts) with the bundle's feature settings, CMVN and symbols to
    the new folder ``out``, atomically.

    ``log`` gets a line as the export starts. Returns what ``export.json`` holds. Raises
    :class:`DataError` for the refusals of :func:`check_request`, a TensorFlow backend that is
    not the active one, a conversion that fails, or an artifact whose outputs differ from the
    model's by more than :data:`CHECK_TOLERANCE`.
    """
    path = check_request(model, fmt, out)
    out = Path(out)
    keras = _tensorflow_keras()
    bundle = load_bundle(path, engine="keras")
    say = log or (lambda line: None)
    say(f"exporting {path} to {fmt}")
    with atomic_dir(out) as tmp:
        if bundle.kind == "transducer":
            networks = transducer_networks(keras, bundle.model.keras_model, fmt)
            for name, (network, inputs, outputs) in networks.items():
                target = tmp / transducer_artifact(fmt, name)
                _write_artifact(keras, network, fmt, target, inputs, outputs)
            record = {**_record(bundle, fmt, path), **transducer_record(networks, fmt)}
        else:
            inputs, outputs = _ctc_tensors(bundle, fmt)
            _write_artifact(keras, bundle.model, fmt, tmp / ARTIFACTS[fmt], inputs, outputs)
            record = {**_record(bundle, fmt, path), "artifact": ARTIFACTS[fmt],
                      "inputs": inputs, "output": {**outputs[0], "blank": 0}}  # fmt: skip
        for name in SIDE_FILES:
            shutil.copyfile(path / name, tmp / name)
        write_json(tmp / EXPORT_FILE, record)
        with held_stderr():  # the LiteRT interpreter's start-up line
            record["check"] = _checks(bundle, tmp)
        write_json(tmp / EXPORT_FILE, record)
        # Nothing a user made is overwritten: refuse a folder that filled up meanwhile.
        if out.exists() and any(out.iterdir()):
            raise DataError("--out was written to during the export; choose a new one", out)
    return record


def _tensorflow_keras():
    """Keras on TensorFlow with the GPU hidden (see the module docstring), or DataError."""
    keras = import_keras()
    if keras.backend.backend() != "tensorflow":
        raise DataError(
            f"export needs the TensorFlow backend (KERAS_BACKEND is {keras.backend.backend()})"
        )
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # the runtime has started: hiding is too late, unless none is there
        if tf.config.list_logical_devices("GPU"):
            raise DataError(
                "export traces the network on the CPU: run it in a process that has not used "
                "the GPU (or with CUDA_VISIBLE_DEVICES=)"
            ) from None
    return keras


def _write_artifact(
    keras, model, fmt: str, target: Path, inputs: list[dict], outputs: list[dict]
) -> None:
    """``model.export`` to ``target`` with the signature and settings ``fmt`` needs (a
    SavedModel: :func:`_save_savedmodel`). ``inputs`` and ``outputs`` describe the tensors as
    ``export.json`` does (``exported.tensor``); a dimension given as a name is free."""
    import tensorflow as tf

    signature = [
        [
            keras.InputSpec(shape=_static(t["shape"]), dtype=t["dtype"], name=t["name"])
            for t in inputs
        ]
    ]
    options = {}
    if fmt == "litert":  # built-in ops only: no Flex delegate in the standalone interpreter
        options["target_spec"] = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    try:
        with held_stderr():
            if fmt == "savedmodel":
                _save_savedmodel(model, target, inputs)
            else:
                model.export(
                    str(target), format=fmt, verbose=False, input_signature=signature, **options
                )
    except (ValueError, TypeError, RuntimeError, NotImplementedError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"cannot export to {fmt} ({type(e).__name__}: {first})") from None
    if fmt == "onnx":
        _name_onnx(target, inputs, outputs)


def _static(shape: list) -> tuple:
    return tuple(d if isinstance(d, int) else None for d in shape)


def _save_savedmodel(model, target: Path, inputs: list[dict]) -> None:
    """The SavedModel, written by TensorFlow: a module holding the model's TensorFlow variables
    and a ``serving_default`` function of the ``inputs`` returning the model's outputs by name
    (a model of one unnamed output: ``output_0``, as Keras names it).

    Keras' ``Model.export(format="tf_saved_model")`` writes the same signature but stores every
    weight twice (once for each Keras variable, once for the TensorFlow variable it wraps, which
    the traced function captures): twice the size on disk and in memory once loaded. Here the
    module tracks the very variables the function captures, so each is stored once.
    """
    import tensorflow as tf

    signature = [
        tf.TensorSpec(_static(t["shape"]), t["dtype"], name=t["name"]) for t in inputs
    ]  # the TensorSpec names are the signature's input names

    @tf.function(input_signature=signature)
    def serve(*args):
        out = model(list(args), training=False)
        return out if isinstance(out, dict) else {OUTPUT_NAMES["savedmodel"]: out}

    module = tf.Module()
    module.weights = [v.value for v in model.weights]  # the TensorFlow variables
    module.serve = serve
    tf.saved_model.save(module, str(target), signatures={SIGNATURE: serve})


def _name_onnx(path: Path, inputs: list[dict], outputs: list[dict]) -> None:
    """Name the ONNX graph's free dimensions as ``inputs`` and ``outputs`` do (tf2onnx writes
    ``unk__N``), and its one output as ``outputs`` does (tf2onnx writes ``Identity:0`` for a
    model of one unnamed output; a model's named outputs keep their names)."""
    import onnx

    graph_model = onnx.load(str(path))
    graph = graph_model.graph
    if len(graph.output) == 1 and graph.output[0].name != outputs[0]["name"]:
        (output,) = graph.output
        old, new = output.name, outputs[0]["name"]
        for node in graph.node:
            node.output[:] = [new if n == old else n for n in node.output]
        output.name = new
    shapes = {t["name"]: t["shape"] for t in (*inputs, *outputs)}
    for value in (*graph.input, *graph.output):
        for dim, size in zip(value.type.tensor_type.shape.dim, shapes[value.name], strict=True):
            if isinstance(size, str):
                dim.dim_param = size
    onnx.checker.check_model(graph_model)
    onnx.save(graph_model, str(path))


def _ctc_tensors(bundle, fmt: str) -> tuple[list[dict], list[dict]]:
    """The CTC network's inputs and output (the LiteRT artifact takes one utterance a call)."""
    dim, classes = bundle.features.dim, len(bundle.symbols)
    batch = 1 if fmt == "litert" else "batch"
    inputs = [
        tensor("features", [batch, "time", dim]),
        tensor("lengths", [batch], "int32"),
    ]
    return inputs, [tensor(OUTPUT_NAMES[fmt], [batch, "time", classes])]


def _record(bundle, fmt: str, path: Path) -> dict:
    """What ``export.json`` says about any export (without the artifacts and the check)."""
    import keras
    import tensorflow as tf

    return {
        "format": fmt,
        "kind": bundle.kind,
        "features_dim": bundle.features.dim,
        "features": "features.json",
        "cmvn": "cmvn.npz (mean, std): features are (x - mean) / std",
        "symbols": "symbols.txt (line n holds class n - 1; line 1, class 0, is the blank)",
        "bundle": str(path),
        "versions": {
            "lstmrec": __version__,
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
        },
    }


def _checks(bundle, folder: Path) -> dict:
    """The check of the artifact(s) in ``folder``: a CTC network's (:func:`_check`), or a
    transducer's encoder (the same) and its other two networks
    (``export_transducer.check_transducer``), with the largest difference of all."""
    if bundle.kind != "transducer":
        return _check(bundle.model, folder, bundle.features.dim, "logits")
    model = bundle.model.keras_model
    check = {"encoder": _check(model.get_layer(ENCODER), folder, bundle.features.dim,
                               "encoder outputs")}  # fmt: skip
    check.update(check_transducer(model, folder, CHECK_TOLERANCE))
    return {**check, "max_abs_diff": max(part["max_abs_diff"] for part in check.values())}


def _check(model, folder: Path, dim: int, what: str) -> dict:
    """Run the artifact in ``folder`` (a transducer's encoder) on two random utterances of
    :data:`CHECK_LENGTHS` frames, padded into one batch, and compare its output (``what``) with
    ``model``'s; DataError past the tolerance."""
    rng = np.random.default_rng(0)
    lengths = np.array(CHECK_LENGTHS, dtype=np.int32)
    x = rng.standard_normal((len(lengths), lengths.max(), dim)).astype(np.float32)  # (B, T, F)
    x[0, lengths[0] :] = 0.0  # padding, as predict_logits pads
    want = np.asarray(model.predict_on_batch([x, lengths]))  # (B, T, C)
    got = load_exported(folder).predict_on_batch([x, lengths])
    diff = max(float(np.abs(got[b, :n] - want[b, :n]).max()) for b, n in enumerate(lengths))
    if not diff <= CHECK_TOLERANCE:  # NaN fails too
        raise DataError(
            f"the exported artifact's {what} differ from the model's by {diff:.3g} "
            f"(more than {CHECK_TOLERANCE:g})"
        )
    return {"lengths": lengths.tolist(), "max_abs_diff": diff, "against": "the Keras model"}


def artifact_size(folder: str | os.PathLike) -> int:
    """Bytes on disk of the artifact(s) of an export folder (a SavedModel: all its files)."""
    meta = json.loads((Path(folder) / EXPORT_FILE).read_text(encoding="utf-8"))
    if meta.get("kind", "ctc") == "transducer":
        targets = [Path(folder) / a["file"] for a in meta["artifacts"].values()]
    else:
        targets = [Path(folder) / meta["artifact"]]
    files = [p for t in targets for p in ([t] if t.is_file() else t.rglob("*")) if p.is_file()]
    return sum(p.stat().st_size for p in files)
