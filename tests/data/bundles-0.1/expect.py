"""Writes expected_logits.npz: the logits lstmrec 0.1 computed with the bundles beside this file.

Run with lstmrec 0.1 on the path (its packages were the top-level ``pipeline``, ``features`` and
``models``), from this folder, with the TIMIT sample's ``DR2/FAEM0/SX312.WAV`` copied here.
"""

import numpy as np

from features.audio import apply_cmvn
from pipeline.bundle import load_bundle
from pipeline.featurize import checked_features
from pipeline.inference import predict_logits

INPUTS = {"speech": "SX312.WAV", "ink": "line.xml"}
out = {}
for name, path in INPUTS.items():
    for engine in ("keras", "numpy"):
        b = load_bundle(name, engine=engine)
        x = apply_cmvn(checked_features(path, b.features), b.mean, b.std)
        out[f"{name}_{engine}"] = predict_logits(b.model, [x])[0]
np.savez("expected_logits.npz", **out)
