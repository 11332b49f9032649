"""Tests for lstmrec.corpora.timit (.PHN/.TXT readers, TIMIT in many shapes) and splits."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import shared_data

from lstmrec.corpora.splits import load_corpus, manifest_splits, select_split
from lstmrec.corpora.timit import (
    find_corpus,
    find_timit,
    looks_like_timit,
    read_phn,
    read_txt,
    timit_part,
)
from lstmrec.features.errors import DataError
from lstmrec.manifest import Utterance
from lstmrec.phones import TIMIT61, read_speaker_list

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE = SHARED / "timit-sample"
needs_sample = pytest.mark.shared_data("timit-sample/TIMIT")  # skips, fails under CI=true


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_wav(path: Path, num_samples: int, sample_rate: int = 16000) -> Path:
    """A 440 Hz sine of ``num_samples`` samples, 16-bit PCM (format from the extension)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(num_samples) / sample_rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), sample_rate, subtype="PCM_16")
    return path


# --- read_phn / read_txt -------------------------------------------------------------------------


def test_read_phn_clamps_an_end_past_the_audio(tmp_path):
    phn = write(tmp_path / "SA1.PHN", "0 100 h#\n100 201 sh\n")
    assert read_phn(phn)[-1] == (100, 201, "sh")
    assert read_phn(phn, num_samples=200) == [(0, 100, "h#"), (100, 200, "sh")]
    # An end before the end of the audio is left alone.
    assert read_phn(phn, num_samples=500)[-1] == (100, 201, "sh")


def test_read_phn_rejects_overlap_with_path_and_line(tmp_path):
    phn = write(tmp_path / "X.PHN", "0 100 a\n\n90 200 b\n")
    with pytest.raises(DataError) as err:
        read_phn(phn)
    assert err.value.path == str(phn)
    assert "line 3" in str(err.value) and "overlaps" in str(err.value)
    # .WRD files overlap legitimately (neighbouring words share a phone).
    assert read_phn(phn, allow_overlap=True)[1] == (90, 200, "b")


def test_read_phn_rejects_unknown_label_only_when_labels_given(tmp_path):
    phn = write(tmp_path / "X.PHN", "0 10 h#\n10 20 zz\n")
    with pytest.raises(DataError, match=r"line 2: unknown label 'zz'"):
        read_phn(phn, labels=TIMIT61)
    assert [s[2] for s in read_phn(phn)] == ["h#", "zz"]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("0 10 a\n10 10 b\n", r"line 2: start 10 >= end 10"),
        ("0 10 a\n20 15 b\n", r"line 2: start 20 >= end 15"),
        ("0 10 a\n10 x b\n", r"line 2: expected '<start> <end> <label>'"),
        ("0 10\n", r"line 1: expected"),
        ("0 10 a b\n", r"line 1: expected"),
        ("-5 10 a\n", r"line 1: negative start"),
        ("\n  \n", r"empty file"),
    ],
)
def test_read_phn_rejects_malformed_files(tmp_path, text, reason):
    phn = write(tmp_path / "X.PHN", text)
    with pytest.raises(DataError, match=reason) as err:
        read_phn(phn)
    assert str(err.value).startswith(str(phn))


def test_read_phn_rejects_a_start_past_the_audio(tmp_path):
    phn = write(tmp_path / "X.PHN", "0 100 a\n100 300 b\n")
    with pytest.raises(DataError, match=r"line 2: start 100 .* past the end of the audio"):
        read_phn(phn, num_samples=100)


def test_read_phn_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_phn(tmp_path / "nope.PHN")


def test_read_txt_timit_and_plain(tmp_path):
    assert read_txt(write(tmp_path / "a.TXT", "0 54683 She had your dark suit.\n")) == (
        "She had your dark suit."
    )
    assert read_txt(write(tmp_path / "b.txt", "hello  world\n")) == "hello world"
    with pytest.raises(DataError, match="no sentence"):
        read_txt(write(tmp_path / "c.TXT", "0 100\n"))


def test_label_files_saved_with_a_byte_order_mark_read_as_without(tmp_path):
    bom = "\ufeff"  # an editor's: no part of the first sample number or word
    txt = write(tmp_path / "a.TXT", bom + "0 54683 She had your dark suit.\n")
    assert read_txt(txt) == "She had your dark suit."
    assert read_phn(write(tmp_path / "a.PHN", bom + "0 100 h#\n"))[0] == (0, 100, "h#")


