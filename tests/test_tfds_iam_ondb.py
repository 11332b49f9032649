"""The tensorflow-datasets IAM-OnDB builder, built offline from a tiny tree."""

from __future__ import annotations

import logging
import socket

import numpy as np
import pytest
from helpers import FORMS, REPO, make_iam_ondb  # the tiny IAM-OnDB tree

from lstmrec.features.errors import DataError
from lstmrec.features.inkfiles import read_ink_file


@pytest.fixture
def offline(monkeypatch):
    """No network: any connection attempt fails the build."""

    def refuse(self, address):
        raise OSError(f"network disabled in this test (tried {address})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def _load(root, data_dir, **kw):
    import tensorflow_datasets as tfds

    import lstmrec.corpora.tfds  # noqa: F401  (registers "iam_ondb"; tensorflow_datasets)

    return tfds.load(
        "iam_ondb",
        data_dir=str(data_dir),
        download_and_prepare_kwargs={
            "download_config": tfds.download.DownloadConfig(manual_dir=str(root))
        },
        **kw,
    )


def test_builds_offline_and_reads_back(tmp_path, offline):
    import tensorflow_datasets as tfds

    root = make_iam_ondb(tmp_path / "IAM-OnDB")
    splits = _load(root, tmp_path / "tfds", split=["train", "validation", "test"])
    examples = [list(tfds.as_numpy(ds)) for ds in splits]
    ids = [sorted(e["id"].decode() for e in split) for split in examples]
    assert ids == [
        ["a01-000u-01", "a01-000u-02", "a01-001w-01"],
        ["b02-010-01", "b02-010-02"],
        ["c03-100z-01"],
    ]
    (test,) = examples[2]
    assert test["writer"].decode() == FORMS["c03-100z"][0]
    assert test["text"].decode() == "Mr. Michael Foot has"
    (sample,) = read_ink_file(root / "lineStrokes/c03/c03-100/c03-100z-01.xml")
    assert test["points"].dtype == np.float32 and test["stroke"].dtype == np.int32
    back = [test["points"][test["stroke"] == k] for k in range(test["stroke"].max() + 1)]
    assert len(back) == len(sample.strokes)
    for got, want in zip(back, sample.strokes, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_without_split_files_everything_is_train(tmp_path, offline):
    root = make_iam_ondb(tmp_path / "IAM-OnDB", split_files=False)
    ds, info = _load(root, tmp_path / "tfds", split="train", with_info=True)
    assert list(info.splits) == ["train"] and info.splits["train"].num_examples == 6


def test_manual_dir_that_is_not_iam_ondb(tmp_path, offline):
    with pytest.raises(DataError, match="not an IAM-OnDB tree"):
        _load(tmp_path, tmp_path / "tfds", split="train")


def test_known_gaps_are_counted_once_and_a_corrupt_stroke_file_is_named(tmp_path, offline, caplog):
    import tensorflow_datasets as tfds

    root = make_iam_ondb(tmp_path / "IAM-OnDB")
    # Three transcribed lines without ink (IAM-OnDB's known gap): one of a form that has ink for
    # its other line, and the two lines of a form with no ink at all.
    missing = ["a01-000u-02", "a01-002x-01", "a01-002x-02"]
    _strokes(root, missing[0]).unlink()
    ascii_dir = root / "ascii/a01/a01-002"
    ascii_dir.mkdir()
    (ascii_dir / "a01-002x.txt").write_text("OCR:\n\nno ink\n\nCSR:\n\nno ink\nat all\n")
    bad = _strokes(root, "a01-001w-01")
    bad.write_text("<WhiteboardCaptureSession><StrokeSet><Stroke>")  # cut short
    with caplog.at_level(logging.DEBUG, logger="lstmrec.corpora.tfds.iam_ondb"):
        splits = _load(root, tmp_path / "tfds", split=["train", "validation", "test"])
    ids = [sorted(e["id"].decode() for e in tfds.as_numpy(ds)) for ds in splits]
    assert ids == [  # the gaps and the corrupt line left out, everything else kept
        ["a01-000u-01"],
        ["b02-010-01", "b02-010-02"],
        ["c03-100z-01"],
    ]
    ours = [r for r in caplog.records if r.name == "lstmrec.corpora.tfds.iam_ondb"]
    warnings = [r.getMessage() for r in ours if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings  # the summary, and the corrupt file on its own
    summary = [w for w in warnings if "known gap" in w]
    assert summary == [
        "3 transcribed line(s) have no ink (a known gap of the corpus): left out "
        "(listed at debug level)"
    ]
    (corrupt,) = [w for w in warnings if w not in summary]
    assert corrupt.startswith(f"skipping {bad}: ")
    (listing,) = [r.getMessage() for r in ours if r.levelno == logging.DEBUG]
    listed = listing.splitlines()[1:]
    assert len(listed) == 3 and listed == sorted(listed)
    for line in missing:
        assert sum(ln.endswith(f"has no strokes file {_strokes(root, line)}") for ln in listed) == 1


def _strokes(root, line: str):
    """Where the strokes file of ``line`` (a01-000u-01) belongs in the tree."""
    return root / "lineStrokes" / line[:3] / line[:7] / f"{line}.xml"


def test_the_ink_dataset_as_data_is_one_line(tmp_path, offline, capsys):
    """``--data tfds:iam_ondb`` (ink, not speech) is refused in one line, not a KeyError."""
    from lstmrec.cli.main import main

    root = make_iam_ondb(tmp_path / "IAM-OnDB")
    _load(root, tmp_path / "tfds", split="train")
    capsys.readouterr()  # the build's progress bars
    spec = f"tfds:iam_ondb?data_dir={tmp_path / 'tfds'}"
    config = str(REPO / "configs" / "ink_demo.toml")
    rc = main(["features", "--config", config, "--data", spec, "--cache", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.startswith(f"lstmrec: {spec}: TFDS dataset 'iam_ondb' holds no speech")
