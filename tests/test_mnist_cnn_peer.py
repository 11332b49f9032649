"""``scripts/mnist_cnn_peer.py``: digits centred on the canvas (by hand), the affine
distortion (none at strength 0, ink kept at full strength, every plane moved alike) and the
elastic one (a smooth bend of about a pixel and a half, measured through ramps), a slanted
stroke drawn upright with ``--deslant``, the pen's directions, thirds and lifts of
``--trajectory`` on a hand-made digit, both networks' shapes, and
end-to-end runs on real digits of the shared set: answers and their probabilities written for
every digit, a bad ink file skipped and named, nothing overwritten."""

import os
import runpy

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from helpers import REPO, one_line, shared_data

from lstmrec.features.errors import DataError

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
    # Planes: each placed, or squeezed, as its own picture would be.
    planes, squeezed = canvas(np.stack([wide, 1.0 - wide], axis=2), width=8)
    assert planes.shape == (4, 8, 2) and squeezed
    np.testing.assert_allclose(planes[:, :, 0], image, atol=1e-6)
    np.testing.assert_allclose(planes[:, :, 1], 1.0 - image, atol=1e-6)
    planes, _ = canvas(np.stack([feats, feats], axis=2), width=8)
    np.testing.assert_array_equal(planes[:, 2:5, 1], feats.T)


def test_deslant_draws_a_slanted_stroke_upright():
    import dataclasses

    from lstmrec.config import load_recipe
    from lstmrec.featurize import checked_ink_features

    # A "1" leaning right by 30 degrees, pixel by pixel as the set's digits are (y down): the
    # upright drawing spreads over fewer columns.
    y = np.arange(20.0)
    stroke = np.stack([10 + np.tan(np.radians(30)) * (19 - y), y, np.full(20, np.nan)], axis=1)
    config = load_recipe(SCRIPT["RECIPE"]).features
    widths = []
    for deslant in (False, True):
        feats, _ = checked_ink_features([stroke], dataclasses.replace(config, deslant=deslant), "1")
        image, _ = SCRIPT["canvas"](feats)
        widths.append(int((image.max(axis=0) > 0.5).sum()))
    assert widths[1] <= widths[0] // 2, widths


def test_trajectory_planes_draw_the_pen_s_directions_thirds_and_lifts_beside_the_picture():
    from lstmrec.config import load_recipe
    from lstmrec.featurize import checked_ink_features

    # A hand-made "7"-like digit, pixel by pixel as the set's are (y down): a bar drawn
    # rightward at y = 0 from x = 0 to 10, the pen lifted, then a stem drawn downward at x = 10
    # from y = 4 to 20. Path length 10 + 16 = 26: the first third (to 8.7) is bar, the last
    # third (from 17.3) is stem.
    bar = np.stack([np.arange(11.0), np.zeros(11), np.full(11, np.nan)], axis=1)
    stem = np.stack([np.full(17, 10.0), np.arange(4.0, 21.0), np.full(17, np.nan)], axis=1)
    config = load_recipe(SCRIPT["RECIPE"]).features
    grey, _ = checked_ink_features([bar, stem], config, "7")  # (columns, rows)
    image = SCRIPT["trajectory_image"]([bar, stem], config, "7")
    assert image.shape == grey.shape + (13,)
    np.testing.assert_array_equal(image[:, :, 0], grey)  # the picture the others read
    planes = image[:, :, 1:]
    directions, thirds, lift = planes[:, :, :8], planes[:, :, 8:11], planes[:, :, 11]

    # The box is 20 pixels high (one pixel of the digit's grid is one pixel), its top edge 4
    # rows down, its left edge 4 columns in; the 2.2-pixel pen on an edge covers the pixels
    # either side. So the bar (edge 4, from edge 4 to 14) inks rows 3-4 and columns 3-14, the
    # stem (edge 14, from edge 8 to 24) columns 13-14 and rows 7-24.
    def inked(plane):  # (rows, columns) where the pen covers more than half a pixel
        cover = plane > 0.5
        return np.flatnonzero(cover.any(axis=0)).tolist(), np.flatnonzero(
            cover.any(axis=1)
        ).tolist()

    assert inked(directions[:, :, 0]) == ([3, 4], list(range(3, 15)))  # rightward: the bar
    assert inked(directions[:, :, 2]) == (list(range(7, 25)), [13, 14])  # downward: the stem
    assert not np.delete(directions, [0, 2], axis=2).any()  # no other direction moved
    # Together the directions hold the picture's ink, no more (pen-down ink only).
    assert (directions.max(axis=2) <= grey + 1e-6).all()
    assert (directions.sum(axis=2) >= grey - 1e-6).all()
    # First third: segments whose middle lies before 8.67, the bar to x = 9 (edge 13); last
    # third: those after 17.33, the stem from y = 11 (edge 15).
    assert inked(thirds[:, :, 0]) == ([3, 4], list(range(3, 14)))
    assert inked(thirds[:, :, 2]) == (list(range(14, 25)), [13, 14])
    # The lift: from the bar's end (edges 14, 4) to the stem's start (14, 8), nowhere else.
    assert inked(lift) == ([3, 4, 5, 6, 7, 8], [13, 14])
    # A bar drawn leftward instead: the direction opposite to rightward, four sectors on.
    back = SCRIPT["trajectory_image"]([bar[::-1], stem], config, "7")[:, :, 1:]
    assert not back[:, :, 0].any() and np.allclose(back[:, :, 4], directions[:, :, 0])
    # Unusable ink is named.
    with pytest.raises(DataError, match="^7: "):
        SCRIPT["trajectory_image"]([bar[:1]], config, "7")


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
    # Planes of one image: each moved exactly as the image alone is.
    planes = np.stack([images, 1.0 - images], axis=3)
    moved_planes = distort(planes, np.random.default_rng(0))
    np.testing.assert_allclose(moved_planes[..., 0], moved, atol=1e-6)
    alone = distort(1.0 - images, np.random.default_rng(0))
    np.testing.assert_allclose(moved_planes[..., 1], alone, atol=1e-6)


