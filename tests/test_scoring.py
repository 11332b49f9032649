"""Alignment, error counts and PER reports, checked against hand-computed alignments."""

from __future__ import annotations

import functools
import json
import random

import pytest

from lstmrec.features.errors import DataError
from lstmrec.scoring.align import (
    ErrorCounts,
    align,
    read_kaldi_text,
    score,
    write_kaldi_text,
)


def ops(ref: str, hyp: str) -> str:
    return "".join(op for op, _, _ in align(ref.split(), hyp.split()))


def counts(ref: str, hyp: str) -> ErrorCounts:
    return ErrorCounts.from_alignment(align(ref.split(), hyp.split()))


def test_align_substitution_and_insertion():
    pairs = align("a b c d".split(), "a x c d e".split())
    assert pairs == [
        ("C", "a", "a"),
        ("S", "b", "x"),
        ("C", "c", "c"),
        ("C", "d", "d"),
        ("I", None, "e"),
    ]
    c = ErrorCounts.from_alignment(pairs)
    assert (c.correct, c.substitutions, c.deletions, c.insertions) == (3, 1, 0, 1)
    assert c.reference_length == 4 and c.errors == 2 and c.error_rate == 50.0


def test_align_empty_sides():
    assert align("a b c".split(), []) == [("D", "a", None), ("D", "b", None), ("D", "c", None)]
    assert align([], ["a"]) == [("I", None, "a")]
    assert align([], []) == []


def test_align_repeated_phone_is_one_insertion():
    c = counts("k ae t", "k ae ae t")
    assert (c.correct, c.substitutions, c.deletions, c.insertions) == (3, 0, 0, 1)


def test_align_mixed_hand_computed():
    # The only cost-3 alignment: sh deleted, ae -> eh, z inserted between t and s.
    pairs = align("sh k ae t s iy".split(), "k eh t z s iy".split())
    assert pairs == [
        ("D", "sh", None),
        ("C", "k", "k"),
        ("S", "ae", "eh"),
        ("C", "t", "t"),
        ("I", None, "z"),
        ("C", "s", "s"),
        ("C", "iy", "iy"),
    ]


def test_align_tie_breaking_prefers_diagonal():
    # "a b" vs "b a": S S, D C I and I C D all cost 2; the diagonal wins.
    assert ops("a b", "b a") == "SS"
    # Two equal-cost places for the inserted "iy": traced from the end, the last one is correct.
    assert ops("s iy", "s iy iy") == "CIC"


@functools.cache
def _edit_distance(ref: tuple[str, ...], hyp: tuple[str, ...]) -> int:
    """Plain recursive Levenshtein distance, independent of the table in ``align``."""
    if not ref or not hyp:
        return len(ref) + len(hyp)
    return min(
        _edit_distance(ref[1:], hyp[1:]) + (ref[0] != hyp[0]),
        _edit_distance(ref[1:], hyp) + 1,
        _edit_distance(ref, hyp[1:]) + 1,
    )


def test_align_matches_edit_distance_on_random_sequences():
    rng = random.Random(1234)
    for _ in range(500):
        ref = tuple(rng.choices("abc", k=rng.randint(0, 7)))
        hyp = tuple(rng.choices("abc", k=rng.randint(0, 7)))
        pairs = align(ref, hyp)
        c = ErrorCounts.from_alignment(pairs)
        assert c.errors == _edit_distance(ref, hyp), (ref, hyp)
        assert c.correct + c.substitutions + c.deletions == len(ref)
        assert c.correct + c.substitutions + c.insertions == len(hyp)
        assert tuple(r for _, r, _ in pairs if r is not None) == ref
        assert tuple(h for _, _, h in pairs if h is not None) == hyp
        for op, r, h in pairs:
            assert (op == "C") == (r == h)


def test_error_counts_add_and_rate():
    a = ErrorCounts(correct=3, substitutions=1, deletions=0, insertions=2, reference_length=4)
    b = ErrorCounts(correct=1, substitutions=0, deletions=1, insertions=0, reference_length=2)
    assert a + b == ErrorCounts(4, 1, 1, 2, 6)
    assert (a + b).error_rate == pytest.approx(100.0 * 4 / 6)
    assert ErrorCounts().error_rate == 0.0
    assert ErrorCounts(insertions=2).error_rate == 200.0  # empty reference counts as length 1


REFS = {
    "fcjf0_si1027": "sil k ae t sil".split(),  # hyp: S 1
    "fcjf0_sx127": "b ih g".split(),  # hyp: I 1
    "mdab0_si1039": "d aa g".split(),  # no hyp: D 3
    "mdab0_sx139": "s iy".split(),  # hyp: D 1
}
HYPS = {
    "fcjf0_si1027": "sil k eh t sil".split(),
    "fcjf0_sx127": "b ih g z".split(),
    "mdab0_sx139": "s".split(),
    "mzzz0_sa1": "aa".split(),  # no reference: ignored
}
SPEAKERS = {u: u.split("_")[0] for u in REFS}  # as the corpus would name them