# --- the shared TIMIT sample ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_utts() -> list[Utterance]:
    shared_data("timit-sample/TIMIT")
    return find_timit(SAMPLE)


@needs_sample
def test_find_timit_on_the_sample(sample_utts):
    assert len(sample_utts) == 80
    assert len({u.speaker for u in sample_utts}) == 8
    assert [u.id for u in sample_utts] == sorted(u.id for u in sample_utts)
    by_id = {u.id: u for u in sample_utts}
    sa1 = by_id["fvmh0_sa1"]
    assert sa1.speaker == "fvmh0"
    assert sa1.text == "She had your dark suit in greasy wash water all year."
    assert sa1.phones[:3] == ("h#", "sh", "iy")
    assert sa1.phone_times[1] == (7812 / 16000, 9507 / 16000)
    assert sa1.duration == pytest.approx(54682 / 16000)
    for u in sample_utts:
        assert set(u.phones) <= set(TIMIT61), u.id
        assert u.text
        assert len(u.phone_times) == len(u.phones)
        assert u.phone_times[0][0] == 0.0 and u.phone_times[-1][1] <= u.duration
        assert timit_part(u) == "train"


@needs_sample
def test_find_timit_accepts_the_timit_folder_and_a_part(sample_utts):
    ids = [u.id for u in sample_utts]
    assert [u.id for u in find_timit(SAMPLE / "TIMIT")] == ids
    assert [u.id for u in find_timit(SAMPLE / "TIMIT" / "TRAIN")] == ids
    assert [u.id for u in load_corpus(SAMPLE)] == ids


@needs_sample
def test_sample_splits(sample_utts):
    train = select_split(sample_utts, "train")
    assert len(train) == 64
    assert not any(u.id.endswith(("_sa1", "_sa2")) for u in train)
    assert len(select_split(sample_utts, "train", keep_sa=True)) == 80
    assert select_split(sample_utts, "dev") == []
    assert select_split(sample_utts, "core-test") == []
    assert select_split(sample_utts, "full-test") == []
    assert len(select_split(sample_utts, "all")) == 64


@needs_sample
def test_real_wrd_files_overlap(sample_utts):
    # MCPM0/SA1.WRD: "had" ends at 8689, "your" starts at 7979 (they share the /jh/).
    wrd = SAMPLE / "TIMIT/TRAIN/DR1/MCPM0/SA1.WRD"
    with pytest.raises(DataError, match="overlaps"):
        read_phn(wrd)
    words = [w for _, _, w in read_phn(wrd, allow_overlap=True)]
    assert words[:3] == ["she", "had", "your"]


# --- other shapes of TIMIT -----------------------------------------------------------------------

TWO_SPEAKERS = ("DR1/FVMH0", "DR1/MCPM0")


def copy_speakers(dest: Path, *, lower: bool, riff: bool, sphere: bool) -> None:
    """Copy two sample speakers to ``dest`` as RIFF .wav (``riff``) and/or the SPHERE .WAV."""
    for spk in TWO_SPEAKERS:
        src = SAMPLE / "TIMIT" / "TRAIN" / spk
        rel = f"timit/train/{spk}".lower() if lower else f"TIMIT/TRAIN/{spk}"
        out = dest / rel
        out.mkdir(parents=True)
        for f in sorted(src.iterdir()):
            name = f.name.lower() if lower else f.name
            if f.suffix != ".WAV":
                shutil.copy(f, out / name)
                continue
            if sphere:
                shutil.copy(f, out / name)
            if riff:
                data, rate = sf.read(f, dtype="int16")
                riff_name = name if not sphere else name + ".wav"  # SA1.WAV.wav twin
                sf.write(out / riff_name, data, rate, subtype="PCM_16", format="WAV")


def strip_audio(utts: list[Utterance]) -> list[tuple]:
    return [(u.id, u.speaker, u.phones, u.phone_times, u.text, u.duration) for u in utts]


@needs_sample
@pytest.mark.parametrize(
    "lower, riff, sphere, audio_suffix",
    [
        (True, True, False, ".wav"),  # lower-case names, RIFF audio
        (False, True, True, ".WAV"),  # .WAV.wav twins beside SPHERE: the plain .WAV wins
        (False, True, False, ".WAV"),  # RIFF data under the SPHERE name
    ],
)
def test_timit_layouts_match_the_original(tmp_path, sample_utts, lower, riff, sphere, audio_suffix):
    copy_speakers(tmp_path, lower=lower, riff=riff, sphere=sphere)
    expected = [u for u in sample_utts if u.speaker in ("fvmh0", "mcpm0")]
    got = find_timit(tmp_path)
    assert len(got) == 20
    assert strip_audio(got) == strip_audio(expected)
    assert all(u.path.endswith(audio_suffix) and not u.path.endswith(".WAV.wav") for u in got)
    assert all(timit_part(u) == "train" for u in got)


