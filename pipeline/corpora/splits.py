"""Choosing the utterances of one split from whatever the user points ``--data`` at."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lstmrec.corpora.iam_ondb import iam_ondb_splits, looks_like_iam_ondb
from lstmrec.corpora.timit import load_corpus, manifest_splits, select_split
from lstmrec.features.errors import DataError
from lstmrec.manifest import Utterance, read_manifest
from lstmrec.phones import read_speaker_list


def load_split(
    data: str | os.PathLike,
    split: str,
    *,
    keep_sa: bool = False,
    dev_speakers: str | os.PathLike | None = None,
    test_speakers: str | os.PathLike | None = None,
    on_error: Callable[[DataError], object] | None = None,
    corpus: str = "auto",
) -> list[Utterance]:
    """Utterances of ``split`` from ``data``.

    ``data`` is a TIMIT copy (any layout :func:`lstmrec.corpora.timit.find_timit` reads), a
    TIMIT-style corpus folder, a JSONL manifest (its ``"split"`` fields, or the speaker lists,
    choose the split), a folder written by ``lstmrec prepare`` (``<split>.jsonl`` files), or a
    prepared TFDS dataset, ``tfds:NAME[/CONFIG][?data_dir=DIR]`` (its own splits; SA sentences and
    speaker lists were applied when it was prepared).
    ``dev_speakers`` / ``test_speakers`` are speaker-list files that define dev and test.
    ``corpus`` ("auto", "timit", "iam-ondb") says how to read a corpus folder (see
    :func:`lstmrec.corpora.timit.load_corpus`). An IAM-OnDB tree splits by its task 1 files when it
    has them and no speaker (writer) lists are given: train = trainset, dev = testset_v and
    testset_t, core-test and full-test = testset_f (see :mod:`lstmrec.corpora.iam_ondb`).
    """
    if str(data).startswith("tfds:"):  # a prepared tensorflow-datasets dataset
        from lstmrec.corpora.tfds.source import load_tfds_split

        return load_tfds_split(str(data), split)
    data = Path(data)
    prepared = data / f"{split}.jsonl"
    if data.is_dir() and prepared.is_file():
        return read_manifest(prepared)
    dev = None if dev_speakers is None else read_speaker_list(dev_speakers)
    test = None if test_speakers is None else read_speaker_list(test_speakers)
    utts = load_corpus(data, on_error=on_error, corpus=corpus)
    split_of = None
    if data.is_file() and dev is None and test is None:
        split_of = manifest_splits(data) or None
    elif data.is_dir() and dev is None and test is None and looks_like_iam_ondb(data):
        split_of = iam_ondb_splits(data, utts) or None
    try:
        return select_split(
            utts, split, keep_sa=keep_sa, dev_speakers=dev, test_speakers=test, split_of=split_of
        )
    except ValueError as e:
        raise DataError(str(e), data) from None
