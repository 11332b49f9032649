"""Training-time augmentation (``lstmrec.training.augment``): frequency and time masks and feature
noise on the training batches only, inside each utterance's true length, reproducible from
``(seed, epoch, batch)``; off by default, and never applied when a model is evaluated or used."""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import contextlib
import io
import json

import numpy as np
import pytest
from helpers import TEST_FILE, train_args, write_list

from lstmrec.bundle import load_bundle
from lstmrec.cli.main import main
from lstmrec.config import Recipe, TrainingConfig, load_recipe
from lstmrec.features.audio import FeatureConfig, apply_cmvn
from lstmrec.features.errors import DataError
from lstmrec.features.ink import InkFeatureConfig
from lstmrec.featurize import checked_features
from lstmrec.inference.decoder import predict_logits
from lstmrec.training.augment import Augment, batch_rng
from lstmrec.training.batching import CTCBatches

MASKS = Augment(freq_masks=2, freq_mask_width=3, time_masks=2, time_mask_width=6)


class Scripted:
    """A stand-in for a NumPy generator: gives the scripted integers in order and checks that
    each was asked for with the expected bounds."""

    def __init__(self, draws):
        self.draws = list(draws)  # (low, high, value)

    def integers(self, low, high):
        expected_low, expected_high, value = self.draws.pop(0)
        assert (low, high) == (expected_low, expected_high)
        return value


# ---------------------------------------------------------------------------------------------
# The masks, by hand


def test_masks_by_hand_same_band_in_every_block_and_time_inside_the_length():
    # Rows of 8 = 2 blocks of 4 columns; only the first 3 of a block may be masked (as the mel
    # channels of a filterbank, never its energy column).
    aug = Augment(
        freq_masks=1, freq_mask_width=2, time_masks=1, time_mask_width=3, blocks=2, band=3
    )
    x = np.arange(1, 2 * 6 * 8 + 1, dtype=np.float32).reshape(2, 6, 8)
    before = x.copy()
    rng = Scripted(
        [
            # utterance 0, 5 frames: a band of 2 from column 1; then a time mask of at most
            # floor(0.2 * 5) = 1 frame, 1 frame long, at frame 4
            (0, 3, 2), (0, 2, 1), (0, 2, 1), (0, 5, 4),
            # utterance 1, 3 frames: an empty band; a time mask of at most floor(0.6) = 0 frames
            (0, 3, 0), (0, 4, 3), (0, 1, 0), (0, 4, 0),
        ]
    )  # fmt: skip
    out = aug.apply(x, np.array([5, 3]), rng)
    assert not rng.draws
    expected = before.copy()
    expected[0, :5, [1, 2, 5, 6]] = 0.0
    expected[0, 4, :] = 0.0
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(x, before)  # the batch itself is left alone


def test_time_masks_never_exceed_the_fraction_of_the_true_length():
    aug = Augment(time_masks=1, time_mask_width=50, time_mask_max=0.2)
    x = np.ones((1, 100, 4), np.float32)  # 40 real frames, 60 of padding (ones to see a change)
    out = aug.apply(x, np.array([40]), Scripted([(0, 9, 8), (0, 33, 32)]))  # at most 8 frames
    assert (out[0, 32:40] == 0).all()
    assert (out[0, :32] == 1).all() and (out[0, 40:] == 1).all()


def _zero_frames_and_columns(out, n):
    """Frames (all columns 0) and columns (all real frames 0) of one utterance's ``out``."""
    real = out[:n]
    return np.flatnonzero((real == 0).all(axis=1)), np.flatnonzero((real == 0).all(axis=0))


def test_random_masks_stay_inside_true_lengths_and_the_band():
    aug = Augment(
        freq_masks=2, freq_mask_width=5, time_masks=3, time_mask_width=10, blocks=3, band=7
    )
    rng = np.random.default_rng(0)
    masked_any = False
    for _ in range(200):
        lengths = rng.integers(1, 60, size=4)
        x = np.ones((4, 64, 24), np.float32)
        out = aug.apply(x, lengths, rng)
        for row, n in enumerate(lengths):
            assert (out[row, n:] == 1).all()  # padding untouched
            frames, columns = _zero_frames_and_columns(out[row], n)
            zero_cells = out[row, :n] == 0
            # every 0 is in a masked frame or a masked column
            assert not (zero_cells & ~np.isin(np.arange(n), frames)[:, None]
                        & ~np.isin(np.arange(24), columns)[None, :]).any()  # fmt: skip
            assert len(frames) <= 3 * min(10, int(0.2 * n))
            in_block = columns % 8
            assert (in_block < 7).all()  # the last column of each block is never masked
            # the same band in each of the three blocks
            assert set(columns[columns < 8]) == set(columns[(columns >= 8) & (columns < 16)] - 8)
            assert set(columns[columns < 8]) == set(columns[columns >= 16] - 16)
            masked_any |= len(frames) > 0 and len(columns) > 0
    assert masked_any