def test_score_two_speakers():
    report = score(REFS, HYPS, speakers=SPEAKERS)
    assert report.total == ErrorCounts(
        correct=8, substitutions=1, deletions=4, insertions=1, reference_length=13
    )
    assert report.total.error_rate == pytest.approx(600 / 13)
    assert report.per_speaker == {
        "fcjf0": ErrorCounts(correct=7, substitutions=1, insertions=1, reference_length=8),
        "mdab0": ErrorCounts(correct=1, deletions=4, reference_length=5),
    }
    assert report.per_speaker["fcjf0"].error_rate == 25.0
    assert report.per_speaker["mdab0"].error_rate == 80.0
    assert sum(report.per_speaker.values(), ErrorCounts()) == report.total
    assert report.num_utterances == 4
    assert report.missing == ["mdab0_si1039"]
    assert report.extra == ["mzzz0_sa1"]
    assert report.fold_to is None


def test_score_explicit_speakers():
    speakers = {"fcjf0_si1027": "A", "fcjf0_sx127": "B"}  # others: unknown, never the id prefix
    report = score(REFS, HYPS, speakers=speakers)
    assert sorted(report.per_speaker) == ["A", "B", "unknown"]
    assert report.per_speaker["A"].substitutions == 1
    assert report.per_speaker["B"].insertions == 1
    assert report.per_speaker["unknown"].deletions == 4


def test_score_never_guesses_speakers_from_ids():
    # LibriSpeech-style ids: one speaker row per utterance if the id's shape were read.
    refs = {"1089-134686-0000": ["a"], "1089-134686-0001": ["b"], "w14-000-01": ["c"]}
    report = score(refs, refs)
    assert list(report.per_speaker) == ["unknown"]
    assert report.utterance_speakers == dict.fromkeys(refs, "unknown")


def test_score_folds_both_sides():
    refs = {"s1_u1": ["ao", "h#", "q", "ix"]}
    hyps = {"s1_u1": ["aa", "pau", "ih"]}
    unfolded = score(refs, hyps)
    assert (unfolded.total.substitutions, unfolded.total.deletions) == (3, 1)
    folded = score(refs, hyps, fold_to=39)
    assert folded.total == ErrorCounts(correct=3, reference_length=3)
    assert folded.fold_to == 39
    with pytest.raises(DataError, match="'xx'"):
        score(refs, {"s1_u1": ["xx"]}, fold_to=39)


REPORT_KEYS = {
    "error_rate",
    "substitutions",
    "deletions",
    "insertions",
    "correct",
    "reference_length",
    "num_utterances",
    "phone_set",
    "per_speaker",
}


def test_report_to_dict_is_json_ready():
    d = score(REFS, HYPS, speakers=SPEAKERS, fold_to=39).to_dict()
    assert REPORT_KEYS <= d.keys()
    assert d["error_rate"] == pytest.approx(600 / 13)  # not rounded
    assert d["phone_set"] == 39
    assert d["num_utterances"] == 4
    assert d["per_speaker"]["mdab0"] == {
        "error_rate": 80.0,
        "substitutions": 0,
        "deletions": 4,
        "insertions": 0,
        "reference_length": 5,
    }
    assert json.loads(json.dumps(d)) == d


def test_report_to_text():
    text = score(REFS, HYPS, speakers=SPEAKERS, fold_to=39).to_text()
    lines = text.splitlines()
    assert lines[0] == "PER 46.15 % [ 6 / 13 ] (S 1, D 4, I 1) over 4 utterances, 39 phones"
    rows = [line.split() for line in lines if line.startswith(("fcjf0", "mdab0"))]
    assert rows == [
        ["fcjf0", "8", "1", "0", "1", "25.00"],
        ["mdab0", "5", "0", "4", "0", "80.00"],
    ]
    assert score(REFS, HYPS).to_text("PER").splitlines()[0].endswith("over 4 utterances")


def test_kaldi_text_round_trip(tmp_path):
    data = {"b_2": ["sil", "aa"], "a_1": ["k", "ae", "t"], "c_3": []}
    path = tmp_path / "sub" / "text"
    write_kaldi_text(data, path)
    assert path.read_text(encoding="utf-8") == "a_1 k ae t\nb_2 sil aa\nc_3\n"
    assert read_kaldi_text(path) == data
    assert not list(path.parent.glob("*.tmp"))
    write_kaldi_text({"a b": ["x"]}, path)  # an id as one field, as every output writes it
    assert read_kaldi_text(path) == {"a%20b": ["x"]}
    with pytest.raises(ValueError, match="white space"):
        write_kaldi_text({"a": ["x y"]}, tmp_path / "bad")


def test_read_kaldi_text_blank_lines_and_errors(tmp_path):
    path = tmp_path / "text"
    path.write_text("u1 a  b\n\n  \nu2\tc\nu3\n", encoding="utf-8")
    assert read_kaldi_text(path) == {"u1": ["a", "b"], "u2": ["c"], "u3": []}
    dup = tmp_path / "dup_text"
    dup.write_text("u1 a\nu2 b\nu1 c\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 3") as info:
        read_kaldi_text(dup)
    assert "dup_text" in str(info.value) and "'u1'" in str(info.value)
    with pytest.raises(DataError, match="not found"):
        read_kaldi_text(tmp_path / "missing")


def test_read_kaldi_text_leaves_out_a_byte_order_mark(tmp_path):
    path = tmp_path / "text"
    path.write_bytes(b"\xef\xbb\xbfu1 a b\nu2 c\n")  # as some editors save UTF-8
    assert read_kaldi_text(path) == {"u1": ["a", "b"], "u2": ["c"]}
