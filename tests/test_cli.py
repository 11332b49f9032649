"""The ``lstmrec`` command line end to end, on a 3-speaker copy of the bundled TIMIT sample.

One tiny model (1 layer of 8 units, 2 epochs) is trained once per session; the tests then run
transcribe, evaluate, score and train against it, checking the contract of the command line:
good input gives exit status 0; bad input gives one line on stderr naming the file and the
reason, exit status 2 and never a traceback; batch commands skip bad files, list them at the end
and finish the rest (``--strict`` stops at the first); nothing the user made is overwritten.
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from lstmrec.cli.main import build_parser, main
from lstmrec.phones import PHONES39, fold

REPO = Path(__file__).resolve().parents[1]
DEMO_TRAIN = REPO / "data" / "timit-demo" / "TIMIT" / "TRAIN"
CONFIG = REPO / "configs" / "demo.toml"
TRAIN_SPEAKERS = ("DR1/FVMH0", "DR1/MCPM0")  # 10 sentences each, SA1/SA2 included
TEST_SPEAKER = "DR2/FAEM0"  # held out: the model never hears it
TEST_FILE = "SX312"  # the held-out sentence scripts/demo.sh transcribes
# Tiny and deterministic: no dropout, so a resumed run can be compared with an uninterrupted one.
TINY = ("--set", "model.units=8", "--set", "model.num_layers=1", "--set", "model.dropout=0.0")


# ---------------------------------------------------------------------------------------------
# Helpers


def run(capsys, *args) -> tuple[int, str, str]:
    """``main(args)`` in this process: exit status, stdout, stderr."""
    capsys.readouterr()  # drop anything printed before
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def run_subprocess(*args) -> subprocess.CompletedProcess:
    """``python -m lstmrec args`` in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "lstmrec", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line(err: str) -> str:
    """The single line a bad input must produce on stderr."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    return lines[0]


def train_args(data: Path, out: Path, *extra, test_list: Path, epochs: int = 2) -> list:
    return [
        "train",
        "--config",
        CONFIG,
        "--data",
        data,
        "--out",
        out,
        "--test-speakers",
        test_list,
        *TINY,
        "--set",
        f"training.max_epochs={epochs}",
        *extra,
    ]


def evaluate_args(bundle: Path, data: Path, test_list: Path, *extra) -> list:
    """``lstmrec evaluate`` on the core-test split defined by ``test_list``."""
    return [
        "evaluate",
        bundle,
        "--data",
        data,
        "--split",
        "core-test",
        "--test-speakers",
        test_list,
        *extra,
    ]


def read_labels(phn: Path) -> list[str]:
    """The labels of a .PHN file, read here without the reader under test."""
    return [line.split()[2] for line in phn.read_text().splitlines() if line.strip()]


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """``{relative path: (mtime_ns, bytes)}`` of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def copy_speaker(speaker: str, root: Path) -> Path:
    dest = root / "TIMIT" / "TRAIN" / speaker
    shutil.copytree(DEMO_TRAIN / speaker, dest)
    return dest


def write_list(path: Path, *speakers: str) -> Path:
    path.write_text("".join(s + "\n" for s in speakers))
    return path


def subcommands() -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """A TIMIT-layout copy of 3 speakers: 2 to train on, FAEM0 held out by ``test_list``."""
    root = tmp_path_factory.mktemp("corpus")
    for speaker in (*TRAIN_SPEAKERS, TEST_SPEAKER):
        copy_speaker(speaker, root)
    test_list = write_list(root / "test_spk.list", "faem0")
    return {
        "root": root,
        "test_list": test_list,
        "test_dir": root / "TIMIT" / "TRAIN" / TEST_SPEAKER,
    }


@pytest.fixture(scope="session")
def trained(tmp_path_factory, corpus):
    """The tiny model, trained once: run folder, bundle, exit status and what it printed."""
    out = tmp_path_factory.mktemp("run") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main([str(a) for a in train_args(corpus["root"], out, test_list=corpus["test_list"])])
    bundle = out / "model"
    return {
        "rc": rc,
        "out": out,
        "bundle": bundle,
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "summary": json.loads((bundle / "summary.json").read_text()) if rc == 0 else None,
    }