def test_feature_noise_goes_on_real_frames_only():
    aug = Augment(feature_noise=0.5)
    x = np.zeros((2, 50, 20), np.float32)
    out = aug.apply(x, np.array([50, 30]), np.random.default_rng(1))
    assert (out[1, 30:] == 0).all()
    real = np.concatenate([out[0].ravel(), out[1, :30].ravel()])
    assert (real != 0).all() and abs(real.std() - 0.5) < 0.05 and abs(real.mean()) < 0.05


def test_batch_rng_depends_on_seed_epoch_and_batch_only():
    draw = lambda *key: batch_rng(*key).integers(0, 2**31, size=4).tolist()  # noqa: E731
    assert draw(7, 2, 3) == draw(7, 2, 3)
    assert len({str(draw(*k)) for k in [(7, 2, 3), (8, 2, 3), (7, 1, 3), (7, 2, 4)]}) == 4
    # apart from the shuffling stream, which is seeded by (seed, epoch)
    assert draw(7, 2, 3) != np.random.default_rng([7, 2]).integers(0, 2**31, size=4).tolist()


# ---------------------------------------------------------------------------------------------
# The training batches


def _batches(augment=None, epoch=0) -> CTCBatches:
    rng = np.random.default_rng(11)
    lengths = rng.integers(8, 40, size=24)
    feats = [rng.normal(size=(n, 6)).astype(np.float32) for n in lengths]
    labels = [rng.integers(1, 5, size=3).astype(np.int32) for _ in lengths]
    return CTCBatches(
        feats, labels, batch_size=4, pad_multiple=8, seed=5, epoch=epoch, augment=augment
    )


def _all(data: CTCBatches) -> list:
    return [data[i] for i in range(len(data))]


def test_batches_are_unchanged_when_augmentation_is_off():
    plain = _all(_batches())
    for off in (Augment(), Augment.of_recipe(Recipe())):
        for ((x1, n1), (y1, m1)), ((x2, n2), (y2, m2)) in zip(
            plain, _all(_batches(off)), strict=True
        ):
            for a, b in [(x1, x2), (n1, n2), (y1, y2), (m1, m2)]:
                np.testing.assert_array_equal(a, b)


def test_batches_are_changed_inside_true_lengths_and_reproducibly():
    plain, data = _batches(), _batches(MASKS)
    changed = 0
    for i in range(len(data)):
        (x0, n0), (y0, _) = plain[i]
        (x, n), (y, _) = data[i]
        np.testing.assert_array_equal(n, n0)
        np.testing.assert_array_equal(y, y0)
        for row, length in enumerate(n):
            np.testing.assert_array_equal(x[row, length:], x0[row, length:])  # padding: zeros
        differs = x != x0
        changed += int(differs.any())
        assert np.all(x[differs] == 0)  # masks fill with 0, the CMVN mean
        np.testing.assert_array_equal(data[i][0][0], x)  # made again: the same masks
    assert changed >= len(data) - 1


def test_a_resumed_epoch_sees_the_same_augmented_batches():
    walked = _batches(MASKS)
    walked.on_epoch_end()  # epoch 0 -> 1, as fit does
    for (a, _), (b, _) in zip(_all(walked), _all(_batches(MASKS, epoch=1)), strict=True):
        np.testing.assert_array_equal(a[0], b[0])
    first = _all(_batches(MASKS))
    assert any(
        not np.array_equal(a[0][0], b[0][0]) for a, b in zip(first, _all(walked), strict=True)
    )


# ---------------------------------------------------------------------------------------------
# Settings


def test_augmentation_is_off_by_default_and_settable():
    cfg = TrainingConfig()
    assert (cfg.freq_masks, cfg.freq_mask_width, cfg.time_masks, cfg.time_mask_width) == (0,) * 4
    assert cfg.feature_noise == 0.0 and cfg.time_mask_max == 0.2
    assert not Augment.of_recipe(Recipe()).enabled
    sets = ["training.freq_masks=2", "training.freq_mask_width=8", "training.feature_noise=0.1"]
    recipe = load_recipe(None, sets)
    assert Augment.of_recipe(recipe).enabled and recipe.training.freq_mask_width == 8


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("training.freq_masks=2", "freq_mask_width"),
        ("training.time_masks=-1", "time_masks"),
        ("training.time_mask_max=0", "time_mask_max"),
        ("training.time_mask_max=1.5", "time_mask_max"),
        ("training.feature_noise=-0.1", "feature_noise"),
        ("training.time_mask_width=2.5", "time_mask_width"),
    ],
)
def test_bad_augmentation_settings_are_one_line_errors(override, says):
    with pytest.raises(DataError, match=says) as e:
        load_recipe(None, [override])
    assert "\n" not in str(e.value)


