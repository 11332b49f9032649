"""LibriSpeech trees: transcripts beside FLAC files, part folders as splits, bad entries."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import run

from lstmrec.corpora.librispeech import (
    find_librispeech,
    librispeech_splits,
    looks_like_librispeech,
)
from lstmrec.corpora.splits import load_corpus, load_split
from lstmrec.features.errors import DataError
from lstmrec.manifest import read_manifest

RATE = 16000


def _chapter(part: Path, speaker: str, chapter: str, lines: dict[str, float]) -> Path:
    """``part/<speaker>/<chapter>/``: one FLAC of the given seconds per utterance, and the
    transcript ``<utt-id> <WORDS>`` of each (the words: the utterance's index spelled out)."""
    folder = part / speaker / chapter
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(list(part.parent.rglob("*.flac"))))
    rows = []
    for index, seconds in lines.items():
        utt_id = f"{speaker}-{chapter}-{index}"
        noise = 0.1 * rng.standard_normal(round(seconds * RATE))
        sf.write(folder / f"{utt_id}.flac", noise, RATE, subtype="PCM_16")
        rows.append(f"{utt_id} WORD NUMBER {int(index)}\n")
    trans = folder / f"{speaker}-{chapter}.trans.txt"
    trans.write_text("".join(rows), encoding="utf-8")
    return trans


def librispeech(root: Path) -> Path:
    """``root/LibriSpeech`` with three parts: train-clean-100 (speakers 19 and 26), dev-clean
    (84) and test-clean (121)."""
    top = root / "LibriSpeech"
    _chapter(top / "train-clean-100", "19", "198", {"0000": 0.5, "0001": 0.25})
    _chapter(top / "train-clean-100", "26", "495", {"0000": 0.75})
    _chapter(top / "dev-clean", "84", "121123", {"0000": 0.5})
    _chapter(top / "test-clean", "121", "121726", {"0003": 1.0})
    return top


def test_a_tree_gives_ids_speakers_words_and_durations(tmp_path):
    top = librispeech(tmp_path)
    for root in (tmp_path, top, top / "train-clean-100"):
        assert looks_like_librispeech(root), root
    assert not looks_like_librispeech(top / "train-clean-100" / "19")
    utts = find_librispeech(top)
    assert [(u.id, u.speaker, u.text, u.duration, u.offset, u.phones) for u in utts] == [
        ("121-121726-0003", "121", "WORD NUMBER 3", 1.0, None, None),
        ("19-198-0000", "19", "WORD NUMBER 0", 0.5, None, None),
        ("19-198-0001", "19", "WORD NUMBER 1", 0.25, None, None),
        ("26-495-0000", "26", "WORD NUMBER 0", 0.75, None, None),
        ("84-121123-0000", "84", "WORD NUMBER 0", 0.5, None, None),
    ]
    assert utts[1].path == str(top / "train-clean-100" / "19" / "198" / "19-198-0000.flac")
    assert [u.id for u in find_librispeech(top / "dev-clean")] == ["84-121123-0000"]
    assert [u.id for u in load_corpus(tmp_path)] == [u.id for u in utts]  # auto, above the top


def test_a_transcript_saved_with_a_byte_order_mark_reads_as_without(tmp_path):
    top = librispeech(tmp_path)
    trans = top / "dev-clean" / "84" / "121123" / "84-121123.trans.txt"
    trans.write_text("\ufeff" + trans.read_text(encoding="utf-8"), encoding="utf-8")
    assert [u.id for u in find_librispeech(top / "dev-clean")] == ["84-121123-0000"]


def test_part_folders_give_the_split(tmp_path, capsys):
    top = librispeech(tmp_path)
    assert librispeech_splits(find_librispeech(top)) == {
        "19-198-0000": "train",
        "19-198-0001": "train",
        "26-495-0000": "train",
        "84-121123-0000": "dev",
        "121-121726-0003": "test",
    }
    ids = {s: [u.id for u in load_split(top, s)] for s in ("train", "dev", "core-test")}
    assert ids == {
        "train": ["19-198-0000", "19-198-0001", "26-495-0000"],
        "dev": ["84-121123-0000"],
        "core-test": ["121-121726-0003"],
    }
    assert [u.id for u in load_split(top, "full-test", corpus="librispeech")] == ["121-121726-0003"]
    # Speaker lists decide when given: here speaker 26 is dev, the rest (no test list) train.
    (tmp_path / "dev.list").write_text("26\n")
    got = load_split(top, "dev", dev_speakers=tmp_path / "dev.list")
    assert [u.id for u in got] == ["26-495-0000"]

    rc, out, err = run(capsys, "prepare", "--data", top, "--out", tmp_path / "m")
    assert rc == 0, err
    assert [u.id for u in read_manifest(tmp_path / "m" / "dev.jsonl")] == ["84-121123-0000"]


def test_a_tree_without_parts_splits_by_speaker_lists(tmp_path):
    _chapter(tmp_path / "mine", "7", "1", {"0000": 0.5})
    _chapter(tmp_path / "mine", "8", "2", {"0000": 0.5})
    with pytest.raises(DataError, match="dev_speakers"):
        load_split(tmp_path / "mine", "train")
    (tmp_path / "test.list").write_text("8\n")
    got = load_split(tmp_path / "mine", "train", test_speakers=tmp_path / "test.list")
    assert [u.id for u in got] == ["7-1-0000"]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("missing flac", "line 2: no audio file 19-198-0001.flac beside it"),
        ("no words", "line 2: '19-198-0001' has no transcript"),
        ("other chapter", "line 2: '19-199-0001' is not of this chapter"),
        ("corrupt flac", "cannot read audio"),
    ],
)
def test_each_bad_entry_is_one_report_and_the_rest_is_read(tmp_path, fault, reason):
    top = librispeech(tmp_path)
    trans = top / "train-clean-100" / "19" / "198" / "19-198.trans.txt"
    flac = trans.parent / "19-198-0001.flac"
    named = trans
    if fault == "missing flac":
        flac.unlink()
    elif fault == "no words":
        trans.write_text("19-198-0000 WORD NUMBER 0\n19-198-0001\n", encoding="utf-8")
    elif fault == "other chapter":
        trans.write_text("19-198-0000 WORD NUMBER 0\n19-199-0001 HI\n", encoding="utf-8")
    else:
        flac.write_bytes(b"fLaC" + bytes(40))
        named = flac
    reports: list[DataError] = []
    utts = find_librispeech(top, on_error=reports.append)
    assert len(utts) == 4 and "19-198-0001" not in {u.id for u in utts}
    assert len(reports) == 1 and reports[0].path == str(named)
    assert reports[0].reason.startswith(reason), str(reports[0])
    with pytest.raises(DataError):
        find_librispeech(top)


def test_a_transcript_that_is_a_device_is_named_not_read_as_empty(tmp_path):
    top = librispeech(tmp_path)
    trans = top / "train-clean-100" / "19" / "198" / "19-198.trans.txt"
    trans.unlink()
    trans.symlink_to(os.devnull)  # a FIFO there would never be read to its end
    reports: list[DataError] = []
    assert len(find_librispeech(top, on_error=reports.append)) == 3  # the chapter's 2 left out
    assert [str(r) for r in reports] == [f"{trans}: not a regular file (a folder, FIFO or device)"]


def test_a_folder_without_transcripts_is_refused(tmp_path):
    (tmp_path / "19" / "198").mkdir(parents=True)
    with pytest.raises(DataError, match="no LibriSpeech transcripts"):
        find_librispeech(tmp_path)
