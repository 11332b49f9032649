"""The ``lstmrec`` command line end to end: train and --help, on a 3-speaker copy of the bundled
TIMIT sample (transcribe, evaluate and score have files of their own: ``test_cli_*.py``).

The tiny speech model (1 layer of 8 units, 2 epochs) is trained once per session
(``speech_model`` in conftest.py); the tests train against it, checking the contract of the
command line: good input gives exit status 0; bad input gives one line on stderr naming the file
and the reason, exit status 2 and never a traceback; training skips bad utterances, lists them
at the end and trains on the rest (``--strict`` stops at the first); nothing the user made is
overwritten.
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import argparse
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from helpers import DEMO_TRAIN, TRAIN_SPEAKERS, one_line, run, run_subprocess, train_args

from lstmrec.cli.main import build_parser, main

# ---------------------------------------------------------------------------------------------
# Helpers


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """``{relative path: (mtime_ns, bytes)}`` of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def subcommands() -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


# ---------------------------------------------------------------------------------------------
# train


def test_train_writes_a_complete_bundle(speech_model, speech_corpus):
    assert speech_model["rc"] == 0, speech_model["stderr"]
    assert "Traceback" not in speech_model["stderr"]
    assert {p.name for p in speech_model["bundle"].iterdir()} == {
        "model.keras",
        "features.json",
        "symbols.txt",
        "cmvn.npz",
        "summary.json",
    }
    s = speech_model["summary"]
    assert s["format"] == 1
    assert s["epochs_run"] == 2 and [h["epoch"] for h in s["history"]] == [1, 2]
    # demo.toml keeps SA1/SA2: every .PHN of the two training speakers, none of the held-out one.
    expected = sum(
        len(list((speech_corpus["root"] / "TIMIT/TRAIN" / spk).glob("*.PHN")))
        for spk in TRAIN_SPEAKERS
    )
    assert s["train_utterances"] == expected == 20
    assert "model bundle written to" in speech_model["stdout"]


def test_train_refuses_an_out_folder_holding_a_run(capsys, speech_model, speech_corpus):
    before = snapshot(speech_model["out"])
    rc, out, err = run(
        capsys,
        *train_args(
            speech_corpus["root"], speech_model["out"], test_list=speech_corpus["test_list"]
        ),
    )
    assert rc == 2
    line = one_line(err)
    assert str(speech_model["out"]) in line and "--resume" in line
    assert snapshot(speech_model["out"]) == before


def test_train_refuses_an_out_folder_holding_only_a_bundle(
    capsys, speech_model, speech_corpus, tmp_path
):
    out = tmp_path / "run"
    shutil.copytree(speech_model["bundle"], out / "model")
    before = snapshot(out)
    rc, _, err = run(
        capsys, *train_args(speech_corpus["root"], out, test_list=speech_corpus["test_list"])
    )
    assert rc == 2 and "--resume" in one_line(err)
    assert snapshot(out) == before


