"""Training survives being killed anywhere: ``--resume`` continues from the newest finished epoch,
the bundle is always the old or the new complete one, and a resumed run ends with exactly the
weights of an uninterrupted one, dropout, weight noise, augmentation and a decaying learning rate
included."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from helpers import REPO, run, train_args

from lstmrec.bundle import read_bundle_meta
from lstmrec.features.files import FAULT_EXIT, complete_dir

# Dropout, weight noise and augmentation on: every random stream must survive a resume; so must
# the learning rate's schedule (configs/demo.toml: 1e-3, here halved each epoch).
NOISY = ("--set", "model.dropout=0.3", "--set", "training.weight_noise=0.01",
         "--set", "training.time_masks=2", "--set", "training.time_mask_width=5",
         "--set", "training.feature_noise=0.05",
         "--set", "training.learning_rate_decay=0.5")  # fmt: skip


def weights(h5_path) -> dict[str, np.ndarray]:
    """Every array of a Keras ``.weights.h5`` file, by its path in the file."""
    out = {}

    def keep(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[()]

    with h5py.File(h5_path, "r") as f:
        f.visititems(keep)
    return out


def assert_same_weights(a, b) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and wa
    for name in wa:
        assert np.array_equal(wa[name], wb[name]), name


@pytest.mark.slow  # three short trainings, about 80 s on 2 cores
def test_resumed_training_is_bit_identical_with_dropout_and_weight_noise(
    capsys, speech_corpus, tmp_path
):
    args = dict(test_list=speech_corpus["test_list"])
    whole, split = tmp_path / "whole", tmp_path / "split"
    rc, _, err = run(capsys, *train_args(speech_corpus["root"], whole, *NOISY, epochs=2, **args))
    assert rc == 0, err
    rc, _, err = run(capsys, *train_args(speech_corpus["root"], split, *NOISY, epochs=1, **args))
    assert rc == 0, err
    rc, out, err = run(
        capsys, *train_args(speech_corpus["root"], split, "--resume", *NOISY, epochs=2, **args)
    )
    assert rc == 0, err
    assert "resuming after epoch 1" in out
    history = [json.loads((d / "model" / "summary.json").read_text())["history"]
               for d in (whole, split)]  # fmt: skip
    assert [h["loss"] for h in history[0]] == [h["loss"] for h in history[1]]
    for h in history:  # the second epoch at half the rate, resumed or not
        assert [e["learning_rate"] for e in h] == [1e-3, 5e-4]
    assert_same_weights(whole / "checkpoint" / "model.weights.h5",
                        split / "checkpoint" / "model.weights.h5")  # fmt: skip


def _train(out, corpus, *extra, env=None, epochs=2) -> subprocess.CompletedProcess:
    args = train_args(corpus["root"], out, *extra, test_list=corpus["test_list"], epochs=epochs)
    return subprocess.run(
        [sys.executable, "-m", "lstmrec", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )


def _checkpoint_epoch(out) -> int:
    found = complete_dir(out / "checkpoint")
    return 0 if found is None else json.loads((found / "state.json").read_text())["epoch"]


def chosen_points(points: list[list[str]], swapped: list[int]) -> list[list[str]]:
    """Every fault point with ``LSTMREC_FAULT_POINTS=all`` (``make fuzz``: about 35 s a point
    on 2 cores, 23 points); otherwise seven that cover each phase: the first point (the
    feature cache), the two checkpoint swaps and the points just before them, and the last two
    (the bundle's swap)."""
    if os.environ.get("LSTMREC_FAULT_POINTS") == "all":
        return points
    picks = {1, *swapped, *(s - 1 for s in swapped), len(points) - 1, len(points)}
    return [p for p in points if int(p[0]) in picks]


@pytest.mark.slow
def test_training_killed_at_every_write_and_rename_resumes_from_the_newest_epoch(
    speech_corpus, tmp_path
):
    # The fault points of an uninterrupted run, each a line "N what path".
    trace = tmp_path / "trace.txt"
    ref = tmp_path / "ref"
    done = _train(ref, speech_corpus, *NOISY, "--feature-cache", tmp_path / "c0",
                  env={"LSTMREC_FAULT_TRACE": str(trace)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    points = [line.split(" ", 2) for line in trace.read_text().splitlines()]
    # the fault point after which epoch e's checkpoint is in place
    swapped = [int(n) for n, what, p in points if what == "rename" and p.endswith("/checkpoint")]
    assert len(swapped) == 2 and len(points) >= 15
    for n, what, path in chosen_points(points, swapped):
        out = tmp_path / f"kill{n}"
        cache = tmp_path / f"c{n}"  # a fresh feature cache: its writes are fault points too
        killed = _train(out, speech_corpus, *NOISY, "--feature-cache", cache,
                        env={"LSTMREC_FAULT_AT": n})  # fmt: skip
        where = f"killed at point {n} ({what} {path})"
        assert killed.returncode == FAULT_EXIT, f"{where}: {killed.stderr}"
        finished = sum(int(n) >= s for s in swapped)
        assert _checkpoint_epoch(out) == finished, where
        bundle = complete_dir(out / "model")
        assert bundle is None or read_bundle_meta(bundle)[0]["epochs_run"] == 2, where
        resumed = _train(out, speech_corpus, *NOISY, "--resume", "--feature-cache", cache)
        assert resumed.returncode == 0, f"{where}: {resumed.stderr}"
        said = f"resuming after epoch {finished}" if finished else "starting from epoch 1"
        assert said in resumed.stdout, f"{where}: {resumed.stdout}"
        assert_same_weights(ref / "checkpoint" / "model.weights.h5",
                            out / "checkpoint" / "model.weights.h5")  # fmt: skip
        kept = sorted(p.name for p in out.iterdir() if p.name != "tensorboard")
        assert kept == ["checkpoint", "history.csv", "model"], where
        assert (out / "history.csv").read_text().count("\n") == 3, where  # header, 2 epochs
