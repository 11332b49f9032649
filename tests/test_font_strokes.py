"""Handwriting fonts to pen strokes: hand-drawn bitmaps, real font glyphs, generated corpora."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from lstmrec.corpora import font_strokes
from lstmrec.corpora.font_strokes import trace_bitmap
from lstmrec.features.inkaugment import InkAugment

XH = 20.0  # pixels per x-height in the hand-drawn bitmaps


def _canvas() -> np.ndarray:
    return np.zeros((60, 80), dtype=bool)


def _trace(image: np.ndarray) -> list[np.ndarray]:
    return trace_bitmap(image, (0.0, 50.0), XH)


def test_a_ring_is_one_closed_stroke():
    rr, cc = np.mgrid[:60, :80]
    d = np.hypot(rr - 30, cc - 40)
    strokes = _trace((d > 12) & (d < 16))
    assert len(strokes) == 1
    s = strokes[0]
    assert np.hypot(*(s[0] - s[-1])) < 0.15  # closed: ends where it starts
    assert s[:, 1].min() == pytest.approx(s[0, 1], abs=0.15)  # starts at the top


def test_a_cross_is_two_strokes_not_four():
    image = _canvas()
    image[10:50, 38:42] = True  # stem
    image[25:29, 20:60] = True  # bar
    strokes = _trace(image)
    assert len(strokes) == 2  # a + has 4 line ends: at least 2 strokes, and the walk finds 2
    directions = sorted(abs(float(np.arctan2(*np.ptp(s, axis=0)[::-1]))) for s in strokes)
    assert directions[0] < 0.3 and directions[1] > 1.2  # one horizontal, one vertical


def test_a_stem_with_a_dot_over_it_is_stem_then_dot():
    image = _canvas()
    image[25:50, 10:14] = True  # stem of an i
    image[14:19, 10:15] = True  # its dot
    image[25:50, 50:54] = True  # a second stem to the right
    strokes = _trace(image)
    assert len(strokes) == 3
    stem, dot, right = strokes
    assert np.ptp(stem[:, 1]) > 0.9 and np.ptp(dot, axis=0).max() < 0.3
    assert dot[:, 1].max() < stem[:, 1].min()  # the dot is above the stem
    assert right[:, 0].min() > stem[:, 0].max()  # left to right


def test_spurs_from_thinning_are_dropped():
    image = _canvas()
    image[10:50, 30:36] = True  # a thick stem: thinning leaves short spurs at its corners
    strokes = _trace(image)
    assert len(strokes) == 1
    assert np.ptp(strokes[0][:, 1]) > 1.5


FONTS = {"font:Andika-Regular.ttf", "font:ComicNeue-Regular.otf", "font:KleeOne-Regular.ttf"}


def _hand(name):
    from lstmrec.corpora.ink_hands import load_hand
    from lstmrec.features.errors import DataError

    try:
        return load_hand(name)
    except DataError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(e))


@pytest.mark.parametrize("name", sorted(FONTS))
def test_font_glyphs_have_the_strokes_a_writer_makes(name):
    hand = _hand(name)
    o, t, i = (hand.glyph(ch) for ch in "oti")
    assert len(o.strokes) == 1 and np.hypot(*(o.strokes[0][0] - o.strokes[0][-1])) < 0.2
    assert len(t.strokes) == 2  # stem and bar
    bar = min(t.strokes, key=lambda s: np.ptp(s[:, 1]))
    assert np.ptp(bar[:, 1]) < 0.2 and np.ptp(bar[:, 0]) > 0.3
    assert len(i.strokes) == 2  # stem, then the dot above it
    stem, dot = i.strokes
    assert np.ptp(stem[:, 1]) > 0.7 and dot[:, 1].max() < stem[:, 1].min()
    # x-heights: an "x" sits on the baseline (y = 0) and is one unit tall
    x = np.concatenate(hand.glyph("x").strokes)
    assert x[:, 1].max() == pytest.approx(0.0, abs=0.12)
    assert x[:, 1].min() == pytest.approx(-1.0, abs=0.15)


def test_a_written_line_runs_left_to_right():
    from lstmrec.corpora.synth_ink import render_line, writer_style

    style = writer_style(3, ("font:ComicNeue-Regular.otf",))
    _hand(style.hand)
    import dataclasses

    style = dataclasses.replace(style, connected=False, delayed=False, slant=0.0, tilt=0.0)
    strokes = render_line("l l l l", style, seed=1)
    assert len(strokes) == 4
    starts = [s[:, 0].min() for s in strokes]
    assert starts == sorted(starts)
    assert np.all(np.diff([s[0, 2] for s in strokes]) > 0)  # later strokes, later times


def test_generated_corpus_reads_back_through_the_reader(tmp_path):
    from lstmrec.corpora.iam_ondb import iam_ondb_splits, load_iam_ondb
    from lstmrec.corpora.synth_hands import HandsCorpusSpec, hands_lines, write_hands_corpus
    from lstmrec.features.inkfiles import read_iam_ondb_strokes

    _hand("font:Kristi.ttf")
    spec = HandsCorpusSpec(
        writers_per_hand=1, lines_per_writer=1, eval_writers_per_hand=1, eval_lines_per_writer=2
    )
    expected = {
        f"{form}-{n:02d}": (text, strokes, split)
        for form, n, _, text, strokes, split in hands_lines(spec)
    }
    counts = write_hands_corpus(tmp_path / "corpus", spec)
    utts = load_iam_ondb(tmp_path / "corpus")
    splits = iam_ondb_splits(tmp_path / "corpus", utts)
    assert len(utts) == sum(counts.values()) == len(expected)
    for utt in utts:
        text, strokes, split = expected[utt.id]
        assert utt.text == text and splits[utt.id] == split
        back = read_iam_ondb_strokes(utt.path)
        assert len(back) == len(strokes)
        for a, b in zip(back, strokes, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-3)


def test_held_out_lines_are_not_augmented_and_training_lines_are():
    from lstmrec.corpora.synth_hands import HandsCorpusSpec, hands_lines

    _hand("font:Kristi.ttf")
    spec = dict(
        writers_per_hand=1, lines_per_writer=1, eval_writers_per_hand=1, eval_lines_per_writer=1
    )
    plain = {
        (f, n): (s, sp) for f, n, _, _, s, sp in hands_lines(HandsCorpusSpec(**spec, augment=False))
    }
    augmented = {(f, n): s for f, n, _, _, s, _ in hands_lines(HandsCorpusSpec(**spec))}
    changed = {sp: [] for sp in ("train", "dev", "test")}
    for key, (strokes, split) in plain.items():
        other = augmented[key]
        same = len(other) == len(strokes) and all(
            a.shape == b.shape and np.array_equal(a, b) for a, b in zip(other, strokes, strict=True)
        )
        changed[split].append(not same)
    assert all(changed["train"])
    assert not any(changed["dev"]) and not any(changed["test"])


def test_number_lines_replace_training_and_dev_lines_never_test_lines_and_nothing_else(monkeypatch):
    from lstmrec.corpora import synth_hands

    # One Hershey hand per split keeps the test fast; the code path is that of every hand.
    monkeypatch.setattr(
        synth_hands,
        "hands_of",
        lambda split: ("hershey:futural" if split == "train" else "hershey:timesi",),
    )
    spec = dict(
        writers_per_hand=4,
        lines_per_writer=5,
        eval_writers_per_hand=2,
        eval_lines_per_writer=3,
        augment=False,
    )
    plain = list(synth_hands.hands_lines(synth_hands.HandsCorpusSpec(**spec, number_share=0)))
    numbered = list(
        synth_hands.hands_lines(
            synth_hands.HandsCorpusSpec(**spec, number_share=0.5, dev_number_share=1.0)
        )
    )
    assert [line[:3] for line in plain] == [line[:3] for line in numbered]  # same forms, writers
    replaced = {"train": 0, "dev": 0, "test": 0}
    for (*_, text, strokes, split), (*_, text2, strokes2, _) in zip(plain, numbered, strict=True):
        if text2 != text:
            assert any(ch.isdigit() for ch in text2)
            replaced[split] += 1
        else:  # an untouched line is written exactly as without number lines
            assert len(strokes2) == len(strokes)
            assert all(np.array_equal(a, b) for a, b in zip(strokes, strokes2, strict=True))
    # About half of the 20 training lines, all 6 dev lines, never a test line.
    assert 4 <= replaced["train"] <= 16
    assert replaced["dev"] == 6 and replaced["test"] == 0


def test_number_text_writes_digits_the_ways_people_do():
    from lstmrec.corpora.ink_text import INK_CHARSET, number_text

    rng = np.random.default_rng(0)
    lines = [number_text(rng, "a line of prose") for _ in range(2000)]
    assert all(set(t) <= set(INK_CHARSET) and any(ch.isdigit() for ch in t) for t in lines)
    bare = [t for t in lines if t.isdigit()]  # two in five, and a lone count, year or code
    assert 0.38 < len(bare) / len(lines) < 0.5 and {len(t) for t in bare} >= set(range(3, 13))
    prose = [t for t in lines if "prose" in t]
    assert 0.25 < len(prose) / len(lines) < 0.35
    assert all(t.replace(w, "", 1) for t in prose for w in ["a line of prose"])
    assert any(":" in t for t in lines) and any("/" in t for t in lines)
    digits = "".join(ch for t in bare for ch in t)
    counts = np.bincount([int(ch) for ch in digits], minlength=10) / len(digits)
    assert np.all(np.abs(counts - 0.1) < 0.02)  # every digit about as often


def test_augment_distorts_but_keeps_the_ink_readable():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 50)
    strokes = [
        np.stack([100 * t + 10 * k * 100, 50 * np.sin(6 * t), t + k], axis=1) for k in range(5)
    ]
    out = InkAugment()(strokes, rng)
    assert 4 <= len(out) <= 7
    span = np.ptp(np.concatenate(out)[:, 0])
    assert 0.8 < span / np.ptp(np.concatenate(strokes)[:, 0]) < 1.25
    assert not np.allclose(np.concatenate(out)[:5, :2], np.concatenate(strokes)[:5, :2])
    off = InkAugment(**{f: 0.0 for f in InkAugment.__dataclass_fields__})
    assert all(np.array_equal(a, b) for a, b in zip(off(strokes, rng), strokes, strict=True))


def test_recognition_never_loads_the_augmentation(tmp_path):
    import subprocess

    code = (
        "import sys, lstmrec.api, lstmrec.inference.recognize, lstmrec.features.ink;"
        "print('lstmrec.features.inkaugment' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert font_strokes.X_HEIGHT_PX > 0


def test_make_installs_every_hand_and_the_texts():
    import re
    from pathlib import Path

    from lstmrec.corpora.ink_hands import HAND_PACKAGES

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")
    listed = re.search(r"INK_PACKAGES :=((?:.*\\\n)*.*)", makefile).group(1)
    assert sorted(listed.replace("\\\n", " ").split()) == sorted([*HAND_PACKAGES, "fortunes"])


def test_a_bad_mnist_file_stops_a_corpus_written_by_several_processes(tmp_path):
    """The digits are loaded in each process's initializer, and a pool restarts a process whose
    initializer fails without end: the command hung. The error reaches the caller instead."""
    import subprocess

    from helpers import REPO, one_line

    missing = tmp_path / "none.npz"
    args = [str(tmp_path / "corpus"), "--mnist", str(missing), "--jobs", "2"]
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "synth_hands.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert one_line(out.stderr) == f"synth_hands: {missing}: file not found"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--number-share", "1.5"),
        ("--dev-number-share", "-0.1"),
        ("--number-share", "nan"),
        ("--writers-per-hand", "0"),
        ("--lines-per-writer", "-1"),
        ("--eval-lines-per-writer", "0"),
        ("--eval-writers-per-hand", "-1"),
    ],
)
def test_synth_hands_refuses_counts_and_shares_out_of_range(tmp_path, capsys, flag, value):
    """They were taken as they came: a share of 1.5 made every line a number line, a negative
    count wrote no lines."""
    from helpers import load_script, one_line

    rc = load_script("synth_hands").main([str(tmp_path / "corpus"), flag, value])
    assert rc == 2
    name = flag.removeprefix("--").replace("-", "_")
    assert one_line(capsys.readouterr().err).startswith(f"synth_hands: {name}={value}")
    assert list(tmp_path.iterdir()) == []


def test_synth_hands_train_texts_keeps_an_existing_file_without_force(tmp_path, capsys):
    from helpers import load_script, one_line

    script = load_script("synth_hands")
    script.training_texts = lambda **_: ["a fortune", "12 34"]
    target = tmp_path / "texts.txt"
    target.write_text("mine\n")
    assert script.main(["--train-texts", str(target)]) == 2
    assert "--train-texts exists; pass --force" in one_line(capsys.readouterr().err)
    assert target.read_text() == "mine\n"
    assert script.main(["--train-texts", str(target), "--force"]) == 0
    assert target.read_text() == "a fortune\n12 34\n"


def test_training_texts_follow_the_number_share_and_seed_given(tmp_path, capsys):
    """synth_hands --train-texts wrote the default share whatever --number-share said."""
    from helpers import load_script

    from lstmrec.corpora.ink_text import LINE_CHARS, fortunes, training_texts

    words = "the quick brown fox jumps over a lazy dog near our old mill".split()
    body = "\n%\n".join(" ".join(words[k:] + words[:k]) for k in range(len(words)))
    (tmp_path / "sayings").write_text(body + "\n")
    pool = fortunes(tmp_path)["train"]
    made = sum(len(t) for t in pool) // sum(LINE_CHARS) * 2  # the lines the fortunes make
    for share, numbers in ((0.0, 0), (0.5, made), (0.8, 4 * made)):
        texts = training_texts(tmp_path, share=share)
        assert texts[: len(pool)] == list(pool) and len(texts) - len(pool) == numbers
        assert all(any(ch.isdigit() for ch in t) for t in texts[len(pool) :])
    assert training_texts(tmp_path, seed=1, share=0.5) != training_texts(tmp_path, share=0.5)
    with pytest.raises(ValueError, match="number_share=1"):
        training_texts(tmp_path, share=1.0)
    script, calls = load_script("synth_hands"), []
    script.training_texts = lambda **kwargs: calls.append(kwargs) or ["a"]
    target = str(tmp_path / "texts.txt")
    assert script.main(["--train-texts", target, "--number-share", "0.5", "--seed", "3"]) == 0
    assert calls == [{"seed": 3, "share": 0.5}]