def test_the_layout_comes_from_the_feature_settings():
    fbank = Augment.of_recipe(Recipe())  # 40 mels + energy, with deltas and delta-deltas
    assert (fbank.blocks, fbank.band) == (3, 40)
    mfcc = Augment.of_recipe(Recipe(features=FeatureConfig(kind="mfcc", delta_order=1)))
    assert (mfcc.blocks, mfcc.band) == (2, 13)
    ink = Augment.of_recipe(Recipe(features=InkFeatureConfig()))
    assert (ink.blocks, ink.band) == (1, None)
    # The energy columns (40, 81, 122) of the default 123 features are never masked.
    aug = Augment(**{**fbank.__dict__, "freq_masks": 4, "freq_mask_width": 40})
    out = aug.apply(np.ones((8, 20, 123), np.float32), np.full(8, 20), np.random.default_rng(2))
    assert (out[:, :, [40, 81, 122]] == 1).all() and (out == 0).any()


# ---------------------------------------------------------------------------------------------
# A run trained with augmentation


@pytest.fixture(scope="module")
def augmented_run(speech_corpus, tmp_path_factory):
    """One epoch with every augmentation on and a dev speaker: exit status, stdout, stderr, run
    folder."""
    out = tmp_path_factory.mktemp("augmented") / "run"
    dev = write_list(out.parent / "dev.list", "mcpm0")
    args = train_args(
        speech_corpus["root"], out, "--set", "data.dev_split=dev",
        "--set", f"data.dev_speakers={json.dumps(str(dev))}",
        "--set", "training.freq_masks=2", "--set", "training.freq_mask_width=8",
        "--set", "training.time_masks=2", "--set", "training.time_mask_width=10",
        "--set", "training.feature_noise=0.1",
        test_list=speech_corpus["test_list"], epochs=1,
    )  # fmt: skip
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main([str(a) for a in args])
    return rc, stdout.getvalue(), stderr.getvalue(), out


def test_training_with_augmentation_says_so_and_keeps_the_settings(augmented_run):
    rc, stdout, err, out = augmented_run
    assert rc == 0, err
    assert (
        "augmentation: 2 frequency masks of up to 8 columns, 2 time masks of up to 10 frames "
        "(0.2 of an utterance at most), feature noise 0.1"
    ) in stdout
    summary = json.loads((out / "model" / "summary.json").read_text())
    training = summary["recipe"]["training"]
    assert (training["freq_masks"], training["time_mask_width"]) == (2, 10)
    assert training["feature_noise"] == 0.1
    # The dev set is decoded without augmentation: the epoch's dev PER and the bundle's (the same
    # weights, decoded again after training) agree exactly.
    assert summary["history"][0]["dev_error_rate"] == summary["dev_error_rate"]