def test_the_elastic_distortion_bends_the_affine_map_smoothly_by_about_a_pixel_and_a_half():
    # Two ramps as planes of a large canvas: a pixel's values in the distorted image are the
    # (row, column) it was read from, exactly (bilinear interpolation of a linear function), so
    # the map itself shows.
    rows, cols = np.indices((64, 64), dtype=np.float32)
    ramps = np.stack([rows, cols], axis=2)[None].repeat(20, axis=0)
    window = (slice(16, 48), slice(16, 48))  # read from inside the canvas throughout

    def residual(elastic):
        """What is left of each image's map after the best affine fit, (images, 2, 32, 32)."""
        read = SCRIPT["distort"](ramps, np.random.default_rng(3), elastic=elastic)
        read = read[(slice(None), *window)].reshape(len(ramps), -1, 2)
        grid = np.stack([rows[window].ravel(), cols[window].ravel(), np.ones(32 * 32)], 1)
        fit = [np.linalg.lstsq(grid, r, rcond=None)[0] for r in read]
        left = np.stack([(r - grid @ f).T for r, f in zip(read, fit, strict=True)])
        return left.reshape(len(ramps), 2, 32, 32)

    assert np.abs(residual(0.0)).max() < 1e-3  # the affine distortion alone: nothing left
    bent = residual(SCRIPT["ELASTIC_ALPHA"])
    # Uniform noise of variance 1/3 smoothed by a Gaussian of 4 pixels keeps a standard
    # deviation of sqrt(1 / (3 * 4 pi 16)) = 0.041; times 34, 1.4 pixels (less what the fit
    # takes up).
    spread = np.sqrt((bent**2).mean())
    assert 0.8 < spread < 1.6, spread
    # Smooth: neighbouring pixels move nearly alike (noise smoothed by 4 pixels: about a fifth
    # of the spread; unsmoothed, more than the spread).
    step = np.sqrt((np.diff(bent, axis=3) ** 2).mean())
    assert step < 0.3 * spread, (step, spread)
    # Strength 0 leaves the images as they are, bent or not.
    same = SCRIPT["distort"](ramps, np.random.default_rng(3), 0.0, SCRIPT["ELASTIC_ALPHA"])
    np.testing.assert_allclose(same, ramps, atol=1e-4)


