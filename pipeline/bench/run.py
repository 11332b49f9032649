"""``lstmrec bench``: training, inference, cold-start and feature speed, side by side in one run.

Every Keras backend runs in its own process (``KERAS_BACKEND`` is fixed when Keras is first
imported), and so does every measurement that needs its own thread settings or a fresh
interpreter; this process only starts them, times what needs no Keras and prints the table.

- training: frames/s of full CTC training steps of the CTC-3l-250h network on each backend,
  against the same network written directly in PyTorch (``lstmrec.bench.torch_reference``);
- inference: real-time factor (audio seconds per wall second) of ``transcribe`` end to end
  (audio file -> phones) for one long file at batch 1 and for a batch of short files, and the
  BLSTM's arithmetic rate as a fraction of NumPy's matrix-multiply rate on this machine;
- cold start: wall time of ``python -m lstmrec transcribe`` on a 3 s file in a new process;
- features: audio seconds per second for fbank and MFCC.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from lstmrec.bench.torch_reference import torch_version
from lstmrec.bench.training import real_lengths
from lstmrec.features.audio import SAMPLE_RATE, FeatureConfig, extract, load_audio
from lstmrec.features.errors import DataError, require_at_least
from lstmrec.inference.transcribe import expand_inputs

BACKENDS = ("tensorflow", "jax", "torch")
DEMO_AUDIO = "data/timit-demo"  # the demo corpus of a repository clone, from its top folder


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    """What one benchmark run measures (CTC-3l-250h shape by default)."""

    backends: tuple[str, ...] = ("tensorflow",)
    steps: int = 10  # timed training steps per network
    batch_size: int = 8
    batches: int = 4  # distinct padded batches (each traced/compiled before timing)
    layers: int = 3
    units: int = 250
    input_dim: int = 123
    classes: int = 62
    corpus: str | None = None  # utterance lengths from this corpus (default: 1.5-4.5 s)
    model: str | None = None  # bundle for inference (default: random weights, this shape)
    audio: str = DEMO_AUDIO  # folder of speech files for inference and features
    long_s: float = 40.0  # length of the long file (TIMIT sentences end to end)
    cold_starts: int = 3  # fresh processes timed; the fastest is reported
    inference_threads: tuple[int, ...] = (1, 0)  # BLAS threads per inference run; 0 = all
    keras_cold_start: bool = True
    torch: bool = True


def quick_settings(**overrides) -> BenchSettings:
    """The reduced set of ``--quick``: one backend, few steps, one cold start per engine."""
    base = dict(
        steps=2,
        batches=2,
        long_s=30.0,
        cold_starts=1,
        inference_threads=(1,),
        keras_cold_start=False,
    )
    return BenchSettings(**{**base, **overrides})


# ---------------------------------------------------------------------------------------------
# Child processes


def _run_child(args: list[str], *, env: dict | None = None, timeout: float = 1800) -> dict:
    """Run ``python -m lstmrec.bench.worker args`` and return the JSON it prints last."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "lstmrec.bench.worker", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {proc.returncode}: {tail[0]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _shape_args(s: BenchSettings) -> list[str]:
    return [
        f"--layers={s.layers}",
        f"--units={s.units}",
        f"--input-dim={s.input_dim}",
        f"--classes={s.classes}",
        f"--batch-size={s.batch_size}",
        f"--batches={s.batches}",
        f"--steps={s.steps}",
        *([f"--corpus={s.corpus}"] if s.corpus else []),
    ]


