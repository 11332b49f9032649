"""``lstmrec bench`` runs end to end and reports every figure it promises (speeds not asserted).

A 1 x 16 network keeps the run short; the measurements are the same code paths as the full
CTC-3l-250h benchmark: Keras training in a child process, the plain PyTorch reference (or a
clean skip when PyTorch is absent), transcription of real TIMIT audio with the NumPy engine, a
cold start in a fresh process, and feature extraction.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstmrec.bench import run as benchmark
from lstmrec.bench import torch_reference as bench_torch
from lstmrec.cli.main import main

REPO = Path(__file__).resolve().parents[1]
REQUIRED = ("train_frames_per_s", "realtime_factor", "cold_start_s")


def positive_finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_json() -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "lstmrec", "bench", "--quick", "--format", "json"]
        + ["--steps", "1", "--layers", "1", "--units", "16"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (line,) = proc.stdout.strip().splitlines()  # one JSON object, nothing else on stdout
    return json.loads(line)


def test_quick_bench_reports_every_figure(quick_json):
    for key in REQUIRED:
        assert positive_finite(quick_json[key]), (key, quick_json[key])
    for key in (
        "realtime_factor_batch",
        "realtime_factor_recipe_beam",
        "realtime_factor_first",
        "matmul_fraction",
        "features_fbank_x_realtime",
    ):
        assert positive_finite(quick_json[key]), (key, quick_json[key])
    assert quick_json["train_backends"] == {"tensorflow": quick_json["train_frames_per_s"]}
    assert quick_json["long_file_s"] == pytest.approx(30.0, abs=0.01)
    assert quick_json["short_files"] == 16


def test_quick_bench_torch_reference_or_reason(quick_json):
    torch_fps = quick_json["torch_train_frames_per_s"]
    if importlib.util.find_spec("torch") is None:
        assert torch_fps is None and "not installed" in quick_json["torch_skipped"]
        assert quick_json["train_vs_torch_ratio"] is None
    else:
        assert positive_finite(torch_fps)
        ratio = quick_json["train_frames_per_s"] / torch_fps
        assert quick_json["train_vs_torch_ratio"] == pytest.approx(ratio, rel=1e-2)


def test_torch_absent_is_a_null_with_a_reason(monkeypatch):
    monkeypatch.setattr(bench_torch, "torch_version", lambda: None)
    result = {"train_frames_per_s": 1000.0}
    benchmark._torch_part(benchmark.BenchSettings(), result, log=lambda msg: None)
    assert result["torch_train_frames_per_s"] is None
    assert result["train_vs_torch_ratio"] is None
    assert "pip install" in result["torch_skipped"]


def test_table_names_every_backend_and_the_skip():
    result = {
        "cpu_count": 2,
        "settings": {"layers": 3, "units": 250, "input_dim": 123, "classes": 62, "batch_size": 8},
        "train_backends": {"tensorflow": 1500.0, "jax": "exit 1: ImportError"},
        "train_frames_per_s": 1500.0,
        "torch_train_frames_per_s": None,
        "torch_skipped": "torch not installed",
        "cold_start_s": 2.5,
    }
    table = benchmark.format_table(result)
    assert "training on tensorflow" in table and "1,500" in table
    assert "exit 1: ImportError" in table
    assert "skipped: torch not installed" in table
    assert "2.50" in table


@pytest.mark.parametrize(
    "flags, reason",
    [
        (["--corpus", "{tmp}/no-such-corpus"], "no such file or directory"),
        (["--corpus", "{tmp}/lengths.txt"], "expected a .jsonl manifest or a corpus folder"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--units", "-4"], "--units must be at least 1"),
        (["--audio", "{tmp}/no-such-folder"], "no such file or directory"),
        (["--audio", "{tmp}/empty"], "no audio files for the inference benchmark"),
    ],
)
def test_bad_settings_are_one_line_before_any_run(capsys, tmp_path, flags, reason):
    (tmp_path / "lengths.txt").write_text("u1 a b\n")
    (tmp_path / "empty").mkdir()
    flags = [f.format(tmp=tmp_path) for f in flags]
    capsys.readouterr()
    assert main(["bench", "--quick", *flags]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert reason in line and "lstmrec bench: training" not in err
