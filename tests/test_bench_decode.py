"""scripts/bench_decode.py (docs/benchmarks.md): bad flags are one line and exit status 2,
before TensorFlow or a model is loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO, load_script, one_line


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_decode")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--utterances", "0"], "--utterances must be at least 1, got 0"),
        (["--frames", "-3"], "--frames must be at least 1, got -3"),
        (["--classes", "1"], "--classes must be at least 2, got 1"),
        (["--beams", "10", "0"], "--beams must be at least 1, got 0"),
        (["--repeats", "0"], "--repeats must be at least 1, got 0"),
        (["--lm", "phones.arpa"], "--lm needs --model"),
        (["--model", "en-phones"], "--model needs --data"),
    ],
)
def test_bad_flags_are_one_line(bench, capsys, extra, message):
    assert bench.main(extra) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert one_line(err).startswith("bench_decode: command line: ") and message in err


def test_a_missing_corpus_is_one_line(bench, capsys, tmp_path):
    nope = tmp_path / "nope"
    assert bench.main(["--model", "en-phones", "--data", str(nope)]) == 2
    assert str(nope) in one_line(capsys.readouterr().err)


def test_a_run_prints_no_tensorflow_start_up_lines():
    # TensorFlow's decoder is imported for the comparison; its C++ start-up lines (oneDNN,
    # the CUDA probe) are held back as the commands hold them back
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_decode.py"), "--utterances", "2",
         "--frames", "40", "--beams", "4", "--repeats", "1", "--format", "json"],
        capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},  # as a user's
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout)
