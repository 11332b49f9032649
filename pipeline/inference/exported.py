"""Running an artifact written by ``lstmrec export`` (:mod:`lstmrec.inference.export`) with its
own runtime: TensorFlow's SavedModel loader, ONNX Runtime or the LiteRT interpreter.

:func:`load_exported` gives, for a CTC export, an object with the NumPy engine's
``predict_on_batch``, so the artifact decodes, benchmarks and compares like a bundle's model
(:func:`lstmrec.inference.decoder.predict_logits` takes it); for a transducer export, an object
with a ``TransducerNetwork``'s ``predict_on_batch`` (encoder outputs) and ``step`` (prediction
and joint networks), which the transducer decoders of ``models.transducer_decoding`` take. No
Keras here: only the runtime of the artifact's format is imported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lstmrec.features.errors import DataError
from lstmrec.models.transducer_decoding import TransducerStep

FORMATS = ("savedmodel", "onnx", "litert")
ARTIFACTS = {"savedmodel": "saved_model", "onnx": "model.onnx", "litert": "model.tflite"}
# The name of the logits in each artifact: Keras' own for the SavedModel signature and LiteRT.
OUTPUT_NAMES = {"savedmodel": "output_0", "onnx": "logits", "litert": "output_0"}
SIGNATURE = "serving_default"  # the SavedModel's and the LiteRT model's signature
SIDE_FILES = ("features.json", "cmvn.npz", "symbols.txt")  # copied from the bundle
EXPORT_FILE = "export.json"
# A transducer export: one artifact per network, named for it ("encoder/" a SavedModel folder).
NETWORKS = ("encoder", "prediction", "joint")
SUFFIXES = {"savedmodel": "", "onnx": ".onnx", "litert": ".tflite"}

# Named input arrays -> named output arrays, through one artifact's runtime.
Runner = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def tensor(name: str, shape: list, dtype: str = "float32") -> dict:
    """How ``export.json`` describes an artifact's input or output: ``shape`` holds sizes, or
    names (``"batch"``, ``"time"``) for the free dimensions."""
    return {"name": name, "shape": list(shape), "dtype": dtype}


def transducer_artifact(fmt: str, network: str) -> str:
    """The file (a folder for a SavedModel) of one network of a ``fmt`` transducer export."""
    return network + SUFFIXES[fmt]


class ExportedModel:
    """An exported network of ``[features, lengths]`` run by its runtime.

    ``predict_on_batch([features (B, T, F) float32, lengths (B,) int32])`` returns its output
    ``output`` (logits ``(B, T, V + 1)`` for CTC, a transducer's encoder outputs ``(B, T, H_e)``)
    as float32; frames past a row's length are zero for a LiteRT artifact (it runs each row
    alone, trimmed to its length) and meaningless for the others.
    """

    def __init__(self, fmt: str, run: Runner, *, batch: int | None, output: str) -> None:
        self.format = fmt
        self.batch = batch  # None: any batch; 1: one utterance per call (LiteRT)
        self.output = output
        self._run = run

    def _call(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return np.asarray(self._run({"features": x, "lengths": lengths})[self.output])

    def predict_on_batch(self, inputs) -> np.ndarray:
        x, lengths = inputs
        x = np.ascontiguousarray(x, dtype=np.float32)  # (B, T, F)
        lengths = np.asarray(lengths, dtype=np.int32)  # (B,)
        if self.batch is None:
            return self._call(x, lengths).astype(np.float32)
        rows = []
        for row, n in zip(x, lengths, strict=True):
            out = self._call(np.ascontiguousarray(row[None, :n]), n[None])  # (1, n, C)
            rows.append(np.pad(out[0], ((0, x.shape[1] - n), (0, 0))))  # (T, C)
        return np.stack(rows).astype(np.float32)  # (B, T, C)


class ExportedTransducer:
    """The three networks of a transducer export, run by their runtime, shaped like
    ``models.numpy_transducer.TransducerNetwork`` for the decoders.

    ``predict_on_batch([features (B, T, F), lengths (B,)])`` gives the encoder outputs
    ``(B, T, H_e)`` float32 (as :class:`ExportedModel`). ``step`` is a
    ``models.transducer_decoding.TransducerStep``: ``predict(state, label)`` runs the
    prediction artifact on one label (the state is ``(h (1, H_p), c (1, H_p))`` float32, zero
    at the start, where label 0 is fed) and returns ``(g (H_p,), new state)``;
    ``joint(enc_t (H_e,), g (H_p,))`` runs the joint artifact and returns the ``(V + 1,)``
    natural-log probabilities, the blank at 0.
    """

    kind = "transducer"

    def __init__(self, fmt: str, runs: dict[str, Runner], *, batch, units: int, classes: int):
        self.format = fmt
        self.encoder = ExportedModel(fmt, runs["encoder"], batch=batch, output="enc")
        self.batch = self.encoder.batch
        self.run_prediction, self.run_joint = runs["prediction"], runs["joint"]  # Runners
        zeros = np.zeros((1, units), np.float32)
        self.step = TransducerStep(self.predict, self.joint, (zeros, zeros))
        self.output_shape = (None, None, classes)

    def predict_on_batch(self, inputs) -> np.ndarray:
        return self.encoder.predict_on_batch(inputs)

    def predict(self, state, label: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        h, c = state
        out = self.run_prediction({"label": np.array([label], np.int32), "h": h, "c": c})
        return np.asarray(out["g"])[0], (np.asarray(out["h_next"]), np.asarray(out["c_next"]))

    def joint(self, enc_t: np.ndarray, g: np.ndarray) -> np.ndarray:
        enc = np.asarray(enc_t, dtype=np.float32)[None]  # (1, H_e)
        g = np.asarray(g, dtype=np.float32)[None]  # (1, H_p)
        return np.asarray(self.run_joint({"enc": enc, "g": g})["log_probs"])[0]  # (V + 1,)


def load_exported(folder: str | os.PathLike) -> ExportedModel | ExportedTransducer:
    """The artifact(s) of an export folder (its ``export.json`` says which), loaded by their
    runtime: an :class:`ExportedModel` for a CTC export, an :class:`ExportedTransducer` for a
    transducer export.

    Raises :class:`DataError` when the folder is not an export, its runtime is missing, or an
    artifact is missing or cannot be loaded (a damaged file)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / EXPORT_FILE).read_text(encoding="utf-8"))
        fmt, kind = meta["format"], meta.get("kind", "ctc")
        if kind == "transducer":
            nets = meta["artifacts"]
            files = {name: folder / nets[name]["file"] for name in NETWORKS}
            batch = nets["encoder"]["inputs"][0]["shape"][0]
            units = nets["prediction"]["inputs"][1]["shape"][-1]
            classes = nets["joint"]["outputs"][0]["shape"][-1]
        else:
            files = {"model": folder / meta["artifact"]}
            batch = meta["inputs"][0]["shape"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        raise DataError(f"not an export folder ({EXPORT_FILE}: {e})", folder) from None
    if fmt not in FORMATS:
        raise DataError(f"{EXPORT_FILE} names an unknown format {fmt!r}", folder)
    loader = {"savedmodel": _savedmodel, "onnx": _onnx, "litert": _litert}[fmt]
    for path in files.values():
        if not path.exists():
            raise DataError(f"the {fmt} artifact named in {EXPORT_FILE} is missing", path)
    runs = {}
    for name, path in files.items():
        try:
            runs[name] = loader(path)
        except ImportError as e:
            raise DataError(f"running a {fmt} artifact needs {e.name}", folder) from None
        except Exception as e:  # each runtime has its own errors for a damaged file
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DataError(f"cannot load the {fmt} artifact ({first})", path) from None
    batch = 1 if batch == 1 else None
    if kind == "transducer":
        return ExportedTransducer(fmt, runs, batch=batch, units=units, classes=classes)
    return ExportedModel(fmt, runs["model"], batch=batch, output=OUTPUT_NAMES[fmt])


def _savedmodel(path: Path) -> Runner:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures[SIGNATURE]

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = serve(**{name: tf.constant(value) for name, value in inputs.items()})
        return {name: value.numpy() for name, value in out.items()}

    run.loaded = loaded  # the signature needs the loaded object (its variables) alive
    return run


def _onnx(path: Path) -> Runner:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, inputs), strict=True))

    return run


def _litert(path: Path) -> Runner:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner(SIGNATURE)

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return runner(**inputs)

    return run