@needs_sample
def test_twin_only_is_used(tmp_path, sample_utts):
    copy_speakers(tmp_path, lower=False, riff=True, sphere=True)
    for wav in tmp_path.rglob("*.WAV"):
        wav.unlink()  # only SA1.WAV.wav etc. remain
    got = find_timit(tmp_path)
    assert len(got) == 20
    assert all(u.path.endswith(".WAV.wav") for u in got)
    expected = [u for u in sample_utts if u.speaker in ("fvmh0", "mcpm0")]
    assert strip_audio(got) == strip_audio(expected)


# --- a fake TIMIT with TRAIN and TEST parts ------------------------------------------------------

FAKE_SPEAKERS = {
    "TRAIN/DR1/FAAA0": "train",
    "TRAIN/DR2/MBBB0": "train",
    "TEST/DR1/MDAB0": "core-test",  # first speaker of the shipped core test list
    "TEST/DR1/FAKS0": "dev",  # first speaker of the shipped dev list
    "TEST/DR2/MZZZ0": "other",  # a TEST speaker in neither list
}
FAKE_UTTS = ("SA1", "SI1", "SX1")


def make_fake_timit(root: Path) -> None:
    for rel in FAKE_SPEAKERS:
        for utt in FAKE_UTTS:
            base = root / "TIMIT" / rel / utt
            write_wav(base.with_suffix(".WAV"), 1600)
            write(base.with_suffix(".PHN"), "0 400 h#\n400 1200 aa\n1200 1601 h#\n")
            write(base.with_suffix(".TXT"), "0 1601 Ah.\n")


def ids(utts: list[Utterance]) -> set[str]:
    return {u.id for u in utts}


def test_fake_timit_splits(tmp_path):
    assert "mdab0" in read_speaker_list("core-test") and "faks0" in read_speaker_list("dev")
    assert "mzzz0" not in read_speaker_list("core-test") + read_speaker_list("dev")
    make_fake_timit(tmp_path)
    utts = find_timit(tmp_path)
    assert len(utts) == 15
    assert {timit_part(u) for u in utts if u.speaker == "mdab0"} == {"test"}
    assert ids(select_split(utts, "train")) == {
        "faaa0_si1", "faaa0_sx1", "mbbb0_si1", "mbbb0_sx1",
    }  # fmt: skip
    assert ids(select_split(utts, "dev")) == {"faks0_si1", "faks0_sx1"}
    assert ids(select_split(utts, "core-test")) == {"mdab0_si1", "mdab0_sx1"}
    assert ids(select_split(utts, "full-test")) == {
        "faks0_si1", "faks0_sx1", "mdab0_si1", "mdab0_sx1", "mzzz0_si1", "mzzz0_sx1",
    }  # fmt: skip
    assert ids(select_split(utts, "core-test", keep_sa=True)) == {
        "mdab0_sa1", "mdab0_si1", "mdab0_sx1",
    }  # fmt: skip
    assert len(select_split(utts, "all")) == 10
    assert len(select_split(utts, "all", keep_sa=True)) == 15
    # Explicit lists replace the shipped ones, and their speakers leave train.
    custom = select_split(utts, "dev", dev_speakers=["MBBB0"], test_speakers=["mzzz0"])
    assert ids(custom) == {"mbbb0_si1", "mbbb0_sx1"}
    train = select_split(utts, "train", dev_speakers=["mbbb0"], test_speakers=[])
    assert ids(train) == {"faaa0_si1", "faaa0_sx1"}


def test_unknown_split_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"'test'.*train, dev, core-test, full-test, all"):
        select_split([], "test")


def test_fake_timit_audio_without_phn_and_empty_tree(tmp_path):
    make_fake_timit(tmp_path)
    (tmp_path / "TIMIT/TRAIN/DR1/FAAA0/SX1.PHN").unlink()
    with pytest.raises(DataError, match=r"no \.PHN file") as err:
        find_timit(tmp_path)
    assert err.value.path.endswith("SX1.WAV")
    with pytest.raises(DataError, match="no TIMIT utterances found"):
        find_timit(write(tmp_path / "empty" / "notes.txt", "").parent)
    with pytest.raises(DataError, match="no such directory"):
        find_timit(tmp_path / "missing")