def threads_env(n: int) -> dict[str, str]:
    """Environment that limits BLAS/OpenMP pools to ``n`` threads (read when they start)."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    return {name: str(n) for name in names}


# ---------------------------------------------------------------------------------------------
# Audio for inference, cold start and features


def audio_files(s: BenchSettings) -> list[str]:
    """The speech files of ``s.audio``; :class:`DataError` when there are none."""
    if not Path(s.audio).exists():
        raise DataError("no such file or directory", s.audio)
    files = expand_inputs([s.audio])
    if not files:
        raise DataError("no audio files for the inference benchmark (pass --audio)", s.audio)
    return files


def bench_audio(s: BenchSettings, folder: Path) -> dict[str, object]:
    """Write the long file and the 3 s file; list the short files (TIMIT sentences as is)."""
    files = audio_files(s)
    signals, total = [], 0
    for f in files:
        signals.append(load_audio(f))
        total += len(signals[-1])
        if total >= s.long_s * SAMPLE_RATE:
            break
    long = np.concatenate(signals)[: int(s.long_s * SAMPLE_RATE)]
    sf.write(folder / "long.wav", long, SAMPLE_RATE, subtype="PCM_16")
    sf.write(folder / "three_s.wav", long[: 3 * SAMPLE_RATE], SAMPLE_RATE, subtype="PCM_16")
    return {
        "long": str(folder / "long.wav"),
        "three_s": str(folder / "three_s.wav"),
        "short": files[:16],
        "signal": long,
    }


def feature_speed(signal: np.ndarray, *, repeats: int = 3) -> dict[str, float]:
    """Audio seconds per wall second of fbank and MFCC extraction (best of ``repeats``)."""
    out = {}
    for kind in ("fbank", "mfcc"):
        config = FeatureConfig(kind=kind)
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            extract(signal, config)
            best = min(best, time.perf_counter() - t0)
        out[f"features_{kind}_x_realtime"] = round(len(signal) / SAMPLE_RATE / best, 1)
    return out


def cold_start(bundle: str, wav: str, *, engine: str, repeats: int) -> list[float]:
    """Wall seconds from starting ``python -m lstmrec transcribe`` to its exit, per run."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "lstmrec", "transcribe", bundle, wav, "--engine", engine],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(f"transcribe failed: {proc.stderr.strip()[-300:]}")
    return times


# ---------------------------------------------------------------------------------------------
# The run


def check_settings(s: BenchSettings) -> None:
    """Refuse (:class:`DataError`) settings no run can measure, before any child is started:
    fewer than one step, layer or unit, a ``corpus`` that gives no utterance lengths, or no
    speech files in ``audio``."""
    require_at_least({f"--{name}": (getattr(s, name), 1) for name in ("steps", "layers", "units")})
    if s.corpus:
        real_lengths(s.corpus, count=1)
    audio_files(s)


def run_bench(s: BenchSettings, *, log=lambda msg: None) -> dict:
    """Measure everything ``s`` asks for; returns the flat result dictionary."""
    check_settings(s)
    result: dict = {"cpu_count": os.cpu_count(), "settings": dataclasses.asdict(s)}
    with tempfile.TemporaryDirectory(prefix="lstmrec-bench-") as tmp:
        tmp_path = Path(tmp)
        bundle = s.model or str(tmp_path / "model")
        per_backend = {}
        for i, backend in enumerate(s.backends):
            log(f"training on {backend} ...")
            extra = [f"--save-bundle={bundle}"] if i == 0 and not s.model else []
            out = _run_child(["train", *_shape_args(s), *extra], env={"KERAS_BACKEND": backend})
            per_backend[backend] = out.get("train_frames_per_s", out.get("error"))
        result["train_backends"] = per_backend
        speeds = {b: v for b, v in per_backend.items() if isinstance(v, float | int)}
        fastest = max(speeds, key=speeds.get) if speeds else None
        result["train_backend"] = fastest
        result["train_frames_per_s"] = speeds.get(fastest)
        _torch_part(s, result, log)
        if not Path(bundle).is_dir():
            raise RuntimeError(f"no bundle to time inference with: {per_backend}")
        audio = bench_audio(s, tmp_path)
        log("inference ...")
        for threads in s.inference_threads:
            threads = threads or os.cpu_count() or 1
            keras = ["--keras"] if threads == 1 and s.keras_cold_start else []
            out = _run_child(
                ["infer", bundle, audio["long"], *audio["short"], *keras],
                env=threads_env(threads),
            )
            suffix = "" if threads == 1 else f"_{threads}_threads"
            result.update({f"{k}{suffix}": v for k, v in out.items()})
        log("cold start ...")
        runs = cold_start(bundle, audio["three_s"], engine="numpy", repeats=s.cold_starts)
        result["cold_start_s"], result["cold_start_runs_s"] = round(min(runs), 2), runs
        if s.keras_cold_start:
            runs = cold_start(bundle, audio["three_s"], engine="keras", repeats=s.cold_starts)
            result["cold_start_keras_s"] = round(min(runs), 2)
        log("features ...")
        result.update(feature_speed(audio["signal"]))
    return result


