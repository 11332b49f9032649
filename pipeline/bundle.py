"""The model bundle: everything transcription and evaluation need, in one directory.

::

    model/
      model.keras      the Keras acoustic model (features, lengths -> logits)
      features.json    the feature settings the model was trained with: audio FeatureConfig, or
                       InkFeatureConfig ("kind": "ink") for a handwriting model
      symbols.txt      the symbol table (line 1 is the CTC blank; "<space>" is a word gap)
      cmvn.npz         mean and std of the training features
      summary.json     format version, recipe, metrics, data hash, training history

A bundle is written under a temporary name and renamed into place, so a reader never sees half a
bundle, and an existing bundle is only replaced once the new one is complete.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from lstmrec.config import AnyFeatureConfig, feature_config_from_dict
from lstmrec.features.errors import DataError
from lstmrec.models.numpy_blstm import load_numpy_model
from lstmrec.phones import SymbolTable

BUNDLE_FORMAT = 1  # bumped whenever a reader of the old layout would misread the new one
_FILES = ("model.keras", "features.json", "symbols.txt", "cmvn.npz", "summary.json")


@dataclasses.dataclass
class Bundle:
    model: Any  # keras.Model
    features: AnyFeatureConfig
    symbols: SymbolTable
    mean: np.ndarray  # (F,) float32
    std: np.ndarray  # (F,) float32
    summary: dict


def replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished directory ``tmp`` to ``final``, replacing an old one only at the end."""
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)


def write_json(obj: Any, path: Path) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def save_bundle(path: str | os.PathLike, bundle: Bundle) -> None:
    """Write ``bundle`` to the directory ``path`` atomically."""
    final = Path(path)
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    bundle.model.save(tmp / "model.keras")
    write_json(bundle.features.to_dict(), tmp / "features.json")
    bundle.symbols.save(tmp / "symbols.txt")
    np.savez(tmp / "cmvn.npz", mean=bundle.mean, std=bundle.std)
    write_json({**bundle.summary, "format": BUNDLE_FORMAT}, tmp / "summary.json")
    replace_dir(tmp, final)


def read_bundle_meta(path: str | os.PathLike) -> tuple[dict, AnyFeatureConfig, SymbolTable]:
    """Summary, feature settings and symbols of a bundle, without loading Keras."""
    path = Path(path)
    if not path.is_dir():
        raise DataError("model bundle not found (expected a directory)", path)
    missing = [name for name in _FILES if not (path / name).is_file()]
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
        features = feature_config_from_dict(
            json.loads((path / "features.json").read_text(encoding="utf-8"))
        )
        symbols = SymbolTable.load(path / "symbols.txt")
    except DataError:
        raise
    except (ValueError, TypeError) as e:  # JSONDecodeError and UnicodeDecodeError included
        raise DataError(f"bundle metadata unreadable ({e})", path) from None
    return summary, features, symbols


ENGINES = ("numpy", "keras")


def load_bundle(path: str | os.PathLike, *, engine: str = "keras") -> Bundle:
    """Load a bundle written by :func:`save_bundle`; :class:`DataError` if it is unusable.

    ``engine="keras"`` loads the Keras model (training, and anything that needs gradients).
    ``engine="numpy"`` reads the same weights into :class:`models.numpy_blstm.NumpyBLSTM`, which
    has the same ``predict_on_batch`` and computes the same logits without importing Keras or
    its backend: a fresh process starts transcribing seconds sooner.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} must be one of {', '.join(ENGINES)}")
    path = Path(path)
    summary, features, symbols = read_bundle_meta(path)
    try:
        model = _load_model(path / "model.keras", engine)
        with np.load(path / "cmvn.npz") as z:
            mean, std = z["mean"].astype(np.float32), z["std"].astype(np.float32)
    except Exception as e:  # Keras raises many types for a damaged archive
        raise DataError(f"cannot load model ({type(e).__name__}: {e})", path) from None
    if mean.shape != (features.dim,) or model.output_shape[-1] != len(symbols):
        raise DataError("bundle parts disagree (feature dim or number of symbols)", path)
    return Bundle(model, features, symbols, mean, std, summary)


def _load_model(path: Path, engine: str):
    if engine == "numpy":
        return load_numpy_model(path)
    # Here, not at the top: the NumPy engine's commands never import Keras or its backend.
    import keras

    import lstmrec.models.layers  # noqa: F401  (registers the custom layer for deserialisation)

    return keras.saving.load_model(path, compile=False)