def test_train_out_that_is_a_file(capsys, speech_corpus, tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("mine\n")
    rc, _, err = run(
        capsys, *train_args(speech_corpus["root"], out, test_list=speech_corpus["test_list"])
    )
    assert rc == 2 and str(out) in one_line(err)
    assert out.read_text() == "mine\n"


def test_train_resume_continues_exactly(capsys, speech_model, speech_corpus, tmp_path):
    out = tmp_path / "run"
    rc, _, err = run(
        capsys,
        *train_args(speech_corpus["root"], out, test_list=speech_corpus["test_list"], epochs=1),
    )
    assert rc == 0, err
    first = json.loads((out / "model" / "summary.json").read_text())
    assert first["epochs_run"] == 1 and len(first["history"]) == 1

    rc, stdout, err = run(
        capsys,
        *train_args(
            speech_corpus["root"], out, "--resume", test_list=speech_corpus["test_list"], epochs=2
        ),
    )
    assert rc == 0, err
    assert "resuming after epoch 1" in stdout
    second = json.loads((out / "model" / "summary.json").read_text())
    assert second["epochs_run"] == 2 and [h["epoch"] for h in second["history"]] == [1, 2]
    assert second["history"][0]["loss"] == first["history"][0]["loss"]
    # Same recipe, data and seed as the session's uninterrupted 2-epoch run: with the same
    # batches in the same order, epoch 2 must give the same loss.
    uninterrupted = speech_model["summary"]["history"]
    assert second["history"][0]["loss"] == pytest.approx(uninterrupted[0]["loss"], rel=1e-6)
    assert second["history"][1]["loss"] == pytest.approx(uninterrupted[1]["loss"], rel=1e-5)

    rc, stdout, err = run(
        capsys,
        *train_args(
            speech_corpus["root"], out, "--resume", test_list=speech_corpus["test_list"], epochs=2
        ),
    )
    assert rc == 0, err
    assert "epoch 3" not in stdout
    third = json.loads((out / "model" / "summary.json").read_text())
    assert third["epochs_run"] == 2 and third["history"] == second["history"]
    assert third["train_seconds_this_run"] == 0


def test_train_resume_with_another_model_shape(
    capsys, recwarn, speech_model, speech_corpus, tmp_path
):
    """Refused in one line, nothing changed, and no warning of Keras's before it."""
    out = tmp_path / "run"
    shutil.copytree(speech_model["out"], out)
    before = snapshot(out / "model")
    args = train_args(
        speech_corpus["root"],
        out,
        "--resume",
        "--set",
        "model.units=16",
        test_list=speech_corpus["test_list"],
        epochs=3,
    )
    rc, _, err = run(capsys, *args)
    assert rc == 2
    assert "checkpoint" in one_line(err)
    assert snapshot(out / "model") == before
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_train_resume_on_other_utterances_is_refused(capsys, speech_model, speech_corpus, tmp_path):
    """The checkpoint's weights and CMVN belong to its utterances: resuming on part of them
    (or another corpus) is refused before any epoch, nothing changed."""
    out = tmp_path / "run"
    shutil.copytree(speech_model["out"], out)
    before = snapshot(out)
    args = train_args(speech_corpus["root"], out, "--resume", "--max-utterances", "3",
                      test_list=speech_corpus["test_list"], epochs=3)  # fmt: skip
    rc, stdout, err = run(capsys, *args)
    assert rc == 2 and "resuming" not in stdout
    assert one_line(err).startswith(
        f"lstmrec: {out / 'checkpoint'}: the checkpoint was trained on other utterances"
    )
    assert snapshot(out) == before


def test_train_resumes_on_its_corpus_moved_elsewhere(capsys, speech_model, speech_corpus, tmp_path):
    """The same utterances under other paths (the corpus copied to another disk or machine)
    are the checkpoint's: the run resumes, and its summary records the paths it reads now."""
    out, moved = tmp_path / "run", tmp_path / "elsewhere" / "corpus"
    shutil.copytree(speech_model["out"], out)
    shutil.copytree(speech_corpus["root"], moved)
    args = train_args(moved, out, "--resume", test_list=moved / "test_spk.list", epochs=3)
    rc, stdout, err = run(capsys, *args)
    assert rc == 0, err
    assert "resuming after epoch 2" in stdout
    summary = json.loads((out / "model" / "summary.json").read_text())
    assert (
        summary["epochs_run"] == 3
        and summary["split_hash"] == speech_model["summary"]["split_hash"]
    )
    assert summary["data_hash"] != speech_model["summary"]["data_hash"]  # the paths it read


def test_train_skips_bad_utterances_and_lists_them(capsys, bad_speaker, tmp_path):
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys,
        *train_args(
            bad_speaker["root"],
            out,
            "--dev-speakers",
            bad_speaker["nobody"],
            test_list=bad_speaker["nobody"],
            epochs=1,
        ),
    )
    assert rc == 2
    assert "Traceback" not in err
    for path, reason in (
        (bad_speaker["unknown"], "unknown label 'zz'"),
        (bad_speaker["overlap"], "overlaps"),
        (bad_speaker["too_long"], "CTC"),
    ):
        assert any(str(path) in line and reason in line for line in err.splitlines()), err
    assert err.splitlines()[-1] == "lstmrec: 3 inputs failed (named above)"
    summary = json.loads((out / "model" / "summary.json").read_text())
    assert summary["train_utterances"] == 10 - 3  # the rest were speech_model on


