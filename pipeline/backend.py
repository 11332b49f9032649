"""Importing Keras without the backend's start-up noise on the user's terminal."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def held_stderr() -> Iterator[None]:
    """Hold back what native code prints on file descriptor 2 (TensorFlow's C++ log lines, a
    converter's progress) inside the block; it is passed on only if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
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
    with held_stderr():
        import keras
    return keras


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
