"""The synthetic handwriting generator: determinism, writer variation, writing order, and the
IAM-OnDB tree it writes, read back by the corpus reader."""

import dataclasses

import numpy as np
import pytest

from lstmrec.corpora.splits import load_split
from lstmrec.corpora.synth_ink import (
    CorpusSpec,
    corpus_lines,
    render_line,
    write_corpus,
    write_tree,
    writer_style,
)


def _same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_same_seed_same_writer_and_ink():
    assert writer_style(7) == writer_style(7)
    assert _same(
        render_line("hello world", writer_style(7), seed=3),
        render_line("hello world", writer_style(7), seed=3),
    )


def test_writers_and_lines_differ():
    styles = [writer_style(s) for s in range(12)]
    assert len({s.slant for s in styles}) == 12
    assert len({s.hand for s in styles}) > 1
    assert {s.connected for s in styles} == {True, False}
    a = render_line("hello world", styles[0], seed=3)
    assert not _same(a, render_line("hello world", styles[1], seed=3))
    assert not _same(a, render_line("hello world", styles[0], seed=4))


def _plain(**kw):
    """A print hand without slant or drift, so geometry is easy to reason about."""
    base = dataclasses.replace(writer_style(0), hand="futural", slant=0.0, drift=0.0, tilt=0.0)
    return dataclasses.replace(base, **kw)


def test_letters_are_written_left_to_right_in_time_order():
    # "o" and "c" are one stroke each in the Roman simplex font: one stroke per letter.
    strokes = render_line("oc co", _plain(connected=False), seed=1)
    assert len(strokes) == 4
    centres = [s[:, 0].mean() for s in strokes]
    assert centres == sorted(centres)
    times = np.concatenate([s[:, 2] for s in strokes])
    assert np.all(np.diff(times) >= 0) and times[0] == 0.0 and times[-1] > 0
    # The word gap is wider than the gap between the letters of a word.
    gaps = [strokes[i + 1][:, 0].min() - strokes[i][:, 0].max() for i in range(3)]
    assert gaps[1] > max(gaps[0], gaps[2])


def test_connected_script_keeps_the_pen_down_within_words():
    strokes = render_line("oc co", _plain(connected=True), seed=1)
    assert len(strokes) == 2  # one pen-down trace per word


def test_unknown_character_and_empty_line_are_refused():
    with pytest.raises(ValueError, match="not in the hand"):
        render_line("caf\u00e9", writer_style(0))
    with pytest.raises(ValueError, match="empty"):
        render_line("  ", writer_style(0))


def test_corpus_tree_reads_back_with_held_out_writers(tmp_path):
    spec = CorpusSpec(writers=4, lines_per_writer=5, dev_writers=1, test_writers=1, seed=3)
    counts = write_corpus(tmp_path / "ink", spec)
    assert counts == {"train": 10, "dev": 5, "test": 5}
    splits = {s: load_split(tmp_path / "ink", s) for s in ("train", "dev", "core-test")}
    writers = {s: {u.speaker for u in utts} for s, utts in splits.items()}
    assert writers == {"train": {"w00", "w01"}, "dev": {"w02"}, "core-test": {"w03"}}
    texts = {f"{form}-{n:02d}": text for form, n, _, text, _ in corpus_lines(spec)}
    for utt in splits["train"]:
        assert utt.text == texts[utt.id]
    with pytest.raises(FileExistsError):
        write_corpus(tmp_path / "ink", spec)


def test_corpus_is_written_under_a_fresh_name_and_nothing_is_left_when_it_fails(tmp_path):
    # A folder beside the corpus named like its old temporary name is the user's: kept.
    mine = tmp_path / "ink.tmp"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    spec = CorpusSpec(writers=3, lines_per_writer=1, dev_writers=1, test_writers=1)
    assert write_corpus(tmp_path / "ink", spec) == {"train": 1, "dev": 1, "test": 1}
    assert (mine / "notes.txt").read_text() == "mine"

    def failing():
        yield from ((*line, "train") for line in corpus_lines(spec))
        raise ValueError("stopped")

    with pytest.raises(ValueError, match="stopped"):
        write_tree(tmp_path / "other", failing())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ink", "ink.tmp"]


def test_a_corpus_without_lines_is_refused():
    with pytest.raises(ValueError, match="lines_per_writer=0"):
        CorpusSpec(lines_per_writer=0)
    with pytest.raises(ValueError, match="dev_writers and test_writers"):
        CorpusSpec(dev_writers=-1)


@pytest.mark.parametrize(
    "script, args, said",
    [
        ("synth_ink", ["OUT"], "synth_ink: seed=-1 must be 0 or more"),
        ("synth_hands", ["OUT"], "synth_hands: seed=-1 must be 0 or more"),
        ("mnist_ink", ["sheet", "data", "hyp.txt", "--out", "OUT"], "mnist_ink: "),
        ("ink_pages", ["data"], "ink_pages.py: "),
        ("ink_digit_strings", [], "ink_digit_strings: "),
        ("inkml_lines", ["data", "OUT", "--distort", "1"], "inkml_lines: "),
    ],
)
def test_the_ink_scripts_refuse_a_negative_seed_in_one_line(script, args, said, tmp_path, capsys):
    """NumPy's generators take no negative seed: four scripts ended in its traceback, the
    generators in its words ("expected non-negative integer")."""
    from helpers import load_script, one_line

    argv = [str(tmp_path / a) if a in ("OUT", "data", "hyp.txt") else a for a in args]
    assert load_script(script).main([*argv, "--seed", "-1"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line == said or line == f"{said}command line: --seed must be at least 0, got -1"
    assert list(tmp_path.iterdir()) == []
