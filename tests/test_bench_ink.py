"""scripts/bench_ink.py (docs/benchmarks.md): a bad --count or --mnist is one line and exit
status 2."""

from __future__ import annotations

import pytest
from helpers import load_script, one_line


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_ink")


def test_bad_count_and_file_are_one_line(bench, capsys, tmp_path):
    assert bench.main(["--count", "0", "--mnist", str(tmp_path / "x.npz")]) == 2
    assert one_line(capsys.readouterr().err) == (
        "bench_ink: command line: --count must be at least 1, got 0"
    )
    nope = tmp_path / "strokes.npz"
    assert bench.main(["--count", "3", "--mnist", str(nope)]) == 2
    assert one_line(capsys.readouterr().err) == f"bench_ink: {nope}: file not found"
