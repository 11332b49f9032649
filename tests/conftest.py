"""Test-session settings and fixtures shared by every test module.

The two trained models are trained once per session, with the tiny settings of ``helpers.py``:
``speech_model`` (1 × 8 BLSTM, 2 epochs on 2 speakers of the bundled TIMIT sample) and
``ink_run`` (1 × 16 BLSTM, 2 epochs on a synthetic IAM-OnDB tree). Tests must not change them;
a test that damages or resumes a run works on a copy. Also here: ``bad_speaker`` (a TIMIT speaker
with three broken utterances) and ``@pytest.mark.shared_data(name)`` for tests that read
``../shared/data/<name>``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile

import pytest
import soundfile as sf
from helpers import (
    INK_RECIPE,
    TEST_SPEAKER,
    TRAIN_SPEAKERS,
    copy_speaker,
    shared_data,
    train_args,
    write_list,
)

from lstmrec.cli.main import main
from lstmrec.corpora.synth_ink import CorpusSpec, write_corpus

# Training and `lstmrec features` default to a feature cache shared by all of a user's runs
# (lstmrec.featurize.default_cache_dir). Tests, and the commands they start in subprocesses,
# use a cache of their own that disappears with the session.
_CACHE = tempfile.mkdtemp(prefix="lstmrec-test-cache-")
os.environ["LSTMREC_CACHE_DIR"] = _CACHE


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """``@pytest.mark.shared_data(name)``: skip (fail under CI=true) when the data is missing."""
    for mark in item.iter_markers("shared_data"):
        shared_data(*mark.args)


@pytest.fixture(scope="session")
def speech_corpus(tmp_path_factory):
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
def speech_model(tmp_path_factory, speech_corpus):
    """The tiny speech model, trained once: run folder, bundle, exit status and what it printed."""
    out = tmp_path_factory.mktemp("run") / "run"
    args = train_args(speech_corpus["root"], out, test_list=speech_corpus["test_list"])
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main([str(a) for a in args])
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
def ink_run(tmp_path_factory):
    """``(corpus root, bundle path)`` of the tiny ink model trained on 3 synthetic writers."""
    root = tmp_path_factory.mktemp("ink")
    spec = CorpusSpec(
        writers=3, lines_per_writer=4, dev_writers=1, test_writers=1, seed=5, max_words=2
    )
    write_corpus(root / "corpus", spec)
    (root / "tiny.toml").write_text(INK_RECIPE)
    rc = main(
        ["train", "--config", str(root / "tiny.toml"), "--data", str(root / "corpus"),
         "--out", str(root / "run")]
    )  # fmt: skip
    assert rc == 0
    return root / "corpus", root / "run" / "model"


@pytest.fixture
def bad_speaker(tmp_path):
    """One speaker (FVMH0) with three broken utterances; an empty speaker list (nobody held out)."""
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
    nobody = write_list(tmp_path / "nobody.list")  # an empty list: no held-out speakers
    return {
        "root": tmp_path,
        "unknown": unknown,
        "overlap": overlap,
        "too_long": wav,
        "nobody": nobody,
        "fvmh0": write_list(tmp_path / "fvmh0.list", "fvmh0"),
    }
