"""Multi-device training: mirrored replicas match one device; two workers write one bundle.

TensorFlow fixes its devices when it starts, so each check runs in a fresh Python process:
two logical CPU devices stand in for two GPUs, and two processes on 127.0.0.1 for two hosts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lstmrec.config import load_recipe
from lstmrec.corpora.timit import find_timit
from lstmrec.features.errors import DataError
from lstmrec.manifest import write_manifest
from lstmrec.training.batching import replica_share

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "timit-demo"

TWO_CPU_DEVICES = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""
COMPARE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import keras, numpy as np
    from lstmrec.models.blstm import build_model
    from lstmrec.models.ctc import CTCTrainer, default_jit_compile
    from lstmrec.training.batching import CTCBatches, fit_input
    from lstmrec.training.distribute import make_distribution

    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((n, 5)).astype("float32") for n in (30, 41, 25, 37, 33)]
    labels = [rng.integers(1, 4, size=k).astype("int32") for k in (5, 7, 4, 6, 5)]

    def run(name, reduction, count):
        dist = make_distribution(name)
        keras.distribution.set_distribution(None)
        keras.utils.set_random_seed(1)
        with dist.scope():
            model = build_model(input_dim=5, num_classes=4, num_layers=1, units=8)
            trainer = CTCTrainer(model, reduction=reduction)
            trainer.compile(optimizer=keras.optimizers.SGD(0.01), jit_compile=default_jit_compile())
        # One global batch per epoch: 4 utterances split 2 + 2, or 5 split 3 + 2.
        batches = CTCBatches(feats[:count], labels[:count], batch_size=count, seed=0)
        data = fit_input(batches, dist=dist, reduction=reduction)
        hist = trainer.fit(data, epochs=3, verbose=0, shuffle=False)
        weights = float(sum(np.abs(w).sum() for w in model.get_weights()))
        return {"replicas": dist.num_replicas, "loss": hist.history["loss"], "weights": weights}

    out = {
        f"{n}/{r}/{c}": run(n, r, c)
        for n in ("none", sys.argv[1]) for r in ("sum", "mean") for c in (4, 5)
    }
    print("RESULT " + json.dumps(out))
    """
)


def run_python(script: str, *args, env: dict | None = None, timeout: float = 240) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_replica_shares_cover_the_batch_once_with_the_reduction_in_the_weights():
    for batch in range(1, 7):
        x = np.arange(batch, dtype=np.float32)[:, None, None]  # (B, 1, 1): row numbers
        lens = np.ones(batch, np.int32)
        for replicas in (1, 2, 3):
            for reduction, unit in (("sum", 1.0), ("mean", 1.0 / batch)):
                shares = [
                    replica_share(
                        ((x, lens), (lens[:, None], lens)), r, replicas, reduction=reduction
                    )
                    for r in range(replicas)
                ]
                assert len({len(s[2]) for s in shares}) == 1  # equal shares
                real = sorted(
                    int(v)
                    for s in shares
                    for v, w in zip(s[0][0][:, 0, 0], s[2], strict=True)
                    if w > 0
                )
                assert real == list(range(batch))
                weights = np.concatenate([s[2] for s in shares])
                assert weights.sum() == pytest.approx(batch * unit)
                assert set(weights) <= {0.0, np.float32(unit)}


def test_distribution_is_validated():
    assert load_recipe(None, ["training.distribution=mirrored"]).training.distribution == "mirrored"
    with pytest.raises(DataError, match="distribution='gpus' must be none or mirrored"):
        load_recipe(None, ["training.distribution=gpus"])


def check_same_as_one_device(result: dict, name: str) -> None:
    for reduction in ("sum", "mean"):
        one, two = result[f"none/{reduction}/4"], result[f"{name}/{reduction}/4"]
        assert (one["replicas"], two["replicas"]) == (1, 2)
        # Epoch 1 is the loss before any update; epochs 2 and 3 follow the updates, so they
        # also check that the replicas' gradients add up to the one-device gradient.
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-4)
        assert two["weights"] == pytest.approx(one["weights"], rel=1e-5)
        # An uneven split (3 + 2, one padding row of weight 0): still the same.
        one, two = result[f"none/{reduction}/5"], result[f"{name}/{reduction}/5"]
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-4)
        assert two["weights"] == pytest.approx(one["weights"], rel=1e-5)
    # The two reductions really differ, so the checks have teeth.
    assert result["none/sum/4"]["loss"][0] == pytest.approx(4 * result["none/mean/4"]["loss"][0])
    assert result["none/sum/5"]["weights"] != pytest.approx(result["none/mean/5"]["weights"])


@pytest.mark.slow  # trains 8 small models in a fresh TensorFlow process
def test_mirrored_on_two_devices_matches_one_device():
    out = run_python(TWO_CPU_DEVICES + COMPARE_SCRIPT, "mirrored")
    check_same_as_one_device(json.loads(out.split("RESULT ", 1)[1]), "mirrored")


@pytest.mark.slow  # trains 8 small models in a fresh JAX process
def test_jax_data_parallel_on_two_devices_matches_one_device():
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (not part of the 'test' extra): pip install jax")
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    out = run_python(COMPARE_SCRIPT, "data_parallel", env=env)
    check_same_as_one_device(json.loads(out.split("RESULT ", 1)[1]), "data_parallel")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow  # two fresh TensorFlow processes train together
def test_two_workers_over_loopback_train_an_epoch_and_write_one_bundle(tmp_path):
    if not DEMO.is_dir():
        pytest.skip(f"bundled TIMIT demo corpus not found at {DEMO}")
    write_manifest(find_timit(DEMO)[:6], tmp_path / "train.jsonl")
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    out = tmp_path / "run"
    args = [
        *("--data", str(tmp_path / "train.jsonl"), "--out", str(out), "--keep-sa"),
        *("--set", "data.train_split=all", "--set", "data.dev_split=''"),
        *("--set", "model.num_layers=1", "--set", "model.units=8"),
        *("--set", "training.max_epochs=1", "--set", "training.batch_size=4"),
        *("--set", "training.distribution=multi_worker"),
    ]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "TF_CPP_MIN_LOG_LEVEL": "2"}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "lstmrec", "train", *args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        results = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_stdout, stderr) in zip(procs, results, strict=True):
        assert p.returncode == 0, stderr[-3000:]
    assert "model bundle written" in results[0][0]
    assert "model bundle written" not in results[1][0]
    assert [p.name for p in out.rglob("*") if p.name == "model"] == ["model"]
    summary = json.loads((out / "model" / "summary.json").read_text())
    assert (summary["replicas"], summary["epochs_run"]) == (2, 1)
