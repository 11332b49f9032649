"""Kaldi data directories: wav.scp, text, utt2spk and segments, the slice an offset names, the
refused command entries, the per-split folders, and speechocean762 as shipped."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import run

from lstmrec.corpora.kaldi import find_kaldi, kaldi_splits, looks_like_kaldi, part_split
from lstmrec.corpora.splits import load_corpus, load_split
from lstmrec.features.audio import FeatureConfig, extract, load_audio
from lstmrec.features.errors import DataError
from lstmrec.featurize import cache_key, compute_features, utterance_features
from lstmrec.manifest import (
    Utterance,
    corpus_hash,
    manifest_hash,
    read_manifest,
    write_manifest,
)

RATE = 16000


def _tone(seconds: float, hz: float, seed: int) -> np.ndarray:
    """A tone in noise, int16-exact float32 ``(N,)`` so a PCM file gives it back unchanged."""
    n = round(seconds * RATE)
    x = 0.3 * np.sin(2 * np.pi * hz * np.arange(n) / RATE)
    x += 0.05 * np.random.default_rng(seed).standard_normal(n)
    return (np.round(x * 32767) / 32768).astype(np.float32)


def _write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def kaldi_dir(root: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """``root/data/train``: two recordings (1.0 s WAV, 0.8 s FLAC under ``root/data/audio``,
    named relative to ``data/`` as recipes do) cut into three utterances by ``segments``."""
    audio = {"rec1": _tone(1.0, 220, 0), "rec2": _tone(0.8, 330, 1)}
    (root / "data" / "audio").mkdir(parents=True)
    sf.write(root / "data" / "audio" / "rec1.wav", audio["rec1"], RATE, subtype="PCM_16")
    sf.write(root / "data" / "audio" / "rec2.flac", audio["rec2"], RATE, subtype="PCM_16")
    data = root / "data" / "train"
    _write(
        data,
        {
            "wav.scp": "rec1\taudio/rec1.wav\nrec2 audio/rec2.flac\n",
            "segments": "a rec1 0.10 0.50\nb rec1 0.50 0.90\nc rec2 0 0.6\n",
            "text": "a HELLO  WORLD\nb good bye\nc ONE\n",
            "utt2spk": "a spk1\nb spk1\nc spk2\n",
            "spk2utt": "spk1 a b\nspk2 c\n",
            "spk2gender": "spk1 f\nspk2 m\n",
        },
    )
    return data, audio


def test_a_data_dir_with_segments_gives_one_slice_per_utterance(tmp_path):
    data, _ = kaldi_dir(tmp_path)
    assert looks_like_kaldi(data) and looks_like_kaldi(data.parent)
    assert not looks_like_kaldi(data / "wav.scp") and not looks_like_kaldi(tmp_path)
    utts = find_kaldi(data)
    rec1, rec2 = (str(tmp_path / "data" / "audio" / n) for n in ("rec1.wav", "rec2.flac"))
    assert [(u.id, u.speaker, u.text, u.path, u.phones) for u in utts] == [
        ("a", "spk1", "HELLO WORLD", rec1, None),
        ("b", "spk1", "good bye", rec1, None),
        ("c", "spk2", "ONE", rec2, None),
    ]
    assert [u.offset for u in utts] == [0.1, 0.5, 0.0]
    assert [u.duration for u in utts] == pytest.approx([0.4, 0.4, 0.6])


def test_a_byte_order_mark_is_not_part_of_the_first_key(tmp_path):
    data, _ = kaldi_dir(tmp_path)
    for name in ("wav.scp", "segments", "text", "utt2spk"):
        (data / name).write_bytes(b"\xef\xbb\xbf" + (data / name).read_bytes())
    utts = find_kaldi(data)
    assert [(u.id, u.speaker, u.text) for u in utts] == [
        ("a", "spk1", "HELLO WORLD"),
        ("b", "spk1", "good bye"),
        ("c", "spk2", "ONE"),
    ]


def test_without_segments_each_recording_is_an_utterance(tmp_path):
    data, _ = kaldi_dir(tmp_path)
    (data / "segments").unlink()
    _write(data, {"text": "rec1 A B\nrec2 C\n", "utt2spk": "rec1 s1\nrec2 s2\n"})
    utts = load_corpus(data)  # auto: a Kaldi data dir
    assert [(u.id, u.offset, u.duration) for u in utts] == [
        ("rec1", None, 1.0),
        ("rec2", None, 0.8),
    ]


def test_the_offset_slice_gives_the_features_of_the_cut_out_samples(tmp_path):
    data, audio = kaldi_dir(tmp_path)
    config = FeatureConfig()
    by_id = {u.id: u for u in find_kaldi(data)}
    for utt_id, rec, start, stop in (("a", "rec1", 1600, 8000), ("c", "rec2", 0, 9600)):
        want = extract(audio[rec][start:stop], config)  # 0.1-0.5 s = samples 1600..8000
        got = utterance_features(by_id[utt_id], config)
        assert got.shape == want.shape == (38 if stop - start == 6400 else 58, config.dim)
        np.testing.assert_array_equal(got, want)
    whole = compute_features([by_id["a"], by_id["b"]], config)
    np.testing.assert_array_equal(whole["b"], extract(audio["rec1"][8000:14400], config))
    # Two slices of one file never share a cache entry, nor does a moved slice.
    moved = Utterance(**{**by_id["a"].__dict__, "offset": 0.2})
    assert cache_key([by_id["a"]], config) != cache_key([moved], config)


def test_a_slice_past_the_end_names_the_file(tmp_path):
    data, _ = kaldi_dir(tmp_path)
    wav = tmp_path / "data" / "audio" / "rec1.wav"
    assert len(load_audio(wav, offset=0.5)) == 8000  # to the end
    cases = ((0.8, 0.3), (1.0, 0.1), (-0.1, 0.2), (0.5, 0.0), (0.5, 1e308), (1e308, 1.0))
    for offset, duration in cases:
        with pytest.raises(DataError) as e:
            load_audio(wav, offset=offset, duration=duration)
        assert e.value.path == str(wav) and "past the end" in e.value.reason


def test_offset_in_manifests_is_written_only_when_set(tmp_path):
    old = Utterance("u1", "/a.wav", "s", text="HI", duration=1.5)
    assert "offset" not in old.to_dict()
    # An old manifest hashes as before: the JSON of its fields, nothing new.
    want = hashlib.sha256(
        json.dumps(
            {"id": "u1", "audio": "/a.wav", "speaker": "s", "text": "HI", "duration": 1.5},
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    assert manifest_hash([old]) == want
    sliced = Utterance("u2", "/a.wav", "s", text="HI", duration=0.25, offset=0.5)
    assert sliced.to_dict()["offset"] == 0.5
    write_manifest([old, sliced], tmp_path / "m.jsonl")
    assert read_manifest(tmp_path / "m.jsonl") == [old, sliced]
    with pytest.raises(DataError, match="negative"):
        Utterance.from_dict({"id": "x", "audio": "/a.wav", "offset": -1})


@pytest.mark.parametrize(
    "entry",
    [
        "touch {marker} |",
        "sh -c 'touch {marker}' | cat",
        "ark:/tmp/feats.ark",
        "scp,p:/tmp/wav.scp",
        "/tmp/wav.ark:1234",
    ],
)
def test_commands_and_archives_in_wav_scp_are_refused_never_run(tmp_path, entry):
    data, _ = kaldi_dir(tmp_path)
    marker = tmp_path / "ran"
    line = entry.format(marker=marker)
    (data / "wav.scp").write_text(f"rec1 audio/rec1.wav\nrec2 {line}\n", encoding="utf-8")
    reports = []
    with pytest.raises(DataError) as e:
        find_kaldi(data, on_error=reports.append)  # refused whole, even with on_error
    assert e.value.path == str(data / "wav.scp") and e.value.reason.startswith("line 2:")
    assert ("command" in e.value.reason) == ("|" in line)
    assert not marker.exists() and reports == []


# One fault each: (file rewritten, its new text, file the report names, its reason, lost utt).
BAD = {
    "missing audio": (
        "wav.scp",
        "rec1 audio/rec1.wav\nrec2 audio/gone.flac\n",
        "wav.scp",
        "line 2: audio file 'audio/gone.flac' not found in the data dir, its parent or its "
        "grandparent",
        "c",
    ),
    "no segment": (
        "segments",
        "a rec1 0.10 0.50\nb rec1 0.50 0.90\n",
        "text",
        "line 3: utterance 'c' has no entry in segments",
        "c",
    ),
    "no wav.scp entry": (
        "segments",
        "a rec1 0.10 0.50\nb rec1 0.50 0.90\nc rec3 0 0.6\n",
        "segments",
        "line 3: recording 'rec3' has no wav.scp entry",
        "c",
    ),
    "no speaker": (
        "utt2spk",
        "a spk1\nc spk2\n",
        "text",
        "line 2: utterance 'b' has no speaker in utt2spk",
        "b",
    ),
    "past the end": (
        "segments",
        "a rec1 0.10 0.50\nb rec1 0.50 0.90\nc rec2 0.2 0.81\n",
        "segments",
        "line 3: segment 0.2-0.81 s ends past the end (its recording 'rec2' lasts 0.8 s)",
        "c",
    ),
    "far past the end": (
        "segments",
        "a rec1 0.10 0.50\nb rec1 0.50 0.90\nc rec2 0.2 1e308\n",
        "segments",
        "line 3: segment 0.2-1e+308 s ends past the end (its recording 'rec2' lasts 0.8 s)",
        "c",
    ),
    "end <= start": (
        "segments",
        "a rec1 0.10 0.50\nb rec1 0.50 0.90\nc rec2 0.6 0.6\n",
        "segments",
        "line 3: segment 0.6-0.6 s: end <= start",
        "c",
    ),
    "empty transcript": (
        "text",
        "a HELLO WORLD\nb good bye\nc\n",
        "text",
        "line 3: 'c' has no transcript",
        "c",
    ),
}


@pytest.mark.parametrize("what", list(BAD))
def test_each_bad_entry_is_one_report_and_the_rest_is_read(tmp_path, what):
    data, _ = kaldi_dir(tmp_path)
    rewritten, text, named, reason, lost = BAD[what]
    (data / rewritten).write_text(text, encoding="utf-8")
    reports: list[DataError] = []
    utts = find_kaldi(data, on_error=reports.append)
    assert [u.id for u in utts] == sorted({"a", "b", "c"} - {lost})
    assert [(r.path, r.reason) for r in reports] == [(str(data / named), reason)]
    with pytest.raises(DataError) as e:  # without on_error the bad entry raises
        find_kaldi(data)
    assert e.value.reason == reason


def test_prepare_names_and_counts_a_bad_entry_once_over_all_splits(tmp_path, capsys):
    data, _ = kaldi_dir(tmp_path)
    (data / "wav.scp").write_text("rec1 audio/rec1.wav\nrec2 audio/gone.flac\n")
    rc, out, err = run(capsys, "prepare", "--data", data, "--out", tmp_path / "m")
    assert rc == 2 and "train: 2 utterances" in out  # the three splits each read the corpus
    assert err.splitlines() == [
        f"lstmrec: skipping {data / 'wav.scp'}: line 2: audio file 'audio/gone.flac' not found "
        "in the data dir, its parent or its grandparent",
        "lstmrec: 1 input failed (named above)",
    ]


def test_refs_stm_segments_end_where_the_segment_ends(tmp_path, capsys):
    data, _ = kaldi_dir(tmp_path)
    stm = tmp_path / "ref.stm"
    args = ("refs", "--data", data, "--split", "all", "--unit", "words", "--stm-out", stm)
    rc, out, err = run(capsys, *args)
    assert rc == 0, err
    assert stm.read_text().splitlines() == [  # 0.1-0.5 s, 0.5-0.9 s and 0-0.6 s of recordings
        "a 1 spk1 0.000 0.400 HELLO WORLD",
        "b 1 spk1 0.000 0.400 good bye",
        "c 1 spk2 0.000 0.600 ONE",
    ]


def test_a_table_that_is_a_device_is_refused_unopened(tmp_path):
    data, _ = kaldi_dir(tmp_path)
    (data / "utt2spk").unlink()
    (data / "utt2spk").symlink_to(os.devnull)  # a FIFO there would never be read to its end
    with pytest.raises(DataError) as e:
        find_kaldi(data)
    assert (e.value.path, e.value.reason) == (
        str(data / "utt2spk"),
        "not a regular file (a folder, FIFO or device)",
    )


def test_paths_resolve_against_the_data_dir_first(tmp_path):
    data, _ = kaldi_dir(tmp_path)
    (data / "audio").mkdir()
    sf.write(data / "audio" / "rec1.wav", _tone(1.0, 440, 2), RATE, subtype="PCM_16")
    utts = find_kaldi(data)
    assert utts[0].path == str(data / "audio" / "rec1.wav")  # the data dir's own copy wins
    assert utts[2].path == str(tmp_path / "data" / "audio" / "rec2.flac")  # else the parent's


def test_a_moved_corpus_hashes_as_before_and_a_changed_one_does_not(tmp_path):
    """``corpus_hash`` (a bundle's ``split_hash``) knows a corpus again under other paths;
    ``manifest_hash`` (``data_hash``) does not; a changed label or speaker changes both."""
    import shutil

    data, _ = kaldi_dir(tmp_path / "here")
    shutil.copytree(tmp_path / "here", tmp_path / "there" / "corpus")
    here, there = find_kaldi(data), find_kaldi(tmp_path / "there" / "corpus" / "data" / "train")
    assert [u.path for u in here] != [u.path for u in there]
    assert corpus_hash(here) == corpus_hash(there) and manifest_hash(here) != manifest_hash(there)
    for changed in ({"text": "HELLO"}, {"speaker": "spk3"}, {"path": "/x/audio/rec9.wav"}):
        other = [dataclasses.replace(here[0], **changed), *here[1:]]
        assert corpus_hash(other) != corpus_hash(here)
    assert corpus_hash(here[1:]) != corpus_hash(here)


def test_a_folder_of_data_dirs_splits_by_their_names(tmp_path, capsys):
    data, _ = kaldi_dir(tmp_path)
    root = data.parent
    for name, utt in (("dev", "b"), ("test", "c")):
        lines = {
            f: "".join(x + "\n" for x in (data / f).read_text().splitlines() if x.startswith(utt))
            for f in ("segments", "text", "utt2spk")
        }
        _write(root / name, {**lines, "wav.scp": (data / "wav.scp").read_text()})
    _write(data, {"segments": "a rec1 0.10 0.50\n", "text": "a HELLO\n", "utt2spk": "a spk1\n"})
    assert [part_split(n) for n in ("train-clean-100", "dev_clean", "test", "local")] == [
        "train",
        "dev",
        "test",
        None,
    ]
    assert kaldi_splits(root) == {"a": "train", "b": "dev", "c": "test"}
    assert [u.id for u in load_split(root, "all")] == ["a", "b", "c"]
    got = {s: [u.id for u in load_split(root, s)] for s in ("train", "dev", "core-test")}
    assert got == {"train": ["a"], "dev": ["b"], "core-test": ["c"]}
    assert [u.id for u in load_split(root, "full-test", corpus="kaldi")] == ["c"]
    # Speaker lists, when given, decide instead of the folder names.
    (tmp_path / "dev.list").write_text("spk2\n")
    assert [u.id for u in load_split(root, "dev", dev_speakers=tmp_path / "dev.list")] == ["c"]
    # A list of another corpus's speakers (a recipe's, a typo) is refused, not read as empty.
    (tmp_path / "other.list").write_text("SPEAKER0001\nspeaker0002\n")
    with pytest.raises(DataError, match="none of the 2 speakers it lists is in") as info:
        load_split(root, "train", dev_speakers=tmp_path / "dev.list",
                   test_speakers=tmp_path / "other.list")  # fmt: skip
    assert info.value.path == str(tmp_path / "other.list") and "'spk1'" in info.value.reason
    # A single data dir named train is the train split.
    assert [u.id for u in load_split(data, "train")] == ["a"]
    assert load_split(data, "dev") == []

    rc, out, err = run(capsys, "prepare", "--data", root, "--out", tmp_path / "m")
    assert rc == 0, err
    assert "train: 1 utterances" in out
    [utt] = read_manifest(tmp_path / "m" / "core-test.jsonl")
    assert (utt.id, utt.offset, utt.duration) == ("c", 0.0, 0.6)
    assert '"offset": 0.0' in (tmp_path / "m" / "core-test.jsonl").read_text()


@pytest.mark.shared_data("speechocean762/train")
def test_speechocean762_reads_whole():
    from helpers import SHARED_DATA

    utts = load_split(SHARED_DATA / "speechocean762" / "train", "all")
    assert len(utts) == 2500
    assert len({u.speaker for u in utts}) == 125
    first = utts[0]
    assert (first.id, first.speaker, first.text) == ("000010011", "0001", "WE CALL IT BEAR")
    assert first.path.endswith("WAVE/SPEAKER0001/000010011.flac") and first.offset is None
    assert all(u.duration > 0 and u.text and u.phones is None for u in utts)


def test_training_phones_on_words_only_says_how_to_get_phones(tmp_path, capsys):
    """A corpus with word transcripts only, trained on phones without a lexicon: each utterance
    is named once, then one line that says how to get phones (a lexicon) or to train on
    characters, before any feature is computed."""
    data, _ = kaldi_dir(tmp_path)
    cache = tmp_path / "cache"
    rc, _, err = run(
        capsys, "train", "--data", data, "--out", tmp_path / "run", "--feature-cache", cache
    )
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 4, err
    for utt, line in zip("abc", lines, strict=False):
        assert line.startswith("lstmrec: skipping ")
        assert line.endswith(f": utterance {utt} has no phone labels, only a word transcript")
    assert lines[3] == (
        "lstmrec: no usable training utterances; 3 utterances have words but no phone labels: "
        """give a pronunciation lexicon ([data] lexicon, e.g. --set 'data.lexicon=["DIR/"""
        """lexicon.txt", "cmudict"]'), or train on characters (--set data.unit=chars)"""
    )
    assert not cache.exists() or not any(cache.iterdir())  # no feature computed
    assert not (tmp_path / "run").exists()  # nor a run folder left behind, empty
