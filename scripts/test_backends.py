#!/usr/bin/env python
"""Run the model-level tests on every installed Keras backend, each in its own process.

    .venv/bin/python scripts/test_backends.py                 # every installed backend
    .venv/bin/python scripts/test_backends.py jax torch -- -x # some backends, pytest options

``make test`` runs the whole suite on TensorFlow, the default. The model, the loss, the decoders,
training and the NumPy engine's agreement with Keras must hold on JAX and PyTorch too (install
them with ``pip install -e ".[backends]"``); Keras fixes its backend at import, hence one pytest
process per backend (``KERAS_BACKEND``). A backend that is not installed is reported as skipped.
Exit status: non-zero if any backend's tests failed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")
MODEL_TESTS = (
    "tests/test_models.py",
    "tests/test_cells.py",
    "tests/test_numpy_engine.py",
    "tests/test_transducer_loss.py",
    "tests/test_transducer_model.py",
)


def main(argv: list[str]) -> int:
    pytest_args: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, pytest_args = argv[:at], argv[at + 1 :]
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    unknown = [b for b in argv if b not in BACKENDS]
    if unknown:
        print(
            f"test_backends: unknown backend(s) {', '.join(unknown)}; choose from "
            f"{', '.join(BACKENDS)}",
            file=sys.stderr,
        )
        return 2
    results = {}
    for backend in argv or BACKENDS:
        if importlib.util.find_spec(backend) is None:
            results[backend] = "skipped (not installed)"
            continue
        print(f"== KERAS_BACKEND={backend}", flush=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", *MODEL_TESTS, "-q", *pytest_args],
            cwd=REPO,
            env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        results[backend] = "passed" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
    for backend, outcome in results.items():
        print(f"{backend:12s}{outcome}")
    return 1 if any(r.startswith("FAILED") for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