def test_hidden_resource_forks_are_ignored(tmp_path):
    make_fake_timit(tmp_path)
    junk = tmp_path / "TIMIT/TRAIN/DR1/FAAA0/._SI1.WAV"
    junk.write_bytes(b"\0\5\26\7 not audio")
    assert len(find_timit(tmp_path)) == 15


def test_on_error_skips_and_reports_one_bad_utterance(tmp_path):
    make_fake_timit(tmp_path)
    bad = write(tmp_path / "TIMIT/TEST/DR2/MZZZ0/SI1.PHN", "0 400 h#\n300 1601 aa\n")
    with pytest.raises(DataError) as err:
        find_timit(tmp_path)
    assert err.value.path == str(bad)
    errors: list[DataError] = []
    utts = find_timit(tmp_path, on_error=errors.append)
    assert [e.path for e in errors] == [str(bad)]
    assert len(utts) == 14 and "mzzz0_si1" not in ids(utts)
    errors.clear()
    assert len(load_corpus(tmp_path, on_error=errors.append)) == 14 and len(errors) == 1


def test_audio_that_does_not_decode_is_named_once_with_the_reason(tmp_path):
    make_fake_timit(tmp_path)
    bad = tmp_path / "TIMIT/TRAIN/DR1/FAAA0/SI1.WAV"
    bad.write_text("not audio\n")
    errors: list[DataError] = []
    assert len(find_timit(tmp_path, on_error=errors.append)) == 14
    assert [str(e) for e in errors] == [f"{bad}: cannot read audio (Format not recognised.)"]


def test_a_label_file_that_is_a_device_is_refused_unopened(tmp_path):
    make_fake_timit(tmp_path)
    phn = tmp_path / "TIMIT/TRAIN/DR1/FAAA0/SI1.PHN"
    phn.unlink()
    phn.symlink_to(os.devnull)  # a FIFO there would never be read to its end
    errors: list[DataError] = []
    assert len(find_timit(tmp_path, on_error=errors.append)) == 14
    assert [str(e) for e in errors] == [f"{phn}: not a regular file (a folder, FIFO or device)"]


def test_unknown_timit_label_is_an_error(tmp_path):
    make_fake_timit(tmp_path)
    write(tmp_path / "TIMIT/TRAIN/DR1/FAAA0/SI1.PHN", "0 400 sil\n400 1600 aa\n")
    with pytest.raises(DataError, match=r"line 1: unknown label 'sil'"):
        find_timit(tmp_path)


# --- TIMIT-style corpora and manifests -----------------------------------------------------------


def make_corpus(root: Path) -> None:
    """Two speakers at 8 kHz: one with .PHN (non-TIMIT labels) + .TXT, one with .txt only."""
    write_wav(root / "alice" / "Hello.wav", 8000, 8000)
    write(root / "alice" / "Hello.PHN", "0 2000 <sil>\n2000 6000 HH-EH\n6000 8001 <sil>\n")
    write(root / "alice" / "Hello.TXT", "0 8000 Hello.\n")
    write_wav(root / "Bob" / "u2.flac", 4000, 8000)
    write(root / "Bob" / "u2.txt", "good bye\n")
    write_wav(root / "Bob" / "noise.wav", 800, 8000)  # no labels: not an utterance
    write(root / "README.txt", "a corpus\n")  # no audio: not an utterance


def test_find_corpus_any_labels_and_txt_only(tmp_path):
    make_corpus(tmp_path)
    assert not looks_like_timit(tmp_path)
    utts = find_corpus(tmp_path)
    assert [u.id for u in utts] == ["alice_hello", "bob_u2"]
    hello, u2 = utts
    assert hello.speaker == "alice" and u2.speaker == "bob"
    assert hello.phones == ("<sil>", "HH-EH", "<sil>")
    # Seconds at the file's own rate (8 kHz), the last end clamped to the audio.
    assert hello.phone_times == ((0.0, 0.25), (0.25, 0.75), (0.75, 1.0))
    assert hello.text == "Hello." and hello.duration == 1.0
    assert u2.phones is None and u2.phone_times is None
    assert u2.text == "good bye" and u2.duration == 0.5
    assert load_corpus(tmp_path) == utts
    with pytest.raises(ValueError, match="dev_speakers"):
        select_split(utts, "train")
    assert ids(select_split(utts, "train", dev_speakers=["BOB"])) == {"alice_hello"}
    assert ids(select_split(utts, "dev", dev_speakers=["BOB"])) == {"bob_u2"}
    assert ids(select_split(utts, "full-test", test_speakers=["alice"])) == {"alice_hello"}


