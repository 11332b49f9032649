"""Learning on real speech: a small BLSTM-CTC overfits a handful of TIMIT utterances."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path

import pytest

from lstmrec.bundle import load_bundle
from lstmrec.config import load_recipe
from lstmrec.corpora.splits import select_split
from lstmrec.corpora.timit import find_timit
from lstmrec.inference.evaluate import evaluate_bundle
from lstmrec.training.train import train

REPO = Path(__file__).resolve().parents[1]
TIMIT = REPO / "data" / "timit-demo" / "TIMIT"


@pytest.mark.slow  # 120 epochs of a 1 x 64 BLSTM: minutes on a CPU
def test_overfits_a_handful_of_real_utterances(tmp_path):
    if not TIMIT.is_dir():
        pytest.skip(f"bundled demo corpus missing at {TIMIT}")
    utts = select_split(find_timit(TIMIT), "all")
    few = [u for u in utts if u.speaker == "fvmh0"][:4]
    assert len(few) == 4
    recipe = load_recipe(
        None,
        [
            "model.num_layers=1",
            "model.units=64",
            "training.optimizer=adam",
            "training.learning_rate=1e-2",
            "training.loss_reduction=mean",
            "training.batch_size=4",
            "training.max_epochs=120",
            "training.clipnorm=5.0",
            'data.dev_split=""',
        ],
    )
    summary = train(recipe, few, out_dir=tmp_path / "run", log=lambda line: None)
    history = summary["history"]
    assert history[-1]["loss"] < 0.1 * history[0]["loss"]

    bundle = load_bundle(tmp_path / "run" / "model")
    report, hyps = evaluate_bundle(bundle, few, fold_to=39)
    assert report.total.reference_length > 100  # four sentences of ~30 phones each
    assert report.total.error_rate < 5.0, report.to_text()
