"""Helpers shared by the test modules (``pythonpath = ["tests"]`` makes this importable).

Running the command line in this process or in a fresh one; the 3-speaker copy of the bundled
TIMIT sample and the tiny training settings of the session's speech model; the tiny recipe of the
session's handwriting model; a tiny IAM-OnDB tree; and the check for data that lives in
``../shared/data`` beside the clone. The session-scoped fixtures built from these are in
``conftest.py``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstmrec.cli.main import main
from lstmrec.features.inkfiles import write_iam_ondb_strokes

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# ---------------------------------------------------------------------------------------------
# The scripts


def load_script(name: str):
    """``scripts/<name>.py`` loaded as a module (the scripts are no package), to call its
    functions or its ``main(argv)`` in this process."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# The command line


def run(capsys, *args) -> tuple[int, str, str]:
    """``main(args)`` in this process: exit status, stdout, stderr."""
    capsys.readouterr()  # drop anything printed before
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def run_subprocess(
    *args, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """``python -m lstmrec args`` in a fresh interpreter, as a user runs it (``env``: variables
    set for it on top of this process's; ``stdin``: text piped to it)."""
    return subprocess.run(
        [sys.executable, "-m", "lstmrec", *map(str, args)],
        cwd=REPO,
        env=None if env is None else {**os.environ, **env},
        input=stdin,
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


# ---------------------------------------------------------------------------------------------
# Speech: a 3-speaker copy of the bundled TIMIT sample and the tiny training settings

DEMO_TRAIN = REPO / "data" / "timit-demo" / "TIMIT" / "TRAIN"
CONFIG = REPO / "configs" / "demo.toml"
TRAIN_SPEAKERS = ("DR1/FVMH0", "DR1/MCPM0")  # 10 sentences each, SA1/SA2 included
TEST_SPEAKER = "DR2/FAEM0"  # held out: the model never hears it
TEST_FILE = "SX312"  # the held-out sentence scripts/demo.sh transcribes
# Tiny and deterministic: no dropout, so a resumed run can be compared with an uninterrupted one.
TINY = ("--set", "model.units=8", "--set", "model.num_layers=1", "--set", "model.dropout=0.0")


def copy_speaker(speaker: str, root: Path) -> Path:
    """Copy one speaker of the bundled sample (``"DR1/FVMH0"``) to ``root/TIMIT/TRAIN/``."""
    dest = root / "TIMIT" / "TRAIN" / speaker
    shutil.copytree(DEMO_TRAIN / speaker, dest)
    return dest


def write_list(path: Path, *speakers: str) -> Path:
    """A speaker list file, one speaker a line."""
    path.write_text("".join(s + "\n" for s in speakers))
    return path


def train_args(data: Path, out: Path, *extra, test_list: Path, epochs: int = 2) -> list:
    """``lstmrec train`` arguments: configs/demo.toml with the tiny settings."""
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


# ---------------------------------------------------------------------------------------------
# Handwriting: the tiny recipe and a tiny IAM-OnDB tree

INK_RECIPE = """
[features]
kind = "ink"
[data]
unknown_chars = "drop"
charset = "abcdefghijklmnopqrstuvwxyz "  # the synthetic texts: lower-case words
[model]
num_layers = 1
units = 16
[training]
optimizer = "adam"
learning_rate = 3e-3
batch_size = 4
loss_reduction = "mean"
max_epochs = 2
"""

FORMS = {  # form id: (writer id, transcription lines)
    "a01-000u": ("10001", ["A MOVE to stop Mr. Gaitskell", "", "from nominating any more"]),
    "a01-001w": ("10002", ["Labour life Peers is to be"]),
    "b02-010": ("10003", ["made at a meeting", "of Labour MPs tomorrow."]),
    "c03-100z": ("10004", ["Mr. Michael Foot has"]),
}


def make_iam_ondb(root: Path, *, split_files: bool = True, writers: bool = True) -> Path:
    """A tiny IAM-OnDB tree: lineStrokes, ascii, original (writer ids) and task 1 split files."""
    rng = np.random.default_rng(3)
    for form, (writer, lines) in FORMS.items():
        group, text = form[:3], form[:7]
        ascii_dir = root / "ascii" / group / text
        ascii_dir.mkdir(parents=True, exist_ok=True)
        body = "OCR:\n\n" + "\n".join(lines) + "\n\nCSR:\n\n" + "\n".join(lines) + "\n"
        (ascii_dir / f"{form}.txt").write_text(body, encoding="latin-1")
        strokes_dir = root / "lineStrokes" / group / text
        strokes_dir.mkdir(parents=True, exist_ok=True)
        for n in range(1, len([x for x in lines if x]) + 1):
            xy = np.cumsum(rng.integers(-20, 30, (40, 2)), axis=0) + 1000
            t = 700 + np.arange(40) * 0.01
            strokes = [np.column_stack([xy[:25], t[:25]]), np.column_stack([xy[25:], t[25:]])]
            write_iam_ondb_strokes(strokes_dir / f"{form}-{n:02d}.xml", strokes)
        if writers:
            original = root / "original" / group / text
            original.mkdir(parents=True, exist_ok=True)
            (original / f"strokes{form[7:] or 'x'}.xml").write_text(
                f'<WhiteboardCaptureSession><General><Form id="{form}" writerID="{writer}"/>'
                "</General><StrokeSet/></WhiteboardCaptureSession>"
            )
    if split_files:
        (root / "task1").mkdir(exist_ok=True)
        (root / "task1" / "trainset.txt").write_text("a01-000u\na01-001w\n")
        (root / "task1" / "testset_v.txt").write_text("b02-010-01\n")
        (root / "task1" / "testset_t.txt").write_text("b02-010-02\n")
        (root / "task1" / "testset_f.txt").write_text("c03-100z\n")
    return root


# ---------------------------------------------------------------------------------------------
# Data in ../shared/data


def shared_data(name: str) -> Path:
    """``../shared/data/<name>``, a file or folder some tests read.

    Missing, the calling test is skipped with the reason, except under ``CI=true``: CI has
    ``../shared`` beside the clone, so there a missing copy fails the test instead of letting it
    pass unseen. ``@pytest.mark.shared_data(name)`` on a test does the same before its fixtures.
    """
    path = SHARED_DATA / name
    if not path.exists():
        reason = f"../shared/data/{name} not found: no {path} beside this clone"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the shared data must be there)", pytrace=False)
        pytest.skip(reason)
    return path


def random_model(
    cell: str,
    *,
    input_dim=7,
    num_classes=5,
    layers=2,
    units=6,
    dropout=0.1,
    direction="bidirectional",
    conv=(),
    seed: int | None = None,
):
    """A ``build_model`` network with every weight drawn at random (seeded; default seed
    ``len(cell)``)."""
    from lstmrec.models.blstm import build_model  # here: Keras only for the tests that need it

    model = build_model(
        input_dim=input_dim,
        num_classes=num_classes,
        num_layers=layers,
        units=units,
        cell=cell,
        dropout=dropout,
        direction=direction,
        conv=conv,
    )
    rng = np.random.default_rng(len(cell) if seed is None else seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.weights])
    return model
