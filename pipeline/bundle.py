"""The model bundle: everything transcription and evaluation need, in one directory.

::

    model/
      model.keras      the Keras acoustic model: (features, lengths -> logits) for CTC, or the
                       three networks of an RNN transducer (models.transducer.transducer_model)
      features.json    the feature settings the model was trained with: audio FeatureConfig, or
                       InkFeatureConfig ("kind": "ink") for a handwriting model
      symbols.txt      the symbol table (line 1 is the CTC blank; "<space>" is a word gap)
      cmvn.npz         mean and std of the training features
      summary.json     format version, recipe, metrics, data hash, training history

A bundle is written to a temporary folder and swapped into place
(:func:`lstmrec.features.files.atomic_dir`), so a reader never sees half a bundle, and at every
moment the old or the new complete bundle is there.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from lstmrec.backend import import_keras
from lstmrec.config import AnyFeatureConfig, feature_config_from_dict
from lstmrec.features.errors import DataError
from lstmrec.features.files import atomic_dir, complete_dir
from lstmrec.models.numpy_blstm import load_numpy_model
from lstmrec.phones import SymbolTable

BUNDLE_FORMAT = 1  # bumped whenever a reader of the old layout would misread the new one
BUNDLE_FILES = ("model.keras", "features.json", "symbols.txt", "cmvn.npz", "summary.json")


@dataclasses.dataclass
class Bundle:
    model: Any  # keras.Model
    features: AnyFeatureConfig
    symbols: SymbolTable
    mean: np.ndarray  # (F,) float32
    std: np.ndarray  # (F,) float32
    summary: dict

    @property
    def kind(self) -> str:
        """``"ctc"`` or ``"transducer"`` (then ``model`` is a
        ``models.numpy_transducer.TransducerNetwork`` once loaded)."""
        return self.summary.get("recipe", {}).get("model", {}).get("kind", "ctc")


def save_bundle(path: str | os.PathLike, bundle: Bundle) -> None:
    """Write ``bundle`` to the directory ``path`` atomically."""
    with atomic_dir(path) as tmp:
        bundle.model.save(tmp / "model.keras")
        features = bundle.features.to_dict()
        (tmp / "features.json").write_text(_json(features), encoding="utf-8")
        bundle.symbols.save(tmp / "symbols.txt")
        np.savez(tmp / "cmvn.npz", mean=bundle.mean, std=bundle.std)
        summary = {**bundle.summary, "format": BUNDLE_FORMAT}
        (tmp / "summary.json").write_text(_json(summary), encoding="utf-8")


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def read_bundle_meta(path: str | os.PathLike) -> tuple[dict, AnyFeatureConfig, SymbolTable]:
    """Summary, feature settings and symbols of a bundle, without loading Keras."""
    path = Path(path)
    # A writer that died in the middle of replacing a bundle left the complete one beside it.
    path = complete_dir(path) or path
    if not path.is_dir():
        raise DataError("model bundle not found (expected a directory)", path)
    missing = [name for name in BUNDLE_FILES if not (path / name).is_file()]
    if missing:
        raise DataError(f"not a model bundle: missing {', '.join(missing)}", path)
    try:
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
        if not isinstance(summary, dict):
            raise TypeError("summary.json is not a JSON object")
        # The format first: a newer layout's other files may not parse with this version.
        if summary.get("format") != BUNDLE_FORMAT:
            raise DataError(
                f"bundle format {summary.get('format')!r} is not the format {BUNDLE_FORMAT} "
                "this version of lstmrec reads; retrain or use a matching version",
                path,
            )
        saved = json.loads((path / "features.json").read_text(encoding="utf-8"))
        if isinstance(saved, dict) and saved.get("feature_set") == "graves2009":
            # Saved before untimed_speed existed: ink without time stamps read at speed 0.
            saved.setdefault("untimed_speed", 0.0)
        features = feature_config_from_dict(saved)
        symbols = SymbolTable.load(path / "symbols.txt")
        _resolve_folder_files(summary, path)
    except DataError:
        raise
    except (ValueError, TypeError, AttributeError, RecursionError) as e:  # JSON, UTF-8 included
        raise DataError(f"bundle metadata unreadable ({e})", path) from None
    return summary, features, symbols


# Recipe settings that name a file the bundle folder may hold: ([section], key).
BUNDLE_FOLDER_FILES = (
    ("decoding", "lm"),  # a shipped model's lm.arpa
    ("decoding", "lexicon"),
    ("data", "dev_speakers"),  # a shipped model's held-out speaker lists
    ("data", "test_speakers"),
)


def _resolve_folder_files(summary: dict, path: Path) -> None:
    """A bare file name in one of the recipe's :data:`BUNDLE_FOLDER_FILES` that the bundle
    folder holds (a shipped model's ``lm.arpa``, its speaker lists) is read from the bundle
    folder, wherever the command runs; any other value is left as it is."""
    recipe = summary.get("recipe", {})
    for section, key in BUNDLE_FOLDER_FILES:
        settings = recipe.get(section, {}) if isinstance(recipe, dict) else None
        name = settings.get(key) if isinstance(settings, dict) else None
        if isinstance(name, str) and name and Path(name).name == name and (path / name).is_file():
            settings[key] = str(path / name)


ENGINES = ("numpy", "keras")


def load_bundle(path: str | os.PathLike, *, engine: str = "keras") -> Bundle:
    """Load a bundle written by :func:`save_bundle`; :class:`DataError` if it is unusable.

    ``engine="keras"`` loads the Keras model (training, and anything that needs gradients).
    ``engine="numpy"`` reads the same weights into :class:`models.numpy_blstm.NumpyBLSTM`, which
    has the same ``predict_on_batch`` and computes the same logits without importing Keras or
    its backend: a fresh process starts transcribing seconds sooner.

    A transducer bundle's ``model`` is a ``models.numpy_transducer.TransducerNetwork`` with
    either engine (its encoder in Keras or NumPy; ``keras_model`` holds the whole Keras model
    with the Keras engine).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} must be one of {', '.join(ENGINES)}")
    path = complete_dir(path) or Path(path)
    summary, features, symbols = read_bundle_meta(path)
    if engine == "keras":  # a backend that cannot be imported is no damaged bundle
        import_keras()
    try:
        model = _load_model(path / "model.keras", engine)
        # From bytes, so a damaged archive leaves no open file behind.
        with np.load(io.BytesIO((path / "cmvn.npz").read_bytes())) as z:
            mean, std = z["mean"].astype(np.float32), z["std"].astype(np.float32)
    except Exception as e:  # Keras raises many types for a damaged archive
        raise DataError(f"cannot load model ({type(e).__name__}: {e})", path) from None
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise DataError("cmvn.npz holds NaN, infinite or non-positive statistics", path)
    if mean.shape != (features.dim,) or model.output_shape[-1] != len(symbols):
        raise DataError("bundle parts disagree (feature dim or number of symbols)", path)
    bundle = Bundle(model, features, symbols, mean, std, summary)
    if getattr(model, "kind", "ctc") != bundle.kind:
        raise DataError(f"bundle parts disagree (summary.json names a {bundle.kind} model)", path)
    return bundle


def _load_model(path: Path, engine: str):
    if engine == "numpy":
        return load_numpy_model(path)
    # Here, not at the top: the NumPy engine's commands never import Keras or its backend.
    keras = import_keras()

    import lstmrec.models.layers  # noqa: F401  (registers the custom layer for deserialisation)
    from lstmrec.models.transducer import decoding_network, is_transducer

    if not zipfile.is_zipfile(path):  # Keras would say "File not found" of a damaged archive
        raise zipfile.BadZipFile("File is not a zip file")
    model = keras.saving.load_model(path, compile=False)
    if not is_transducer(model):
        return model
    network = decoding_network(model)
    network.keras_model = model
    return network
