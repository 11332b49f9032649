"""What a training run tells its user while it runs: one log line per epoch (loss, the dev error
rate by name, seconds, frames per second), ``history.csv`` in the run folder (rewritten whole each
epoch, continued on resume), and TensorBoard scalars when the ``tensorboard`` package is there."""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before anything imports TensorFlow

import csv
import importlib.util
import json
import re
import shutil

import pytest
from helpers import run, train_args

from lstmrec.training.callbacks import (
    HISTORY,
    HISTORY_COLUMNS,
    EpochMonitor,
    history_csv,
    tensorboard_log,
    write_history,
)


def read_history(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == HISTORY_COLUMNS
        return list(reader)


# ---------------------------------------------------------------------------------------------
# The file and the log line, by hand


def test_history_csv_by_hand():
    history = [
        {"epoch": 1, "loss": 224.5, "seconds": 3.25, "learning_rate": 0.0001},  # an older row
        {
            "epoch": 2,
            "loss": 180.125,
            "dev_error_rate": 87.5,
            "seconds": 2.5,
            "learning_rate": 0.0001,
            "frames_per_second": 1135.2,
        },
    ]
    assert history_csv(history) == (
        "epoch,loss,dev_error_rate,seconds,learning_rate,frames_per_second\n"
        "1,224.5,,3.25,0.0001,\n"
        "2,180.125,87.5,2.5,0.0001,1135.2\n"
    )
    assert history_csv([]) == "epoch,loss,dev_error_rate,seconds,learning_rate,frames_per_second\n"


def test_write_history_replaces_the_whole_file_and_skips_an_unchanged_one(tmp_path):
    (tmp_path / HISTORY).write_text("epoch,loss\n1,9\n1,9\n2,8\n")  # rows of a stopped run
    write_history(tmp_path, [{"epoch": 1, "loss": 3.0}])
    assert (tmp_path / HISTORY).read_text().splitlines()[1:] == ["1,3.0,,,,"]
    before = (tmp_path / HISTORY).stat().st_mtime_ns
    write_history(tmp_path, [{"epoch": 1, "loss": 3.0}])
    assert (tmp_path / HISTORY).stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [HISTORY]  # no temporary left


class Scalars:
    def __init__(self):
        self.written = []

    def write(self, step, scalars):
        self.written.append((step, scalars))


@pytest.mark.parametrize("name", ["PER", "CER"])
def test_the_epoch_line_names_the_error_rate(tmp_path, name):
    lines, scalars = [], Scalars()
    monitor = EpochMonitor(
        acoustic_model=None, out_dir=tmp_path, evaluate=None, patience=0, state={},
        log=lines.append, error_name=name, frames=5000, scalars=scalars,
    )  # fmt: skip
    entry = {"epoch": 3, "loss": 1.5, "dev_error_rate": 12.345, "seconds": 2.0}
    monitor._report({**entry, "learning_rate": 0.001, "frames_per_second": 2500.0})
    monitor._report({"epoch": 4, "loss": 1.25, "seconds": 4.0, "learning_rate": None})
    assert lines == [
        f"epoch 3: loss 1.500  dev {name} 12.35 %  (2.0 s, 2500 frames/s)",
        "epoch 4: loss 1.250  (4.0 s)",
    ]
    assert scalars.written == [
        (3, {"loss": 1.5, f"dev_{name}": 12.345, "learning_rate": 0.001}),
        (4, {"loss": 1.25}),
    ]


# ---------------------------------------------------------------------------------------------
# The session's run


def test_the_run_folder_has_one_history_row_per_epoch(speech_model):
    assert speech_model["rc"] == 0, speech_model["stderr"]
    rows = read_history(speech_model["out"] / HISTORY)
    summary = speech_model["summary"]
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for row, entry in zip(rows, summary["history"], strict=True):
        assert float(row["loss"]) == entry["loss"]  # every digit of the loss
        assert row["dev_error_rate"] == ""  # configs/demo.toml has no dev set
        assert float(row["seconds"]) == entry["seconds"] > 0
        assert float(row["learning_rate"]) == 1e-3  # configs/demo.toml
        fps = summary["train_frames"] / float(row["seconds"])
        assert float(row["frames_per_second"]) == pytest.approx(fps, rel=0.01)
    for row in rows:  # the log line of each epoch says the same
        line = (
            f"epoch {row['epoch']}: loss {float(row['loss']):.3f}  ({float(row['seconds']):.1f} s"
        )
        assert line in speech_model["stdout"]
        assert re.search(re.escape(line) + r", \d+ frames/s\)", speech_model["stdout"])


def test_resume_continues_history_csv_without_repeating_rows(
    capsys, speech_model, speech_corpus, tmp_path
):
    out = tmp_path / "run"
    shutil.copytree(speech_model["out"], out)
    original = (out / HISTORY).read_text()
    args = dict(test_list=speech_corpus["test_list"])

    # A run killed after its last checkpoint but before history.csv: resuming the finished run
    # trains nothing and writes the rows back.
    (out / HISTORY).unlink()
    rc, stdout, err = run(capsys, *train_args(speech_corpus["root"], out, "--resume", **args))
    assert rc == 0, err
    assert "epoch 3" not in stdout
    assert (out / HISTORY).read_text() == original

    rc, stdout, err = run(
        capsys, *train_args(speech_corpus["root"], out, "--resume", epochs=3, **args)
    )
    assert rc == 0, err
    text = (out / HISTORY).read_text()
    assert text.startswith(original)  # the first two rows as they were
    rows = read_history(out / HISTORY)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    summary = json.loads((out / "model" / "summary.json").read_text())
    assert float(rows[2]["loss"]) == summary["history"][2]["loss"]
    assert f"epoch 3: loss {float(rows[2]['loss']):.3f}" in stdout


# ---------------------------------------------------------------------------------------------
# TensorBoard


def test_without_tensorboard_one_line_says_how_to_turn_it_on(tmp_path, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboard" else find_spec(name, *a),
    )
    lines = []
    assert tensorboard_log(tmp_path, lines.append) is None
    assert lines == [
        f"TensorBoard logs off (pip install tensorboard to have them written to "
        f"{tmp_path / 'tensorboard'})"
    ]
    assert not (tmp_path / "tensorboard").exists()


def test_tensorboard_scalars_are_written_per_epoch(tmp_path):
    pytest.importorskip("tensorboard")
    tf = pytest.importorskip("tensorflow")
    lines = []
    scalars = tensorboard_log(tmp_path, lines.append)
    assert scalars is not None and lines == []
    scalars.write(1, {"loss": 2.5, "dev_PER": 40.0})
    scalars.write(2, {"loss": 1.5, "dev_PER": 35.0})
    scalars.close()
    (events,) = (tmp_path / "tensorboard").iterdir()
    found = {}
    for record in tf.data.TFRecordDataset(str(events)):
        event = tf.compat.v1.Event.FromString(record.numpy())
        for value in event.summary.value:
            found[(event.step, value.tag)] = float(tf.make_ndarray(value.tensor))
    assert found == {
        (1, "loss"): 2.5,
        (1, "dev_PER"): 40.0,
        (2, "loss"): 1.5,
        (2, "dev_PER"): 35.0,
    }


def test_the_session_run_said_whether_tensorboard_is_on(speech_model):
    off = "TensorBoard logs off (pip install tensorboard"
    if importlib.util.find_spec("tensorboard") is None:
        assert speech_model["stdout"].count(off) == 1
    else:
        assert off not in speech_model["stdout"]
        assert any((speech_model["out"] / "tensorboard").iterdir())
