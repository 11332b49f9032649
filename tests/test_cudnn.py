"""On a GPU, the project's bidirectional LSTM stack runs on the fused cuDNN kernel.

Keras calls ``backend.lstm`` (the fused kernel) and falls back to a per-step loop when it raises
``NotImplementedError`` (a mask, non-default activations, no GPU...). The test wraps that
function and checks every LSTM of the model took the fused path on a variable-length batch.
Skipped where the backend sees no GPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from lstmrec.backend import backend_has_gpu
from lstmrec.models.blstm import build_model


@pytest.mark.skipif(not backend_has_gpu(), reason="no GPU visible to the Keras backend")
def test_blstm_takes_the_fused_cudnn_kernel(monkeypatch):
    from keras.src import backend as keras_backend

    paths = []
    fused = keras_backend.lstm

    def spy(*args, **kwargs):
        try:
            out = fused(*args, **kwargs)
        except NotImplementedError:
            paths.append("fallback")
            raise
        paths.append("fused")
        return out

    monkeypatch.setattr(keras_backend, "lstm", spy)
    model = build_model(input_dim=123, num_classes=62, num_layers=3, units=64)
    x = np.random.default_rng(0).standard_normal((4, 96, 123)).astype("float32")
    lengths = np.array([96, 70, 33, 5], dtype="int32")
    model([x, lengths])
    assert paths == ["fused"] * 6  # 3 layers x 2 directions