def test_find_corpus_phn_without_audio_and_empty(tmp_path):
    make_corpus(tmp_path)
    orphan = write(tmp_path / "alice" / "lost.PHN", "0 10 a\n")
    errors: list[DataError] = []
    assert len(find_corpus(tmp_path, on_error=errors.append)) == 2
    assert [e.path for e in errors] == [str(orphan)]
    with pytest.raises(DataError, match="no labelled audio"):
        find_corpus(write_wav(tmp_path / "x" / "a.wav", 10).parent)


def test_jsonl_manifest_round_trip_with_splits(tmp_path):
    make_corpus(tmp_path / "corpus")
    utts = find_corpus(tmp_path / "corpus")
    split = {"alice_hello": "train", "bob_u2": "test"}
    manifest = tmp_path / "all.jsonl"
    manifest.write_text(
        "".join(json.dumps(u.to_dict() | {"split": split[u.id]}) + "\n" for u in utts),
        encoding="utf-8",
    )
    assert load_corpus(manifest) == utts
    split_of = manifest_splits(manifest)
    assert split_of == split
    assert ids(select_split(utts, "train", split_of=split_of)) == {"alice_hello"}
    assert select_split(utts, "dev", split_of=split_of) == []
    assert ids(select_split(utts, "core-test", split_of=split_of)) == {"bob_u2"}
    assert ids(select_split(utts, "full-test", split_of=split_of)) == {"bob_u2"}
    bad = write(tmp_path / "bad.jsonl", '{"id": "a", "audio": "a.wav", "split": "eval"}\n')
    with pytest.raises(DataError, match=r"line 1: unknown split 'eval'"):
        manifest_splits(bad)


def test_load_corpus_rejects_missing_and_odd_paths(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        load_corpus(tmp_path / "missing")
    with pytest.raises(DataError, match=r"\.jsonl"):
        load_corpus(write(tmp_path / "list.csv", "id,audio\n"))


def test_two_copies_of_one_speaker_are_an_error(tmp_path):
    make_fake_timit(tmp_path / "a")
    make_fake_timit(tmp_path / "b")
    dup = r"/b/TIMIT/.*: utterance id '\w+' also found at .*/a/TIMIT/"
    with pytest.raises(DataError, match=dup):
        find_timit(tmp_path)


def test_an_id_given_twice_in_a_manifest_is_an_error(tmp_path, capsys):
    """Two lines with one id would key one utterance's features, references and hypotheses by
    the other's: the manifest is refused naming both lines, not read as one utterance fewer."""
    from lstmrec.cli.main import main

    make_corpus(tmp_path / "corpus")
    rows = [u.to_dict() | {"split": "test"} for u in find_corpus(tmp_path / "corpus")]
    manifest = tmp_path / "all.jsonl"
    lines = [*rows, rows[0] | {"audio": rows[1]["audio"]}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    with pytest.raises(DataError, match=rf"line 3: id '{rows[0]['id']}' is also on line 1"):
        load_corpus(manifest)
    rc = main(["refs", "--data", str(manifest), "--text-out", str(tmp_path / "ref.txt")])
    assert rc == 2 and not (tmp_path / "ref.txt").exists()
    assert f"{manifest}: line 3: id" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (["--unit", "words", "--fold", "39"], "--fold: for --unit phones, not --unit words"),
        (["--unit", "words", "--silence", "keep"], "--silence keep: for --unit phones, not"),
        (["--text-normalization", "none"], "--text-normalization: for --unit words, not"),
    ],
)
def test_refs_refuses_the_flags_of_the_other_unit(tmp_path, capsys, flags, reason):
    """Folding and silences are of phones, normalisation of words: with the other unit such a
    flag would be left unused without a word."""
    from lstmrec.cli.main import main

    demo = Path(__file__).resolve().parents[1] / "data" / "timit-demo"
    out = tmp_path / "ref.txt"
    args = ["refs", "--data", demo, "--test-speakers", demo / "test_spk.list", "--text-out", out]
    assert main([str(a) for a in [*args, *flags]]) == 2 and not out.exists()
    err = capsys.readouterr().err
    assert err.startswith(f"lstmrec: {reason}") and len(err.splitlines()) == 1