def _torch_part(s: BenchSettings, result: dict, log) -> None:
    result["torch_train_frames_per_s"] = None
    if not s.torch:
        result["torch_skipped"] = "not asked for (--no-torch)"
    elif torch_version() is None:
        result["torch_skipped"] = 'torch not installed (pip install -e ".[bench]")'
    else:
        log("training the plain PyTorch network ...")
        out = _run_child(["torch", *_shape_args(s)])
        result["torch_version"] = torch_version()
        result["torch_train_frames_per_s"] = out.get("train_frames_per_s")
        if "error" in out:
            result["torch_skipped"] = out["error"]
    ours, theirs = result["train_frames_per_s"], result["torch_train_frames_per_s"]
    result["train_vs_torch_ratio"] = round(ours / theirs, 3) if ours and theirs else None


# ---------------------------------------------------------------------------------------------
# Output


_ROWS = (
    ("train_frames_per_s", "training, this project (fastest backend), frames/s"),
    ("torch_train_frames_per_s", "training, plain PyTorch nn.LSTM + ctc_loss, frames/s"),
    ("train_vs_torch_ratio", "ratio (this project / PyTorch)"),
    ("realtime_factor", "transcribe, one long file, batch 1, 1 thread, greedy, x real time"),
    ("realtime_factor_first", "the same, first long file of the process, x real time"),
    ("realtime_factor_batch", "transcribe, 16 short files, 1 thread, greedy, x real time"),
    ("realtime_factor_recipe_beam", "transcribe, one long file, recipe's beam, x real time"),
    ("forward_x_realtime", "BLSTM forward alone (NumPy engine), x real time"),
    ("keras_forward_x_realtime", "BLSTM forward alone (Keras engine), x real time"),
    ("matmul_fraction", "forward FLOP/s / NumPy matmul FLOP/s"),
    ("cold_start_s", "cold start to first transcript (NumPy engine), s"),
    ("cold_start_keras_s", "cold start to first transcript (Keras engine), s"),
    ("features_fbank_x_realtime", "fbank features, x real time"),
    ("features_mfcc_x_realtime", "MFCC features, x real time"),
)


def format_table(result: dict) -> str:
    """The human-readable summary of :func:`run_bench`'s result."""
    s = result["settings"]
    lines = [
        f"{s['layers']} x {s['units']} BLSTM-CTC, {s['input_dim']} inputs, {s['classes']} outputs,"
        f" batch {s['batch_size']}, {result['cpu_count']} CPUs",
    ]
    for backend, value in result["train_backends"].items():
        shown = f"{value:12,.0f}" if isinstance(value, float | int) else f"  {value}"
        lines.append(f"  {'training on ' + backend + ', frames/s':58s}{shown}")
    for key, label in _ROWS:
        value = result.get(key)
        if value is None and key.startswith("torch"):
            lines.append(f"  {label:58s}  skipped: {result.get('torch_skipped')}")
        elif isinstance(value, float | int):
            lines.append(f"  {label:58s}{value:12,.2f}")
    return "\n".join(lines)
