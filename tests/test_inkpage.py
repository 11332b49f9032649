"""A page of ink into its lines (features.inkpage.split_lines), on hand-made strokes.

Letters are upright strokes 10 units tall; the typical height is then 10, so a line must be 40
wide before a new one may begin, and a new line's first stroke must start in the left half of
the line above, below 90 % of its points, its middle more than 10 below the line's middle.
"""

from __future__ import annotations

import numpy as np

from lstmrec.features.inkpage import split_lines, typical_height


def stem(x: float, top: float, height: float = 10.0) -> np.ndarray:
    """An upright stroke of 31 points from (x, top) down, as a pen samples a letter."""
    y = np.linspace(top, top + height, 31)
    return np.column_stack([np.full(31, x), y, np.zeros(31)])


def bar(x0: float, x1: float, y: float) -> np.ndarray:
    """A flat stroke of 11 points at height y."""
    return np.column_stack([np.linspace(x0, x1, 11), np.full(11, y), np.zeros(11)])


def line(top: float, letters: int = 6, x0: float = 0.0) -> list[np.ndarray]:
    """A line of ``letters`` stems 10 apart: 10 * (letters - 1) wide."""
    return [stem(x0 + 10 * k, top) for k in range(letters)]


def test_typical_height_counts_each_stroke_once_per_point():
    dot = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # 31 points of height 10 against 2 of height 0: the median is 10
    assert typical_height([stem(0, 0), dot]) == 10.0
    assert typical_height([dot, dot]) == 0.0


def test_two_lines_written_one_below_the_other():
    page = line(0) + line(25)  # the second line's middle 25 below the first's
    assert split_lines(page) == [list(range(6)), list(range(6, 12))]


def test_three_lines_with_an_indent():
    page = line(0) + line(25, x0=15) + line(50)  # 15 in: still the left half of 50
    assert split_lines(page) == [list(range(6)), list(range(6, 12)), list(range(12, 18))]


def test_marks_added_to_a_line_later_stay_in_it():
    """An i dot (left, above), an underline (left, below, but flat) and a comma (small, low)
    written after the line: one line."""
    page = line(0)
    page += [np.array([[10.0, -4.0, 0.0], [10.5, -4.0, 0.0]])]  # a dot above the second letter
    page += [bar(0, 50, 14)]  # an underline below the whole line
    page += [np.array([[20.0, 12.0, 0.0], [19.0, 15.0, 0.0]])]  # a comma
    assert split_lines(page) == [list(range(len(page)))]


def test_a_new_line_begun_with_a_bar_takes_the_bar():
    """A "T" opening the second line: its bar (flat, not a letter on its own) is written
    before its stem; both begin the new line."""
    page = line(0) + [bar(-4, 4, 25), stem(0, 25)] + line(25, letters=5, x0=10)
    assert split_lines(page) == [list(range(6)), list(range(6, 13))]


def test_no_new_line_after_a_line_too_short():
    """A word 30 wide (under 4 typical heights) and a line below it: left as one, not guessed."""
    page = line(0, letters=4) + line(25)
    assert split_lines(page) == [list(range(10))]


def test_writing_that_drifts_down_to_the_right_is_one_line():
    """Each letter lower than the last, never going back left: one line, however low it ends."""
    page = [stem(10 * k, 4 * k) for k in range(12)]
    assert split_lines(page) == [list(range(12))]


def test_a_lower_line_must_go_back_left():
    """The pen steps down but starts right of the middle of the line above: the same line."""
    page = line(0) + line(25, x0=30)
    assert split_lines(page) == [list(range(12))]


def test_a_single_stroke_and_dots_are_one_line():
    assert split_lines([stem(0, 0)]) == [[0]]
    dots = [np.array([[x, y, 0.0], [x, y, 0.0]]) for x, y in ((0, 0), (50, 0), (0, 40))]
    assert split_lines(dots) == [[0, 1, 2]]


def test_the_pages_of_the_measuring_script():
    """scripts/ink_pages.py stacks lines at the left margin, SPACING typical heights between
    their middles, each after the one above in time; split_lines cuts such a page back."""
    import runpy

    from helpers import REPO

    stacked = runpy.run_path(str(REPO / "scripts" / "ink_pages.py"))["stacked"]
    first = [s + [100, 200, 5] for s in line(0)]  # anywhere on the page, at any time
    second = [s + [300, 0, 9] for s in line(0)]
    page, truth = stacked([first, second], 2.5, np.random.default_rng(0))
    assert truth == [list(range(6)), list(range(6, 12))] and split_lines(page) == truth
    middles = [np.median(np.concatenate(page[a : b + 1])[:, 1]) for a, b in ((0, 5), (6, 11))]
    assert middles == [0.0, 25.0]  # 2.5 typical heights of 10
    assert all(abs(np.concatenate(page[k : k + 6])[:, 0].min()) <= 5 for k in (0, 6))  # margin
    assert page[6][0, 2] > page[5][-1, 2]  # the second line written after the first


def test_the_measuring_script_skips_a_bad_line_and_refuses_a_split_without_pages(tmp_path, capsys):
    """A damaged strokes file was a traceback, and a split without three lines of one writer a
    division by zero."""
    from helpers import load_script

    from lstmrec.corpora.synth_ink import CorpusSpec, write_corpus

    main = load_script("ink_pages").main
    spec = CorpusSpec(writers=3, lines_per_writer=4, dev_writers=1, test_writers=1)
    write_corpus(tmp_path / "ink", spec)
    bad, worse = sorted((tmp_path / "ink" / "lineStrokes" / "w02").glob("*/*.xml"))[:2]
    bad.write_text("<WhiteboardCaptureSession>")
    assert main([str(tmp_path / "ink"), "--spacing", "2.5"]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("core-test: 0 of 3 single lines cut into more than one\n")
    assert "1 of 1 cut into their lines" in out and "read whole" in out
    skipped, summary = err.splitlines()
    assert skipped.startswith(f"ink_pages.py: skipping {bad}: malformed XML")
    assert summary == "ink_pages.py: 1 line(s) skipped (named above)"
    worse.write_text("")
    assert main([str(tmp_path / "ink"), "--spacing", "2.5"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"ink_pages.py: {tmp_path / 'ink'}: no writer of split core-test has 3 lines to make a "
        "page of"
    )


def test_the_measuring_script_refuses_a_spacing_that_makes_no_page(tmp_path, capsys):
    """NaN or a huge spacing put the lines out of the ink's range: a traceback once the model
    read the pages."""
    from helpers import load_script, one_line

    main = load_script("ink_pages").main
    for spacing in ("nan", "inf", "1e300", "0", "-2"):
        assert main([str(tmp_path), "--spacing", "2.5", spacing]) == 2
        assert one_line(capsys.readouterr().err).startswith(
            f"ink_pages.py: command line: --spacing {float(spacing):g} must be above 0"
        )
