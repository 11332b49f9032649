"""Pictures: the confusion matrix of a report, and spectrogram + CTC posteriors + phones of one
transcription, drawn from the session's tiny speech model (conftest.py) and synthetic data."""

from __future__ import annotations

import dataclasses
import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import importlib.util
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import TEST_FILE, one_line, run

from lstmrec.phones import PHONES39
from lstmrec.scoring import plots
from lstmrec.scoring.align import score

pytest.importorskip("matplotlib", reason="pictures need matplotlib (the 'plot' extra)")


def assert_picture(path: Path, *, min_side: int = 300) -> np.ndarray:
    """A readable PNG, at least ``min_side`` pixels each way, with real content on it."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not path.with_name(path.name + ".tmp").exists()
    img = imread(path)  # (H, W, 4) float32 in [0, 1]
    assert img.ndim == 3 and min(img.shape[:2]) >= min_side, img.shape
    rgb = img[..., :3].reshape(-1, 3)
    assert rgb.std() > 0.05  # not blank
    assert len(np.unique(np.round(rgb * 255), axis=0)) > 20  # a colour map, not two colours
    return img


@pytest.fixture(scope="module")
def tiny(speech_corpus, speech_model):
    """The session's 1 x 8 BLSTM, trained for 2 epochs on 2 speakers; FAEM0 held out."""
    assert speech_model["rc"] == 0, speech_model["stderr"]
    wav = speech_corpus["test_dir"] / f"{TEST_FILE}.WAV"
    return {
        "root": speech_corpus["root"],
        "test_list": speech_corpus["test_list"],
        "bundle": speech_model["bundle"],
        "wav": wav,
    }


def test_confusion_matrix_picture_39_phones(tmp_path):
    rng = np.random.default_rng(1)
    refs = {f"s{i % 3}_u{i}": list(rng.choice(PHONES39, 30)) for i in range(12)}
    hyps = {
        u: [p if rng.random() < 0.7 else rng.choice(PHONES39) for p in r] for u, r in refs.items()
    }
    png = plots.plot_confusions(score(refs, hyps, fold_to=39), tmp_path / "sub" / "c.png")
    assert png == tmp_path / "sub" / "c.png"
    img = assert_picture(png, min_side=600)  # 40 x 40 cells, each labelled
    assert img.shape[1] > img.shape[0]  # room for the colour bar


def test_confusion_picture_without_errors_or_with_one_symbol(tmp_path):
    png = plots.plot_confusions(score({"a_1": ["x"]}, {"a_1": ["x"]}), tmp_path / "one.png")
    assert_picture(png, min_side=200)


def test_transcribe_plot_one_file(capsys, tiny, tmp_path):
    png = tmp_path / "out.png"
    rc, out, err = run(capsys, "transcribe", tiny["bundle"], tiny["wav"], "--plot", png)
    assert rc == 0, err
    # The transcript is printed as without --plot, and the same phones come out.
    rc2, plain, _ = run(capsys, "transcribe", tiny["bundle"], tiny["wav"])
    assert out == plain and out.startswith(f"{TEST_FILE}.WAV ")  # the file's id
    img = assert_picture(png, min_side=500)
    assert img.shape[1] > 1.5 * img.shape[0]  # wide: time runs left to right