@pytest.fixture(scope="session")
def audio(tmp_path_factory, corpus):
    """The held-out sentence in several containers and shapes, plus bad and edge-case files."""
    d = tmp_path_factory.mktemp("audio")
    sphere = corpus["test_dir"] / f"{TEST_FILE}.WAV"
    pcm, sr = sf.read(sphere, dtype="int16")  # (N,) at 16 kHz
    assert sr == 16000
    sf.write(d / "riff.wav", pcm, sr, subtype="PCM_16")
    sf.write(d / "sentence.flac", pcm, sr)
    x = pcm.astype(np.float32) / 32768
    x44 = scipy.signal.resample_poly(x, 441, 160)  # 16 kHz -> 44.1 kHz
    sf.write(d / "stereo44k.wav", np.stack([x44, 0.5 * x44], axis=1), 44100, subtype="FLOAT")
    sf.write(d / "silence.wav", np.zeros(2 * sr, np.int16), sr)
    sf.write(d / "empty.wav", np.zeros(0, np.int16), sr)
    sf.write(d / "short.wav", np.zeros(100, np.int16), sr)  # < one 400-sample window
    (d / "text.wav").write_text("this is not audio\n")
    folder = d / "folder"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(d / "riff.wav", folder / "b.wav")
    shutil.copy(d / "sentence.flac", folder / "sub" / "a.FLAC")
    (folder / "notes.txt").write_text("not audio, not picked up\n")
    return {
        "dir": d,
        "sphere": sphere,
        "riff": d / "riff.wav",
        "flac": d / "sentence.flac",
        "stereo": d / "stereo44k.wav",
        "silence": d / "silence.wav",
        "empty": d / "empty.wav",
        "short": d / "short.wav",
        "text": d / "text.wav",
        "missing": d / "missing.wav",
        "folder": folder,
        "seconds": len(pcm) / sr,
    }


@pytest.fixture
def bad_speaker(tmp_path):
    """One speaker (FVMH0) with three broken utterances; speaker lists that hold nobody."""
    spk = copy_speaker("DR1/FVMH0", tmp_path)
    unknown, overlap, too_long = spk / "SI1466.PHN", spk / "SI2096.PHN", spk / "SI836.PHN"
    lines = unknown.read_text().splitlines()
    start, end, _ = lines[1].split()
    lines[1] = f"{start} {end} zz"  # not a TIMIT label
    unknown.write_text("\n".join(lines) + "\n")
    lines = overlap.read_text().splitlines()
    prev_end = int(lines[1].split()[1])
    _, end, label = lines[2].split()
    lines[2] = f"{prev_end - 50} {end} {label}"  # starts 50 samples before the previous end
    overlap.write_text("\n".join(lines) + "\n")
    # 0.2 s of audio (18 frames) labelled with 30 phones: too many for CTC.
    wav = spk / "SI836.WAV"
    pcm, sr = sf.read(wav, dtype="int16")
    sf.write(wav, pcm[:3200], sr, format="NIST", subtype="PCM_16")
    too_long.write_text(
        "".join(f"{i * 100} {(i + 1) * 100} {'aa' if i % 2 else 'b'}\n" for i in range(30))
    )
    nobody = write_list(tmp_path / "nobody.list", "nobody")
    return {
        "root": tmp_path,
        "unknown": unknown,
        "overlap": overlap,
        "too_long": wav,
        "nobody": nobody,
        "fvmh0": write_list(tmp_path / "fvmh0.list", "fvmh0"),
    }


# ---------------------------------------------------------------------------------------------
# train


def test_train_writes_a_complete_bundle(trained, corpus):
    assert trained["rc"] == 0, trained["stderr"]
    assert "Traceback" not in trained["stderr"]
    assert {p.name for p in trained["bundle"].iterdir()} == {
        "model.keras",
        "features.json",
        "symbols.txt",
        "cmvn.npz",
        "summary.json",
    }
    s = trained["summary"]
    assert s["format"] == 1
    assert s["epochs_run"] == 2 and [h["epoch"] for h in s["history"]] == [1, 2]
    # demo.toml keeps SA1/SA2: every .PHN of the two training speakers, none of the held-out one.
    expected = sum(
        len(list((corpus["root"] / "TIMIT/TRAIN" / spk).glob("*.PHN"))) for spk in TRAIN_SPEAKERS
    )
    assert s["train_utterances"] == expected == 20
    assert "model bundle written to" in trained["stdout"]


def test_train_refuses_an_out_folder_holding_a_run(capsys, trained, corpus):
    before = snapshot(trained["out"])
    rc, out, err = run(
        capsys, *train_args(corpus["root"], trained["out"], test_list=corpus["test_list"])
    )
    assert rc == 2
    line = one_line(err)
    assert str(trained["out"]) in line and "--resume" in line
    assert snapshot(trained["out"]) == before


