"""``scripts/bench_stacking.py`` with a CRNN's convolutional front end and drawn lengths: each
requested backend is timed in a process of its own on the network asked for (its weight count
against a hand count) and reported as a ratio to the first (speeds not asserted); options it
cannot honour are refused with status 2."""

import json
import os
import subprocess
import sys

from helpers import REPO


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_stacking.py"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=600,
    )


SMALL = ["--input-dim", "12", "--layers", "1", "--units", "8", "--classes", "11"]
SMALL += ["--batch-size", "4", "--frames", "5", "9", "--steps", "1", "--format", "json"]


def test_a_crnn_is_built_and_timed_in_each_child_process():
    proc = _bench(
        "--backends", "tensorflow", "tensorflow", "--stacks", "1", "--conv", "4", "8", *SMALL
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    assert [(r["backend"], r["stack"]) for r in rows] == [("tensorflow", 1)] * 2
    assert rows[0]["ratio"] == 1.0 and all(r["input_frames_per_s"] > 0 for r in rows)
    # 3 x 3 convolutions with bias, 1 -> 4 -> 8 channels, 12 rows pooled to 6 then 3, so the
    # BLSTM reads 3 * 8 = 24 inputs: 4 * 8 * (24 + 8 + 1) per direction; output 16 -> 11.
    conv = (9 * 1 * 4 + 4) + (9 * 4 * 8 + 8)
    assert rows[0]["parameters"] == conv + 2 * 4 * 8 * (24 + 8 + 1) + (16 * 11 + 11)


def test_options_it_cannot_honour_are_refused():
    proc = _bench("--stacks", "1", "2", "--conv", "4", *SMALL)
    assert proc.returncode == 2 and "--stacks 1 only" in proc.stderr
    proc = _bench("--stacks", "1", *SMALL, "--frames", "9", "5")  # the last --frames counts
    assert proc.returncode == 2 and "LO <= HI" in proc.stderr


def test_a_bad_corpus_is_one_line_before_any_child(tmp_path):
    proc = _bench("--backends", "tensorflow", "--stacks", "1", "--corpus", str(tmp_path / "no"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"bench_stacking: {tmp_path / 'no'}: no such file or directory\n"


def test_a_failed_pair_is_one_line_and_the_others_finish():
    """A backend that cannot start (here: none of that name) is named with its reason; the
    other pairs are timed and reported, and the exit status says one failed."""
    proc = _bench("--backends", "nosuch", "tensorflow", "--stacks", "1", *SMALL)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("bench_stacking: nosuch stack 1: failed: ")
    assert [r["backend"] for r in json.loads(proc.stdout)] == ["tensorflow"]