def test_transcribe_plot_warns_of_a_low_sample_rate_as_without(capsys, tiny, tmp_path):
    signal, rate = sf.read(tiny["wav"], dtype="int16")
    low = tmp_path / "low.wav"
    sf.write(low, signal[::2], rate // 2)  # 8 kHz
    _, plain_out, plain_err = run(capsys, "transcribe", tiny["bundle"], low)
    rc, out, err = run(capsys, "transcribe", tiny["bundle"], low, "--plot", tmp_path / "l.png")
    assert rc == 0 and out == plain_out
    assert err == plain_err and "8000 Hz is below the model's 16000 Hz" in one_line(err)


def test_transcribe_plot_of_standard_input(capsys, tiny, tmp_path, monkeypatch):
    rc, by_file, err = run(capsys, "transcribe", tiny["bundle"], tiny["wav"], "--plot", tmp_path)
    assert rc == 0, err
    for target, png in (
        (tmp_path / "p", tmp_path / "p.png"),
        (f"{tmp_path}/d/", tmp_path / "d" / "stdin.png"),
    ):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(tiny["wav"].read_bytes())))
        rc, out, err = run(capsys, "transcribe", tiny["bundle"], "-", "--plot", target)
        assert (rc, err) == (0, "") and out == by_file.replace(f"{TEST_FILE}.WAV", "stdin", 1)
        # The file's picture, but for its title: the same audio, posteriors and phones.
        differ = np.any(
            assert_picture(png) != assert_picture(tmp_path / f"{TEST_FILE}.png"), axis=(1, 2)
        )
        assert differ.any() and not differ[len(differ) // 20 :].any()


def test_transcribe_plot_folder_names_and_bad_files(capsys, tiny, tmp_path):
    # Two inputs share the stem SX312 (TIMIT's layout); a third is not audio.
    other = tmp_path / "spk2" / f"{TEST_FILE}.WAV"
    other.parent.mkdir()
    shutil.copy(tiny["wav"], other)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    folder = tmp_path / "pictures"
    rc, out, err = run(
        capsys, "transcribe", tiny["bundle"], tiny["wav"], other, bad, "--plot", folder
    )
    assert rc == 2 and err.count(str(bad)) == 1  # named once, as it is skipped
    assert err.splitlines()[-1] == "lstmrec: 1 input failed (named above)"
    assert len(out.splitlines()) == 2
    # Named by the inputs' ids: both files alike, not only the second one prefixed.
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and all(n.endswith(f"_{TEST_FILE}.png") for n in names)
    for p in folder.iterdir():
        assert_picture(p)


def test_transcribe_plot_png_with_several_files_is_one_line(capsys, tiny, tmp_path):
    rc, out, err = run(
        capsys, "transcribe", tiny["bundle"], tiny["wav"], tiny["wav"], "--plot", tmp_path / "x.png"
    )
    assert rc == 2 and out == "" and "give a folder" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


def test_evaluate_plot_and_details(capsys, tiny, tmp_path):
    png = tmp_path / "confusions.png"
    rc, out, err = run(
        capsys,
        "evaluate",
        tiny["bundle"],
        "--data",
        tiny["root"],
        "--test-speakers",
        tiny["test_list"],
        "--details",
        "--plot",
        png,
    )
    assert rc == 0, err
    assert out.startswith("PER ") and "95 % confidence interval" in out
    assert out.count("\nREF:  ") == 8 and out.count("\nHYP:  ") == 8  # faem0's 8 SI/SX
    assert_picture(png, min_side=600)


def test_transcribe_detailed_agrees_with_transcribe_files(tiny):
    from lstmrec.bundle import load_bundle
    from lstmrec.inference.decoder import posteriors
    from lstmrec.inference.transcribe import transcribe_detailed, transcribe_files

    bundle = load_bundle(tiny["bundle"])
    (plain,) = transcribe_files(bundle, [str(tiny["wav"])], fold_to=39)
    detailed, logits = transcribe_detailed(bundle, str(tiny["wav"]), fold_to=39)
    assert detailed == dataclasses.replace(plain, id="")
    assert logits.shape == (len(plots.log_mel(tiny["wav"], bundle)), len(bundle.symbols))
    np.testing.assert_allclose(posteriors(logits).sum(axis=1), 1.0, atol=1e-5)


def test_the_middle_panel_says_what_it_shows_for_each_kind_of_model(tiny, tmp_path, monkeypatch):
    """A transducer's picture shows its joint network on the best path, not CTC posteriors."""
    from lstmrec.bundle import load_bundle
    from lstmrec.inference.decoder import posteriors
    from lstmrec.inference.transcribe import transcribe_detailed

    ctc = load_bundle(tiny["bundle"])
    recipe = ctc.summary["recipe"]
    model = {**recipe["model"], "kind": "transducer"}
    transducer = dataclasses.replace(
        ctc, summary={**ctc.summary, "recipe": {**recipe, "model": model}}
    )
    tr, logits = transcribe_detailed(ctc, str(tiny["wav"]))
    drawn = []
    monkeypatch.setattr(plots, "save_png", lambda fig, path: drawn.append(fig))
    for bundle in (ctc, transducer):
        plots.plot_transcription(bundle, tr, posteriors(logits), tmp_path / "x.png")
    labels = [fig.axes[1].get_ylabel() for fig in drawn]
    assert labels == [plots.POSTERIOR_LABELS["ctc"], plots.POSTERIOR_LABELS["transducer"]]
    assert labels[0].startswith("CTC posterior") and "CTC" not in labels[1]


def test_plot_without_matplotlib_is_one_clear_line(capsys, monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        plots.importlib.util, "find_spec", lambda n, *a: None if n == "matplotlib" else real(n, *a)
    )
    ref = tmp_path / "ref.txt"
    ref.write_text("a_1 x y\n")
    rc, out, err = run(capsys, "score", ref, ref, "--plot", tmp_path / "c.png")
    assert rc == 2 and "pip install 'lstmrec[plot]'" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "c.png").exists()