@pytest.mark.parametrize("arch", ["plain", "deep", "wide"])
def test_each_network_reads_a_canvas_into_ten_digit_probabilities(arch):
    model = SCRIPT["build_model"](28, 0, arch)
    assert model.input_shape == (None, 28, SCRIPT["WIDTH"])
    probs = model.predict(np.random.default_rng(0).random((3, 28, 36)), verbose=0)
    assert probs.shape == (3, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    model = SCRIPT["build_model"](28, 0, arch, planes=13)
    assert model.input_shape == (None, 28, SCRIPT["WIDTH"], 13)
    probs = model.predict(np.random.default_rng(0).random((3, 28, 36, 13)), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_the_wide_network_is_the_deep_one_with_twice_the_channels():
    def convolutions(arch):
        model = SCRIPT["build_model"](28, 0, arch)
        return [
            (c.filters, c.kernel_size, c.strides)
            for c in model.layers
            if c.name.startswith("conv2d")
        ]

    deep, wide = convolutions("deep"), convolutions("wide")
    assert [f for f, _, _ in deep] == [32, 32, 32, 64, 64, 64, 128]
    assert [f for f, _, _ in wide] == [2 * f for f, _, _ in deep]
    assert [k for _, k, _ in wide] == [k for _, k, _ in deep]
    assert [s for _, _, s in wide] == [s for _, _, s in deep]


@pytest.fixture
def digits(tmp_path):
    npz = shared_data("mnist-strokes") / "strokes.npz"
    data = tmp_path / "data"
    caps = ["--train", "64", "--dev", "16", "--test", "12"]
    assert MNIST_INK["main"](["prepare", str(npz), str(data), *caps]) == 0
    return data


def test_trains_on_real_digits_and_answers_every_digit(digits, tmp_path, capsys):
    out = tmp_path / "cnn"
    # With the pen's path drawn beside the picture: the same answers and files.
    args = [str(digits), "--out", str(out), "--epochs", "2", "--holdout", "16", "--trajectory"]
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
    # The probabilities behind the answers, kept for combining runs: one row per digit, the
    # answer its most probable digit; the held-out training digits are the last 16.
    with np.load(out / "probs.npz") as npz:
        saved = dict(npz)
    assert list(saved["holdout_ids"]) == [f"mnist-{i}" for i in range(48, 64)]
    for role in ("dev", "test"):
        lines = (out / f"{role}_hyp.txt").read_text().splitlines()
        probs = saved[f"{role}_probs"]
        assert list(saved[f"{role}_ids"]) == [line.split()[0] for line in lines]
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        assert [str(d) for d in probs.argmax(axis=1)] == [line.split()[1] for line in lines]
    # The answers are what scripts/mnist_ink.py accuracy scores.
    assert MNIST_INK["main"](["accuracy", str(digits), str(out / "test_hyp.txt")]) == 0
    assert "(bootstrap over digits)" in capsys.readouterr().out
    # Run again: nothing is overwritten without --force.
    before = (out / "test_hyp.txt").read_text()
    assert SCRIPT["main"]([str(digits), "--out", str(out), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and "dev_hyp.txt" in err
    assert (out / "test_hyp.txt").read_text() == before
    # The path's planes are drawn as written: not with --deslant.
    with pytest.raises(SystemExit) as exit_:
        SCRIPT["main"]([str(digits), "--out", str(out), "--deslant", "--trajectory"])
    assert exit_.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_a_bad_ink_file_is_named_and_skipped_and_the_rest_answered(digits, tmp_path, capsys):
    (digits / "ink" / "mnist-45003.json").write_text("{not json")
    out = tmp_path / "cnn"
    # The deeper network on upright, elastically bent digits this time: the same answers and
    # refusals.
    args = [str(digits), "--out", str(out), "--epochs", "1", "--arch", "deep", "--deslant"]
    args += ["--elastic"]
    assert SCRIPT["main"](args) == 2
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


def _run_probs(folder, data, right, confidence, copy_confidence=None):
    """A run folder holding ``probs.npz`` as training writes it, by hand: for every dev and test
    digit, ``confidence`` on its label where ``right(i, n)`` (i its index among the split's n),
    else on the next-but-one digit, the rest spread evenly; two distorted copies,
    ``copy_confidence`` on the label (default: the same as the digit's own)."""
    from lstmrec.manifest import read_manifest

    saved = {}
    for role, name in (("dev", "dev"), ("test", "core-test")):
        utts = read_manifest(data / f"{name}.jsonl")
        probs = np.full((len(utts), 10), (1.0 - confidence) / 9)
        copies = np.full((2, len(utts), 10), (1.0 - (copy_confidence or confidence)) / 9)
        for i, u in enumerate(utts):
            label = int(u.text)
            probs[i, label if right(i, len(utts)) else (label + 2) % 10] = confidence
            if copy_confidence is None:
                copies[:, i] = probs[i]
            else:
                copies[:, i, label] = copy_confidence
        saved |= {f"{role}_ids": np.array([u.id for u in utts]), f"{role}_probs": probs,
                  f"{role}_copies": copies}  # fmt: skip
    folder.mkdir()
    np.savez(folder / "probs.npz", **saved)
    return folder


def test_combined_runs_add_log_probabilities_over_runs_and_copies(digits, tmp_path, capsys):
    # Run a: 0.6 on the label of the even digits, 0.6 on a wrong digit of the odd ones. Run b:
    # 0.9 on the label but for the last 4 digits of each split. Added logs: where only a is
    # wrong, the label scores log(0.4 / 9) + log 0.9 = -3.2 against log 0.6 + log(0.1 / 9) =
    # -5.0, right; where only b is wrong, the other way round: the last 4 are wrong.
    a = _run_probs(tmp_path / "a", digits, lambda i, n: i % 2 == 0, 0.6)
    b = _run_probs(tmp_path / "b", digits, lambda i, n: i < n - 4, 0.9, copy_confidence=0.99)
    main = SCRIPT["main"]
    assert main([str(digits), "--combine", str(a), "--out", str(tmp_path / "a_only")]) == 0
    out = capsys.readouterr().out
    assert "dev (1 run(s), 0 copies): digit accuracy 50.00 % (8 / 16)" in out
    assert main([str(digits), "--combine", str(a), str(b), "--out", str(tmp_path / "ab")]) == 0
    out = capsys.readouterr().out
    assert "dev (2 run(s), 0 copies): digit accuracy 75.00 % (12 / 16)" in out
    assert "test (2 run(s), 0 copies): digit accuracy 66.67 % (8 / 12)" in out
    lines = (tmp_path / "ab" / "test_hyp.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == [f"mnist-{i}" for i in range(45000, 45012)]
    # b's two copies, 0.99 on the label, outvote its wrong 0.9: every digit right.
    assert main([str(digits), "--combine", str(a), str(b), "--copies", "2"]) == 0
    out = capsys.readouterr().out
    assert "dev (2 run(s), 2 copies): digit accuracy 100.00 % (16 / 16)" in out
    # More copies than the runs read, and a folder without a finished run: one line, status 2.
    assert main([str(digits), "--combine", str(a), "--copies", "3"]) == 2
    assert "fewer than 3 distorted copies" in capsys.readouterr().err
    # A run that kept no copies combines without them, and only without them.
    with np.load(a / "probs.npz") as npz:
        saved = dict(npz)
    np.savez(a / "probs.npz", **{k: v for k, v in saved.items() if not k.endswith("_copies")})
    assert main([str(digits), "--combine", str(a), str(b)]) == 0
    assert "dev (2 run(s), 0 copies): digit accuracy 75.00 % (12 / 16)" in capsys.readouterr().out
    assert main([str(digits), "--combine", str(a), str(b), "--copies", "1"]) == 2
    assert "fewer than 1 distorted copies" in capsys.readouterr().err
    assert main([str(digits), "--combine", str(a), str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no probabilities of a finished run" in err
    (b / "probs.npz").write_bytes(b"PK\x03\x04 cut short")
    assert main([str(digits), "--combine", str(b)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no probabilities of a finished run" in err
    assert main([str(tmp_path), "--combine", str(a)]) == 2  # not a prepared data folder
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such manifest" in err
    # Combined answers are not overwritten without --force either.
    assert main([str(digits), "--combine", str(a), "--out", str(tmp_path / "ab")]) == 2
    assert "exists" in capsys.readouterr().err


def test_runs_of_another_prepared_folder_are_refused_in_one_line(digits, tmp_path, capsys):
    """Held-out digits that the train manifest lacks were a KeyError traceback, and dev or test
    digits of another folder were left out of the score without a word."""
    run = _run_probs(tmp_path / "run", digits, lambda i, n: True, 0.9)
    with np.load(run / "probs.npz") as npz:
        saved = dict(npz)
    holdout = {"holdout_ids": np.array(["mnist-999"]), "holdout_probs": np.full((1, 10), 0.1)}
    np.savez(run / "probs.npz", **saved, **holdout)
    main = SCRIPT["main"]
    assert main([str(digits), "--combine", str(run)]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"mnist_cnn_peer: {run}: its holdout digit mnist-999 is not in {digits / 'train.jsonl'}"
    )
    saved["dev_ids"][0] = "mnist-43999"
    np.savez(run / "probs.npz", **saved)
    assert main([str(digits), "--combine", str(run)]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"mnist_cnn_peer: {run}: its dev digit mnist-43999 is not in {digits / 'dev.jsonl'}"
    )
