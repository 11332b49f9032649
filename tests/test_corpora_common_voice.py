"""Common Voice folders: TSV tables by column name, MP3 clips, the release's own split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import one_line, run

from lstmrec.corpora.common_voice import (
    common_voice_splits,
    find_common_voice,
    looks_like_common_voice,
    speaker_of,
)
from lstmrec.corpora.splits import load_corpus, load_split
from lstmrec.features.audio import FeatureConfig, load_audio
from lstmrec.features.errors import DataError
from lstmrec.featurize import utterance_features
from lstmrec.manifest import read_manifest

RATE = 16000
ALICE = "a1" * 64  # client ids are 128 hex digits
BOB = "b2" * 64
# Columns in another order than the release's, with some the reader does not use.
HEADER = "path\tclient_id\tup_votes\tsentence\tage\tgender\n"
# clip stem -> (client, sentence, seconds, table)
CLIPS = {
    "common_voice_en_1": (ALICE, 'She said "hello" twice.', 1.0, "train.tsv"),
    "common_voice_en_2": (ALICE, "Ducks  swim.", 0.5, "train.tsv"),
    "common_voice_en_3": (BOB, "It's late.", 0.75, "dev.tsv"),
    "common_voice_en_4": (BOB, "One more", 0.5, "test.tsv"),
}


def _row(stem: str) -> str:
    client, sentence, _, _ = CLIPS[stem]
    return f"{stem}.mp3\t{client}\t2\t{sentence}\t\t\n"


def common_voice(root: Path, *, split_tables: bool = True) -> Path:
    """A language folder: MP3 clips (a tone each), the split tables and validated.tsv."""
    (root / "clips").mkdir(parents=True)
    tables: dict[str, str] = {"validated.tsv": HEADER}
    for i, (stem, (_, _, seconds, table)) in enumerate(CLIPS.items()):
        t = np.arange(round(seconds * RATE)) / RATE
        sf.write(
            root / "clips" / f"{stem}.mp3",
            0.3 * np.sin(2 * np.pi * 200 * (i + 1) * t),
            RATE,
            format="MP3",
        )
        tables["validated.tsv"] += _row(stem)
        tables[table] = tables.get(table, HEADER) + _row(stem)
    for name, text in tables.items():
        if split_tables or name == "validated.tsv":
            (root / name).write_text(text, encoding="utf-8")
    return root


def test_a_release_folder_gives_clips_speakers_sentences(tmp_path):
    root = common_voice(tmp_path / "en")
    assert looks_like_common_voice(root) and not looks_like_common_voice(root / "clips")
    utts = find_common_voice(root)  # train, dev, test: validated.tsv is not read
    assert [(u.id, u.speaker, u.text, u.phones, u.offset) for u in utts] == [
        ("common_voice_en_1", "a1" * 8, 'She said "hello" twice.', None, None),
        ("common_voice_en_2", "a1" * 8, "Ducks swim.", None, None),
        ("common_voice_en_3", "b2" * 8, "It's late.", None, None),
        ("common_voice_en_4", "b2" * 8, "One more", None, None),
    ]
    assert [u.duration for u in utts] == [1.0, 0.5, 0.75, 0.5]
    assert utts[0].path == str(root / "clips" / "common_voice_en_1.mp3")
    assert speaker_of("short") == "short"
    assert speaker_of("not-a-hex-id-but-long") == "b78265d875c65f02"  # its SHA-256, cut
    assert speaker_of("not-a-hex-id-but-long") != speaker_of("not-a-hex-id-but-lonG")
    # The MP3 decodes to its samples' length, and gives features.
    assert len(load_audio(utts[2].path)) == 12000
    feats = utterance_features(utts[2], FeatureConfig())
    assert feats.shape == (73, FeatureConfig().dim) and np.isfinite(feats).all()


def test_a_table_saved_with_a_byte_order_mark_reads_as_without(tmp_path):
    root = common_voice(tmp_path / "en")
    table = root / "train.tsv"
    table.write_text("\ufeff" + table.read_text(encoding="utf-8"), encoding="utf-8")
    assert [u.id for u in find_common_voice(root)] == [f"common_voice_en_{i}" for i in (1, 2, 3, 4)]


def test_the_split_tables_give_the_split(tmp_path, capsys):
    root = common_voice(tmp_path / "en")
    assert common_voice_splits(root) == {
        "common_voice_en_1": "train",
        "common_voice_en_2": "train",
        "common_voice_en_3": "dev",
        "common_voice_en_4": "test",
    }
    ids = {s: [u.id for u in load_split(root, s)] for s in ("train", "dev", "full-test")}
    assert ids == {
        "train": ["common_voice_en_1", "common_voice_en_2"],
        "dev": ["common_voice_en_3"],
        "full-test": ["common_voice_en_4"],
    }
    rc, out, err = run(capsys, "prepare", "--data", root, "--out", tmp_path / "m")
    assert rc == 0, err
    [utt] = read_manifest(tmp_path / "m" / "core-test.jsonl")
    assert (utt.id, utt.text) == ("common_voice_en_4", "One more")


def test_with_only_validated_tsv_speaker_lists_split(tmp_path, capsys):
    root = common_voice(tmp_path / "en", split_tables=False)
    assert common_voice_splits(root) == {}
    assert len(load_corpus(root, corpus="common-voice")) == 4
    with pytest.raises(DataError, match="dev_speakers"):
        load_split(root, "train")
    rc, out, err = run(capsys, "prepare", "--data", root, "--out", tmp_path / "m")
    assert rc == 2 and out == ""  # the command line names its own flags
    assert one_line(err) == (
        f"lstmrec: {root}: split 'train': this corpus has no split of its own; give the speaker "
        "lists that define it (--dev-speakers and/or --test-speakers; dev_speakers / "
        "test_speakers in a recipe or in Python)"
    )
    (tmp_path / "dev.list").write_text("b2" * 8 + "\n")
    dev = load_split(root, "dev", dev_speakers=tmp_path / "dev.list")
    assert [u.id for u in dev] == ["common_voice_en_3", "common_voice_en_4"]


def test_a_table_without_a_needed_column_names_it(tmp_path):
    root = common_voice(tmp_path / "en")
    dev = root / "dev.tsv"
    dev.write_text(dev.read_text().replace("sentence", "text"), encoding="utf-8")
    reports: list[DataError] = []
    utts = find_common_voice(root, on_error=reports.append)
    assert [u.id for u in utts] == ["common_voice_en_1", "common_voice_en_2", "common_voice_en_4"]
    assert [(r.path, r.reason) for r in reports] == [
        (str(dev), "no 'sentence' column in the header (6 columns)")
    ]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("corrupt mp3", "cannot read audio"),
        ("missing clip", "line 2: no clip 'common_voice_en_3.mp3' in clips/"),
        ("no sentence", "line 2: clip 'common_voice_en_3.mp3' has no sentence"),
    ],
)
def test_each_bad_clip_is_one_report_and_the_rest_is_read(tmp_path, fault, reason):
    root = common_voice(tmp_path / "en")
    clip = root / "clips" / "common_voice_en_3.mp3"
    named = root / "dev.tsv"
    if fault == "corrupt mp3":
        clip.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 400)
        named = clip
    elif fault == "missing clip":
        clip.unlink()
    else:
        named.write_text(HEADER + _row("common_voice_en_3").replace("It's late.", " "))
    reports: list[DataError] = []
    utts = find_common_voice(root, on_error=reports.append)
    assert [u.id for u in utts] == ["common_voice_en_1", "common_voice_en_2", "common_voice_en_4"]
    assert len(reports) == 1 and reports[0].path == str(named), [str(r) for r in reports]
    assert reports[0].reason.startswith(reason), str(reports[0])
    with pytest.raises(DataError):
        find_common_voice(root)
