"""A tensorflow-datasets builder for IAM-OnDB, built from the user's own copy (manual download).

IAM-OnDB needs registration, so nothing is downloaded: the user points ``manual_dir`` at the
corpus folder (the one holding ``lineStrokes/`` and ``ascii/``)::

    import tensorflow_datasets as tfds
    import lstmrec.corpora.tfds  # registers "iam_ondb"

    ds = tfds.load(
        "iam_ondb",
        split="train",
        data_dir="~/tensorflow_datasets",
        download_and_prepare_kwargs={
            "download_config": tfds.download.DownloadConfig(manual_dir="/path/to/IAM-OnDB")
        },
    )

Each example is one text line: ``id`` (line id, ``a01-000u-01``), ``writer`` (the corpus's
writer id, or the form id when it gives none), ``text`` (the transcription), ``points`` float32
``(N, 3)`` ``[x, y, t]`` (tablet units, y down, t in seconds as recorded; NaN where a point has
no time) of all strokes one after another, and ``stroke`` int32 ``(N,)``, the stroke each point
belongs to (0, 1, ...): ``[points[stroke == k] for k in range(stroke.max() + 1)]`` gives the
strokes back. Splits: ``train`` (task 1 ``trainset``), ``validation`` (``testset_v`` and
``testset_t``), ``test`` (``testset_f``); without the split files every line is in ``train``.
A line whose stroke file cannot be read is logged (a warning naming the file and the reason)
and left out. The corpus's known gaps (:class:`lstmrec.features.errors.CorpusGap`: the 1,014
transcribed lines of a real copy that have no strokes file) are left out too, counted in one
warning, and listed one per line in one record at debug level.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow_datasets as tfds

from lstmrec.corpora.iam_ondb import iam_ondb_splits, load_iam_ondb
from lstmrec.features.errors import CorpusGap, DataError, gap_summary
from lstmrec.features.inkfiles import read_iam_ondb_strokes
from lstmrec.manifest import Utterance

log = logging.getLogger(__name__)

# The project's split names ("dev") to tfds's ("validation").
_TFDS_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


class IamOndb(tfds.core.GeneratorBasedBuilder):
    """IAM On-Line Handwriting Database: pen strokes of English text lines, with their text."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Text lines of lineStrokes with ascii transcriptions."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Register at https://fki.tic.heia-fr.ch/databases/iam-on-line-handwriting-database and
    download lineStrokes-all.tar.gz and ascii-all.tar.gz (and, for writer ids,
    original-xml-all.tar.gz; for the standard split, the task 1 files trainset.txt,
    testset_v.txt, testset_t.txt, testset_f.txt). Unpack them into one folder so that it holds
    lineStrokes/, ascii/ (and original/, task1/), and pass that folder as manual_dir.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description="On-line handwriting: pen trajectories of English text lines.",
            features=tfds.features.FeaturesDict(
                {
                    "id": tfds.features.Text(),
                    "writer": tfds.features.Text(),
                    "text": tfds.features.Text(),
                    "points": tfds.features.Tensor(shape=(None, 3), dtype=np.float32),
                    "stroke": tfds.features.Tensor(shape=(None,), dtype=np.int32),
                }
            ),
            supervised_keys=("points", "text"),
            homepage="https://fki.tic.heia-fr.ch/databases/iam-on-line-handwriting-database",
            citation="M. Liwicki and H. Bunke, IAM-OnDB - an On-Line English Sentence Database "
            "Acquired from Handwritten Text on a Whiteboard, ICDAR 2005.",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict:
        root = dl_manager.manual_dir
        # A folder that is not an IAM-OnDB tree raises DataError naming it and the reason.
        gaps: list[CorpusGap] = []
        utts = load_iam_ondb(root, on_error=lambda err: _gap_or_warning(err, gaps))
        _report_gaps(gaps)
        split_of = iam_ondb_splits(root, utts)
        if not split_of:
            return {"train": self._generate_examples(utts)}
        return {
            tfds_name: self._generate_examples([u for u in utts if split_of.get(u.id) == ours])
            for ours, tfds_name in _TFDS_SPLITS.items()
        }

    def _generate_examples(self, utts: Sequence[Utterance]) -> Iterator[tuple[str, dict]]:
        for utt in utts:
            try:
                strokes = read_iam_ondb_strokes(utt.path)
            except DataError as err:
                log.warning("skipping %s", err)
                continue
            yield (
                utt.id,
                {
                    "id": utt.id,
                    "writer": utt.speaker,
                    "text": utt.text or "",
                    "points": np.concatenate(strokes).astype(np.float32),
                    "stroke": np.repeat(
                        np.arange(len(strokes), dtype=np.int32), [len(s) for s in strokes]
                    ),
                },
            )


def _gap_or_warning(err: DataError, gaps: list[CorpusGap]) -> None:
    """Keep a known gap of the corpus for the one summary; log any other bad input at once."""
    if isinstance(err, CorpusGap):
        gaps.append(err)
    else:
        log.warning("skipping %s", err)


def _report_gaps(gaps: Sequence[CorpusGap]) -> None:
    """One warning that counts the gaps, and their list (one ``file: reason`` a line, sorted)
    in one debug record."""
    if not gaps:
        return
    log.warning("%s: left out (listed at debug level)", gap_summary(gaps))
    log.debug("known gaps of the corpus, left out:\n%s", "\n".join(sorted(map(str, gaps))))
