"""Phone sets, folding, symbol tables and speaker lists, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from lstmrec.features.errors import DataError
from lstmrec.phones import (
    BLANK,
    PHONES39,
    PHONES48,
    TIMIT61,
    SymbolTable,
    fold,
    read_speaker_list,
)

# A hand-made TIMIT sequence exercising every kind of mapping: deletion (q), the three silences
# (h#, pau, epi), a closure (bcl), and the merged allophones ax-h, ux, zh, nx, eng.
SEQ61 = ["h#", "q", "bcl", "b", "ax-h", "pau", "ux", "zh", "epi", "nx", "eng", "q", "aa", "h#"]
SEQ48 = ["sil", "vcl", "b", "ax", "sil", "uw", "zh", "epi", "n", "ng", "aa", "sil"]
SEQ39 = ["sil", "sil", "b", "ah", "sil", "uw", "sh", "sil", "n", "ng", "aa", "sil"]


def test_set_sizes_and_order():
    assert len(TIMIT61) == 61
    assert len(set(TIMIT61)) == 61
    assert TIMIT61[:4] == ("aa", "ae", "ah", "ao")  # map order
    assert TIMIT61[-1] == "zh"
    assert "q" in TIMIT61
    assert len(PHONES48) == 48
    assert len(PHONES39) == 39
    assert list(PHONES48) == sorted(PHONES48)
    assert "sil" in PHONES39 and "q" not in PHONES48 and "zh" not in PHONES39


def test_fold_hand_computed():
    assert fold(SEQ61, 48) == SEQ48
    assert fold(SEQ61, 39) == SEQ39
    assert fold(SEQ61) == SEQ39  # 39 is the default
    assert fold(SEQ61, 61) == SEQ61  # identity: q kept, nothing merged


def test_fold_deletes_only_q():
    assert fold(["q"], 39) == []
    assert fold(["q", "q"], 48) == []
    # Repeated silences are not merged and sil is not removed (Kaldi convention).
    assert fold(["h#", "pau", "h#"], 39) == ["sil", "sil", "sil"]


def test_every_label_folds_into_the_smaller_sets():
    for p in TIMIT61:
        if p == "q":
            continue
        (p48,) = fold([p], 48)
        (p39,) = fold([p], 39)
        assert p48 in PHONES48
        assert p39 in PHONES39
        assert fold([p48], 39) == [p39]  # 61 -> 48 -> 39 equals 61 -> 39


def test_fold_from_48_and_39_sets():
    assert fold(["vcl", "cl", "sil", "epi", "ix", "aa"], 39) == ["sil"] * 4 + ["ih", "aa"]
    assert fold(list(PHONES48), 48) == list(PHONES48)
    assert fold(list(PHONES39), 39) == list(PHONES39)


def test_fold_unknown_label():
    with pytest.raises(DataError, match="'xyz'") as info:
        fold(["aa", "xyz"], 39, source="utt1")
    assert "utt1" in str(info.value)
    with pytest.raises(DataError, match="'vcl'"):
        fold(["vcl"], 61)  # a 48-set label is not a TIMIT-61 label
    with pytest.raises(ValueError, match="40"):
        fold(["aa"], 40)


def test_symbol_table_timit61():
    table = SymbolTable.timit61()
    assert len(table) == 62
    assert table.symbols == TIMIT61
    assert table.to_list()[0] == BLANK
    ids = table.encode(["aa", "h#", "zh"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [1, TIMIT61.index("h#") + 1, 61]
    assert 0 not in table.encode(TIMIT61).tolist()  # blank is never a label id
    assert table.decode([0, 1, 0, 1, 61, 0]) == ["aa", "aa", "zh"]  # blanks skipped, repeats kept


def test_symbol_table_round_trip():
    table = SymbolTable(["k", "ae", "t"])
    seq = ["t", "ae", "k", "k"]
    assert table.encode(seq).tolist() == [3, 2, 1, 1]
    assert table.decode(table.encode(seq)) == seq
    with pytest.raises(ValueError, match="4"):
        table.decode([4])


def test_symbol_table_rejects_bad_symbols():
    with pytest.raises(ValueError, match="duplicate"):
        SymbolTable(["a", "b", "a"])
    with pytest.raises(ValueError, match="blank"):
        SymbolTable(["a", BLANK])


def test_symbol_table_unknown_label_names_label_and_source():
    with pytest.raises(DataError) as info:
        SymbolTable(["a", "b"]).encode(["a", "zz"], source="fcjf0_si1027")
    assert "'zz'" in str(info.value)
    assert "fcjf0_si1027" in str(info.value)


def test_symbol_table_save_load(tmp_path):
    table = SymbolTable.timit61()
    path = tmp_path / "sub" / "symbols.txt"
    table.save(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == BLANK and lines[1] == "aa" and len(lines) == 62
    assert not list(path.parent.glob("*.tmp"))
    loaded = SymbolTable.load(path)
    assert loaded == table
    assert loaded != SymbolTable(TIMIT61[:-1])


def test_symbol_table_load_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        SymbolTable.load(tmp_path / "none.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("aa\nae\n", encoding="utf-8")
    with pytest.raises(DataError, match="bad.txt"):
        SymbolTable.load(bad)
    dup = tmp_path / "dup.txt"
    dup.write_text(f"{BLANK}\naa\naa\n", encoding="utf-8")
    with pytest.raises(DataError, match="duplicate"):
        SymbolTable.load(dup)


def test_shipped_speaker_lists():
    dev = read_speaker_list("dev")
    test = read_speaker_list("core-test")
    assert len(dev) == len(set(dev)) == 50
    assert len(test) == len(set(test)) == 24
    assert not set(dev) & set(test)
    assert test[0] == "mdab0"
    assert all(s == s.lower() for s in dev + test)


def test_user_speaker_list(tmp_path):
    path = tmp_path / "spk.list"
    path.write_text("FCJF0\n\nmdab0\n", encoding="utf-8")
    assert read_speaker_list(path) == ["fcjf0", "mdab0"]
    assert read_speaker_list(str(path)) == ["fcjf0", "mdab0"]
    path.write_bytes(b"\xef\xbb\xbfFCJF0\n")  # a byte-order mark is not part of the id
    assert read_speaker_list(path) == ["fcjf0"]
    with pytest.raises(DataError, match="nothere"):
        read_speaker_list(tmp_path / "nothere")
