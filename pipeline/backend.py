"""Importing Keras without the backend's start-up noise on the user's terminal."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator

from lstmrec.features.errors import DataError

# The Keras backends lstmrec trains on, and the pip extra that installs each (pyproject.toml).
BACKEND_EXTRAS = {"tensorflow": "lstmrec", "jax": "lstmrec[jax]", "torch": "lstmrec[backends]"}


@contextlib.contextmanager
def held_stderr(
    passed_on: Callable[[BaseException], bool] = lambda err: True,
) -> Iterator[None]:
    """Hold back what native code prints on file descriptor 2 (TensorFlow's C++ log lines, a
    converter's progress) inside the block; it is passed on only if the block fails with an
    exception for which ``passed_on`` is true."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException as err:
            os.dup2(saved, 2)
            if passed_on(err):
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_keras():
    """Import and return ``keras`` with TensorFlow's C++ start-up log lines held back.

    TensorFlow's native runtime prints absl/oneDNN/CUDA-probe lines to file descriptor 2 before
    its log level applies; they carry no information for a user. What the import prints is
    passed on only if the import fails.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with held_stderr(passed_on=lambda e: _backend_error(e) is e):
            import keras
    except (ImportError, ValueError) as e:
        raise _backend_error(e) from None
    return keras


def _chosen_backend() -> str:
    """The backend Keras tried to load: ``KERAS_BACKEND``, else its ``keras.json``."""
    config = sys.modules.get("keras.src.backend.config")
    if config is not None:
        return config.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def _backend_error(err: Exception) -> Exception:
    """A :class:`DataError` for a Keras backend that cannot be imported (its package is not
    installed, or Keras has no backend of that name), naming it and what to install; ``err``
    itself for any other failure."""
    name = _chosen_backend()
    where = (
        f"KERAS_BACKEND={name}" if os.environ.get("KERAS_BACKEND") else f"Keras backend {name!r}"
    )
    supported = "tensorflow (the default), jax or torch"
    if isinstance(err, ValueError):
        if "Unable to import backend" not in str(err):
            return err
        return DataError(f"{where}: no such Keras backend; lstmrec runs on {supported}")
    missing = getattr(err, "name", None) or ""
    if name in BACKEND_EXTRAS and missing.split(".")[0] == name:
        return DataError(
            f"{where}: {name} is not installed; install it with pip install "
            f"'{BACKEND_EXTRAS[name]}'"
            + (
                ", or unset KERAS_BACKEND to use TensorFlow"
                if os.environ.get("KERAS_BACKEND") and name != "tensorflow"
                else ""
            )
        )
    if missing.split(".")[0] == name:
        return DataError(f"{where}: {name} is not installed; lstmrec runs on {supported}")
    return err


def backend_has_gpu() -> bool:
    """Whether the active Keras backend sees a GPU."""
    keras = import_keras()
    name = keras.backend.backend()
    if name == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if name == "torch":
        import torch

        return torch.cuda.is_available()
    if name == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return False
