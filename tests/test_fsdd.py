"""Tests for lstmrec.corpora.fsdd: the digit lexicon, the FSDD reader and its speaker split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lstmrec.corpora.fsdd import (
    DIGIT_WORDS,
    FSDD_SAMPLE_RATE,
    digit_lexicon,
    digit_phones,
    find_fsdd,
    read_lexicon,
    select_fsdd,
)
from lstmrec.features.errors import DataError
from lstmrec.phones import PHONES39, TIMIT61, fold
from lstmrec.targets import utterance_labels

FSDD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd"
needs_fsdd = pytest.mark.shared_data("fsdd/recordings")  # skips, fails under CI=true


def write_wav(path: Path, num_samples: int = 800) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(num_samples) / FSDD_SAMPLE_RATE
    sf.write(path, 0.3 * np.sin(2 * np.pi * 300 * t), FSDD_SAMPLE_RATE, subtype="PCM_16")
    return path


# --- the lexicon ---------------------------------------------------------------------------------


def test_lexicon_is_cmudict_without_stress():
    lex = digit_lexicon()
    assert set(lex) == set(DIGIT_WORDS)
    # CMUdict: ZERO  Z IH1 R OW0 / ZERO(2)  Z IY1 R OW0, SEVEN  S EH1 V AH0 N, FOUR  F AO1 R.
    assert lex["zero"] == [("z", "ih", "r", "ow"), ("z", "iy", "r", "ow")]
    assert lex["seven"] == [("s", "eh", "v", "ah", "n")]
    assert lex["four"] == [("f", "ao", "r")]
    assert all(p in TIMIT61 for prons in lex.values() for pron in prons for p in pron)


def test_digit_targets_are_first_pronunciations_in_the_39_set():
    targets = digit_phones()
    assert targets[0] == ("z", "ih", "r", "ow")  # the first of zero's two
    assert targets[4] == ("f", "aa", "r")  # ao folds to aa
    assert all(p in PHONES39 for t in targets for p in t)
    assert all(fold(t, 39) == list(t) for t in targets)  # 39-set labels fold to themselves


def test_read_lexicon_names_the_bad_line():
    assert read_lexicon("# comment\n\nyes y eh s\n") == {"yes": [("y", "eh", "s")]}
    with pytest.raises(DataError, match=r"x\.lex: line 2: word 'no' has no phones"):
        read_lexicon("yes y eh s\nno\n", source="x.lex")


# --- the reader on small folders -----------------------------------------------------------------


def test_find_fsdd_on_a_small_folder(tmp_path):
    write_wav(tmp_path / "recordings" / "7_jackson_32.wav", 4000)
    write_wav(tmp_path / "recordings" / "0_george_3.wav")
    (tmp_path / "recordings" / "notes.txt").write_text("not audio")
    utts = find_fsdd(tmp_path)  # the FSDD folder; its recordings/ is found
    assert [u.id for u in utts] == ["george_0_3", "jackson_7_32"]
    assert utts[1].phones == ("s", "eh", "v", "ah", "n")
    assert utts[1].text == "seven" and utts[1].speaker == "jackson"
    assert utts[1].duration == pytest.approx(0.5)
    assert find_fsdd(tmp_path / "recordings") == utts


def test_find_fsdd_errors(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        find_fsdd(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no FSDD recordings"):
        find_fsdd(tmp_path / "empty")
    write_wav(tmp_path / "bad" / "0_george_1.wav")
    bad = write_wav(tmp_path / "bad" / "seven_jackson.wav")
    with pytest.raises(DataError, match="not an FSDD name") as err:
        find_fsdd(tmp_path / "bad")
    assert err.value.path == str(bad)
    errors = []
    assert [u.id for u in find_fsdd(tmp_path / "bad", on_error=errors.append)] == ["george_0_1"]
    assert len(errors) == 1
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "1_lucas_0.wav").write_bytes(b"RIFF not really")
    with pytest.raises(DataError, match="cannot read audio"):
        find_fsdd(tmp_path / "corrupt")


def test_select_fsdd_holds_out_speakers_and_limits_per_digit(tmp_path):
    for spk in ("george", "nicolas"):
        for digit in (1, 2):
            for index in (0, 1, 2, 10):
                write_wav(tmp_path / f"{digit}_{spk}_{index}.wav")
    utts = find_fsdd(tmp_path)
    train, test = select_fsdd(utts, test_speakers=["nicolas"], per_digit=2)
    assert {u.speaker for u in train} == {"george"} and {u.speaker for u in test} == {"nicolas"}
    # The lowest indices numerically (10 sorts before 2 as text).
    assert sorted(u.id for u in train) == ["george_1_0", "george_1_1", "george_2_0", "george_2_1"]
    train, test = select_fsdd(utts, test_speakers=["nicolas"])
    assert len(train) == len(test) == 8
    with pytest.raises(ValueError, match="nicholas not in FSDD"):
        select_fsdd(utts, test_speakers=["nicholas"])


# --- the shared FSDD copy ------------------------------------------------------------------------


@needs_fsdd
def test_shared_fsdd():
    utts = find_fsdd(FSDD)
    assert len(utts) == 2000
    assert sorted({u.speaker for u in utts}) == ["george", "jackson", "lucas", "nicolas"]
    assert len({u.id for u in utts}) == 2000
    by_id = {u.id: u for u in utts}
    seven = by_id["jackson_7_32"]
    assert Path(seven.path) == FSDD / "recordings" / "7_jackson_32.wav"
    assert seven.phones == ("s", "eh", "v", "ah", "n") and seven.text == "seven"
    info = sf.info(seven.path)
    assert info.samplerate == FSDD_SAMPLE_RATE
    assert seven.duration == pytest.approx(info.frames / info.samplerate)
    # Training with 39-phone targets uses the phones as they are.
    assert utterance_labels(seven, 39) == ["s", "eh", "v", "ah", "n"]
    train, test = select_fsdd(utts, test_speakers=["nicolas"], per_digit=10)
    assert (len(train), len(test)) == (300, 100)
