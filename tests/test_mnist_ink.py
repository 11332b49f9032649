"""``scripts/mnist_ink.py accuracy``: digit accuracy of one or several hypothesis files, their
majority vote and the share of digits some file reads right, on a hand-checked fixture."""

import runpy

import pytest
from helpers import REPO

from lstmrec.manifest import Utterance, write_manifest

SCRIPT = runpy.run_path(str(REPO / "scripts" / "mnist_ink.py"))


@pytest.fixture
def data(tmp_path):
    digits = {"d1": "3", "d2": "4", "d3": "9", "d4": "7"}
    utts = [Utterance(k, f"ink/{k}.json", "mnist", text=v) for k, v in digits.items()]
    write_manifest(utts, tmp_path / "core-test.jsonl")
    return tmp_path


def _hyps(path, answers: str) -> str:
    """A hypothesis file in evaluate's form (symbols separated by spaces); "-" leaves a digit
    out."""
    lines = [f"d{i} {a}" for i, a in enumerate(answers, 1) if a != "-"]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_one_file_several_files_their_vote_and_what_some_file_reads(data, tmp_path, capsys):
    a = _hyps(tmp_path / "a.txt", "3497")  # all 4 right
    assert SCRIPT["main"](["accuracy", str(data), a]) == 0
    assert capsys.readouterr().out.startswith("digit accuracy 100.00 % (4 / 4)")
    b = _hyps(tmp_path / "b.txt", "3941")  # d1 right: 1 of 4
    c = _hyps(tmp_path / "c.txt", "84-1")  # d2 right, d3 missing (wrong): 1 of 4
    assert SCRIPT["main"](["accuracy", str(data), b, c, a]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(": digit accuracy ")[1].split(" (")[0] for line in out[:3]] == [
        "25.00 %",
        "25.00 %",
        "100.00 %",
    ]
    # Votes per digit: d1 3/8/3 -> 3 right; d2 9/4/4 -> 4 right; d3 4/-/9 -> a tie between
    # 4 and 9 (and the missing answer) goes to the first file's 4, wrong; d4 1/1/7 -> 1, wrong.
    assert out[3].startswith("majority vote: digit accuracy 50.00 % (2 / 4)")
    assert out[4].startswith("read right by at least one: digit accuracy 100.00 % (4 / 4)")


def test_a_missing_manifest_is_one_line_and_status_2(tmp_path, capsys):
    assert SCRIPT["main"](["accuracy", str(tmp_path), str(tmp_path / "h.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such manifest" in err