def test_train_refuses_an_out_folder_holding_only_a_bundle(capsys, trained, corpus, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained["bundle"], out / "model")
    before = snapshot(out)
    rc, _, err = run(capsys, *train_args(corpus["root"], out, test_list=corpus["test_list"]))
    assert rc == 2 and "--resume" in one_line(err)
    assert snapshot(out) == before


def test_train_out_that_is_a_file(capsys, corpus, tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("mine\n")
    rc, _, err = run(capsys, *train_args(corpus["root"], out, test_list=corpus["test_list"]))
    assert rc == 2 and str(out) in one_line(err)
    assert out.read_text() == "mine\n"


def test_train_resume_continues_exactly(capsys, trained, corpus, tmp_path):
    out = tmp_path / "run"
    rc, _, err = run(
        capsys, *train_args(corpus["root"], out, test_list=corpus["test_list"], epochs=1)
    )
    assert rc == 0, err
    first = json.loads((out / "model" / "summary.json").read_text())
    assert first["epochs_run"] == 1 and len(first["history"]) == 1

    rc, stdout, err = run(
        capsys,
        *train_args(corpus["root"], out, "--resume", test_list=corpus["test_list"], epochs=2),
    )
    assert rc == 0, err
    assert "resuming after epoch 1" in stdout
    second = json.loads((out / "model" / "summary.json").read_text())
    assert second["epochs_run"] == 2 and [h["epoch"] for h in second["history"]] == [1, 2]
    assert second["history"][0]["loss"] == first["history"][0]["loss"]
    # Same recipe, data and seed as the session's uninterrupted 2-epoch run: with the same
    # batches in the same order, epoch 2 must give the same loss.
    uninterrupted = trained["summary"]["history"]
    assert second["history"][0]["loss"] == pytest.approx(uninterrupted[0]["loss"], rel=1e-6)
    assert second["history"][1]["loss"] == pytest.approx(uninterrupted[1]["loss"], rel=1e-5)

    rc, stdout, err = run(
        capsys,
        *train_args(corpus["root"], out, "--resume", test_list=corpus["test_list"], epochs=2),
    )
    assert rc == 0, err
    assert "epoch 3" not in stdout
    third = json.loads((out / "model" / "summary.json").read_text())
    assert third["epochs_run"] == 2 and third["history"] == second["history"]
    assert third["train_seconds_this_run"] == 0


def test_train_resume_with_another_model_shape(capsys, trained, corpus, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained["out"], out)
    before = snapshot(out / "model")
    args = train_args(
        corpus["root"],
        out,
        "--resume",
        "--set",
        "model.units=16",
        test_list=corpus["test_list"],
        epochs=3,
    )
    rc, _, err = run(capsys, *args)
    assert rc == 2
    assert "checkpoint" in one_line(err)
    assert snapshot(out / "model") == before


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
    assert "3 input(s) failed" in err
    summary = json.loads((out / "model" / "summary.json").read_text())
    assert summary["train_utterances"] == 10 - 3  # the rest were trained on


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
def test_train_bad_override_is_one_line(capsys, corpus, tmp_path, override):
    rc, _, err = run(
        capsys,
        *train_args(
            corpus["root"],
            tmp_path / "run",
            "--set",
            override,
            test_list=corpus["test_list"],
            epochs=1,
        ),
    )
    assert rc == 2 and override.split("=")[0].split(".")[1] in one_line(err)


# ---------------------------------------------------------------------------------------------
# transcribe


def transcribe_json(capsys, bundle, *inputs, extra=()) -> tuple[int, list[dict], str]:
    rc, out, err = run(capsys, "transcribe", bundle, *inputs, "--format", "json", *extra)
    return rc, [json.loads(line) for line in out.splitlines()], err


def test_transcribe_good_files_text(capsys, trained, audio):
    files = [audio[k] for k in ("sphere", "riff", "flac", "stereo", "silence")]
    rc, out, err = run(capsys, "transcribe", trained["bundle"], *files)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [str(f) for f in files]
    symbols = set((trained["bundle"] / "symbols.txt").read_text().split()[1:])
    for line in lines:
        assert set(line.split()[1:]) <= symbols
    # The same samples in SPHERE, RIFF and FLAC give the same phones.
    phones = [line.split()[1:] for line in lines]
    assert phones[0] == phones[1] == phones[2]


def test_transcribe_json_times(capsys, trained, audio):
    files = [audio[k] for k in ("sphere", "riff", "flac", "stereo", "silence")]
    rc, results, err = transcribe_json(capsys, trained["bundle"], *files)
    assert rc == 0 and err == ""
    assert [r["file"] for r in results] == [str(f) for f in files]
    assert any(r["phones"] for r in results)  # so the checks below are not vacuous
    for r, f in zip(results, files, strict=True):
        assert set(r) == {"file", "duration", "phones"}
        assert r["duration"] == pytest.approx(sf.info(str(f)).duration, abs=1e-3)
        prev_start, prev_end = 0.0, 0.0
        for p in r["phones"]:
            assert set(p) == {"phone", "start", "end"}
            assert 0 <= p["start"] <= p["end"] <= r["duration"]
            assert p["start"] >= prev_start and p["start"] >= prev_end - 1e-9  # no overlap
            prev_start, prev_end = p["start"], p["end"]
    for r in results[:4]:  # the sentence, resampled or not, is the sentence's length
        assert r["duration"] == pytest.approx(audio["seconds"], abs=1e-3)
    assert results[4]["duration"] == pytest.approx(2.0)


def test_transcribe_fold_39(capsys, trained, audio):
    rc, results, _ = transcribe_json(
        capsys, trained["bundle"], audio["sphere"], audio["stereo"], extra=("--fold", "39")
    )
    assert rc == 0
    phones = {p["phone"] for r in results for p in r["phones"]}
    assert phones and phones <= set(PHONES39)


def test_transcribe_folder(capsys, trained, audio):
    rc, out, err = run(capsys, "transcribe", trained["bundle"], audio["folder"])
    assert rc == 0 and err == ""
    assert [line.split()[0] for line in out.splitlines()] == [
        str(audio["folder"] / "b.wav"),
        str(audio["folder"] / "sub" / "a.FLAC"),
    ]


def test_transcribe_folder_without_audio(capsys, trained, tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here\n")
    rc, out, err = run(capsys, "transcribe", trained["bundle"], tmp_path)
    assert rc == 2 and out == ""
    assert str(tmp_path) in one_line(err)


def test_transcribe_silence(capsys, trained, audio):
    rc, results, err = transcribe_json(capsys, trained["bundle"], audio["silence"])
    assert rc == 0 and err == "" and len(results) == 1


BAD_AUDIO = {
    "missing": "no such file",
    "text": "cannot read audio",
    "empty": "empty audio",
    "short": "too short",
}


def test_transcribe_skips_bad_files(capsys, trained, audio):
    files = [
        audio["riff"],
        audio["missing"],
        audio["text"],
        audio["flac"],
        audio["empty"],
        audio["short"],
        audio["sphere"],
    ]
    rc, results, err = transcribe_json(capsys, trained["bundle"], *files)
    assert rc == 2
    assert "Traceback" not in err
    assert [r["file"] for r in results] == [str(audio[k]) for k in ("riff", "flac", "sphere")]
    err_lines = err.splitlines()
    for key, reason in BAD_AUDIO.items():
        named = [line for line in err_lines if str(audio[key]) in line]
        assert named and all(reason in line for line in named), err
    assert f"{len(BAD_AUDIO)} input(s) failed" in err


def test_transcribe_strict_stops_at_the_first_bad_file(capsys, trained, audio):
    rc, out, err = run(
        capsys,
        "transcribe",
        trained["bundle"],
        audio["riff"],
        audio["text"],
        audio["missing"],
        audio["flac"],
        "--strict",
    )
    assert rc == 2
    line = one_line(err)
    assert str(audio["text"]) in line and "cannot read audio" in line
    assert str(audio["flac"]) not in out


def test_transcribe_bad_file_end_to_end(trained, audio):
    proc = run_subprocess("transcribe", trained["bundle"], audio["missing"], audio["riff"])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(audio["missing"]) in proc.stderr and "no such file" in proc.stderr
    assert proc.stdout.split()[0] == str(audio["riff"])


# ---------------------------------------------------------------------------------------------
# Incompatible or damaged bundles


def _edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


BUNDLE_DAMAGE = {
    # name: (how to damage a copy of the bundle, a word the message must hold)
    "format": (lambda b: _edit_json(b / "summary.json", format=999), "format 999"),
    # A newer format may add feature fields: the format is what must be reported.
    "format-first": (
        lambda b: (
            _edit_json(b / "summary.json", format=2),
            _edit_json(b / "features.json", new_field=1),
        ),
        "format 2",
    ),
    "no-model": (lambda b: (b / "model.keras").unlink(), "model.keras"),
    "garbage-model": (lambda b: (b / "model.keras").write_bytes(b"not a zip"), "cannot load"),
    "summary-not-object": (lambda b: (b / "summary.json").write_text("[1]"), "summary.json"),
    "symbols-not-utf8": (lambda b: (b / "symbols.txt").write_bytes(b"\xff\xfe\n"), "unreadable"),
    "bad-cmvn": (lambda b: (b / "cmvn.npz").write_bytes(b"PK"), "cannot load"),
}


@pytest.mark.parametrize("damage", sorted(BUNDLE_DAMAGE))
def test_transcribe_with_a_damaged_bundle(capsys, trained, audio, tmp_path, damage):
    bundle = tmp_path / "model"
    shutil.copytree(trained["bundle"], bundle)
    spoil, word = BUNDLE_DAMAGE[damage]
    spoil(bundle)
    rc, out, err = run(capsys, "transcribe", bundle, audio["riff"])
    assert rc == 2 and out == ""
    line = one_line(err)
    assert str(bundle) in line and word in line


def test_transcribe_bundle_not_found(capsys, audio, tmp_path):
    rc, _, err = run(capsys, "transcribe", tmp_path / "nothing", audio["riff"])
    assert rc == 2 and str(tmp_path / "nothing") in one_line(err)


# ---------------------------------------------------------------------------------------------
# evaluate


def test_evaluate_text_report(capsys, trained, corpus):
    rc, out, err = run(
        capsys, *evaluate_args(trained["bundle"], corpus["root"], corpus["test_list"])
    )
    assert rc == 0 and "Traceback" not in err
    assert out.startswith("PER ") and "39 phones" in out and "faem0" in out


def test_evaluate_json_counts_and_score_agree(capsys, trained, corpus, tmp_path):
    hyp = tmp_path / "hyp.txt"
    rc, out, err = run(
        capsys,
        *evaluate_args(
            trained["bundle"],
            corpus["root"],
            corpus["test_list"],
            "--format",
            "json",
            "--hyp-out",
            hyp,
        ),
    )
    assert rc == 0, err
    report = json.loads(out)
    # The held-out speaker's sentences, SA1/SA2 excluded (evaluate's default), folded to 39.
    phns = sorted(p for p in corpus["test_dir"].glob("*.PHN") if not p.stem.startswith("SA"))
    refs = {f"faem0_{p.stem.lower()}": read_labels(p) for p in phns}
    assert report["num_utterances"] == len(refs) == 8
    assert report["phone_set"] == 39
    assert report["reference_length"] == sum(len(fold(r, 39)) for r in refs.values())
    s, d, i = report["substitutions"], report["deletions"], report["insertions"]
    assert report["error_rate"] == pytest.approx(100 * (s + d + i) / report["reference_length"])
    assert set(report["per_speaker"]) == {"faem0"}
    assert report["per_speaker"]["faem0"]["reference_length"] == report["reference_length"]

    # The hypotheses it wrote, scored by 'lstmrec score', give the same counts.
    ref = tmp_path / "ref.txt"
    ref.write_text("".join(f"{u} {' '.join(p)}\n" for u, p in refs.items()))
    rc, out, err = run(capsys, "score", ref, hyp, "--fold", "39", "--format", "json")
    assert rc == 0, err
    scored = json.loads(out)
    for key in ("substitutions", "deletions", "insertions", "reference_length"):
        assert scored[key] == report[key]


def test_evaluate_skips_bad_utterances(capsys, trained, bad_speaker):
    rc, out, err = run(
        capsys,
        *evaluate_args(
            trained["bundle"], bad_speaker["root"], bad_speaker["fvmh0"], "--format", "json"
        ),
    )
    assert rc == 2 and "Traceback" not in err
    for key in ("unknown", "overlap"):
        assert str(bad_speaker[key]) in err
    assert "2 input(s) failed" in err
    # 8 sentences without SA1/SA2, less the 2 unreadable ones; a transcript too long for CTC
    # can still be scored.
    assert json.loads(out)["num_utterances"] == 6


def test_evaluate_strict(capsys, trained, bad_speaker):
    rc, out, err = run(
        capsys,
        *evaluate_args(trained["bundle"], bad_speaker["root"], bad_speaker["fvmh0"], "--strict"),
    )
    assert rc == 2 and out == ""
    assert str(bad_speaker["unknown"]) in one_line(err)


def test_evaluate_empty_split(capsys, trained, corpus, tmp_path):
    rc, out, err = run(
        capsys,
        *evaluate_args(
            trained["bundle"], corpus["root"], write_list(tmp_path / "x.list", "nobody")
        ),
    )
    assert rc == 2 and out == "" and "no utterances" in one_line(err)


# ---------------------------------------------------------------------------------------------
# score


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def ref_hyp(tmp_path):
    """Two speakers: spk1 has one substitution (iy -> ih) and one insertion (y); spk2 one
    deletion (r)."""
    ref = write_text(tmp_path / "ref.txt", "spk1_u1 sh iy hh ae d\nspk2_u1 aa r k\n")
    hyp = write_text(tmp_path / "hyp.txt", "spk2_u1 aa k\nspk1_u1 sh ih hh ae d y\n")
    return ref, hyp


def test_score_known_counts(capsys, ref_hyp):
    rc, out, err = run(capsys, "score", *ref_hyp, "--format", "json")
    assert rc == 0 and err == ""
    r = json.loads(out)
    assert (r["substitutions"], r["deletions"], r["insertions"]) == (1, 1, 1)
    assert r["reference_length"] == 8 and r["error_rate"] == pytest.approx(37.5)
    assert r["per_speaker"]["spk1"] == {
        "error_rate": pytest.approx(40.0),
        "substitutions": 1,
        "deletions": 0,
        "insertions": 1,
        "reference_length": 5,
    }
    assert r["per_speaker"]["spk2"] == {
        "error_rate": pytest.approx(100 / 3),
        "substitutions": 0,
        "deletions": 1,
        "insertions": 0,
        "reference_length": 3,
    }


def test_score_text_report(capsys, ref_hyp):
    rc, out, _ = run(capsys, "score", *ref_hyp)
    assert rc == 0
    assert out.startswith("Error rate 37.50 % [ 3 / 8 ] (S 1, D 1, I 1)")


def test_score_fold_39(capsys, tmp_path):
    # ao and aa are one phone in the 39 set, ix -> ih, and q is deleted.
    ref = write_text(tmp_path / "ref.txt", "spk_u1 ao q ix\n")
    hyp = write_text(tmp_path / "hyp.txt", "spk_u1 aa ih\n")
    rc, out, _ = run(capsys, "score", ref, hyp, "--format", "json")
    assert rc == 0
    r = json.loads(out)
    assert (r["substitutions"], r["deletions"], r["insertions"], r["reference_length"]) == (
        2,
        1,
        0,
        3,
    )
    rc, out, _ = run(capsys, "score", ref, hyp, "--format", "json", "--fold", "39")
    assert rc == 0
    r = json.loads(out)
    assert r["errors"] == 0 and r["reference_length"] == 2 and r["phone_set"] == 39


def test_score_missing_ref_end_to_end(ref_hyp, tmp_path):
    missing = tmp_path / "no-such-ref.txt"
    proc = run_subprocess("score", missing, ref_hyp[1])
    assert proc.returncode == 2 and proc.stdout == ""
    assert str(missing) in one_line(proc.stderr)


def test_score_missing_hypothesis(capsys, ref_hyp, tmp_path):
    hyp = write_text(tmp_path / "partial.txt", "spk1_u1 sh iy hh ae d\n")
    rc, out, err = run(capsys, "score", ref_hyp[0], hyp, "--format", "json")
    assert rc == 2
    assert json.loads(out)["missing"] == ["spk2_u1"]
    line = one_line(err)
    assert str(hyp) in line and "spk2_u1" in line


@pytest.mark.parametrize(
    "content, word",
    [
        (b"spk1_u1 sh zz\n", "unknown phone 'zz'"),  # only an error when folding
        (b"\xff\xfe sh\n", "UTF-8"),
        (b"spk1_u1 sh\nspk1_u1 iy\n", "duplicate"),
    ],
)
def test_score_bad_ref(capsys, ref_hyp, tmp_path, content, word):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    rc, out, err = run(capsys, "score", bad, ref_hyp[1], "--fold", "39")
    assert rc == 2 and out == ""
    line = one_line(err)
    assert str(bad) in line and word in line


# ---------------------------------------------------------------------------------------------
# --help


@pytest.mark.parametrize("command", [[], *([c] for c in subcommands())])
def test_help(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: lstmrec")


def test_help_end_to_end():
    proc = run_subprocess("--help")
    assert proc.returncode == 0 and "transcribe" in proc.stdout and proc.stderr == ""
