"""``scripts/mnist_cnn_peer.py``: digits centred on the canvas (by hand), the affine
distortion (none at strength 0, ink kept at full strength), and an end-to-end run on real
digits of the shared set: answers written for every digit, a bad ink file skipped and named,
nothing overwritten."""

import os
import runpy

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from helpers import REPO, shared_data

SCRIPT = runpy.run_path(str(REPO / "scripts" / "mnist_cnn_peer.py"))
MNIST_INK = runpy.run_path(str(REPO / "scripts" / "mnist_ink.py"))


def test_a_narrow_digit_is_centred_and_a_wide_one_squeezed_to_the_canvas():
    canvas = SCRIPT["canvas"]
    feats = np.arange(1, 13, dtype=np.float32).reshape(3, 4)  # 3 columns of 4 rows
    image, squeezed = canvas(feats, width=8)
    assert image.shape == (4, 8) and not squeezed
    # (8 - 3) // 2 = 2 white columns on the left, 3 on the right.
    np.testing.assert_array_equal(image[:, 2:5], feats.T)
    assert not image[:, :2].any() and not image[:, 5:].any()
    # 16 columns on a canvas of 8: every row squeezed to 8 columns, its ink kept in order. Row
    # 0 is ink throughout, row 1 white, row 2 a ramp, row 3 ink in the left half only.
    wide = np.zeros((16, 4), np.float32)
    wide[:, 0] = 1.0
    wide[:, 2] = np.linspace(0.0, 1.0, 16)
    wide[:8, 3] = 1.0
    image, squeezed = canvas(wide, width=8)
    assert image.shape == (4, 8) and squeezed
    np.testing.assert_allclose(image[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(image[1], 0.0, atol=1e-6)
    assert (np.diff(image[2]) > 0).all()
    np.testing.assert_allclose(image[3, :3], 1.0, atol=1e-6)
    np.testing.assert_allclose(image[3, 5:], 0.0, atol=1e-6)


def test_the_distortion_is_none_at_strength_0_and_moves_but_keeps_the_ink():
    distort = SCRIPT["distort"]
    images = np.zeros((2, 28, 36), np.float32)
    images[0, 8:20, 17:19] = 1.0  # a bar: a 1
    images[1, 10:18, 12:24] = 1.0  # a block
    same = distort(images, np.random.default_rng(0), strength=0.0)
    np.testing.assert_allclose(same, images, atol=1e-6)
    moved = distort(images, np.random.default_rng(0))
    assert moved.shape == images.shape and moved.min() >= 0.0 and moved.max() <= 1.0 + 1e-6
    assert not np.allclose(moved, images)
    # Scaled by at most 10 % each way and sheared a little: the ink's area stays within a third.
    ratio = moved.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    assert ((ratio > 0.67) & (ratio < 1.33)).all(), ratio


@pytest.fixture
def digits(tmp_path):
    npz = shared_data("mnist-strokes") / "strokes.npz"
    data = tmp_path / "data"
    caps = ["--train", "64", "--dev", "16", "--test", "12"]
    assert MNIST_INK["main"](["prepare", str(npz), str(data), *caps]) == 0
    return data


def test_trains_on_real_digits_and_answers_every_digit(digits, tmp_path, capsys):
    out = tmp_path / "cnn"
    args = [str(digits), "--out", str(out), "--epochs", "2", "--holdout", "16"]
    assert SCRIPT["main"](args) == 0
    printed = capsys.readouterr().out
    assert "epoch 2: loss" in printed
    scored = [line.split(":")[0] for line in printed.splitlines() if "digit accuracy" in line]
    assert scored == [
        f"{role} (the best dev epoch's weights)" for role in ("dev", "test", "holdout")
    ]
    # The last 16 of the 64 training digits were held out: scored, not trained on.
    assert " / 16), 95 % CI [" in printed.splitlines()[-1]
    for role, count, first in (("dev", 16, 44000), ("test", 12, 45000)):
        lines = (out / f"{role}_hyp.txt").read_text().splitlines()
        assert [line.split()[0] for line in lines] == [
            f"mnist-{i}" for i in range(first, first + count)
        ]
        assert all(len(line.split()[1]) == 1 and line.split()[1].isdigit() for line in lines)
    history = (out / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,loss,dev_accuracy" and len(history) == 3
    # The answers are what scripts/mnist_ink.py accuracy scores.
    assert MNIST_INK["main"](["accuracy", str(digits), str(out / "test_hyp.txt")]) == 0
    assert "(bootstrap over digits)" in capsys.readouterr().out
    # Run again: nothing is overwritten without --force.
    before = (out / "test_hyp.txt").read_text()
    assert SCRIPT["main"]([str(digits), "--out", str(out), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and "dev_hyp.txt" in err
    assert (out / "test_hyp.txt").read_text() == before


def test_a_bad_ink_file_is_named_and_skipped_and_the_rest_answered(digits, tmp_path, capsys):
    (digits / "ink" / "mnist-45003.json").write_text("{not json")
    out = tmp_path / "cnn"
    assert SCRIPT["main"]([str(digits), "--out", str(out), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "mnist-45003.json" in err[0] and "1 digit(s) skipped" in err[1]
    lines = (out / "test_hyp.txt").read_text().splitlines()
    assert len(lines) == 11 and not any(line.startswith("mnist-45003 ") for line in lines)


def test_a_holdout_that_leaves_no_training_digits_is_refused(digits, tmp_path, capsys):
    args = [str(digits), "--out", str(tmp_path / "cnn"), "--holdout", "64"]
    assert SCRIPT["main"](args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "leaves no training digits" in err


def test_a_missing_manifest_is_one_line_and_status_2(tmp_path, capsys):
    assert SCRIPT["main"]([str(tmp_path), "--out", str(tmp_path / "cnn")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such manifest" in err and "train.jsonl" in err
    assert not (tmp_path / "cnn").exists()
