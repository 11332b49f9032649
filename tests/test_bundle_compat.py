"""Bundles written by lstmrec 0.1 (before the package became one ``lstmrec`` namespace and before
its layers were renamed) load with both engines and give the logits they gave then.

``tests/data/bundles-0.1/`` holds two such bundles, trained by that release's
``lstmrec train`` with tiny settings: ``speech`` (configs/demo.toml, 2 × 8 LSTM units, 1 epoch) and
``ink`` (configs/ink_demo.toml on a small synthetic corpus, 1 × 8 peephole LSTM units, 1 epoch), and
``expected_logits.npz``: the logits that release computed for the TIMIT sample's
``DR2/FAEM0/SX312.WAV`` and for ``line.xml`` (``expect.py``, run with that release, wrote them).
"""

from pathlib import Path

import numpy as np
import pytest

from lstmrec.bundle import load_bundle
from lstmrec.features.audio import apply_cmvn
from lstmrec.featurize import checked_features
from lstmrec.inference.decoder import predict_logits

REPO = Path(__file__).resolve().parents[1]
OLD = REPO / "tests" / "data" / "bundles-0.1"
INPUTS = {
    "speech": REPO / "data" / "timit-demo" / "TIMIT" / "TRAIN" / "DR2" / "FAEM0" / "SX312.WAV",
    "ink": OLD / "line.xml",
}


@pytest.mark.parametrize("engine", ["keras", "numpy"])
@pytest.mark.parametrize("name", ["speech", "ink"])
def test_old_bundle_gives_the_same_logits(name, engine):
    expected = np.load(OLD / "expected_logits.npz")[f"{name}_{engine}"]
    bundle = load_bundle(OLD / name, engine=engine)
    x = apply_cmvn(checked_features(str(INPUTS[name]), bundle.features), bundle.mean, bundle.std)
    (logits,) = predict_logits(bundle.model, [x])
    assert logits.shape == expected.shape
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-5)


def test_old_bundle_layers_load_as_the_renamed_classes():
    from lstmrec.models.cells import HoistedInputRNN  # noqa: F401 (registers the cells)
    from lstmrec.models.layers import LengthAwareBidirectional

    model = load_bundle(OLD / "speech", engine="keras").model
    bidi = [layer for layer in model.layers if isinstance(layer, LengthAwareBidirectional)]
    assert len(bidi) == 2 and all(layer.cell == "lstm" for layer in bidi)
