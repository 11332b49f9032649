"""The tensorflow-datasets IAM-OnDB builder, built offline from a tiny tree."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from helpers import FORMS, make_iam_ondb  # the tiny IAM-OnDB tree

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