@pytest.mark.parametrize("bad", ["unknown", "too_long"])
def test_train_strict_stops_at_the_first_bad_utterance(capsys, bad_speaker, tmp_path, bad):
    if bad == "too_long":  # the only bad one: found only after reading the audio
        shutil.copy(DEMO_TRAIN / "DR1/FVMH0/SI1466.PHN", bad_speaker["unknown"])
        shutil.copy(DEMO_TRAIN / "DR1/FVMH0/SI2096.PHN", bad_speaker["overlap"])
    out = tmp_path / "run"
    rc, _, err = run(
        capsys,
        *train_args(
            bad_speaker["root"],
            out,
            "--strict",
            "--dev-speakers",
            bad_speaker["nobody"],
            test_list=bad_speaker["nobody"],
            epochs=1,
        ),
    )
    assert rc == 2
    assert str(bad_speaker[bad]) in one_line(err)
    assert not (out / "model").exists() and not (out / "checkpoint").exists()


@pytest.mark.parametrize(
    "override",
    [
        "model.units=abc",
        "model.units=0",
        "training.batch_size=0",
        "model.dropout=2",
        "data.phone_set=40",
    ],
)
def test_train_bad_override_is_one_line(capsys, speech_corpus, tmp_path, override):
    rc, _, err = run(
        capsys,
        *train_args(
            speech_corpus["root"],
            tmp_path / "run",
            "--set",
            override,
            test_list=speech_corpus["test_list"],
            epochs=1,
        ),
    )
    assert rc == 2 and override.split("=")[0].split(".")[1] in one_line(err)


# ---------------------------------------------------------------------------------------------
# --help


@pytest.mark.parametrize("command", [[], *([c] for c in subcommands())])
def test_help(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: lstmrec")


@pytest.mark.parametrize("command", ["transcribe", "recognize"])
def test_help_of_inputs_names_standard_input(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "- reads standard input" in " ".join(capsys.readouterr().out.split())


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize(
    "backend, command, expected",
    [
        ("bogus", "train", "KERAS_BACKEND=bogus: no such Keras backend; lstmrec runs on "),
        pytest.param(
            "jax",
            "train",
            "KERAS_BACKEND=jax: jax is not installed; install it with pip install 'lstmrec[jax]'",
            marks=pytest.mark.skipif(_installed("jax"), reason="jax is installed here"),
        ),
        pytest.param(
            "torch",
            "export",
            "KERAS_BACKEND=torch: torch is not installed; install it with pip install "
            "'lstmrec[backends]'",
            marks=pytest.mark.skipif(_installed("torch"), reason="torch is installed here"),
        ),
    ],
)
def test_backend_that_cannot_be_imported(tmp_path, backend, command, expected):
    """A Keras backend that is not installed, or not a backend at all, is one line naming it
    and what to install, exit 2, before anything is read or written."""
    out = tmp_path / "out"
    if command == "train":
        args = ("train", "--config", "configs/demo.toml", "--data", DEMO_TRAIN, "--out", out)
    else:
        args = ("export", "en-phones", "--format", "savedmodel", "--out", out)
    proc = run_subprocess(*args, env={"KERAS_BACKEND": backend})
    assert proc.returncode == 2
    assert one_line(proc.stderr).startswith(f"lstmrec: {expected}")
    assert not out.exists()


def test_train_refuses_a_bad_out_or_init_from_before_any_feature(tmp_path, capsys):
    """``--out`` naming a file, and an ``--init-from`` that is no bundle, are one line each,
    exit 2, before the run folder is made or a feature computed."""
    cache = tmp_path / "cache"
    common = ("--config", "configs/demo.toml", "--data", DEMO_TRAIN, "--feature-cache", cache)
    afile = tmp_path / "afile"
    afile.write_text("")
    rc, _, err = run(capsys, "train", *common, "--out", afile)
    assert rc == 2
    assert one_line(err) == f"lstmrec: {afile}: not a folder (--out names the run folder: " \
        "a folder, or a new path)"  # fmt: skip

    out = tmp_path / "run"
    for bad, reason in [
        (tmp_path / "missing", "no model folder or shipped model named"),
        (tmp_path, "not a model bundle: missing"),
    ]:
        rc, _, err = run(capsys, "train", *common, "--out", out, "--init-from", bad)
        assert rc == 2
        line = one_line(err)
        assert "--init-from: " in line and reason in line, line
    assert not out.exists() and not cache.exists()


def test_train_help_says_what_init_from_starts(capsys):
    """--init-from starts a CTC model from a CTC bundle too; --help spoke of transducers only."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a CTC model from a CTC bundle of the same symbols" in text
    assert "a transducer's encoder from the BLSTM layers" in text


def test_help_end_to_end():
    proc = run_subprocess("--help")
    assert proc.returncode == 0 and "transcribe" in proc.stdout and proc.stderr == ""