def test_a_model_trained_with_augmentation_gives_the_same_logits_every_time(
    augmented_run, speech_corpus
):
    rc, _, err, out = augmented_run
    assert rc == 0, err
    wav = speech_corpus["test_dir"] / f"{TEST_FILE}.WAV"
    bundle = load_bundle(out / "model", engine="keras")
    x = apply_cmvn(checked_features(str(wav), bundle.features), bundle.mean, bundle.std)
    (first,) = predict_logits(bundle.model, [x])
    (second,) = predict_logits(bundle.model, [x])
    np.testing.assert_array_equal(first, second)
    numpy_bundle = load_bundle(out / "model", engine="numpy")
    (third,) = predict_logits(numpy_bundle.model, [x])
    np.testing.assert_allclose(third, first, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# A new distortion of each training ink every epoch ([training] ink_augment)


@pytest.fixture(scope="module")
def ink_corpus(tmp_path_factory) -> dict:
    """A tiny synthetic IAM-OnDB tree (2 training writers, 1 dev, 1 test; 3 lines each) and a
    one-epoch ink recipe with ink_augment on."""
    from lstmrec.corpora.synth_ink import CorpusSpec, write_corpus

    tmp = tmp_path_factory.mktemp("fresh_ink")
    spec = CorpusSpec(writers=4, lines_per_writer=3, dev_writers=1, test_writers=1, seed=2)
    write_corpus(tmp / "IAM-OnDB", spec)
    recipe = tmp / "ink.toml"
    recipe.write_text(
        '[features]\nkind = "ink"\n[model]\nnum_layers = 1\nunits = 4\n'
        '[training]\noptimizer = "adam"\nbatch_size = 2\nmax_epochs = 1\nink_augment = true\n'
    )
    return {"root": tmp / "IAM-OnDB", "recipe": recipe, "tmp": tmp}


def _fresh_batches(ink_corpus, *, epoch=0):
    """The training utterances of the tiny corpus as CTCBatches with FreshInk, and the cached
    (normalised) features they fall back to."""
    from lstmrec.corpora.splits import load_split
    from lstmrec.features.audio import cmvn_stats
    from lstmrec.features.inkfiles import read_ink_file
    from lstmrec.featurize import checked_ink_features
    from lstmrec.training.augment import FreshInk

    config = InkFeatureConfig()
    utts = load_split(ink_corpus["root"], "train")[:5]
    raw = [checked_ink_features(read_ink_file(u.path)[0].strokes, config, u.path)[0] for u in utts]
    mean, std = (a.astype(np.float32) for a in cmvn_stats(raw))
    feats = [apply_cmvn(f, mean, std) for f in raw]
    labels = [np.ones(2, np.int32) for _ in utts]
    fresh = FreshInk(utts, labels, config, mean, std, strokes=False)
    batches = CTCBatches(
        feats, labels, batch_size=2, pad_multiple=8, seed=5, epoch=epoch, fresh_ink=fresh
    )
    return batches, feats, fresh


def test_fresh_ink_distorts_every_epoch_anew_and_reproducibly(ink_corpus):
    from lstmrec.training.augment import ink_rng

    data, feats, fresh = _fresh_batches(ink_corpus)
    assert fresh.augment.drop == 0 and fresh.augment.split == 0  # every stroke kept
    # One ink: a new distortion is new features (another frame count, as the resampled trace
    # is longer or shorter), the same draw the same features.
    one = fresh.features(0, ink_rng(5, 0, 0))
    assert one.dtype == np.float32 and one.shape[1] == feats[0].shape[1]
    np.testing.assert_array_equal(one, fresh.features(0, ink_rng(5, 0, 0)))
    other = fresh.features(0, ink_rng(5, 1, 0))
    assert other.shape != one.shape or not np.allclose(other, one)
    assert one.shape != feats[0].shape or not np.allclose(one, feats[0])
    # Whole batches: labels as cached, features new, the same when made again; a resumed run
    # makes the next epoch's batches as the uninterrupted one does, from (seed, epoch, index).
    epoch0 = _all(data)
    for i, ((x, n), (_, m)) in enumerate(epoch0):
        (x2, _), _ = data[i]
        np.testing.assert_array_equal(x, x2)
        rows = data.batches[i]
        assert all(int(m[r]) == 2 for r in range(len(rows)))
        cached = [feats[k] for k in rows]
        assert any(n[r] != len(c) or not np.allclose(x[r, : n[r]], c) for r, c in enumerate(cached))
    data.on_epoch_end()
    resumed, _, _ = _fresh_batches(ink_corpus, epoch=1)
    for (a, _), (b, _) in zip(_all(data), _all(resumed), strict=True):
        np.testing.assert_array_equal(a[0], b[0])


def test_fresh_ink_falls_back_to_the_cached_features(ink_corpus):
    """A distortion that CTC could not fit to the labels (too few frames) is not trained on:
    the batch takes the ink's cached features."""
    data, feats, fresh = _fresh_batches(ink_corpus)
    fresh.min_frames = [10**6] * len(fresh.min_frames)
    for i, ((x, n), _) in enumerate(_all(data)):
        for r, k in enumerate(data.batches[i]):
            assert n[r] == len(feats[k])
            np.testing.assert_array_equal(x[r, : n[r]], feats[k])


def test_ink_augment_is_for_ink_and_a_boolean():
    assert not TrainingConfig().ink_augment and TrainingConfig().ink_augment_strokes
    with pytest.raises(DataError, match="ink_augment distorts pen strokes: it needs ink features"):
        load_recipe(None, ["training.ink_augment=true"])  # the default features are speech's
    with pytest.raises(DataError, match="ink_augment=1 must be true or false"):
        load_recipe(None, ['features.kind="ink"', "training.ink_augment=1"])
    recipe = load_recipe(None, ['features.kind="ink"', "training.ink_augment=true"])
    assert recipe.training.ink_augment


def test_training_with_fresh_ink_says_so_and_records_it(ink_corpus, capsys):
    out = ink_corpus["tmp"] / "run"
    rc = main(["train", "--config", str(ink_corpus["recipe"]), "--data", str(ink_corpus["root"]),
               "--out", str(out), "--set", "training.ink_augment_strokes=false"])  # fmt: skip
    stdout = capsys.readouterr().out
    assert rc == 0
    assert "ink augmentation: a new distortion of every training ink each epoch, every stroke " \
        "kept" in stdout  # fmt: skip
    training = json.loads((out / "model" / "summary.json").read_text())["recipe"]["training"]
    assert training["ink_augment"] is True and training["ink_augment_strokes"] is False