def test_prepare_from_a_manifest_named_relatively_writes_paths_that_resolve(
    tmp_path, monkeypatch, capsys
):
    """``prepare --data sub/m.jsonl --out out``: the manifest's relative audio paths were
    written relative to the working folder (``sub/a.wav``), which ``out/train.jsonl`` resolves
    against its own folder (``out/sub/a.wav``): the next command found no file."""
    from lstmrec.cli.main import main

    write_wav(tmp_path / "sub" / "audio" / "a.wav", 8000)
    row = {"id": "a", "audio": "audio/a.wav", "phones": ["h#"], "split": "train"}
    write(tmp_path / "sub" / "m.jsonl", json.dumps(row) + "\n")
    monkeypatch.chdir(tmp_path)
    assert main(["prepare", "--data", "sub/m.jsonl", "--out", "out", "--splits", "train"]) == 0
    (utt,) = load_corpus(tmp_path / "out" / "train.jsonl")
    assert Path(utt.path).is_file() and Path(utt.path).samefile(tmp_path / "sub/audio/a.wav")


def test_a_manifest_saved_with_a_byte_order_mark_is_read(tmp_path):
    """An editor's byte-order mark is no part of the first line, as in every other file read."""
    write_wav(tmp_path / "a.wav", 8000)
    row = {"id": "a", "audio": "a.wav", "phones": ["h#"], "split": "train"}
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(b"\xef\xbb\xbf" + (json.dumps(row) + "\n").encode())
    (utt,) = load_corpus(manifest)
    assert utt.id == "a" and manifest_splits(manifest) == {"a": "train"}


def test_speaker_lists_split_a_prepared_folder_anew(tmp_path):
    """--dev-speakers / --test-speakers decide the splits of a prepared folder too, as of any
    corpus with a split of its own; without them its files are the splits."""
    from lstmrec.corpora.splits import load_split
    from lstmrec.manifest import write_manifest

    def utt(utt_id: str, speaker: str) -> Utterance:
        return Utterance(utt_id, str(tmp_path / f"{utt_id}.wav"), speaker, phones=("h#",))

    prepared = tmp_path / "p"
    write_manifest([utt("a1", "alice"), utt("b1", "bob")], prepared / "train.jsonl")
    write_manifest([utt("c1", "carol")], prepared / "dev.jsonl")
    write_manifest([utt("d1", "dave")], prepared / "core-test.jsonl")
    write_manifest([utt("d1", "dave")], prepared / "full-test.jsonl")  # shares d1
    assert ids(load_split(prepared, "dev")) == {"c1"}
    (tmp_path / "dev.list").write_text("bob\n")
    (tmp_path / "test.list").write_text("carol\n")
    lists = {"dev_speakers": tmp_path / "dev.list", "test_speakers": tmp_path / "test.list"}
    assert ids(load_split(prepared, "dev", **lists)) == {"b1"}
    assert ids(load_split(prepared, "core-test", **lists)) == {"c1"}
    assert [u.id for u in load_split(prepared, "train", **lists)] == ["a1", "d1"]
    assert ids(load_split(prepared, "all", **lists)) == {"a1", "b1", "c1", "d1"}


def test_a_split_a_prepared_folder_lacks_is_named(tmp_path, capsys):
    """``--data`` a folder written by ``prepare``, ``--split`` one it was not asked for: the
    error names the missing file and the splits there, not a corpus layout it never had."""
    from lstmrec.cli.main import main
    from lstmrec.corpora.splits import load_split
    from lstmrec.manifest import write_manifest

    write_manifest(
        [Utterance("a", str(tmp_path / "a.wav"), "s", phones=("h#",))],
        tmp_path / "p" / "train.jsonl",
    )
    write_manifest([], tmp_path / "p" / "core-test.jsonl")
    with pytest.raises(DataError, match=r"has no full-test\.jsonl \(the splits prepared there: "):
        load_split(tmp_path / "p", "full-test")
    assert main(["features", "--data", str(tmp_path / "p"), "--splits", "all"]) == 2
    assert capsys.readouterr().err == (
        f"lstmrec: {tmp_path / 'p'}: has no all.jsonl (the splits prepared there: train, "
        "core-test)\n"
    )
