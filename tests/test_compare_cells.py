"""Tests for lstmrec.bench.cells and scripts/compare_cells.py: cells on one budget, gradients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import load_script

from lstmrec.bench.cells import (
    comparison_data,
    comparison_recipe,
    count_params,
    gradient_norms,
    plot_gradient_norms,
    units_for_budget,
)
from lstmrec.corpora.timit import find_timit

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "timit-demo"
FSDD = ROOT.parent / "shared" / "data" / "fsdd"
needs_fsdd = pytest.mark.shared_data("fsdd/recordings")  # skips, fails under CI=true


def tensorflow_backend() -> bool:
    import keras

    return keras.backend.backend() == "tensorflow"


def test_units_for_budget_is_the_closest_width():
    shape = dict(input_dim=123, num_classes=40, num_layers=2)
    budget = count_params("lstm", 16, **shape)
    assert units_for_budget("lstm", budget, **shape) == (16, budget)
    units, params = units_for_budget("rnn", budget, **shape)
    assert units > 16  # one weight block per direction instead of four
    for other in (units - 1, units + 1):
        assert abs(count_params("rnn", other, **shape) - budget) >= abs(params - budget)


@pytest.mark.slow
def test_compare_cells_end_to_end(tmp_path):
    """Two cells, one epoch, 4 LSTM units, a handful of real TIMIT sentences."""
    from lstmrec.bench.cells import compare_cells

    utts = {u.id: u for u in find_timit(DEMO / "TIMIT")}
    train = [utts[i] for i in ("fvmh0_sa1", "fvmh0_sa2", "mcpm0_sa1", "mcpm0_sa2")]
    test = {"timit": [utts["faem0_si1392"], utts["madc0_sx107"]]}
    recipe = comparison_recipe(
        quick=True, overrides=["model.units=4", "training.max_epochs=1", "training.batch_size=2"]
    )
    logged = []
    results = compare_cells(
        recipe,
        train,
        test,
        out_dir=tmp_path,
        cells=("lstm", "rnn"),
        bench_steps=2,
        log=logged.append,
    )
    assert list(results) == ["lstm", "rnn"]
    for r in results.values():
        assert {"per", "per_timit", "frames_per_s", "params", "units"} <= set(r)
        assert r["per"] == r["per_timit"] >= 0 and r["frames_per_s"] > 0 and r["epochs"] == 1
    assert results["lstm"]["units"] == 4 and results["rnn"]["units"] > 4
    lstm, rnn = results["lstm"]["params"], results["rnn"]["params"]
    assert abs(rnn - lstm) / lstm < 0.05  # the budget is matched within a few percent
    assert (tmp_path / "rnn" / "model").is_dir() and (tmp_path / "features").is_dir()
    assert any(m.startswith("rnn: ") for m in logged)


@pytest.mark.skipif("not tensorflow_backend()", reason="gradient_norms uses tf.GradientTape")
def test_gradients_vanish_faster_in_the_rnn(tmp_path):
    norms = {cell: gradient_norms(cell, steps=300) for cell in ("rnn", "lstm")}
    for curve in norms.values():
        assert curve.shape == (300,) and np.all(np.isfinite(curve))
        assert 0 < curve[0] < 1e-12 * curve[-1]  # both vanish over 300 steps at initialisation
    assert norms["lstm"][0] > 1e10 * norms["rnn"][0]  # the LSTM's by far less
    png = plot_gradient_norms(norms, tmp_path / "plots" / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


@needs_fsdd
def test_comparison_data_is_speaker_disjoint():
    train, test = comparison_data(
        timit_root=DEMO / "TIMIT",
        timit_test_speakers=DEMO / "test_spk.list",
        fsdd_root=FSDD,
        fsdd_test_speakers=["nicolas"],
        per_digit=10,
    )
    assert {u.speaker for u in test["timit"]} == {"faem0", "madc0"}
    assert {u.speaker for u in test["fsdd"]} == {"nicolas"}
    assert (len(test["timit"]), len(test["fsdd"])) == (16, 100)  # no SA sentences in the test
    train_speakers = {u.speaker for u in train}
    assert len(train) == 60 + 300 and len(train_speakers) == 6 + 3
    assert not train_speakers & {"faem0", "madc0", "nicolas"}


def test_script_exits_2_on_missing_data(tmp_path, capsys):
    script = load_script("compare_cells")
    assert script.main(["--quick", "--fsdd", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'nope'}: no such directory"]
