"""Transcribe an audio file with an ONNX export (lstmrec export MODEL --format onnx --out DIR):
ONNX Runtime, NumPy and lstmrec's NumPy feature code only, greedy CTC decoding.

    python scripts/transcribe_onnx.py DIR speech.wav
"""

import json
import sys

import numpy as np
import onnxruntime

from lstmrec.features.audio import FeatureConfig, extract, load_audio  # NumPy + soundfile only

if len(sys.argv) != 3:  # --help included
    print(f"usage: python {sys.argv[0]} EXPORT_FOLDER AUDIO_FILE", file=sys.stderr)
    sys.exit(2)
folder, wav = sys.argv[1], sys.argv[2]
config = FeatureConfig.from_dict(json.load(open(f"{folder}/features.json")))
cmvn = np.load(f"{folder}/cmvn.npz")
symbols = open(f"{folder}/symbols.txt", encoding="utf-8").read().splitlines()  # 0: blank
feats = extract(load_audio(wav, sample_rate=config.sample_rate), config)  # (T, F)
x = ((feats - cmvn["mean"]) / cmvn["std"]).astype(np.float32)[None]  # (1, T, F)
session = onnxruntime.InferenceSession(f"{folder}/model.onnx")
(logits,) = session.run(["logits"], {"features": x, "lengths": np.array([len(feats)], np.int32)})
best = logits[0].argmax(axis=-1)  # (T,) best class per frame
keep = (best != 0) & np.append(True, best[1:] != best[:-1])  # collapse repeats, drop blanks
print(" ".join(symbols[k] for k in best[keep]))
